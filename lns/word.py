"""Words <-> fields: the one definition of unpacking a word and of packing a log value.

SoftFloat has one round-and-pack routine; this is ours.  ``p`` is a `lns.format.FormatParams`
(plain ints).  The functions are Numba ``njit`` (inlined into every kernel) and are called
as they are from plain Python by the scalar references (`lns.codec.store_ref`,
`lns.codec.fields_ref`), and over arrays through `pack_all` / `unpack_all`: one rule for
the model, the kernels and, mirrored, the RTL (`rtl._common.word_fields`).

Both are branch-free (flags are 0/1 ints, choices are selects), so inside the update
kernel's SIMD passes they vectorise like the surrounding arithmetic.

Rules
-----
unpack  ``e = word & (2**log_bits - 1)``; ``sign`` the bit above (0 when unsigned);
        ``X = e - offset``; ``is_zero`` when the format reserves ``e = 0`` and ``e == 0``.
pack    ``X`` (unbounded) saturates above at ``x_max``; below ``x_min`` it flushes to the
        word 0 (``underflow="flush"``) or saturates at ``x_min``; the sign bit is kept only
        in a signed format.
zero    the word of an exact zero: 0, or the smallest magnitude where the format has no
        zero code.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["unpack", "pack", "zero_word", "unpack_all", "pack_all"]


@njit(cache=True, inline="always")
def unpack(word, p):
    """word -> (sign, X, is_zero)."""
    e = word & ((1 << p.log_bits) - 1)
    sign = (word >> p.log_bits) & p.signed
    zero = (e == 0) & (p.has_zero == 1)
    return sign, e - p.offset, zero


@njit(cache=True, inline="always")
def pack(sign, x, p):
    """(sign, unbounded X) -> word: saturate above, underflow policy below."""
    flushed = (x < p.x_min) & (p.flush == 1)
    e = max(min(x, p.x_max), p.x_min) + p.offset
    word = ((sign & p.signed) << p.log_bits) | e
    return 0 if flushed else word


@njit(cache=True, inline="always")
def zero_word(p):
    """The word of an exact zero."""
    return 0 if p.has_zero == 1 else pack(0, p.x_min, p)


@njit(cache=True)
def _unpack_loop(words, p, sign, x, zero):
    for i in range(words.shape[0]):
        sign[i], x[i], zero[i] = unpack(words[i], p)


@njit(cache=True)
def _pack_loop(sign, x, p, out):
    for i in range(x.shape[0]):
        out[i] = pack(sign[i], x[i], p)


def unpack_all(p, words) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`unpack` of every word of an integer array: ``(sign, X, is_zero)`` of its shape."""
    words = np.asarray(words, dtype=np.int64)
    flat = np.ascontiguousarray(words).ravel()
    sign = np.empty(flat.shape[0], dtype=np.int64)
    x = np.empty(flat.shape[0], dtype=np.int64)
    zero = np.empty(flat.shape[0], dtype=np.bool_)
    _unpack_loop(flat, p, sign, x, zero)
    return sign.reshape(words.shape), x.reshape(words.shape), zero.reshape(words.shape)


def pack_all(p, sign, x) -> np.ndarray:
    """`pack` over arrays (broadcast together): int64 words of the broadcast shape."""
    sign, x = np.broadcast_arrays(np.asarray(sign, dtype=np.int64), np.asarray(x, dtype=np.int64))
    out = np.empty(x.size, dtype=np.int64)
    _pack_loop(np.ascontiguousarray(sign).ravel(), np.ascontiguousarray(x).ravel(), p, out)
    return out.reshape(x.shape)
