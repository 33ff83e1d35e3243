"""Energy per update, estimated from per-operation figures (a model, not a measurement).

Source of every figure: M. Horowitz, "Computing's energy problem (and what we can do about
it)", ISSCC 2014, 45 nm, per operation: 8-bit integer add 0.03 pJ, 32-bit integer add
0.1 pJ, 16-bit float add 0.4 pJ, 32-bit float add 0.9 pJ, 8-bit integer multiply 0.2 pJ,
32-bit integer multiply 3.1 pJ, 16-bit float multiply 1.1 pJ, 32-bit float multiply 3.7 pJ;
64-bit read from an 8 KB SRAM 10 pJ.  The counts come from `sim.analysis.ops`; every scaling rule
that turns a count into picojoules is listed in ``ASSUMPTIONS`` and in each result.

`energy_estimate(cfg)` prices the LNS unit of ``cfg`` (Madam, Adam or SGD with momentum,
`sim.analysis.ops.operation_counts`) beside float32 Madam, float32 Adam and float32 SGD,
through the same table and the same rules, and sets the Madam ratio beside LNS-Madam's
published claim (Zhao et al. 2022).
"""

from __future__ import annotations

import math

from .ops import adam_ops, float_madam_ops, float_ops_for, float_sgd_ops, operation_counts

__all__ = ["energy_estimate", "float_adam_energy", "FIGURES_PJ", "ASSUMPTIONS", "SOURCE", "PUBLISHED",
           "int_add_pj", "int_mul_pj", "rom_read_pj", "MA_PER_FUNCTION"]

SOURCE = ("M. Horowitz, \"Computing's energy problem (and what we can do about it)\", "
          "IEEE ISSCC 2014, 45 nm")
FIGURES_PJ = {"int8_add": 0.03, "int32_add": 0.1, "fp16_add": 0.4, "fp32_add": 0.9,
              "int8_mul": 0.2, "int32_mul": 3.1, "fp16_mul": 1.1, "fp32_mul": 3.7,
              "sram_8kb_read_64bit": 10.0}
PUBLISHED = {"claim": "LNS-Madam: more than 90 % less energy than an FP32 baseline",
             "source": "J. Zhao et al., \"LNS-Madam: Low-Precision Training in Logarithmic "
                       "Number System using Multiplicative Weight Update\", 2022, "
                       "arXiv 2106.13914",
             "ratio_upper_bound": 0.10,
             "scope": "the paper's figure is for whole training (its LNS datapath for the "
                      "matrix products and updates) against FP32 hardware; this estimate "
                      "covers the optimizer update only, so the two are set side by side, "
                      "not compared like for like"}
# float32 exp / sqrt / div priced as this many fp32 multiply-adds (one fp32 mul + one add)
MA_PER_FUNCTION = {"fp_div": 5, "fp_sqrt": 5, "fp_exp": 8}
_SRAM_BITS = 8 * 1024 * 8
_SRAM_PJ_PER_BIT = FIGURES_PJ["sram_8kb_read_64bit"] / 64

ASSUMPTIONS = [
    f"figures: {SOURCE}",
    "integer add/sub of n bits: linear in n between the 8-bit (0.03 pJ) and 32-bit (0.1 pJ) "
    "figures; below 8 bits proportional to n (0.03 n / 8), above 32 bits proportional "
    "(0.1 n / 32)",
    "integer multiply a x b bits: proportional to the partial-product array, "
    "0.2 pJ x a b / 64 (gives 3.2 pJ at 32 x 32 against the quoted 3.1 pJ)",
    "compare, select (2:1 mux), min/max against a bound: one integer add of the same width "
    "each (an upper bound: a mux bit is smaller than a full-adder bit)",
    "logic (bitwise gates, the LFSR's unrolled 16-step XOR network): one integer add of the "
    "same width (the 32-bit LFSR advance = one 32-bit add, 0.1 pJ)",
    "constant shifts and bit-field extraction: wiring, 0 pJ",
    "variable (barrel) shift of n bits: ceil(log2 n) levels of n-bit 2:1 muxes, each "
    "priced as one n-bit add",
    "ROM read of a w-bit word from a table of B bits: the 8 KB SRAM figure scaled per bit "
    "read (10 pJ x w / 64) and by sqrt(B / 65536) for the shorter bit- and word-lines of a "
    "smaller array (read energy ~ sqrt of capacity); the 'rom_as_sram' variant drops the "
    "sqrt factor (each bit as costly as from the 8 KB SRAM), an upper bound",
    "float32 add 0.9 pJ, float32 multiply 3.7 pJ; float32 compare (incl. isnan, sign, "
    "clamp) priced as a 32-bit integer add, 0.1 pJ (IEEE ordering is an integer compare)",
    "float32 div and sqrt: 5 fp32 multiply-adds each (table seed, two Newton-Raphson "
    "iterations of two multiply-adds, one correction); exp: 8 multiply-adds (range "
    "reduction, degree-6 polynomial in Horner form, 2**k scaling); seed tables not priced",
    "memory: every word read or written (weight, gradient, moments) moves through an 8 KB "
    f"SRAM at 10 pJ / 64 bits = {_SRAM_PJ_PER_BIT:.4f} pJ a bit; LNS words at their "
    "configured widths, float words at 32 bits; the sign normaliser stores no second moment; "
    "DRAM traffic is not included",
    "float32 SGD with momentum: 2 multiplies and 2 adds (mu m + g, w - lr m)",
    "LNS Adam and SGD: each signed adder (the moment's and the weight's) reads its sb and "
    "db tables side by side on every update, as the RTL does, and each read is priced",
    "per-tensor work (bias correction, clip, constants) is not counted: it is amortised "
    "over the tensor's elements",
    "the LNS datapath is priced at 45 nm like the float figures; leakage, clocking and "
    "pipeline registers are not priced",
]


