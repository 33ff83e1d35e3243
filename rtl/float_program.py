"""The lane unit of every IEEE program rule (`lns.rules.ieee_program.FloatProgram`):
`FloatProgramUnit`, one update a beat, the program's table of single operations on one
pipeline; `rtl.array.UpdateArray` puts ``lanes`` of them behind the valid/ready stream.

The datapath is ``cfg.OPERATIONS`` in that order, each entry its op's RTL builder (the op
table `lns.rules.ieee_program.OPS`: ``add``, ``sub``, ``mul``, ``div``, ``sqrt`` are the
`rtl.float` operators, ``convert`` `rtl.float.convert`; one `round_pack` each), so the
words match the model (`lns.rules.ieee_program.run_program`) bit for bit.  Every value has
its own format (``cfg.value_formats``): a rule may mix formats (mixed-precision Adam's BF16
gradient widened to FP32).  The constants are the configuration's words
(``cfg.constants``), built in as constants; the held ports (``cfg.HELD``) are inputs sampled
with each beat, like the LNS units' ``x_bc``.

Schedule: as soon as possible on one `rtl._common.Pipe` (II = 1).  Each operation starts in
the stage where its last operand is ready and is built on a pipe of its own from there; its
result joins the main pipe in the stage it is made, and its readers start `OP_GAP` register
boundaries later (`schedule`: start and done stage of every operation, from the operators'
own stage counts, each counted once per op and formats by building it alone;
``steps_per_stage`` of division and square root is `rtl.float`'s default unless given).
Latency ``stages - 1``, counted by building the datapath once on a `Pipe` without
registers.

Flush to zero: with ``cfg.ftz`` (`lns.ieee.ftz`) every builder is called with ``ftz=True``
(and only then, so the Verilog of a configuration without the mode is what it was): its
operands unpacked with ``daz`` (a subnormal is a zero, so no leading-zero count and shift)
and its `round_pack` flushing a result below ``2**emin``, no subnormal shift.
"""

from __future__ import annotations

import importlib
from functools import lru_cache

from amaranth.hdl import Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lns.errors import InvalidType, InvalidValue
from lns.rules.ieee_program import FloatProgram, op_spec

from ._common import Pipe, count_stages
from .float import float_add, float_div, float_mul, float_sqrt

__all__ = ["FloatProgramUnit", "program_stages", "schedule", "OP_GAP", "builder",
           "build_add", "build_sub", "build_mul", "build_div", "build_sqrt", "build_mulc",
           "ident"]

# Register boundaries between an operation's result and the operations that read it.  With
# 0 the next operator's unpacking (a subnormal's leading-zero count and shift) runs in the
# stage of the last one's rounding and packing: bf16 on ECP5 reached 47.4 MHz, its critical
# path exactly that (vh's round_pack into the square root's normalisation).  1 registers
# every result, as the stand-alone operators do (`rtl.float.FloatOp`'s output register).
OP_GAP = 1


# ---- the builders of the basic ops (the op table's ``rtl`` strings name these) -------------
def _steps(steps_per_stage):
    # None: the operators' own default (rtl.float decides how deep its dividers are)
    return {} if steps_per_stage is None else {"steps_per_stage": steps_per_stage}


def build_add(m, pipe, in_fmts, out_fmt, operands, name, steps_per_stage=None, ftz=False):
    return float_add(m, pipe, out_fmt, *operands, 0, name=name, ftz=ftz)


def build_sub(m, pipe, in_fmts, out_fmt, operands, name, steps_per_stage=None, ftz=False):
    return float_add(m, pipe, out_fmt, *operands, 1, name=name, ftz=ftz)


def build_mul(m, pipe, in_fmts, out_fmt, operands, name, steps_per_stage=None, ftz=False):
    return float_mul(m, pipe, out_fmt, *operands, name=name, ftz=ftz)


def build_div(m, pipe, in_fmts, out_fmt, operands, name, steps_per_stage=None, ftz=False):
    return float_div(m, pipe, out_fmt, *operands, name=name, ftz=ftz,
                     **_steps(steps_per_stage))


def build_sqrt(m, pipe, in_fmts, out_fmt, operands, name, steps_per_stage=None, ftz=False):
    return float_sqrt(m, pipe, out_fmt, *operands, name=name, ftz=ftz,
                      **_steps(steps_per_stage))


def _csd(n: int) -> list:
    """``[(shift, digit)]``, digit +-1: the canonical signed-digit form of ``n > 0`` (no two
    adjacent non-zero digits; the fewest of any signed-digit form)."""
    out, k = [], 0
    while n:
        if n & 1:
            d = 2 - (n & 3)
            out.append((k, d))
            n -= d
        n >>= 1
        k += 1
    return out


