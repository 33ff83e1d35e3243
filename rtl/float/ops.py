"""The float operator components: `FloatAdd`, `FloatMul`, `FloatDiv`, `FloatSqrt`.

Each wraps one datapath function (`float_add`, `float_mul`, `float_div`, `float_sqrt`)
between input and output registers behind the valid/ready stream of the LNS units
(`rtl._common.stream_handshake`): a new operand set every clock (II = 1); a beat accepted at
clock edge ``k`` is on ``out_valid``/``y`` right after edge ``k + latency`` while
``out_ready`` stays high, and ``out_ready`` low holds every stage.  The number of register
stages is what the datapath builds, counted by building it once on a `Pipe` without
registers; ``latency = stages - 1`` as for the LNS units.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lns.errors import InvalidType, InvalidValue
from lns.ieee.format import FloatFormat

from .._common import Pipe, count_stages, stream_handshake
from .add import float_add
from .div import float_div
from .fields import STEPS_PER_STAGE
from .mul import float_mul
from .sqrt import float_sqrt

__all__ = ["FloatOp", "FloatAdd", "FloatMul", "FloatDiv", "FloatSqrt", "OPERATORS",
           "operator"]


def _reject(component, error):
    """Raise ``error`` from a constructor: the half-built component is no design mistake,
    so Amaranth must not warn later that it was never elaborated."""
    component._MustUse__silence = True
    raise error


def _check_steps(component, steps_per_stage):
    if isinstance(steps_per_stage, bool) or not isinstance(steps_per_stage, int):
        _reject(component, InvalidType(f"steps_per_stage must be an int, not "
                                       f"{type(steps_per_stage).__name__}"))
    if steps_per_stage < 1:
        _reject(component, InvalidValue(f"steps_per_stage must be at least 1, not "
                                        f"{steps_per_stage}"))


class FloatOp(wiring.Component):
    """The common frame of the operators: ports, stream, registers, stage count.

    Ports
    -----
    in_valid : In(1); in_ready : Out(1)
    a, b : In(fmt.total_bits) (``b`` only for two-operand operators)
    out_valid : Out(1); out_ready : In(1)
    y : Out(fmt.total_bits), the result word
    """

    op = ""                     # the operator's name: "add", "mul", "div", "sqrt"
    operands = ("a", "b")
    controls: dict = {}         # extra one-bit inputs travelling with the operands

    def __init__(self, fmt: FloatFormat):
        if not isinstance(fmt, FloatFormat):
            _reject(self, InvalidType(f"fmt must be a lns.ieee.FloatFormat, not "
                                      f"{type(fmt).__name__}"))
        self.fmt = fmt
        self.stages = self._count_stages()
        self.latency = self.stages - 1
        n = fmt.total_bits
        ports = {"in_valid": In(1), "in_ready": Out(1)}
        ports.update({name: In(n) for name in self.operands})
        ports.update({name: In(1) for name in self.controls})
        ports.update({"out_valid": Out(1), "out_ready": In(1), "y": Out(n)})
        super().__init__(ports)

    @property
    def name(self) -> str:
        """The Verilog module name, ``float_<op>_<format name>``."""
        return f"float_{self.op}_{self.fmt.name}"

    def datapath(self, m, pipe, ins: dict):
        """The result word of the inputs ``ins`` on ``pipe`` (each operator's function)."""
        raise NotImplementedError

    def _build(self, m, pipe, ins: dict):
        pipe.put(**ins)
        pipe.cut()                                           # the input registers
        y = self.datapath(m, pipe, {k: pipe.get(k) for k in ins})
        pipe.put(y=y)
        pipe.cut()                                           # the output register
        return pipe.get("y")

    def _count_stages(self) -> int:
        n = self.fmt.total_bits
        ins = {k: Signal(n, name=k) for k in self.operands}
        ins.update({k: Signal(1, name=k) for k in self.controls})
        return count_stages(lambda m, pipe: self._build(m, pipe, ins))

    def elaborate(self, platform):
        m = Module()
        en, _, _ = stream_handshake(m, self, self.stages)
        pipe = Pipe(m, en)
        ins = {k: getattr(self, k) for k in (*self.operands, *self.controls)}
        m.d.comb += self.y.eq(self._build(m, pipe, ins))
        assert pipe.stage == self.stages, (pipe.stage, self.stages)
        return m


class FloatAdd(FloatOp):
    """``y = a + b``, or ``a - b`` when the beat's ``negate_b`` is high (`float_add`)."""

    op = "add"
    controls = {"negate_b": 1}

    def datapath(self, m, pipe, ins):
        return float_add(m, pipe, self.fmt, ins["a"], ins["b"], ins["negate_b"])


class FloatMul(FloatOp):
    """``y = a * b`` (`float_mul`)."""

    op = "mul"

    def datapath(self, m, pipe, ins):
        return float_mul(m, pipe, self.fmt, ins["a"], ins["b"])


class FloatDiv(FloatOp):
    """``y = a / b`` (`float_div`), ``steps_per_stage`` quotient bits a pipeline stage
    (default `STEPS_PER_STAGE`, whose comment gives the measured Fmax of each choice)."""

    op = "div"

    def __init__(self, fmt: FloatFormat, steps_per_stage: int = STEPS_PER_STAGE):
        _check_steps(self, steps_per_stage)
        self.steps_per_stage = steps_per_stage
        super().__init__(fmt)

    def datapath(self, m, pipe, ins):
        return float_div(m, pipe, self.fmt, ins["a"], ins["b"],
                         steps_per_stage=self.steps_per_stage)


class FloatSqrt(FloatOp):
    """``y = sqrt(a)`` (`float_sqrt`), ``steps_per_stage`` result bits a pipeline stage
    (default `STEPS_PER_STAGE`, as `FloatDiv`)."""

    op = "sqrt"
    operands = ("a",)

    def __init__(self, fmt: FloatFormat, steps_per_stage: int = STEPS_PER_STAGE):
        _check_steps(self, steps_per_stage)
        self.steps_per_stage = steps_per_stage
        super().__init__(fmt)

    def datapath(self, m, pipe, ins):
        return float_sqrt(m, pipe, self.fmt, ins["a"], steps_per_stage=self.steps_per_stage)


OPERATORS = {"add": FloatAdd, "mul": FloatMul, "div": FloatDiv, "sqrt": FloatSqrt}


def operator(op, fmt, **options) -> FloatOp:
    """The component of operator ``op`` (a name of `OPERATORS` or a `FloatOp` subclass)
    for ``fmt`` (a `FloatFormat` or a preset name)."""
    if isinstance(fmt, str):
        from lns.ieee.format import get_format
        fmt = get_format(fmt)
    if isinstance(op, type) and issubclass(op, FloatOp) and op in OPERATORS.values():
        cls = op
    else:
        try:
            cls = OPERATORS[op]
        except (KeyError, TypeError):
            raise InvalidValue(f"op must be one of {', '.join(OPERATORS)}, not {op!r}") from None
    if options and cls not in (FloatDiv, FloatSqrt):
        raise InvalidValue(f"{cls.__name__} takes no options, got {', '.join(options)}")
    return cls(fmt, **options)
