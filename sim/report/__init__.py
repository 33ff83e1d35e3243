"""`lnsmadam report`: every analysis in one folder (`build`), rendered as Markdown (`markdown`)."""

from .build import SECTIONS, build_report
from .markdown import render

__all__ = ["SECTIONS", "build_report", "render"]
