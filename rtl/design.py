"""One design flow: the generated design of ``(config, lanes)``, made in one place and cached.

`design` is the only function that converts `MadamUpdateArray` to the unit's Verilog.  Its
files go to the cache entry ``<cache>/designs/<key>`` (`rtl.cache.ensure`: sealed with the
checksums of its files, checked on every use, regenerated when damaged), the key a hash of
the config, the lanes, the Amaranth version and the sources of ``rtl/`` and ``lns/`` (a
change to either regenerates).
`rtl.generate_verilog` (``lnsmadam verilog``), the testbench, the cycle simulation and the
synthesis cost all take their design from here.

The process that generates a design keeps the `Design` object; the JSON sidecar is for
consumers of the files (a later run, ``testbench --replay``, another tool), which read it
with `Design.load` (validated).
"""

from __future__ import annotations

import errno
import json
import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from lns.errors import InvalidType, InvalidValue

from .cache import cache_dir, digest, ensure, problem

__all__ = ["Design", "design", "export", "check_out_dir", "MAX_LANES", "array_of",
           "module_name", "table_summary", "sidecar", "REQUIRED_PORTS", "STREAM_PORTS",
           "required_ports"]

# Lanes of one design.  Generation time and memory grow linearly with the lanes (lns12 on
# the 2-core machine of TOOLCHAIN.md: 1.2 s / 180 MB at 1 lane, 4.6 s / 220 MB at 16, 18 s /
# 370 MB and 3 MB of Verilog at 64; 1000 lanes ran past a minute and 1.5 GB), and so does
# every build and simulation of the design.  And 64 lanes of lns12 already move 64 x 69 =
# 4,416 bits a cycle, more than two HBM stacks transfer a clock (1,024-bit interface each,
# double data rate): a wider array would only wait for its memory.
MAX_LANES = 64

# The stream's ports every design has; the words, the held inputs and the LFSR's ports
# follow from the rule contract (`required_ports`).
STREAM_PORTS = ("clk", "rst", "in_valid", "in_ready", "out_valid", "out_ready")
# Madam's, as before the other rules (kept for the sidecars and tests that name them).
REQUIRED_PORTS = ("clk", "rst", "in_valid", "in_ready", "in_w", "in_g", "in_v", "out_valid",
                  "out_ready", "out_w", "out_v", "x_bc", "clip")


def required_ports(cfg) -> tuple:
    """The ports a consumer of ``cfg``'s design drives: the stream, ``in_<word>`` of every
    word, ``out_<word>`` of every written one, the held inputs, and with stochastic
    rounding ``lfsr_seed``/``lfsr_load``."""
    ports = STREAM_PORTS + tuple(f"in_{k}" for k in cfg.WORD_ROLES) \
        + tuple(f"out_{k}" for k in cfg.output_roles) + tuple(cfg.HELD)
    if cfg.is_stochastic:
        ports = ports + ("lfsr_seed", "lfsr_load")
    return ports


def module_name(cfg, lanes: int = 1) -> str:
    """``<prefix>_<cfg.name>_x<lanes>`` with the name reduced to ``[A-Za-z0-9_]``, the
    prefix the rule's (`lns.registry.RuleEntry.module_prefix`: ``lnsmadam``, ``lnsadam``,
    ``lnssgd``, ``floatadam``, ...)."""
    from lns.registry import entry
    return f"{entry(cfg).module_prefix}_{re.sub(r'[^A-Za-z0-9_]', '_', cfg.name)}_x{lanes}"


def table_summary(cfg) -> dict:
    """ROM contents the hardware holds, by role (`lns.rule.Rule.rom_tables`)."""
    return cfg.rom_tables()


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
    meta = {"module": module_name(cfg, lanes), "config": cfg.to_dict(), "lanes": lanes,
            "latency": top.latency, "ports": ports, "tables": table_summary(cfg),
            "tools": {"amaranth": amaranth.__version__},
            "caveats": list(cfg.caveats())}      # what a degenerate config really holds
    meta.update(top.sidecar_extra())        # what the rule's array adds (its rule, schedule)
    return meta


