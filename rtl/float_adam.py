"""The IEEE float Adam update in hardware: `FloatAdamUnit` (one lane) and `FloatAdamArray`
(``lanes`` units behind the valid/ready stream of the LNS units, the generated top).

The datapath is `lns.rules.ieee_adam.OPERATIONS`, the 14 single IEEE operations of
`lns.rules.ieee_adam.float_adam_update`, in that order, each one of the `rtl.float` operators
(`float_add`, `float_mul`, `float_div`, `float_sqrt`, one `round_pack` each): no fused
operation, so the words match the reference bit for bit.  The constants ``b1, c1, b2, c2,
lr, eps`` are the configuration's words (`FloatAdamConfig.constants`), built in as
constants; ``k1, k2`` (the bias corrections of the step, `FloatAdamConfig.
bias_correction_words`) are held inputs sampled with each beat, like the LNS units'
``x_bc``: they travel with the beat, so they may change between beats.

Schedule: as soon as possible on one `rtl._common.Pipe` (II = 1).  Each operation starts
in the stage where its last operand is ready and is built on a pipe of its own from there;
its result joins the main pipe in the stage it is made, and its readers start `OP_GAP`
register boundaries later (`schedule`: start and done stage of every operation, from the
operators' own stage counts; ``steps_per_stage`` of division and square root is
`rtl.float`'s default unless given)::

    R0 inputs | b1*m, c1*g, g*g, b2*v | m' = b1m + c1g beside c2*gg | v', m'*k1 | v'*k2,
    lr*mh | sqrt | + eps | / | w - q | outputs

(`lnsmadam verilog --preset P --out DIR` writes the schedule into the sidecar.)

Latency ``stages - 1`` (a beat accepted at edge ``k`` is on ``out_valid``/``out_w``/
``out_m``/``out_v`` right after edge ``k + latency`` while ``out_ready`` stays high), counted
by building the datapath once on a `Pipe` without registers.
"""

from __future__ import annotations

from functools import lru_cache

from amaranth.hdl import Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lns.errors import InvalidType, InvalidValue
from lns.rule import check_config
from lns.rules.ieee_adam import CONSTANTS, OPERATIONS, FloatAdamConfig

from ._common import Pipe, count_stages
from .array import UpdateArray
from .float import float_add, float_div, float_mul, float_sqrt

__all__ = ["FloatAdamUnit", "FloatAdamArray", "float_adam_stages", "schedule", "WORDS",
           "HELD", "OUTPUTS", "OP_GAP"]

WORDS = ("w", "g", "m", "v")            # a beat's words (ports in_<role>)
HELD = ("k1", "k2")                     # the step's bias corrections, sampled with each beat
OUTPUTS = ("w'", "m'", "v'")            # results of OPERATIONS written back (out_w, ...)
# Register boundaries between an operation's result and the operations that read it.  With
# 0 the next operator's unpacking (a subnormal's leading-zero count and shift) runs in the
# stage of the last one's rounding and packing: bf16 on ECP5 reached 47.4 MHz, its critical
# path exactly that (vh's round_pack into the square root's normalisation).  1 registers
# every result, as the stand-alone operators do (`rtl.float.FloatOp`'s output register).
OP_GAP = 1


def _check(cfg) -> FloatAdamConfig:
    return check_config(cfg, FloatAdamConfig, "a FloatAdamConfig")


def _ident(name: str) -> str:
    """An operation's result name as an identifier (``m'`` -> ``m_new``)."""
    return name.replace("'", "_new")


def _build_op(m, pipe, fmt, op, args, name, steps_per_stage):
    if op == "add":
        return float_add(m, pipe, fmt, *args, 0, name=name)
    if op == "sub":
        return float_add(m, pipe, fmt, *args, 1, name=name)
    if op == "mul":
        return float_mul(m, pipe, fmt, *args, name=name)
    # None: the operators' own default (rtl.float decides how deep its dividers are)
    kw = {} if steps_per_stage is None else {"steps_per_stage": steps_per_stage}
    if op == "div":
        return float_div(m, pipe, fmt, *args, name=name, **kw)
    if op == "sqrt":
        return float_sqrt(m, pipe, fmt, *args, name=name, **kw)
    raise InvalidValue(f"unknown operation {op!r}")


@lru_cache(maxsize=None)
def _op_depth(fmt, op: str, steps_per_stage: int | None) -> int:
    """Register boundaries one operator crosses (its own count, built once)."""
    n = fmt.total_bits
    arity = 1 if op == "sqrt" else 2
    return count_stages(lambda m, pipe: _build_op(m, pipe, fmt, op,
                                                  [Signal(n) for _ in range(arity)], "probe",
                                                  steps_per_stage))


@lru_cache(maxsize=None)
def schedule(cfg, steps_per_stage: int | None = None, op_gap: int = OP_GAP) -> tuple:
    """``((result, op, operands, start, done), ...)`` in `OPERATIONS` order: the stage (after
    the input registers, counted from 0) an operation starts in and the stage its result is
    made in (``start + `` the operator's boundaries).  As soon as possible: ``start`` is the
    latest ``done + op_gap`` of its operands (inputs and constants: 0)."""
    fmt = _check(cfg).fmt
    ready = {k: 0 for k in (*WORDS, *HELD, *CONSTANTS)}
    out = []
    for result, op, args in OPERATIONS:
        start = max(ready[a] for a in args)
        done = start + _op_depth(fmt, op, steps_per_stage)
        ready[result] = done + op_gap
        out.append((result, op, args, start, done))
    return tuple(out)


