"""The pipelined additive updates: `AdamUpdateUnit` and `SGDUpdateUnit` (one lane each) and
`AdditiveUpdateArray` (``lanes`` units behind one valid/ready handshake, the top module).

They reproduce `lns.rules.adam._adam_kernel` and `lns.rules.sgd._sgd_kernel` bit for bit.
Every constant comes from ``cfg.params`` (`lns.rules.adam.AdamParams`,
`lns.rules.sgd.SGDParams`), every ROM from the configuration's tables (``cfg.m_tables``,
``cfg.v_table``, ``cfg.weight_tables``), the random bits from `lns.lfsr` through
`LaneLFSR`; the roundings mirror `lns.rounding` (`rne_shift`, `stochastic_shift`).

Pipeline (register stages; every register loads when the global enable ``en`` is high)::

    R0  inputs (+ r)
    S1  unpack; moment adder operands (offsets and constants folded), X_w << guard
        | m' = signed_log_add(m-term, g-term) (sb/db of Fm)  beside
          v' = log_add(v-term, g**2-term) (sb of Fv, Adam only)
          (|a - b| | look-ups, 4 stages interp, 1 direct | big + f)
        | pack m' (and v'); X_bc1, X_bc2 with the offsets
    Adam: | (X_m' - X_bc1) << m_shift, (X_v' - X_bc2) << v_shift, dv < x_eps
          | num = nm - x_eps if v' = 0 or dv < x_eps, else nm - dv
          | L = RNE(num, step_round) + eta_acc
    SGD:  | L = RNE(X_m' << m_shift, step_round) + eta_acc
        | w - step = signed_log_add((s_w, X_w << guard), (~s_m', L)) (sb/db of Fa)
          (|a - b| | look-ups | big + f; a block RAM's address with |a - b|)
        | one rounding to Fw (RNE or stochastic), the range compares beside it
        | pack the weight word -> out registers

Latency ``L = stages - 1``: a beat accepted at edge ``k`` is on ``out_valid``/``out_w``/
``out_m``/``out_v`` right after edge ``k + L`` when ``out_ready`` stays high.  The
handshake, the lane layout and the LFSR seeding are `rtl.unit.MadamUpdateArray`'s.
"""

from __future__ import annotations

from functools import lru_cache

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lns.errors import InvalidType
from lns.lfsr import RANDOM_BITS, WIDTH
from lns.optimizers import Optimizer

from ._common import Pipe, count_stages, range_shape, rne_shift, shr, word_fields
from .array import UpdateArray
from .lfsr import LaneLFSR
from .log_adder import log_add, parallel, signed_log_add

__all__ = ["AdamUpdateUnit", "SGDUpdateUnit", "AdditiveUpdateArray", "additive_stages",
           "xbc_shapes", "stochastic_shift", "pack_signed", "round_pack", "word_roles"]


def _rule(cfg) -> Optimizer:
    from lns.rules.additive import AdditiveConfigMixin
    if not isinstance(cfg, AdditiveConfigMixin):
        raise InvalidType(f"cfg must be an AdamConfig or SGDConfig, not {type(cfg).__name__}")
    return cfg.optimizer


def word_roles(cfg) -> dict:
    """``{"w": fmt, "g": fmt, "m": fmt[, "v": fmt]}``: the words of one element."""
    return cfg.word_formats


def xbc_shapes(cfg) -> dict:
    """The shapes of the held ports (`lns.rule.Rule.HELD`, every value of ``t >= 1``,
    `lns.rule.Rule.held_range`): Adam's ``x_bc1`` and ``x_bc2``; SGD and Lion none."""
    _rule(cfg)
    return {port: range_shape(*cfg.held_range(port)) for port in cfg.HELD}


def stochastic_shift(x, s: int, r, rbits: int):
    """`lns.rounding.round_shift_stochastic` for a constant ``s``: the same expression."""
    return shr(shr(x << max(rbits - s, 0), max(s - rbits, 0)) + r, rbits)


