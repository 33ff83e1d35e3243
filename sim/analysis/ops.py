"""Operations per update, by kind: every rule's unit counted one way, through the registry,
beside the float32 baselines.

`operation_counts(cfg)` is the one entry for every rule: it asks the registry
(`lns.registry`, ``RuleEntry.operations``) for the rule's count.  Every count is data of one
shape, whatever the rule: a list of entries (one per operation of one element's update) and
their totals by kind.

* An LNS rule's count walks its datapath from the configuration (the widths, tables and
  rounding are the config's): `madam_operation_counts` walks `lns.rules.madam_update._update_loop` (the
  Gaussian-logarithm look-up as `lns.kernels.gauss_lookup` holds it, i.e. as the hardware
  holds it, not the kernel's flat CPU expansion); `additive_operation_counts` walks
  `rtl.additive_unit._datapath` (LNS Adam and LNS SGD: the moment adders, the step's log,
  the weight adder at ``Fa``, the final rounding); `lion_operation_counts` walks
  `rtl.lion_unit`.  Each names every ROM it reads (``table``) with its size by the one rule
  of `lns.tables.rom_bits`.
* An IEEE unit's count is its program's operation table (``cfg.operations``: e.g.
  `lns.rules.ieee_adam.OPERATIONS`, the hardware's schedule), one IEEE operation an entry
  at its result's width, of its op's kind in `lns.rules.ieee_program.OPS`
  (`float_unit_operation_counts`).
* The published float algorithms *as written* are tables too (`AS_WRITTEN`, keyed by the
  float reference a rule names in the registry, ``RuleEntry.reference``), counted by the
  same function as the IEEE unit's table (`float_counts`).

`baselines()` gives the float32 counts every unit is set beside, one per float algorithm of
the registry: the IEEE unit of that algorithm at 32 bits where the project builds one (the
form a strong engineer builds: per-step scalars folded, one division), else the algorithm
as written; where a unit stands in, the algorithm as written stays beside it as context
(``float32_adam_as_written``: Kingma & Ba's Algorithm 1, three divisions).

Work done once per tensor or per step (``x_bc``, ``min(clip, x_max)``, the constants) is not
counted; constant shifts and bit-field extraction are listed (kind ``shift``,
``variable=False``) but are wiring in hardware.  Constants that meet in one add are folded
(``ev - offset + c_beta`` is one add), as synthesis folds them.

Kinds (LNS): ``int_add`` (add/sub, incl. a rounding increment), ``int_mul``, ``shift``
(``variable`` True for a barrel shift), ``compare_select`` (one compare, one select, or
one min/max against a bound), ``table_read`` (one ROM read port), ``logic`` (bitwise
gates; the LFSR's unrolled XOR network).  Float kinds: ``fp_mul``, ``fp_add``,
``fp_exp``, ``fp_sqrt``, ``fp_div``, ``fp_compare``, each entry at its format's width.

Every result is a JSON-serialisable dict::

    {"name", "label", "arithmetic", "source", "entries": [{"step", "op", "kind", "width",
     "count", ...}], "totals": {kind: count}, "memory": {"read_bits", "write_bits",
     "words", "word_bits"}, "notes"}

(a unit's also ``optimizer``, ``rounding``, ``table``, ``normaliser``).
"""

from __future__ import annotations

from dataclasses import dataclass

from lns.errors import InvalidType, InvalidValue
from lns.lfsr import RANDOM_BITS, STEPS_PER_UPDATE, WIDTH
from lns.registry import entry, load, rules
from lns.rule import Rule
from lns.tables import rom_bits

__all__ = ["operation_counts", "madam_operation_counts", "additive_operation_counts",
           "lion_operation_counts", "float_unit_operation_counts", "float_counts",
           "Algorithm", "AS_WRITTEN", "as_written", "baselines", "baseline_key",
           "float32_baseline", "FLOAT_KIND", "LNS_KINDS", "FLOAT_KINDS"]

LNS_KINDS = ("int_add", "int_mul", "shift", "compare_select", "table_read", "logic")
FLOAT_KINDS = ("fp_mul", "fp_add", "fp_exp", "fp_sqrt", "fp_div", "fp_compare")
# The kind of each IEEE operation (`lns.rules.ieee_adam.OPERATIONS`; a subtraction is an adder).
FLOAT_KIND = {"add": "fp_add", "sub": "fp_add", "mul": "fp_mul", "div": "fp_div",
              "sqrt": "fp_sqrt", "exp": "fp_exp", "compare": "fp_compare"}


