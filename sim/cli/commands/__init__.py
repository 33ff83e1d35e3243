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
    if not out.exists() and not (os.access(parent, os.W_OK | os.X_OK) and _can_make_in(parent)):
        raise UsageError(f"cannot write {option} file {out}: folder {parent} is not writable")
    return out


def _can_make_in(folder: Path) -> bool:
    """Whether a file can really be made in ``folder``: made and removed again (root passes
    `os.access` on /proc and on read-only mounts)."""
    import tempfile
    try:
        fd, name = tempfile.mkstemp(prefix=".lnsmadam-probe-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


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
                        help="a .toml or .json file of config fields (of the preset's "
                             "rule; formats by name or table; one entry of 'lnsmadam presets "
                             "--json' loads as it is), overriding the preset's")


# The config files read, by suffix: (what they are called, parser, its error).  The suffix
# picks the parser, so a file is never read as the wrong language and reported as invalid.
_READERS = {".toml": ("TOML", tomllib.loads, tomllib.TOMLDecodeError),
            ".json": ("JSON", json.loads, json.JSONDecodeError)}


def load_config(args, *, command: str | None = None):
    """The configuration named by --preset (any rule's), with --config's fields laid over
    it (`lns.optimizers.config_from_dict`).  The file is TOML (``.toml``) or JSON
    (``.json``), by its suffix; a preset's entry of ``lnsmadam presets --json`` loads as it
    is (its derived fields are checked, its caveats ignored).  A preset that opts in to a
    degenerate constant (`lns.degenerate`) lends the file its opt-in for that field only,
    unless the file sets ``allow_degenerate`` itself."""
    from lns import presets
    from lns.degenerate import check_new
    cfg = presets.get(args.preset)
    if not getattr(args, "config", None):
        return cfg
    path = Path(args.config)
    data = _read_config(path, type(cfg).__name__)
    _check_rule(path, data, cfg, args.preset)
    base = cfg.to_dict()
    roles = set(getattr(cfg, "FORMAT_ROLES", ()))
    for key, value in data.items():
        # a format table changes the preset's format field by field; a named one replaces it
        if key in roles and isinstance(value, dict) and "format" not in value \
                and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    if "name" not in data:
        base["name"] = f"{cfg.name}_{path.stem}"
    try:
        new = type(cfg).from_dict(base)
        if "allow_degenerate" not in data:
            # the preset's opt-in covers the fields it holds degenerate, not one the file
            # makes degenerate
            check_new(new, cfg)
    except InputError as exc:
        raise UsageError(f"config {path}: {exc}") from None
    return new


def _read_config(path: Path, what: str) -> dict:
    """The table a config file holds, parsed by its suffix (`_READERS`)."""
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        kinds = " or ".join(_READERS)
        suffix = f"not {path.suffix}" if path.suffix else "not a name without one"
        raise UsageError(f"config {path} must be named {kinds} (lnsmadam reads TOML and "
                         f"JSON config files, by suffix), {suffix}")
    language, parse, error = reader
    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"cannot read config {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"config {path} is not UTF-8 text") from None
    try:
        data = parse(text)
    except (error, RecursionError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else "nested too deeply"
        raise UsageError(f"config {path} is not valid {language}: {detail}") from None
    if isinstance(data, list) and data and all(isinstance(d, dict) for d in data):
        raise UsageError(f"config {path} must hold one configuration, not a list of "
                         f"{len(data)} (from lnsmadam presets --json? keep one entry)")
    if not isinstance(data, dict):
        raise UsageError(f"config {path} must hold a table of {what} fields, "
                         f"not a {type(data).__name__}")
    return data


def _check_rule(path: Path, data: dict, cfg, preset: str):
    """A config of another rule than --preset's is refused, naming the presets it fits."""
    from lns import presets
    from lns.modes import Optimizer
    rule = data.get("optimizer", str(cfg.optimizer))
    if rule == str(cfg.optimizer):
        return
    if not isinstance(rule, str) or rule not in {str(r) for r in Optimizer}:
        raise UsageError(f"config {path}: optimizer must be one of "
                         f"{', '.join(map(str, Optimizer))}, not {rule!r}")
    raise UsageError(f"config {path} is for optimizer {rule!r}, but --preset {preset} is "
                     f"for {str(cfg.optimizer)!r}: pass --preset with one of "
                     f"{', '.join(presets.names(rule))}")
