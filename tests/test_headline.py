"""The headline comparison (`sim.analysis.headline`, `lnsmadam headline`).

The synthesis of the nine units is replaced by a stand-in with made-up, known counts and
Fmax (the real run takes minutes; `tests/test_cost.py` runs the real flow), so every derived
number (LUT4 equivalents, rates, densities, ratios, the sentence) is checked against
arithmetic done here.  The words moved and the float energies are checked against the
IEEE formats' widths and Horowitz's published figures, written out here.  One real, uncached
synthesis of the 18x18 multiplier (with and without DSP blocks, about 4 s) checks the
measured DSP equivalent.
"""

import json
import struct

import pytest

import rtl.cost as cost
import sim.analysis.headline as headline
from lns import presets
from lns.errors import InvalidType, InvalidValue
from sim.analysis.energy import energy_estimate
from sim.analysis.headline import (UNITS, answer_sentence, compare_number_systems,
                                   dsp_equivalent, plot_headline, render_markdown)
from sim.cli import main

# made-up costs by preset: (LUT4, carries, FFs, DSPs, BRAMs, Fmax MHz)
FAKE = {"lns8": (300, 40, 400, 0, 0, 120.0), "lns12": (500, 60, 600, 0, 0, 100.0),
        "lns16": (800, 80, 900, 0, 1, 90.0), "lns8_adam": (1200, 100, 1300, 0, 2, 80.0),
        "lns12_adam": (2000, 150, 2100, 0, 4, 70.0), "lns16_adam": (3000, 200, 3200, 0, 8, 60.0),
        "lns12_lion": (1500, 120, 1400, 0, 3, 75.0),
        "fp32_adam": (7000, 900, 4000, 30, 0, 40.0), "bf16_adam": (2500, 800, 3600, 7, 0, 47.0)}
DSP_EQ = 500                                   # made-up LUT4 equivalent of one DSP block


@pytest.fixture
def fake(monkeypatch):
    """`rtl.cost.synthesis_report` and the DSP measurement replaced; a preset in
    ``too_big`` does not fit the device."""
    calls, too_big = [], set()

    def synthesis(cfg, lanes=1, *, pnr=True, progress=None, target="ice40"):
        calls.append((cfg.name, lanes, pnr, target))
        luts, carries, ffs, dsps, brams, fmax = FAKE[cfg.name]
        fits = cfg.name not in too_big
        return {"target": target, "latency": 7 + len(cfg.name),
                target: {"luts": luts, "carries": carries, "ffs": ffs, "brams": brams,
                         "dsps": dsps if target == "ecp5" else 0},
                "ports": {"wrapped": False}, "cached": False, "rom_bits": {"total": 0},
                "pnr": None if not pnr else {
                    "fits": fits, "fmax_mhz": fmax if fits else None,
                    "message": None if fits else "ERROR: device only has 7680 ICESTORM_LCs"}}

    def dsp(**_):
        return {"dsp_lut4_equiv": DSP_EQ, "with_dsp": {"lut4_equiv": 0},
                "without_dsp": {"luts": 460, "carries": 20, "lut4_equiv": DSP_EQ}}
    monkeypatch.setattr(cost, "synthesis_report", synthesis)
    monkeypatch.setattr(headline, "dsp_equivalent", dsp)
    return calls, too_big


def _by(result):
    return {r["preset"]: r for r in result["rows"]}


def _equiv(preset, target):
    luts, carries, _, dsps, _, _ = FAKE[preset]
    return luts + (2 * carries + DSP_EQ * dsps if target == "ecp5" else 0)


def test_rows_equivalents_rates_and_ratios(fake):
    calls, _ = fake
    lines = []
    r = compare_number_systems("ecp5", progress=lines.append)
    json.dumps(r)
    assert [x["preset"] for x in r["rows"]] == [u[0] for u in UNITS] == list(FAKE)
    assert {c[3] for c in calls} == {"ecp5"} and {c[1] for c in calls} == {1}
    assert lines[0] == "[1/9] LNS Madam 8-bit: lns8" and len(lines) == 9
    assert r["dsp_lut4_equiv"] == DSP_EQ
    by = _by(r)
    base_density = 100e6 / (_equiv("lns12", "ecp5") / 1000)
    for p, row in by.items():
        luts, carries, ffs, dsps, brams, fmax = FAKE[p]
        eq = _equiv(p, "ecp5")
        assert (row["luts"], row["carries"], row["ffs"], row["dsps"], row["brams"]) == \
            (luts, carries, ffs, dsps, brams)
        assert row["lut4_equiv"] == eq and row["fits"] is True and row["status"] == "ok"
        cfg = presets.get(p)
        assert row["optimizer"] == str(cfg.optimizer) and row["bits"] == cfg.word_bits["w"]
        assert row["updates_per_s"] == pytest.approx(fmax * 1e6)
        assert row["updates_per_s_per_k_lut4"] == pytest.approx(fmax * 1e6 / (eq / 1000))
        assert row["ratio_vs_baseline"]["updates_per_s_per_k_lut4"] == pytest.approx(
            fmax * 1e6 / (eq / 1000) / base_density, abs=1e-4)
        assert row["ratio_vs_baseline"]["fmax_mhz"] == pytest.approx(fmax / 100.0, abs=1e-4)
    # FP32 Adam: 7000 LUT4 + 2 x 900 CCU2C + 30 x 500 per DSP
    assert by["fp32_adam"]["lut4_equiv"] == 23800
    assert by["lns12"]["ratio_vs_baseline"]["lut4_equiv"] == 1.0


