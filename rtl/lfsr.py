"""One lane's random source: the 32-bit Galois LFSR of `lns.lfsr`, advanced
``STEPS_PER_UPDATE`` steps in one clock.

The advance is linear over GF(2), so it is built by running the model's own
`lns.lfsr.lfsr_advance_ref` on each basis state at elaboration time: bit ``i`` of the next
state is the XOR of the state bits ``j`` whose basis image has bit ``i`` set.  Nothing about
the polynomial is restated here.
"""

from __future__ import annotations

from functools import reduce
from operator import xor

from amaranth.hdl import Const, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lns.lfsr import RANDOM_BITS, WIDTH, lfsr_advance_ref

__all__ = ["LaneLFSR", "advance_matrix"]


def advance_matrix() -> list[list[int]]:
    """``rows[i]``: the state bits whose XOR is bit ``i`` after one update's advance."""
    images = [lfsr_advance_ref(1 << j) for j in range(WIDTH)]
    return [[j for j in range(WIDTH) if (images[j] >> i) & 1] for i in range(WIDTH)]


class LaneLFSR(wiring.Component):
    """The LFSR register of one lane.

    At a clock edge: ``load`` (seed) and ``advance`` combine as "load, then advance": with
    both high the register takes ``advance(seed)``, and ``r`` (combinational) is always the
    low bits of the state the register takes when ``advance`` is high, i.e. of
    ``advance(load ? seed : state)``: the model advances first and then takes the low bits.

    Parameters
    ----------
    init : int
        The register's value after reset (non-zero).

    Ports
    -----
    seed : In(32); load : In(1); advance : In(1)
    r : Out(RANDOM_BITS)   random bits for the element accepted at this edge
    state : Out(32)        the register
    """

    def __init__(self, init: int = 1):
        if not 0 < init < (1 << WIDTH):
            raise ValueError(f"init must be a non-zero 32-bit state, not {init!r}")
        self.init = int(init)
        super().__init__({
            "seed": In(unsigned(WIDTH)), "load": In(1), "advance": In(1),
            "r": Out(unsigned(RANDOM_BITS)), "state": Out(unsigned(WIDTH), init=self.init),
        })

    def elaborate(self, platform):
        m = Module()
        base = Signal(WIDTH)
        nxt = Signal(WIDTH)
        m.d.comb += base.eq(Mux(self.load, self.seed, self.state))
        for i, taps in enumerate(advance_matrix()):
            bit = reduce(xor, (base[j] for j in taps)) if taps else Const(0, 1)
            m.d.comb += nxt[i].eq(bit)
        m.d.comb += self.r.eq(nxt[:RANDOM_BITS])
        with m.If(self.advance):
            m.d.sync += self.state.eq(nxt)
        with m.Elif(self.load):
            m.d.sync += self.state.eq(self.seed)
        return m