@dataclass(frozen=True)
class Design:
    """One generated design: its config and shape, and where its two files are."""

    cfg: object                # lns.MadamConfig, AdamConfig or SGDConfig
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
        from lns.optimizers import config_from_dict
        sidecar = Path(sidecar)
        data = json.loads(sidecar.read_text())
        for key in ("module", "config", "lanes", "latency", "ports"):
            if key not in data:
                raise InvalidValue(f"sidecar {sidecar} must have a {key!r} entry")
        ports = data["ports"]
        cfg = config_from_dict(data["config"])
        missing = [p for p in required_ports(cfg) if p not in ports]
        if missing:
            raise InvalidValue(f"sidecar {sidecar} lacks ports {', '.join(missing)}")
        verilog = sidecar.with_suffix(".v")
        if not verilog.exists():
            raise InvalidValue(f"sidecar {sidecar} has no Verilog beside it ({verilog.name})")
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
    from lns.rule import Rule
    if not isinstance(cfg, Rule):
        # (the message predates the additive rules; tests/test_rtl_verilog.py pins it)
        raise InvalidType(f"cfg must be a MadamConfig, not {type(cfg).__name__}")
    if not isinstance(lanes, int) or isinstance(lanes, bool) or lanes < 1:
        raise InvalidValue(f"lanes must be a positive int, not {lanes!r}")
    if lanes > MAX_LANES:
        raise InvalidValue(f"lanes must be at most {MAX_LANES} (rtl.design.MAX_LANES), "
                           f"not {lanes}")


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
        while tmps:
            os.replace(*tmps[0])
            tmps.pop(0)
    except BaseException:                 # an error or an interrupt: no temporary left
        for tmp, _ in tmps:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        raise
    return v_path, j_path


def array_of(cfg, lanes: int = 1):
    """The Amaranth array component of ``cfg``'s rule with ``lanes`` lanes (the top of
    every generated design; `rtl.cost` wraps the same object for the package's pins)."""
    from .array import UpdateArray
    return UpdateArray(cfg, lanes)


def _convert(cfg, lanes: int) -> tuple[str, dict]:
    """The Verilog text and the sidecar dictionary (the one call of the Verilog backend on
    the unit)."""
    os.environ["AMARANTH_USE_YOSYS"] = "builtin"      # a system Yosys never changes the text
    from amaranth.back import verilog
    try:
        top = array_of(cfg, lanes)
        meta = sidecar(cfg, lanes, top)
        text = verilog.convert(top, name=meta["module"], emit_src=False)
    except BaseException:
        # Stopped half way (an interrupt, an error): the units built so far were never
        # elaborated, and Amaranth would warn about each one as it is collected, after the
        # error was reported.  They are not a mistake of the design: no warning.
        import warnings
        from amaranth.hdl import UnusedElaboratable
        warnings.simplefilter("ignore", UnusedElaboratable)
        raise
    return text, meta


_MEMO: dict = {}


def design(cfg, lanes: int = 1, *, note=None) -> Design:
    """The design of ``cfg`` with ``lanes`` lanes, generated once and cached.

    Generated into the cache entry ``<cache>/designs/<key>`` (`rtl.cache.ensure`: made in a
    private folder, sealed with the checksums of its files, renamed into place) unless a
    previous run left it there; then its seal is checked and the sidecar read back with
    `Design.load`.  An entry that fails either (truncated, garbled, half removed) is
    generated again, with one line on stderr saying so.  Within one process the sidecar is
    read once, and the seal checked again on every call (cheap while the files keep their
    size, time and inode).  ``note``: called with one line of text when the design is
    generated (not cached), e.g. a `testbench.progress.Progress`'s ``note`` (it takes
    seconds per lane).

    Raises
    ------
    TypeError
        ``cfg`` is not a `lns.MadamConfig`, `lns.AdamConfig`, `lns.SGDConfig` or
        `lns.rules.ieee_adam.FloatAdamConfig`.
    ValueError
        ``lanes`` is not a positive int, or over `MAX_LANES`.
    """
    import amaranth
    _check(cfg, lanes)
    key = digest(cfg.to_json(), str(lanes), amaranth.__version__, _sources_digest())
    d = cache_dir("designs") / key               # the entry itself is made by ensure
    known = _MEMO.get(d)
    if known is not None and problem(d) is None:  # (a few stat calls while files are intact)
        return replace(known, cfg=cfg)
    name = module_name(cfg, lanes)
    found = {}

    def loads(folder: Path):
        """Why the sealed entry ``folder`` is no usable design (None when it is one)."""
        try:
            found["design"] = Design.load(folder / f"{name}.json")
        except (ValueError, TypeError, KeyError) as exc:  # what a garbled sidecar raises
            return f"its sidecar does not load: {exc}"
        return None

    def generate(folder: Path):
        if note is not None:
            note(f"generating {name} with Amaranth ({lanes} lane{'s' if lanes > 1 else ''})")
        text, meta = _convert(cfg, lanes)
        # The text as the backend returned it, UTF-8, "\n" line ends: stable bytes.
        (folder / f"{name}.v").write_bytes(text.encode("utf-8"))
        (folder / f"{name}.json").write_bytes(
            (json.dumps(meta, sort_keys=True, indent=2) + "\n").encode("utf-8"))
        found["design"] = Design(cfg, lanes, name, meta["ports"], meta["latency"],
                                 meta["tables"], d / f"{name}.v", d / f"{name}.json")

    ensure(d, generate, check=loads)
    # the key includes the config: the one given is the one the files were made of
    made = replace(found["design"], cfg=cfg, verilog=d / f"{name}.v",
                   sidecar=d / f"{name}.json")
    _MEMO[d] = made
    return made


