"""One design flow: the generated design of ``(config, lanes)``, made in one place and cached.

`design` is the only function that converts `MadamUpdateArray` to the unit's Verilog.  Its
files go to ``cache_dir("designs", <key>)``, the key a hash of the config, the lanes, the
Amaranth version and the sources of ``rtl/`` and ``lns/`` (a change to either regenerates).
`rtl.generate_verilog` (``lnsmadam verilog``), the testbench, the cycle simulation and the
synthesis cost all take their design from here.

The process that generates a design keeps the `Design` object; the JSON sidecar is for
consumers of the files (a later run, ``testbench --replay``, another tool), which read it
with `Design.load` (validated).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from .cache import cache_dir, digest

__all__ = ["Design", "design", "export", "prepare_out_dir", "module_name", "table_summary",
           "sidecar", "REQUIRED_PORTS"]

# The ports every consumer drives; stochastic rounding adds lfsr_seed and lfsr_load.
REQUIRED_PORTS = ("clk", "rst", "in_valid", "in_ready", "in_w", "in_g", "in_v", "out_valid",
                  "out_ready", "out_w", "out_v", "x_bc", "clip")


def module_name(cfg, lanes: int = 1) -> str:
    """``lnsmadam_<cfg.name>_x<lanes>`` with the name reduced to ``[A-Za-z0-9_]``."""
    return f"lnsmadam_{re.sub(r'[^A-Za-z0-9_]', '_', cfg.name)}_x{lanes}"


def table_summary(cfg) -> dict:
    """ROM contents the hardware holds (the ``sb`` table only with the rms normaliser)."""
    if cfg.sb_table is not None:
        t = cfg.sb_table
        sb = {"method": t.method, "entries_near": len(t.near), "entries_nodes": len(t.nodes),
              "bits": int(t.bits)}
    else:
        sb = {"method": "none", "entries_near": 0, "entries_nodes": 0, "bits": 0}
    return {"sb": sb, "exp2": {"entries": len(cfg.exp_table), "width": cfg.exp_table_width,
                               "bits": cfg.exp_table_bits}}


def sidecar(cfg, lanes: int, top) -> dict:
    """The sidecar dictionary of ``top`` (a `MadamUpdateArray` of ``cfg`` x ``lanes``)."""
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


@dataclass(frozen=True)
class Design:
    """One generated design: its config and shape, and where its two files are."""

    cfg: object                # lns.MadamConfig
    lanes: int
    module: str
    ports: dict                # name -> {"direction", "width", "signed"}
    latency: int
    tables: dict               # `table_summary`
    verilog: Path
    sidecar: Path

    @classmethod
    def load(cls, sidecar) -> "Design":
        """Read a sidecar written by `design`/`generate_verilog` (a consumer of the files);
        checks it names the ports the testbench drives and has its Verilog beside it."""
        from lns import MadamConfig
        sidecar = Path(sidecar)
        data = json.loads(sidecar.read_text())
        for key in ("module", "config", "lanes", "latency", "ports"):
            if key not in data:
                raise ValueError(f"sidecar {sidecar} must have a {key!r} entry")
        ports = data["ports"]
        missing = [p for p in REQUIRED_PORTS if p not in ports]
        cfg = MadamConfig.from_dict(data["config"])
        if cfg.is_stochastic:
            missing += [p for p in ("lfsr_seed", "lfsr_load") if p not in ports]
        if missing:
            raise ValueError(f"sidecar {sidecar} lacks ports {', '.join(missing)}")
        verilog = sidecar.with_suffix(".v")
        if not verilog.exists():
            raise ValueError(f"sidecar {sidecar} has no Verilog beside it ({verilog.name})")
        return cls(cfg, int(data["lanes"]), data["module"], ports, int(data["latency"]),
                   data.get("tables", {}), verilog, sidecar)

    @property
    def stochastic(self) -> bool:
        return "lfsr_seed" in self.ports

    def width(self, port: str) -> int:
        return int(self.ports[port]["width"])

    def key(self) -> str:
        """A hash of the two files: the key of builds made from them."""
        return digest(self.verilog, self.sidecar)


def _check(cfg, lanes):
    from lns import MadamConfig
    if not isinstance(cfg, MadamConfig):
        raise TypeError(f"cfg must be a MadamConfig, not {type(cfg).__name__}")
    if not isinstance(lanes, int) or isinstance(lanes, bool) or lanes < 1:
        raise ValueError(f"lanes must be a positive int, not {lanes!r}")


_SOURCES: list = []


def _sources_digest() -> str:
    """Hash of the sources the Verilog depends on (``rtl/`` and ``lns/``), once a process."""
    if not _SOURCES:
        root = Path(__file__).resolve().parent.parent
        items = []
        for pkg in ("rtl", "lns"):
            for f in sorted((root / pkg).rglob("*.py")):
                items += [str(f.relative_to(root)), f]
        _SOURCES.append(digest(*items))
    return _SOURCES[0]


def _write_atomic(path: Path, data: bytes):
    """Write ``data`` to a temporary file beside ``path``; returns its name (the caller
    renames it into place once every file of the set is written)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)              # mkstemp makes 0600; these are ordinary outputs
        return tmp
    except BaseException:
        os.unlink(tmp)
        raise


