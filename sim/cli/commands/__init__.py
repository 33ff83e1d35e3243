"""Sub-commands of `lnsmadam`, one module each (see `sim.cli`)."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path


from lns.errors import InputError


class UsageError(InputError):
    """A problem with the command line: printed as one line, exit status 2 (an
    `lns.errors.InputError`, like every error of bad input)."""


def check_out_dir(path) -> Path:
    """``path`` (an output directory) checked without creating anything: the one rule,
    `rtl.design.check_out_dir` (its error is an input error: one line, exit 2)."""
    from rtl.design import check_out_dir as check
    return check(path)


def check_out_file(path, option: str) -> Path:
    """``path`` (an output file) as a Path; UsageError unless its folder exists and the file
    can be written there.  Checked before a long run, so a bad path fails at once instead
    of losing the run's results; creates nothing."""
    out = Path(path)
    if out.is_dir():
        raise UsageError(f"{option} must be a file, not the folder {out}")
    parent = out.absolute().parent
    if not parent.is_dir():
        raise UsageError(f"cannot write {option} file {out}: folder {parent} does not exist")
    if out.exists() and not os.access(out, os.W_OK):
        raise UsageError(f"cannot write {option} file {out}: it is not writable")
    if not out.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {option} file {out}: folder {parent} is not writable")
    return out


def add_config_arguments(parser, *, default_preset: str | None = None):
    """--preset and --config, shared by every command that needs a configuration."""
    from lns import presets
    from lns.ieee.adam import FLOAT_ADAM_PRESETS
    parser.add_argument("--preset", default=default_preset or presets.DEFAULT,
                        help=f"named configuration: LNS Madam {', '.join(presets.names())}; "
                             f"LNS Adam and SGD {', '.join(presets.optimizer_names())}; "
                             f"IEEE float Adam {', '.join(FLOAT_ADAM_PRESETS)}; "
                             f"default {default_preset or presets.DEFAULT}")
    parser.add_argument("--config", metavar="FILE",
                        help="a TOML or JSON file of config fields (of the preset's rule), "
                             "overriding the preset's")


def load_config(args, *, command: str | None = None):
    """The configuration named by --preset, with --config's fields laid over it.

    ``command``: the command's name if it handles only Madam configurations; an Adam or SGD
    preset is then a one-line usage error (``preset lns12_adam (adam) is not supported by
    testbench yet``).  Without it every rule's preset is accepted (`presets.get_any`)."""
    from lns import presets
    from lns.ieee.adam import FLOAT_ADAM_PRESETS
    from lns.optimizers import config_class, optimizer_of
    if command is not None and (args.preset in presets.OPTIMIZER_PRESETS
                                or args.preset in FLOAT_ADAM_PRESETS):
        rule = optimizer_of(presets.get_any(args.preset))
        raise UsageError(f"preset {args.preset} ({rule}) is not supported by {command} yet")
    # A Madam-only command names only the Madam presets when the name is unknown.
    cfg = presets.get(args.preset) if command is not None else presets.get_any(args.preset)
    cls = config_class(optimizer_of(cfg))
    if getattr(args, "config", None):
        path = Path(args.config)
        try:
            text = path.read_text()
        except OSError as exc:
            raise UsageError(f"cannot read config {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise UsageError(f"config {path} is not UTF-8 text") from None
        try:
            data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"config {path} is not valid {path.suffix[1:] or 'TOML'}: {exc}") from None
        if not isinstance(data, dict):
            raise UsageError(f"config {path} must hold a table of {cls.__name__} fields, "
                             f"not a {type(data).__name__}")
        base = cfg.to_dict()
        for key, value in data.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                base[key] = {**base[key], **value}
            else:
                base[key] = value
        if "name" not in data:
            base["name"] = f"{cfg.name}_{path.stem}"
        try:
            cfg = cls.from_dict(base)
        except InputError as exc:
            raise UsageError(f"config {path}: {exc}") from None
    return cfg