def operation_counts(cfg) -> dict:
    """Operations one update of one element needs under ``cfg``, any rule: the rule's own
    count from the registry (``RuleEntry.operations``), with ``label`` (the registry's
    label and the configuration's name).

    Besides ``entries`` and ``totals`` the dict has ``optimizer``, ``rounding``, ``table``
    (the tables' method, or ``"none"``), ``memory`` (the words one update reads and writes,
    `lns.rule.Rule.update_words`, at their widths) and ``notes``; Madam's ``normaliser``.
    """
    if not isinstance(cfg, Rule):
        raise InvalidType(f"cfg must be a rule's configuration (lns.rule.Rule), "
                          f"not {type(cfg).__name__}")
    return dict(_count_of(cfg)(cfg), label=f"{entry(cfg).label} ({cfg.name})")


def _count_of(cfg):
    """The registry's count function of ``cfg``'s rule."""
    return load(cfg, "operations")


def _check(cfg, walk) -> None:
    """TypeError unless ``cfg`` is a configuration of a rule that ``walk`` counts (the
    registry says which)."""
    if not isinstance(cfg, Rule) or _count_of(cfg) is not walk:
        raise InvalidType(f"cfg must be a configuration of a rule {walk.__name__} counts, "
                          f"not {type(cfg).__name__}")


def _memory(cfg) -> dict:
    """The words one update moves (`lns.rule.Rule.update_words`) at their widths."""
    read, write = cfg.update_words
    read_bits, write_bits = cfg.update_bits
    return {"words": {"read": list(read), "write": list(write)}, "word_bits": cfg.word_bits,
            "read_bits": read_bits, "write_bits": write_bits}


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


def _gauss_lookup_ops(c: _Counter, step: str, t, label: str, table: str) -> None:
    """The look-up of Gaussian table ``t`` as the hardware holds it (`lns.kernels.
    gauss_lookup`, `rtl.log_adder.gauss_lookup`): the near ROM, or the node ROM read at
    ``j`` and ``j + 1`` with the linear interpolation and one RNE; 0 beyond ``t.end``.
    ``label`` prefixes the op texts, ``table`` names the ROMs (``<table>_near``,
    ``<table>_nodes``)."""
    zw_ = max(1, int(t.end).bit_length())
    c.add(step, f"{label}: z >= end", "compare_select", zw_ + 1)
    n = len(t.near)
    if n:
        c.add(step, f"{label}: near[z]", "table_read", t.near_width, table=f"{table}_near",
              rom_bits=rom_bits(t.near))
    if len(t.nodes):
        nw = t.node_width
        # rtl.log_adder._node_rom: with len(near) a multiple of the segment (every preset's
        # table) the node ROM holds zero words in front and is read at z >> seg: no
        # subtraction before the address
        if n % (1 << t.seg_bits):
            c.add(step, f"{label}: zi = z - len(near)", "int_add", zw_ + 1)
        c.add(step, f"{label}: j = zi >> seg_bits, lo = low bits", "shift", zw_,
              variable=False)
        c.add(step, f"{label}: j + 1", "int_add", zw_)
        c.add(step, f"{label}: nodes[j], nodes[j + 1] (two read ports)", "table_read",
              nw, 2, table=f"{table}_nodes", rom_bits=rom_bits(t.nodes))
        c.add(step, f"{label}: t1 - t0", "int_add", nw + 1)
        c.add(step, f"{label}: (t1 - t0) * lo", "int_mul", nw + 1 + t.seg_bits,
              operand_bits=[nw + 1, t.seg_bits])
        c.add(step, f"{label}: t0 << seg_bits", "shift", nw + t.seg_bits, variable=False)
        c.add(step, f"{label}: (t0 << seg) + (t1 - t0) * lo", "int_add",
              nw + t.seg_bits + 1)
        # rtl.log_adder._rne_of_half_up: half an LSB added to t0 beside t1 - t0, then a
        # tie clears the LSB (no incrementer after the last adder)
        c.add(step, f"{label}: RNE: (t0 << seg) + half, beside t1 - t0", "int_add",
              nw + t.seg_bits + 1)
        c.add(step, f"{label}: RNE: tie test, clear the LSB", "compare_select",
              t.seg_bits + t.guard)
        if n:
            c.add(step, f"{label}: near if z < len(near) (compare + select)",
                  "compare_select", zw_, 2)
    c.add(step, f"{label}: 0 if z >= end (select)", "compare_select",
          max(t.near_width, t.node_width))


