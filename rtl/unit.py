"""The pipelined Madam update: `MadamUpdateUnit` (one lane's datapath) and
`MadamUpdateArray` (``lanes`` units behind one valid/ready handshake).

Pipeline (register stages; every register loads when the global enable ``en`` is high)::

    rms:   R0 inputs (+ r) | A second moment -> R1 | B normaliser -> R2 | C exp step -> R3
           | D weight update -> R4 outputs                        5 stages, latency 4
    sign:  R0 inputs (+ r) | C exp step + D weight update -> R1 outputs
                                                                  2 stages, latency 1

Latency ``L = stages - 1``: a beat accepted at clock edge ``k`` (``in_valid & in_ready``
sampled high) is on ``out_valid``/``out_w``/``out_v`` right after edge ``k + L`` when
``out_ready`` stays high.  Backpressure: ``en = ~out_valid | out_ready`` holds every stage
register (valids included) while a result waits; ``in_ready = en`` is therefore a
combinational function of ``out_ready`` and the last valid.  ``x_bc`` and ``clip`` are
sampled with each beat (they travel with it through the pipeline), so they may change
between beats.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, Value, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lns.lfsr import RANDOM_BITS, WIDTH, lane_seeds

from ._common import range_shape, word_fields
from .exp_step import ExpStep
from .lfsr import LaneLFSR
from .update import Normaliser, SecondMoment, WeightUpdate

__all__ = ["MadamUpdateUnit", "MadamUpdateArray", "xbc_shape", "pipeline_stages"]


def xbc_shape(cfg):
    """Shape of the ``x_bc`` port: every ``cfg.bias_correction_code(t)``, ``t >= 1`` (the
    most negative is ``t = 1``; large ``t`` tends to 0)."""
    return range_shape(cfg.bias_correction_code(1), 0)


def pipeline_stages(cfg) -> int:
    """Register stages of one lane (the latency is one less)."""
    return 5 if cfg.normaliser == "rms" else 2


class _Stages:
    """Pipeline registers sharing one enable; ``reg(value)`` returns the registered copy."""

    def __init__(self, m, en):
        self.m, self.en, self.index = m, en, -1

    def next(self, **values):
        self.index += 1
        out = {}
        for name, value in values.items():
            value = Value.cast(value)
            reg = Signal(value.shape(), name=f"r{self.index}_{name}", reset_less=True)
            with self.m.If(self.en):
                self.m.d.sync += reg.eq(value)
            out[name] = reg
        return out


class MadamUpdateUnit(wiring.Component):
    """One lane of the pipelined update: the datapath of `lns.update._update_kernel`.

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
        if cfg.rounding == "stochastic":
            ports["lfsr_seed"] = In(unsigned(WIDTH))
            ports["lfsr_load"] = In(1)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        p = cfg.params
        st = _Stages(m, self.en)
        rnd = {}
        if p.stochastic:
            m.submodules.lfsr = lfsr = LaneLFSR(self.lfsr_init)
            m.d.comb += [lfsr.seed.eq(self.lfsr_seed), lfsr.load.eq(self.lfsr_load),
                         lfsr.advance.eq(self.accept)]
            rnd = {"r": lfsr.r}
        assert RANDOM_BITS == p.random_bits

        if p.rms:
            s0 = st.next(w=self.w, g=self.g, v=self.v, x_bc=self.x_bc, clip=self.clip, **rnd)
            m.submodules.moment = moment = SecondMoment(cfg)
            m.d.comb += [moment.g.eq(s0["g"]), moment.v.eq(s0["v"])]
            s1 = st.next(w=s0["w"], g=s0["g"], vn=moment.v_out, x_bc=s0["x_bc"],
                         clip=s0["clip"], **{k: s0[k] for k in rnd})
            m.submodules.norm = norm = Normaliser(cfg, xbc_shape(cfg))
            m.d.comb += [norm.g.eq(s1["g"]), norm.v.eq(s1["vn"]), norm.x_bc.eq(s1["x_bc"])]
            g_sign, _, g_zero = word_fields(s1["g"], p.g)
            s2 = st.next(w=s1["w"], g_sign=g_sign, g_zero=g_zero, vn=s1["vn"], l=norm.l,
                         clip=s1["clip"], **{k: s1[k] for k in rnd})
            m.submodules.step = step = ExpStep(cfg, norm.l.shape(), p.l_bound)
            m.d.comb += step.l.eq(s2["l"])
            if p.stochastic:
                m.d.comb += step.r.eq(s2["r"])
            s3 = st.next(w=s2["w"], g_sign=s2["g_sign"], g_zero=s2["g_zero"], vn=s2["vn"],
                         delta=step.delta, clip=s2["clip"])
            last = s3
        else:
            # |g_hat| = 1: the step is a constant (plus the random bits) and v passes through.
            s0 = st.next(w=self.w, g=self.g, vn=self.v, clip=self.clip, **rnd)
            m.submodules.step = step = ExpStep(cfg, signed(1), 0)
            m.d.comb += step.l.eq(0)
            if p.stochastic:
                m.d.comb += step.r.eq(s0["r"])
            g_sign, _, g_zero = word_fields(s0["g"], p.g)
            last = dict(s0, g_sign=g_sign, g_zero=g_zero, delta=step.delta)

        m.submodules.weight = wu = WeightUpdate(cfg, step.delta.shape())
        m.d.comb += [wu.w.eq(last["w"]), wu.g_sign.eq(last["g_sign"]),
                     wu.g_zero.eq(last["g_zero"]), wu.delta.eq(last["delta"]),
                     wu.clip.eq(last["clip"])]
        out = st.next(w_out=wu.w_out, v_out=last["vn"])
        m.d.comb += [self.w_out.eq(out["w_out"]), self.v_out.eq(out["v_out"])]
        assert st.index + 1 == self.stages
        return m


