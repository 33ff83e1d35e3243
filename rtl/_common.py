"""Small building blocks shared by the RTL components: field unpacking, constant-shift
rounding, ROMs and shapes derived from integer ranges.

Every function here builds Amaranth expressions from lns constants; none computes a
constant of its own.
"""

from __future__ import annotations

from amaranth.hdl import Const, Fragment, Module, Mux, Shape, Signal, Value
from amaranth.lib.memory import Memory

__all__ = ["count_stages", "range_shape", "shape_range", "word_fields", "rne_shift", "rom_read",
           "clamp_hi", "clamp_lo", "Pipe", "in_block_ram", "BLOCK_RAM_WORDS", "shr", "rne_above"]

# Yosys's synth_ecp5 puts a ROM of this many words or more (after the padding to a power
# of two) in block RAM, and a smaller one in LUTs: lns16's 218 sb nodes and 256 exp2 words,
# the 12-bit weight adder's 202 sb and 771 db nodes and 1024 near words are DP16KDs;
# lns12's 94 nodes and 64 exp2 words are LUTs.  A DP16KD's data come 5.8 ns after the
# clock edge (its output register unused: Yosys does not map one), more than half a 100 MHz
# cycle, so the datapath addresses a block RAM one stage earlier than a LUT ROM where the
# data are used in the next stage (the node ROMs, `rtl.log_adder.gauss_lookup`; the exp2
# ROM, `rtl.exp_step`), and they cross that stage straight into registers.  A ROM that
# synthesis maps the other way (another target, another Yosys) only changes timing.
BLOCK_RAM_WORDS = 256


def in_block_ram(values) -> bool:
    """Whether `rom_read` of ``values`` becomes a block RAM (`BLOCK_RAM_WORDS`)."""
    return 1 << max(1, (len(values) - 1).bit_length()) >= BLOCK_RAM_WORDS


class Pipe:
    """Pipeline bookkeeping for a datapath written once and built either combinationally
    (the components, ``en=None``) or with register stages (the unit).

    ``put(name=value)`` records a value made in the current stage; ``cut()`` ends the stage
    (a register boundary); ``get(name)`` returns the value as seen in the current stage,
    i.e. delayed through one register (loaded when ``en`` is high) per boundary crossed
    since it was made.  Delays are shared: two ``get``s of one name in one stage read the
    same register.  Every value that crosses a boundary goes through ``put``/``get``, so
    all paths into a stage carry the same beat.  Without ``en`` no register is built and
    ``get`` returns the value itself (``cut`` only counts).  ``put`` gives each value a
    named wire, so that its expression is built once however often it is read.  Call ``get`` outside
    ``m.If``/``m.Switch`` blocks: a register it creates there would load conditionally.
    """

    def __init__(self, m, en=None, prefix: str = ""):
        self.m, self.en, self.prefix = m, en, prefix
        self.stage = 0
        self._chains = {}

    def cut(self):
        self.stage += 1

    def put(self, **values):
        for name, value in values.items():
            if name in self._chains:
                raise ValueError(f"pipeline value {name!r} is already defined")
            value = Value.cast(value)
            if not isinstance(value, Signal):
                # A named wire: every use reads it, instead of repeating the expression.
                wire = Signal(value.shape(), name=f"{self.prefix}{name}")
                self.m.d.comb += wire.eq(value)
                value = wire
            self._chains[name] = {self.stage: value}

    def get(self, name: str) -> Value:
        chain = self._chains[name]
        if self.en is None:
            return chain[min(chain)]
        top = max(chain)
        value = chain[top]
        for s in range(top + 1, self.stage + 1):
            reg = Signal(value.shape(), name=f"{self.prefix}p{s}_{name}", reset_less=True)
            with self.m.If(self.en):
                self.m.d.sync += reg.eq(value)
            chain[s] = value = reg
        return value

    def __getitem__(self, name: str) -> Value:
        return self.get(name)


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

    ``e`` is the unsigned biased log field (``X = e - fp.offset``), as `lns.word.unpack`.
    """
    e = word[:fp.log_bits]
    sign = word[fp.log_bits] if fp.signed else Const(0, 1)
    zero = ~e.any() if fp.has_zero else Const(0, 1)
    return sign, e, zero


def shr(x: Value, k: int) -> Value:
    """``x >> k`` for a constant ``k`` (arithmetic when ``x`` is signed) in the width the
    result needs: Amaranth's ``>>`` keeps ``x``'s width, and the constant top bits it adds
    survive synthesis wherever they feed a subtraction or a compare (lns16's step was 38
    bits wide for 7 significant, and its weight adder and clamps 40-bit carry chains)."""
    x = Value.cast(x)
    if k <= 0:
        return x
    if len(x) > k:
        return x.shift_right(k)
    return x >> k if x.shape().signed else Const(0, 1)


def rne_shift(x: Value, s: int) -> Value:
    """``x / 2**s`` rounded to nearest, ties to even, for a constant ``s`` (exactly
    `lns.rounding.round_shift_rne`; ``s <= 0`` is the exact left shift)."""
    x = Value.cast(x)
    if s <= 0:
        return x << -s
    q = shr(x, s)                           # floor (arithmetic for signed x)
    rem = x[:s]                             # x - (q << s), 0 <= rem < 2**s
    half = 1 << (s - 1)
    if s == 1:                              # one remainder bit: never above half (and a
        up = rem & q[0]                     # compare with it would be constant)
    else:
        up = (rem > half) | ((rem == half) & q[0])
    return q + up


def rne_above(s: int, v: int) -> int:
    """The smallest ``x`` with `lns.rounding.round_shift_rne_ref` ``(x, s) > v``: RNE is
    monotone, so ``RNE(x >> s) > v`` is the constant compare ``x >= rne_above(s, v)``,
    which the datapath decides beside the rounding's own adder instead of after it."""
    from lns.rounding import round_shift_rne_ref
    lo, hi = -(1 << 64), 1 << 64
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if round_shift_rne_ref(mid, s) > v:
            hi = mid
        else:
            lo = mid
    return hi


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


