"""sim.analysis.demo: the quick look `lnsmadam demo` prints, and the preset summary."""

import pytest

from lns import presets
from sim.analysis.demo import describe, quick_look, tensor_step


@pytest.mark.parametrize("name", ["lns12", "lns8_sign"])
def test_tensor_step_agrees_with_the_scalar_reference(name):
    r = tensor_step(presets.get(name), seed=3, n=5000, checked=300)
    assert r["weights"] == 5000 and r["python_checked"] == 300
    assert r["python_agrees"] == 300
    assert r["updates_per_s"] == pytest.approx(5000 / r["seconds"])


@pytest.mark.parametrize("name", [p for p in presets.names() if p != "tiny"])
def test_every_rule_steps_through_the_contract(name, capsys):
    """Any rule's preset: one step of a seeded tensor, the fast evaluator against the exact
    one, and the demo command's description line."""
    from sim.cli import main
    from sim.cli.commands.demo import describe_line
    cfg = presets.get(name)
    r = tensor_step(cfg, seed=1, n=400, checked=60)
    assert r["python_checked"] == r["python_agrees"] == 60
    line = describe_line(cfg)
    assert line.startswith(f"preset {name} (") and f"w {cfg.word_formats['w'].name}" in line
    for role, t in cfg.rom_tables().items():
        assert f"{role} table {t['bits']} bits" in line
    if name == "lns8_lion":                          # the command runs on any rule
        assert main(["demo", "--preset", name, "--steps", "2", "--weights", "10"]) == 0
        assert capsys.readouterr().out.startswith(line + "\n")


def test_quick_look_tracks_every_preset_but_tiny():
    seen = []
    r = quick_look(presets.get("lns12"), steps=5, weights=20, seed=1,
                   progress=lambda i, n, label: seen.append((i, n, label)))
    names = [p for p in presets.names("madam") if p != "tiny"]
    assert [row["preset"] for row in r["tracking"]] == names
    assert seen == [(i, len(names), p) for i, p in enumerate(names)]
    assert r["preset"] == describe(presets.get("lns12"))
    assert r["tensor"]["python_agrees"] == r["tensor"]["python_checked"]


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_quick_look_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match=f"steps must be a positive int, not {bad!r}"):
        quick_look(presets.get("tiny"), steps=bad)


def test_describe_reads_the_formats():
    cfg = presets.get("lns8_sign")
    d = describe(cfg)
    assert d["weight"]["bits"] == cfg.weight.total_bits == 8
    assert d["weight"]["min"] < 1 < d["weight"]["max"]
    assert d["sb_table_bits"] == 0 and d["exp2_table_bits"] > 0      # sign: no sb table
    assert describe(presets.get("lns12"))["sb_table_bits"] == presets.get("lns12").sb_table.bits
