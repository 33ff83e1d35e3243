"""The LNS Lion lane (rtl.lion_unit.LionUpdateUnit) in Amaranth's simulator against
`lns.rules.lion.lion_update` (numba), bit for bit: edge cases (sign(c) cancelling or one LSB
apart, m' cancelling, zeros, saturation and flush, weights at the step) and seeded random
words, with enable gaps (``en`` low) and bubbles (``en`` high, ``accept`` low, junk inputs),
for lns12_lion (nearest even) and lns8_lion (stochastic; the lane's LFSR against the
model's); the stage count and the latency."""

import gc
import warnings

import numpy as np
import pytest
from amaranth.hdl import Fragment, Shape
from amaranth.sim import Simulator

import lns
from lns.format import LNSFormat
from lns import presets
from lns.rules.lion import LionConfig, lion_update
from rtl.lion_unit import LionUpdateUnit, lion_stages

PRESETS = {n: presets.get(n) for n in presets.names("lion")}
NAMES = list(PRESETS)
STAGES = {"lns12_lion": 10, "lns8_lion": 10}


def _formats(cfg):
    return {k: getattr(cfg, role) for k, role in cfg.WORD_ROLES.items()}


def _unit(cfg):
    """A unit elaborated once (so Amaranth does not warn that it was never used)."""
    dut = LionUpdateUnit(cfg)
    Fragment.get(dut, None)
    return dut


def _ports(dut):
    return {k: (str(v.flow.value).lower(), Shape.cast(v.shape).width)
            for k, v in dut.signature.members.items()}


def _word(fp, sign, x):
    """The word of ``(sign, X)``, X clamped into the format's range."""
    x = int(min(max(x, fp.x_min), fp.x_max))
    return ((int(sign) & fp.signed) << fp.log_bits) | (x + fp.offset)


def _random_words(cfg, n, rng):
    """Half fully random words, half near typical magnitudes (so the sums read every part
    of the tables and the weights sit where the step is not swamped)."""
    out = {}
    for k, f in _formats(cfg).items():
        p = f.params
        full = rng.integers(0, 1 << f.total_bits, n)
        x = rng.integers(max(p.x_min, -(12 << p.frac_bits)), min(p.x_max, 2 << p.frac_bits) + 1, n)
        typical = ((rng.integers(0, 2, n) & p.signed) << p.log_bits) | (x + p.offset)
        out[k] = np.where(rng.random(n) < 0.5, full, typical).astype(np.int64)
    return out


def _edge_words(cfg, rng):
    p = cfg.params
    pw, pg, pm = p.w, p.g, p.m
    rows = []
    wt = _word(pw, 0, -3 << pw.frac_bits)
    gt, mt = _word(pg, 1, -4 << pg.frac_bits), _word(pm, 0, -5 << pm.frac_bits)
    # zeros in every combination, and the "negative zero" words (sign bit, e = 0)
    for mask in range(8):
        rows.append(tuple((wt, gt, mt)[i] if mask >> i & 1 else 0 for i in range(3)))
    rows += [(1 << pw.log_bits, 1 << pg.log_bits, 1 << pm.log_bits),
             (wt, 1 << pg.log_bits, mt), (wt, gt, 1 << pm.log_bits)]
    # the c-terms (beta1) and the m-terms (beta2) equal or one or two LSBs apart; the weight
    # 4 eta, so that every step shows (a swamped one would hide a wrong sign(c))
    wt = _word(pw, 0, (cfg.eta_log2 + 2) << pw.frac_bits)
    for xg in (-5 << pg.frac_bits, -1, 0, 3 << pg.frac_bits, pg.x_min + 7, pg.x_max - 3,
               int(rng.integers(pg.x_min, pg.x_max + 1))):
        for c_m, c_g in ((p.c_beta1, p.c_one_minus_beta1), (p.c_beta2, p.c_one_minus_beta2)):
            for dd in (0, 1, -1, 2):
                xm = (xg << p.g_shift) + c_g - c_m + dd
                if not pm.x_min <= xm <= pm.x_max:
                    continue
                for sg, sm in ((0, 1), (1, 0), (0, 0), (1, 1)):
                    rows.append((wt, _word(pg, sg, xg), _word(pm, sm, xm)))
    # saturation of m' and of w, flush of m' by the decay, extreme words
    for sw, sg, sm in ((1, 0, 0), (0, 1, 1), (0, 0, 1), (1, 1, 0)):
        rows.append((_word(pw, sw, pw.x_max), _word(pg, sg, pg.x_max), _word(pm, sm, pm.x_max)))
        rows.append((_word(pw, sw, pw.x_min), _word(pg, sg, pg.x_min), _word(pm, sm, pm.x_min)))
    rows.append((_word(pw, 0, 5), 0, _word(pm, 1, pm.x_min)))
    # weights at the step: +-eta (-> exactly 0), one LSB beside it, half and twice it
    xe = cfg.eta_log2 << pw.frac_bits
    g_pos = _word(pg, 0, -2 << pg.frac_bits)
    for sw in (0, 1):
        for xw in (xe, xe - 1, xe + 1, xe - (1 << pw.frac_bits), xe + (1 << pw.frac_bits)):
            for gs in (0, 1):
                rows.append((_word(pw, sw, xw), g_pos | (gs << pg.log_bits), 0))
    # large weights (the step swamped), tiny ones (the step dominates)
    for xw in (pw.x_max, 0, -1 << pw.frac_bits, pw.x_min + 1):
        rows.append((_word(pw, 1, xw), g_pos, mt))
    a = np.array(rows, dtype=np.int64)
    return {"w": a[:, 0], "g": a[:, 1], "m": a[:, 2]}


