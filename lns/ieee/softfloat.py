"""Berkeley SoftFloat as an independent oracle for `lns.ieee.ops` (through `softfloatpy`).

SoftFloat (J. Hauser, release 3e, as wrapped by the `softfloatpy` package, a test
dependency) computes each operation with its own integer code.  fp16 and fp32 call it
directly (``f16_add`` ... ``f32_sqrt``).  SoftFloat has no bf16 arithmetic, only the
conversions ``bf16_to_f32`` (exact) and ``f32_to_bf16`` (round to nearest even): a bf16
operation is the f32 operation on the widened operands rounded once more to bf16, which is
correctly rounded by the argument in `lns.ieee.ops`; the exact path (`lns.ieee.exact`) checks
that independently.

NaNs: softfloatpy is built with SoftFloat's RISC-V specialisation, whose default NaN is the
positive quiet NaN with a zero payload (0x7FC00000, 0x7E00; ``f32_to_bf16`` of any NaN gives
0x7FC0), and which never propagates an operand's payload.  That is exactly
`FloatFormat.canonical_nan`, so results compare bit for bit, NaNs included (`cross_check`
counts NaN results separately all the same).

`cross_check` is the function a campaign or the benchmark calls; one call is one format, one
operation, seeded edge and random operands.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import InvalidValue
from . import ops, vectors
from .format import FloatFormat

__all__ = ["FORMATS", "softfloat_apply", "cross_check", "CrossCheck"]

FORMATS = ("fp32", "bf16", "fp16")


def _sf():
    try:
        import softfloatpy
    except ImportError:                     # pragma: no cover - the test extra installs it
        raise ModuleNotFoundError("the SoftFloat cross-check needs softfloatpy: "
                                  ".venv/bin/pip install 'softfloatpy>=1.2'") from None
    return softfloatpy


def _kind(fmt: FloatFormat) -> str:
    key = (fmt.exp_bits, fmt.frac_bits)
    kinds = {(8, 23): "fp32", (8, 7): "bf16", (5, 10): "fp16"}
    if key not in kinds:
        raise InvalidValue(f"fmt must be one of {', '.join(FORMATS)} for SoftFloat, "
                           f"not {fmt.name}")
    return kinds[key]


def softfloat_apply(fmt: FloatFormat, op: str, *words) -> np.ndarray:
    """``op(*words)`` computed by SoftFloat, round to nearest even, one element at a time."""
    sf = _sf()
    kind = _kind(fmt)
    if op not in ops.BINARY_OPS + ops.UNARY_OPS:
        raise InvalidValue(f"op must be one of {', '.join(ops.BINARY_OPS + ops.UNARY_OPS)}, "
                           f"not {op!r}")
    nbytes = fmt.total_bits // 8
    if kind == "fp16":
        cls, fn = sf.Float16, getattr(sf, f"f16_{op}")
    else:
        cls, fn = sf.Float32, getattr(sf, f"f32_{op}")
    cols = [np.asarray(w).ravel().tolist() for w in words]
    out = np.empty(len(cols[0]), dtype=ops.word_dtype(fmt))
    old = sf.get_rounding_mode()
    sf.set_rounding_mode(sf.RoundingMode.NEAR_EVEN)
    try:
        if kind == "bf16":
            frm, to_f32, to_bf16 = sf.BFloat16.from_bytes, sf.bf16_to_f32, sf.f32_to_bf16
            res = [to_bf16(fn(*[to_f32(frm(w.to_bytes(2, "big"))) for w in args])).to_bytes()
                   for args in zip(*cols)]
        else:
            frm = cls.from_bytes
            res = [fn(*[frm(w.to_bytes(nbytes, "big")) for w in args]).to_bytes()
                   for args in zip(*cols)]
    finally:
        sf.set_rounding_mode(old)
    out[:] = [int.from_bytes(r, "big") for r in res]
    return out.reshape(np.shape(words[0]))


@dataclass
class CrossCheck:
    """One format and operation: how many results agree bit for bit with SoftFloat."""
    fmt: str
    op: str
    vectors: int
    edge: int
    mismatches: dict                        # impl -> count of words unequal to SoftFloat's
    nan_results: int
    nan_class_mismatches: int
    seconds: float
    first_mismatches: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(self.mismatches.values()) and not self.nan_class_mismatches

    def to_dict(self) -> dict:
        return asdict(self)


def cross_check(fmt: FloatFormat, op: str, n: int, seed: int = 0,
                impls: tuple = ("numpy",), block: int = 100_000,
                progress=None) -> CrossCheck:
    """The edge table (every pair of `vectors.edge_words` and the tie pairs; the edge words
    for sqrt) and `n` seeded random operands (`vectors.random_operands`), `lns.ieee.ops` with
    each implementation in `impls` against one SoftFloat run, in blocks of `block` vectors
    (constant memory).  `progress`, if given, is called ``(done, n)`` after each block."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InvalidValue(f"n must be an int >= 0, not {n!r}")
    if isinstance(impls, str) or not impls or any(i not in ("numpy", "exact") for i in impls):
        raise InvalidValue(f"impls must be a tuple of 'numpy' and/or 'exact', not {impls!r}")
    _kind(fmt)
    arity = 1 if op in ops.UNARY_OPS else 2
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    edge = (vectors.edge_words(fmt),) if arity == 1 else vectors.edge_pairs(fmt)
    mism = dict.fromkeys(impls, 0)
    nans = nan_class = 0
    first: list = []
    magnitude = fmt.word_mask ^ fmt.sign_mask

    def compare(args):
        nonlocal nans, nan_class
        theirs = softfloat_apply(fmt, op, *args)
        nan_t = (theirs & magnitude) > fmt.pos_inf
        nans += int(nan_t.sum())
        for impl in impls:
            ours = ops.apply(fmt, op, *args, impl=impl)
            bad = np.flatnonzero(ours != theirs)
            mism[impl] += bad.size
            nan_class += int((((ours & magnitude) > fmt.pos_inf) != nan_t).sum())
            for i in bad[:max(0, 5 - len(first))]:
                first.append({"impl": impl, "operands": [hex(int(a[i])) for a in args],
                              "ours": hex(int(ours[i])), "softfloat": hex(int(theirs[i]))})

    compare(edge)
    for start in range(0, n, block):
        compare(vectors.random_operands(fmt, min(block, n - start), rng, arity))
        if progress is not None:
            progress(min(start + block, n), n)
    return CrossCheck(fmt.name, op, n, len(edge[0]), mism, nans, nan_class,
                      round(time.perf_counter() - t0, 3), first)
