"""Operations per update, by kind: LNS Madam (from its config) beside float32 Madam and Adam.

`operation_counts(cfg)` walks the datapath of `lns.update._update_loop` step by step (the
Gaussian-logarithm look-up as `lns.kernels.gauss_lookup` holds it, i.e. as the hardware
holds it, not the kernel's flat CPU expansion) and lists every operation one element needs.
Work done once per tensor or per step (``x_bc``, ``min(clip, x_max)``, the constants) is not
counted; constant shifts and bit-field extraction are listed (kind ``shift``,
``variable=False``) but are wiring in hardware.  Constants that meet in one add are folded
(``ev - offset + c_beta`` is one add), as synthesis folds them.

Kinds (LNS): ``int_add`` (add/sub, incl. a rounding increment), ``int_mul``, ``shift``
(``variable`` True for a barrel shift), ``compare_select`` (one compare, one select, or
one min/max against a bound), ``table_read`` (one ROM read port), ``logic`` (bitwise
gates; the LFSR's unrolled XOR network).  Float kinds: ``fp_mul``, ``fp_add``,
``fp_exp``, ``fp_sqrt``, ``fp_div``, ``fp_compare``.

Every result is a JSON-serialisable dict::

    {"name", "arithmetic", "source", "entries": [{"step", "op", "kind", "width", "count",
     ...}], "totals": {kind: count}, "memory": {"read_bits", "write_bits", "words"}}
"""

from __future__ import annotations

from lns.lfsr import RANDOM_BITS, STEPS_PER_UPDATE, WIDTH
from lns.tables import rom_bits

__all__ = ["operation_counts", "float_madam_ops", "adam_ops", "LNS_KINDS", "FLOAT_KINDS"]

LNS_KINDS = ("int_add", "int_mul", "shift", "compare_select", "table_read", "logic")
FLOAT_KINDS = ("fp_mul", "fp_add", "fp_exp", "fp_sqrt", "fp_div", "fp_compare")


class _Counter:
    def __init__(self):
        self.entries = []

    def add(self, step, op, kind, width, count=1, **extra):
        assert kind in LNS_KINDS + FLOAT_KINDS, kind
        self.entries.append({"step": step, "op": op, "kind": kind, "width": int(width),
                             "count": int(count), **extra})

    def result(self, kinds, **head):
        totals = {k: 0 for k in kinds}
        for e in self.entries:
            totals[e["kind"]] += e["count"]
        return {**head, "entries": self.entries, "totals": totals}


def _bits(n: int) -> int:
    """Bits of a two's-complement value of magnitude up to ``n``."""
    return max(1, int(abs(n)).bit_length()) + 1


