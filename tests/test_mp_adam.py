"""Mixed-precision IEEE Adam (`lns.rules.ieee_mp_adam`, preset mp_adam): BF16 gradient in,
FP32 w, m, v read and written, the BF16 copy of the new weight written; op by op against
Berkeley SoftFloat (its bf16_to_f32 and f32_to_bf16 for the two conversions), the bytes of
one update, the contract, the unit on the simulators and a flipped constant caught."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lns import presets
from lns.errors import InvalidValue
from lns.ieee import FLOAT_FORMATS
from lns.ieee.softfloat import softfloat_apply
from lns.rules.ieee_mp_adam import OPERATIONS, MixedAdamConfig
from sim.cli import main

FP32, BF16, FP16 = FLOAT_FORMATS["fp32"], FLOAT_FORMATS["bf16"], FLOAT_FORMATS["fp16"]


def _sf(name, words, nbytes):
    import softfloatpy as sf
    frm = {"bf16_to_f32": sf.BFloat16, "f32_to_bf16": sf.Float32}[name]
    fn = getattr(sf, name)
    sf.set_rounding_mode(sf.RoundingMode.NEAR_EVEN)
    return np.array([int.from_bytes(fn(frm.from_bytes(int(w).to_bytes(nbytes, "big")))
                                    .to_bytes(), "big") for w in words], dtype=np.int64)


def _softfloat_program(cfg, words, t):
    env = {k: np.asarray(v) for k, v in words.items()}
    n = len(env["w"])
    env.update({k: np.full(n, w) for k, w in {**cfg.constants, **cfg.held(t)}.items()})
    for result, op, args in OPERATIONS:
        if op == "convert":
            src = env[args[0]]
            env[result] = (_sf("bf16_to_f32", src, 2) if result == "g32"
                           else _sf("f32_to_bf16", src, 4))
        else:
            env[result] = softfloat_apply(FP32, "mul" if op == "mulc" else op,
                                          *(env[a] for a in args)).astype(np.int64)
    return {role: env[r] for role, r in cfg.OUTPUTS.items()}


def _words(cfg, n, seed):
    from testbench.recipes.float_adam import adam_like_words
    return adam_like_words(cfg, n, np.random.default_rng(seed))


def test_roles_formats_and_bytes_per_update():
    cfg = presets.get("mp_adam")
    assert {k: f.name for k, f in cfg.word_formats.items()} == {
        "w": "fp32", "g": "bf16", "m": "fp32", "v": "fp32", "wlow": "bf16"}
    assert cfg.update_words == (("w", "g", "m", "v"), ("w", "m", "v", "wlow"))
    assert cfg.output_roles == ("w", "m", "v", "wlow")
    # 2 B gradient + 3 x 4 B read + 3 x 4 B written + 2 B bf16 copy
    assert cfg.update_bits == (16 + 3 * 32, 3 * 32 + 16) and cfg.update_bytes == 28
    from sim.analysis.ops import operation_counts
    c = operation_counts(cfg)
    assert c["memory"]["read_bits"] == 112 and c["memory"]["write_bits"] == 112
    assert c["totals"]["fp_compare"] == 2 and c["totals"]["fp_mul"] == 4   # 2 of them mulc
    widths = {e["op"].split(" =")[0]: e["width"] for e in c["entries"]}
    assert widths["g32"] == 32 and widths["wlow"] == 16 and widths["w'"] == 32
    # the state keeps fp32's beta2: c2 is 1 - 0.999 in fp32, not bf16's
    assert cfg.constants["c2"] == 0x3A83126F


@pytest.mark.parametrize("t", [1, 3, 1000])
def test_update_op_by_op_against_softfloat(t):
    cfg = presets.get("mp_adam")
    words = _words(cfg, 300, t)
    rng = np.random.default_rng(t)
    words["g"][:100] = rng.integers(0, 1 << 16, 100)            # any bf16 pattern
    words["w"][100:150] = rng.integers(0, 1 << 32, 50)
    want = _softfloat_program(cfg, words, t)
    for ev in ("numpy", "python"):
        got = cfg.update(words, t, evaluator=ev)
        for k in cfg.output_roles:
            assert got[k].tolist() == want[k].tolist(), (ev, k)


def test_every_bf16_gradient_word():
    """Every bf16 gradient (NaNs, infinities, subnormals) beside typical fp32 state: the
    numpy path against SoftFloat on a stride, against the exact path on another."""
    cfg = presets.get("mp_adam")
    n = 1 << 16
    base = _words(cfg, 1, 0)
    words = {k: np.full(n, int(base[k][0])) for k in "wmv"}
    words["g"] = np.arange(n)
    got = cfg.update(words, 5)
    idx = np.arange(0, n, 23)
    sub = {k: v[idx] for k, v in words.items()}
    want = _softfloat_program(cfg, sub, 5)
    ex = cfg.update({k: v[idx[::4]] for k, v in words.items()}, 5, evaluator="python")
    for k in cfg.output_roles:
        assert got[k][idx].tolist() == want[k].tolist()
        assert got[k][idx[::4]].tolist() == ex[k].tolist()


def test_config_errors_and_json():
    cfg = presets.get("mp_adam")
    again = MixedAdamConfig.from_dict(json.loads(json.dumps(cfg.describe())))
    assert again == cfg and again.low == BF16
    assert cfg.to_dict()["low"]["name"] == "bf16"
    with pytest.raises(InvalidValue, match="low must be narrower than fmt \\(bf16\\), not fp16"):
        MixedAdamConfig(BF16, low=FP16)
    with pytest.raises(InvalidValue, match="bits must be 32 for mixed-precision Adam"):
        cfg.at_width(16)
    assert MixedAdamConfig(FP32, low=FP16).name == "fp32_fp16_mp_adam"


def test_unit_on_amaranth_and_icarus_and_a_flipped_constant_is_caught(tmp_path):
    from testbench import evaluate, faults, vectors
    from testbench.tools import Simulator
    cfg = presets.get("mp_adam")
    vs = vectors.generate(cfg, 1200, seed=2)
    r = evaluate.evaluate(vs, (Simulator.ICARUS, Simulator.AMARANTH), python_sample=40)
    assert r["ok"], r
    path = faults.faulty_verilog(cfg, "constant", tmp_path, constant="c1", bit=3)
    r = evaluate.evaluate(vs, (Simulator.ICARUS,), verilog=path, python_sample=40)
    assert not r["ok"] and r["evaluators"]["icarus"]["mismatches"] > 0


def test_cli_all_simulators(capsys):
    rc = main(["testbench", "--preset", "mp_adam", "--sim", "all", "--vectors", "3000",
               "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err[-3000:]
    data = json.loads(out)
    assert data["ok"] is True
    for ev in ("numpy", "icarus", "verilator"):
        assert data[ev] == {"vectors": 3000, "mismatches": 0}