def madam_operation_counts(cfg) -> dict:
    """Operations one LNS Madam update of one element needs under ``cfg`` (the keys of
    `operation_counts`, with ``normaliser`` and ``table``: the ``sb`` method, or
    ``"none"``; ``memory``: ``w``, ``g`` and, with ``rms``, ``v``)."""
    _check(cfg, madam_operation_counts)
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
        _gauss_lookup_ops(c, "1 moment", t, "sb", "sb")
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

    return c.result(LNS_KINDS, name=cfg.name, arithmetic="lns", optimizer=str(cfg.optimizer),
                    normaliser=cfg.normaliser, rounding=cfg.rounding,
                    table=t.method if t is not None else "none",
                    source="lns/update.py _update_loop (sb as lns/kernels.py gauss_lookup)",
                    memory=_memory(cfg), notes=notes)


# ---- the additive rules: LNS Adam and LNS SGD with momentum --------------------------------
def _zero_test(c: _Counter, step: str, what: str, fp) -> None:
    c.add(step, f"z{what} = (e{what} == 0): zero {what}", "compare_select", fp.log_bits)


def _value_width(t) -> int:
    return max(t.near_width, t.node_width)


def _signed_sum_ops(c: _Counter, step: str, tables, role: str, wa: int) -> None:
    """`rtl.log_adder.signed_log_add` (`lns.rules.additive.signed_sum`) of two terms of ``wa``
    bits: the distance, the larger term and its sign, ``sb`` and ``db`` read side by side
    (both look-ups are built; the signs select one), exact cancellation, ``big + f``."""
    sb_t, db_t = tables
    c.add(step, f"{role}: a >= b", "compare_select", wa)
    c.add(step, f"{role}: a - b and b - a", "int_add", wa, 2)
    c.add(step, f"{role}: z = |a - b| (select)", "compare_select", wa)
    c.add(step, f"{role}: big = b if za, a if zb, else the larger (3 selects)",
          "compare_select", wa, 3)
    c.add(step, f"{role}: sign of the same (3 one-bit selects)", "compare_select", 1, 3)
    c.add(step, f"{role}: same = (sa == sb), skip = za | zb, za & zb, ~same & (z == 0)",
          "logic", 1, 4)
    c.add(step, f"{role}: exact cancellation test z == 0", "compare_select", wa)
    c.add(step, f"{role}: zero = skip ? za & zb : cancelled (select)", "compare_select", 1)
    _gauss_lookup_ops(c, step, sb_t, f"{role} sb", f"{role}_sb")
    _gauss_lookup_ops(c, step, db_t, f"{role} db", f"{role}_db")
    wf = max(_value_width(sb_t), _value_width(db_t))
    c.add(step, f"{role}: f = sb if same else db (select)", "compare_select", wf)
    c.add(step, f"{role}: f = 0 if a term is zero (select)", "compare_select", wf)
    c.add(step, f"{role}: x = big + f", "int_add", wa + 1)


def _log_add_ops(c: _Counter, step: str, table, role: str, wa: int) -> None:
    """`rtl.log_adder.log_add`: ``max(a, b) + sb(|a - b|)`` with the zero cases exact."""
    c.add(step, f"{role}: a >= b", "compare_select", wa)
    c.add(step, f"{role}: a - b and b - a", "int_add", wa, 2)
    c.add(step, f"{role}: z = |a - b| (select)", "compare_select", wa)
    c.add(step, f"{role}: big = b if za, a if zb, else the larger (3 selects)",
          "compare_select", wa, 3)
    c.add(step, f"{role}: skip = za | zb, zero = za & zb", "logic", 1, 2)
    _gauss_lookup_ops(c, step, table, f"{role} sb", f"{role}_sb")
    c.add(step, f"{role}: sb = 0 if a term is zero (select)", "compare_select",
          _value_width(table))
    c.add(step, f"{role}: x = big + sb", "int_add", wa + 1)