def operation_counts(cfg) -> dict:
    """Operations one LNS Madam update of one element needs under ``cfg``.

    Besides ``entries`` and ``totals`` the dict has ``normaliser``, ``rounding``,
    ``table`` (the ``sb`` method, or ``"none"``), ``memory`` (words read and written per
    update: ``w``, ``g`` and, with ``rms``, ``v``) and ``notes``.
    """
    from lns import MadamConfig
    if not isinstance(cfg, MadamConfig):
        raise TypeError(f"cfg must be a MadamConfig, not {type(cfg).__name__}")
    p = cfg.params
    W, G, V = cfg.weight, cfg.grad, cfg.moment
    ww, wg, wv = W.log_bits, G.log_bits, V.log_bits
    fs = p.step_frac_bits
    c = _Counter()
    notes = []

    # -- 0. unpack (masks and sign bits are wiring) ------------------------------------------
    c.add("0 unpack", "zw = (ew == 0): zero weight", "compare_select", ww)
    c.add("0 unpack", "zg = (eg == 0): zero gradient", "compare_select", wg)
    if cfg.is_stochastic:
        # state = lfsr_advance(state): STEPS_PER_UPDATE Galois steps, one XOR network
        c.add("0 unpack", f"lfsr advance ({STEPS_PER_UPDATE} Galois steps, unrolled XOR)",
              "logic", WIDTH)
        # rnd = state & rnd_mask: wiring
    t = cfg.sb_table                    # None without a second moment
    if cfg.has_second_moment:
        c.add("0 unpack", "zv = (ev == 0): zero moment", "compare_select", wv)

    # -- 1. second moment: v' = beta v + (1 - beta) g**2 = max(a, b) + sb(|a - b|) ------------
    if cfg.has_second_moment:
        wa = max(wv, wg + p.g2_shift) + 2          # width of the operands a, b
        c.add("1 moment", "a = ev - offset_v + c_beta (constants folded)", "int_add", wa)
        c.add("1 moment", "a = NEG if zv", "compare_select", wa)
        c.add("1 moment", "xg = eg - offset_g (shared with step 2)", "int_add", wg + 1)
        c.add("1 moment", "xg << g2_shift", "shift", wa, variable=False)
        c.add("1 moment", "b = (xg << g2_shift) + c_one_minus_beta", "int_add", wa)
        c.add("1 moment", "b = NEG if zg", "compare_select", wa)
        c.add("1 moment", "a >= b", "compare_select", wa)
        c.add("1 moment", "max(a, b)", "compare_select", wa)
        c.add("1 moment", "a - b and b - a", "int_add", wa, 2)
        c.add("1 moment", "z = |a - b| (select)", "compare_select", wa)
        zw_ = max(1, int(t.end).bit_length())
        c.add("1 moment", "sb: z >= end", "compare_select", zw_ + 1)
        n = len(t.near)
        if n:
            c.add("1 moment", "sb: near[z]", "table_read", t.near_width, table="sb_near",
                  rom_bits=rom_bits(t.near))
        if len(t.nodes):
            nw = t.node_width
            if n:
                c.add("1 moment", "sb: zi = z - len(near)", "int_add", zw_ + 1)
            c.add("1 moment", "sb: j = zi >> seg_bits, lo = low bits", "shift", zw_,
                  variable=False)
            c.add("1 moment", "sb: j + 1", "int_add", zw_)
            c.add("1 moment", "sb: nodes[j], nodes[j + 1] (two read ports)", "table_read",
                  nw, 2, table="sb_nodes", rom_bits=rom_bits(t.nodes))
            c.add("1 moment", "sb: t1 - t0", "int_add", nw + 1)
            c.add("1 moment", "sb: (t1 - t0) * lo", "int_mul", nw + 1 + t.seg_bits,
                  operand_bits=[nw + 1, t.seg_bits])
            c.add("1 moment", "sb: t0 << seg_bits", "shift", nw + t.seg_bits,
                  variable=False)
            c.add("1 moment", "sb: (t0 << seg) + (t1 - t0) * lo", "int_add",
                  nw + t.seg_bits + 1)
            c.add("1 moment", "sb: RNE by seg_bits + guard: round increment", "int_add",
                  nw + 1)
            c.add("1 moment", "sb: RNE: half / tie test", "compare_select",
                  t.seg_bits + t.guard)
            if n:
                c.add("1 moment", "sb: near if z < len(near) (compare + select)",
                      "compare_select", zw_, 2)
        c.add("1 moment", "sb: 0 if z >= end (select)", "compare_select", max(t.near_width,
                                                                          t.node_width))
        c.add("1 moment", "x = max(a, b) + sb", "int_add", wa)
        c.add("1 moment", "x = min(x, x_max): saturate", "compare_select", wa)
        c.add("1 moment", "max(x, x_min)", "compare_select", wa)
        c.add("1 moment", "+ offset_v: biased field", "int_add", wv)
        c.add("1 moment", "v' = 0 if both zero or flushed (select)", "compare_select", wv)
    else:
        notes.append("sign normaliser: v passes through; no second-moment arithmetic, "
                     "no sb table, no v traffic")

    # -- 2. log2|g_hat| = L ----------------------------------------------------------------------
    if cfg.has_second_moment:
        wn = max(wg + p.norm_g_shift, wv + 1 + p.norm_v_shift) + 3   # width of num
        c.add("2 normalise", "zero test of v'", "compare_select", wv)
        c.add("2 normalise", "xv = ev' - offset_v", "int_add", wv + 1)
        c.add("2 normalise", "xv - x_bc", "int_add", wv + 2)
        c.add("2 normalise", "xg << norm_g_shift, (...) << norm_v_shift", "shift", wn, 2,
              variable=False)
        c.add("2 normalise", "num = (xg << gs) - ((xv - x_bc) << vs)", "int_add", wn)
        if p.norm_round > 0:
            c.add("2 normalise", "RNE by norm_round: shift", "shift", wn, variable=False)
            c.add("2 normalise", "RNE: round increment", "int_add", wn - p.norm_round)
            c.add("2 normalise", "RNE: half / tie test", "compare_select", p.norm_round)
        wl = max(2, wn - max(p.norm_round, 0))
        c.add("2 normalise", "L = min(L, l_bound)", "compare_select", wl)
        c.add("2 normalise", "L = l_bound if v' == 0 (select)", "compare_select", wl)
    else:
        notes.append("sign normaliser: L = 0, so E, q, r, P = exp2[r] and the shift s are "
                     "constants of the config: no exp2 read, no shifter")
        wl = 2

    # -- 3. Delta = round(P[r] / 2**s) ---------------------------------------------------------
    pw = cfg.exp_table_width
    wext = pw + p.shift_cap                                   # the aligned word P << cap >> s
    if cfg.has_second_moment:
        c.add("3 exp step", "E = L + (eta_shift << Fs)", "int_add", wl + 1)
        if fs:
            c.add("3 exp step", "P = exp2[E mod 2**Fs]", "table_read", pw, table="exp2",
                  rom_bits=cfg.exp_table_bits)
        c.add("3 exp step", "s = exp_bits - (E >> Fs)", "int_add", wl - fs + 2)
        c.add("3 exp step", "s = min(s, shift_cap)", "compare_select", wl - fs + 2)
        c.add("3 exp step", "s = max(s, 0)", "compare_select", wl - fs + 2)
        c.add("3 exp step", "(P << cap) >> s", "shift", wext, variable=True)
        if cfg.is_stochastic:
            c.add("3 exp step", "+ (r << (cap - rbits)), then >> cap", "int_add", wext)
        else:
            c.add("3 exp step", "RNE: whole + round increment", "int_add", pw)
            c.add("3 exp step", "RNE: half / tie test of the fraction", "compare_select",
                  p.shift_cap)
        q_max = (p.l_bound + (p.eta_shift << fs)) >> fs
        if cfg.exp_bits - q_max < 0:
            c.add("3 exp step", "P << -s (a left shift is possible)", "shift", wext,
                  variable=True)
            c.add("3 exp step", "select left / right", "compare_select", wext)
    elif cfg.is_stochastic:
        c.add("3 exp step", "Delta = (const + r) >> rbits (stochastic rounding)", "int_add",
              RANDOM_BITS + 2)
    else:
        notes.append("sign normaliser with nearest-even rounding: Delta is a constant")
    wd = pw + 1
    c.add("3 exp step", "zg | zw", "logic", 1)
    c.add("3 exp step", "Delta = 0 if zg | zw (select)", "compare_select", wd)

    # -- 4. weight: X_w' = clamp(X_w -+ Delta, x_min, X_clip); zero stays zero ----------------
    c.add("4 weight", "sw ^ sg", "logic", 1)
    c.add("4 weight", "e -+ Delta (add/subtract)", "int_add", ww + 1)
    c.add("4 weight", "min(e, clip)", "compare_select", ww + 1)
    c.add("4 weight", "max(e, e_min)", "compare_select", ww + 1)
    c.add("4 weight", "0 if zero weight (select)", "compare_select", ww)

    read, write = cfg.update_words
    read_bits, write_bits = cfg.update_bits
    memory = {"words": {"read": list(read), "write": list(write)}, "word_bits": cfg.word_bits,
              "read_bits": read_bits, "write_bits": write_bits}
    return c.result(LNS_KINDS, name=cfg.name, arithmetic="lns",
                    normaliser=cfg.normaliser, rounding=cfg.rounding,
                    table=t.method if t is not None else "none",
                    source="lns/update.py _update_loop (sb as lns/kernels.py gauss_lookup)",
                    memory=memory, notes=notes)


