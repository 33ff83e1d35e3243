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
(four boundaries in an interpolated look-up, the first after ``|a - b|``, and one more
after it in the adder).  The interpolation's multiply is a tree of shifted partial
products ``lo[i] ? diff << i : 0`` (two adder levels a stage), its rounding folded into the
tree (`_rne_of_half_up`).

The additive rules (Adam, SGD with momentum) add `signed_log_add`: the signed sum of
`lns.rules.additive.signed_sum` (``sb`` for equal signs, ``db`` for opposite ones, exact
cancellation to zero), both tables read side by side through `parallel`.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ._common import Pipe, in_block_ram, range_shape, rom_read, shape_range, shr

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


def _rne_of_half_up(y, s: int):
    """`rne_shift` ``(x, s)`` from ``y = x + 2**(s - 1)``: ``y >> s`` rounds half up, and a
    tie (``y``'s low ``s`` bits zero) rounds to even by clearing the LSB, which only ever
    takes one off an odd result.  No adder after ``y``'s."""
    up = shr(y, s)
    tie = ~y[:s].any()
    return up ^ (tie & up[0])


class _Distance:
    """``|a - b|`` as the hardware makes it: ``a_big = a >= b`` is the sign of ``d = a - b``
    (the end of its carry chain, not a compare of its own, which Yosys builds as a LUT
    tree: 6 levels before the select on lns16's sb look-up), and ``|a - b| = a_big ? d :
    e`` with ``e = b - a`` beside ``d``.  ``value(k)`` is ``|a - b| + k`` with the constant
    added to ``d`` and ``e`` before the select."""

    def __init__(self, a, b):
        self.d, self.e = a - b, b - a
        assert self.d.shape().signed
        self.a_big = ~self.d[len(self.d) - 1]

    def value(self, k: int = 0):
        return Mux(self.a_big, self.d + k, self.e + k).as_unsigned() if k else \
            Mux(self.a_big, self.d, self.e).as_unsigned()


def _node_rom(table, z, dist=None):
    """``(words, j, j1, lo)``: the node ROM's words, the addresses of nodes ``j`` (the
    segment of ``zi = z - len(near)``) and ``j + 1``, and ``lo`` (``zi``'s low ``seg_bits``)
    for ``z``.  When ``len(near)`` is a multiple of the segment (every preset's table)
    ``zi`` shares ``z``'s low bits and ``j = (z >> seg) - (len(near) >> seg)``: the ROM
    holds that many zero words in front of the nodes (read only where ``z < len(near)``
    selects the near ROM) and is read at ``z >> seg``, with no subtractor before the
    address.  With ``dist`` (the `_Distance` that ``z`` selects), ``j1`` is
    ``(zi + 2**seg) >> seg`` incremented before the select instead of after it (a block
    RAM's address stage: the select, then an incrementer, was the critical path of
    lns16_adam's weight adder at 103 MHz)."""
    t, n, seg = table, len(table.near), table.seg_bits
    nodes = [int(v) for v in t.nodes]
    sub = 0 if n % (1 << seg) == 0 else n
    zi = (z - sub).as_unsigned()[:len(z)] if sub else z
    words = nodes if sub else [0] * (n >> seg) + nodes
    j = shr(zi, seg)
    j1 = shr(dist.value((1 << seg) - sub), seg) if dist is not None else j + 1
    return words, j, j1, zi[:seg]


