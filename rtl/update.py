"""The update's arithmetic around the tables, one component per step of
`lns.rules.madam_update._update_kernel`:

`SecondMoment`  step 1: ``v' = beta v + (1 - beta) g**2`` through `LogAdder`, then the
                moment's saturating / flushing pack.  Only built with a second moment
                (``cfg.has_second_moment``, the rms normaliser).
`Normaliser`    step 2: ``L = min(RNE(((X_g << gs) - ((X_v' - X_bc) << vs)) / 2**nr), l_bound)``,
                ``l_bound`` when ``v'`` is zero.
`WeightUpdate`  step 4: ``X_w' = clamp(X_w -+ Delta, x_min, X_clip)``, no step for a zero
                gradient, zero weights pass through as the word 0.

All widths follow from the formats; every constant is read from ``cfg.params``.  As in
`log_adder`, the arithmetic is written once (`second_moment`, `normaliser_prep` +
`normaliser_bound` + `normaliser`, `weight_update`) on a `Pipe`: combinational in the
components, with register stages in the unit.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ._common import Pipe, range_shape, rne_above, rne_shift, shape_range, word_fields
from .log_adder import log_add

__all__ = ["SecondMoment", "Normaliser", "WeightUpdate", "pack_moment", "second_moment",
           "normaliser_prep", "normaliser_bound", "normaliser", "weight_update", "l_shape"]


def pack_moment(m, x, zero, vp, out):
    """`lns.word.pack` of an unsigned moment word: saturate above, flush or saturate
    below; ``zero`` gives the word 0."""
    with m.If(zero):
        m.d.comb += out.eq(0)
    with m.Elif(x > vp.x_max):
        m.d.comb += out.eq(vp.x_max + vp.offset)
    with m.Elif(x < vp.x_min):
        m.d.comb += out.eq(0 if vp.flush else vp.x_min + vp.offset)
    with m.Else():
        m.d.comb += out.eq(x + vp.offset)


def second_moment(m, pipe: Pipe, cfg, g, v):
    """The moment word ``v'`` from the words ``g`` and ``v`` (boundaries: operands | the
    adder's own | pack)."""
    p = cfg.params
    _, eg, zg = word_fields(g, p.g)
    _, ev, zv = word_fields(v, p.v)
    # a = X_v + c_beta, b = (X_g << g2_shift) + c_one_minus_beta, offsets folded in
    a = ev + (p.c_beta - p.v.offset)
    b = (eg << p.g2_shift) + (p.c_one_minus_beta - (p.g.offset << p.g2_shift))
    pipe.put(sm_a=a, sm_b=b, sm_za=zv, sm_zb=zg)
    pipe.cut()
    x, zero = log_add(m, pipe, cfg.sb_table, pipe.get("sm_a"), pipe.get("sm_b"),
                      pipe.get("sm_za"), pipe.get("sm_zb"))
    pipe.put(sm_x=x, sm_zero=zero)
    pipe.cut()
    out = Signal(cfg.moment.total_bits, name="v_packed")
    pack_moment(m, pipe.get("sm_x"), pipe.get("sm_zero"), p.v, out)
    return out


def normaliser_prep(pipe: Pipe, cfg, g, x_bc):
    """The part of ``num`` known from the inputs: ``(X_g << gs) + ((X_bc + offset_v) << vs)``
    (so that ``num = k - (e_v' << vs)`` is one subtraction once ``v'`` exists)."""
    p = cfg.params
    _, eg, _ = word_fields(g, p.g)
    pipe.put(nm_k=((eg - p.g.offset) << p.norm_g_shift)
             + ((x_bc + p.v.offset) << p.norm_v_shift))


def normaliser_bound(pipe: Pipe, cfg):
    """``k - t`` (``t = rne_above(norm_round, l_bound)``) from `normaliser_prep`'s ``k``, in
    a stage after it and before `normaliser`'s: ``num >= t`` (``L`` clamps to ``l_bound``)
    is then the sign of ``(k - t) - (e_v' << vs)``, a subtraction beside ``num``'s own.
    The compare on ``num`` after it was lns16's critical path (101 MHz on the ECP5), in
    the stage that also addresses the exp2 block RAM with ``L``."""
    p = cfg.params
    pipe.put(nm_kt=pipe.get("nm_k") - rne_above(p.norm_round, p.l_bound))


def l_shape(cfg, xbc_shape):
    """Shape of ``L``: from the most negative value (the smallest gradient over the largest
    moment and the most negative bias correction the port can carry) to ``l_bound``."""
    p = cfg.params
    n_lo = (-p.g.offset << p.norm_g_shift) - (
        ((1 << p.v.log_bits) - 1 - p.v.offset - shape_range(xbc_shape)[0]) << p.norm_v_shift)
    l_lo = n_lo >> p.norm_round if p.norm_round > 0 else n_lo << -p.norm_round
    # at least one bit (a signed one) even where L can only be 0: no zero-width signal
    return range_shape(min(l_lo, p.l_bound, -1), max(p.l_bound, 0))