def _missing_dirs(out: Path) -> list:
    """``out`` and its ancestors that do not exist, deepest first."""
    missing = []
    p = out.absolute()
    while not p.exists() and not p.is_symlink() and p != p.parent:
        missing.append(p)
        p = p.parent
    return missing


@contextmanager
def _out_dir(out_dir):
    """``out_dir`` as a Path, created with its missing parents; InvalidValue if it is not
    (or cannot be made) a writable directory.  The folders it created are removed again if
    the body raises (an error or an interrupt: no new empty folder is left)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InvalidValue(f"output directory {out} is not a directory")
    made = _missing_dirs(out)
    ok = False
    try:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidValue(f"cannot create output directory {out}: {exc.strerror}") from None
        if not os.access(out, os.W_OK | os.X_OK):
            raise InvalidValue(f"output directory {out} is not writable")
        yield out
        ok = True
    finally:
        if not ok:
            for p in made:                # deepest first; only folders this call made
                try:
                    p.rmdir()
                except OSError:           # gone already, or not empty: not ours to remove
                    pass


def _nearest_existing(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_out_dir(out_dir) -> Path:
    """``out_dir`` as a Path if it is a writable directory or could be created as one
    (InvalidValue otherwise).  Creates nothing: a run that fails or is interrupted later
    leaves no new empty folder behind.  The one check of an output folder (the command
    line's ``--out`` options use it too)."""
    out = Path(out_dir)
    if out.exists():
        if not out.is_dir():
            raise InvalidValue(f"output directory {out} is not a directory")
        if not os.access(out, os.W_OK | os.X_OK) or not _can_make_in(out):
            raise InvalidValue(f"output directory {out} is not writable")
        return out
    # The reasons in the words mkdir would give (strerror), without calling it.
    base = _nearest_existing(out)
    if not base.is_dir():
        raise InvalidValue(f"cannot create output directory {out}: "
                           f"{os.strerror(errno.ENOTDIR)}")
    if not os.access(base, os.W_OK | os.X_OK) or not _can_make_in(base):
        raise InvalidValue(f"cannot create output directory {out}: "
                           f"{os.strerror(errno.EACCES)}")
    return out


def _can_make_in(folder: Path) -> bool:
    """Whether a folder can really be made in ``folder``: made and removed again.  Access
    bits alone do not tell (root passes `os.access` on /proc and on read-only mounts)."""
    import tempfile
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".lnsmadam-probe-", dir=folder))
    except OSError:
        return False
    return True


def export(d: Design, out_dir) -> Design:
    """Copy ``d``'s two files byte for byte into ``out_dir`` (created if missing); the same
    design with the new paths.  Both are written to temporary files first and renamed into
    place, so an error leaves no half-written file, and a folder it created is removed
    again when writing fails or is interrupted.

    Raises
    ------
    ValueError
        ``out_dir`` is not a writable directory, or writing into it fails.
    """
    with _out_dir(out_dir) as out:        # a folder it made goes again if writing fails
        try:
            v_path, j_path = _write_pair(out, d.module, d.verilog.read_bytes(),
                                         d.sidecar.read_bytes())
        except OSError as exc:
            raise InvalidValue(f"cannot write to output directory {out}: "
                               f"{exc.strerror}") from None
    return replace(d, verilog=v_path, sidecar=j_path)
