"""Energy per update, estimated from per-operation figures (a model, not a measurement).

Source of every figure: M. Horowitz, "Computing's energy problem (and what we can do about
it)", ISSCC 2014, 45 nm, per operation: 8-bit integer add 0.03 pJ, 32-bit integer add
0.1 pJ, 16-bit float add 0.4 pJ, 32-bit float add 0.9 pJ, 8-bit integer multiply 0.2 pJ,
32-bit integer multiply 3.1 pJ, 16-bit float multiply 1.1 pJ, 32-bit float multiply 3.7 pJ;
64-bit read from an 8 KB SRAM 10 pJ.  The counts come from `sim.analysis.ops`; every scaling
rule that turns a count into picojoules is listed in ``ASSUMPTIONS`` and in each result.

`price(counts)` is the one pricing: any count of `sim.analysis.ops` (an LNS unit, an IEEE
unit at its format's width, a float algorithm as written) through the same table and the
same rules.  `energy_estimate(cfg)` prices the unit of any rule beside the float32 baselines
(`sim.analysis.ops.baselines`: the IEEE FP32 Adam unit; float32 Madam, SGD and Lion as
written; Adam as written for context), and sets the ratio to float32 Madam beside
LNS-Madam's published claim (Zhao et al. 2022).
"""

from __future__ import annotations

import math

from lns.errors import InvalidValue

from .ops import baseline_key, baselines, operation_counts

__all__ = ["energy_estimate", "price", "float_pj", "FIGURES_PJ", "FLOAT_FIGURES",
           "ASSUMPTIONS", "SOURCE", "PUBLISHED", "CLAIM_BASELINE", "int_add_pj",
           "int_mul_pj", "rom_read_pj", "MA_PER_FUNCTION"]

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
# float exp / sqrt / div priced as this many multiply-adds (one mul + one add) of the width
MA_PER_FUNCTION = {"fp_div": 5, "fp_sqrt": 5, "fp_exp": 8}
# The float figures of each width: (add, multiply).  Horowitz gives 16-bit (FP16) and 32-bit
# floats; BF16's 8-bit significand needs a smaller multiplier, so FP16's are an upper bound.
FLOAT_FIGURES = {32: ("fp32_add", "fp32_mul"), 16: ("fp16_add", "fp16_mul")}
# The narrowest float priced: 9 to 15 bits at the 16-bit figures (an upper bound); narrower
# floats (FP8) have no figure near enough in Horowitz's table to bound them usefully.
PRICED_FROM_BITS = 9
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
    "float operations at their format's width: 32 bits at the float32 figures (add 0.9 pJ, "
    "multiply 3.7 pJ), 16 bits at the 16-bit float figures (FP16 add 0.4 pJ, multiply "
    "1.1 pJ; BF16's 8-bit significand needs a smaller multiplier, so for BF16 an upper "
    "bound), 9 to 15 bits (the 12-bit floats) at the 16-bit figures, an upper bound; a float compare (incl. isnan, sign, clamp) priced as an integer add of the "
    "width, 0.1 pJ at 32 bits (IEEE ordering is an integer compare)",
    f"float div and sqrt: {MA_PER_FUNCTION['fp_div']} multiply-adds of the width each "
    "(table seed, two Newton-Raphson iterations of two multiply-adds, one correction); exp: "
    f"{MA_PER_FUNCTION['fp_exp']} multiply-adds (range reduction, degree-6 polynomial in "
    "Horner form, 2**k scaling); seed tables not priced",
    "memory: every word read or written (weight, gradient, moments) moves through an 8 KB "
    f"SRAM at 10 pJ / 64 bits = {_SRAM_PJ_PER_BIT:.4f} pJ a bit; every word at its "
    "configured width (LNS words; an IEEE unit's at its format's; the algorithms as written "
    "at 32 bits); the sign normaliser stores no second moment; DRAM traffic is not included",
    "float32 baselines (sim.analysis.ops.baselines): Adam is the IEEE FP32 Adam unit the "
    "project builds (its 14 operations, lns.rules.ieee_adam.OPERATIONS: the bias corrections as "
    "per-step multipliers, one division); Madam (Bernstein et al. 2020), SGD with momentum "
    "(2 multiplies, 2 adds) and Lion (Chen et al. 2023) as written in their papers; Adam as "
    "written (Kingma & Ba, Algorithm 1: three divisions) is kept beside it for context",
    "LNS Adam, SGD and Lion: each signed adder (the moment's and the weight's) reads its sb and "
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


def float_pj(kind: str, width: int) -> float:
    """One float operation of ``kind`` (``fp_add``, ``fp_mul``, or a function of
    `MA_PER_FUNCTION`) at ``width`` bits (`FLOAT_FIGURES`)."""
    # a width between Horowitz's takes the next wider figures (an upper bound: the 12-bit
    # floats' 7-bit significand needs a smaller multiplier than FP16's 11-bit one)
    wider = [b for b in sorted(FLOAT_FIGURES) if b >= width]
    if width < PRICED_FROM_BITS or not wider:
        raise InvalidValue(f"no energy figures for {width}-bit floats (Horowitz gives "
                           f"{' and '.join(str(b) for b in sorted(FLOAT_FIGURES))} bits; "
                           f"{PRICED_FROM_BITS} to 15 bits take the 16-bit figures)")
    add, mul = (FIGURES_PJ[k] for k in FLOAT_FIGURES[wider[0]])
    if kind == "fp_add":
        return add
    if kind == "fp_mul":
        return mul
    if kind in MA_PER_FUNCTION:
        return MA_PER_FUNCTION[kind] * (add + mul)
    raise ValueError(f"no energy model for {kind!r}")      # pragma: no cover


