"""The `lnsmadam` command line.

Each sub-command is a module in `sim.cli.commands` with ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``.  Any ValueError, TypeError or
`UsageError` a command raises becomes one line on stderr and exit status 2: bad input never
shows a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import commands
from .commands import UsageError

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):                     # one line, exit 2, like every other error
        raise UsageError(message)


def _command_modules():
    mods = []
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"{commands.__name__}.{info.name}")
        if hasattr(mod, "NAME"):
            mods.append(mod)
    return sorted(mods, key=lambda m: getattr(m, "ORDER", 50))


def build_parser():
    parser = _Parser(prog="lnsmadam",
                     description="Design LNS hardware for the Madam optimizer: bit-exact model, "
                                 "Verilog generation, simulator cross-checks, reports.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv=None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "_run", None):
            parser.print_help()
            return 2
        return int(args._run(args) or 0)
    except (UsageError, ValueError, TypeError, OSError) as exc:
        print(f"lnsmadam: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lnsmadam: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