def pack_signed(sign, x, zero, fp):
    """`lns.word.pack` of ``(sign, X)`` in format ``fp`` (saturate above, the underflow
    policy below); ``zero`` gives the zero word (every additive format has a zero code)."""
    flushed = (x < fp.x_min) if fp.flush else 0
    e = Mux(x > fp.x_max, fp.x_max + fp.offset,
            Mux(x < fp.x_min, fp.x_min + fp.offset, x + fp.offset))[:fp.log_bits]
    word = Cat(e, sign) if fp.signed else e
    return Mux(zero | flushed, 0, word)


def round_pack(pipe: Pipe, fp, guard: int, term, r=None, rbits: int = 0, name: str = "wr"):
    """The sum ``term = (sign, X, is_zero)`` (``X`` with ``guard`` fraction bits, values of
    the current stage) rounded once to the format ``fp`` (nearest even, or stochastic with
    the ``rbits`` random bits ``r`` of the current stage) and packed: `pack_signed` of the
    rounded ``X``, built on ``pipe``.  Boundaries: X | rounding | packing; returns the word
    of the stage it ends in.

    Both roundings are ``xr = (X >> guard) + inc``, ``inc`` a function of ``X``'s low
    ``guard`` bits (and ``X >> guard``'s LSB, or ``r``): nearest even rounds up above half
    and at half to even; stochastic carries out of the fraction plus the random bits
    (`stochastic_shift`: the random bits below ``X``'s LSB add no carry there).  So the
    range compares of the packing are decided in the rounding's stage on ``xh = X >>
    guard``, beside the increment: ``xr > x_max`` is ``xh > x_max | inc & (xh == x_max)``,
    ``xr < x_min`` is ``xh < x_min - 1 | ~inc & (xh == x_min - 1)``.  The packing's stage
    is left with the selects: the compares on ``xr`` in it were the critical path of the
    12- and 16-bit Adam and SGD units on the ECP5 (112 and 105 MHz).
    """
    sign, x, zero = term
    lo, hi = fp.x_min, fp.x_max
    pipe.put(**{f"{name}_s": sign, f"{name}_x": x, f"{name}_z": zero})
    if r is not None:
        a = max(rbits - guard, 0)                   # the random bits below X's LSB
        rbits -= a
        pipe.put(**{f"{name}_r": shr(r, a)})
    pipe.cut()
    x = pipe.get(f"{name}_x")
    xh, frac = shr(x, guard), x[:guard]
    if r is not None:
        # stochastic_shift(x, guard, r, rbits): the carry of frac's top rbits plus r (the
        # low guard - rbits bits of frac are floored away first)
        inc = shr(frac[guard - rbits:] + pipe.get(f"{name}_r"), rbits)[0] if rbits else \
            Const(0, 1)
    elif guard:
        half = 1 << (guard - 1)
        inc = (frac > half) | ((frac == half) & xh[0])       # rne_shift
    else:
        inc = Const(0, 1)
    pipe.put(**{f"{name}_xr": xh + inc,
                f"{name}_over": (xh > hi) | (inc & (xh == hi)),
                f"{name}_under": (xh < lo - 1) | (~inc & (xh == lo - 1))})
    pipe.cut()
    over, under = pipe.get(f"{name}_over"), pipe.get(f"{name}_under")
    xr = pipe.get(f"{name}_xr")
    # pack_signed with the compares done: (xr + offset) mod 2**log_bits from xr's low bits
    e = Mux(over, hi + fp.offset, Mux(under, lo + fp.offset,
                                      (xr[:fp.log_bits] + fp.offset)[:fp.log_bits]))
    word = Cat(e, pipe.get(f"{name}_s")) if fp.signed else e
    return Mux(pipe.get(f"{name}_z") | (under if fp.flush else 0), 0, word)


@lru_cache(maxsize=None)
def additive_stages(cfg) -> int:
    """Register stages of one lane (latency + 1), counted by building the datapath once on
    a `Pipe` without registers."""
    return count_stages(lambda m, pipe: _datapath(m, pipe, cfg, _inputs(cfg)))


