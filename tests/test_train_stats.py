"""sim.analysis.training.stats: paired differences over seeds, the Student-t interval and the
verdict words, checked against scipy's t quantile and hand arithmetic."""

import math

import pytest
from scipy import stats as st

from lns.errors import InvalidValue
from sim.analysis.training.stats import compare_runs, paired, verdict


def test_paired_interval_on_known_numbers():
    a = [97.0, 96.0, 98.5, 95.5, 97.5]
    b = [96.0, 96.5, 97.0, 95.0, 96.0]
    p = paired(a, b)
    d = [1.0, -0.5, 1.5, 0.5, 1.5]                 # a - b by hand
    mean = sum(d) / 5                                # 0.8
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / 4)
    half = st.t.ppf(0.975, 4) * sd / math.sqrt(5)    # t(0.975, 4) = 2.776...
    assert p["n"] == 5 and p["mean"] == pytest.approx(0.8)
    assert p["sd"] == pytest.approx(sd) and p["t"] == pytest.approx(2.7764451, rel=1e-6)
    assert (p["ci_lo"], p["ci_hi"]) == (pytest.approx(mean - half), pytest.approx(mean + half))
    assert p["diffs"] == pytest.approx(d)


def test_one_seed_has_no_interval_and_zero_spread_a_point_interval():
    p = paired([1.0], [0.5])
    assert p["n"] == 1 and p["ci_lo"] is None and p["mean"] == 0.5
    q = paired([2.0, 3.0, 4.0], [1.0, 2.0, 3.0])
    assert q["ci_lo"] == q["ci_hi"] == 1.0
    with pytest.raises(InvalidValue):
        paired([1.0, 2.0], [1.0])


@pytest.mark.parametrize("lo,hi,sign,word", [
    (-0.5, 0.8, +1, "comparable"), (0.2, 3.0, +1, "better"), (-3.0, -0.2, +1, "worse"),
    (-3.0, 2.0, +1, "inconclusive"), (0.2, 3.0, -1, "worse"), (-0.9, 1.0, -1, "comparable"),
    (1.5, 2.5, +1, "better")])
def test_verdict_words(lo, hi, sign, word):
    assert verdict({"ci_lo": lo, "ci_hi": hi, "mean": (lo + hi) / 2}, 1.0, sign) == word


def _runs(errs, seeds=None):
    return [{"seed": s, "test_err": e, "test_loss": 0.1, "train_loss": 0.05,
             "curves": {"test_err": [e]}} for s, e in zip(seeds or range(len(errs)), errs)]


def test_compare_runs_pairs_by_seed_and_writes_the_numbers():
    # b listed in another order: pairing is by seed, not by position
    a = _runs([0.05, 0.04, 0.06], seeds=[0, 1, 2])
    b = _runs([0.10, 0.09, 0.08], seeds=[2, 0, 1])          # seed 0: 0.09, 1: 0.08, 2: 0.10
    v = compare_runs("A", a, "B", b, tolerance=1.0)
    assert v["seeds"] == [0, 1, 2]
    assert v["diff_mean"] == pytest.approx(((9 - 5) + (8 - 4) + (10 - 6)) / 3)   # 4 points
    assert v["ci_lo"] == v["ci_hi"] == pytest.approx(4.0) and v["verdict"] == "better"
    assert v["text"].startswith("A vs B, test accuracy: better (95.00 vs 91.00;")
    assert "+4.00 points over 3 seeds" in v["text"]
    with pytest.raises(InvalidValue, match="share no seed"):
        compare_runs("A", a, "B", _runs([0.1], seeds=[7]))


def _row(optimizer, label, bits, accs, rounding=None):
    runs = [{"seed": s, "test_err": 1 - a / 100, "test_loss": 0.1, "train_loss": 0.05,
             "curves": {"test_err": [1 - a / 100]}} for s, a in enumerate(accs)]
    return {"optimizer": optimizer, "label": label, "weight_bits": bits, "rounding": rounding,
            "model": "mlp", "runs": runs, "test_acc_mean": sum(accs) / len(accs),
            "test_acc_std": 0.5}


def test_findings_name_the_failures_and_the_rescue_from_the_numbers():
    from sim.analysis.training import findings, verdicts
    rows = [_row("madam", "Madam, base 2", None, [96, 95, 96]),
            _row("lns", "LNS Madam 6-bit", 6, [93, 94, 93]),
            _row("lns_adam", "LNS Adam 6-bit, RNE", 6, [30, 35, 25], "nearest_even"),
            _row("lns_adam", "LNS Adam 6-bit, SR", 6, [94, 95, 93], "stochastic"),
            _row("lns_sgd", "LNS SGD 6-bit, RNE", 6, [88, 89, 87], "nearest_even")]
    result = {"rows": rows, "models": ["mlp"]}
    result["verdicts"] = verdicts(result)
    f = findings(result)
    fails = {(r["rule"], r["rounding"]): r["fails"] for r in f["rows"]}
    # Adam RNE: -63.3 points with a CI below 0: fails; SGD RNE: -5.3 points: worse, not failed
    assert fails == {("lns_adam", "nearest_even"): True, ("lns_adam", "stochastic"): False,
                     ("lns_sgd", "nearest_even"): False}
    assert f["rescued"] == [{"rule": "lns_adam", "bits": 6}]
    assert f["text"][0].startswith("LNS Adam fails to train where LNS Madam trains at 6 bits")
    assert any(t.startswith("LNS Adam 6-bit: stochastic rounding rescues it") for t in f["text"])
    assert any("LNS SGD is worse than LNS Madam without failing" in t for t in f["text"])
