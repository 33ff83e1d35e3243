"""`lnsmadam cache`: what the cache holds, and removing it (as ``pip cache`` and ``ccache``).

``lnsmadam cache`` (or ``cache info``) prints the cache root and, for each kind of entry
(`rtl.cache.KINDS`: designs, builds, synthesis, runs, failures), how many there are and their
size; ``lnsmadam cache clean [KIND]`` removes the entries of every kind, or of one, and says
what it freed.  ``--json`` gives either as one JSON object.
"""

from __future__ import annotations

from ..jsonout import dumps

NAME = "cache"
HELP = "show the cache's size by kind, or clean it (cache info | cache clean [KIND])"
ORDER = 80


def add_arguments(parser):
    from rtl.cache import CACHE_ENV, KINDS
    parser.add_argument("action", nargs="?", choices=("info", "clean"), default="info",
                        metavar="ACTION",
                        help="info: the root, entries and size of each kind (the default); "
                             "clean: remove the entries")
    parser.add_argument("kind", nargs="?", choices=tuple(KINDS), metavar="KIND",
                        help="only this kind: " + "; ".join(f"{k} ({v[0]})"
                                                             for k, v in KINDS.items()))
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.epilog = (f"The cache lives in the user's cache directory (~/.cache/lnsmadam on "
                     f"Linux); set {CACHE_ENV} to move it.")


def size_text(n: int) -> str:
    """``n`` bytes for people: ``0 B``, ``12.3 kB``, ``4.5 MB``, ``1.2 GB`` (powers of 1000,
    as pip and du -h --si)."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""                                     # (not reached)


def _info_table(data: dict) -> list:
    rows = [f"cache: {data['root']}",
            f"{'kind':<10} {'entries':>8} {'size':>10}  what"]
    for kind, v in data["kinds"].items():
        rows.append(f"{kind:<10} {v['entries']:>8,} {size_text(v['bytes']):>10}  {v['what']}")
    rows.append(f"{'total':<10} {sum(v['entries'] for v in data['kinds'].values()):>8,} "
                f"{size_text(data['bytes']):>10}")
    return rows


def _clean_lines(data: dict) -> list:
    rows = []
    for kind, v in data["kinds"].items():
        kept = f"; kept {v['kept']:,} in use by a running process" if v["kept"] else ""
        rows.append(f"{kind}: removed {v['entries']:,} "
                    f"entr{'y' if v['entries'] == 1 else 'ies'}, "
                    f"{size_text(v['bytes'])}{kept}")
    rows.append(f"freed {size_text(data['bytes'])} in {data['root']}")
    return rows


def run(args) -> int:
    from rtl import cache
    kinds = None if args.kind is None else [args.kind]
    if args.action == "clean":
        data, lines = cache.clean(kinds), _clean_lines
    else:
        data, lines = cache.usage(kinds), _info_table
    if args.json:
        print(dumps(data))
    else:
        print("\n".join(lines(data)))
    return 0
