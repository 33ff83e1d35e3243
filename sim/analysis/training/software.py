"""Float software methods that are not a registered rule's float twin: blockwise 8-bit Adam
(`python_ref.Adam8bit`, Dettmers et al. 2022) and mixed-precision Adam (`python_ref.
AdamBF16Grad`: a bfloat16 gradient, float32 states and master weights).

Each is a `SoftwareMethod`, a value with the part of `methods.Method`'s interface the
trainers ask of a float method (``key``, ``label``, ``alias``, ``is_lns`` False,
``moves_zero`` True, ``takes_momentum`` False, ``default_lr``, ``reference``,
``float_optimizer``), so `runs.train_run` and `tune.tune` train them unchanged;
`methods.Method.parse` finds them by key.  They are not in `methods.METHODS` (the digits
table's rows are unchanged); `lnsmadam explore` runs them as float baselines.
"""

from __future__ import annotations

from dataclasses import dataclass

from lns.errors import InvalidValue

__all__ = ["SoftwareMethod", "SOFTWARE", "software"]


@dataclass(frozen=True)
class SoftwareMethod:
    """A float method by its reference class (see the module docstring)."""

    key: str
    class_name: str                 # in python_ref
    label: str
    default_lr: float = 1e-3        # Adam's customary rate (Kingma & Ba), like float Adam's
    is_lns = False
    moves_zero = True
    takes_momentum = False
    number_system = "float"

    @property
    def alias(self) -> str:
        return self.key

    @property
    def reference(self) -> type:
        import python_ref
        return getattr(python_ref, self.class_name)

    def __str__(self) -> str:
        return self.key

    def config(self, bits: int = 12, **overrides):
        raise InvalidValue(f"{self.label} is a float method: it has no LNS configuration")

    def float_optimizer(self, w0, lr: float, *, momentum: float = 0.9, p_scale=...):
        """The reference on ``w0`` with step size ``lr`` (no momentum, no clip)."""
        return self.reference(w0, lr=lr)


SOFTWARE = {m.key: m for m in (
    SoftwareMethod("adam8bit", "Adam8bit", "8-bit Adam (blockwise, Dettmers 2022)"),
    SoftwareMethod("adam_bf16grad", "AdamBF16Grad", "Adam, bf16 gradient (mixed precision)"),
)}


def software(key: str) -> SoftwareMethod | None:
    """The software method of ``key``, or None."""
    return SOFTWARE.get(key)
