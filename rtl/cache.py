"""Where every cache of the project lives, and how an entry of it proves itself complete.

``$LNSMADAM_CACHE`` overrides the location (one variable for every cache: generated designs,
simulator builds, synthesis results); otherwise it is ``platformdirs.user_cache_dir
("lnsmadam")`` (``~/.cache/lnsmadam`` on Linux).  YoWASP keeps its own compile cache under
``$XDG_CACHE_HOME/YoWASP``, also the user's cache directory.

**Entries that verify themselves.**  A cache entry is a folder (a generated design, a
simulator build) made by `ensure`: it is built in a private temporary folder, sealed with a
completeness marker (`MARKER`: the size and SHA-256 of every file, written last, atomically)
and renamed into place in one step.  Every use checks the marker (`problem`; the checksums
once a process while the files keep their size, time and inode), so a truncated or garbled
entry is found, rebuilt, and said in one line on stderr: ``lnsmadam: cache entry <path> was
incomplete or damaged (<why>); rebuilt``.  A complete entry another process published first
is never replaced.

**Housekeeping.**  `KINDS` names what the cache holds (designs, builds, synthesis, runs,
failures); `usage` measures them and `clean` removes them (``lnsmadam cache``).  A run's
scratch folder (`scratch`) goes when the run ends; those left by processes that died are
removed when the next one starts.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

__all__ = ["cache_root", "cache_dir", "digest", "CACHE_ENV", "TAG", "MARKER", "seal", "problem",
           "ensure", "publish", "CacheError", "scratch", "say", "KINDS", "usage", "clean"]

CACHE_ENV = "LNSMADAM_CACHE"
# The cache directory tag (https://bford.info/cachedir/): backup tools skip the folder, and
# `clean` removes entries only under a root that carries it (never under a folder that
# $LNSMADAM_CACHE names by mistake).
TAG = "CACHEDIR.TAG"
_TAG_TEXT = ("Signature: 8a477f597d28d172789f06886806bc55\n"
             "# This file is a cache directory tag created by lnsmadam.\n"
             "# For information about cache directory tags, see https://bford.info/cachedir/\n")
MARKER = ".lnsmadam-entry"          # the completeness marker of an entry (JSON)
_MARKER_FORMAT = 1


def cache_root() -> Path:
    """The root of every lnsmadam cache (not created)."""
    root = os.environ.get(CACHE_ENV)
    if root:
        return Path(root).expanduser()
    import platformdirs
    return Path(platformdirs.user_cache_dir("lnsmadam", appauthor=False))


def cache_dir(*parts: str) -> Path:
    """The folder ``<cache root>/<parts...>``, created (and the root tagged, `TAG`)."""
    root = cache_root()
    d = root.joinpath(*parts)
    d.mkdir(parents=True, exist_ok=True)
    if not (root / TAG).exists():
        _write_atomic(root / TAG, _TAG_TEXT.encode())
    return d


def digest(*items) -> str:
    """A short hash of strings/bytes/paths (file contents): the key of a cache entry.

    Each item is length-prefixed, so ``("ab", "c")`` and ``("a", "bc")`` differ.
    """
    h = hashlib.sha256()
    for item in items:
        if isinstance(item, Path):
            item = item.read_bytes()
        if isinstance(item, str):
            item = item.encode()
        h.update(len(item).to_bytes(8, "little"))
        h.update(item)
    return h.hexdigest()[:16]


def say(msg: str) -> None:
    """One line on stderr that does not break a progress bar drawn there (tqdm's write on a
    terminal; `rtl` does not import the testbench's progress layer)."""
    try:
        terminal = sys.stderr.isatty()
    except (AttributeError, ValueError):
        terminal = False
    if terminal:
        from tqdm import tqdm
        tqdm.write(msg, file=sys.stderr)
    else:
        print(msg, file=sys.stderr, flush=True)


# ---- the completeness marker ---------------------------------------------------------------
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files(folder: Path) -> list:
    """Every file under ``folder`` (not the marker), as sorted relative POSIX paths."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and p.name != MARKER)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{os.urandom(4).hex()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())          # the marker vouches for the files: it lands last
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def seal(folder) -> None:
    """Write ``folder``'s completeness marker: the size and SHA-256 of every file in it,
    written last and atomically (call it when every file of the entry is written)."""
    folder = Path(folder)
    files = {rel: [(folder / rel).stat().st_size, _sha256(folder / rel)]
             for rel in _files(folder)}
    text = json.dumps({"format": _MARKER_FORMAT, "files": files}, indent=1, sort_keys=True)
    _write_atomic(folder / MARKER, (text + "\n").encode())


def _read_marker(folder: Path):
    """``{relative path: (size, sha256)}`` of the marker, or the reason it cannot be used."""
    try:
        data = json.loads((folder / MARKER).read_text())
    except FileNotFoundError:
        return "no completeness marker"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return "its completeness marker is unreadable"
    if not isinstance(data, dict) or data.get("format") != _MARKER_FORMAT:
        return "its completeness marker is of another format"
    files = data.get("files")
    if not isinstance(files, dict) or not files:
        return "its completeness marker lists no files"
    out = {}
    for rel, entry in files.items():
        parts = Path(rel).parts
        ok = (not Path(rel).is_absolute() and ".." not in parts and isinstance(entry, list)
              and len(entry) == 2 and isinstance(entry[0], int) and isinstance(entry[1], str))
        if not ok:
            return "its completeness marker is damaged"
        out[rel] = (entry[0], entry[1])
    return out


_VERIFIED: dict = {}        # folder -> the stat signature of its files when last verified


def _stat_signature(folder: Path, files: dict):
    """The (size, mtime, inode) of the marker and of every listed file, or the reason one
    is missing or has the wrong size (a truncation needs no checksum to be found)."""
    st = (folder / MARKER).stat()
    sig = [(MARKER, st.st_size, st.st_mtime_ns, st.st_ino)]
    for rel, (size, _) in files.items():
        try:
            st = (folder / rel).stat()
        except FileNotFoundError:
            return f"{rel} is missing"
        if st.st_size != size:
            return f"{rel} has {st.st_size:,} bytes, not {size:,}"
        sig.append((rel, st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(sig)


def problem(folder) -> str | None:
    """None when ``folder`` is a complete entry (its marker there and every file it lists of
    its size and checksum); otherwise why not, in a few words.  The checksums are computed
    once a process while the files keep their size, modification time and inode."""
    folder = Path(folder)
    files = _read_marker(folder)
    if isinstance(files, str):
        return files
    try:
        sig = _stat_signature(folder, files)
    except OSError as exc:
        return f"it cannot be read ({exc.strerror})"
    if isinstance(sig, str):
        return sig
    key = str(folder.absolute())
    if _VERIFIED.get(key) == sig:
        return None
    for rel, (_, sha) in files.items():
        try:
            if _sha256(folder / rel) != sha:
                return f"{rel} does not match its checksum"
        except OSError as exc:
            return f"{rel} cannot be read ({exc.strerror})"
    _VERIFIED[key] = sig
    return None


# ---- making an entry -----------------------------------------------------------------------
class CacheError(RuntimeError):
    """No complete cache entry could be put in place (`publish`)."""


_TEMP = re.compile(r"\.(?:tmp|stale|del)(\d+)-[0-9a-f]+$")


def _twin(d: Path, what: str) -> Path:
    """A private sibling name of ``d`` (``<name>.<what><pid>-<random>``), not created."""
    return d.with_name(f"{d.name}.{what}{os.getpid()}-{os.urandom(4).hex()}")


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:               # another user's process: alive
        return True
    return True


def _owner(name: str, pattern) -> int | None:
    m = pattern.search(name)
    return int(m.group(1)) if m else None


def _sweep(folder: Path, pattern) -> None:
    """Remove what a dead process left in ``folder``: the entries whose name matches
    ``pattern`` with a process id (group 1) of no running process."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        pid = _owner(name, pattern)
        if pid is not None and pid != os.getpid() and not _alive(pid):
            _remove(folder / name)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except OSError:
            pass


def _empty(d: Path) -> bool:
    """``d`` is absent or an empty folder (`cache_dir` made it): nothing was damaged."""
    try:
        return not any(os.scandir(d))
    except FileNotFoundError:
        return True
    except NotADirectoryError:
        return False


def _problem(d: Path, check) -> str | None:
    return problem(d) or (check(d) if check is not None else None)


def publish(tmp, d, check=None) -> None:
    """Move the sealed folder ``tmp`` to ``d`` atomically, safe against other processes
    making the same entry: ``rename`` replaces ``d`` only while it is absent or empty, so a
    complete entry another process published first is kept (ours is discarded); an
    incomplete or damaged ``d`` is moved aside and removed first.  `CacheError` if no
    complete entry could be put in place."""
    tmp, d = Path(tmp), Path(d)
    for _ in range(3):
        if _problem(d, check) is None:            # another process published the same key
            break
        try:
            os.rename(tmp, d)
            return
        except OSError:                           # d is there and not empty
            pass
        if _problem(d, check) is None:
            break
        stale = _twin(d, "stale")
        try:
            os.rename(d, stale)
        except OSError:
            continue                              # someone else moved or published it
        shutil.rmtree(stale, ignore_errors=True)
    shutil.rmtree(tmp, ignore_errors=True)
    if _problem(d, check) is not None:
        raise CacheError(f"could not publish the cache entry {d}")


def ensure(d, populate, *, check=None, note=say) -> bool:
    """Make ``d`` a complete cache entry; True if this call built it, False if it was.

    ``populate(tmp)`` writes every file of the entry into a private temporary folder; it is
    sealed (`seal`) and renamed into place (`publish`), so an interrupted or concurrent
    build never leaves half an entry.  ``check(d)``: an extra test of a sealed entry (a
    reason string when it fails, else None).  An entry that was there but failed its test is
    rebuilt, and ``note`` (default `say`) is called with one line saying so once the new
    one is in place.
    """
    d = Path(d)
    # Emptiness first, then the check: another process may publish the entry between the
    # two (an atomic rename), and an entry absent at the first look is no damaged one.
    # The other order reported a concurrent build's fresh entry as damaged.
    was_empty = _empty(d)
    reason = _problem(d, check)
    if reason is None:
        return False
    damaged = None if was_empty else reason
    d.parent.mkdir(parents=True, exist_ok=True)
    _sweep(d.parent, _TEMP)                       # temporaries of builds killed half way
    tmp = _twin(d, "tmp")
    tmp.mkdir()
    try:
        populate(tmp)
        seal(tmp)
        publish(tmp, d, check)
    except BaseException:                         # an error or an interrupt: no temporary,
        shutil.rmtree(tmp, ignore_errors=True)    # nor the empty folder a caller made
        try:
            d.rmdir()
        except OSError:                           # not empty (an entry) or gone already
            pass
        raise
    if damaged is not None and note is not None:
        note(f"lnsmadam: cache entry {d} was incomplete or damaged ({damaged}); rebuilt")
    return True


# ---- scratch folders of runs ---------------------------------------------------------------
_RUN = re.compile(r"^[a-z]+-(\d+)(?:-[0-9a-f]+)?$")


@contextmanager
def scratch(parent, prefix: str):
    """A new folder ``<parent>/<prefix>-<pid>-<random>`` for one run, removed when the run
    ends (also on an error or an interrupt).  Folders of that shape left in ``parent`` by
    processes that no longer run (killed before they could remove theirs) go first."""
    if not re.fullmatch(r"[a-z]+", prefix):
        raise ValueError(f"prefix must be lower-case letters, not {prefix!r}")
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    _sweep(parent, _RUN)
    d = parent / f"{prefix}-{os.getpid()}-{os.urandom(4).hex()}"
    d.mkdir()
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- what the cache holds: `lnsmadam cache` -------------------------------------------------
# kind -> (what it is, the folders under the root whose direct children are its entries)
KINDS = {
    "designs": ("generated Verilog and sidecars", (("designs",),)),
    "builds": ("Icarus, Verilator and cocotb builds",
               (("testbench", "builds"), ("sim", "builds"), ("testbench", "cocotb"))),
    "synthesis": ("synthesis and place-and-route results", (("cost",),)),
    "runs": ("scratch files of runs", (("testbench", "runs"), ("testbench", "cocotb-runs"),
                                       ("sim", "runs"))),
    "failures": ("failing testbench cases saved for replay", (("failures",),)),
}
# The owner of an entry a run may be using: a run's scratch (``icarus-<pid>-...``, ``in-<pid>-
# <ns>.bin``) or the temporary of a build in progress.
_IN_USE = re.compile(r"^[a-z]+-(\d+)(?:[-.]|$)|\.(?:tmp|stale|del)(\d+)-[0-9a-f]+$")


def _size(path: Path) -> int:
    """Bytes of the files under ``path`` (symbolic links not followed)."""
    try:
        st = path.lstat()
    except OSError:
        return 0
    if not path.is_dir() or path.is_symlink():
        return st.st_size
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def _entries(kind: str) -> list:
    root = cache_root()
    out = []
    for parts in KINDS[kind][1]:
        folder = root.joinpath(*parts)
        try:
            out += sorted(folder / name for name in os.listdir(folder))
        except (FileNotFoundError, NotADirectoryError):
            pass
    return out


def _check_root() -> Path:
    root = cache_root()
    if root.exists() and not root.is_dir():
        from lns.errors import InvalidValue
        raise InvalidValue(f"cache root {root} is not a folder (set {CACHE_ENV} to a folder)")
    return root


def _kinds(kinds) -> list:
    kinds = list(KINDS) if kinds is None else list(kinds)
    for k in kinds:
        if k not in KINDS:
            from lns.errors import InvalidValue
            raise InvalidValue(f"kind must be one of {', '.join(KINDS)}, not {k!r}")
    return kinds


def usage(kinds=None) -> dict:
    """``{"root": path, "kinds": {kind: {"what", "entries", "bytes", "folders"}},
    "bytes": total}`` of the cache (every kind of `KINDS`, or those named)."""
    root = _check_root()
    out = {}
    for k in _kinds(kinds):
        entries = _entries(k)
        out[k] = {"what": KINDS[k][0], "entries": len(entries),
                  "bytes": sum(_size(e) for e in entries),
                  "folders": [str(root.joinpath(*p)) for p in KINDS[k][1]]}
    return {"root": str(root), "kinds": out, "bytes": sum(v["bytes"] for v in out.values())}


def _in_use(name: str) -> bool:
    m = _IN_USE.search(name)
    pid = int(m.group(1) or m.group(2)) if m else None
    return pid is not None and pid != os.getpid() and _alive(pid)


def clean(kinds=None) -> dict:
    """Remove the entries of every kind of `KINDS` (or of those named), except those a
    running process is making or using (a run's scratch, a build in progress).  Each entry
    is renamed aside first, so an interrupted clean leaves no half-removed entry that looks
    like one.  ``{"root", "kinds": {kind: {"entries", "bytes", "kept"}}, "bytes"}``: what
    was removed (and kept).  InvalidValue, and nothing removed, when the root holds
    entries but not the cache tag (`TAG`, written by every run): not a cache of ours."""
    root = _check_root()
    if not (root / TAG).exists() and any(_entries(k) for k in KINDS):
        from lns.errors import InvalidValue
        raise InvalidValue(f"{root} has no {TAG}, so it is not a cache lnsmadam made; "
                           f"nothing was removed (check {CACHE_ENV})")
    out = {}
    for k in _kinds(kinds):
        n = freed = kept = 0
        for e in _entries(k):
            if _in_use(e.name):
                kept += 1
                continue
            size = _size(e)
            gone = _twin(e, "del")
            try:
                os.rename(e, gone)
            except FileNotFoundError:
                continue                          # removed meanwhile
            _remove(gone)
            n, freed = n + 1, freed + size
        out[k] = {"entries": n, "bytes": freed, "kept": kept}
    return {"root": str(root), "kinds": out, "bytes": sum(v["bytes"] for v in out.values())}
