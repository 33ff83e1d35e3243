"""The update's arithmetic around the tables, one component per step of
`lns.update._update_kernel`:

`SecondMoment`  step 1: ``v' = beta v + (1 - beta) g**2`` through `LogAdder`, then the
                moment's saturating / flushing pack.  Only built for ``normaliser == "rms"``.
`Normaliser`    step 2: ``L = min(RNE(((X_g << gs) - ((X_v' - X_bc) << vs)) / 2**nr), l_bound)``,
                ``l_bound`` when ``v'`` is zero.
`WeightUpdate`  step 4: ``X_w' = clamp(X_w -+ Delta, x_min, X_clip)``, no step for a zero
                gradient, zero weights pass through as the word 0.

All widths follow from the formats; every constant is read from ``cfg.params``.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ._common import range_shape, rne_shift, shape_range, word_fields
from .log_adder import LogAdder

__all__ = ["SecondMoment", "Normaliser", "WeightUpdate", "pack_moment"]


def pack_moment(m, x, zero, vp, out):
    """`lns.kernels.pack` of an unsigned moment word: saturate above, flush or saturate
    below; ``zero`` gives the word 0."""
    with m.If(zero):
        m.d.comb += out.eq(0)
    with m.Elif(x > vp.x_max):
        m.d.comb += out.eq(vp.x_max + vp.offset)
    with m.Elif(x < vp.x_min):
        m.d.comb += out.eq(0 if vp.flush else vp.x_min + vp.offset)
    with m.Else():
        m.d.comb += out.eq(x + vp.offset)


class SecondMoment(wiring.Component):
    """Second-moment word ``v'`` from the gradient and moment words.

    Ports
    -----
    g : In(grad.total_bits); v : In(moment.total_bits)
    v_out : Out(moment.total_bits)
    """

    def __init__(self, cfg):
        if cfg.normaliser != "rms":
            raise ValueError(f"the second-moment path needs normaliser 'rms', not {cfg.normaliser!r}")
        self.cfg = cfg
        super().__init__({"g": In(cfg.grad.total_bits), "v": In(cfg.moment.total_bits),
                          "v_out": Out(cfg.moment.total_bits)})

    def elaborate(self, platform):
        m = Module()
        p = self.cfg.params
        _, eg, zg = word_fields(self.g, p.g)
        _, ev, zv = word_fields(self.v, p.v)
        a = (ev - p.v.offset) + p.c_beta
        b = ((eg - p.g.offset) << p.g2_shift) + p.c_one_minus_beta
        m.submodules.adder = adder = LogAdder(self.cfg.sb_table, a.shape(), b.shape())
        m.d.comb += [adder.a.eq(a), adder.b.eq(b), adder.a_zero.eq(zv), adder.b_zero.eq(zg)]
        pack_moment(m, adder.x, adder.zero, p.v, self.v_out)
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
        p = cfg.params
        # The most negative L: the smallest gradient over the largest moment and the
        # most negative bias correction the port can carry.
        n_lo = (-p.g.offset << p.norm_g_shift) - (
            ((1 << p.v.log_bits) - 1 - p.v.offset - shape_range(xbc_shape)[0]) << p.norm_v_shift)
        l_lo = n_lo >> p.norm_round if p.norm_round > 0 else n_lo << -p.norm_round
        super().__init__({"g": In(cfg.grad.total_bits), "v": In(cfg.moment.total_bits),
                          "x_bc": In(xbc_shape),
                          "l": Out(range_shape(min(l_lo, p.l_bound, 0), max(p.l_bound, 0)))})

    def elaborate(self, platform):
        m = Module()
        p = self.cfg.params
        _, eg, _ = word_fields(self.g, p.g)
        _, ev, zv = word_fields(self.v, p.v)
        xg = eg - p.g.offset
        xv = ev - p.v.offset
        num = (xg << p.norm_g_shift) - ((xv - self.x_bc) << p.norm_v_shift)
        lv = rne_shift(num, p.norm_round)
        with m.If(zv | (lv > p.l_bound)):
            m.d.comb += self.l.eq(p.l_bound)
        with m.Else():
            m.d.comb += self.l.eq(lv)
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
        wp = self.cfg.params.w
        sw, ew, zw = word_fields(self.w, wp)
        # Work on the biased field e = X + offset: the clamps X_clip = clip - offset and
        # x_min = e_min - offset move by the same offset, so no subtractor is needed.
        step = Mux(self.g_zero, 0, self.delta)
        en = Mux(sw == self.g_sign, ew - step, ew + step)
        e_min = wp.x_min + wp.offset
        # Same order as the kernel: the clip first, then the floor (the floor wins when a
        # clip field lies below it).  The result is inside [x_min, x_max], so the word's
        # own saturation never acts.
        clipped = Mux(en > self.clip, self.clip, en)
        floored = Mux(clipped < e_min, e_min, clipped)
        with m.If(zw):
            m.d.comb += self.w_out.eq(0)
        with m.Else():
            m.d.comb += self.w_out.eq(floored[:wp.log_bits] | (sw << wp.log_bits))
        return m

