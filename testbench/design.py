"""The design the testbench drives: `rtl.design.Design` (one definition, in ``rtl``).

`generate` takes it from the RTL package's one design flow (`rtl.design.design`, cached in
the user's cache directory), or copies it into ``out_dir``.
"""

from __future__ import annotations

from rtl.design import REQUIRED_PORTS, Design

__all__ = ["Design", "generate", "RTLMissing", "REQUIRED_PORTS"]


class RTLMissing(RuntimeError):
    """The RTL generator (Amaranth) is not there to generate the design."""


def generate(cfg, lanes: int = 1, out_dir=None) -> Design:
    """The design of ``cfg`` (any rule's configuration) with ``lanes`` lanes (copied into
    ``out_dir`` if given)."""
    from rtl.design import design, export
    try:
        import amaranth  # noqa: F401
    except ImportError as exc:
        raise RTLMissing(f"the RTL generator rtl.design is not available ({exc})") from None
    d = design(cfg, lanes)
    return d if out_dir is None else export(d, out_dir)
