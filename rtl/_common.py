"""Small building blocks shared by the RTL components: field unpacking, constant-shift
rounding, ROMs and shapes derived from integer ranges.

Every function here builds Amaranth expressions from lns constants; none computes a
constant of its own.
"""

from __future__ import annotations

from amaranth.hdl import Const, Mux, Shape, Value
from amaranth.lib.memory import Memory

__all__ = ["range_shape", "shape_range", "word_fields", "rne_shift", "rom_read", "clamp_hi",
           "clamp_lo"]


def range_shape(lo: int, hi: int) -> Shape:
    """The smallest shape holding every integer in ``[lo, hi]``."""
    return Shape.cast(range(lo, hi + 1))


def shape_range(shape) -> tuple[int, int]:
    """``(lo, hi)``: the integers a shape can hold."""
    shape = Shape.cast(shape)
    if shape.signed:
        return -(1 << (shape.width - 1)), (1 << (shape.width - 1)) - 1
    return 0, (1 << shape.width) - 1


def word_fields(word: Value, fp):
    """A word of `lns.format.FormatParams` ``fp`` -> ``(sign, e, is_zero)`` as expressions.

    ``e`` is the unsigned biased log field (``X = e - fp.offset``), as `lns.kernels.unpack`.
    """
    e = word[:fp.log_bits]
    sign = word[fp.log_bits] if fp.signed else Const(0, 1)
    zero = ~e.any() if fp.has_zero else Const(0, 1)
    return sign, e, zero


def rne_shift(x: Value, s: int) -> Value:
    """``x / 2**s`` rounded to nearest, ties to even, for a constant ``s`` (exactly
    `lns.rounding.round_shift_rne`; ``s <= 0`` is the exact left shift)."""
    x = Value.cast(x)
    if s <= 0:
        return x << -s
    q = x >> s                              # floor (arithmetic for signed x)
    rem = x[:s]                             # x - (q << s), 0 <= rem < 2**s
    half = 1 << (s - 1)
    up = (rem > half) | ((rem == half) & q[0])
    return q + up


def rom_read(m, name: str, values, *addrs) -> list[Value]:
    """A ROM holding ``values`` (from lns), one asynchronous read port per address.

    The depth is padded with zeros to a power of two so that any address reads a defined
    word (the datapath never selects a padded word; the padding only keeps simulators from
    producing X).  Returns the data of each port.
    """
    values = [int(v) for v in values]
    lo, hi = min(values + [0]), max(values + [0])
    shape = range_shape(lo, hi)
    abits = max(1, (len(values) - 1).bit_length())
    depth = 1 << abits
    mem = Memory(shape=shape, depth=depth, init=values + [0] * (depth - len(values)))
    m.submodules[name] = mem
    out = []
    for addr in addrs:
        port = mem.read_port(domain="comb")
        m.d.comb += port.addr.eq(Value.cast(addr)[:abits])
        out.append(port.data)
    return out


def clamp_hi(x: Value, hi) -> Value:
    return Mux(x > hi, hi, x)


def clamp_lo(x: Value, lo) -> Value:
    return Mux(x < lo, lo, x)