def _float_memory(read, write):
    return {"words": {"read": read, "write": write}, "word_bits": {k: 32 for k in read},
            "read_bits": 32 * len(read), "write_bits": 32 * len(write)}


def float_madam_ops() -> dict:
    """float32 Madam per element, from the published update (Bernstein et al., "Learning
    compositional functions via multiplicative weight updates", NeurIPS 2020, and its
    reference code): bias-correction and clip constants are per tensor (not counted)."""
    c = _Counter()
    # v = beta v + (1 - beta) g**2
    c.add("1 moment", "g * g", "fp_mul", 32)
    c.add("1 moment", "beta * v", "fp_mul", 32)
    c.add("1 moment", "(1 - beta) * g**2", "fp_mul", 32)
    c.add("1 moment", "beta v + (1 - beta) g**2", "fp_add", 32)
    # g_hat = g / sqrt(v / (1 - beta**t))
    c.add("2 normalise", "v / (1 - beta**t)", "fp_div", 32)
    c.add("2 normalise", "sqrt(v_hat)", "fp_sqrt", 32)
    c.add("2 normalise", "g / sqrt(v_hat)", "fp_div", 32)
    c.add("2 normalise", "isnan(g_hat) -> 0", "fp_compare", 32)
    c.add("2 normalise", "clamp(g_hat, -g_bound, g_bound)", "fp_compare", 32, 2)
    # w *= exp(-eta g_hat sign(w))
    c.add("3 step", "sign(w)", "fp_compare", 32)
    c.add("3 step", "-eta * g_hat", "fp_mul", 32)
    c.add("3 step", "* sign(w)", "fp_mul", 32)
    c.add("3 step", "exp(.)", "fp_exp", 32)
    c.add("4 weight", "w * exp(.)", "fp_mul", 32)
    # w = clamp(w, -max, max)
    c.add("4 weight", "clamp(w, -sigma*, sigma*)", "fp_compare", 32, 2)
    return c.result(FLOAT_KINDS, name="float32 Madam", arithmetic="float32",
                    source="Bernstein et al. 2020 (arXiv 2006.14560), Madam update",
                    memory=_float_memory(["w", "g", "v"], ["w", "v"]), notes=[])


