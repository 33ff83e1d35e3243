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

The additive rules (Adam, SGD with momentum) add `signed_log_add`: the signed sum of
`lns.rules.additive.signed_sum` (``sb`` for equal signs, ``db`` for opposite ones, exact
cancellation to zero), both tables read side by side through `parallel`.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ._common import Pipe, range_shape, rne_shift, rom_read, shape_range

__all__ = ["GaussLookup", "LogAdder", "gauss_lookup", "log_add", "parallel", "signed_log_add",
           "signed_add_shape", "SignedLogAdder"]


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


# ---- the signed sum of the additive rules (Adam, SGD with momentum) -----------------------
def parallel(pipe: Pipe, builders):
    """Run ``builders`` (each ``f(sub_pipe) -> tuple of values``) side by side from the
    current stage of ``pipe``: each on its own `Pipe` (the same enable and module), padded
    with boundaries to the deepest, after which ``pipe`` has crossed as many boundaries.
    Returns each builder's values as seen in ``pipe``'s new current stage.  The builders
    may only read values of the current stage of ``pipe`` (passed in by closure)."""
    subs, outs = [], []
    for build in builders:
        sub = Pipe(pipe.m, pipe.en, pipe.prefix)
        subs.append(sub)
        outs.append(tuple(build(sub)))
    depth = max(sub.stage for sub in subs)
    result = []
    for i, (sub, vals) in enumerate(zip(subs, outs)):
        if sub.stage < depth:
            sub.put(**{f"par{i}_{j}": v for j, v in enumerate(vals)})
            while sub.stage < depth:
                sub.cut()
            vals = tuple(sub.get(f"par{i}_{j}") for j in range(len(vals)))
        result.append(vals)
    for _ in range(depth):
        pipe.cut()
    return result


def signed_log_add(m, pipe: Pipe, sb_table, db_table, a, b, name: str = "sa"):
    """The signed LNS sum of `lns.rules.additive.signed_sum`, built on ``pipe``.

    ``a`` and ``b`` are terms ``(sign, X, is_zero)`` of the current stage (``X`` signed log
    codes at the tables' precision).  Equal signs add ``sb(|Xa - Xb|)`` to the larger,
    opposite signs ``db``; opposite signs with equal codes cancel exactly to zero; a zero
    operand gives the other one (two zeros: zero).  The sign is the larger term's.  Both
    tables are read in parallel (each through `gauss_lookup` on its own `Pipe`) and the
    one the signs call for is selected.  Boundaries: |a - b| | both look-ups | big + f.
    Returns ``(sign, X, is_zero)`` (``X`` meaningless when zero) of the stage it ends in.
    """
    sa, xa, za = a
    sb_, xb, zb = b
    a_big = xa >= xb
    z = Mux(a_big, xa - xb, xb - xa).as_unsigned()
    skip = za | zb
    # As the kernel: a zero operand gives the other term unchanged.
    big = Mux(za, xb, Mux(zb, xa, Mux(a_big, xa, xb)))
    sign = Mux(za, sb_, Mux(zb, sa, Mux(a_big, sa, sb_)))
    same = sa == sb_
    zero = Mux(skip, za & zb, ~same & (z == 0))
    pipe.put(**{f"{name}_z": z, f"{name}_big": big, f"{name}_sign": sign,
                f"{name}_same": same, f"{name}_skip": skip, f"{name}_zero": zero})
    pipe.cut()
    zz = pipe.get(f"{name}_z")
    (vs,), (vd,) = parallel(pipe, [
        lambda sub: (gauss_lookup(m, sub, sb_table, zz, name=f"{name}_sb"),),
        lambda sub: (gauss_lookup(m, sub, db_table, zz, name=f"{name}_db"),)])
    pipe.put(**{f"{name}_f": Mux(pipe.get(f"{name}_skip"), 0,
                                 Mux(pipe.get(f"{name}_same"), vs, vd))})
    pipe.cut()
    return (pipe.get(f"{name}_sign"), pipe.get(f"{name}_big") + pipe.get(f"{name}_f"),
            pipe.get(f"{name}_zero"))


def signed_add_shape(sb_table, db_table, a_shape, b_shape):
    """A signed shape holding every ``signed_log_add`` result ``X`` of these operands."""
    alo, ahi = shape_range(a_shape)
    blo, bhi = shape_range(b_shape)
    _, sb_hi = _table_range(sb_table)
    db_lo, _ = _table_range(db_table)
    out = range_shape(min(alo, blo, 0) + min(db_lo, 0), max(ahi, bhi, 0) + max(sb_hi, 0))
    return signed(out.width + (0 if out.signed else 1))


class SignedLogAdder(wiring.Component):
    """``a + b`` of two signed LNS terms (combinational): `signed_log_add`.

    Reproduces `lns.rules.additive.signed_sum` with the tables ``sb_table``/``db_table``.

    Ports
    -----
    a_sign, a_zero, b_sign, b_zero : In(1); a : In(a_shape); b : In(b_shape)
    sign, zero : Out(1); x : Out(signed)  (meaningless when ``zero``)
    """

    def __init__(self, sb_table, db_table, a_shape, b_shape):
        self.tables = (sb_table, db_table)
        self.x_shape = signed_add_shape(sb_table, db_table, a_shape, b_shape)
        super().__init__({
            "a": In(a_shape), "b": In(b_shape), "a_sign": In(1), "b_sign": In(1),
            "a_zero": In(1), "b_zero": In(1),
            "x": Out(self.x_shape), "sign": Out(1), "zero": Out(1)})

    def elaborate(self, platform):
        m = Module()
        s, x, z = signed_log_add(m, Pipe(m), *self.tables, (self.a_sign, self.a, self.a_zero),
                                 (self.b_sign, self.b, self.b_zero))
        m.d.comb += [self.x.eq(x), self.sign.eq(s), self.zero.eq(z)]
        return m
