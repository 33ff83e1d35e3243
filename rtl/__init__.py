"""rtl: Amaranth description of the LNS Madam update unit, Verilog generation with a JSON
sidecar, and synthesis cost.

The ROMs and constants are built from `lns` (``cfg.params``, ``cfg.sb_table``,
``cfg.exp_table``, `lns.lfsr`), never recomputed here.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from .unit import MadamUpdateArray, MadamUpdateUnit, pipeline_stages, xbc_shape

__all__ = ["MadamUpdateUnit", "MadamUpdateArray", "generate_verilog", "module_name",
           "sidecar", "pipeline_stages", "xbc_shape", "table_summary"]


def module_name(cfg, lanes: int = 1) -> str:
    """``lnsmadam_<cfg.name>_x<lanes>`` with the name reduced to ``[A-Za-z0-9_]``."""
    return f"lnsmadam_{re.sub(r'[^A-Za-z0-9_]', '_', cfg.name)}_x{lanes}"


def table_summary(cfg) -> dict:
    """ROM contents the hardware holds (the ``sb`` table only with the rms normaliser)."""
    if cfg.normaliser == "rms":
        t = cfg.sb_table
        sb = {"method": t.method, "entries_near": len(t.near), "entries_nodes": len(t.nodes),
              "bits": int(t.bits)}
    else:
        sb = {"method": "none", "entries_near": 0, "entries_nodes": 0, "bits": 0}
    return {"sb": sb, "exp2": {"entries": len(cfg.exp_table), "width": cfg.exp_table_width,
                               "bits": cfg.exp_table_bits}}


def sidecar(cfg, lanes: int, top: MadamUpdateArray) -> dict:
    import amaranth
    from amaranth.hdl import Shape
    from amaranth.lib.wiring import In
    ports = {"clk": {"direction": "in", "width": 1, "signed": False},
             "rst": {"direction": "in", "width": 1, "signed": False}}
    for name, member in top.signature.members.items():
        shape = Shape.cast(member.shape)
        ports[name] = {"direction": "in" if member.flow == In else "out",
                       "width": shape.width, "signed": shape.signed}
    return {"module": module_name(cfg, lanes), "config": cfg.to_dict(), "lanes": lanes,
            "latency": top.latency, "ports": ports, "tables": table_summary(cfg),
            "tools": {"amaranth": amaranth.__version__}}


def _verilog_text(cfg, lanes: int) -> tuple[str, dict]:
    os.environ["AMARANTH_USE_YOSYS"] = "builtin"      # a system Yosys never changes the text
    from amaranth.back import verilog
    top = MadamUpdateArray(cfg, lanes)
    meta = sidecar(cfg, lanes, top)
    text = verilog.convert(top, name=meta["module"], emit_src=False)
    return text, meta


def _write_atomic(path: Path, text: str):
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, 0o644)              # mkstemp makes 0600; these are ordinary outputs
        return tmp
    except BaseException:
        os.unlink(tmp)
        raise


def generate_verilog(cfg, out_dir, lanes: int = 1) -> tuple[Path, Path]:
    """Write ``<module>.v`` and ``<module>.json`` into ``out_dir`` (created if missing).

    The same config gives byte-identical files.  Both are written to temporary files in
    ``out_dir`` first and renamed into place, so an error leaves no half-written file.

    Returns
    -------
    (verilog_path, sidecar_path)

    Raises
    ------
    ValueError
        ``lanes`` not a positive int, or ``out_dir`` not a writable directory.
    """
    from lns import MadamConfig
    if not isinstance(cfg, MadamConfig):
        raise TypeError(f"cfg must be a MadamConfig, not {type(cfg).__name__}")
    if not isinstance(lanes, int) or isinstance(lanes, bool) or lanes < 1:
        raise ValueError(f"lanes must be a positive int, not {lanes!r}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output directory {out} is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create output directory {out}: {exc.strerror}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ValueError(f"output directory {out} is not writable")
    text, meta = _verilog_text(cfg, lanes)
    name = meta["module"]
    v_path, j_path = out / f"{name}.v", out / f"{name}.json"
    tmps = []
    try:
        tmps.append((_write_atomic(v_path, text), v_path))
        tmps.append((_write_atomic(j_path, json.dumps(meta, sort_keys=True, indent=2) + "\n"),
                     j_path))
    except OSError as exc:
        for tmp, _ in tmps:
            os.unlink(tmp)
        raise ValueError(f"cannot write to output directory {out}: {exc.strerror}") from None
    for tmp, final in tmps:
        os.replace(tmp, final)
    return v_path, j_path