def _mulc_levels(fmt) -> int:
    """Adder-tree levels for a constant of ``fmt``: a ``p + 1``-bit significand has at most
    ``ceil((p + 2) / 2)`` non-zero canonical signed digits, summed pairwise."""
    digits = (fmt.frac_bits + 3) // 2
    return max(1, (digits - 1).bit_length())


def build_mulc(m, pipe, in_fmts, out_fmt, operands, name, steps_per_stage=None, ftz=False):
    """``c * x`` for a constant ``c`` (the first operand, an Amaranth ``Const``: a
    configuration's word), correctly rounded, with no multiplier: the exact product of
    the significands as a sum of the variable significand shifted by the canonical
    signed digits of the constant's (`_csd`), an adder tree of `_mulc_levels` levels, two
    a register stage; then the multiplier's normalisation and `round_pack`.  The stage
    count depends on the format only (a probe with a signal operand builds 1.0's tree).
    Unpacking, normalisation and the special cases of the constant are done here, in
    Python: it is a finite non-zero number (the degenerate check refuses 0 and infinity).
    With ``ftz`` (`lns.ieee.ftz`) the variable operand is unpacked with ``daz`` (no
    normalisation), the constant must be normal (a subnormal one would read as 0), and
    `round_pack` flushes a product below ``2**emin``."""
    from amaranth.hdl import Const, Mux
    from lns.ieee import exact
    from .float import round_pack
    from .float.fields import normal_significands, signed_value, unpack
    fmt = out_fmt
    p = fmt.frac_bits
    c, x = operands
    word = c.value if isinstance(c, Const) else fmt.bias << p      # (the probe: 1.0)
    cls, s_c, n_c, e_c = exact.decode(fmt, word)
    if cls != exact.FINITE:
        raise InvalidValue(f"mulc needs a finite non-zero constant, not {word:#x}")
    if ftz and n_c.bit_length() != p + 1:
        raise InvalidValue(f"mulc with ftz needs a normal constant (a subnormal reads as "
                           f"0), not {word:#x}")
    shift = p + 1 - n_c.bit_length()                 # a subnormal constant, normalised
    n_c, e_c = n_c << shift, e_c - shift
    fx = unpack(fmt, x, daz=ftz)
    pipe.put(**{f"{name}_sign": fx.sign ^ s_c, f"{name}_nan": fx.nan, f"{name}_inf": fx.inf,
                f"{name}_zero": fx.zero})
    ((sig_x, exp_x),) = normal_significands(pipe, [(fx.sig, fx.exp)], name, ftz)
    # the product's leading bit is that of sig_x * n_c / 2**p: biased exponent
    # exp_x + (e_c + p), as float_mul's exp_a + exp_b - bias
    pipe.put(**{f"{name}_sig": sig_x, f"{name}_exp": exp_x + (e_c + p)})
    pipe.cut()
    sig = pipe.get(f"{name}_sig")
    width = 2 * p + 4                                  # the product and a sign bit
    terms = [signed_value(sig << k) if d > 0 else -(sig << k) for k, d in _csd(n_c)]
    levels = _mulc_levels(fmt)
    for level in range(levels):
        if len(terms) > 1:
            terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i]
                     for i in range(0, len(terms), 2)]
            terms = [t[:width].as_signed() for t in terms]
        if level % 2 == 1 or level == levels - 1:      # two levels a register stage
            keys = [f"{name}_t{level}_{i}" for i in range(len(terms))]
            pipe.put(**dict(zip(keys, terms)))
            pipe.cut()
            terms = [pipe.get(k) for k in keys]
    assert len(terms) == 1, len(terms)
    prod = terms[0][:2 * p + 2]
    top = prod[2 * p + 1]                    # the product of two [1, 2) values is in [1, 4)
    out = Mux(top, prod, prod << 1)[:2 * p + 2]
    return round_pack(m, pipe, fmt, pipe.get(f"{name}_sign"), pipe.get(f"{name}_exp"),
                      out, exp_up=top, zero=pipe.get(f"{name}_zero"), inf=pipe.get(f"{name}_inf"),
                      nan=pipe.get(f"{name}_nan"), name=f"{name}_rp", ftz=ftz)


_BUILDERS: dict = {}


def builder(op: str):
    """The RTL builder of ``op`` (its `OpSpec.rtl`, imported once)."""
    path = op_spec(op).rtl
    if path not in _BUILDERS:
        module, _, attr = path.partition(":")
        _BUILDERS[path] = getattr(importlib.import_module(module), attr)
    return _BUILDERS[path]