def _pack_ops(c: _Counter, step: str, what: str, fp, wx: int) -> None:
    """`rtl.additive_unit.pack_signed`: saturate above, floor or flush below, + offset,
    the zero word."""
    c.add(step, f"pack {what}: x > x_max, x < x_min", "compare_select", wx, 2)
    c.add(step, f"pack {what}: saturate / floor / x (2 selects)", "compare_select", wx, 2)
    c.add(step, f"pack {what}: + offset: biased field", "int_add", fp.log_bits)
    if fp.params.flush:
        c.add(step, f"pack {what}: zero | flushed", "logic", 1)
    c.add(step, f"pack {what}: 0 if zero or flushed (select)", "compare_select",
          fp.total_bits)


def _rne_ops(c: _Counter, step: str, what: str, width: int, s: int) -> None:
    """`rtl._common.rne_shift` by a constant ``s``: a wiring shift, the tie test of the
    ``s`` dropped bits, one increment (nothing for ``s <= 0``)."""
    if s <= 0:
        return
    c.add(step, f"{what}: RNE by {s}: shift", "shift", width, variable=False)
    if s == 1:
        c.add(step, f"{what}: RNE: rem & q[0]", "logic", 1)
    else:
        c.add(step, f"{what}: RNE: half / tie test", "compare_select", s)
    c.add(step, f"{what}: RNE: round increment", "int_add", width - s)


