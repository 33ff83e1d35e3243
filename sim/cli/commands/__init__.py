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
    from lns.registry import RULES
    named = "; ".join(f"{e.label} {', '.join(presets.names(rule))}"
                      for rule, e in RULES.items() if presets.names(rule))
    parser.add_argument("--preset", default=default_preset or presets.DEFAULT,
                        help=f"named configuration: {named}; "
                             f"default {default_preset or presets.DEFAULT}")
    parser.add_argument("--config", metavar="FILE",
                        help="a TOML or JSON file of config fields (of the preset's rule), "
                             "overriding the preset's")


def load_config(args, *, command: str | None = None):
    """The configuration named by --preset (any rule's), with --config's fields laid over
    it (`lns.optimizers.config_from_dict`)."""
    from lns import presets
    cfg = presets.get(args.preset)
    cls = type(cfg)
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
