"""Reading WAV files for the front end: 16-bit PCM mono at the configured rate, nothing else.

Nothing is resampled, mixed down or converted: any other file gets one
:class:`~fixedrnn.errors.InputFileError` naming the file and what was found.
"""

import struct
from pathlib import Path

import numpy as np

from fixedrnn.errors import InputFileError
from fixedrnn.frontend.config import MfccConfig

_PCM = 1
_IEEE_FLOAT = 3
_EXTENSIBLE = 0xFFFE
_FORMAT_NAMES = {_PCM: "PCM", _IEEE_FLOAT: "IEEE float", 6: "A-law", 7: "mu-law", 2: "ADPCM"}


def _chunks(path, data):
    """Yield ``(chunk_id, payload)`` of a RIFF/WAVE byte string, checking each chunk's bounds."""
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, offset)
        start = offset + 8
        if start + size > len(data):
            raise InputFileError(
                path, f"truncated: chunk {chunk_id.decode('latin-1')!r} declares {size} bytes, "
                f"only {len(data) - start} present")
        yield chunk_id, data[start:start + size]
        offset = start + size + (size & 1)


def read_wav(path, config=None):
    """int16 samples ``[n]`` of a 16-bit PCM mono WAV at ``config.sample_rate``.

    Refused, each with one clear :class:`InputFileError`: not a RIFF/WAVE file, missing ``fmt `` or
    ``data`` chunk, a truncated file, a non-PCM format (float, A-law, ...), other than 1 channel,
    other than 16 bits per sample, a different sample rate, an empty ``data`` chunk or one that is
    not a whole number of samples.
    """
    config = MfccConfig() if config is None else config
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    if len(data) < 12:
        raise InputFileError(path, f"not a WAV file: only {len(data)} bytes" if data else "empty file, not a WAV file")
    riff, _, wave = struct.unpack_from("<4sI4s", data, 0)
    if riff != b"RIFF" or wave != b"WAVE":
        raise InputFileError(path, f"not a WAV file (starts with {data[:4]!r}, expected RIFF....WAVE)")
    fmt = None
    samples = None
    for chunk_id, payload in _chunks(path, data):
        if chunk_id == b"fmt ":
            if len(payload) < 16:
                raise InputFileError(path, f"'fmt ' chunk is {len(payload)} bytes, expected at least 16")
            fmt = struct.unpack_from("<HHIIHH", payload, 0)
            if fmt[0] == _EXTENSIBLE and len(payload) >= 26:
                fmt = (struct.unpack_from("<H", payload, 24)[0],) + fmt[1:]
        elif chunk_id == b"data":
            if fmt is None:
                raise InputFileError(path, "'data' chunk comes before the 'fmt ' chunk")
            samples = payload
            break
    if fmt is None:
        raise InputFileError(path, "no 'fmt ' chunk: not a complete WAV file")
    format_tag, channels, rate, _, _, bits = fmt
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
