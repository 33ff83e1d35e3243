"""The log-to-linear step: ``Delta = round(2**(L / 2**Fs + eta_shift))`` in weight LSBs.

Reproduces step 3 of `lns.update._update_kernel`::

    E = L + (eta_shift << Fs);  q = E >> Fs;  P = exp_table[E & (2**Fs - 1)]
    s = min(exp_bits - q, shift_cap)
    Delta = round_shift_rne(P, s)                      # nearest_even
          = round_shift_stochastic(P, s, r, rbits)     # stochastic

For ``0 <= s <= shift_cap`` both roundings are formed from one aligned word
``Pext = (P << shift_cap) >> s`` (exact: ``P / 2**s`` with ``shift_cap`` fraction bits):
nearest-even looks at its fraction, stochastic adds ``r`` at weight ``2**-rbits`` and
truncates (``floor(P / 2**s + r / 2**rbits)``, the same integer as the kernel's two-branch
shift).  ``s < 0`` (only possible when ``l_max`` allows ``q > exp_bits``) is the exact left
shift ``P << -s``; that path is built only when it can occur.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Shape, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ._common import range_shape, rom_read

__all__ = ["ExpStep"]


class ExpStep(wiring.Component):
    """``Delta`` from the clamped ``log2|g_hat|`` code ``L`` (and the random bits ``r``).

    Parameters
    ----------
    cfg : lns.MadamConfig
    l_shape : Shape
        Shape of ``L`` (signed).
    l_max : int
        The largest ``L`` the datapath can present (``params.l_bound`` for ``rms``, 0 for
        ``sign``): it decides whether the left-shift path exists and the width of ``delta``.

    Ports
    -----
    l : In(l_shape)
    r : In(unsigned(random_bits))   only with ``rounding == "stochastic"``
    delta : Out(unsigned)
    """

    def __init__(self, cfg, l_shape, l_max: int):
        self.cfg = cfg
        p = cfg.params
        self.l_max = int(l_max)
        fs = p.step_frac_bits
        q_max = (self.l_max + (p.eta_shift << fs)) >> fs
        self.s_min = p.exp_bits - q_max
        p_max = int(max(cfg.exp_table))
        left = max(0, -self.s_min)
        delta_max = max((p_max << left), p_max + 1)
        ports = {"l": In(l_shape), "delta": Out(range_shape(0, delta_max))}
        if p.stochastic:
            ports["r"] = In(unsigned(p.random_bits))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        p = self.cfg.params
        fs, cap, rb = p.step_frac_bits, p.shift_cap, p.random_bits
        assert cap >= rb, "the aligned word needs shift_cap >= random_bits"
        e = self.l + (p.eta_shift << fs)
        q = e >> fs
        if fs:
            (pv,) = rom_read(m, "exp2", self.cfg.exp_table, e[:fs])
        else:
            pv = Const(int(self.cfg.exp_table[0]))
        s = p.exp_bits - q
        s_bits = Shape.cast(range(cap + 1)).width
        s_right = Mux(s > cap, cap, Mux(s < 0, 0, s))[:s_bits]
        pext = (pv << cap) >> s_right                  # P / 2**s with cap fraction bits
        if p.stochastic:
            d_right = (pext + (self.r << (cap - rb))) >> cap
        else:
            whole = pext >> cap
            frac = pext[:cap]
            half = 1 << (cap - 1)
            d_right = whole + ((frac > half) | ((frac == half) & whole[0]))
        if self.s_min < 0:
            l_bits = Shape.cast(range(-self.s_min + 1)).width
            d_left = pv << (-s)[:l_bits]
            m.d.comb += self.delta.eq(Mux(s < 0, d_left, d_right))
        else:
            m.d.comb += self.delta.eq(d_right)
        return m
