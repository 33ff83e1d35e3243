"""The pipelined LNS Lion update, one lane: `LionUpdateUnit`.

It reproduces `lns.rules.lion._lion_kernel` bit for bit.  Every constant comes from ``cfg.params``
(`lns.rules.lion.LionParams`), every ROM from the configuration's tables (``cfg.m_tables``,
``cfg.weight_tables``), the random bits from `lns.lfsr` through `LaneLFSR`; the signed
adders are `rtl.log_adder.signed_log_add`, the moment's packing
`rtl.additive_unit.pack_signed`, the weight's one rounding and packing
`rtl.additive_unit.round_pack`.

sign(c) needs no table: the model defines it as the sign of the c-term with the larger
code (`lns.rules.lion.sum_sign`), so the hardware compares the two codes.  ``X_m + c_beta1`` against
``(X_g << g_shift) + c_one_minus_beta1`` is, on the words' biased fields, one subtractor
``d = e_m - (e_g << g_shift)`` compared with a constant ``K``: ``d > K`` picks m's sign,
``d < K`` g's, ``d == K`` with opposite signs is ``c = 0`` (no step).

Because the step (``eta sign(c)``) does not depend on ``m'``, the weight adder runs beside
the momentum adder instead of after it (`rtl.log_adder.parallel`).

Pipeline (register stages; every register loads when the global enable ``en`` is high)::

    R0  inputs (+ r)
    S1  unpack; momentum adder operands (offsets and constants folded), X_w << guard;
        sign(c): d = e_m - (e_g << g_shift)
        | m' = signed_log_add(m-term, g-term) (sb/db of Fm)       beside
          w - eta sign(c) = signed_log_add((s_w, X_w << guard), (~s_c, eta_acc, c = 0))
          (d against K and the zero cases give s_c and c = 0 in the adder's first stage)
          (sb/db of Fa; each: |a - b| | look-ups, 4 stages interp, 1 direct | big + f)
        | m: pack m'                     w: one rounding to Fw (RNE or stochastic)
        | m: (padding)                   w: pack the weight word -> out registers

Latency ``L = stages - 1``: a beat entering at enabled edge ``k`` is on ``w_out``/``m_out``
right after enabled edge ``k + L``.  The port contract is `rtl.additive_unit._AdditiveUnit`'s.
"""

from __future__ import annotations

from functools import lru_cache

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lns.lfsr import RANDOM_BITS, WIDTH
from lns.rule import check_config
from lns.rules.lion import LionConfig

from ._common import Pipe, count_stages, word_fields
from .additive_unit import pack_signed, round_pack, word_roles
from .lfsr import LaneLFSR
from .log_adder import parallel, signed_log_add

__all__ = ["LionUpdateUnit", "lion_stages"]


def _check(cfg):
    return check_config(cfg, LionConfig, "a LionConfig")


@lru_cache(maxsize=None)
def lion_stages(cfg) -> int:
    """Register stages of one lane (latency + 1), counted by building the datapath once on
    a `Pipe` without registers."""
    _check(cfg)
    return count_stages(lambda m, pipe: _datapath(m, pipe, cfg, _inputs(cfg)))


def _inputs(cfg) -> dict:
    ins = {k: Signal(f.total_bits) for k, f in word_roles(cfg).items()}
    if cfg.is_stochastic:
        ins["r"] = Signal(unsigned(RANDOM_BITS))
    return ins


