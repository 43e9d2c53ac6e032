"""Exceptions raised for bad input.

Every error is a ``ValueError`` so that callers validating arguments can catch the usual type; its
message names the argument or file and says what was wrong, in one line.
"""

import numbers
import os
import stat


class FixedRnnError(ValueError):
    """Bad argument or impossible configuration; the message names the argument."""


class InputFileError(FixedRnnError):
    """A file that cannot be used (model, WAV, golden vectors); the message starts with its path."""

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def require_regular_file(path, missing):
    """Raise :class:`InputFileError` unless ``path`` is a regular file: ``missing`` (the problem of a
    file that does not exist, e.g. "no such model file"), "is a directory", "not a regular file"
    (a device or a FIFO, whose reading might never end), "cannot be read (...)" (permissions, a NUL
    byte in the name)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputFileError(path, missing) from None
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise InputFileError(repr(str(path)), f"cannot be read ({exc})") from None
    if stat.S_ISDIR(mode):
        raise InputFileError(path, "is a directory")
    if not stat.S_ISREG(mode):
        raise InputFileError(path, "not a regular file (a device, a FIFO, ...)")


def require_int_fields(config, prefix, ranges):
    """Check every ``(field, lo, hi)`` of ``ranges`` on the dataclass ``config``: an integer (not a
    bool) in ``lo..hi``; otherwise ``FixedRnnError`` naming ``<prefix>.<field>``."""
    for name, lo, hi in ranges:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not lo <= value <= hi:
            raise FixedRnnError(f"{prefix}{name}: expected an integer in {lo}..{hi}, got {value!r}")