def additive_operation_counts(cfg) -> dict:
    """Operations one LNS Adam or LNS SGD update of one element needs under ``cfg``.

    Walks `rtl.additive_unit._datapath` stage by stage (the datapath of
    `lns.rules.adam._adam_kernel` / `lns.rules.sgd._sgd_kernel`, with the look-ups as the hardware
    holds them, `lns.kernels.gauss_lookup`): the moment adders (signed ``sb``/``db`` sum for
    ``m``, Madam's ``sb`` sum for Adam's ``v``), the step's log (integer adds and a
    compare; mul, div and sqrt of LNS values are adds and shifts of codes), the weight adder
    at ``Fa = Fw + guard`` (signed sum again) and the final rounding.  Widths are those of
    the operands (the format's log field plus the alignment shift and 2 bits of headroom,
    as `operation_counts` does for Madam).  Per-step work (``x_bc1``, ``x_bc2``) and the
    constants are not counted; constants that meet in one add are folded, as the RTL folds
    them.

    The rule's words decide the datapath (the contract, not the rule's name): a second
    moment word ``v`` (Adam) adds its adder and the normalisation of the step.  Same keys
    as `operation_counts`, with ``normaliser`` None; table ROMs are named by role
    (``m_sb_nodes``, ``w_db_near``, ..., the sidecar's ``tables`` keys with
    ``_near``/``_nodes``).
    """
    _check(cfg, additive_operation_counts)
    p = cfg.params
    adam = "v" in cfg.WORD_ROLES                 # a second moment: Adam's normalised step
    W, G = cfg.weight, cfg.grad
    M = getattr(cfg, cfg.MOMENT_ROLE)
    c = _Counter()
    notes = []

    # -- 0. unpack and the adders' operands (constants and offsets folded) --------------------
    for what, fp in (("w", W), ("g", G), ("m", M)):
        _zero_test(c, "0 unpack", what, fp)
    if adam:
        _zero_test(c, "0 unpack", "v", cfg.second_moment)
    if cfg.is_stochastic:
        c.add("0 unpack", f"lfsr advance ({STEPS_PER_UPDATE} Galois steps, unrolled XOR)",
              "logic", WIDTH)
    wm = max(M.log_bits, G.log_bits + p.g_shift) + 2          # the m adder's operands
    c_m, c_g = ("c_beta1", " + c_1mb1") if adam else ("c_mu", "")
    c.add("0 unpack", f"a = e_m - offset_m + {c_m}", "int_add", wm)
    c.add("0 unpack", "g << g_shift: g at Fm", "shift", wm, variable=False)
    c.add("0 unpack", f"b = (e_g << g_shift) - (offset_g << g_shift){c_g}", "int_add", wm)
    wa = max(W.log_bits + p.guard, 0) + 3                     # the weight adder's operands
    c.add("0 unpack", "xw = (e_w - offset_w) << guard: w at Fa", "int_add", W.log_bits + 1)
    c.add("0 unpack", "xw << guard", "shift", wa, variable=False)
    if adam:
        V = cfg.second_moment
        wv = max(V.log_bits, G.log_bits + p.g2_shift) + 2
        c.add("0 unpack", "a = e_v - offset_v + c_beta2", "int_add", wv)
        c.add("0 unpack", "g**2 at Fv: e_g << g2_shift", "shift", wv, variable=False)
        c.add("0 unpack", "b = (e_g << g2_shift) - (offset_g << g2_shift) + c_1mb2",
              "int_add", wv)

    # -- 1. the moments -------------------------------------------------------------------------
    step = "1 moments"
    _signed_sum_ops(c, step, cfg.m_tables, "m", wm)
    _pack_ops(c, step, "m'", M, wm + 1)
    if adam:
        _log_add_ops(c, step, cfg.v_table, "v", wv)
        _pack_ops(c, step, "v'", V, wv + 1)

    # -- 2. the step's log L at Fa ------------------------------------------------------------
    step = "2 step log"
    _zero_test(c, step, "m'", M)
    if adam:
        _zero_test(c, step, "v'", V)
        wn = max(M.log_bits + p.m_shift, V.log_bits + p.v_shift) + 3   # num at Fc
        c.add(step, "xm = e_m' - offset_m, xm - x_bc1", "int_add", M.log_bits + 2, 2)
        c.add(step, "xv = e_v' - offset_v, xv - x_bc2", "int_add", V.log_bits + 2, 2)
        c.add(step, "<< m_shift, << v_shift: at Fc", "shift", wn, 2, variable=False)
        c.add(step, "den floor: dv < x_eps", "compare_select", wn)
        c.add(step, "zv' | (dv < x_eps)", "logic", 1)
        c.add(step, "den = x_eps or dv (select)", "compare_select", wn)
        c.add(step, "num = nm - den (m_hat / sqrt(v_hat): a subtract of codes)", "int_add",
              wn)
    else:
        wn = M.log_bits + p.m_shift + 2
        c.add(step, "xm = e_m' - offset_m", "int_add", M.log_bits + 1)
        c.add(step, "<< m_shift: at Fc", "shift", wn, variable=False)
    _rne_ops(c, step, "L", wn, p.step_round)
    if p.eta_acc:
        c.add(step, "L = . + eta_log2 << Fa (eta x: an add of codes)", "int_add",
              wn - max(p.step_round, 0) + 1)

    # -- 3. the weight: w - step at Fa, one rounding to Fw, pack -----------------------------
    step = "3 weight"
    c.add(step, "sign of -step = ~s_m'", "logic", 1)
    _signed_sum_ops(c, step, cfg.weight_tables, "w", wa)
    if cfg.is_stochastic:
        c.add(step, "stochastic rounding by guard: + r, then >> rbits", "int_add",
              wa + RANDOM_BITS - p.guard + 1)
    else:
        _rne_ops(c, step, "w", wa + 1, p.guard)
    _pack_ops(c, step, "w'", W, wa + 1 - p.guard)
    if not p.step_round:
        notes.append("the step's log is formed at Fa exactly (Fc = Fa): no rounding of L")
    notes.append("both sb and db of each signed adder are read every update (the RTL "
                 "reads them side by side and selects one)")

    return c.result(LNS_KINDS, name=cfg.name, arithmetic="lns", optimizer=str(cfg.optimizer),
                    normaliser=None, rounding=str(cfg.rounding), table=str(cfg.table),
                    source=f"{_kernel(cfg)} as rtl/additive_unit.py _datapath builds it "
                           "(look-ups as rtl/log_adder.py)",
                    memory=_memory(cfg), notes=notes)


def _kernel(cfg) -> str:
    """``lns/<module>.py _<module>_kernel``: the rule's fast kernel, named after the module
    of its configuration class."""
    module = type(cfg).__module__
    return f"{module.replace('.', '/')}.py _{module.rsplit('.', 1)[-1]}_kernel"