def ident(name: str) -> str:
    """A value's name as an identifier (``m'`` -> ``m_new``)."""
    return name.replace("'", "_new")


def _check(cfg) -> FloatProgram:
    if not isinstance(cfg, FloatProgram):
        raise InvalidType(f"cfg must be an IEEE program rule's configuration, "
                          f"not {type(cfg).__name__}")
    if cfg.ftz:
        bare = [op for _, op, _ in cfg.OPERATIONS if op_spec(op).ftz is None]
        if bare:
            raise InvalidValue(f"op {bare[0]!r} has no flush-to-zero form: ftz must be "
                               f"False for {cfg.name}, not True")
    return cfg


def _ftz_kw(ftz: bool) -> dict:
    # given only when on: a builder without the mode is called exactly as before
    return {"ftz": True} if ftz else {}


@lru_cache(maxsize=None)
def _op_depth(op: str, in_fmts: tuple, out_fmt, steps_per_stage: int | None,
              ftz: bool = False) -> int:
    """Register boundaries one operator crosses (its own count, built once)."""
    build = builder(op)
    return count_stages(lambda m, pipe: build(
        m, pipe, in_fmts, out_fmt, [Signal(f.total_bits) for f in in_fmts], "probe",
        steps_per_stage, **_ftz_kw(ftz)))


@lru_cache(maxsize=None)
def schedule(cfg, steps_per_stage: int | None = None, op_gap: int = OP_GAP) -> tuple:
    """``((result, op, operands, start, done), ...)`` in ``cfg.OPERATIONS`` order: the stage
    (after the input registers, counted from 0) an operation starts in and the stage its
    result is made in (``start + `` the operator's boundaries).  As soon as possible:
    ``start`` is the latest ``done + op_gap`` of its operands (inputs and constants: 0)."""
    cfg = _check(cfg)
    fmts = cfg.value_formats
    ready = {k: 0 for k in (*cfg.WORD_ROLES, *cfg.HELD, *cfg.CONSTANT_ROLES)}
    out = []
    for result, op, args in cfg.OPERATIONS:
        start = max(ready[a] for a in args)
        done = start + _op_depth(op, tuple(fmts[a] for a in args), fmts[result],
                                 steps_per_stage, bool(cfg.ftz))
        ready[result] = done + op_gap
        out.append((result, op, args, start, done))
    return tuple(out)


def _datapath(m, pipe: Pipe, cfg, ins: dict, steps_per_stage: int | None,
              op_gap: int) -> dict:
    """One lane: the inputs ``ins`` (every word role and held port) through the input
    registers, ``cfg.OPERATIONS`` as scheduled, the output registers; returns ``{written
    role: value}`` as seen after the last boundary."""
    fmts = cfg.value_formats
    pipe.put(**ins)
    pipe.cut()                                                  # R0: the inputs
    base = pipe.stage
    consts = {k: Const(w, fmts[k].total_bits) for k, w in cfg.constants.items()}
    plan = schedule(cfg, steps_per_stage, op_gap)
    pending = {}                                                # result -> (done, value)
    last = max(done for *_, done in plan)
    for s in range(last + 1):
        assert pipe.stage == base + s
        for result, (done, value) in list(pending.items()):
            if done == s:                                       # joins the main pipe here
                pipe.put(**{ident(result): value})
                del pending[result]
        for result, op, args, start, done in plan:
            if start != s:
                continue
            # (an operand made op_gap stages ago comes through op_gap registers)
            operands = [consts[a] if a in consts else pipe.get(ident(a)) for a in args]
            sub = Pipe(m, pipe.en, pipe.prefix)
            sub.stage = pipe.stage                              # starts in this stage
            value = builder(op)(m, sub, tuple(fmts[a] for a in args), fmts[result],
                                operands, ident(result), steps_per_stage,
                                **_ftz_kw(cfg.ftz))
            assert sub.stage == base + done, (result, sub.stage, base + done)
            if done == s:           # no register boundary (a select): joins at once, so a
                pipe.put(**{ident(result): value})      # reader may start in this stage
            else:
                pending[result] = (done, value)
        if s < last:
            pipe.cut()
    assert not pending
    outs = cfg.OUTPUTS
    pipe.put(**{f"out_{k}": (consts[r] if r in consts else pipe.get(ident(r)))
                for k, r in outs.items()})
    pipe.cut()                                                  # the output registers
    return {k: pipe.get(f"out_{k}") for k in outs}


def _inputs(cfg) -> dict:
    fmts = cfg.value_formats
    return {k: Signal(fmts[k].total_bits, name=k) for k in (*cfg.WORD_ROLES, *cfg.HELD)}


