"""read_wav: 16-bit PCM mono at the configured rate; every other file gets one clear error."""

import struct

import numpy as np
import pytest

from fixedrnn import mfcc as M
from fixedrnn.errors import InputFileError


def wav_bytes(samples=b"\x01\x00\x02\x00", rate=8000, channels=1, bits=16, tag=1, data_size=None, extensible=False):
    block = channels * bits // 8
    if extensible:
        fmt = struct.pack("<HHIIHHHHIH14s", 0xFFFE, channels, rate, rate * block, block, bits, 22, bits, 0, tag,
                          b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71")
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    size = len(samples) if data_size is None else data_size
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size) + samples
    return b"RIFF" + struct.pack("<I", len(body)) + body


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_reads_16_bit_pcm_mono(tmp_path):
    samples = np.array([0, 1, -1, 32767, -32768, 1234], np.int16)
    path = write(tmp_path, "ok.wav", wav_bytes(samples.astype("<i2").tobytes()))
    got = M.read_wav(path)
    assert got.dtype == np.int16
    np.testing.assert_array_equal(got, samples)
    path = write(tmp_path, "ok16k.wav", wav_bytes(samples.astype("<i2").tobytes(), rate=16000))
    cfg = M.MfccConfig(sample_rate=16000, fft_length=512, hop=256, fmax=8000.0)
    np.testing.assert_array_equal(M.read_wav(path, cfg), samples)


def test_reads_extensible_pcm(tmp_path):
    path = write(tmp_path, "ext.wav", wav_bytes(b"\x05\x00", extensible=True))
    np.testing.assert_array_equal(M.read_wav(path), [5])


@pytest.mark.parametrize("name, content, message", [
    ("rate.wav", wav_bytes(rate=16000), "sample rate 16000 Hz, expected 8000 Hz"),
    ("stereo.wav", wav_bytes(b"\x00" * 8, channels=2), "2 channels, expected mono"),
    ("8bit.wav", wav_bytes(b"\x80\x80", bits=8), "8-bit PCM samples, expected 16-bit"),
    ("24bit.wav", wav_bytes(b"\x00" * 6, bits=24), "24-bit PCM samples, expected 16-bit"),
    ("32bit.wav", wav_bytes(b"\x00" * 8, bits=32), "32-bit PCM samples, expected 16-bit"),
    ("float.wav", wav_bytes(b"\x00" * 8, bits=32, tag=3), "IEEE float 32-bit samples"),
    ("float_ext.wav", wav_bytes(b"\x00" * 8, bits=32, tag=3, extensible=True), "IEEE float 32-bit samples"),
    ("empty.wav", b"", "empty file"),
    ("nodata.wav", wav_bytes(b""), "holds no samples"),
    ("truncated.wav", wav_bytes(b"\x01\x00\x02\x00", data_size=4000), "truncated"),
    ("header_only.wav", wav_bytes()[:30], "truncated"),
    ("odd.wav", wav_bytes(b"\x01\x00\x02"), "not a whole number of 16-bit samples"),
    ("text.wav", b"hello, this is not audio at all", "not a WAV file"),
    ("riff_only.wav", b"RIFF\x04\x00\x00\x00WAVE", "no 'fmt ' chunk"),
])
def test_bad_files_get_one_clear_error(tmp_path, name, content, message):
    path = write(tmp_path, name, content)
    with pytest.raises(InputFileError, match=message) as info:
        M.read_wav(path)
    assert str(info.value).startswith(str(path))
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="cannot be read"):
        M.read_wav(tmp_path / "absent.wav")