def _write_pair(out: Path, name: str, verilog: bytes, sidecar_json: bytes):
    """``<name>.v`` and ``<name>.json`` into ``out``, both or neither (OSError)."""
    v_path, j_path = out / f"{name}.v", out / f"{name}.json"
    tmps = []
    try:
        tmps.append((_write_atomic(v_path, verilog), v_path))
        tmps.append((_write_atomic(j_path, sidecar_json), j_path))
    except OSError:
        for tmp, _ in tmps:
            os.unlink(tmp)
        raise
    for tmp, final in tmps:
        os.replace(tmp, final)
    return v_path, j_path


def _convert(cfg, lanes: int) -> tuple[str, dict]:
    """The Verilog text and the sidecar dictionary (the one call of the Verilog backend on
    the unit)."""
    os.environ["AMARANTH_USE_YOSYS"] = "builtin"      # a system Yosys never changes the text
    from amaranth.back import verilog
    from .unit import MadamUpdateArray
    top = MadamUpdateArray(cfg, lanes)
    meta = sidecar(cfg, lanes, top)
    text = verilog.convert(top, name=meta["module"], emit_src=False)
    return text, meta


_MEMO: dict = {}


def design(cfg, lanes: int = 1) -> Design:
    """The design of ``cfg`` with ``lanes`` lanes, generated once and cached.

    Generated into ``cache_dir("designs", key)`` unless a previous run left it there
    (then read back with `Design.load`); within one process neither is read again.

    Raises
    ------
    TypeError
        ``cfg`` is not a `lns.MadamConfig`.
    ValueError
        ``lanes`` is not a positive int.
    """
    import amaranth
    _check(cfg, lanes)
    key = digest(cfg.to_json(), str(lanes), amaranth.__version__, _sources_digest())
    d = cache_dir("designs", key)
    known = _MEMO.get(d)
    if known is not None and known.verilog.exists() and known.sidecar.exists():
        return replace(known, cfg=cfg)
    name = module_name(cfg, lanes)
    v_path, j_path = d / f"{name}.v", d / f"{name}.json"
    if v_path.exists() and j_path.exists():
        found = replace(Design.load(j_path), cfg=cfg)      # the key includes the config
    else:
        text, meta = _convert(cfg, lanes)
        # The text as the backend returned it, UTF-8, "\n" line ends: stable bytes.
        _write_pair(d, name, text.encode("utf-8"),
                    (json.dumps(meta, sort_keys=True, indent=2) + "\n").encode("utf-8"))
        found = Design(cfg, lanes, name, meta["ports"], meta["latency"], meta["tables"],
                       v_path, j_path)
    _MEMO[d] = found
    return found


def prepare_out_dir(out_dir) -> Path:
    """``out_dir`` as a Path, created if missing; ValueError if it is not a writable
    directory."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output directory {out} is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create output directory {out}: {exc.strerror}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ValueError(f"output directory {out} is not writable")
    return out


def export(d: Design, out_dir) -> Design:
    """Copy ``d``'s two files byte for byte into ``out_dir`` (created if missing); the same
    design with the new paths.  Both are written to temporary files first and renamed into
    place, so an error leaves no half-written file.

    Raises
    ------
    ValueError
        ``out_dir`` is not a writable directory, or writing into it fails.
    """
    out = prepare_out_dir(out_dir)
    try:
        v_path, j_path = _write_pair(out, d.module, d.verilog.read_bytes(),
                                     d.sidecar.read_bytes())
    except OSError as exc:
        raise ValueError(f"cannot write to output directory {out}: {exc.strerror}") from None
    return replace(d, verilog=v_path, sidecar=j_path)
