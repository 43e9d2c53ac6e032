"""Files written whole or not at all: each to a temporary name beside it, then renamed.

A reader never sees a half-written model, ``.tflite``, C source or golden set: every file is first
written to ``.{name}.{pid}.{random}.tmp`` in the target's directory, then moved over the target
with one ``os.replace``; on any error the temporary files are removed and the targets are left as
they were. New files get the mode ``open(path, "w")`` would give them (0o666 minus the umask).
"""

import os
import secrets
from pathlib import Path

from fixedrnn.errors import FixedRnnError


def temporary_path(path):
    """A fresh temporary name beside ``path``: ``.{name}.{pid}.{8 hex digits}.tmp``."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def write_files(writers):
    """Write several files as one step: ``{path: write(binary file object)}``, each to a temporary
    name first, then all renamed once every writer has succeeded. Returns the paths written.

    A missing directory raises :class:`FixedRnnError` naming the target path."""
    staged = []
    try:
        for path, write in writers.items():
            path = Path(path)
            directory = path.parent if str(path.parent) else Path(".")
            if not directory.is_dir():
                raise FixedRnnError(f"{path}: directory {directory} does not exist")
            tmp = temporary_path(path)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            staged.append((tmp, path))
            with os.fdopen(fd, "wb") as fh:
                write(fh)
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return [path for _, path in staged]


def write_file(path, write):
    """Write one file: ``write(binary file object)`` fills it; see :func:`write_files`."""
    return write_files({path: write})[0]


def write_bytes(path, data):
    """Write ``data`` (bytes) to ``path`` atomically."""
    return write_file(path, lambda fh: fh.write(data))


def write_text(path, text):
    """Write ``text`` (str, UTF-8, newlines as given) to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"))