def int_add_pj(n: int) -> float:
    """An n-bit integer add (see ``ASSUMPTIONS``)."""
    a8, a32 = FIGURES_PJ["int8_add"], FIGURES_PJ["int32_add"]
    if n <= 8:
        return a8 * n / 8
    if n <= 32:
        return a8 + (a32 - a8) * (n - 8) / 24
    return a32 * n / 32


def int_mul_pj(a: int, b: int) -> float:
    return FIGURES_PJ["int8_mul"] * a * b / 64


def rom_read_pj(width: int, rom_bits: int, *, as_sram: bool = False) -> float:
    per_word = FIGURES_PJ["sram_8kb_read_64bit"] * width / 64
    return per_word if as_sram else per_word * math.sqrt(max(rom_bits, 1) / _SRAM_BITS)


def _entry_pj(e: dict, rom_as_sram: bool) -> float:
    kind, n = e["kind"], e["width"]
    if kind in ("int_add", "compare_select", "logic"):
        one = int_add_pj(n)
    elif kind == "int_mul":
        one = int_mul_pj(*e["operand_bits"])
    elif kind == "shift":
        one = math.ceil(math.log2(max(n, 2))) * int_add_pj(n) if e.get("variable") else 0.0
    elif kind == "table_read":
        one = rom_read_pj(n, e["rom_bits"], as_sram=rom_as_sram)
    elif kind == "fp_add":
        one = FIGURES_PJ["fp32_add"]
    elif kind == "fp_mul":
        one = FIGURES_PJ["fp32_mul"]
    elif kind == "fp_compare":
        one = FIGURES_PJ["int32_add"]
    elif kind in MA_PER_FUNCTION:
        one = MA_PER_FUNCTION[kind] * (FIGURES_PJ["fp32_mul"] + FIGURES_PJ["fp32_add"])
    else:                                     # pragma: no cover - ops.py lists every kind
        raise ValueError(f"no energy model for {kind!r}")
    return one * e["count"]


def _price(ops: dict, rom_as_sram: bool = False) -> dict:
    by_kind = {}
    for e in ops["entries"]:
        by_kind[e["kind"]] = by_kind.get(e["kind"], 0.0) + _entry_pj(e, rom_as_sram)
    compute = sum(by_kind.values())
    mem = ops["memory"]
    memory = (mem["read_bits"] + mem["write_bits"]) * _SRAM_PJ_PER_BIT
    return {"name": ops["name"], "compute_pj": round(compute, 4),
            "memory_pj": round(memory, 4), "total_pj": round(compute + memory, 4),
            "by_kind_pj": {k: round(v, 4) for k, v in sorted(by_kind.items())},
            "read_bits": mem["read_bits"], "write_bits": mem["write_bits"]}