def adam_ops() -> dict:
    """float32 Adam per element, Algorithm 1 of Kingma & Ba, "Adam: a method for stochastic
    optimization", ICLR 2015 (bias corrections as written: one division each)."""
    c = _Counter()
    c.add("1 moments", "beta1 * m", "fp_mul", 32)
    c.add("1 moments", "(1 - beta1) * g", "fp_mul", 32)
    c.add("1 moments", "m = beta1 m + (1 - beta1) g", "fp_add", 32)
    c.add("1 moments", "g * g", "fp_mul", 32)
    c.add("1 moments", "beta2 * v", "fp_mul", 32)
    c.add("1 moments", "(1 - beta2) * g**2", "fp_mul", 32)
    c.add("1 moments", "v = beta2 v + (1 - beta2) g**2", "fp_add", 32)
    c.add("2 correct", "m / (1 - beta1**t)", "fp_div", 32)
    c.add("2 correct", "v / (1 - beta2**t)", "fp_div", 32)
    c.add("3 step", "sqrt(v_hat)", "fp_sqrt", 32)
    c.add("3 step", "sqrt(v_hat) + eps", "fp_add", 32)
    c.add("3 step", "m_hat / (sqrt(v_hat) + eps)", "fp_div", 32)
    c.add("3 step", "lr * (.)", "fp_mul", 32)
    c.add("4 weight", "w - lr * (.)", "fp_add", 32)
    return c.result(FLOAT_KINDS, name="float32 Adam", arithmetic="float32",
                    source="Kingma & Ba 2015 (arXiv 1412.6980), Algorithm 1",
                    memory=_float_memory(["w", "g", "m", "v"], ["w", "m", "v"]), notes=[])