def _datapath(m, pipe: Pipe, cfg, ins: dict, steps_per_stage: int | None,
              op_gap: int) -> dict:
    """One lane: the inputs ``ins`` (w, g, m, v, k1, k2) through the input registers,
    `OPERATIONS` as scheduled, the output registers; returns ``{"w", "m", "v"}`` as seen
    after the last boundary (the last result goes straight into them)."""
    fmt = cfg.fmt
    n = fmt.total_bits
    pipe.put(**ins)
    pipe.cut()                                                  # R0: the inputs
    base = pipe.stage
    consts = {k: Const(w, n) for k, w in cfg.constants.items()}
    plan = schedule(cfg, steps_per_stage, op_gap)
    pending = {}                                                # result -> (done, value)
    last = max(done for *_, done in plan)
    for s in range(last + 1):
        assert pipe.stage == base + s
        for result, (done, value) in list(pending.items()):
            if done == s:                                       # joins the main pipe here
                pipe.put(**{_ident(result): value})
                del pending[result]
        for result, op, args, start, done in plan:
            if start != s:
                continue
            # (an operand made op_gap stages ago comes through op_gap registers)
            operands = [consts[a] if a in consts else pipe.get(_ident(a)) for a in args]
            sub = Pipe(m, pipe.en, pipe.prefix)
            sub.stage = pipe.stage                              # starts in this stage
            value = _build_op(m, sub, fmt, op, operands, _ident(result), steps_per_stage)
            assert sub.stage == base + done, (result, sub.stage, base + done)
            pending[result] = (done, value)
        if s < last:
            pipe.cut()
    assert not pending
    pipe.put(**{f"out_{k[0]}": pipe.get(_ident(k)) for k in OUTPUTS})
    pipe.cut()                                                  # the output registers
    return {k[0]: pipe.get(f"out_{k[0]}") for k in OUTPUTS}


def _inputs(cfg) -> dict:
    n = cfg.fmt.total_bits
    return {k: Signal(n, name=k) for k in (*WORDS, *HELD)}


@lru_cache(maxsize=None)
def float_adam_stages(cfg, steps_per_stage: int | None = None, op_gap: int = OP_GAP) -> int:
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


class FloatAdamUnit(wiring.Component):
    """One lane of the float Adam update (`lns.rules.ieee_adam.float_adam_update`); no handshake of
    its own: ``en`` advances every register.

    Ports
    -----
    en : In(1)
    w, g, m, v, k1, k2 : In(fmt.total_bits)
    w_out, m_out, v_out : Out(fmt.total_bits), the beat that entered ``stages - 1`` enabled
    edges earlier
    """

    @staticmethod
    def stages_of(cfg, steps_per_stage: int | None = None, op_gap: int = OP_GAP) -> int:
        """Register stages of one lane (latency + 1): `float_adam_stages`."""
        _check_steps(steps_per_stage)
        _check_gap(op_gap)
        return float_adam_stages(cfg, steps_per_stage, op_gap)

    @staticmethod
    def sidecar_extra(cfg, steps_per_stage: int | None = None, op_gap: int = OP_GAP) -> dict:
        """The float unit's sidecar entries: the rule, the format, the constants' words
        (also in ``config``), the roles of the ports and the schedule of
        `lns.rules.ieee_adam.OPERATIONS` (stages counted after the input registers; ``op_gap``
        registers between a result and its readers)."""
        return {"optimizer": str(cfg.optimizer), "format": cfg.fmt.to_dict(),
                "constants": cfg.to_dict()["constants"],
                "roles": {"read": list(WORDS), "written": list(cfg.update_words[1]),
                          "held": {k: f"bias correction 1/(1 - beta{k[1]}**t), a word of "
                                      f"{cfg.fmt.name} sampled with each beat"
                                   for k in HELD}},
                "op_gap": op_gap,
                "schedule": [{"result": r, "op": op, "operands": list(args), "start": a,
                              "done": b} for r, op, args, a, b in
                             schedule(cfg, steps_per_stage, op_gap)]}

    def __init__(self, cfg, steps_per_stage: int | None = None, op_gap: int = OP_GAP):
        try:
            _check(cfg)
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
        self.stages = float_adam_stages(cfg, steps_per_stage, op_gap)
        self.latency = self.stages - 1
        n = cfg.fmt.total_bits
        ports = {"en": In(1)}
        ports.update({k: In(n) for k in (*WORDS, *HELD)})
        ports.update({f"{k[0]}_out": Out(n) for k in OUTPUTS})
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        pipe = Pipe(m, self.en)
        ins = {k: getattr(self, k) for k in (*WORDS, *HELD)}
        out = _datapath(m, pipe, self.cfg, ins, self.steps_per_stage, self.op_gap)
        m.d.comb += [getattr(self, f"{k}_out").eq(v) for k, v in out.items()]
        assert pipe.stage == self.stages, (pipe.stage, self.stages)
        return m


# The one array (`rtl.array.UpdateArray`) under the name it had before the other rules.
FloatAdamArray = UpdateArray