def energy_estimate(cfg) -> dict:
    """Energy of one element's update under ``cfg`` (pJ), beside float32 Madam, Adam and
    SGD with momentum.

    ``cfg`` is a Madam, Adam or SGD configuration; the LNS figure prices the unit's own
    operation counts and words moved (`sim.analysis.ops.operation_counts`).

    Keys: ``config``, ``optimizer`` (``madam``, ``adam``, ``sgd``), ``source``,
    ``figures_pj``, ``assumptions`` (list of str), ``ma_per_function``, ``lns`` /
    ``float32_madam`` / ``float32_adam`` / ``float32_sgd`` (each ``compute_pj``,
    ``memory_pj``, ``total_pj``, ``by_kind_pj``, ``read_bits``, ``write_bits``),
    ``lns_rom_as_sram`` (the LNS figure with the ROM upper bound), ``ratios``
    (``lns_vs_fp32_madam_compute``, ``lns_vs_fp32_madam_total``, ``lns_vs_adam_compute``,
    ``lns_vs_adam_total``, ``..._rom_as_sram`` variants, and ``lns_vs_float32_same_rule_total``
    against the float32 unit of the same rule), ``savings_vs_fp32_madam_total``
    (1 - ratio), ``published``.
    """
    lns_ops = operation_counts(cfg)
    rule = lns_ops["optimizer"]
    lns = _price(lns_ops)
    lns_hi = _price(lns_ops, rom_as_sram=True)
    madam = _price(float_madam_ops())
    adam = _price(adam_ops())
    sgd = _price(float_sgd_ops())
    same = {"madam": madam, "adam": adam, "sgd": sgd}.get(rule) or _price(float_ops_for(rule))

    def ratio(a, b):
        return round(a / b, 5)

    ratios = {
        "lns_vs_fp32_madam_compute": ratio(lns["compute_pj"], madam["compute_pj"]),
        "lns_vs_fp32_madam_total": ratio(lns["total_pj"], madam["total_pj"]),
        "lns_vs_adam_compute": ratio(lns["compute_pj"], adam["compute_pj"]),
        "lns_vs_adam_total": ratio(lns["total_pj"], adam["total_pj"]),
        "lns_vs_fp32_madam_total_rom_as_sram": ratio(lns_hi["total_pj"], madam["total_pj"]),
        "lns_vs_adam_total_rom_as_sram": ratio(lns_hi["total_pj"], adam["total_pj"]),
        "lns_vs_float32_same_rule_total": ratio(lns["total_pj"], same["total_pj"]),
    }
    return {"config": cfg.name, "optimizer": rule, "unit": "pJ per element update",
            "source": SOURCE, "figures_pj": dict(FIGURES_PJ),
            "assumptions": list(ASSUMPTIONS), "ma_per_function": dict(MA_PER_FUNCTION),
            "lns": lns, "lns_rom_as_sram": lns_hi, "float32_madam": madam,
            "float32_adam": adam, "float32_sgd": sgd, "ratios": ratios,
            "savings_vs_fp32_madam_total": round(1 - ratios["lns_vs_fp32_madam_total"], 5),
            "published": dict(PUBLISHED)}


def float_adam_energy(cfg) -> dict:
    """Energy of one element's update by the IEEE float Adam unit ``cfg`` (pJ): its
    operation sequence (`lns.ieee.adam.OPERATIONS`) counted by kind and priced with
    `sim.analysis.energy.FIGURES_PJ` at the format's width (32 bits: the float32 figures;
    16 bits: the FP16 figures), div and sqrt as ``MA_PER_FUNCTION`` multiply-adds of that
    width; memory: the words read and written (``cfg.update_bits``) at the SRAM rule.

    Returns ``{"counts", "compute_pj", "memory_pj", "total_pj", "by_kind_pj", "read_bits",
    "write_bits", "figures", "assumption"}``."""
    from lns.ieee.adam import OPERATIONS, FloatAdamConfig

    if not isinstance(cfg, FloatAdamConfig):
        from lns.errors import InvalidType
        raise InvalidType(f"cfg must be a float Adam configuration, not {type(cfg).__name__}")
    bits = cfg.fmt.total_bits
    if bits == 32:
        add, mul, fig = FIGURES_PJ["fp32_add"], FIGURES_PJ["fp32_mul"], "fp32"
    elif bits == 16:
        add, mul, fig = FIGURES_PJ["fp16_add"], FIGURES_PJ["fp16_mul"], "fp16"
    else:
        from lns.errors import InvalidValue
        raise InvalidValue(f"no energy figures for {bits}-bit floats (Horowitz gives 16 and 32)")
    counts = {}
    for _, op, _ in OPERATIONS:
        kind = "add" if op == "sub" else op             # a subtraction is an adder
        counts[kind] = counts.get(kind, 0) + 1
    each = {"add": add, "mul": mul, "div": MA_PER_FUNCTION["fp_div"] * (add + mul),
            "sqrt": MA_PER_FUNCTION["fp_sqrt"] * (add + mul)}
    by_kind = {k: round(n * each[k], 4) for k, n in sorted(counts.items())}
    read_bits, write_bits = cfg.update_bits
    memory = (read_bits + write_bits) * FIGURES_PJ["sram_8kb_read_64bit"] / 64
    compute = sum(n * each[k] for k, n in counts.items())
    return {"counts": counts, "compute_pj": round(compute, 4), "memory_pj": round(memory, 4),
            "total_pj": round(compute + memory, 4), "by_kind_pj": by_kind,
            "read_bits": read_bits, "write_bits": write_bits, "figures": fig,
            "assumption": (f"{cfg.fmt.name}: Horowitz {fig} add {add} pJ, multiply {mul} pJ; "
                           f"div and sqrt {MA_PER_FUNCTION['fp_div']} and "
                           f"{MA_PER_FUNCTION['fp_sqrt']} multiply-adds ({fig}) each")}
