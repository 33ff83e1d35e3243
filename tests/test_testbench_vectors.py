"""Vectors of every rule: determinism, the one hex line format (Madam's line unchanged),
the model's expectations over the stream, exhaustive sets; the compare's grouping report
(LNS and IEEE words decoded)."""

import io

import numpy as np
import pytest

from lns import presets
from testbench import vectors as V
from testbench.compare import UNKNOWN, Outputs, compare, word_text
from testbench.recipes import recipe_of

NAMES = presets.names()


@pytest.mark.parametrize("preset", NAMES)
def test_same_seed_same_bytes_and_the_lines_round_trip(preset):
    cfg = presets.get(preset)
    lanes = 3 if cfg.is_stochastic else 1
    a = V.generate(cfg, 1500, seed=4, lanes=lanes)
    assert a.to_text() == V.generate(cfg, 1500, seed=4, lanes=lanes).to_text()
    assert V.generate(cfg, 1500, seed=5, lanes=lanes).to_text() != a.to_text()
    back = V.parse(a.to_text())
    assert back.cfg == cfg and back.lanes == lanes and back.fields == a.fields
    for name, x, y in zip(a.fields, back.columns(), a.columns()):
        assert np.array_equal(x, y), name
    # every group is whole beats; the expectations are the model's over the stream
    assert all((b - s) % lanes == 0 for s, b, _ in a.groups())
    again = V.expected_outputs(cfg, a.t, a.tensor, a.words, lanes=lanes, lfsr_seed=a.lfsr_seed)
    assert all(np.array_equal(again[k], a.expected[k]) for k in cfg.output_roles)


@pytest.mark.parametrize("preset", ["lns8", "lns8_lion", "bf16_adam"])
def test_expectations_are_the_python_model_over_the_stream(preset):
    """The reference evaluator's outputs equal the exact scalar reference's over a whole
    stream of several groups, lanes' LFSRs running through the groups."""
    cfg = presets.get(preset)
    vs = V.generate(cfg, 1200, seed=2, lanes=2)
    assert len(vs.groups()) >= min(2, len(recipe_of(cfg).groups(cfg, 2)))
    exact = V.expected_outputs(cfg, vs.t, vs.tensor, vs.words, lanes=2,
                               lfsr_seed=vs.lfsr_seed, evaluator="python")
    for k in cfg.output_roles:
        assert np.array_equal(exact[k], vs.expected[k]), k


def test_madam_line_format_is_unchanged():
    """``t clip w g v w_out v_out`` with 8 hex digits of t and whole digits of each word (the
    saved cases and vector files of before still read)."""
    cfg = presets.get("lns12")
    vs = V.generate(cfg, 600, seed=1)
    assert vs.header().splitlines()[-1] == "# fields t clip w g v w_out v_out"
    assert '"optimizer": "madam"' in vs.header()
    line = vs.lines().decode().splitlines()[0].split()
    assert [len(f) for f in line] == [8, 3, 3, 3, 5, 3, 5]
    assert int(line[0], 16) == vs.t[0] and int(line[1], 16) == vs.clip[0]
    assert int(line[6], 16) == vs.exp_v[0]


@pytest.mark.parametrize("preset,fields,digits", [
    ("lns12_adam", "t w g m v w_out m_out v_out", [8, 3, 3, 4, 5, 3, 4, 5]),
    ("lns12_lion", "t w g m w_out m_out", [8, 3, 3, 4, 3, 4]),
    ("fp32_adam", "t w g m v w_out m_out v_out", [8] + [8] * 7)])
def test_line_format_by_role(preset, fields, digits):
    vs = V.generate(presets.get(preset), 300, seed=1)
    assert vs.header().splitlines()[-1] == f"# fields {fields}"
    assert [len(f) for f in vs.lines().decode().splitlines()[0].split()] == digits


def test_parse_rejects_other_fields():
    text = V.generate(presets.get("lns12_sgd"), 100, seed=1).to_text()
    with pytest.raises(ValueError, match="vector fields must be t w g m w_out m_out"):
        V.parse(text.replace("# fields t w g m w_out m_out", "# fields t w g v w_out v_out"))


def test_exhaustive_tiny_is_every_triple():
    cfg = presets.get("tiny")
    vs = V.exhaustive(cfg)
    m = 64 * 32 * 64
    assert len(vs) == 3 * m and len(vs.groups()) == 3
    triples = vs.w[:m] * (1 << 11) + vs.g[:m] * 64 + vs.v[:m]
    assert np.array_equal(np.sort(triples), np.arange(m))