def _inputs(cfg) -> dict:
    ins = {k: Signal(f.total_bits) for k, f in word_roles(cfg).items()}
    ins.update({k: Signal(s) for k, s in xbc_shapes(cfg).items()})
    if cfg.is_stochastic:
        ins["r"] = Signal(unsigned(RANDOM_BITS))
    return ins


def _datapath(m, pipe: Pipe, cfg, ins: dict):
    """One lane's datapath; returns the output words ``{"w", "m"[, "v"]}`` after the last
    boundary."""
    p = cfg.params
    adam = _rule(cfg) is Optimizer.ADAM
    pipe.put(**ins)
    pipe.cut()                                                  # R0: the inputs
    sg, eg, zg = word_fields(pipe.get("g"), p.g)
    sm, em, zm = word_fields(pipe.get("m"), p.m)
    sw, ew, zw = word_fields(pipe.get("w"), p.w)
    c_m, c_g = (p.c_beta1, p.c_one_minus_beta1) if adam else (p.c_mu, 0)
    pipe.put(ma_s=sm, ma_x=em + (c_m - p.m.offset), ma_z=zm,
             mb_s=sg, mb_x=(eg << p.g_shift) + (c_g - (p.g.offset << p.g_shift)), mb_z=zg,
             w_s=sw, w_x=(ew - p.w.offset) << p.guard, w_z=zw)
    if adam:
        _, ev, zv = word_fields(pipe.get("v"), p.v)
        pipe.put(va_x=ev + (p.c_beta2 - p.v.offset), va_z=zv,
                 vb_x=(eg << p.g2_shift) + (p.c_one_minus_beta2 - (p.g.offset << p.g2_shift)))
    pipe.cut()
    ta = tuple(pipe.get(f"ma_{k}") for k in "sxz")
    tb = tuple(pipe.get(f"mb_{k}") for k in "sxz")
    builders = [lambda sub: signed_log_add(m, sub, *cfg.m_tables, ta, tb, name="ma")]
    if adam:
        va, vz, vb, vbz = (pipe.get(k) for k in ("va_x", "va_z", "vb_x", "mb_z"))
        builders.append(lambda sub: log_add(m, sub, cfg.v_table, va, vb, vz, vbz, name="va"))
    sums = parallel(pipe, builders)
    pipe.put(**dict(zip(("ms_s", "ms_x", "ms_z"), sums[0])))
    if adam:
        pipe.put(**dict(zip(("vs_x", "vs_z"), sums[1])))
    pipe.cut()                                                  # the sums | their packing
    words = {"m_word": pack_signed(pipe.get("ms_s"), pipe.get("ms_x"), pipe.get("ms_z"), p.m)}
    if adam:
        words["v_word"] = pack_signed(0, pipe.get("vs_x"), pipe.get("vs_z"), p.v)
        # the bias corrections with the offsets (and dv's floor x_eps, below) folded in,
        # beside the packing: the next stage then subtracts once and compares once, side by
        # side (the offset, the correction and the compare in series there were lns8_adam's
        # and lns12_adam's critical path: 98 MHz on the ECP5)
        bc2 = pipe.get("x_bc2") + p.v.offset
        words.update(st_bc1=pipe.get("x_bc1") + p.m.offset, st_bc2=bc2,
                     st_bc2e=bc2 - (-p.x_eps >> p.v_shift))
    pipe.put(**words)
    pipe.cut()                                                  # the new moment words
    s3, em3, zm3 = word_fields(pipe.get("m_word"), p.m)
    pipe.put(st_s=s3, st_z=zm3)
    if adam:
        _, ev3, zv3 = word_fields(pipe.get("v_word"), p.v)
        # dv < x_eps is (X_v' - X_bc2) < ceil(x_eps / 2**v_shift), i.e. e_v' < st_bc2e
        pipe.put(st_nm=(em3 - pipe.get("st_bc1")) << p.m_shift,
                 st_dv=(ev3 - pipe.get("st_bc2")) << p.v_shift,
                 st_zv=zv3 | (ev3 < pipe.get("st_bc2e")))
        pipe.cut()
        # num = nm - max(dv, x_eps) (x_eps when v' = 0): both differences, then one select.
        # Subtracting the selected den after the compare was lns8_adam's critical path (96
        # MHz on the ECP5, median of 5 seeds), and the compare on dv before the select
        # that of lns8_adam and lns12_adam (109 and 112 MHz, seed 1).
        nm, dv = pipe.get("st_nm"), pipe.get("st_dv")
        pipe.put(st_num=Mux(pipe.get("st_zv"), nm - p.x_eps, nm - dv))
        pipe.cut()
        pipe.put(st_l=rne_shift(pipe.get("st_num"), p.step_round) + p.eta_acc)
    else:
        pipe.put(st_l=rne_shift((em3 - p.m.offset) << p.m_shift, p.step_round) + p.eta_acc)
    pipe.cut()                                                  # L: the step's log at Fa
    s, x, z = signed_log_add(
        m, pipe, *cfg.weight_tables,
        (pipe.get("w_s"), pipe.get("w_x"), pipe.get("w_z")),
        (~pipe.get("st_s"), pipe.get("st_l"), pipe.get("st_z")), name="wa")
    r = pipe.get("r") if cfg.is_stochastic else None
    pipe.put(w_out=round_pack(pipe, p.w, p.guard, (s, x, z), r, p.random_bits))
    pipe.cut()                                                  # the output registers
    out = {"w": pipe.get("w_out"), "m": pipe.get("m_word")}
    if adam:
        out["v"] = pipe.get("v_word")
    return out


