"""Verilog generation: stable bytes, the port contract, Verilator lint, error texts, CLI."""

import json
import os
import subprocess
from pathlib import Path

import pytest

import lns
import rtl
from lns import presets
from sim.cli import main

VERILATOR_BIN = Path(__import__("verilator").__file__).parent / "bin"


@pytest.mark.parametrize("name,lanes", [("lns12", 1), ("lns8", 2)])
def test_byte_identical_and_sidecar(tmp_path, name, lanes):
    cfg = presets.get(name)
    v1, j1 = rtl.generate_verilog(cfg, tmp_path / "a", lanes=lanes)
    v2, j2 = rtl.generate_verilog(cfg, tmp_path / "b", lanes=lanes)
    assert v1.read_bytes() == v2.read_bytes() and j1.read_bytes() == j2.read_bytes()
    assert v1.name == f"lnsmadam_{name}_x{lanes}.v" and j1.name == f"lnsmadam_{name}_x{lanes}.json"
    meta = json.loads(j1.read_text())
    assert json.dumps(meta, sort_keys=True, indent=2) + "\n" == j1.read_text()
    assert lns.MadamConfig.from_dict(meta["config"]) == cfg
    assert meta["module"] == f"lnsmadam_{name}_x{lanes}" and meta["lanes"] == lanes
    assert meta["latency"] == rtl.pipeline_stages(cfg) - 1
    ports = meta["ports"]
    W, G, V = cfg.weight, cfg.grad, cfg.moment
    expect = {"clk": ("in", 1), "rst": ("in", 1), "in_valid": ("in", 1),
              "in_ready": ("out", 1), "out_valid": ("out", 1), "out_ready": ("in", 1),
              "in_w": ("in", lanes * W.total_bits), "in_g": ("in", lanes * G.total_bits),
              "in_v": ("in", lanes * V.total_bits), "out_w": ("out", lanes * W.total_bits),
              "out_v": ("out", lanes * V.total_bits), "clip": ("in", W.log_bits),
              "x_bc": ("in", ports["x_bc"]["width"])}
    if cfg.rounding == "stochastic":
        expect.update(lfsr_seed=("in", 32 * lanes), lfsr_load=("in", 1))
    assert {k: (p["direction"], p["width"]) for k, p in ports.items()} == expect
    assert ports["x_bc"]["signed"] and not ports["in_w"]["signed"]
    lo = -(1 << (ports["x_bc"]["width"] - 1))
    assert lo <= cfg.bias_correction_code(1) < lo // 2          # the narrowest that fits
    assert meta["tables"]["sb"] == {"method": "interp", "entries_near": len(cfg.sb_table.near),
                                    "entries_nodes": len(cfg.sb_table.nodes),
                                    "bits": cfg.sb_table.bits}
    assert meta["tables"]["exp2"] == {"entries": 1 << cfg.step_frac_bits,
                                      "width": cfg.exp_bits + 1,
                                      "bits": (cfg.exp_bits + 1) << cfg.step_frac_bits}
    text = v1.read_text()
    assert f"module {meta['module']}(" in text
    for port in ports:
        assert port in text
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_sign_preset_has_no_moment_table(tmp_path):
    _, j = rtl.generate_verilog(presets.get("lns8_sign"), tmp_path)
    meta = json.loads(j.read_text())
    assert meta["tables"]["sb"] == {"method": "none", "entries_near": 0, "entries_nodes": 0,
                                    "bits": 0}
    assert meta["latency"] == 2 and "lfsr_seed" in meta["ports"]


def test_module_name_is_sanitised():
    cfg = presets.get("tiny").replace(name="my cfg-2.a")
    assert rtl.module_name(cfg, 4) == "lnsmadam_my_cfg_2_a_x4"


