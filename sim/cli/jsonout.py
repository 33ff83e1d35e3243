"""Strict JSON (RFC 8259) for everything the command line writes: stdout's ``--json`` and the
report's ``report.json``.

Python's `json` writes ``Infinity``, ``-Infinity`` and ``NaN`` for non-finite floats, which
no strict parser (``jq``, JavaScript's ``JSON.parse``, Go, Rust's serde_json) accepts.  Here
a non-finite float becomes the *string* ``"Infinity"``, ``"-Infinity"`` or ``"NaN"``: it
keeps which of the three it was (``null`` would not), and ``float(s)`` in Python and
``Number(s)`` in JavaScript read it back.  NumPy scalars and arrays become numbers and lists,
paths strings; the result is then written with ``allow_nan=False``, so a value this misses is
an error here rather than a file nothing else can read.
"""

from __future__ import annotations

import json
import math
from pathlib import PurePath

__all__ = ["strict", "dumps", "NON_FINITE"]

#: What a non-finite float is written as.
NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}
NAN = "NaN"


def _float(x: float):
    if math.isfinite(x):
        return x
    return NAN if math.isnan(x) else NON_FINITE[x]


def strict(value):
    """``value`` with every non-finite float replaced by its string, NumPy values by Python
    ones, tuples by lists and paths by strings (dict keys are kept)."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    return _numpy(value)


def _numpy(value):
    import numpy as np               # only for values that are not plain Python
    if isinstance(value, np.ndarray):
        return strict(value.tolist())
    if isinstance(value, np.generic):
        return strict(value.item())
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value, *, indent: int | None = 2, sort_keys: bool = False) -> str:
    """``value`` as strict JSON text (see the module docstring)."""
    return json.dumps(strict(value), indent=indent, sort_keys=sort_keys, allow_nan=False)