def test_bad_arguments():
    with pytest.raises(ValueError, match="n must be a positive int, not 0"):
        V.generate(presets.get("tiny"), 0)
    with pytest.raises(ValueError, match="exhaustive vectors need at most"):
        V.exhaustive(presets.get("lns12"))
    with pytest.raises(V.NoExhaustiveSet, match="lns12_sgd has no exhaustive vector set"):
        V.exhaustive(presets.get("lns12_sgd"))


@pytest.mark.parametrize("preset", NAMES)
def test_recipe_groups_and_words_are_valid(preset):
    """The recipe's first group is t = 1; its words are words of each role's format."""
    cfg = presets.get(preset)
    recipe = recipe_of(cfg)
    groups = recipe.groups(cfg, 1)
    assert groups[0].t == 1 and set(groups[0].kw) == set(recipe.TENSOR_HELD)
    rng = np.random.default_rng(0)
    for part in (recipe.edges(cfg, groups[-1]), recipe.specials(cfg, groups[-1], rng, 512, 1),
                 recipe.randoms(cfg, groups[-1], rng, 100)):
        assert set(part) == set(cfg.WORD_ROLES)
        for k in cfg.WORD_ROLES:         # (word_formats also has written-only roles)
            fmt = cfg.word_formats[k]
            a = part[k]
            assert a.dtype == np.int64 and len(a) == len(part["w"])
            assert a.min() >= 0 and a.max() < 1 << fmt.total_bits, k


# ---- the compare ---------------------------------------------------------------------------
def test_compare_groups_evaluators_by_value():
    cfg = presets.get("lns12")
    vs = V.generate(cfg, 600, seed=3)
    good = Outputs.full(vs.expected)
    bad = dict(vs.expected, w=vs.exp_w.copy())
    bad["w"][7] ^= 1
    results = {"python": good, "numba": good, "icarus": good,
               "verilator": Outputs.full(bad)}
    out = io.StringIO()
    s = compare(vs, results, out=out)
    text = out.getvalue()
    assert not s["ok"] and s["cases"] == [7]
    assert s["evaluators"]["verilator"]["mismatches"] == 1
    assert s["evaluators"]["icarus"]["mismatches"] == 0
    line = next(x for x in text.splitlines() if x.strip().startswith("w'"))
    assert f"python, numba, icarus agree on 0x{vs.exp_w[7]:03x}" in line
    assert f"verilator says 0x{bad['w'][7]:03x}" in line
    assert "(" in line                                  # decoded value beside the hex
    assert f"case 7: t={vs.t[7]} x_bc=" in text and f"clip=0x{vs.clip[7]:x}" in text


def test_compare_an_ieee_rule_reports_words_exactly():
    """bf16 words decoded exactly (specials by name), against the rule's own reference
    (numpy), its held words k1, k2 printed."""
    cfg = presets.get("bf16_adam")
    vs = V.generate(cfg, 300, seed=3)
    bad = {k: a.copy() for k, a in vs.expected.items()}
    bad["m"][4] = cfg.fmt.pos_inf
    out = io.StringIO()
    s = compare(vs, {"numpy": Outputs.full(vs.expected), "python": Outputs.full(vs.expected),
                     "icarus": Outputs.full(bad)}, out=out)
    assert s["cases"] == [4] and s["evaluators"]["icarus"]["mismatches"] == 1
    text = out.getvalue()
    assert "icarus says 0x7f80 (inf)" in text and "numpy, python agree on" in text
    assert "k1=0x" in text and "k2=0x" in text
    fmt = cfg.fmt
    assert word_text(fmt, fmt.canonical_nan) == "0x7fc0 (nan)"
    assert word_text(fmt, fmt.neg_inf) == "0xff80 (-inf)"
    assert word_text(fmt, 0x3f80) == "0x3f80 (1)"


def test_compare_stops_after_max_report_and_counts_unknowns():
    cfg = presets.get("tiny")
    vs = V.generate(cfg, 600, seed=3)
    wrong = Outputs.full(dict(vs.expected, w=vs.exp_w ^ 1))
    part = Outputs.full(vs.expected)
    for a in part.words.values():
        a[10:] = UNKNOWN
    out = io.StringIO()
    s = compare(vs, {"numba": Outputs.full(vs.expected), "python": part,
                     "icarus": wrong}, max_report=3, out=out)
    assert s["evaluators"]["icarus"]["mismatches"] == len(vs)
    assert s["evaluators"]["python"] == {"vectors": 600, "mismatches": 0}
    assert out.getvalue().count("case ") == 3 and "more disagreeing cases" in out.getvalue()