def _entry_pj(e: dict, rom_as_sram: bool) -> float:
    kind, n = e["kind"], e["width"]
    if kind in ("int_add", "compare_select", "logic", "fp_compare"):
        one = int_add_pj(n)
    elif kind == "int_mul":
        one = int_mul_pj(*e["operand_bits"])
    elif kind == "shift":
        one = math.ceil(math.log2(max(n, 2))) * int_add_pj(n) if e.get("variable") else 0.0
    elif kind == "table_read":
        one = rom_read_pj(n, e["rom_bits"], as_sram=rom_as_sram)
    else:                                     # the float kinds, at the entry's width
        one = float_pj(kind, n)
    return one * e["count"]


def price(counts: dict, *, rom_as_sram: bool = False) -> dict:
    """The energy of one element's update from any count of `sim.analysis.ops` (an LNS
    unit, an IEEE unit at its format's width, a float algorithm as written), by the rules of
    ``ASSUMPTIONS``; ``rom_as_sram`` prices every ROM bit read as an 8 KB SRAM bit.

    Returns ``{"name", "label", "compute_pj", "memory_pj", "total_pj", "by_kind_pj",
    "read_bits", "write_bits"}``."""
    by_kind = {}
    for e in counts["entries"]:
        by_kind[e["kind"]] = by_kind.get(e["kind"], 0.0) + _entry_pj(e, rom_as_sram)
    compute = sum(by_kind.values())
    mem = counts["memory"]
    memory = (mem["read_bits"] + mem["write_bits"]) * _SRAM_PJ_PER_BIT
    return {"name": counts["name"], "label": counts.get("label", counts["name"]),
            "compute_pj": round(compute, 4), "memory_pj": round(memory, 4),
            "total_pj": round(compute + memory, 4),
            "by_kind_pj": {k: round(v, 4) for k, v in sorted(by_kind.items())},
            "read_bits": mem["read_bits"], "write_bits": mem["write_bits"]}


# The baseline of the published claim (LNS-Madam against FP32): float32 Madam.
CLAIM_BASELINE = "float32_madam"


def energy_estimate(cfg) -> dict:
    """Energy of one element's update by the unit of ``cfg`` (any rule; pJ), beside the
    float32 baselines.

    The unit is priced from its own operation counts and words moved
    (`sim.analysis.ops.operation_counts`, `price`); so is every baseline
    (`sim.analysis.ops.baselines`).

    Keys: ``config``, ``optimizer``, ``label``, ``quantity`` (``"pJ per element
    update"``), ``source``, ``figures_pj``, ``assumptions`` (list of str),
    ``ma_per_function``, ``unit`` and ``unit_rom_as_sram`` (the unit priced, and with the
    ROM upper bound; `price`'s keys), ``baselines`` (``{key: price}``: ``float32_madam``,
    ``float32_adam`` (the IEEE FP32 Adam unit), ``float32_adam_as_written``,
    ``float32_sgd``, ``float32_lion``), ``same_rule`` (the key of the baseline of ``cfg``'s
    own algorithm), ``ratios`` (for each baseline ``unit_vs_<key>_compute``,
    ``unit_vs_<key>_total``, ``unit_vs_<key>_total_rom_as_sram``; and
    ``unit_vs_float32_same_rule_total``), ``savings_vs_float32_madam_total`` (1 - ratio)
    and ``published``.
    """
    counts = operation_counts(cfg)
    unit, hi = price(counts), price(counts, rom_as_sram=True)
    base = {k: price(v) for k, v in baselines().items()}
    same = baseline_key(cfg)

    def ratio(a, b):
        return round(a / b, 5)

    ratios = {}
    for k, b in base.items():
        ratios[f"unit_vs_{k}_compute"] = ratio(unit["compute_pj"], b["compute_pj"])
        ratios[f"unit_vs_{k}_total"] = ratio(unit["total_pj"], b["total_pj"])
        ratios[f"unit_vs_{k}_total_rom_as_sram"] = ratio(hi["total_pj"], b["total_pj"])
    ratios["unit_vs_float32_same_rule_total"] = ratios[f"unit_vs_{same}_total"]
    return {"config": cfg.name, "optimizer": counts["optimizer"], "label": counts["label"],
            "quantity": "pJ per element update", "source": SOURCE,
            "figures_pj": dict(FIGURES_PJ), "assumptions": list(ASSUMPTIONS),
            "ma_per_function": dict(MA_PER_FUNCTION), "unit": unit, "unit_rom_as_sram": hi,
            "baselines": base, "same_rule": same, "ratios": ratios,
            "savings_vs_float32_madam_total": round(
                1 - ratios[f"unit_vs_{CLAIM_BASELINE}_total"], 5),
            "published": dict(PUBLISHED)}
