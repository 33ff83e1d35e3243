"""The Gaussian-logarithm adder of the second-moment path: ``max(a, b) + sb(|a - b|)``.

`GaussLookup` holds one `lns.tables.GaussTable` as the hardware holds it and reproduces
`lns.kernels.gauss_lookup` bit for bit:

``direct``  one ROM (``table.near``) indexed by ``z``;
``interp``  the near ROM for ``z < len(near)``, then a node ROM read at ``j`` and ``j + 1``
            (two read ports), the linear interpolation ``(t0 << seg) + (t1 - t0) * lo`` and
            one round-to-nearest-even by ``seg_bits + guard`` bits.

``z >= table.end`` gives 0 in both methods.  `LogAdder` adds the zero cases exactly: a zero
operand contributes nothing, two zero operands give zero.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Shape, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ._common import range_shape, rne_shift, rom_read, shape_range

__all__ = ["GaussLookup", "LogAdder"]


def _table_range(table) -> tuple[int, int]:
    vals = [0] + [int(v) for v in table.near] + [int(v) for v in table.nodes]
    if len(table.nodes):
        # Interpolated values lie between neighbouring nodes, rounded: inside the nodes'
        # range scaled down by the guard bits (one more either side for the rounding).
        lo = min(int(v) for v in table.nodes) >> table.guard
        hi = (max(int(v) for v in table.nodes) >> table.guard) + 1
        vals += [lo, hi]
    return min(vals), max(vals)


class GaussLookup(wiring.Component):
    """``table.lookup_ref(z)`` for an unsigned distance ``z``.

    Parameters
    ----------
    table : lns.tables.GaussTable
    z_width : int
        Width of the distance input.

    Ports
    -----
    z : In(unsigned(z_width))
    value : Out(shape of the table's values)
    """

    def __init__(self, table, z_width: int):
        self.table = table
        lo, hi = _table_range(table)
        super().__init__({"z": In(unsigned(z_width)), "value": Out(range_shape(lo, hi))})

    def elaborate(self, platform):
        m = Module()
        t = self.table
        z = self.z
        n = len(t.near)
        result = Const(0, 1)
        if len(t.nodes):
            seg, guard = t.seg_bits, t.guard
            zi = (z - n).as_unsigned()[:len(z)]
            j = zi >> seg
            lo = zi[:seg]
            t0, t1 = rom_read(m, "nodes", t.nodes, j, j + 1)
            y = (t0 << seg) + (t1 - t0) * lo
            result = rne_shift(y, seg + guard)
        if n:
            (near,) = rom_read(m, "near", t.near, z)
            result = near if not len(t.nodes) else Mux(z < n, near, result)
        m.d.comb += self.value.eq(Mux(z >= t.end, 0, result))
        return m


class LogAdder(wiring.Component):
    """``log2(2**a + 2**b)`` in log LSBs through a Gaussian table, zero cases exact.

    Reproduces `lns.kernels.log_add` (``same_sign``) with the zero handling of the second
    moment path: ``a_zero & b_zero`` gives ``zero``; one zero operand gives the other.

    Parameters
    ----------
    table : lns.tables.GaussTable
        The ``sb`` table (``MadamConfig.sb_table``).
    a_shape, b_shape : Shape
        Shapes of the operands (signed log codes in LSBs).

    Ports
    -----
    a, b : In(a_shape), In(b_shape)
    a_zero, b_zero : In(1)
    x : Out(signed)  the sum's log code (meaningless when ``zero``)
    zero : Out(1)
    """

    def __init__(self, table, a_shape, b_shape):
        self.table = table
        alo, ahi = shape_range(a_shape)
        blo, bhi = shape_range(b_shape)
        self._z_width = Shape.cast(range_shape(0, max(ahi - blo, bhi - alo))).width
        _, sb_hi = _table_range(table)
        out = range_shape(min(alo, blo, 0), max(ahi, bhi) + sb_hi)
        super().__init__({
            "a": In(a_shape), "b": In(b_shape), "a_zero": In(1), "b_zero": In(1),
            "x": Out(signed(out.width + (0 if out.signed else 1))), "zero": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.lookup = lookup = GaussLookup(self.table, self._z_width)
        a, b = self.a, self.b
        a_big = a >= b
        big = Mux(a_big, a, b)
        m.d.comb += lookup.z.eq(Mux(a_big, a - b, b - a).as_unsigned())
        with m.If(self.a_zero):
            m.d.comb += self.x.eq(b)
        with m.Elif(self.b_zero):
            m.d.comb += self.x.eq(a)
        with m.Else():
            m.d.comb += self.x.eq(big + lookup.value)
        m.d.comb += self.zero.eq(self.a_zero & self.b_zero)
        return m
