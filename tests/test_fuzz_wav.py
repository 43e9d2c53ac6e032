"""Fuzzing the one WAV reader, fixedrnn.frontend.wav.read_wav (issue #15): truncations at every
offset, bit flips, chunk-size mutations, random bytes.

Whatever the bytes, ``read_wav`` either returns int16 samples or raises ``InputFileError`` whose
message is one line starting with the path. Oracle for what it accepts: ``scipy.io.wavfile`` — when
scipy also reads the file as 8 kHz int16, the samples are the same. Every truncation of a valid file
is refused (strict about damage). Hypothesis runs derandomized with few examples.
"""

import struct
import time
import warnings

import numpy as np
import pytest
import scipy.io.wavfile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faults import flip_bit
from fixedrnn.errors import InputFileError
from fixedrnn.frontend.wav import read_wav

pytestmark = pytest.mark.slow  # many corrupt files: left out of the quick subset

FUZZ = settings(max_examples=200, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
SAMPLES = np.array([0, 1, -1, 32767, -32768, 1234, -5, 77], np.int16)


def chunk(chunk_id, payload):
    return chunk_id + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) % 2 else b"")


def riff(*chunks):
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


PCM_FMT = chunk(b"fmt ", struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16))
EXT_FMT = chunk(b"fmt ", struct.pack("<HHIIHHHHIH14s", 0xFFFE, 1, 8000, 16000, 2, 16, 22, 16, 4, 1,
                                     b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"))
DATA = chunk(b"data", SAMPLES.astype("<i2").tobytes())
VALID = {
    "plain": riff(PCM_FMT, DATA),
    "extensible": riff(EXT_FMT, DATA),
    "chunks": riff(chunk(b"LIST", b"INFOISFT\x05\x00\x00\x00abcd\x00"), PCM_FMT, chunk(b"fact", b"\x08\x00\x00\x00"),
                   DATA, chunk(b"note", b"odd")),
}


@pytest.fixture(scope="module", autouse=True)
def warm(tmp_path_factory):
    """One read first: the default MfccConfig's imports are not the reader's time."""
    path = tmp_path_factory.mktemp("warm") / "ok.wav"
    path.write_bytes(VALID["plain"])
    read_wav(path)


def outcome(path):
    """The samples, or None when refused with a one-line ``InputFileError`` naming ``path``."""
    start = time.perf_counter()
    try:
        samples = read_wav(path)
    except InputFileError as exc:
        message = str(exc)
        assert message.startswith(f"{path}: ") and "\n" not in message and "\r" not in message, message
        samples = None
    assert time.perf_counter() - start < 1.0
    if samples is not None:
        assert samples.dtype == np.int16 and samples.ndim == 1 and samples.size > 0
    return samples


def scipy_agrees(path, samples):
    """When scipy reads ``path`` as 8 kHz int16 mono too, its samples equal ``samples``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rate, expected = scipy.io.wavfile.read(path)
    except (ValueError, EOFError, OSError, struct.error, IndexError):
        return True
    if rate != 8000 or expected.dtype != np.int16 or expected.ndim != 1:
        return True
    return np.array_equal(samples, expected)


@pytest.mark.parametrize("kind", sorted(VALID))
def test_every_truncation_is_refused(tmp_path, kind):
    data = VALID[kind]
    path = tmp_path / f"{kind}.wav"
    path.write_bytes(data)
    np.testing.assert_array_equal(outcome(path), SAMPLES)
    assert scipy_agrees(path, SAMPLES)
    for n in range(len(data) - (1 if kind == "chunks" else 0)):  # "chunks" ends in a pad byte
        path.write_bytes(data[:n])
        assert outcome(path) is None, n


@FUZZ
@given(kind=st.sampled_from(sorted(VALID)), where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_a_bit_flip_is_refused_or_read_like_scipy(tmp_path, kind, where, bit):
    path = flip_bit(VALID[kind], where, bit, tmp_path / "flipped.wav")
    samples = outcome(path)
    assert samples is None or scipy_agrees(path, samples)


@FUZZ
@given(kind=st.sampled_from(sorted(VALID)), which=st.integers(0, 10),
       size=st.one_of(st.sampled_from([0, 1, 2, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000]), st.integers(0, 2**32 - 1)))
def test_chunk_size_mutations_are_refused_or_consistent(tmp_path, kind, which, size):
    """Any size field (RIFF or a chunk's) set to any uint32: refused, or read like scipy reads it."""
    data = bytearray(VALID[kind])
    offsets = [4] + [i + 4 for i in range(12, len(data) - 7) if data[i:i + 4] in (b"fmt ", b"data", b"LIST", b"fact",
                                                                                   b"note")]
    struct.pack_into("<I", data, offsets[which % len(offsets)], size)
    path = tmp_path / "sized.wav"
    path.write_bytes(bytes(data))
    samples = outcome(path)
    assert samples is None or scipy_agrees(path, samples)


@FUZZ
@given(data=st.binary(max_size=400), prefix=st.sampled_from([b"", b"RIFF", b"RIFF\xff\xff\xff\x7fWAVE",
                                                             b"RIFF\x24\x00\x00\x00WAVEfmt "]))
def test_random_bytes_are_refused(tmp_path, data, prefix):
    path = tmp_path / "random.wav"
    path.write_bytes(prefix + data)
    samples = outcome(path)
    assert samples is None or scipy_agrees(path, samples)
