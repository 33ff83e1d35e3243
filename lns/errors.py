"""The exceptions of bad input: what a caller (or a user of the command line) got wrong.

Every validation of input in the project (formats, configs, codes and floats handed to the
model, files and options of the command line) raises one of these, with the text ``"X must
be Y, not Z"``.  They are still `ValueError` / `TypeError`, so code that catches those keeps
working; what they add is the `InputError` base, by which the command line tells bad input
(one line, exit status 2) from a bug in the program (any other exception: one line saying
so, exit status 70, traceback with ``LNSMADAM_TRACEBACK=1``).
"""

from __future__ import annotations

__all__ = ["InputError", "InvalidValue", "InvalidType"]


class InputError(Exception):
    """Base of the bad-input errors (never raised itself)."""


class InvalidValue(InputError, ValueError):
    """An input of the right kind with a value outside what is allowed."""


class InvalidType(InputError, TypeError):
    """An input of the wrong kind."""
