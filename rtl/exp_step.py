"""The log-to-linear step: ``Delta = round(2**(L / 2**Fs + eta_shift))`` in weight LSBs.

Reproduces step 3 of `lns.rules.madam_update._update_kernel`::

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

The arithmetic is written once (`exp_step`) on a `Pipe`: combinational in the component,
with three register boundaries in the unit (L | ROM + shift amount | alignment shift +
round-up decision | increment).  ``E & (2**Fs - 1) = L & (2**Fs - 1)`` and
``q = (L >> Fs) + eta_shift``: the constant never needs an adder.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Shape, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ._common import Pipe, in_block_ram, range_shape, rom_read, shr

__all__ = ["ExpStep", "exp_step"]


def _limits(cfg, l_max):
    p = cfg.params
    fs = p.step_frac_bits
    q_max = (int(l_max) + (p.eta_shift << fs)) >> fs
    s_min = p.exp_bits - q_max
    p_max = int(max(cfg.exp_table))
    left = max(0, -s_min)
    return s_min, max((p_max << left), p_max + 1)


def exp_step(m, pipe: Pipe, cfg, l, r, l_max: int):
    """``Delta`` from ``L`` (and the random bits ``r``, stochastic only), built on ``pipe``;
    ``L`` and ``r`` are values of the current stage (the one that computes ``L``).

    Boundaries: L | ROM + shift amount | alignment + round-up decision | increment.  A
    ``2**frac`` ROM in block RAM (`in_block_ram`: lns16's 256 words) is addressed in L's
    stage, so that its slow data (5.8 ns after the clock on the ECP5) cross the next stage
    straight into registers instead of into the alignment shifter."""
    p = cfg.params
    fs, cap, rb = p.step_frac_bits, p.shift_cap, p.random_bits
    assert cap >= rb, "the aligned word needs shift_cap >= random_bits"
    s_min, _ = _limits(cfg, l_max)
    early = bool(fs) and in_block_ram(cfg.exp_table)
    if early:
        (pv,) = rom_read(m, "exp2", cfg.exp_table, l[:fs])
        pipe.put(ex_p=pv)
    if cfg.is_stochastic:
        pipe.put(ex_r=r)
    pipe.put(ex_l=l)
    pipe.cut()
    l = pipe.get("ex_l")
    if not early:
        if fs:
            (pv,) = rom_read(m, "exp2", cfg.exp_table, l[:fs])
        else:
            pv = Const(int(cfg.exp_table[0]))
        pipe.put(ex_p=pv)
    # s = exp_bits - q = c - (L >> Fs), clamped to [0, cap]: the two clamps compare L's
    # integer part with constants beside the subtraction (not s after it), and the
    # subtraction keeps only the bits a clamped s has.  L -> s -> clamp was the critical
    # path of lns8 and lns12 (114 and 106 MHz on the ECP5, seed 1; lns12 118 after it).
    lq = shr(l, fs)
    c = p.exp_bits - p.eta_shift
    s_bits = Shape.cast(range(cap + 1)).width
    s_neg = lq > c
    pipe.put(ex_s=Mux(lq < c - cap, cap, Mux(s_neg, 0, (c - lq)[:s_bits])))
    if s_min < 0:
        l_bits = Shape.cast(range(-s_min + 1)).width
        pipe.put(ex_neg=s_neg, ex_left=(lq - c)[:l_bits])
    pipe.cut()
    pv = pipe.get("ex_p")
    # P / 2**s with cap fraction bits; s >= s_min, so the bits above the largest value's
    # are zero and are not built
    p_max = int(max(cfg.exp_table))
    pext = ((pv << cap) >> pipe.get("ex_s"))[:((p_max << cap) >> max(s_min, 0)).bit_length()]
    if cfg.is_stochastic:
        # floor(Pext + r << (cap - rb)) >> cap: the low cap - rb bits of Pext cannot carry
        pipe.put(ex_top=shr(pext, cap - rb))
    else:
        # nearest even: the round-up decision here, its increment after the boundary
        whole = shr(pext, cap)
        frac = pext[:cap]
        half = 1 << (cap - 1)
        pipe.put(ex_whole=whole, ex_up=(frac > half) | ((frac == half) & whole[0]))
    if s_min < 0:
        pipe.put(ex_dleft=pv << pipe.get("ex_left"))
    pipe.cut()
    if cfg.is_stochastic:
        d_right = shr(pipe.get("ex_top") + pipe.get("ex_r"), rb)
    else:
        d_right = pipe.get("ex_whole") + pipe.get("ex_up")
    if s_min < 0:
        return Mux(pipe.get("ex_neg"), pipe.get("ex_dleft"), d_right)
    return d_right


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
        self.s_min, delta_max = _limits(cfg, self.l_max)
        ports = {"l": In(l_shape), "delta": Out(range_shape(0, delta_max))}
        if cfg.is_stochastic:
            ports["r"] = In(unsigned(p.random_bits))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        r = self.r if self.cfg.is_stochastic else None
        m.d.comb += self.delta.eq(exp_step(m, Pipe(m), self.cfg, self.l, r, self.l_max))
        return m
