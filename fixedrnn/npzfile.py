"""Reading an ``.npz`` archive without trusting it: the zip directory and each member's ``.npy``
header are checked before any array data is inflated.

An ``.npz`` is a zip archive of ``<key>.npy`` members. A ``.npy`` member is the magic
``\\x93NUMPY``, a version byte pair (1.0, 2.0 or 3.0), the header length (uint16 little-endian for
1.0, uint32 for 2.0 and 3.0), the header (a Python dict literal ``{'descr', 'fortran_order',
'shape'}``, latin-1 for 1.0/2.0, UTF-8 for 3.0), then the raw array data.

Checked when the archive is opened, from its directory alone: the file size, the number of members,
each member's name (``<key>.npy``, printable ASCII, no ``/`` or ``\\``, no duplicate), its
compression (stored or deflate only), no encryption flag, its sizes against the caller's bound
(:class:`NpzLimits`). Checked per member before its data is read: the magic, the version, the header
(a plain numeric, boolean or string dtype: never an object, structured or zero-size one) and that the
member holds exactly the header's data, no more than the caller's bound. No member is ever read past
the size its directory entry declares, so memory stays within the bounds. Every problem raises
:class:`fixedrnn.errors.InputFileError` naming the archive, the member and the reason, in one line.
"""

import ast
import math
import re
import zipfile
import zlib
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from fixedrnn.errors import InputFileError, require_regular_file

MAGIC = b"\x93NUMPY"
#: Readable ``.npy`` versions: (format of the header length, encoding of the header).
VERSIONS = {(1, 0): ("<H", "latin1"), (2, 0): ("<I", "latin1"), (3, 0): ("<I", "utf8")}
#: Longest ``.npy`` header read (NumPy's own default limit).
MAX_HEADER_BYTES = 10000
#: Bytes before the header text: magic, version, header length (4 bytes for versions 2.0 and 3.0).
PREAMBLE_BYTES = len(MAGIC) + 2 + 4
#: dtype kinds a member may hold: bool, integers, floats, complex, unicode and byte strings.
DTYPE_KINDS = "biufcUS"
COMPRESSION_NAMES = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", zipfile.ZIP_BZIP2: "bzip2",
                     zipfile.ZIP_LZMA: "lzma"}
_NAME = re.compile(r"^[\x21-\x7e]+\.npy$")
#: Zip overhead allowed per member on top of its data (local header, directory entry, name, header).
_MEMBER_OVERHEAD = 2048 + MAX_HEADER_BYTES


def _deflate_bound(size):
    """Largest deflate stream of ``size`` bytes of data (zlib's ``compressBound``)."""
    return size + (size >> 12) + (size >> 14) + (size >> 25) + 13


@dataclass(frozen=True)
class NpzLimits:
    """The caller's bounds: ``max_members`` members, ``max_data_bytes(key)`` bytes of array data in
    member ``key`` (None: any key is bounded by ``max_total_bytes`` only), ``max_total_bytes`` of
    array data in all members together."""

    max_members: int
    max_data_bytes: Callable
    max_total_bytes: int

    def member_bound(self, key):
        bound = self.max_data_bytes(key)
        return self.max_total_bytes if bound is None else min(bound, self.max_total_bytes)


@dataclass(frozen=True)
class MemberHeader:
    """A member's ``.npy`` header: ``dtype``, ``shape``, ``fortran_order``, ``offset`` (bytes before
    the data)."""

    dtype: np.dtype
    shape: tuple
    fortran_order: bool
    offset: int

    @property
    def nbytes(self):
        return math.prod(self.shape) * self.dtype.itemsize