def simulate(cfg, words, *, lfsr_seed=None, stall=0.2, bubble=0.2, seed=0):
    """Run the words through one `LionUpdateUnit`; a random ``en`` (stall) and ``accept``
    (bubble, with junk words on the inputs) each cycle.  The output of the beat entered at
    an enabled edge is read after the ``stages - 1``-th enabled edge after it.  Returns
    ``({"w", "m"} arrays in element order, cycles)``."""
    dut = LionUpdateUnit(cfg, lfsr_init=0x1234567)
    n = len(words["w"])
    rng = np.random.default_rng(seed)
    fmts = _formats(cfg)
    got = {"w": np.full(n, -1, np.int64), "m": np.full(n, -1, np.int64)}
    state = {"cycles": 0}

    async def bench(ctx):
        if lfsr_seed is not None:
            ctx.set(dut.lfsr_seed, int(lfsr_seed))
        tags, k, cycle, done = [], 0, 0, 0
        while done < n:
            en = stall == 0 or rng.random() >= stall
            accept = en and k < n and (bubble == 0 or rng.random() >= bubble)
            ctx.set(dut.en, en)
            ctx.set(dut.accept, accept)
            if lfsr_seed is not None:
                ctx.set(dut.lfsr_load, cycle == 0)
            for key, f in fmts.items():
                v = words[key][k] if accept else rng.integers(0, 1 << f.total_bits)
                ctx.set(getattr(dut, key), int(v))
            await ctx.tick()
            cycle += 1
            if en:
                tags.append(k if accept else None)
                k += accept
                j = len(tags) - dut.stages
                if j >= 0 and tags[j] is not None:
                    got["w"][tags[j]] = ctx.get(dut.w_out)
                    got["m"][tags[j]] = ctx.get(dut.m_out)
                    done += 1
        state["cycles"] = cycle

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return got, state["cycles"]


def _check(cfg, words, *, seed=0, stall=0.2, bubble=0.2):
    st = lns.lane_seeds(seed + 5, 1) if cfg.is_stochastic else None
    got, cycles = simulate(cfg, words, lfsr_seed=None if st is None else st[0], seed=seed,
                           stall=stall, bubble=bubble)
    want = dict(zip(("w", "m"), lion_update(cfg, words["w"], words["g"], words["m"],
                                            lfsr_state=None if st is None else st.copy())))
    for k in ("w", "m"):
        bad = np.nonzero(got[k] != want[k])[0]
        assert len(bad) == 0, (k, len(bad), bad[:5], got[k][bad[:5]], want[k][bad[:5]],
                               {kk: v[bad[:5]] for kk, v in words.items()})
    return want, cycles


def test_stages():
    for name, cfg in PRESETS.items():
        assert lion_stages(cfg) == STAGES[name] == _unit(cfg).stages
    # direct tables: one look-up stage instead of four in each (parallel) adder
    assert lion_stages(PRESETS["lns12_lion"].replace(table="direct")) == 7
    with warnings.catch_warnings():
        # the refused unit was never elaborated: Amaranth would warn when it is collected
        warnings.simplefilter("ignore")
        with pytest.raises(TypeError, match="^cfg must be a LionConfig, not str$"):
            LionUpdateUnit("lns12_lion")
        gc.collect()
    with pytest.raises(TypeError, match="^cfg must be a LionConfig, not int$"):
        lion_stages(3)


