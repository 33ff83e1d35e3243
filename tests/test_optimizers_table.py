"""One datapath, every LNS optimizer (`sim.analysis.optimizers`).

The synthesis step is replaced by a stand-in that returns made-up, known cell counts and
Fmax (a real run of the twelve units takes tens of minutes; `tests/test_cost.py` runs the real
flow on both targets), so every derived number (rates, densities, ratios) is checked against
arithmetic done here.  The configurations, ROM bits, words moved and energies are the real
ones, checked against the presets, the sidecar's tables and the published algorithms.
"""

import json
import struct

import pytest

import rtl
import rtl.cost as cost
from lns import presets
from lns.errors import InvalidType, InvalidValue
from sim.analysis.energy import energy_estimate
from sim.analysis.optimizers import (OPTIMIZERS, RATIO_FIELDS, compare_optimizers, config_for,
                                     plot_optimizers, render_markdown)

# made-up costs: (LUT4, carries, FFs, BRAMs, Fmax) by rule
FAKE = {"madam": (1000, 200, 1100, 0, 100.0), "adam": (2500, 500, 2000, 4, 80.0),
        "sgd": (1500, 300, 1200, 2, 90.0), "lion": (1600, 320, 1250, 2, 85.0)}
# the words of each algorithm (the papers): Madam w, g, v -> w, v; Adam w, g, m, v -> w, m, v;
# SGD with momentum and Lion w, g, m -> w, m
WORDS = {"madam": 5, "adam": 7, "sgd": 5, "lion": 5}


def _rule(cfg):
    return str(getattr(cfg, "optimizer", "madam"))


@pytest.fixture
def fake_synthesis(monkeypatch):
    """`rtl.cost.synthesis_report` replaced: FAKE counts scaled by weight width / 8, the
    real ROM bits (sidecar tables) and latency; a unit named in ``too_big`` does not fit."""
    calls, too_big = [], set()

    def fake(cfg, lanes=1, *, pnr=True, progress=None, target="ice40"):
        calls.append((cfg.name, lanes, pnr, target))
        luts, carries, ffs, brams, fmax = FAKE[_rule(cfg)]
        k = cfg.weight.total_bits / 8
        fits = cfg.name not in too_big
        tables = rtl.table_summary(cfg)
        return {"target": target, "latency": 10 + cfg.weight.total_bits,
                target: {"luts": int(luts * k), "carries": int(carries * k), "ffs": int(ffs * k),
                         "brams": brams, "dsps": 0},
                "rom_bits": {"total": sum(t["bits"] for t in tables.values())},
                "ports": {"wrapped": False}, "cached": False,
                "pnr": None if not pnr else {
                    "fits": fits, "fmax_mhz": fmax if fits else None,
                    "message": None if fits else "ERROR: device only has 7680"}}
    monkeypatch.setattr(cost, "synthesis_report", fake)
    return calls, too_big


def _by(result):
    return {(r["width"], r["optimizer"]): r for r in result["rows"]}


def test_configs_are_the_presets_then_the_families():
    # every LNS rule of the registry, in its order
    assert list(OPTIMIZERS) == ["madam", "adam", "sgd", "lion"]
    assert [config_for(o, 12)[0].name for o in OPTIMIZERS] == ["lns12", "lns12_adam",
                                                               "lns12_sgd", "lns12_lion"]
    assert config_for("lion", 8) == (presets.get("lns8_lion"), "preset")
    for bits in (8, 16):
        assert config_for("madam", bits)[0] is presets.get(f"lns{bits}")
        assert config_for("adam", bits)[0] is presets.get(f"lns{bits}_adam")
        sgd, how = config_for("sgd", bits)
        assert how == "family" and sgd.optimizer == "sgd"
        # the family keeps Madam's weight format at that width
        assert sgd.weight == presets.get(f"lns{bits}").weight


def test_rows_rates_and_ratios(fake_synthesis):
    calls, _ = fake_synthesis
    lines = []
    r = compare_optimizers(target="ecp5", progress=lines.append)
    json.dumps(r)
    assert r["widths"] == [8, 12, 16] and r["target"] == "ecp5" and r["pnr"]
    assert [(x["width"], x["optimizer"]) for x in r["rows"]] == \
        [(w, o) for w in (8, 12, 16) for o in ("madam", "adam", "sgd", "lion")]
    assert len(calls) == 12 and {c[3] for c in calls} == {"ecp5"}
    assert len(lines) == 12 and lines[0].startswith("[1/12] LNS Madam at 8 bits: lns8")
    assert [x["baseline"] for x in r["rows"]] == [x["optimizer"] == "madam" for x in r["rows"]]
    by = _by(r)
    for (w, o), row in by.items():
        cfg = config_for(o, w)[0]
        luts, carries, ffs, brams, fmax = FAKE[o]
        k = cfg.weight.total_bits / 8
        assert row["config"] == cfg.name and row["status"] == "ok" and row["fits"] is True
        # ECP5: a CCU2C holds two LUT4s
        assert row["lut4_equiv"] == int(luts * k) + 2 * int(carries * k)
        assert row["updates_per_s"] == pytest.approx(fmax * 1e6)
        assert row["updates_per_s_per_k_lut4"] == pytest.approx(
            fmax * 1e6 / (row["lut4_equiv"] / 1000))
        assert row["rom_bits"] == sum(t["bits"] for t in rtl.table_summary(cfg).values())
        assert row["energy_pj"] == energy_estimate(cfg)["unit"]["total_pj"]
        # the words of the published algorithms
        assert row["words_moved"] == WORDS[o]
        assert row["bits_moved"] == sum(cfg.update_bits)
    for w in (8, 12, 16):
        m, a, s = by[(w, "madam")], by[(w, "adam")], by[(w, "sgd")]
        assert a["ratio_vs_baseline"]["lut4_equiv"] == pytest.approx(
            a["lut4_equiv"] / m["lut4_equiv"], abs=1e-4)
        assert a["ratio_vs_baseline"]["fmax_mhz"] == pytest.approx(0.8)
        assert by[(w, "lion")]["ratio_vs_baseline"]["fmax_mhz"] == pytest.approx(0.85)
        assert s["ratio_vs_baseline"]["energy_pj"] == pytest.approx(
            s["energy_pj"] / m["energy_pj"], abs=1e-4)
        assert m["ratio_vs_baseline"]["luts"] == 1.0
        assert m["ratio_vs_baseline"]["brams"] is None         # Madam has none: no ratio
        assert set(a["ratio_vs_baseline"]) == set(RATIO_FIELDS)
        # ordering facts that hold whatever the synthesis says
        assert a["words_moved"] > m["words_moved"] and a["bits_moved"] > m["bits_moved"]
        assert a["energy_pj"] > m["energy_pj"]