class _AdditiveUnit(wiring.Component):
    """One lane of an additive update (no handshake of its own: ``en`` advances every
    register, ``accept`` the LFSR).

    Ports
    -----
    en, accept : In(1)
    w, g, m[, v] : In(word widths); x_bc1, x_bc2 : In (Adam only)
    lfsr_seed : In(32), lfsr_load : In(1)   stochastic rounding only
    w_out, m_out[, v_out] : Out(word widths), the beat that entered ``stages - 1`` enabled
    edges earlier
    """

    RULE: Optimizer

    @staticmethod
    def stages_of(cfg) -> int:
        return additive_stages(cfg)

    @staticmethod
    def sidecar_extra(cfg) -> dict:
        """What this rule adds to the sidecar (`rtl.design.sidecar`): the rule's name."""
        return {"optimizer": str(cfg.optimizer)}

    def __init__(self, cfg, lfsr_init: int = 1):
        if _rule(cfg) is not self.RULE:
            raise InvalidType(f"{type(self).__name__} needs a {self.RULE} configuration, "
                              f"not {type(cfg).__name__}")
        self.cfg = cfg
        self.lfsr_init = lfsr_init
        self.stages = additive_stages(cfg)
        words = word_roles(cfg)
        ports = {"en": In(1), "accept": In(1)}
        ports.update({k: In(f.total_bits) for k, f in words.items()})
        ports.update({k: In(s) for k, s in xbc_shapes(cfg).items()})
        ports.update({f"{k}_out": Out(f.total_bits) for k, f in words.items() if k != "g"})
        if cfg.is_stochastic:
            ports["lfsr_seed"] = In(unsigned(WIDTH))
            ports["lfsr_load"] = In(1)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        ins = {k: getattr(self, k) for k in word_roles(cfg)}
        ins.update({k: getattr(self, k) for k in xbc_shapes(cfg)})
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


class AdamUpdateUnit(_AdditiveUnit):
    """One lane of the LNS Adam update (`lns.adam_update`)."""
    RULE = Optimizer.ADAM


class SGDUpdateUnit(_AdditiveUnit):
    """One lane of the LNS SGD-with-momentum update (`lns.sgd_update`)."""
    RULE = Optimizer.SGD


# The one array (`rtl.array.UpdateArray`) under the name it had before the other rules.
AdditiveUpdateArray = UpdateArray
