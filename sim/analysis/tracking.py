"""How closely the bit-exact LNS update tracks base-2 float Madam on the same gradients.

Both optimizers start from the same (LNS-representable) weights and see the same gradients
(the LNS-quantised ones, so only the *update* arithmetic differs).  The float reference is
`python_ref.Madam` with ``base=2`` and ``eta = 2**eta_log2``, clipped at the sigma* the LNS
clip word stands for.  Errors are in weight LSBs of the log: ``|log2|w_lns| - log2|w_float||
* 2**Fw``.

Per step, away from the clip and the floor, the LNS step ``X_w' - X_w`` (whole LSBs) is
compared with the float step ``-eta g_hat sign(w)`` in LSBs (``g_hat`` the reference's, from
its own float second moment): its error (RMS, max, mean), and how often it differs from the
float step rounded half-even (``step_mismatch_share``; with nearest-even rounding only the
quantised second moment, ``log2|g_hat|``'s rounding and the tables can cause a difference,
with stochastic rounding most steps differ by design).  `sim.analysis.sweep` runs this across formats.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

import lns
from lns import MadamConfig
from lns.errors import InvalidValue
from python_ref import Madam

__all__ = ["TrackingResult", "track", "check_trackable", "initial_codes"]


@dataclass(frozen=True)
class TrackingResult:
    preset: str
    steps: int
    weights: int
    max_lsb: float            # largest |log error| over all weights and steps
    final_rms_lsb: float      # RMS log error after the last step
    final_max_lsb: float      # largest log error after the last step
    final_rel_err: float      # RMS relative weight error after the last step
    mean_drift_lsb: float     # mean signed log error after the last step (bias)
    step_rms_lsb: float       # RMS error of one step against the float step eta * g_hat
    step_max_lsb: float       # its largest value
    step_mean_lsb: float = 0.0        # its mean (signed): drift per step
    step_mismatch_share: float = 0.0  # share of steps != the float step rounded half-even
    steps_compared: int = 0           # weight-steps in the per-step statistics

    def to_dict(self) -> dict:
        return asdict(self)


def initial_codes(cfg: MadamConfig, w0: np.ndarray, clip: int) -> np.ndarray:
    """Weight words of the floats ``w0`` (non-zero), raised to the format's floor and
    lowered to ``clip``: a narrow format would flush small weights to zero, and a zero
    weight never moves under Madam."""
    W = cfg.weight
    w_codes = lns.encode(W, w0)
    e = np.clip(w_codes & ((1 << W.log_bits) - 1), W.e_min, clip)
    return e | (np.signbit(w0).astype(np.int64) << W.log_bits)


def _initial(cfg: MadamConfig, rng, weights: int):
    """``(clip code, weight codes, their values)`` of the run's initial weights, the first
    draw of ``rng``; InvalidValue when every one is zero in the weight format (the float
    reference's scale divides by their RMS: there is nothing to track)."""
    w0 = rng.normal(0.0, 0.05, weights)
    w0 = np.where(w0 == 0, 0.05, w0)
    clip = cfg.clip_code(w0)
    w_codes = initial_codes(cfg, w0, clip)
    w_float = lns.decode(cfg.weight, w_codes)
    if not np.any(w_float):
        raise InvalidValue(f"every one of the {weights} initial weights (normal, sigma 0.05) "
                           f"is zero in {cfg.weight.name}: nothing to track; use more weights "
                           f"or a wider weight format")
    return clip, w_codes, w_float


def check_trackable(cfg: MadamConfig, *, weights: int, seed: int = 0) -> None:
    """Raise `track`'s InvalidValue now, before any run: a sweep checks every format first."""
    _initial(cfg, np.random.default_rng(seed), weights)


def track(cfg: MadamConfig, *, steps: int = 1000, weights: int = 2000, seed: int = 0,
          grad_scale: float = 1e-3) -> TrackingResult:
    """Run both updates ``steps`` times on seeded gradients; see the module docstring."""
    if steps < 1 or weights < 1:
        raise ValueError(f"steps and weights must be positive, not {steps} and {weights}")
    rng = np.random.default_rng(seed)
    W, G = cfg.weight, cfg.grad
    clip, w_codes, w_float = _initial(cfg, rng, weights)
    ref = Madam(w_float, eta=cfg.eta, beta=cfg.beta, g_bound=cfg.g_bound, base=2,
                p_scale=float(lns.decode(W, clip)) / float(np.sqrt(np.mean(w_float ** 2))))
    v_codes = np.zeros(weights, dtype=np.int64)
    state = lns.lane_seeds(seed, 1) if cfg.is_stochastic else None
    scale = grad_scale * np.exp2(rng.normal(0, 1, weights))     # per-weight gradient scale
    max_err = step_max = 0.0
    step_sq = step_sum = 0.0
    step_n = step_diff = 0
    to_lsb = 2.0 ** W.frac_bits
    eta_lsb = cfg.eta * to_lsb
    for t in range(1, steps + 1):
        g_codes = lns.encode(G, rng.normal(0.0, 1.0, weights) * scale)
        g_float = lns.decode(G, g_codes)
        if not cfg.has_second_moment:
            g_float = np.sign(g_float)          # |g_hat| = 1: feed the reference unit gradients
        prev = w_codes & ((1 << W.log_bits) - 1)
        w_codes, v_codes = lns.madam_update(cfg, w_codes, g_codes, v_codes, t, clip=clip,
                                            lfsr_state=state)
        w_float = ref.step(w_float, g_float)
        # Per-step error: the LNS step against the float step eta * g_hat of the reference
        # (its own second moment), away from the clip and the floor.
        new = w_codes & ((1 << W.log_bits) - 1)
        sgn = np.where(w_codes >> W.log_bits, -1.0, 1.0)
        inside = (new < clip) & (new > W.e_min)
        d_lns = (new - prev)[inside]
        d_float = -eta_lsb * ref.g_hat[inside] * sgn[inside]
        d_err = d_lns - d_float
        if d_err.size:
            step_max = max(step_max, float(np.max(np.abs(d_err))))
            step_sq += float(np.sum(d_err ** 2))
            step_sum += float(np.sum(d_err))
            step_diff += int(np.count_nonzero(d_lns != np.rint(d_float)))   # rint: half-even
            step_n += d_err.size
        err = (np.log2(np.abs(lns.decode(W, w_codes))) - np.log2(np.abs(w_float))) * to_lsb
        max_err = max(max_err, float(np.max(np.abs(err))))
    w_lns = lns.decode(W, w_codes)
    return TrackingResult(
        preset=cfg.name, steps=steps, weights=weights, max_lsb=max_err,
        final_rms_lsb=float(np.sqrt(np.mean(err ** 2))), final_max_lsb=float(np.max(np.abs(err))),
        final_rel_err=float(np.sqrt(np.mean(((w_lns - w_float) / w_float) ** 2))),
        mean_drift_lsb=float(np.mean(err)), step_rms_lsb=float(np.sqrt(step_sq / max(step_n, 1))),
        step_max_lsb=step_max, step_mean_lsb=step_sum / max(step_n, 1),
        step_mismatch_share=step_diff / max(step_n, 1), steps_compared=step_n)