@lru_cache(maxsize=None)
def program_stages(cfg, steps_per_stage: int | None = None, op_gap: int = OP_GAP) -> int:
    """Register stages of one lane (latency + 1), counted by building the datapath once on a
    `Pipe` without registers."""
    cfg = _check(cfg)
    return count_stages(lambda m, pipe: _datapath(m, pipe, cfg, _inputs(cfg), steps_per_stage,
                                                  op_gap))


def _check_gap(op_gap):
    if isinstance(op_gap, bool) or not isinstance(op_gap, int) or op_gap < 0:
        raise InvalidValue(f"op_gap must be an int >= 0, not {op_gap!r}")


def _check_steps(steps_per_stage):
    if steps_per_stage is None:
        return
    if isinstance(steps_per_stage, bool) or not isinstance(steps_per_stage, int) \
            or steps_per_stage < 1:
        raise InvalidValue(f"steps_per_stage must be a positive int, not {steps_per_stage!r}")


class FloatProgramUnit(wiring.Component):
    """One lane of an IEEE program rule; no handshake of its own: ``en`` advances every
    register.

    Ports
    -----
    en : In(1)
    <role> : In(bits of its format), every word role (``cfg.WORD_ROLES``) and held port
    <role>_out : Out(bits of its format), every written role (``cfg.output_roles``), the
    beat that entered ``stages - 1`` enabled edges earlier
    """

    #: `rtl.array.UpdateArray` gives the unit a registered ready (a skid buffer): its
    #: 5,000-14,000 registers are more than a combinational enable reaches in one clock
    registered_ready = True

    @classmethod
    def _check_cfg(cls, cfg):
        return _check(cfg)

    @classmethod
    def stages_of(cls, cfg, steps_per_stage: int | None = None, op_gap: int = OP_GAP) -> int:
        """Register stages of one lane (latency + 1): `program_stages`."""
        cls._check_cfg(cfg)
        _check_steps(steps_per_stage)
        _check_gap(op_gap)
        return program_stages(cfg, steps_per_stage, op_gap)

    @classmethod
    def sidecar_extra(cls, cfg, steps_per_stage: int | None = None,
                      op_gap: int = OP_GAP) -> dict:
        """The unit's sidecar entries: the rule, the formats, the constants' words (also in
        ``config``), the roles of the ports and the schedule of ``cfg.OPERATIONS`` (stages
        counted after the input registers; ``op_gap`` registers between a result and its
        readers)."""
        fmts = cfg.value_formats
        return {"optimizer": str(cfg.optimizer),
                "format": getattr(cfg, cfg.FORMAT_ROLES[0]).to_dict(),
                "formats": {r: f.to_dict() for r, f in cfg.fmt_roles.items()},
                "constants": cfg.constant_table(),
                "roles": {"read": list(cfg.WORD_ROLES), "written": list(cfg.update_words[1]),
                          "formats": {k: f.name for k, f in cfg.word_formats.items()},
                          "held": {k: f"{cfg.HELD_DOC.get(k, k)}, a word of "
                                      f"{fmts[k].name} sampled with each beat"
                                   for k in cfg.HELD}},
                "op_gap": op_gap,
                "schedule": [{"result": r, "op": op, "operands": list(args), "start": a,
                              "done": b} for r, op, args, a, b in
                             schedule(cfg, steps_per_stage, op_gap)]}

    def __init__(self, cfg, steps_per_stage: int | None = None, op_gap: int = OP_GAP):
        try:
            self._check_cfg(cfg)
        except InvalidType:
            self._MustUse__silence = True
            raise
        try:
            _check_steps(steps_per_stage)
            _check_gap(op_gap)
        except InvalidValue:
            self._MustUse__silence = True
            raise
        self.cfg, self.steps_per_stage, self.op_gap = cfg, steps_per_stage, op_gap
        self.stages = program_stages(cfg, steps_per_stage, op_gap)
        self.latency = self.stages - 1
        fmts = cfg.value_formats
        ports = {"en": In(1)}
        ports.update({k: In(fmts[k].total_bits) for k in (*cfg.WORD_ROLES, *cfg.HELD)})
        ports.update({f"{k}_out": Out(cfg.word_formats[k].total_bits)
                      for k in cfg.output_roles})
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        pipe = Pipe(m, self.en)
        ins = {k: getattr(self, k) for k in (*self.cfg.WORD_ROLES, *self.cfg.HELD)}
        out = _datapath(m, pipe, self.cfg, ins, self.steps_per_stage, self.op_gap)
        m.d.comb += [getattr(self, f"{k}_out").eq(v) for k, v in out.items()]
        assert pipe.stage == self.stages, (pipe.stage, self.stages)
        return m
