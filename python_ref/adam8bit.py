"""Blockwise 8-bit Adam (Dettmers, Lewis, Shleifer and Zettlemoyer, "8-bit Optimizers via
Block-wise Quantization", ICLR 2022, arXiv 2110.02861), and Adam with a bfloat16 gradient.

Definition (what `Adam8bit` computes; numpy, float32 arithmetic as the paper's fp32 kernels)
---------------------------------------------------------------------------------------------
State: for each of m and v, one uint8 code per parameter and one float32 ``absmax`` per
block of ``block`` (2,048) consecutive parameters (the flattened tensor cut in order; the
last block may be shorter).  A state's value is ``qmap[code] * absmax[block]``, with the
*signed* map for m and the *unsigned* map for v (below).

One step ``t = 1, 2, ...`` with gradient ``g`` (float32), as the paper's Algorithm / the
authors' 8-bit blockwise kernels do it:

1. dequantise: ``m = Q_s[cm] * am``, ``v = Q_u[cv] * av`` (block by block);
2. ``m' = beta1 m + (1 - beta1) g``, ``v' = beta2 v + (1 - beta2) g**2`` in float32;
3. ``w' = w - lr * (m' / (1 - beta1**t)) / (sqrt(v' / (1 - beta2**t)) + eps)``: the
   update uses the *unquantised* new states (the same expression as `python_ref.Adam`);
4. requantise for storage: per block ``a = max |m'|`` (float32, exact), code = the index of
   the map value nearest to ``m' / a`` (ties to the lower value); the same for v' with
   the unsigned map.  A block of zeros keeps ``absmax = 0`` and code of 0.0.

The dynamic (tree) quantisation maps, 256 float32 values each, sorted, built from the
paper's section 2 ("Dynamic Tree Quantization", from Dettmers 2016, arXiv 1511.04561): an
8-bit code is a sign bit, then a run of E zero bits giving the decimal exponent 10**-E,
then an indicator bit 1, then the remaining bits as a linear fraction in [0.1, 1].  For the
unsigned v the paper re-purposes the sign bit to lengthen the fraction ("dynamic
quantization").  The fraction values of a level with F fraction bits are the midpoints of
2**F equal bins of [0.1, 1], the choice of the authors' reference implementation
(bitsandbytes' ``create_dynamic_map``, read to check this construction; no code taken):

* signed (m): for E = 0..6 (scale ``10**-E``) and F = 6 - E: ``+- 10**-E * (0.1 + 0.9 (k +
  1/2) / 2**F)`` for k = 0..2**F-1: 2 x 127 = 254 values; plus 0 and +1: 256.  The map holds
  +1 but not -1 (its most negative value is ``-(1 - 0.9/128) = -0.99296875``), as the
  authors' map: a block whose largest magnitude is negative stores it as -0.99296875 x
  absmax, a 0.7 % error the paper's construction has;
* unsigned (v): the same with one more fraction bit a level (F = 7 - E): 254 values in
  (0, 1), plus 0 and 1: 256.

Checked (tests/test_adam8bit.py): 256 distinct sorted values a map, 0 and +1 present, the
level sizes 2**F, the signed map's symmetry but for +1; the nearest-value rounding's error
at most half the local gap; a block's positive absmax round-trips exactly; 8-bit Adam equals
`Adam` (float32) step for step when every state is representable (a constant gradient) and
differs when it is not.

`AdamBF16Grad`: mixed-precision Adam, the gradient rounded to bfloat16 (nearest even,
`ml_dtypes`) before a float32 Adam (float32 states and master weights): the gradient
traffic of a bf16 training step with the optimizer of an fp32 master copy (Micikevicius et
al., "Mixed Precision Training", ICLR 2018; bf16: Kalamkar et al. 2019, arXiv 1905.12322).
"""

import numpy as np

from ._common import check_betas, check_finite_state, finite_array, positive
from .adam import Adam

__all__ = ["Adam8bit", "AdamBF16Grad", "dynamic_map", "quantize_blockwise",
           "dequantize_blockwise", "BLOCK"]

BLOCK = 2048
_EXPONENT_LEVELS = 7              # E = 0..6: seven decimal orders of magnitude


def dynamic_map(signed: bool) -> np.ndarray:
    """The 256 float32 values of the dynamic tree quantisation map (signed, for m) or of the
    dynamic quantisation map (unsigned, for v), sorted (see the module docstring)."""
    values = [0.0, 1.0]
    extra = 0 if signed else 1    # the unsigned map spends the sign bit on the fraction
    for e in range(_EXPONENT_LEVELS):
        n = 2 ** (_EXPONENT_LEVELS - 1 - e + extra)          # 2**F fraction values
        k = np.arange(n, dtype=np.float64)
        frac = 0.1 + 0.9 * (k + 0.5) / n                       # midpoints of n bins
        level = (10.0 ** -e) * frac
        values += level.tolist()
        if signed:
            values += (-level).tolist()
    out = np.array(sorted(values), dtype=np.float32)
    out.setflags(write=False)
    return out


_MAPS = {True: dynamic_map(True), False: dynamic_map(False)}


