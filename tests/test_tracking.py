"""The LNS update tracks base-2 float Madam (python_ref) on the same gradients.

Each step rounds the log step to whole LSBs (error uniform in +-1/2 LSB for nearest-even),
so the per-step error stays near half an LSB while the accumulated difference is a random
walk of RMS sqrt(steps / 12) LSBs: that is what these bounds pin.
"""

import math

import pytest

from lns import LNSFormat, presets
from sim.analysis.tracking import track

WIDE = presets.get("lns16").replace(
    grad=LNSFormat(6, 12, bias=40), moment=LNSFormat(8, 16, bias=200, signed=False),
    step_frac_bits=10, exp_bits=14, name="lns16_wide")


@pytest.mark.parametrize("cfg", [WIDE, presets.get("lns16"), presets.get("lns12")],
                         ids=lambda c: c.name)
def test_tracks_float_madam_for_1000_steps(cfg):
    r = track(cfg, steps=1000, weights=2000, seed=0)
    walk = math.sqrt(r.steps / 12)
    assert r.step_max_lsb <= 0.75            # one step: rounding (1/2) + quantised v and tables
    assert 0.25 <= r.step_rms_lsb <= 0.32    # uniform rounding error has RMS 1/sqrt(12) = 0.289
    assert r.final_rms_lsb <= 1.15 * walk
    assert abs(r.mean_drift_lsb) <= 1.0      # no systematic drift
    assert r.max_lsb < 5 * walk


def test_tracking_detects_a_wrong_eta():
    """The same measurement flags a float reference whose step is off (half the eta)."""
    from python_ref import Madam
    from sim.analysis import tracking

    class HalfEta(Madam):
        def __init__(self, *a, eta, **k):
            super().__init__(*a, eta=eta / 2, **k)

    cfg = presets.get("lns16")
    good = track(cfg, steps=20, weights=500)
    orig, tracking.Madam = tracking.Madam, HalfEta
    try:
        off = track(cfg, steps=20, weights=500)
    finally:
        tracking.Madam = orig
    assert good.final_rms_lsb < 2.5 < 5.0 < off.final_rms_lsb
