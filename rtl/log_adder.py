"""The Gaussian-logarithm adder of the second-moment path: ``max(a, b) + sb(|a - b|)``.

`GaussLookup` holds one `lns.tables.GaussTable` as the hardware holds it and reproduces
`lns.kernels.gauss_lookup` bit for bit:

``direct``  one ROM (``table.near``) indexed by ``z``;
``interp``  the near ROM for ``z < len(near)``, then a node ROM read at ``j`` and ``j + 1``
            (two read ports), the linear interpolation ``(t0 << seg) + (t1 - t0) * lo`` and
            one round-to-nearest-even by ``seg_bits + guard`` bits.

``z >= table.end`` gives 0 in both methods.  `LogAdder` adds the zero cases exactly: a zero
operand contributes nothing, two zero operands give zero.

The arithmetic is written once, in `gauss_lookup` and `log_add`, on a `Pipe`: the
components build it combinationally (their tests), the unit with its register stages
(three boundaries inside an interpolated look-up, two more around it in the adder).  The
interpolation's multiply is a tree of shifted partial products ``lo[i] ? diff << i : 0``
(two adder levels a stage).
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ._common import Pipe, range_shape, rne_shift, rom_read, shape_range

__all__ = ["GaussLookup", "LogAdder", "gauss_lookup", "log_add"]


def _table_range(table) -> tuple[int, int]:
    vals = [0] + [int(v) for v in table.near] + [int(v) for v in table.nodes]
    if len(table.nodes):
        # Interpolated values lie between neighbouring nodes, rounded: inside the nodes'
        # range scaled down by the guard bits (one more either side for the rounding).
        lo = min(int(v) for v in table.nodes) >> table.guard
        hi = (max(int(v) for v in table.nodes) >> table.guard) + 1
        vals += [lo, hi]
    return min(vals), max(vals)



def _sum_level(terms):
    return [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i]
            for i in range(0, len(terms), 2)]


def gauss_lookup(m, pipe: Pipe, table, z, name: str = "lk"):
    """``table.lookup_ref(z)``, built on ``pipe`` (boundaries, interp only: address + ROM |
    diff + first adder level | two adder levels | the rest + rounding); ``z`` is a value of
    the current stage, the result one of the stage the call ends in."""
    t = table
    n = len(t.near)
    near = None
    if n:
        (near,) = rom_read(m, f"{name}_near", t.near, z)
    if not len(t.nodes):
        result = near if near is not None else Const(0, 1)
        return Mux(z >= t.end, 0, result)
    seg, guard = t.seg_bits, t.guard
    zi = (z - n).as_unsigned()[:len(z)] if n else z
    j = zi >> seg
    t0, t1 = rom_read(m, f"{name}_nodes", t.nodes, j, j + 1)
    pipe.put(**{f"{name}_t0": t0, f"{name}_t1": t1, f"{name}_lo": zi[:seg],
                f"{name}_end": z >= t.end, f"{name}_in_near": (z < n) if n else Const(0, 1),
                f"{name}_near": near if near is not None else Const(0, 1)})
    pipe.cut()
    # y = (t0 << seg) + (t1 - t0) * lo as a sum of shifted partial products
    t0, lo = pipe.get(f"{name}_t0"), pipe.get(f"{name}_lo")
    diff = pipe.get(f"{name}_t1") - t0
    terms = _sum_level([t0 << seg] + [Mux(lo[i], diff << i, 0) for i in range(seg)])
    pipe.put(**{f"{name}_a{i}": v for i, v in enumerate(terms)})
    pipe.cut()
    terms = [pipe.get(f"{name}_a{i}") for i in range(len(terms))]
    for _ in range(2):
        terms = _sum_level(terms)
    pipe.put(**{f"{name}_b{i}": v for i, v in enumerate(terms)})
    pipe.cut()
    terms = [pipe.get(f"{name}_b{i}") for i in range(len(terms))]
    while len(terms) > 1:
        terms = _sum_level(terms)
    result = rne_shift(terms[0], seg + guard)
    if n:
        result = Mux(pipe.get(f"{name}_in_near"), pipe.get(f"{name}_near"), result)
    return Mux(pipe.get(f"{name}_end"), 0, result)


def log_add(m, pipe: Pipe, table, a, b, a_zero, b_zero, name: str = "la"):
    """``(x, zero)``: ``max(a, b) + sb(|a - b|)`` with the zero cases exact (``a_zero``
    gives ``b``, else ``b_zero`` gives ``a``; both give ``zero``), built on ``pipe``
    (boundaries: |a - b| | lookup | max + sb)."""
    a_big = a >= b
    z = Mux(a_big, a - b, b - a).as_unsigned()
    # A zero operand: the other one plus nothing (the lookup is forced to 0 below).
    big = Mux(a_zero, b, Mux(b_zero, a, Mux(a_big, a, b)))
    pipe.put(**{f"{name}_z": z, f"{name}_big": big, f"{name}_skip": a_zero | b_zero,
                f"{name}_zero": a_zero & b_zero})
    pipe.cut()
    value = gauss_lookup(m, pipe, table, pipe.get(f"{name}_z"), name=f"{name}_lk")
    pipe.put(**{f"{name}_sb": Mux(pipe.get(f"{name}_skip"), 0, value)})
    pipe.cut()
    return pipe.get(f"{name}_big") + pipe.get(f"{name}_sb"), pipe.get(f"{name}_zero")


class GaussLookup(wiring.Component):
    """``table.lookup_ref(z)`` for an unsigned distance ``z`` (combinational).

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
        m.d.comb += self.value.eq(gauss_lookup(m, Pipe(m), self.table, self.z))
        return m


class LogAdder(wiring.Component):
    """``log2(2**a + 2**b)`` in log LSBs through a Gaussian table, zero cases exact
    (combinational).

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
        self.x_shape = log_add_shape(table, a_shape, b_shape)
        super().__init__({
            "a": In(a_shape), "b": In(b_shape), "a_zero": In(1), "b_zero": In(1),
            "x": Out(self.x_shape), "zero": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        x, zero = log_add(m, Pipe(m), self.table, self.a, self.b, self.a_zero, self.b_zero)
        m.d.comb += [self.x.eq(x), self.zero.eq(zero)]
        return m


def log_add_shape(table, a_shape, b_shape):
    """A signed shape holding every ``log_add`` result of operands of these shapes."""
    alo, ahi = shape_range(a_shape)
    blo, bhi = shape_range(b_shape)
    _, sb_hi = _table_range(table)
    out = range_shape(min(alo, blo, 0), max(ahi, bhi) + sb_hi)
    return signed(out.width + (0 if out.signed else 1))
