"""What one beat of the cycle simulation carries, by role, for every optimizer rule.

The engines and the check are written once over the *roles* of the words (``w``, ``g``,
``m``, ``v``) and over the ports a step holds; this module is the one place that says, for a
configuration, which those are (`stream_of`):

==========  ==========  ==========  ==================  ===================
rule        read (in_)  written     held for a step     checked against
==========  ==========  ==========  ==================  ===================
Madam       w, g, v     w, v        x_bc (t), clip      `lns.madam_update`
Adam        w, g, m, v  w, m, v     x_bc1, x_bc2 (t)    `lns.adam_update`
SGD         w, g, m     w, m        (none)              `lns.sgd_update`
float_adam  w, g, m, v  w, m, v     k1, k2 (t)          `float_adam_update`
==========  ==========  ==========  ==================  ===================

``float_adam`` is the IEEE unit (`rtl.float_adam.FloatAdamArray`, every word of one
`lns.ieee.FloatFormat`); its held words are ``cfg.bias_correction_words(t)`` and its
reference `lns.rules.ieee_adam.float_adam_update` (numpy path).  `Stream.encode` rounds the
tensor's float values to any rule's words (LNS: `lns.encode`; IEEE: nearest even).

The additive rules' roles are `lns.optimizers.output_roles` / the configuration's
``WORD_ROLES``; their held codes are ``cfg.bias_correction_codes(t)``, the ports
`rtl.additive_unit.xbc_shapes` declares (the units register them with each beat; the
pipeline drains between steps, so a step's codes reach exactly its beats).  Madam's ports
keep ``in_v``/``out_v`` with the ``sign`` normaliser too (the unit passes ``v`` through);
the memory then moves no moment (`cfg.update_words`), as `sim.cycle.memory` counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Stream", "stream_of", "check_moved_bits"]


@dataclass(frozen=True)
class Stream:
    """The word roles and held ports of one configuration's update array (every part from
    the rule contract, `lns.rule.Rule`, and the registry, `lns.registry`)."""

    cfg: object
    rule: str                       # the rule's name (`lns.modes.Optimizer`)
    in_roles: tuple                 # ports in_<role>, in the order the harness reads them
    state_roles: tuple              # ports out_<role>: written back, read by the next step
    held_ports: tuple               # ports held for a whole step
    reference: str                  # the model the outputs are checked against

    @property
    def formats(self) -> dict:
        """``{role: format}`` of every port role (`lns.LNSFormat` or `lns.ieee.FloatFormat`)."""
        return self.cfg.word_formats

    @property
    def widths(self) -> dict:
        """``{role: bits of one word}``."""
        return {k: f.total_bits for k, f in self.formats.items()}

    @property
    def stages(self) -> int:
        """Register stages of the array (latency + 1), as the RTL builds them."""
        from lns.registry import load
        return load(self.cfg, "unit").stages_of(self.cfg)

    @property
    def registered_ready(self) -> bool:
        """Whether the array's handshake has the skid buffer (`rtl.array.registered_ready`)."""
        from lns.registry import load
        from rtl.array import registered_ready
        return registered_ready(load(self.cfg, "unit"))

    def held(self, t: int, clip) -> dict:
        """``{port: value}`` of step ``t`` (from 1): `lns.rule.Rule.held`."""
        return self.cfg.held(t, clip=clip)

    def held_table(self, steps: int, clip) -> np.ndarray:
        """``[T][H]`` int64: `held` of every step, columns in `held_ports` order."""
        table = np.zeros((steps, len(self.held_ports)), dtype=np.int64)
        for s in range(steps):
            h = self.held(s + 1, clip)
            table[s] = [h[k] for k in self.held_ports]
        return table

    def array(self, lanes: int):
        """A fresh Amaranth array of ``lanes`` lanes (the top module the Verilog is of)."""
        from rtl.design import array_of
        return array_of(self.cfg, lanes)

    def update(self, state: dict, g, t: int, clip, lfsr_state) -> dict:
        """One step of the model on the words ``state`` (`state_roles`) and gradients ``g``:
        the new ``{role: words}`` (``lfsr_state`` advanced in place when stochastic)."""
        out = self.cfg.update({**state, "g": g}, t, self.held(t, clip), lfsr_state=lfsr_state)
        shape = np.shape(g)
        return {k: a.reshape(shape) for k, a in out.items()}

    def encode(self, role: str, x) -> np.ndarray:
        """Float64 values ``x`` as words of ``role`` (int64), rounded to nearest
        (`lns.rule.Rule.encode_words`)."""
        return self.cfg.encode_words(role, x)

    def has_zero(self, role: str) -> bool:
        """Whether ``role``'s format has a zero word (IEEE formats always do)."""
        return bool(self.formats[role].has_zero)


def stream_of(cfg) -> Stream:
    """The `Stream` of any rule's configuration (`lns.rule.Rule`)."""
    from lns.errors import InvalidType
    from lns.rule import Rule
    if not isinstance(cfg, Rule):
        # (tests/test_sim_cycle_additive.py pins the text)
        raise InvalidType(f"cfg must be a MadamConfig, AdamConfig or SGDConfig, "
                          f"not {type(cfg).__name__}")
    # The state read back next step: the written roles that are also read (a written-only
    # role, mixed-precision Adam's BF16 weight copy ``wlow``, is memory traffic, not state)
    state = tuple(k for k in cfg.output_roles if k in cfg.WORD_ROLES)
    return Stream(cfg, str(cfg.optimizer), tuple(cfg.WORD_ROLES), state,
                  tuple(cfg.HELD), cfg.MODEL)


def check_moved_bits(cfg, width, read_bits: int, write_bits: int):
    """Check the bits a beat moves (`sim.cycle.memory.beat_bits`, from ``cfg.update_bits``)
    against the generated design: the widths of ``in_<role>`` of every word read and
    ``out_<role>`` of every word written (``width(port)``: the sidecar's port widths, each
    bus ``lanes`` words of the lane layout of `rtl.lanes`).  AssertionError if they
    disagree: the memory would count other words than the design moves."""
    read, written = cfg.update_words
    got = (sum(width(f"in_{k}") for k in read), sum(width(f"out_{k}") for k in written))
    if got != (read_bits, write_bits):
        raise AssertionError(f"the design's ports move {got} bits a beat (read, written), "
                             f"the memory counts {(read_bits, write_bits)}")