def test_ports():
    a, b = PRESETS["lns12_lion"], PRESETS["lns8_lion"]
    pa = _ports(_unit(a))
    assert pa == {"en": ("in", 1), "accept": ("in", 1), "w": ("in", 12), "g": ("in", 11),
                  "m": ("in", 13), "w_out": ("out", 12), "m_out": ("out", 13)}
    pb = _ports(_unit(b))
    assert pb["lfsr_seed"] == ("in", 32) and pb["lfsr_load"] == ("in", 1)
    assert pb["w"] == ("in", 8) and pb["g"] == ("in", 9)


@pytest.mark.parametrize("name", NAMES)
def test_unit_matches_model(name):
    cfg = PRESETS[name]
    rng = np.random.default_rng(NAMES.index(name))
    edges = _edge_words(cfg, rng)
    assert len(edges["w"]) > 100
    want, _ = _check(cfg, edges, seed=1)
    # the edges hit what they claim: c = 0 (the weight kept while m' moves), m' = 0 by
    # cancellation, a weight exactly 0, m' saturated
    s, z = cfg.step_sign(edges)
    assert (z & (edges["g"] != 0) & (edges["m"] != 0) & (want["w"] == edges["w"])).any()
    assert ((want["m"] == 0) & (edges["m"] != 0) & (edges["g"] != 0)).any()
    assert ((want["w"] == 0) & (edges["w"] != 0)).any()
    pm = cfg.params.m
    assert ((want["m"] & ((1 << pm.log_bits) - 1)) == pm.x_max + pm.offset).any()
    words = _random_words(cfg, 250, rng)
    _, cycles = _check(cfg, words, seed=2)
    assert cycles > 250 * 1.4                        # stalls and bubbles happened


def test_custom_config_matches_model():
    """Direct tables, Fm = Fg (g_shift 0), no guard bits, stochastic."""
    cfg = LionConfig(weight=LNSFormat(4, 3, bias=14), grad=LNSFormat(5, 4, bias=24),
                     momentum=LNSFormat(5, 4, bias=22), eta_log2=-6, beta1=0.8, beta2=0.95,
                     rounding="stochastic", table="direct", guard_bits=0, name="lion_custom")
    assert cfg.params.g_shift == 0 and cfg.params.c_beta2 != 0
    rng = np.random.default_rng(9)
    _check(cfg, _edge_words(cfg, rng), seed=3)
    _check(cfg, _random_words(cfg, 120, rng), seed=4)


def test_latency_without_gaps():
    cfg = PRESETS["lns12_lion"]
    words = _random_words(cfg, 30, np.random.default_rng(4))
    _, cycles = _check(cfg, words, stall=0.0, bubble=0.0)
    # one beat an edge; the last is out after stages - 1 more edges
    assert cycles == 30 + lion_stages(cfg) - 1


@pytest.mark.parametrize("name", NAMES)
def test_verilog_stable_and_lint_clean(tmp_path, name):
    """The unit converts to Verilog, byte-identical twice, and Verilator's lint finds no
    error (the warnings of the additive units' lint only)."""
    import os
    import subprocess
    from pathlib import Path

    from amaranth.back import verilog

    def convert():
        dut = LionUpdateUnit(PRESETS[name])
        return verilog.convert(dut, name=f"lion_{name}",
                               ports=[getattr(dut, k) for k in dut.signature.members])

    text = convert()
    assert text == convert() and f"module lion_{name}" in text
    path = tmp_path / f"lion_{name}.v"
    path.write_text(text)
    bin_dir = Path(__import__("verilator").__file__).parent / "bin"
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    env.pop("VERILATOR_ROOT", None)
    proc = subprocess.run(["verilator", "--lint-only", "-Wall", "-Wno-fatal", str(path)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0 and "%Error" not in proc.stderr, proc.stderr[-2000:]
    kinds = {line.split(":")[0] for line in proc.stderr.splitlines()
             if line.startswith("%Warning")}
    assert kinds <= {"%Warning-DECLFILENAME", "%Warning-PROCASSINIT", "%Warning-UNUSEDSIGNAL",
                     "%Warning-WIDTHEXPAND", "%Warning-WIDTHTRUNC"}
