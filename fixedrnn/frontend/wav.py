"""Reading WAV files for the front end: 16-bit PCM mono at the configured rate, nothing else.

The one WAV reader of the package (``classify``, ``evaluate``, ``verify``, :mod:`fixedrnn.fsdd`).
Nothing is resampled, mixed down or converted: any other file gets one
:class:`~fixedrnn.errors.InputFileError` naming the file and what was found.

Strict about damage: a RIFF chunk or ``data`` chunk declaring more bytes than the file holds
(truncation, a size of 0x7FFFFFFF), a chunk reaching past the end of the RIFF chunk, an odd byte
count of 16-bit samples, no samples at all. Lenient about what is valid: WAVE_FORMAT_EXTENSIBLE
with the PCM sub-format, any other chunks (``LIST``, ``fact``, ...) before or after the data, the pad
byte after an odd-sized chunk (absent at the very end of the file), bytes after the RIFF chunk.
"""

import os
import struct
from pathlib import Path

import numpy as np

from fixedrnn.errors import FixedRnnError, InputFileError, require_regular_file
from fixedrnn.frontend.config import MfccConfig

_PCM = 1
_IEEE_FLOAT = 3
_EXTENSIBLE = 0xFFFE
_FORMAT_NAMES = {_PCM: "PCM", _IEEE_FLOAT: "IEEE float", 6: "A-law", 7: "mu-law", 2: "ADPCM"}
#: Bytes 2..15 of every WAVE_FORMAT_EXTENSIBLE sub-format GUID (bytes 0..1 are the format tag).
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


def _chunks(path, data, file_size):
    """Yield ``(chunk_id, payload)`` of the chunks of a RIFF/WAVE file: ``data`` its RIFF chunk
    (the first ``8 + RIFF size`` bytes), ``file_size`` its size; each chunk's bounds checked."""
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, offset)
        start = offset + 8
        name = chunk_id.decode("latin-1")
        if start + size > file_size:
            raise InputFileError(
                path, f"truncated: chunk {name!r} declares {size} bytes, only {file_size - start} present")
        if start + size > len(data):
            raise InputFileError(path, f"chunk {name!r} ({size} bytes) reaches past the end of the RIFF chunk")
        yield chunk_id, data[start:start + size]
        offset = start + size + (size & 1)


def _format(path, payload):
    """``(format tag, channels, rate, bits)`` of a ``fmt `` chunk (the sub-format's tag for
    WAVE_FORMAT_EXTENSIBLE)."""
    if len(payload) < 16:
        raise InputFileError(path, f"'fmt ' chunk is {len(payload)} bytes, expected at least 16")
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", payload, 0)
    if tag == _EXTENSIBLE:
        if len(payload) < 40:
            raise InputFileError(path, f"WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk is {len(payload)} bytes, expected 40")
        if payload[26:40] != _GUID_TAIL:
            raise InputFileError(path, "WAVE_FORMAT_EXTENSIBLE with an unknown sub-format GUID, expected PCM")
        tag = struct.unpack_from("<H", payload, 24)[0]
    return tag, channels, rate, bits


def read_wav(path, config=None):
    """int16 samples ``[n]`` of a 16-bit PCM mono WAV at ``config.sample_rate``.

    ``config``: an :class:`MfccConfig` (None: the default, 8000 Hz). Refused, each with one clear
    :class:`InputFileError`: not a RIFF/WAVE file, missing ``fmt `` or ``data`` chunk, a truncated
    file (module doc), a non-PCM format (float, A-law, ...), other than 1 channel, other than 16
    bits per sample, a different sample rate, an empty ``data`` chunk or one that is not a whole
    number of samples. A ``config`` of another type raises :class:`FixedRnnError` naming it.
    """
    config = MfccConfig() if config is None else config
    if not isinstance(config, MfccConfig):
        raise FixedRnnError(f"config: expected a fixedrnn.mfcc.MfccConfig (or None for the default), got "
                            f"{type(config).__name__} {config!r}")
    path = Path(path)
    require_regular_file(path, "cannot be read (no such file)")
    try:
        with open(path, "rb") as fh:  # only the RIFF chunk is read: memory bounded by its declared size
            head = fh.read(12)
            file_size = os.fstat(fh.fileno()).st_size
            if len(head) < 12:
                raise InputFileError(path, f"not a WAV file: only {len(head)} bytes" if head
                                     else "empty file, not a WAV file")
            riff, riff_size, wave = struct.unpack_from("<4sI4s", head, 0)
            if riff != b"RIFF" or wave != b"WAVE":
                raise InputFileError(path, f"not a WAV file (starts with {head[:4]!r}, expected RIFF....WAVE)")
            if riff_size < 4:
                raise InputFileError(path, f"not a WAV file: the RIFF chunk declares {riff_size} bytes, "
                                           f"less than its 'WAVE' id")
            if 8 + riff_size > file_size:
                raise InputFileError(path, f"truncated: the RIFF chunk declares {riff_size} bytes, only "
                                           f"{file_size - 8} present")
            data = head + fh.read(riff_size - 4)
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    fmt = None
    samples = None
    for chunk_id, payload in _chunks(path, data, file_size):
        if chunk_id == b"fmt ":
            fmt = _format(path, payload)
        elif chunk_id == b"data":
            if fmt is None:
                raise InputFileError(path, "'data' chunk comes before the 'fmt ' chunk")
            samples = payload
            break
    if fmt is None:
        raise InputFileError(path, "no 'fmt ' chunk: not a complete WAV file")
    format_tag, channels, rate, bits = fmt
    if format_tag != _PCM:
        name = _FORMAT_NAMES.get(format_tag, f"format tag {format_tag}")
        raise InputFileError(path, f"{name} {bits}-bit samples, expected 16-bit integer PCM")
    if channels != 1:
        raise InputFileError(path, f"{channels} channels, expected mono (1 channel); nothing is mixed down")
    if bits != 16:
        raise InputFileError(path, f"{bits}-bit PCM samples, expected 16-bit; nothing is converted")
    if rate != config.sample_rate:
        raise InputFileError(
            path, f"sample rate {rate} Hz, expected {config.sample_rate} Hz; nothing is resampled")
    if samples is None:
        raise InputFileError(path, "no 'data' chunk (truncated or not a complete WAV file)")
    if len(samples) == 0:
        raise InputFileError(path, "empty: the 'data' chunk holds no samples")
    if len(samples) % 2:
        raise InputFileError(path, f"truncated: 'data' chunk has {len(samples)} bytes, not a whole number of 16-bit samples")
    return np.frombuffer(samples, dtype="<i2").astype(np.int16)