def test_ice40_density_counts_lut4_only(fake_synthesis):
    import io

    from testbench.progress import Progress
    log = io.StringIO()
    with Progress("optimizers", file=log) as bar:              # a Progress takes the notes
        r = compare_optimizers(widths=[12], target="ice40", lanes=4, progress=bar)
    assert "optimizers: [1/4] LNS Madam at 12 bits: lns12" in log.getvalue()
    row = _by(r)[(12, "madam")]
    luts, _, _, _, fmax = FAKE["madam"]
    luts = int(luts * 12 / 8)
    assert row["lut4_equiv"] == row["luts"] == luts
    assert row["updates_per_s"] == pytest.approx(4 * fmax * 1e6)
    assert row["updates_per_s_per_k_lut4"] == pytest.approx(4 * fmax * 1e6 / (luts / 1000))


def test_a_unit_that_does_not_fit_is_a_row(fake_synthesis):
    _, too_big = fake_synthesis
    too_big.add("lns16_adam")
    r = compare_optimizers(widths=(16,))
    row = _by(r)[(16, "adam")]
    assert row["status"] == "does not fit" and row["fits"] is False
    assert row["fmax_mhz"] is None and row["updates_per_s_per_k_lut4"] is None
    assert row["luts"] > 0                                   # Yosys still counted it
    assert row["ratio_vs_baseline"]["fmax_mhz"] is None
    assert row["ratio_vs_baseline"]["luts"] == pytest.approx(
        row["luts"] / _by(r)[(16, "madam")]["luts"], abs=1e-4)
    md = render_markdown(r)
    assert "LNS Adam at 16 bits (lns16_adam) does not fit" in md
    assert "device only has 7680" in md


def test_without_pnr_there_is_no_fmax(fake_synthesis):
    calls, _ = fake_synthesis
    r = compare_optimizers(widths=(8,), pnr=False)
    assert {c[2] for c in calls} == {False}
    for row in r["rows"]:
        assert row["fits"] is None and row["fmax_mhz"] is None
        assert row["updates_per_s"] is None and row["status"] == "ok"


def test_markdown_section(fake_synthesis):
    r = compare_optimizers(target="ecp5")
    md = render_markdown(r)
    assert md.startswith("## One datapath, four optimizers\n")
    assert "LNS Madam, LNS Adam, LNS SGD and LNS Lion, one update unit each" in md
    assert "ECP5 LFE5U-85F" in md
    table = [ln for ln in md.splitlines() if ln.startswith("| 12 | LNS Adam |")]
    assert len(table) == 1
    cells = [c.strip() for c in table[0].strip("|").split("|")]
    row = _by(r)[(12, "adam")]
    assert cells[2] == "lns12_adam" and int(cells[3]) == row["luts"]
    assert int(cells[4]) == row["lut4_equiv"] and int(cells[8]) == row["rom_bits"]
    ratio = [ln for ln in md.splitlines() if ln.startswith("| 12 | LNS Adam / LNS Madam |")]
    assert len(ratio) == 1
    first = float(ratio[0].strip("|").split("|")[2])
    assert first == pytest.approx(row["lut4_equiv"] / _by(r)[(12, "madam")]["lut4_equiv"],
                                  abs=0.01)
    for name in ("SGD", "Lion"):
        assert sum(ln.startswith(f"| 8 | LNS {name} / LNS Madam |")
                   for ln in md.splitlines()) == 1


def test_plot_writes_a_png(fake_synthesis, tmp_path):
    r = compare_optimizers(widths=(8, 12))
    path = plot_optimizers(r, tmp_path / "optimizers.png")
    data = (tmp_path / "optimizers.png").read_bytes()
    assert path.endswith("optimizers.png") and data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 500 and height > 200


def test_bad_arguments(fake_synthesis):
    calls, _ = fake_synthesis
    with pytest.raises(InvalidType, match=r"^widths must be a sequence of ints, not '8'$"):
        compare_optimizers(widths="8")
    with pytest.raises(InvalidValue, match=r"^widths must be a non-empty sequence of ints"):
        compare_optimizers(widths=[])
    with pytest.raises(InvalidValue, match=r"^target must be one of ice40, ecp5, not 'xc7'$"):
        compare_optimizers(target="xc7")
    with pytest.raises(InvalidValue, match=r"^target must be one of ice40, ecp5, not \['ecp5'\]$"):
        compare_optimizers(target=["ecp5"])
    with pytest.raises(InvalidValue, match=r"^lanes must be a positive int, not 0$"):
        compare_optimizers(lanes=0)
    # a width the families reject fails before any synthesis
    with pytest.raises(InvalidValue, match=r"weight bits must be between"):
        compare_optimizers(widths=[8, 3])
    assert calls == []