class MadamUpdateArray(wiring.Component):
    """``lanes`` update units behind one valid/ready handshake (the generated top module).

    Lane ``k`` of a packed bus is bits ``[k*W, (k+1)*W)``; beat ``b`` lane ``k`` carries
    tensor element ``b*lanes + k``.  See the module docstring for the timing.  After reset
    lane ``k``'s LFSR holds ``lns.lane_seeds(0, lanes)[k]``; ``lfsr_load`` loads every lane
    from ``lfsr_seed`` (lane ``k`` from bits ``[32k, 32k+32)``); a load at the edge that
    accepts a beat loads first and that beat then advances from the seed.
    """

    def __init__(self, cfg, lanes: int = 1):
        if not isinstance(lanes, int) or isinstance(lanes, bool) or lanes < 1:
            raise ValueError(f"lanes must be a positive int, not {lanes!r}")
        self.cfg = cfg
        self.lanes = lanes
        self.stages = pipeline_stages(cfg)
        self.latency = self.stages - 1
        n = lanes
        ports = {
            "in_valid": In(1), "in_ready": Out(1),
            "in_w": In(n * cfg.weight.total_bits), "in_g": In(n * cfg.grad.total_bits),
            "in_v": In(n * cfg.moment.total_bits),
            "x_bc": In(xbc_shape(cfg)), "clip": In(unsigned(cfg.weight.log_bits)),
        }
        if cfg.rounding == "stochastic":
            ports["lfsr_seed"] = In(unsigned(n * WIDTH))
            ports["lfsr_load"] = In(1)
        ports.update({"out_valid": Out(1), "out_ready": In(1),
                      "out_w": Out(n * cfg.weight.total_bits),
                      "out_v": Out(n * cfg.moment.total_bits)})
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        en = Signal()
        accept = Signal()
        m.d.comb += [en.eq(~self.out_valid | self.out_ready), self.in_ready.eq(en),
                     accept.eq(self.in_valid & en)]
        valid = self.in_valid
        for i in range(self.stages):
            reg = Signal(name=f"valid{i}")
            with m.If(en):
                m.d.sync += reg.eq(valid)
            valid = reg
        m.d.comb += self.out_valid.eq(valid)

        ww, wg, wv = cfg.weight.total_bits, cfg.grad.total_bits, cfg.moment.total_bits
        seeds = lane_seeds(0, self.lanes)
        for k in range(self.lanes):
            unit = MadamUpdateUnit(cfg, int(seeds[k]))
            m.submodules[f"lane{k}"] = unit
            m.d.comb += [
                unit.en.eq(en), unit.accept.eq(accept),
                unit.w.eq(self.in_w[k * ww:(k + 1) * ww]),
                unit.g.eq(self.in_g[k * wg:(k + 1) * wg]),
                unit.v.eq(self.in_v[k * wv:(k + 1) * wv]),
                unit.x_bc.eq(self.x_bc), unit.clip.eq(self.clip),
                self.out_w[k * ww:(k + 1) * ww].eq(unit.w_out),
                self.out_v[k * wv:(k + 1) * wv].eq(unit.v_out),
            ]
            if cfg.rounding == "stochastic":
                m.d.comb += [unit.lfsr_seed.eq(self.lfsr_seed[k * WIDTH:(k + 1) * WIDTH]),
                             unit.lfsr_load.eq(self.lfsr_load)]
        return m
