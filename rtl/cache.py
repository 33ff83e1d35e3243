"""Where every cache of the project lives: the user's cache directory, never the source tree
or site-packages.

``$LNSMADAM_CACHE`` overrides the location (one variable for every cache: generated designs,
simulator builds, synthesis results); otherwise it is ``platformdirs.user_cache_dir
("lnsmadam")`` (``~/.cache/lnsmadam`` on Linux).  YoWASP keeps its own compile cache under
``$XDG_CACHE_HOME/YoWASP``, also the user's cache directory.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["cache_root", "cache_dir", "digest", "CACHE_ENV"]

CACHE_ENV = "LNSMADAM_CACHE"


def cache_root() -> Path:
    """The root of every lnsmadam cache (not created)."""
    root = os.environ.get(CACHE_ENV)
    if root:
        return Path(root).expanduser()
    import platformdirs
    return Path(platformdirs.user_cache_dir("lnsmadam", appauthor=False))


def cache_dir(*parts: str) -> Path:
    """The folder ``<cache root>/<parts...>``, created."""
    d = cache_root().joinpath(*parts)
    d.mkdir(parents=True, exist_ok=True)
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