@pytest.mark.parametrize("name", presets.names())
def test_verilator_lint_has_no_errors(tmp_path, name):
    v, _ = rtl.generate_verilog(presets.get(name), tmp_path, lanes=2)
    env = dict(os.environ, PATH=f"{VERILATOR_BIN}{os.pathsep}{os.environ['PATH']}")
    env.pop("VERILATOR_ROOT", None)
    proc = subprocess.run(["verilator", "--lint-only", "-Wall", "-Wno-fatal", str(v)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "%Error" not in proc.stderr
    kinds = {line.split(":")[0] for line in proc.stderr.splitlines()
             if line.startswith("%Warning")}
    # The warnings Amaranth's output is known to trip (see rtl/README.md); a new kind fails.
    assert kinds <= {"%Warning-DECLFILENAME", "%Warning-PROCASSINIT", "%Warning-UNUSEDSIGNAL",
                     "%Warning-WIDTHEXPAND", "%Warning-WIDTHTRUNC"}


def test_bad_output_directory_errors(tmp_path):
    cfg = presets.get("tiny")
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(ValueError, match=r"^output directory .*file is not a directory$"):
        rtl.generate_verilog(cfg, afile)
    with pytest.raises(ValueError,
                       match=r"^cannot create output directory .*file/sub: Not a directory$"):
        rtl.generate_verilog(cfg, afile / "sub")
    with pytest.raises(ValueError, match=r"^lanes must be a positive int, not 0$"):
        rtl.generate_verilog(cfg, tmp_path, lanes=0)
    with pytest.raises(TypeError, match=r"^cfg must be a MadamConfig, not str$"):
        rtl.generate_verilog("tiny", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_cli_writes_both_files(tmp_path, capsys):
    assert main(["verilog", "--preset", "tiny", "--out", str(tmp_path), "--lanes", "3",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["module"] == "lnsmadam_tiny_x3" and out["lanes"] == 3
    assert Path(out["verilog"]).is_file() and Path(out["sidecar"]).is_file()
    # the latency reported is the sidecar's, the unit's register stages less one
    meta = json.loads(Path(out["sidecar"]).read_text())
    assert out["latency"] == meta["latency"] == rtl.pipeline_stages(presets.get("tiny")) - 1
    assert out["latency"] >= 4


def test_cli_errors_are_one_line(tmp_path, capsys):
    afile = tmp_path / "f"
    afile.write_text("")
    assert main(["verilog", "--preset", "tiny", "--out", str(afile)]) == 2
    assert capsys.readouterr().err == f"lnsmadam: error: output directory {afile} is not a directory\n"
    assert main(["verilog", "--preset", "tiny", "--out", str(tmp_path), "--lanes", "0"]) == 2
    assert capsys.readouterr().err == "lnsmadam: error: --lanes must be at least 1, not 0\n"
    assert main(["verilog", "--preset", "tiny"]) == 2
    assert "--out" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_stats_cell_count(tmp_path, capsys):
    assert main(["verilog", "--preset", "tiny", "--out", str(tmp_path), "--stats",
                 "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)["stats"]
    assert stats["pipeline_stages"] == rtl.pipeline_stages(presets.get("tiny")) >= 5
    assert stats["latency"] == stats["pipeline_stages"] - 1
    assert stats["table_bits"] == {"sb": presets.get("tiny").sb_table.bits, "exp2": 8 * 6}
    assert 200 < stats["cells_per_lane"] < 5000
    assert stats["cells_by_type"].get("DFFE_PP", 0) > 0
    assert sum(stats["cells_by_type"].values()) == stats["cells_per_lane"]


def test_lane_bound(tmp_path, capsys):
    # rtl.design.MAX_LANES: generation grows linearly with the lanes (1000 lanes ran past a
    # minute and 1.5 GB); every entry point says so in one line and creates nothing.
    from rtl.design import MAX_LANES, design
    assert MAX_LANES == 64
    cfg = presets.get("tiny")
    msg = r"^lanes must be at most 64 \(rtl\.design\.MAX_LANES\), not 65$"
    with pytest.raises(ValueError, match=msg):
        rtl.generate_verilog(cfg, tmp_path / "a", lanes=65)
    with pytest.raises(ValueError, match=msg):
        design(cfg, 65)
    assert main(["verilog", "--preset", "tiny", "--out", str(tmp_path / "b"),
                 "--lanes", "1000"]) == 2
    assert capsys.readouterr().err == "lnsmadam: error: --lanes must be at most 64, not 1000\n"
    assert list(tmp_path.iterdir()) == []


def test_no_folder_left_by_a_failed_generation(tmp_path, monkeypatch):
    # The output folder is made only once the files are ready: an interrupt (or an error)
    # in the generation leaves no new folder, one while writing removes the folder it made.
    import rtl.design as rd
    cfg = presets.get("tiny")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(rd, "design", interrupted)
        with pytest.raises(KeyboardInterrupt):
            rtl.generate_verilog(cfg, tmp_path / "new" / "sub")
    assert list(tmp_path.iterdir()) == []
    d = rd.design(cfg, 1)
    with monkeypatch.context() as m:
        m.setattr(rd, "_write_pair", interrupted)
        with pytest.raises(KeyboardInterrupt):
            rd.export(d, tmp_path / "new" / "sub")
        assert list(tmp_path.iterdir()) == []
        (tmp_path / "old").mkdir()                    # a folder that was there stays
        with pytest.raises(KeyboardInterrupt):
            rd.export(d, tmp_path / "old")
        assert [p.name for p in tmp_path.iterdir()] == ["old"]
        assert list((tmp_path / "old").iterdir()) == []
    # the check alone creates nothing either
    assert rd.check_out_dir(tmp_path / "x" / "y") == tmp_path / "x" / "y"
    assert [p.name for p in tmp_path.iterdir()] == ["old"]
    rtl.generate_verilog(cfg, tmp_path / "x" / "y")
    assert sorted(p.name for p in (tmp_path / "x" / "y").iterdir()) == [
        "lnsmadam_tiny_x1.json", "lnsmadam_tiny_x1.v"]


def test_cli_interrupt_leaves_no_folder(tmp_path):
    # Ctrl-C during a generation (fresh cache: it generates, ~5 s for lns12 x 16): exit
    # 130, one line, and no output folder.
    import signal
    import sys
    import time
    out = tmp_path / "out" / "sub"
    main_ = "import sys; from sim.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", main_, "verilog", "--preset", "lns12",
                             "--lanes", "16", "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "LNSMADAM_CACHE": str(tmp_path / "cache")})
    try:
        first = proc.stderr.readline()
        assert first.startswith("verilog: generating lnsmadam_lns12_x16"), first
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        stdout, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert err == "lnsmadam: interrupted\n" and stdout == ""
    assert not (tmp_path / "out").exists()