def lion_operation_counts(cfg) -> dict:
    """Operations one LNS Lion update of one element needs (`lns.rules.lion`, as
    `rtl.lion_unit` builds it): the four adder operands (the constants of beta1 and beta2
    folded), the sign of ``c`` (one compare of the two term codes, no table), the momentum
    adder (signed ``sb``/``db`` sum), and the weight adder at ``Fa`` with the constant step
    ``eta`` and the final rounding.  Same keys as `additive_operation_counts`."""
    _check(cfg, lion_operation_counts)
    p = cfg.params
    W, G, M = cfg.weight, cfg.grad, cfg.momentum
    c = _Counter()
    for what, fp in (("w", W), ("g", G), ("m", M)):
        _zero_test(c, "0 unpack", what, fp)
    if cfg.is_stochastic:
        c.add("0 unpack", f"lfsr advance ({STEPS_PER_UPDATE} Galois steps, unrolled XOR)",
              "logic", WIDTH)
    wm = max(M.log_bits, G.log_bits + p.g_shift) + 2
    c.add("0 unpack", "g << g_shift: g at Fm", "shift", wm, variable=False)
    for beta in ("beta1", "beta2"):
        c.add("0 unpack", f"a = e_m - offset_m + c_{beta}", "int_add", wm)
        c.add("0 unpack", f"b = (e_g << g_shift) - (offset_g << g_shift) + c_1m{beta}",
              "int_add", wm)
    wa = max(W.log_bits + p.guard, 0) + 3
    c.add("0 unpack", "xw = (e_w - offset_w) << guard: w at Fa", "int_add", W.log_bits + 1)
    c.add("0 unpack", "xw << guard", "shift", wa, variable=False)
    step = "1 sign of c"
    c.add(step, "a_c - b_c: the larger term's code", "int_add", wm + 1)
    c.add(step, "sign(c) = sign of the larger term; 0 on an exact cancellation",
          "compare_select", wm + 1)
    c.add(step, "zero terms, cancellation", "logic", 1)
    step = "2 moment"
    _signed_sum_ops(c, step, cfg.m_tables, "m", wm)
    _pack_ops(c, step, "m'", M, wm + 1)
    step = "3 weight"
    c.add(step, "sign of -step = ~sign(c); L = eta_log2 << Fa (a constant)", "logic", 1)
    _signed_sum_ops(c, step, cfg.weight_tables, "w", wa)
    if cfg.is_stochastic:
        c.add(step, "stochastic rounding by guard: + r, then >> rbits", "int_add",
              wa + RANDOM_BITS - p.guard + 1)
    else:
        _rne_ops(c, step, "w", wa + 1, p.guard)
    _pack_ops(c, step, "w'", W, wa + 1 - p.guard)
    return c.result(LNS_KINDS, name=cfg.name, arithmetic="lns", optimizer=str(cfg.optimizer),
                    normaliser=None, rounding=str(cfg.rounding), table=str(cfg.table),
                    source=f"{_kernel(cfg)} as rtl/lion_unit.py builds it",
                    memory=_memory(cfg),
                    notes=["the weight adder does not wait for m' (the step is eta): it "
                           "runs beside the momentum adder",
                           "both sb and db of each signed adder are read every update"])


def float_counts(rows, **head) -> dict:
    """The count of a float operation table: ``rows`` of ``(step, op, kind, width, count)``
    (``kind`` one of `FLOAT_KINDS`, ``width`` the format's bits), with ``head`` (``name``,
    ``label``, ``arithmetic``, ``source``, ``memory``, ``notes``, ...) as the result's other
    keys.  The one way a float unit's table and an algorithm as written are counted."""
    c = _Counter()
    for step, op, kind, width, count in rows:
        c.add(step, op, kind, width, count)
    return c.result(FLOAT_KINDS, **head)


def float_unit_operation_counts(cfg) -> dict:
    """Operations of one update of the IEEE program rule ``cfg`` (the literal unit, the
    efficient one, mixed precision, ...): its table (``cfg.operations``), each one IEEE
    operation at its result's width, of its op's kind in the op table
    (`lns.rules.ieee_program.OPS`: ``fp_add`` for add and sub, ``fp_mul``, ``fp_div``,
    ``fp_sqrt``; a conversion ``fp_compare``, an integer operation of that width)."""
    _check(cfg, float_unit_operation_counts)
    from lns.rules.ieee_program import OPS
    fmts = cfg.value_formats
    # Each entry is its op's kind from the one op table (`lns.rules.ieee_program.OPS`), at
    # the width of its result's format (a rule may mix formats)
    rows = [("ieee", f"{result} = {op}({', '.join(args)})", OPS[op].kind,
             fmts[result].total_bits, 1) for result, op, args in cfg.operations]
    return float_counts(rows, name=cfg.name, arithmetic=cfg.fmt.name,
                        optimizer=str(cfg.optimizer), normaliser=None,
                        rounding=str(cfg.rounding), table="none",
                        source=f"{type(cfg).__module__.replace('.', '/')}.py OPERATIONS",
                        memory=_memory(cfg), notes=[])


