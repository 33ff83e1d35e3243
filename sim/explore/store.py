"""The results store of `lnsmadam explore`: one SQLite row per finished run.

A *point* is one training run: its full configuration (task, model, method, weight width,
rounding, seed, epochs, batch, hidden width, learning rate, momentum, the split it is
evaluated on) as a dict of JSON values.  Its key is the SHA-256 of the configuration's
canonical JSON (sorted keys, no spaces) and the *code version*: the SHA-256 of the source
files that decide a run's result (`code_version`: the LNS model, the float references, the
training package and the explore task).  A changed configuration or a changed source is a
new key, so nothing stale is reused; the old rows stay (another checkout may want them).

Rows hold the run dict's numbers as JSON (`put`); a rerun asks `get_many` first and
recomputes only the missing keys.  Each row is committed as its run finishes (an
interrupted run keeps what it finished), and two processes may write one store at once:
SQLite's write-ahead log, a busy timeout, and ``INSERT OR IGNORE`` (the same key twice is
the same result: the first stays).

Each exploration also records its plan (`put_plan`, table ``plans``, keyed like a point by
the plan and the code version) before it trains: a reader (``lnsmadam report``'s
exploration section, `sim.explore.run.from_store`) then knows which plans the points
belong to and replays each through explore's own path, without guessing a plan from the
points.  ``Store(path, readonly=True)`` opens an existing store without writing to it
(no table is made: a reader must not change, or create, the user's store).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from functools import lru_cache
from pathlib import Path

from lns.errors import InvalidValue

__all__ = ["Store", "point_key", "canonical", "code_version", "CODE_SOURCES", "SCHEMA",
           "default_path"]

SCHEMA = 1
#: The sources a run's result depends on (folders: every ``*.py`` under them), relative to
#: the repository's root (the parent of the ``sim`` package).
CODE_SOURCES = ("lns", "python_ref", "sim/analysis/training", "sim/analysis/tracking.py",
                "sim/explore/points.py", "sim/jaxlns")
_BUSY_MS = 60_000


def _root() -> Path:
    return Path(__file__).resolve().parents[2]


@lru_cache(maxsize=1)
def code_version() -> str:
    """SHA-256 (hex, first 16) over `CODE_SOURCES`: each file's path and bytes, in path
    order."""
    root = _root()
    files = []
    for src in CODE_SOURCES:
        p = root / src
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    h = hashlib.sha256()
    for f in sorted(set(files)):
        h.update(str(f.relative_to(root)).encode())
        h.update(b"\0")
        h.update(f.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _pointer() -> Path:
    from rtl.cache import cache_root
    return cache_root() / "explore" / "last-store"


def default_path() -> Path:
    """The store a report reads: the one `lnsmadam explore` wrote last (`remember`:
    its absolute path in ``<cache root>/explore/last-store``, `rtl.cache`: ``$LNSMADAM_CACHE``
    or the user's cache directory) while it exists, else ``<cache root>/explore/
    explore.sqlite``; nothing is created here."""
    try:
        last = Path(_pointer().read_text(encoding="utf-8").strip())
    except (OSError, UnicodeDecodeError, ValueError):
        last = None
    if last is not None and last.is_absolute() and last.is_file():
        return last
    return _pointer().parent / "explore.sqlite"


def remember(path) -> None:
    """Record ``path`` as the store explore wrote last (what a report reads by default:
    `default_path`); written whole (a rename), never fatal: a cache that cannot be written
    only leaves the report to its default."""
    ptr = _pointer()
    try:
        ptr.parent.mkdir(parents=True, exist_ok=True)
        tmp = ptr.with_name(f".last-store.{os.getpid()}")
        tmp.write_text(str(Path(path).absolute()) + "\n", encoding="utf-8")
        os.replace(tmp, ptr)
    except OSError:
        pass


def canonical(config: dict) -> str:
    """The configuration as canonical JSON (sorted keys, no spaces, strict)."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)


def point_key(config: dict, version: str | None = None) -> str:
    """SHA-256 (hex) of the canonical configuration and the code version."""
    v = code_version() if version is None else version
    return hashlib.sha256(f"{canonical(config)}\n{v}".encode()).hexdigest()


class Store:
    """An SQLite file of points (see the module docstring).  ``Store(path)`` creates the
    file and its table when missing; ``version`` defaults to `code_version`."""

    def __init__(self, path, version: str | None = None, *, readonly: bool = False):
        self.path = Path(path)
        self.version = code_version() if version is None else version
        self.readonly = readonly
        if self.path.is_dir():
            raise InvalidValue(f"the store must be a file, not the folder {self.path}")
        if readonly:
            if not self.path.is_file():
                raise InvalidValue(f"the store {self.path} does not exist")
            return
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS points (key TEXT PRIMARY KEY, "
                       "version TEXT NOT NULL, config TEXT NOT NULL, result TEXT NOT NULL, "
                       "finished REAL NOT NULL)")
            db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
            db.execute("CREATE TABLE IF NOT EXISTS plans (key TEXT PRIMARY KEY, "
                       "version TEXT NOT NULL, plan TEXT NOT NULL, recorded REAL NOT NULL)")
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA),))

    def _connect(self):
        try:
            if self.readonly:           # the journal mode is the writer's to set
                db = sqlite3.connect(f"{self.path.absolute().as_uri()}?mode=ro", uri=True,
                                     timeout=_BUSY_MS / 1000)
                db.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
                db.execute("PRAGMA schema_version").fetchone()
            else:
                db = sqlite3.connect(self.path, timeout=_BUSY_MS / 1000)
                db.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
                db.execute("PRAGMA journal_mode = WAL")
        except sqlite3.DatabaseError as exc:
            raise InvalidValue(f"the store {self.path} is not an SQLite file: {exc}") from None
        return _Closing(db)

    def key(self, config: dict) -> str:
        return point_key(config, self.version)

    def get_many(self, configs) -> dict:
        """``{key: result}`` of the configurations already stored (others absent)."""
        keys = [self.key(c) for c in configs]
        out = {}
        with self._connect() as db:
            for i in range(0, len(keys), 500):
                part = keys[i:i + 500]
                marks = ",".join("?" * len(part))
                for k, r in db.execute(f"SELECT key, result FROM points WHERE key IN "
                                       f"({marks})", part):
                    out[k] = json.loads(r)
        return out

    def put(self, config: dict, result: dict) -> bool:
        """Store one finished point, committed at once; False when its key was there."""
        from sim.cli.jsonout import dumps
        with self._connect() as db:
            cur = db.execute("INSERT OR IGNORE INTO points VALUES (?, ?, ?, ?, ?)",
                             (self.key(config), self.version, canonical(config),
                              dumps(result, indent=None), time.time()))
            db.commit()
            return cur.rowcount == 1

    def count(self, *, all_versions: bool = False) -> int:
        with self._connect() as db:
            if all_versions:
                return db.execute("SELECT COUNT(*) FROM points").fetchone()[0]
            return db.execute("SELECT COUNT(*) FROM points WHERE version = ?",
                              (self.version,)).fetchone()[0]

    def results(self) -> dict:
        """``{key: result}`` of every point of this code version (what `get_many` would
        give for their configurations, in one read)."""
        with self._connect() as db:
            return {k: json.loads(r) for k, r in db.execute(
                "SELECT key, result FROM points WHERE version = ?", (self.version,))}

    def put_plan(self, plan: dict) -> bool:
        """Record an exploration's plan (`sim.explore.grid.Plan.to_dict`) for this code
        version; False when it was recorded before (the first time stays)."""
        text = canonical(plan)
        key = hashlib.sha256(f"plan\n{text}\n{self.version}".encode()).hexdigest()
        with self._connect() as db:
            cur = db.execute("INSERT OR IGNORE INTO plans VALUES (?, ?, ?, ?)",
                             (key, self.version, text, time.time()))
            db.commit()
            return cur.rowcount == 1

    def plans(self) -> list[dict]:
        """The plans recorded for this code version, in the order they were first run (none
        in a store written before plans were recorded)."""
        with self._connect() as db:
            try:
                return [json.loads(p) for p, in db.execute(
                    "SELECT plan FROM plans WHERE version = ? ORDER BY recorded",
                    (self.version,))]
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return []
                raise

    def rows(self) -> list[tuple[dict, dict]]:
        """Every ``(config, result)`` of this code version, in the order they finished."""
        with self._connect() as db:
            return [(json.loads(c), json.loads(r)) for c, r in db.execute(
                "SELECT config, result FROM points WHERE version = ? ORDER BY finished",
                (self.version,))]


class _Closing:
    """A connection that commits and *closes* at the end of a ``with`` (sqlite3's own
    context manager only commits)."""

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        return self.db

    def __exit__(self, kind, exc, tb):
        try:
            if kind is None:
                self.db.commit()
        finally:
            self.db.close()