def gauss_lookup(m, pipe: Pipe, table, z, name: str = "lk"):
    """``table.lookup_ref(z)``, built on ``pipe``; ``z`` is a value of the current stage
    (the one that computes it; or the `_Distance` it is), the result one of the stage the
    call ends in.

    Boundaries: z | ROMs (direct: and the select); interp: z | address + node ROM | diff +
    first adder level | two adder levels | the rest + rounding.  A ROM in block RAM
    (`in_block_ram`) is addressed in z's stage instead, so that the block RAM's own
    register is the first boundary and its slow data (5.8 ns after the clock on the ECP5)
    only travel to registers in the next stage (lns16: from 81 to 100 MHz, seed 1; its
    critical path then moved to the address, `_Distance`, `_node_rom`).
    """
    t = table
    n = len(t.near)
    dist = z if isinstance(z, _Distance) else None
    z = dist.value() if dist is not None else z
    pipe.put(**{f"{name}_z": z})
    # an interpolated table's near word waits for the select two stages on: read late,
    # the block RAM's slow data still only travel to registers in the next stage
    early_near = n and in_block_ram(t.near) and not len(t.nodes)
    if early_near:
        (near,) = rom_read(m, f"{name}_near", t.near, z)
        pipe.put(**{f"{name}_near": near})
    early_nodes = False
    if len(t.nodes):
        words, j, j1, _ = _node_rom(t, z, dist)
        early_nodes = in_block_ram(words)
        if early_nodes:
            t0, t1 = rom_read(m, f"{name}_nodes", words, j, j1)
            pipe.put(**{f"{name}_t0": t0, f"{name}_t1": t1})
    pipe.cut()
    z = pipe.get(f"{name}_z")
    if early_near:
        near = pipe.get(f"{name}_near")
    elif n:
        (near,) = rom_read(m, f"{name}_near", t.near, z)
    else:
        near = Const(0, 1)
    if not len(t.nodes):
        return Mux(z >= t.end, 0, near)
    seg, guard = t.seg_bits, t.guard
    words, j, j1, lo = _node_rom(t, z)
    late = {}
    if not early_nodes:
        t0, t1 = rom_read(m, f"{name}_nodes", words, j, j1)
        late = {f"{name}_t0": t0, f"{name}_t1": t1}
    if not early_near:
        late[f"{name}_near"] = near
    pipe.put(**late, **{f"{name}_lo": lo, f"{name}_end": z >= t.end,
                        f"{name}_in_near": (z < n) if n else Const(0, 1)})
    pipe.cut()
    # y = (t0 << seg) + (t1 - t0) * lo as a sum of shifted partial products, plus half an
    # LSB of the result (added to t0 beside t1 - t0): the rounding below then needs no
    # incrementer after the last adder (that incrementer was on the 16-bit units' critical
    # paths, e.g. lns16_adam's weight adder at 109 MHz)
    t0, lo = pipe.get(f"{name}_t0"), pipe.get(f"{name}_lo")
    diff = pipe.get(f"{name}_t1") - t0
    half = 1 << (seg + guard - 1)
    terms = _sum_level([(t0 << seg) + half] + [Mux(lo[i], diff << i, 0) for i in range(seg)])
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
    result = _rne_of_half_up(terms[0], seg + guard)
    if n:
        result = Mux(pipe.get(f"{name}_in_near"), pipe.get(f"{name}_near"), result)
    return Mux(pipe.get(f"{name}_end"), 0, result)


def log_add(m, pipe: Pipe, table, a, b, a_zero, b_zero, name: str = "la"):
    """``(x, zero)``: ``max(a, b) + sb(|a - b|)`` with the zero cases exact (``a_zero``
    gives ``b``, else ``b_zero`` gives ``a``; both give ``zero``), built on ``pipe``
    (boundaries: |a - b| | lookup | max + sb)."""
    z = _Distance(a, b)
    # A zero operand: the other one plus nothing (the lookup is forced to 0 below).
    big = Mux(a_zero, b, Mux(b_zero, a, Mux(z.a_big, a, b)))
    pipe.put(**{f"{name}_big": big, f"{name}_skip": a_zero | b_zero,
                f"{name}_zero": a_zero & b_zero})
    value = gauss_lookup(m, pipe, table, z, name=f"{name}_lk")
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
    z = _Distance(xa, xb)
    a_big = z.a_big
    skip = za | zb
    # As the kernel: a zero operand gives the other term unchanged.
    big = Mux(za, xb, Mux(zb, xa, Mux(a_big, xa, xb)))
    sign = Mux(za, sb_, Mux(zb, sa, Mux(a_big, sa, sb_)))
    same = sa == sb_
    # xa == xb beside the subtraction, not z == 0 after its select (lns8_adam's critical
    # path at 118 MHz)
    zero = Mux(skip, za & zb, ~same & (xa == xb))
    pipe.put(**{f"{name}_big": big, f"{name}_sign": sign, f"{name}_same": same,
                f"{name}_skip": skip, f"{name}_zero": zero})
    (vs,), (vd,) = parallel(pipe, [
        lambda sub: (gauss_lookup(m, sub, sb_table, z, name=f"{name}_sb"),),
        lambda sub: (gauss_lookup(m, sub, db_table, z, name=f"{name}_db"),)])
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