# ---- the published float32 algorithms, as written -------------------------------------------
@dataclass(frozen=True)
class Algorithm:
    """A published float update *as written*: one element's operations in the paper's form
    (per-tensor and per-step work, such as ``1 - beta**t``, not counted).

    ``key`` is the baseline's key (`baselines`), ``operations`` rows of ``(step, op, kind,
    count)`` (`float_counts`, every operation ``bits`` wide), ``read``/``write`` the words
    one update moves."""

    key: str
    name: str
    source: str
    read: tuple
    write: tuple
    operations: tuple
    bits: int = 32

    def counts(self) -> dict:
        """The count (`float_counts`), keys as `operation_counts`'s."""
        rows = [(step, op, kind, self.bits, n) for step, op, kind, n in self.operations]
        memory = {"words": {"read": list(self.read), "write": list(self.write)},
                  "word_bits": {k: self.bits for k in self.read},
                  "read_bits": self.bits * len(self.read),
                  "write_bits": self.bits * len(self.write)}
        return float_counts(rows, name=self.name, label=self.name,
                            arithmetic=f"float{self.bits}", source=self.source,
                            memory=memory, notes=[])


# Keyed by the float reference a rule names in the registry (``RuleEntry.reference``): every
# rule of the same algorithm (LNS Adam and IEEE Adam) shares one.
AS_WRITTEN = {
    # Bernstein et al., "Learning compositional functions via multiplicative weight
    # updates", NeurIPS 2020, and its reference code: bias-correction and clip constants
    # per tensor.  v = beta v + (1 - beta) g**2; g_hat = g / sqrt(v / (1 - beta**t));
    # w *= exp(-eta g_hat sign(w)); w = clamp(w, -max, max).
    "python_ref.madam:Madam": Algorithm(
        "float32_madam", "float32 Madam as written",
        "Bernstein et al. 2020 (arXiv 2006.14560), Madam update", ("w", "g", "v"), ("w", "v"), (
            ("1 moment", "g * g", "fp_mul", 1),
            ("1 moment", "beta * v", "fp_mul", 1),
            ("1 moment", "(1 - beta) * g**2", "fp_mul", 1),
            ("1 moment", "beta v + (1 - beta) g**2", "fp_add", 1),
            ("2 normalise", "v / (1 - beta**t)", "fp_div", 1),
            ("2 normalise", "sqrt(v_hat)", "fp_sqrt", 1),
            ("2 normalise", "g / sqrt(v_hat)", "fp_div", 1),
            ("2 normalise", "isnan(g_hat) -> 0", "fp_compare", 1),
            ("2 normalise", "clamp(g_hat, -g_bound, g_bound)", "fp_compare", 2),
            ("3 step", "sign(w)", "fp_compare", 1),
            ("3 step", "-eta * g_hat", "fp_mul", 1),
            ("3 step", "* sign(w)", "fp_mul", 1),
            ("3 step", "exp(.)", "fp_exp", 1),
            ("4 weight", "w * exp(.)", "fp_mul", 1),
            ("4 weight", "clamp(w, -sigma*, sigma*)", "fp_compare", 2))),
    # Kingma & Ba, "Adam: a method for stochastic optimization", ICLR 2015, Algorithm 1:
    # the bias corrections as written, one division each (the IEEE unit multiplies by the
    # per-step k1, k2 instead: lns.rules.ieee_adam).
    "python_ref.adam:Adam": Algorithm(
        "float32_adam", "float32 Adam as written",
        "Kingma & Ba 2015 (arXiv 1412.6980), Algorithm 1", ("w", "g", "m", "v"),
        ("w", "m", "v"), (
            ("1 moments", "beta1 * m", "fp_mul", 1),
            ("1 moments", "(1 - beta1) * g", "fp_mul", 1),
            ("1 moments", "m = beta1 m + (1 - beta1) g", "fp_add", 1),
            ("1 moments", "g * g", "fp_mul", 1),
            ("1 moments", "beta2 * v", "fp_mul", 1),
            ("1 moments", "(1 - beta2) * g**2", "fp_mul", 1),
            ("1 moments", "v = beta2 v + (1 - beta2) g**2", "fp_add", 1),
            ("2 correct", "m / (1 - beta1**t)", "fp_div", 1),
            ("2 correct", "v / (1 - beta2**t)", "fp_div", 1),
            ("3 step", "sqrt(v_hat)", "fp_sqrt", 1),
            ("3 step", "sqrt(v_hat) + eps", "fp_add", 1),
            ("3 step", "m_hat / (sqrt(v_hat) + eps)", "fp_div", 1),
            ("3 step", "lr * (.)", "fp_mul", 1),
            ("4 weight", "w - lr * (.)", "fp_add", 1))),
    # SGD with momentum as torch.optim.SGD (dampening 0): m = mu m + g, w = w - lr m.
    "python_ref.sgd:SGD": Algorithm(
        "float32_sgd", "float32 SGD as written",
        "Sutskever et al. 2013 (ICML), heavy-ball momentum as torch.optim.SGD",
        ("w", "g", "m"), ("w", "m"), (
            ("1 momentum", "mu * m", "fp_mul", 1),
            ("1 momentum", "mu m + g", "fp_add", 1),
            ("2 weight", "lr * m", "fp_mul", 1),
            ("2 weight", "w - lr m", "fp_add", 1))),
    # Chen et al. 2023, Algorithm 2 without weight decay: c = b1 m + (1 - b1) g,
    # w = w - lr sign(c), m = b2 m + (1 - b2) g.
    "python_ref.lion:Lion": Algorithm(
        "float32_lion", "float32 Lion as written",
        "Chen et al. 2023 (arXiv 2302.06675), Lion", ("w", "g", "m"), ("w", "m"), (
            ("1 update direction", "beta1 * m", "fp_mul", 1),
            ("1 update direction", "(1 - beta1) * g", "fp_mul", 1),
            ("1 update direction", "c = beta1 m + (1 - beta1) g", "fp_add", 1),
            ("1 update direction", "sign(c)", "fp_compare", 1),
            ("2 weight", "lr * sign(c) (a sign applied to lr)", "fp_compare", 1),
            ("2 weight", "w - lr sign(c)", "fp_add", 1),
            ("3 momentum", "beta2 * m", "fp_mul", 1),
            ("3 momentum", "(1 - beta2) * g", "fp_mul", 1),
            ("3 momentum", "m = beta2 m + (1 - beta2) g", "fp_add", 1))),
}


