"""Checks of the files and folders a command will write, made before any long work starts,
so that a bad path is one line and exit 2 at once instead of an error after the run (or a
traceback from the library that writes it).  Each creates nothing."""

from __future__ import annotations

from pathlib import Path

from lns.errors import InputError

from .commands import UsageError, check_out_dir, check_out_file

__all__ = ["check_plot", "check_folder", "plot_formats"]


def plot_formats() -> tuple[str, ...]:
    """The file name extensions matplotlib's ``savefig`` writes (png, pdf, svg, ...)."""
    from matplotlib.figure import Figure
    return tuple(sorted(Figure().canvas.get_supported_filetypes()))


def check_plot(path, option: str = "--plot") -> Path | None:
    """``path`` of a plot option as a Path (None stays None): its folder exists and is
    writable, and its extension is one matplotlib writes (none: matplotlib adds .png)."""
    if path is None:
        return None
    out = check_out_file(path, option)
    if out.suffix:
        kinds = plot_formats()
        if out.suffix[1:].lower() not in kinds:
            others = ", ".join("." + k for k in kinds if k != "png")
            raise UsageError(f"{option} must name a .png (or {others}) file, not {str(out)!r}")
    return out


def check_folder(path, option: str) -> Path:
    """``path`` of a folder option as a Path: a writable folder, or one that could be made
    (`sim.cli.commands.check_out_dir`), its error naming ``option``."""
    try:
        return check_out_dir(path)
    except InputError as exc:
        raise UsageError(f"{option}: {exc}") from None