class NpzArchive:
    """An open ``.npz`` archive whose directory has been checked (a context manager).

    ``key in archive``, ``iter(archive)`` (keys in archive order), :meth:`header` (read and checked
    on first use) and :meth:`read` (the array, after its header).
    """

    def __init__(self, path, limits):
        self.path = Path(path)
        self.limits = limits
        require_regular_file(self.path, "no such model file")
        size = self.path.stat().st_size
        largest = limits.max_total_bytes + limits.max_members * _MEMBER_OVERHEAD
        if size > largest:
            self.fail(f"{size} bytes, more than the largest legal archive ({largest} bytes)")
        try:
            self.zip = zipfile.ZipFile(self.path)
        except OSError as exc:
            self.fail(f"cannot be read ({exc.strerror or exc})")
        except (zipfile.BadZipFile, EOFError, ValueError, NotImplementedError) as exc:
            self.fail(f"not a fixedrnn model (not an .npz archive: {_one_line(exc)})")
        try:
            self.infos = self._check_directory()
        except BaseException:
            self.zip.close()
            raise
        self.headers = {}

    def fail(self, problem):
        raise InputFileError(self.path, problem)

    def _check_directory(self):
        infos = self.zip.infolist()
        if len(infos) > self.limits.max_members:
            self.fail(f"{len(infos)} members, more than the {self.limits.max_members} of any legal archive")
        twice = [name for name, n in Counter(i.filename for i in infos).items() if n > 1]
        if twice:
            self.fail(f"member {twice[0]!r} appears more than once")
        by_key, total = {}, 0
        for info in infos:
            name = info.filename
            if not _NAME.match(name) or "/" in name or "\\" in name:
                self.fail(f"member {name!r} is not a '<key>.npy' array (printable ASCII, no '/' or '\\')")
            if info.flag_bits & 0x1:
                self.fail(f"member {name!r} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                method = COMPRESSION_NAMES.get(info.compress_type, f"method {info.compress_type}")
                self.fail(f"member {name!r} uses an unsupported compression ({method}; stored or deflate only)")
            key = name[:-4]
            bound = PREAMBLE_BYTES + MAX_HEADER_BYTES + self.limits.member_bound(key)
            if info.file_size > bound:
                self.fail(f"member {name!r} declares {info.file_size} bytes, more than any legal '{key}' "
                          f"({bound} bytes)")
            stored = info.compress_type == zipfile.ZIP_STORED
            if info.compress_size > (info.file_size if stored else _deflate_bound(info.file_size)):
                self.fail(f"member {name!r}: compressed size {info.compress_size} does not fit its size "
                          f"{info.file_size}")
            total += info.file_size
            by_key[key] = info
        largest = self.limits.max_total_bytes + len(infos) * (PREAMBLE_BYTES + MAX_HEADER_BYTES)
        if total > largest:
            self.fail(f"members declare {total} bytes together, more than any legal archive ({largest} bytes)")
        return by_key

    def close(self):
        self.zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __contains__(self, key):
        return key in self.infos

    def __iter__(self):
        return iter(self.infos)

    @contextmanager
    def _member(self, key):
        """The open member ``key``; zip and deflate failures become one-line errors naming it."""
        name = f"{key}.npy"
        try:
            with self.zip.open(self.infos[key]) as fh:
                yield fh
        except InputFileError:
            raise
        except zlib.error as exc:
            self.fail(f"member {name!r} is corrupt (bad deflate stream: {_one_line(exc)})")
        except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
            self.fail(f"member {name!r} is corrupt ({_one_line(exc)})")
        except OSError as exc:
            self.fail(f"member {name!r} cannot be read ({exc.strerror or _one_line(exc)})")

    def header(self, key):
        """The checked :class:`MemberHeader` of member ``key`` (only its header is inflated)."""
        if key not in self.headers:
            with self._member(key) as fh:
                self.headers[key] = self._parse_header(key, fh)
        return self.headers[key]

    def _parse_header(self, key, fh):
        info = self.infos[key]
        start = fh.read(len(MAGIC) + 2)
        if len(start) < len(MAGIC) + 2 or start[:len(MAGIC)] != MAGIC:
            self.fail(f"'{key}' is not a .npy array (truncated or no \\x93NUMPY magic)")
        version = (start[-2], start[-1])
        if version not in VERSIONS:
            self.fail(f"'{key}': unsupported .npy version {version[0]}.{version[1]} "
                      f"(versions {', '.join(f'{a}.{b}' for a, b in VERSIONS)} are read)")
        length_format, encoding = VERSIONS[version]
        length_bytes = fh.read(np.dtype(length_format).itemsize)
        if len(length_bytes) < np.dtype(length_format).itemsize:
            self.fail(f"'{key}': truncated .npy header")
        length = int(np.frombuffer(length_bytes, length_format)[0])
        if length > MAX_HEADER_BYTES:
            self.fail(f"'{key}': .npy header of {length} bytes, more than {MAX_HEADER_BYTES}")
        text = fh.read(length)
        if len(text) < length:
            self.fail(f"'{key}': truncated .npy header")
        dtype, shape, fortran = self._header_fields(key, text, encoding)
        header = MemberHeader(dtype, shape, fortran, len(start) + len(length_bytes) + length)
        bound = self.limits.member_bound(key)
        if header.nbytes > bound:
            self.fail(f"'{key}': its .npy header declares shape {shape} of {dtype} ({header.nbytes} bytes), "
                      f"more than any legal '{key}' ({bound} bytes)")
        held = info.file_size - header.offset
        if held < header.nbytes:
            self.fail(f"'{key}' is truncated: its .npy header declares {header.nbytes} bytes of data, "
                      f"the member holds {held}")
        if held > header.nbytes:
            self.fail(f"'{key}': {held - header.nbytes} bytes after the array data its .npy header declares")
        return header

    def _header_fields(self, key, text, encoding):
        try:
            fields = ast.literal_eval(text.decode(encoding))
        except (UnicodeDecodeError, ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            fields = None
        if not isinstance(fields, dict) or set(fields) != {"descr", "fortran_order", "shape"}:
            self.fail(f"'{key}': unreadable .npy header (expected {{'descr', 'fortran_order', 'shape'}})")
        descr, fortran, shape = fields["descr"], fields["fortran_order"], fields["shape"]
        if not isinstance(fortran, bool) or not isinstance(shape, tuple) or not all(
                type(n) is int and n >= 0 for n in shape):
            self.fail(f"'{key}': unreadable .npy header (shape {shape!r}, fortran_order {fortran!r})")
        if not isinstance(descr, str):
            self.fail(f"'{key}': unsupported structured dtype (plain numbers, booleans or strings only)")
        try:
            dtype = np.dtype(descr)
        except (TypeError, ValueError, SyntaxError, OverflowError):
            self.fail(f"'{key}': unreadable .npy dtype {descr!r}")
        if dtype.hasobject:
            self.fail(f"'{key}' holds object (pickled) data, which is never loaded")
        if dtype.kind not in DTYPE_KINDS or dtype.fields is not None or dtype.shape != () or dtype.itemsize == 0:
            self.fail(f"'{key}': unsupported dtype {descr!r} (plain numbers, booleans or strings only)")
        return dtype, shape, fortran

    def read(self, key):
        """The array of member ``key`` (writable, the header's dtype and shape)."""
        header = self.header(key)
        with self._member(key) as fh:
            data = bytearray(fh.read(header.offset + header.nbytes))
            rest = fh.read(1)
        if len(data) < header.offset + header.nbytes or rest:
            self.fail(f"'{key}' is corrupt: the member does not hold the {header.nbytes} bytes of data its "
                      f"directory entry and .npy header declare")
        flat = np.frombuffer(data, header.dtype, count=math.prod(header.shape), offset=header.offset)
        return flat.reshape(header.shape, order="F" if header.fortran_order else "C")


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__