def _blocks(n: int, block: int) -> int:
    return -(-n // block)


def quantize_blockwise(x, qmap, block: int = BLOCK):
    """``(codes uint8, absmax float32 per block)`` of the flat float32 ``x``: per block
    ``a = max |x|``, code = the index of the map value nearest ``x / a`` (ties to the lower
    value; a block of zeros: ``a = 0`` and the code of 0)."""
    x = np.asarray(x, dtype=np.float32).ravel()
    nb = _blocks(x.size, block)
    pad = np.zeros(nb * block, np.float32)
    pad[:x.size] = x
    b = pad.reshape(nb, block)
    absmax = np.abs(b).max(axis=1).astype(np.float32)
    safe = np.where(absmax > 0, absmax, np.float32(1))
    norm = (b / safe[:, None]).ravel()[:x.size]
    qmap = np.asarray(qmap, dtype=np.float32)
    # nearest of the sorted map: compare with the neighbour above (ties go below)
    hi = np.clip(np.searchsorted(qmap, norm, side="left"), 1, len(qmap) - 1)
    lo = hi - 1
    pick_hi = (qmap[hi] - norm) < (norm - qmap[lo])
    codes = np.where(pick_hi, hi, lo).astype(np.uint8)
    return codes, absmax


def dequantize_blockwise(codes, absmax, qmap, block: int = BLOCK) -> np.ndarray:
    """The flat float32 values ``qmap[code] * absmax[block of the code]``."""
    codes = np.asarray(codes).ravel()
    idx = np.arange(codes.size) // block
    return (np.asarray(qmap, np.float32)[codes] * np.asarray(absmax, np.float32)[idx]) \
        .astype(np.float32)


class Adam8bit:
    """Blockwise 8-bit Adam on one tensor (the module docstring's definition).

    Parameters: ``w0`` (only its shape is kept), ``lr`` (> 0, default 1e-3), ``betas``
    (default (0.9, 0.999)), ``eps`` (> 0, default 1e-8), ``block`` (default 2,048).  Weights
    are float32 (the master copy).  ``step(w, g) -> new w`` (float32); attributes ``t``,
    ``m_codes``, ``m_absmax``, ``v_codes``, ``v_absmax`` and the dequantised ``m``, ``v``.
    """

    def __init__(self, w0, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, block=BLOCK):
        self.lr = positive("lr", lr)
        self.beta1, self.beta2 = check_betas(betas)
        self.eps = positive("eps", eps)
        if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
            raise ValueError(f"block must be a positive int, not {block!r}")
        self.block = int(block)
        self.dtype = np.dtype(np.float32)
        self.shape = finite_array("w0", w0, self.dtype).shape
        n = int(np.prod(self.shape))
        nb = _blocks(max(n, 1), self.block)
        self.t = 0
        zero_s = int(np.searchsorted(_MAPS[True], 0.0))
        zero_u = int(np.searchsorted(_MAPS[False], 0.0))
        self.m_codes = np.full(n, zero_s, np.uint8)
        self.v_codes = np.full(n, zero_u, np.uint8)
        self.m_absmax = np.zeros(nb, np.float32)
        self.v_absmax = np.zeros(nb, np.float32)

    @property
    def m(self) -> np.ndarray:
        return dequantize_blockwise(self.m_codes, self.m_absmax, _MAPS[True],
                                    self.block).reshape(self.shape)

    @property
    def v(self) -> np.ndarray:
        return dequantize_blockwise(self.v_codes, self.v_absmax, _MAPS[False],
                                    self.block).reshape(self.shape)

    def step(self, w, g):
        """One step (the module docstring); a new float32 array, ``w`` unchanged.  Raises
        ValueError on a shape mismatch or a non-finite value; the state is then unchanged."""
        w = finite_array("w", w, self.dtype, self.shape)
        g = finite_array("g", g, self.dtype, self.shape)
        dt = np.float32
        t = self.t + 1
        with np.errstate(over="ignore"):
            m = dt(self.beta1) * self.m + dt(1.0 - self.beta1) * g
            v = dt(self.beta2) * self.v + dt(1.0 - self.beta2) * (g * g)
        check_finite_state("the second moment v", v, self.dtype)
        m_hat = m / dt(1.0 - self.beta1 ** t)
        v_hat = v / dt(1.0 - self.beta2 ** t)
        new_w = w - dt(self.lr) * m_hat / (np.sqrt(v_hat) + dt(self.eps))
        self.m_codes, self.m_absmax = quantize_blockwise(m, _MAPS[True], self.block)
        self.v_codes, self.v_absmax = quantize_blockwise(v, _MAPS[False], self.block)
        self.t = t
        return new_w


class AdamBF16Grad(Adam):
    """Mixed-precision Adam: float32 `Adam` (states and master weights) fed the gradient
    rounded to bfloat16 (nearest even, `ml_dtypes`), see the module docstring."""

    def __init__(self, w0, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(w0, lr=lr, betas=betas, eps=eps, dtype=np.float32)

    def step(self, w, g):
        import ml_dtypes
        g = finite_array("g", g, self.dtype, self.shape)
        # float32 -> bfloat16 -> float32: one rounding to nearest even; finite_array has
        # checked g, and a float32 too large for bf16 would round to inf and be refused
        # by Adam's own check
        g16 = g.astype(ml_dtypes.bfloat16).astype(np.float32)
        return super().step(w, g16)