def normaliser(m, pipe: Pipe, cfg, v, l_shape):
    """``L`` from the new moment word ``v`` and the values of `normaliser_prep` and
    `normaliser_bound` (one boundary: num and its clamp | round + select)."""
    p = cfg.params
    _, ev, zv = word_fields(v, p.v)
    evs = ev << p.norm_v_shift
    over = pipe.get("nm_kt") - evs
    pipe.put(nm_num=pipe.get("nm_k") - evs, nm_zv=zv, nm_over=~over[len(over) - 1])
    pipe.cut()
    lv = rne_shift(pipe.get("nm_num"), p.norm_round)
    l = Signal(l_shape, name="l_norm")
    # RNE(num >> norm_round) > l_bound was decided on num, in the stage before
    m.d.comb += l.eq(Mux(pipe.get("nm_zv") | pipe.get("nm_over"), p.l_bound, lv))
    return l


def weight_update(m, pipe: Pipe, cfg, w, g_sign, g_zero, delta, clip):
    """The new weight word (one boundary: X_w -+ Delta | clamps)."""
    wp = cfg.params.w
    sw, ew, zw = word_fields(w, wp)
    # Work on the biased field e = X + offset: the clamps X_clip = clip - offset and
    # x_min = e_min - offset move by the same offset, so no subtractor is needed.
    step = Mux(g_zero, 0, delta)
    e_min = wp.x_min + wp.offset
    pipe.put(wu_en=Mux(sw == g_sign, ew - step, ew + step), wu_sw=sw, wu_zw=zw,
             wu_clip=clip, wu_clip_low=clip < e_min)
    pipe.cut()
    en, clip = pipe.get("wu_en"), pipe.get("wu_clip")
    # Same result as the kernel's order (the clip first, then the floor: the floor wins
    # when a clip field lies below it), with both compares on en side by side.  The result
    # is inside [x_min, x_max], so the word's own saturation never acts.
    floored = Mux(en > clip, Mux(pipe.get("wu_clip_low"), e_min, clip),
                  Mux(en < e_min, e_min, en))
    word = floored[:wp.log_bits] | (pipe.get("wu_sw") << wp.log_bits)
    return Mux(pipe.get("wu_zw"), 0, word)


class SecondMoment(wiring.Component):
    """Second-moment word ``v'`` from the gradient and moment words.

    Ports
    -----
    g : In(grad.total_bits); v : In(moment.total_bits)
    v_out : Out(moment.total_bits)
    """

    def __init__(self, cfg):
        if not cfg.has_second_moment:
            raise ValueError(f"the second-moment path needs normaliser 'rms', "
                             f"not {cfg.normaliser!r}")
        self.cfg = cfg
        super().__init__({"g": In(cfg.grad.total_bits), "v": In(cfg.moment.total_bits),
                          "v_out": Out(cfg.moment.total_bits)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.v_out.eq(second_moment(m, Pipe(m), self.cfg, self.g, self.v))
        return m


class Normaliser(wiring.Component):
    """``L``, the clamped ``log2|g_hat|`` in ``step_frac_bits`` fractional bits.

    Parameters
    ----------
    cfg : lns.MadamConfig (normaliser "rms")
    xbc_shape : Shape of the bias-correction input.

    Ports
    -----
    g : In(grad.total_bits); v : In(moment.total_bits) (the new moment ``v'``)
    x_bc : In(xbc_shape)
    l : Out(signed)   (meaningless for a zero gradient, where no step is taken)
    """

    def __init__(self, cfg, xbc_shape):
        self.cfg = cfg
        super().__init__({"g": In(cfg.grad.total_bits), "v": In(cfg.moment.total_bits),
                          "x_bc": In(xbc_shape), "l": Out(l_shape(cfg, xbc_shape))})

    def elaborate(self, platform):
        m = Module()
        pipe = Pipe(m)
        normaliser_prep(pipe, self.cfg, self.g, self.x_bc)
        normaliser_bound(pipe, self.cfg)
        m.d.comb += self.l.eq(normaliser(m, pipe, self.cfg, self.v, self.l.shape()))
        return m


class WeightUpdate(wiring.Component):
    """The new weight word.

    Ports
    -----
    w : In(weight.total_bits); g_sign, g_zero : In(1)
    delta : In(delta_shape)   the step in weight LSBs
    clip : In(weight.log_bits)   log field of the upper clip sigma*
    w_out : Out(weight.total_bits)
    """

    def __init__(self, cfg, delta_shape):
        self.cfg = cfg
        super().__init__({"w": In(cfg.weight.total_bits), "g_sign": In(1), "g_zero": In(1),
                          "delta": In(delta_shape), "clip": In(unsigned(cfg.weight.log_bits)),
                          "w_out": Out(cfg.weight.total_bits)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.w_out.eq(weight_update(m, Pipe(m), self.cfg, self.w, self.g_sign,
                                                self.g_zero, self.delta, self.clip))
        return m