def test_words_bytes_and_energy(fake):
    by = _by(compare_number_systems("ecp5"))
    # IEEE Adam reads w, g, m, v and writes w, m, v at the format's width
    assert by["fp32_adam"]["words_read"] == ["w", "g", "m", "v"]
    assert by["fp32_adam"]["words_written"] == ["w", "m", "v"]
    assert by["fp32_adam"]["bits_moved"] == 4 * 32 + 3 * 32
    assert by["fp32_adam"]["bytes_moved"] == 28
    assert by["bf16_adam"]["bits_moved"] == 4 * 16 + 3 * 16
    assert by["bf16_adam"]["bytes_moved"] == 14 and by["bf16_adam"]["words_moved"] == 7
    lns12 = presets.get("lns12")
    # Madam reads w, g, v and writes w, v
    assert by["lns12"]["words_moved"] == 5
    assert by["lns12"]["bits_moved"] == 2 * lns12.weight.total_bits + lns12.grad.total_bits \
        + 2 * lns12.moment.total_bits
    for p in ("lns8", "lns16_adam", "lns12_lion", "fp32_adam", "bf16_adam"):
        assert by[p]["energy_pj"] == energy_estimate(presets.get(p))["unit"]["total_pj"]
    # Lion reads w, g, m and writes w, m
    assert by["lns12_lion"]["words_read"] == ["w", "g", "m"]
    # Horowitz ISSCC 2014, 45 nm: fp32 add 0.9, mul 3.7; fp16 add 0.4, mul 1.1 pJ; SRAM
    # 10 pJ / 64 bits.  14 operations: 8 mul, 3 add + 1 sub, 1 sqrt, 1 div (5 MACs each).
    fp32 = 8 * 3.7 + 4 * 0.9 + 2 * 5 * (3.7 + 0.9) + 224 * 10 / 64
    bf16 = 8 * 1.1 + 4 * 0.4 + 2 * 5 * (1.1 + 0.4) + 112 * 10 / 64
    assert by["fp32_adam"]["energy_pj"] == pytest.approx(fp32, abs=1e-3)
    assert by["bf16_adam"]["energy_pj"] == pytest.approx(bf16, abs=1e-3)
    assert by["fp32_adam"]["energy_memory_pj"] == pytest.approx(35.0)


def test_sentence_follows_the_numbers(fake, monkeypatch):
    r = compare_number_systems("ecp5")
    by = _by(r)
    d = {p: FAKE[p][5] * 1e6 / (_equiv(p, "ecp5") / 1000) for p in FAKE}
    s = r["answer"]
    assert s == answer_sentence(r)
    fp32 = "/".join(f"{d[f'lns{w}'] / d['fp32_adam']:.1f}" for w in (8, 12, 16))
    bf16 = "/".join(f"{d[f'lns{w}'] / d['bf16_adam']:.1f}" for w in (8, 12, 16))
    ladam = "/".join(f"{d[f'lns{w}'] / d[f'lns{w}_adam']:.1f}" for w in (8, 12, 16))
    assert (f"per 1,000 LUT4 equivalents LNS Madam at 8/12/16 bits delivers {fp32} times "
            f"those of FP32 Adam, {bf16} times those of BF16 Adam and {ladam} times those of "
            "LNS Adam at the same width in updates per second") in s
    lo = min(d[f"lns{w}"] / d[f"lns{w}_adam"] for w in (8, 12, 16))
    hi = max(d[f"lns{w}"] / d[f"lns{w}_adam"] for w in (8, 12, 16))
    assert f"Madam is faster than Adam on LNS hardware at every width, by {lo:.1f} to " \
        f"{hi:.1f} times;" in s
    floor = min(d[f"lns{w}"] / d[f] for w in (8, 12, 16) for f in ("fp32_adam", "bf16_adam"))
    assert s.endswith(f"against the float Adam units it is faster, by at least {floor:.1f} "
                      "times.")
    md = render_markdown(r)
    assert f"**{s}**" in md and "HW-ADAM (Zhang et al., Electronics 2023)" in md
    assert "16.7 million updates per second" in md and "Ultra96" in md
    # swap Madam's and Adam's numbers: the sentence turns round
    for w in (8, 12, 16):
        by[f"lns{w}"]["updates_per_s_per_k_lut4"], by[f"lns{w}_adam"][
            "updates_per_s_per_k_lut4"] = (by[f"lns{w}_adam"]["updates_per_s_per_k_lut4"],
                                           by[f"lns{w}"]["updates_per_s_per_k_lut4"])
    s2 = answer_sentence(r)
    assert s2 != s and "Madam is not faster than Adam on LNS hardware at every width" in s2
    inv = "/".join(f"{d[f'lns{w}_adam'] / d[f'lns{w}']:.1f}" for w in (8, 12, 16))
    assert f"{inv} times those of LNS Adam" in s2


