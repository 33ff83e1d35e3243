"""The pipelined Madam update: `MadamUpdateUnit` (one lane's datapath) and
`MadamUpdateArray` (``lanes`` units behind one valid/ready handshake).

Pipeline (register stages; every register loads when the global enable ``en`` is high)::

    rms:   R0 inputs (+ r)
           | a, b (moment adder operands), k (normaliser's input part)
           | |a - b|, max                                      (log_add)
           | sb: address + ROM [| diff, partial products | adder tree | tree + RNE] (interp)
           | max + sb | pack v', k - t                         (second_moment)
           | num = k - (e_v' << vs), num >= t | RNE + clamp -> L (normaliser)
           | 2**frac ROM + shift amount | align | round -> Delta (exp_step)
           | X_w -+ Delta | clamps -> out                      (weight_update)
    sign:  R0 inputs (+ r) | step + X_w -+ Delta | clamps -> out

A ROM in block RAM is addressed a stage earlier than shown (`rtl._common.in_block_ram`):
lns16's sb nodes with |a - b|, its 2**frac ROM with L.

The number of stages is what the datapath builds: `pipeline_stages` counts the boundaries
by running the same builder (`_datapath`) on a `Pipe` without registers.

Values cross stage boundaries through a `Pipe`, which delays each one by exactly the
boundaries it crosses, so every stage sees a single beat.

Latency ``L = stages - 1``: a beat accepted at clock edge ``k`` (``in_valid & in_ready``
sampled high) is on ``out_valid``/``out_w``/``out_v`` right after edge ``k + L`` when
``out_ready`` stays high.  Backpressure: ``en = ~out_valid | out_ready`` holds every stage
register (valids included) while a result waits; ``in_ready = en`` is therefore a
combinational function of ``out_ready`` and the last valid.  ``x_bc`` and ``clip`` are
sampled with each beat (they travel with it through the pipeline), so they may change
between beats.
"""

from __future__ import annotations

from functools import lru_cache

from amaranth.hdl import Const, Module, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lns.lfsr import RANDOM_BITS, WIDTH

from ._common import Pipe, count_stages, range_shape, word_fields
from .array import UpdateArray
from .exp_step import exp_step
from .lfsr import LaneLFSR
from .update import (l_shape, normaliser, normaliser_bound, normaliser_prep, second_moment,
                     weight_update)

__all__ = ["MadamUpdateUnit", "MadamUpdateArray", "xbc_shape", "pipeline_stages"]


def xbc_shape(cfg):
    """Shape of the ``x_bc`` port: every ``cfg.bias_correction_code(t)``, ``t >= 1`` (the
    most negative is ``t = 1``; large ``t`` tends to 0)."""
    return range_shape(cfg.bias_correction_code(1), 0)


@lru_cache(maxsize=None)
def pipeline_stages(cfg) -> int:
    """Register stages of one lane (the latency is one less): the boundaries `_datapath`
    builds, counted by building it once on a `Pipe` without registers (``en=None``: each
    ``cut`` only counts) in a scratch module."""
    return count_stages(lambda m, pipe: _datapath(m, pipe, cfg, _inputs(cfg)))


def _inputs(cfg) -> dict:
    """Free signals of the lane's input shapes, for `pipeline_stages`'s counting build."""
    ins = {"w": Signal(cfg.weight.total_bits), "g": Signal(cfg.grad.total_bits),
           "v": Signal(cfg.moment.total_bits), "x_bc": Signal(xbc_shape(cfg)),
           "clip": Signal(unsigned(cfg.weight.log_bits))}
    if cfg.is_stochastic:
        ins["r"] = Signal(unsigned(RANDOM_BITS))
    return ins


