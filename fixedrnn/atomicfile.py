"""Files written whole or not at all: each to a temporary name beside it, then renamed.

A reader never sees a half-written model, ``.tflite``, C source or golden set: every file is first
written to ``.{name}.{pid}.{random}.tmp`` in the target's directory, then moved over the target
with one ``os.replace``; on any error, and on SIGINT or SIGTERM (which ``fixedrnn.cli`` turns into
``KeyboardInterrupt``), the temporary files are removed and the targets are left as they were. The
renames themselves run with SIGINT and SIGTERM held back (:func:`signals_deferred`), so a signal
never splits a set of files. New files get the mode ``open(path, "w")`` would give them (0o666
minus the umask); a file that is overwritten keeps its mode (0600 stays 0600).

A set of files that belongs together in one directory (the C export) is written by
:func:`write_directory`: into a temporary directory beside it first, then moved in as one step.
An error names the target, never the temporary file.
"""

import os
import secrets
import shutil
import signal
import stat
import threading
from contextlib import contextmanager
from pathlib import Path

from fixedrnn.errors import FixedRnnError, InputFileError

#: The signals held back while files are renamed into place (:func:`signals_deferred`).
DEFERRED_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def temporary_path(path):
    """A fresh temporary name beside ``path``: ``.{name}.{pid}.{8 hex digits}.tmp``."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


@contextmanager
def signals_deferred():
    """Run the block with SIGINT and SIGTERM held back: one that arrives meanwhile is only recorded,
    and raised again (to the handler in place before) when the block ends.

    Python runs signal handlers in the main thread only, so the handlers are swapped there (an
    OS-level mask would not do: NumPy's or numba's threads would take the signal); in another
    thread the block runs as it is (no handler would interrupt it there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = {signum: signal.signal(signum, lambda number, frame: received.append(number))
                for signum in DEFERRED_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        for signum in received:
            signal.raise_signal(signum)


def _existing_mode(path):
    """The permission bits of the regular file at ``path``, or None when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else None


def _cannot_write(path, exc):
    return InputFileError(path, f"cannot be written ({exc.strerror or exc})")


def _parent(path):
    return path.parent if str(path.parent) else Path(".")


def _stage(tmp, path, write):
    """Create ``tmp`` (exclusive), give it ``path``'s mode if ``path`` exists, fill it with
    ``write``; an OS error names ``path``."""
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as fh:
            mode = _existing_mode(path)
            if mode is not None:
                os.fchmod(fh.fileno(), mode)
            write(fh)
    except OSError as exc:
        raise _cannot_write(path, exc) from None


def write_files(writers):
    """Write several files as one step: ``{path: write(binary file object)}``, each to a temporary
    name first, then all renamed once every writer has succeeded. Returns the paths written.

    A missing directory raises :class:`FixedRnnError` naming the target path; an unwritable place
    an :class:`InputFileError` naming the target."""
    staged = []
    try:
        for path, write in writers.items():
            path = Path(path)
            if not _parent(path).is_dir():
                raise FixedRnnError(f"{path}: directory {_parent(path)} does not exist")
            if path.is_dir():
                raise InputFileError(path, "is a directory")
            tmp = temporary_path(path)
            staged.append((tmp, path))  # before it exists: removed below whatever happens next
            _stage(tmp, path, write)
        with signals_deferred():
            for tmp, path in staged:
                try:
                    os.replace(tmp, path)
                except OSError as exc:
                    raise _cannot_write(path, exc) from None
    finally:
        for tmp, _ in staged:
            if os.path.lexists(tmp):
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


def write_directory(directory, files, owned=()):
    """Write the set ``files`` (``{file name: bytes}``) into ``directory`` as one step; returns the
    paths written.

    Every file is first written into a temporary directory beside ``directory``
    (``.{name}.{pid}.{random}.tmp``). Then, with SIGINT and SIGTERM held back: a ``directory`` that
    does not exist is that temporary directory renamed (the whole set appears at once); in an
    existing one, the files under the names of ``files`` and of ``owned`` (the names a writer of such
    sets may have left there before: e.g. the other cell's C file) are moved aside, then the new files
    moved in; if a move fails, every file is moved back and ``directory`` is as it was. Any other
    file of ``directory`` is left as it is. An overwritten file keeps its mode. The temporary
    directory is always removed. A name of ``files`` or ``owned`` that is a directory in
    ``directory`` is refused before anything is written."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise FixedRnnError(f"{directory} exists and is not a directory")
    if not _parent(directory).is_dir():
        raise FixedRnnError(f"{directory}: directory {_parent(directory)} does not exist")
    names = sorted(set(files) | set(owned))
    for name in names:
        if (directory / name).is_dir() and not (directory / name).is_symlink():
            raise InputFileError(directory / name, "is a directory")
    staging = temporary_path(directory)
    try:
        try:
            os.mkdir(staging)
        except OSError as exc:
            raise _cannot_write(directory, exc) from None
        for name, data in files.items():
            _stage(staging / name, directory / name, lambda fh, data=data: fh.write(data))
        with signals_deferred():
            if not directory.exists():
                try:
                    os.rename(staging, directory)
                except OSError as exc:
                    raise _cannot_write(directory, exc) from None
            else:
                _move_in(directory, staging, files, names)
    finally:
        if os.path.lexists(staging):
            shutil.rmtree(staging)
    return [directory / name for name in files]


def _move_in(directory, staging, files, names):
    """Move ``staging``'s ``files`` into ``directory``, the old files under ``names`` aside first
    (into ``staging/.previous``, deleted with it); all moved back if a move fails."""
    aside = staging / ".previous"
    os.mkdir(aside)
    moved_aside, moved_in = [], []
    try:
        for name in names:
            if os.path.lexists(directory / name):
                os.replace(directory / name, aside / name)
                moved_aside.append(name)
        for name in files:
            os.replace(staging / name, directory / name)
            moved_in.append(name)
    except OSError as exc:
        for name in moved_in:
            os.replace(directory / name, staging / name)
        for name in moved_aside:
            os.replace(aside / name, directory / name)
        raise InputFileError(directory, f"cannot be written ({exc.strerror or exc}); left as it was") from None