def test_ice40_does_not_fit_and_no_pnr(fake):
    calls, too_big = fake
    too_big.update({"fp32_adam", "bf16_adam"})
    r = compare_number_systems("ice40")
    assert r["dsp_lut4_equiv"] is None
    by = _by(r)
    for p in ("fp32_adam", "bf16_adam"):
        row = by[p]
        assert row["fits"] is False and row["status"] == "does not fit"
        assert row["fmax_mhz"] is None and row["updates_per_s_per_k_lut4"] is None
        assert row["lut4_equiv"] == FAKE[p][0]               # iCE40: LUT4 only
    assert "FP32 Adam (fp32_adam) does not fit the iCE40 HX8K" in render_markdown(r)
    # no float unit fits: named, not guessed; Madam 16 has no Adam partner there either
    too_big.add("lns16_adam")
    r = compare_number_systems("ice40")
    assert "(FP32 Adam and BF16 Adam have no Fmax here)" in r["answer"]
    assert "times those of LNS Adam at the same width" in r["answer"]
    assert "n/a times those of LNS Adam" in r["answer"]
    # iCE40 density: Fmax / LUT4 only
    x8, x12 = ((120.0 / 300) / (80.0 / 1200), (100.0 / 500) / (70.0 / 2000))
    assert (f"faster than Adam on LNS hardware at 8 and 12 bits (the widths measured), by "
            f"{min(x8, x12):.1f} to {max(x8, x12):.1f} times.") in r["answer"]
    assert "float Adam units" not in r["answer"].split(":")[-1]
    r = compare_number_systems("ecp5", pnr=False)
    assert {c[2] for c in calls[-9:]} == {False}
    assert all(x["updates_per_s"] is None and x["fits"] is None for x in r["rows"])
    assert r["answer"].startswith("No measured answer to the seed's claim on the ECP5")


def test_plot_writes_a_png(fake, tmp_path):
    calls, too_big = fake
    too_big.add("fp32_adam")
    path = plot_headline(compare_number_systems("ecp5"), tmp_path / "h.png")
    data = (tmp_path / "h.png").read_bytes()
    assert path.endswith("h.png") and data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24])[0] > 500