def _datapath(m, pipe: Pipe, cfg, ins: dict):
    """One lane's datapath; returns the output words ``{"w", "m"}`` after the last
    boundary."""
    p = cfg.params
    pipe.put(**ins)
    pipe.cut()                                                  # R0: the inputs
    sg, eg, zg = word_fields(pipe.get("g"), p.g)
    sm, em, zm = word_fields(pipe.get("m"), p.m)
    sw, ew, zw = word_fields(pipe.get("w"), p.w)
    g_off = p.g.offset << p.g_shift
    # sign(c): (em - m.offset + c_beta1) - ((eg << g_shift) - g_off + c_one_minus_beta1)
    # = d - K, so comparing the term codes is comparing d with K.
    # d is made here, its compares with K in the next stage (beside the weight adder's
    # |a - b|, whose sign and zero logic they feed): the subtraction, the compares and
    # the selects in one stage were lns8_lion's critical path (110 MHz on the ECP5).
    pipe.put(ma_s=sm, ma_x=em + (p.c_beta2 - p.m.offset), ma_z=zm,
             mb_s=sg, mb_x=(eg << p.g_shift) + (p.c_one_minus_beta2 - g_off), mb_z=zg,
             w_s=sw, w_x=(ew - p.w.offset) << p.guard, w_z=zw, c_d=em - (eg << p.g_shift))
    pipe.cut()
    ta = tuple(pipe.get(f"ma_{k}") for k in "sxz")
    tb = tuple(pipe.get(f"mb_{k}") for k in "sxz")
    tw = tuple(pipe.get(f"w_{k}") for k in "sxz")
    (sm, _, zm), (sg, _, zg), d = ta, tb, pipe.get("c_d")
    k = p.c_one_minus_beta1 - p.c_beta1 + p.m.offset - g_off
    m_big, equal = d > k, d == k
    c_s = Mux(zm, sg, Mux(zg, sm, Mux(m_big | equal, sm, sg)))
    c_z = Mux(zm | zg, zm & zg, equal & (sm != sg))
    step = (~c_s, p.eta_acc, c_z)
    r = pipe.get("r") if cfg.is_stochastic else None

    def moment(sub):
        s, x, z = signed_log_add(m, sub, *cfg.m_tables, ta, tb, name="ma")
        sub.put(ms_s=s, ms_x=x, ms_z=z)
        sub.cut()                                               # the sum | its packing
        sub.put(m_word=pack_signed(sub.get("ms_s"), sub.get("ms_x"), sub.get("ms_z"), p.m))
        sub.cut()
        return (sub.get("m_word"),)

    def weight(sub):
        if r is not None:
            sub.put(w_r=r)
        s, x, z = signed_log_add(m, sub, *cfg.weight_tables, tw, step, name="wa")
        rr = sub.get("w_r") if r is not None else None
        sub.put(w_out=round_pack(sub, p.w, p.guard, (s, x, z), rr, p.random_bits))
        sub.cut()                                               # the output registers
        return (sub.get("w_out"),)

    (m_word,), (w_out,) = parallel(pipe, [moment, weight])
    return {"w": w_out, "m": m_word}


class LionUpdateUnit(wiring.Component):
    """One lane of the LNS Lion update (`lns.rules.lion.lion_update`); no handshake of its own:
    ``en`` advances every register, ``accept`` the LFSR.

    Parameters
    ----------
    cfg : lns.rules.lion.LionConfig
    lfsr_init : int
        The lane LFSR's value after reset (stochastic rounding only).

    Ports
    -----
    en, accept : In(1)
    w, g, m : In(word widths)
    lfsr_seed : In(32), lfsr_load : In(1)   stochastic rounding only
    w_out, m_out : Out(word widths), the beat that entered ``stages - 1`` enabled edges
    earlier
    """

    @staticmethod
    def stages_of(cfg) -> int:
        return lion_stages(cfg)

    @staticmethod
    def sidecar_extra(cfg) -> dict:
        """What this rule adds to the sidecar (`rtl.design.sidecar`): the rule's name."""
        return {"optimizer": str(cfg.optimizer)}

    def __init__(self, cfg, lfsr_init: int = 1):
        _check(cfg)
        self.cfg = cfg
        self.lfsr_init = lfsr_init
        self.stages = lion_stages(cfg)
        words = word_roles(cfg)
        ports = {"en": In(1), "accept": In(1)}
        ports.update({k: In(f.total_bits) for k, f in words.items()})
        ports.update({f"{k}_out": Out(f.total_bits) for k, f in words.items() if k != "g"})
        if cfg.is_stochastic:
            ports["lfsr_seed"] = In(unsigned(WIDTH))
            ports["lfsr_load"] = In(1)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        ins = {k: getattr(self, k) for k in word_roles(cfg)}
        if cfg.is_stochastic:
            m.submodules.lfsr = lfsr = LaneLFSR(self.lfsr_init)
            m.d.comb += [lfsr.seed.eq(self.lfsr_seed), lfsr.load.eq(self.lfsr_load),
                         lfsr.advance.eq(self.accept)]
            ins["r"] = lfsr.r
        assert RANDOM_BITS == cfg.params.random_bits
        pipe = Pipe(m, self.en)
        out = _datapath(m, pipe, cfg, ins)
        m.d.comb += [getattr(self, f"{k}_out").eq(v) for k, v in out.items()]
        assert pipe.stage == self.stages, (pipe.stage, self.stages)
        return m
