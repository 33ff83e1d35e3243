"""The results store of lnsmadam explore (sim.explore.store): keys by config and code
version, reuse, each point committed at once, two processes writing one file."""

import json
import multiprocessing
import sqlite3

import pytest

from sim.explore import store as S
from sim.explore.store import Store, canonical, point_key

CFG = {"task": "mnist1d", "model": "mlp", "method": "lns", "bits": 8,
       "rounding": "stochastic", "seed": 0, "epochs": 2, "batch": 16, "hidden": 64,
       "eta_log2": -7, "momentum": None, "split": "test"}


def test_key_depends_on_every_field_and_on_the_code_version():
    k = point_key(CFG, "v1")
    assert k == point_key(dict(reversed(list(CFG.items()))), "v1")   # order does not matter
    assert k != point_key(CFG, "v2")
    for field, other in (("seed", 1), ("bits", 10), ("rounding", "nearest_even"),
                         ("eta_log2", -6), ("split", "validation"), ("epochs", 3)):
        assert point_key({**CFG, field: other}, "v1") != k, field
    # the key is the SHA-256 of the canonical text and the version, checked independently
    import hashlib
    assert k == hashlib.sha256((canonical(CFG) + "\nv1").encode()).hexdigest()
    assert canonical(CFG).startswith('{"batch":16,"bits":8,')


def test_code_version_hashes_the_sources_that_decide_a_result(tmp_path, monkeypatch):
    v = S.code_version()
    assert len(v) == 16 and int(v, 16) >= 0
    # an edit to one of those files is a new version
    fake = tmp_path / "lns"
    fake.mkdir()
    (fake / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(S, "_root", lambda: tmp_path)
    monkeypatch.setattr(S, "CODE_SOURCES", ("lns",))
    S.code_version.cache_clear()
    try:
        a = S.code_version()
        (fake / "a.py").write_text("x = 2\n")
        S.code_version.cache_clear()
        assert S.code_version() != a
    finally:
        monkeypatch.undo()
        S.code_version.cache_clear()
    assert S.code_version() == v


def test_put_get_and_reuse(tmp_path):
    st = Store(tmp_path / "s.sqlite", version="v1")
    assert st.get_many([CFG]) == {}
    res = {"test_err": 0.25, "train_loss": float("inf"), "curves": {"test_err": [0.5, 0.25]}}
    assert st.put(CFG, res) is True
    assert st.put(CFG, {"test_err": 0.99}) is False          # the first result stays
    got = st.get_many([CFG, {**CFG, "seed": 1}])
    assert list(got) == [st.key(CFG)]
    assert got[st.key(CFG)]["test_err"] == 0.25
    assert got[st.key(CFG)]["train_loss"] == "Infinity"      # strict JSON in the row
    # another code version does not see it, and the old row stays
    other = Store(tmp_path / "s.sqlite", version="v2")
    assert other.get_many([CFG]) == {} and other.count() == 0
    assert other.count(all_versions=True) == 1
    # the row is committed: a plain sqlite3 reader sees it
    db = sqlite3.connect(tmp_path / "s.sqlite")
    (cfg_text,), = db.execute("SELECT config FROM points").fetchall()
    assert json.loads(cfg_text) == CFG


def test_not_a_store_is_one_line(tmp_path):
    bad = tmp_path / "x.sqlite"
    bad.write_text("this is not a database" * 100)
    with pytest.raises(ValueError, match="is not an SQLite file"):
        Store(bad)
    with pytest.raises(ValueError, match="the store must be a file, not the folder"):
        Store(tmp_path)


def _writer(path, start, n):
    st = Store(path, version="v1")
    for s in range(start, start + n):
        st.put({**CFG, "seed": s}, {"test_err": s / 1000})


def test_two_processes_write_one_store(tmp_path):
    path = tmp_path / "s.sqlite"
    Store(path, version="v1")
    ctx = multiprocessing.get_context("spawn")
    # overlapping seeds: both write 40..59
    ps = [ctx.Process(target=_writer, args=(path, 0, 60)),
          ctx.Process(target=_writer, args=(path, 40, 60))]
    for p in ps:
        p.start()
    for p in ps:
        p.join(120)
        assert p.exitcode == 0
    st = Store(path, version="v1")
    assert st.count() == 100
    got = st.get_many([{**CFG, "seed": s} for s in range(100)])
    assert sorted(r["test_err"] for r in got.values()) == [s / 1000 for s in range(100)]
