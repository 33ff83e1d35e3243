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

The unit is the generic lane of every IEEE program rule (`rtl.float_program`); this module
keeps the names the float Adam unit had before the generalisation.

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

from lns.rule import check_config
from lns.rules.ieee_adam import FloatAdamConfig

from .array import UpdateArray
from .float_program import OP_GAP, FloatProgramUnit, program_stages
from .float_program import schedule as _schedule

__all__ = ["FloatAdamUnit", "FloatAdamArray", "float_adam_stages", "schedule", "WORDS",
           "HELD", "OUTPUTS", "OP_GAP"]

WORDS = ("w", "g", "m", "v")            # a beat's words (ports in_<role>)
HELD = ("k1", "k2")                     # the step's bias corrections, sampled with each beat
OUTPUTS = ("w'", "m'", "v'")            # results of OPERATIONS written back (out_w, ...)


def _check(cfg) -> FloatAdamConfig:
    return check_config(cfg, FloatAdamConfig, "a FloatAdamConfig")


def schedule(cfg, steps_per_stage: int | None = None, op_gap: int = OP_GAP) -> tuple:
    """``((result, op, operands, start, done), ...)`` in `OPERATIONS` order
    (`rtl.float_program.schedule`)."""
    return _schedule(_check(cfg), steps_per_stage, op_gap)


def float_adam_stages(cfg, steps_per_stage: int | None = None, op_gap: int = OP_GAP) -> int:
    """Register stages of one lane (latency + 1): `rtl.float_program.program_stages`."""
    return program_stages(_check(cfg), steps_per_stage, op_gap)


class FloatAdamUnit(FloatProgramUnit):
    """One lane of the float Adam update (`lns.rules.ieee_adam.float_adam_update`): the
    generic program unit (`rtl.float_program.FloatProgramUnit`) of `FloatAdamConfig`; no
    handshake of its own: ``en`` advances every register.

    Ports
    -----
    en : In(1)
    w, g, m, v, k1, k2 : In(fmt.total_bits)
    w_out, m_out, v_out : Out(fmt.total_bits), the beat that entered ``stages - 1`` enabled
    edges earlier
    """

    @classmethod
    def _check_cfg(cls, cfg):
        return _check(cfg)


# The one array (`rtl.array.UpdateArray`) under the name it had before the other rules.
FloatAdamArray = UpdateArray
