"""The one update array: ``lanes`` lane units of any registered rule behind one valid/ready
stream (the top module of every generated design).

Its ports follow from the rule contract (`lns.rule.Rule`), in this order::

    in_valid, in_ready,
    in_<role>        for every word role (``cfg.WORD_ROLES``), lanes x word
    <port>           for every held port (``cfg.HELD``), one value shared by the lanes,
                     sampled with each beat, shaped by ``cfg.held_range``
    lfsr_seed, lfsr_load    with stochastic rounding (lanes x 32 bits)
    out_valid, out_ready,
    out_<role>       for every written role (``cfg.output_roles``), lanes x word

Lane ``k`` of a packed bus is bits ``[k * W, (k + 1) * W)`` (`rtl.lanes`); beat ``b`` lane
``k`` carries tensor element ``b * lanes + k``.  The lanes are the rule's unit
(`lns.registry.RuleEntry.unit`): a component with ``en`` (the global enable), optionally
``accept`` (a beat enters: advances the lane's LFSR), an input port per word role and held
port, ``<role>_out`` per written role, ``lfsr_seed``/``lfsr_load`` when stochastic, a
``stages`` attribute and a ``stages_of(cfg)`` static method (the one stage count).  After
reset lane ``k``'s LFSR holds ``lns.lane_seeds(0, lanes)[k]``; ``lfsr_load`` loads every
lane from ``lfsr_seed``.  The handshake is `rtl._common.stream_handshake`: latency
``stages - 1``; ``en = ~out_valid | out_ready``; ``in_ready = en``; or, when the unit class
sets ``registered_ready``, its skid buffer (``en = in_ready`` from a register).
"""

from __future__ import annotations

from amaranth.hdl import Module, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lns.errors import InvalidType, InvalidValue
from lns.lfsr import WIDTH, lane_seeds

from ._common import range_shape, skid_output, stream_handshake
from .lanes import lane_bits

__all__ = ["UpdateArray", "held_shapes", "registered_ready"]


def registered_ready(unit_class) -> bool:
    """Whether the array of ``unit_class`` has `stream_handshake`'s skid buffer: the unit
    class asks for it with ``registered_ready = True`` (the IEEE units, whose thousands of
    registers a combinational enable cannot reach in one clock)."""
    return bool(getattr(unit_class, "registered_ready", False))


def held_shapes(cfg) -> dict:
    """``{port: shape}`` of the held ports: every value of ``cfg.held_range(port)``."""
    return {port: range_shape(*cfg.held_range(port)) for port in cfg.HELD}


class UpdateArray(wiring.Component):
    """``lanes`` units of ``cfg``'s rule behind one valid/ready handshake.

    Parameters
    ----------
    cfg : lns.rule.Rule
        Any registered rule's configuration.
    lanes : int
        Positive.
    **unit_options
        Passed to every lane unit (the IEEE unit's ``steps_per_stage``, ``op_gap``).
    """

    def __init__(self, cfg, lanes: int = 1, **unit_options):
        from lns.registry import load
        from lns.rule import Rule
        if not isinstance(cfg, Rule):
            self._MustUse__silence = True
            raise InvalidType(f"cfg must be a rule's configuration, not {type(cfg).__name__}")
        if not isinstance(lanes, int) or isinstance(lanes, bool) or lanes < 1:
            self._MustUse__silence = True
            raise InvalidValue(f"lanes must be a positive int, not {lanes!r}")
        self.cfg, self.lanes, self.unit_options = cfg, lanes, unit_options
        self.unit_class = load(cfg, "unit")
        self.stages = self.unit_class.stages_of(cfg, **unit_options)
        self.latency = self.stages - 1
        fmts = cfg.word_formats
        ports = {"in_valid": In(1), "in_ready": Out(1)}
        ports.update({f"in_{k}": In(lanes * fmts[k].total_bits) for k in cfg.WORD_ROLES})
        ports.update({port: In(shape) for port, shape in held_shapes(cfg).items()})
        if cfg.is_stochastic:
            ports["lfsr_seed"] = In(unsigned(lanes * WIDTH))
            ports["lfsr_load"] = In(1)
        ports.update({"out_valid": Out(1), "out_ready": In(1)})
        ports.update({f"out_{k}": Out(lanes * fmts[k].total_bits) for k in cfg.output_roles})
        super().__init__(ports)

    def sidecar_extra(self) -> dict:
        """What the lane unit adds to the sidecar (`rtl.design.sidecar`), if anything."""
        extra = getattr(self.unit_class, "sidecar_extra", None)
        return extra(self.cfg, **self.unit_options) if extra is not None else {}

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        skid = registered_ready(self.unit_class)
        en, accept, hold = stream_handshake(m, self, self.stages, skid=skid)
        fmts = cfg.word_formats
        seeds = lane_seeds(0, self.lanes)
        for k in range(self.lanes):
            kw = dict(self.unit_options)
            if cfg.is_stochastic:
                kw["lfsr_init"] = int(seeds[k])
            unit = self.unit_class(cfg, **kw)
            m.submodules[f"lane{k}"] = unit
            m.d.comb += unit.en.eq(en)
            if "accept" in unit.signature.members:
                m.d.comb += unit.accept.eq(accept)
            for role in cfg.WORD_ROLES:          # (word_formats also holds written-only roles)
                lo, hi = lane_bits(k, fmts[role].total_bits)
                m.d.comb += getattr(unit, role).eq(getattr(self, f"in_{role}")[lo:hi])
            for port in cfg.HELD:
                m.d.comb += getattr(unit, port).eq(getattr(self, port))
            for role in cfg.output_roles:
                lo, hi = lane_bits(k, fmts[role].total_bits)
                port, value = getattr(self, f"out_{role}")[lo:hi], getattr(unit, f"{role}_out")
                if skid:
                    skid_output(m, hold, self.out_ready, port, value, f"{role}{k}")
                else:
                    m.d.comb += port.eq(value)
            if cfg.is_stochastic:
                lo, hi = lane_bits(k, WIDTH)
                m.d.comb += [unit.lfsr_seed.eq(self.lfsr_seed[lo:hi]),
                             unit.lfsr_load.eq(self.lfsr_load)]
        return m