def _datapath(m, pipe: Pipe, cfg, ins: dict):
    """One lane's datapath on ``pipe`` from the input values ``ins`` (``w``, ``g``, ``v``,
    ``x_bc``, ``clip`` and, stochastic only, the random bits ``r``): the input registers,
    the steps with their boundaries, and the output registers.  Returns ``(w_out, v_out)``
    as seen after the last boundary."""
    p = cfg.params
    rnd = {"r": ins["r"]} if cfg.is_stochastic else {}
    pipe.put(w=ins["w"], g=ins["g"], v=ins["v"], clip=ins["clip"], **rnd)
    if cfg.has_second_moment:
        pipe.put(x_bc=ins["x_bc"])
    pipe.cut()                                              # R0: the inputs
    g_sign, _, g_zero = word_fields(pipe.get("g"), p.g)
    pipe.put(g_sign=g_sign, g_zero=g_zero)
    r = pipe.get("r") if cfg.is_stochastic else None
    if cfg.has_second_moment:
        normaliser_prep(pipe, cfg, pipe.get("g"), pipe.get("x_bc"))
        pipe.put(vn=second_moment(m, pipe, cfg, pipe.get("g"), pipe.get("v")))
        normaliser_bound(pipe, cfg)                         # beside the moment's packing
        pipe.cut()
        l = normaliser(m, pipe, cfg, pipe.get("vn"), l_shape(cfg, xbc_shape(cfg)))
        r_l = pipe.get("r") if cfg.is_stochastic else None      # r as of L's stage
        pipe.put(delta=exp_step(m, pipe, cfg, l, r_l, p.l_bound))
        pipe.cut()
        delta = pipe.get("delta")
    else:
        # |g_hat| = 1: the step is a constant (plus the random bits), built without a
        # boundary in the stage of X_w -+ Delta; v passes through.  The clamps take a
        # stage of their own (weight_update's boundary): step, add and clamps in one
        # stage ran at 71 MHz (ECP5, median of 5 seeds), split at 136.
        pipe.put(vn=pipe.get("v"))
        delta = exp_step(m, Pipe(m), cfg, Const(0, signed(1)), r, 0)
    w_new = weight_update(m, pipe, cfg, pipe.get("w"), pipe.get("g_sign"),
                          pipe.get("g_zero"), delta, pipe.get("clip"))
    pipe.put(w_out=w_new)
    pipe.cut()                                              # the output registers
    return pipe.get("w_out"), pipe.get("vn")


class MadamUpdateUnit(wiring.Component):
    """One lane of the pipelined update: the datapath of `lns.rules.madam_update._update_kernel`.

    The lane has no handshake of its own: ``en`` advances every register (it is the
    array's global enable) and ``accept`` (a beat enters at this edge) advances the lane's
    LFSR.

    Parameters
    ----------
    cfg : lns.MadamConfig
    lfsr_init : int
        The LFSR register's reset value (stochastic rounding only).

    Ports
    -----
    en, accept : In(1)
    w, g, v : In(word widths); x_bc : In(xbc_shape(cfg)); clip : In(weight.log_bits)
    lfsr_seed : In(32), lfsr_load : In(1)   stochastic rounding only
    w_out, v_out : Out(word widths), the result of the beat that entered ``stages - 1``
    enabled edges earlier
    """

    @staticmethod
    def stages_of(cfg) -> int:
        """Register stages of one lane (latency + 1): `pipeline_stages`."""
        return pipeline_stages(cfg)

    def __init__(self, cfg, lfsr_init: int = 1):
        self.cfg = cfg
        self.lfsr_init = lfsr_init
        self.stages = pipeline_stages(cfg)
        ports = {
            "en": In(1), "accept": In(1),
            "w": In(cfg.weight.total_bits), "g": In(cfg.grad.total_bits),
            "v": In(cfg.moment.total_bits), "x_bc": In(xbc_shape(cfg)),
            "clip": In(unsigned(cfg.weight.log_bits)),
            "w_out": Out(cfg.weight.total_bits), "v_out": Out(cfg.moment.total_bits),
        }
        if cfg.is_stochastic:
            ports["lfsr_seed"] = In(unsigned(WIDTH))
            ports["lfsr_load"] = In(1)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        pipe = Pipe(m, self.en)
        ins = {"w": self.w, "g": self.g, "v": self.v, "x_bc": self.x_bc, "clip": self.clip}
        if cfg.is_stochastic:
            m.submodules.lfsr = lfsr = LaneLFSR(self.lfsr_init)
            m.d.comb += [lfsr.seed.eq(self.lfsr_seed), lfsr.load.eq(self.lfsr_load),
                         lfsr.advance.eq(self.accept)]
            ins["r"] = lfsr.r
        assert RANDOM_BITS == cfg.params.random_bits
        w_out, v_out = _datapath(m, pipe, cfg, ins)
        m.d.comb += [self.w_out.eq(w_out), self.v_out.eq(v_out)]
        assert pipe.stage == self.stages, (pipe.stage, self.stages)
        return m


# The one array (`rtl.array.UpdateArray`) under the name it had before the other rules.
MadamUpdateArray = UpdateArray