def _algorithm(rule) -> Algorithm:
    ref = entry(rule).reference
    if ref not in AS_WRITTEN:
        raise InvalidValue(f"no float algorithm as written for {ref} (the reference of "
                           f"{entry(rule).label}): add it to sim.analysis.ops.AS_WRITTEN")
    return AS_WRITTEN[ref]


def as_written(rule) -> dict:
    """The count of ``rule``'s float algorithm as written (`AS_WRITTEN`, by the registry's
    reference; ``rule``: a `lns.modes.Optimizer`, its string or a configuration)."""
    return _algorithm(rule).counts()


def baseline_key(rule) -> str:
    """The `baselines` key of ``rule``'s algorithm (``float32_madam``, ...)."""
    return _algorithm(rule).key


def float32_baseline(rule) -> dict:
    """The float32 count ``rule``'s unit is set beside: the registered IEEE unit of the same
    algorithm (the registry's reference) at 32 bits, where the project builds one; else the
    algorithm as written."""
    from lns import presets
    ref = entry(rule).reference
    for other in rules():
        e = entry(other)
        if e.reference == ref and e.number_system == "ieee":
            return operation_counts(presets.for_bits(other, 32))
    return as_written(rule)


def baselines() -> dict:
    """``{key: count}``: the float32 baselines, one per float algorithm of the registry (in
    its order): `float32_baseline`, and beside a unit the algorithm as written as context
    (``<key>_as_written``)."""
    out = {}
    for each in rules():
        key = baseline_key(each)
        if key in out:
            continue
        out[key] = float32_baseline(each)
        if out[key]["name"] != _algorithm(each).name:       # a unit stands in for it
            out[f"{key}_as_written"] = as_written(each)
    return out
