"""Fault injection: single faults in copies of the generated Verilog must be reported by the
vector testbench (table bit flips, datapath constants, the rounding's tie rule, handshake)."""

from lns import presets
from testbench import design, faults, fastpath, vectors


def _caught(d, vs, mutant, tmp_path, k):
    path = tmp_path / f"m{k}" / d.verilog.name
    path.parent.mkdir()
    path.write_text(mutant.text)
    r = fastpath.run_vectors("icarus", d, vs, gap=10, bp=20, verilog=path, maxerr=2,
                             workdir=tmp_path)
    return r.mismatches > 0 or bool(r.protocol)


def test_every_fault_of_the_rms_unit_is_caught(tmp_path):
    d = design.generate(presets.get("lns12"))
    vs = vectors.generate(d.cfg, 4000, seed=5)
    ms = faults.mutants(d.verilog.read_text(), d, seed=1)
    kinds = {m.kind for m in ms}
    assert kinds == {"table", "constant", "rounding", "handshake"}
    missed = [m.description for k, m in enumerate(ms) if not _caught(d, vs, m, tmp_path, k)]
    print(f"\nfault injection lns12: caught {len(ms) - len(missed)}/{len(ms)}")
    assert not missed, missed


def test_sign_unit_faults(tmp_path):
    """The sign normaliser reads only exp2[0] (|g_hat| = 1): flips elsewhere in that ROM
    are equivalent mutants, so the share is printed; exp2[0] and the handshake faults must
    be caught."""
    d = design.generate(presets.get("lns8_sign"))
    vs = vectors.generate(d.cfg, 4000, seed=5)
    text = d.verilog.read_text()
    ms = faults.mutants(text, d, seed=1, tables=8)
    caught = {m.description: _caught(d, vs, m, tmp_path, k) for k, m in enumerate(ms)}
    print(f"\nfault injection lns8_sign: caught {sum(caught.values())}/{len(caught)}")
    must = [m.description for m in ms if m.kind == "handshake" or "exp2[0]" in m.description]
    assert any("exp2[0]" in m for m in must)
    assert all(caught[m] for m in must), [m for m in must if not caught[m]]