def stream_handshake(m, array, stages: int, skid: bool = False):
    """The valid/ready stream of an update array, written once; a ``valid`` bit rides each
    of the ``stages`` register stages.  Returns ``(en, accept, hold)``: ``accept`` is
    ``in_valid & en``; ``hold`` is None, or with ``skid`` the register that says the skid
    buffer holds the output (`skid_output` builds its data).

    Without ``skid`` the pipeline advances (``en``) unless a valid output is held by
    ``out_ready`` low, so ``in_ready = en`` (combinational ``out_ready -> in_ready``).

    With ``skid`` (registered ready, as an AXI register slice) ``en = in_ready = ~hold``
    comes from a register: a unit of thousands of registers cannot spread a combinational
    enable over them in one clock (the IEEE units on the ECP5: out_valid -> in_ready ->
    every clock enable, 4-5 ns of routing each way, 96 MHz for ``fp12_adam``'s 5,132
    flip-flops, while its datapath's stages allow more).  The pipeline then advances once
    more after ``out_ready`` falls; the beat on the output goes to the skid buffer and is
    the output until taken (``hold``), and the pipeline waits while it is full.  No beat is
    lost or reordered, the latency is the same, and with ``out_ready`` high a beat enters
    every clock."""
    en = Signal()
    accept = Signal()
    valid = array.in_valid
    hold = Signal(name="skid_hold") if skid else None
    m.d.comb += [en.eq(~hold if skid else ~array.out_valid | array.out_ready),
                 array.in_ready.eq(en), accept.eq(array.in_valid & en)]
    for i in range(stages):
        reg = Signal(name=f"valid{i}")
        with m.If(en):
            m.d.sync += reg.eq(valid)
        valid = reg
    if skid:
        # full -> emptied when the output is taken; empty -> filled when the pipeline
        # advances past a valid output that is not taken
        m.d.sync += hold.eq(Mux(hold, ~array.out_ready, valid & ~array.out_ready))
        m.d.comb += array.out_valid.eq(hold | valid)
    else:
        m.d.comb += array.out_valid.eq(valid)
    return en, accept, hold


def skid_output(m, hold, out_ready, port, value, name: str) -> None:
    """Drive ``port`` from ``value`` (the pipeline's output) through the skid buffer of
    `stream_handshake`: its register loads ``value`` whenever it is empty, so it holds the
    beat that was on the output when it filled; ``port`` shows it while ``hold``."""
    buf = Signal(len(port), name=f"skid_{name}", reset_less=True)
    with m.If(~hold):
        m.d.sync += buf.eq(value)
    m.d.comb += port.eq(Mux(hold, buf, value))


def count_stages(build) -> int:
    """Register stages the datapath builder ``build(m, pipe)`` makes: run once on a `Pipe`
    without registers (``en=None``: each ``cut`` only counts) in a scratch module.  The
    module is elaborated and dropped, so Amaranth does not warn that it and its ROMs were
    built and never used.  Every unit's latency is counted this way, never restated."""
    m = Module()
    pipe = Pipe(m)
    build(m, pipe)
    Fragment.get(m, None)
    return pipe.stage