def test_command_line(fake, tmp_path, capsys):
    png = tmp_path / "h.png"
    assert main(["headline", "--target", "ecp5", "--json", "--plot", str(png)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["target"] == "ecp5" and len(out["rows"]) == 9 and png.exists()
    assert main(["headline", "--target", "ice40", "--no-pnr"]) == 0
    assert "## One update unit per optimizer and number system (iCE40 HX8K)" in \
        capsys.readouterr().out
    assert main(["headline", "--target", "virtex"]) == 2
    assert main(["headline", "--plot", str(tmp_path / "no" / "h.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "folder" in err[1] and "does not exist" in err[1]


def test_command_line_table_is_aligned(fake, capsys):
    """On a terminal the table lines up like the other commands' (it was raw Markdown): one
    width a column, the same cells, numbers right-aligned; still a Markdown table."""
    assert main(["headline", "--target", "ecp5"]) == 0
    table = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("|")]
    raw = [ln for ln in render_markdown(compare_number_systems("ecp5")).splitlines()
           if ln.startswith("|")]
    assert len(table) == len(raw) == 2 + len(UNITS)
    assert len({tuple(i for i, c in enumerate(ln) if c == "|") for ln in table}) == 1
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in table]
    assert [r for k, r in enumerate(cells) if k != 1] == \
        [[c.strip() for c in ln.strip("|").split("|")] for k, ln in enumerate(raw) if k != 1]
    rule = dict(zip(cells[0], cells[1]))
    assert rule["unit"] == "-" * len(rule["unit"]) and rule["LUT4"].endswith("-:")
    lns8 = next(r for r in table if "| lns8 " in r)
    col = cells[0].index("LUT4")
    assert lns8.split("|")[col + 1] == f" {FAKE['lns8'][0]:>4} "


def test_report_without_place_and_route_draws_no_empty_plot(fake, tmp_path):
    """No Fmax (no place and route): the report's headline has its table but no plot of
    area against Fmax (it used to draw empty axes); with place and route it has one."""
    from sim.report import build_report
    res = build_report(tmp_path / "r", sections=("headline",), pnr=False, progress=False)
    md = (tmp_path / "r" / "report.md").read_text()
    assert res["plots"] == {} and sorted(p.name for p in (tmp_path / "r").iterdir()) == \
        ["report.json", "report.md"]
    assert "![area against Fmax" not in md and "| lns12_adam |" in md
    res = build_report(tmp_path / "p", sections=("headline",), progress=False)
    assert res["plots"] == {"headline_ecp5": "headline_ecp5.png"}
    assert (tmp_path / "p" / "headline_ecp5.png").read_bytes()[:4] == b"\x89PNG"
    assert "![area against Fmax on ecp5](headline_ecp5.png)" in \
        (tmp_path / "p" / "report.md").read_text()


def test_bad_arguments(fake):
    with pytest.raises(InvalidValue, match=r"^target must be one of ice40, ecp5, not 'x'$"):
        compare_number_systems("x")
    with pytest.raises(InvalidType, match=r"^pnr must be a bool"):
        compare_number_systems("ecp5", pnr="yes")
    with pytest.raises(InvalidValue, match=r"^lanes must be a positive int"):
        compare_number_systems("ecp5", lanes=0)


def test_dsp_equivalent_is_measured():
    """A real synthesis, uncached: the 18x18 product is one MULT18X18D with DSPs and LUT4s
    with CCU2Cs without."""
    r = dsp_equivalent(use_cache=False)
    w, wo = r["with_dsp"], r["without_dsp"]
    assert r["cached"] is False
    assert w["dsps"] == 1 and wo["dsps"] == 0
    assert wo["lut4_equiv"] == wo["luts"] + 2 * wo["carries"]
    assert r["dsp_lut4_equiv"] == wo["lut4_equiv"] - w["lut4_equiv"]
    # 324 partial-product bits cannot be summed in fewer LUT4s than a quarter of them
    assert r["dsp_lut4_equiv"] > 18 * 18 // 4
    assert dsp_equivalent()["dsp_lut4_equiv"] == r["dsp_lut4_equiv"]    # now cached


def test_dsp_free_density_and_table_cells(fake):
    r = compare_number_systems("ecp5")
    by = _by(r)
    for p in ("fp32_adam", "lns12"):
        luts, carries, _, _, _, fmax = FAKE[p]
        assert by[p]["lut4_equiv_logic"] == luts + 2 * carries
        assert by[p]["updates_per_s_per_k_lut4_logic"] == pytest.approx(
            fmax * 1e6 / ((luts + 2 * carries) / 1000))
    free = [n for n in r["notes"] if n.startswith("Counting the DSP blocks as free")]
    x = [FAKE[f"lns{w}"][5] / (FAKE[f"lns{w}"][0] + 2 * FAKE[f"lns{w}"][1])
         / (40.0 / (7000 + 2 * 900)) for w in (8, 12, 16)]
    assert len(free) == 1 and "/".join(f"{v:.1f}" for v in x) + \
        " times the density of FP32 Adam" in free[0]
    md = render_markdown(r)
    row = [ln for ln in md.splitlines() if ln.startswith("| BF16 Adam \u2020 |")]
    cells = [c.strip() for c in row[0].strip("|").split("|")]
    eq = _equiv("bf16_adam", "ecp5")
    assert cells[7] == str(eq) and cells[8] == "47.0" and cells[13] == "7 (14)"
    assert float(cells[12]) == pytest.approx(
        (47e6 / eq) / (100e6 / _equiv("lns12", "ecp5")), abs=0.005)


def test_a_unit_holding_a_degenerate_constant_is_marked_in_the_table_and_notes(fake):
    # bf16_adam opts into beta2 = 0.999, which bf16 rounds to 1.0 (its second moment never
    # decays); every other headline unit holds its constants as configured.
    r = compare_number_systems("ecp5")
    by = _by(r)
    assert by["bf16_adam"]["caveats"] == [
        "beta2 0.999 rounds to 1.0 in bf16: the second moment never decays"]
    assert all(not row["caveats"] for p, row in by.items() if p != "bf16_adam")
    text = render_markdown(r)
    marked = [line for line in text.splitlines() if headline.CAVEAT_MARK in line]
    assert marked[0].startswith("| BF16 Adam \u2020 | bf16_adam |")
    assert any("BF16 Adam (bf16_adam) holds a degenerate constant" in line
               and "beta2 0.999 rounds to 1.0 in bf16" in line for line in marked[1:])
    assert len([line for line in marked if line.startswith("|")]) == 1
