"""Sub-commands of `lnsmadam`, one module each (see `sim.cli`)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path


class UsageError(Exception):
    """A problem with the command line: printed as one line, exit status 2."""


def add_config_arguments(parser, *, default_preset: str | None = None):
    """--preset and --config, shared by every command that needs a MadamConfig."""
    from lns import presets
    parser.add_argument("--preset", default=default_preset or presets.DEFAULT,
                        help=f"named configuration ({', '.join(presets.names())}); "
                             f"default {default_preset or presets.DEFAULT}")
    parser.add_argument("--config", metavar="FILE",
                        help="a TOML or JSON file of MadamConfig fields, overriding the preset's")


def load_config(args):
    """The MadamConfig named by --preset, with --config's fields laid over it."""
    from lns import MadamConfig, presets
    cfg = presets.get(args.preset)
    if getattr(args, "config", None):
        path = Path(args.config)
        try:
            text = path.read_text()
        except OSError as exc:
            raise UsageError(f"cannot read config {path}: {exc.strerror}") from None
        try:
            data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"config {path} is not valid {path.suffix[1:] or 'TOML'}: {exc}") from None
        base = cfg.to_dict()
        for key, value in data.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                base[key] = {**base[key], **value}
            else:
                base[key] = value
        if "name" not in data:
            base["name"] = f"{cfg.name}_{path.stem}"
        cfg = MadamConfig.from_dict(base)
    return cfg
