"""read_wav: 16-bit PCM mono at the configured rate; every other file gets one clear error."""

import struct

import numpy as np
import pytest
import scipy.io.wavfile

from fixedrnn import mfcc as M
from fixedrnn.errors import FixedRnnError, InputFileError


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


# ----------------------------------------------------------------------------------------------
# Issue #15: strict about damage, lenient about what is valid (oracle: scipy.io.wavfile).


def chunk(chunk_id, payload):
    """A RIFF chunk, with its pad byte when the payload is odd."""
    return chunk_id + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) % 2 else b"")


def riff(*chunks):
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def fmt_chunk(extensible=False, tag=1):
    if extensible:
        return chunk(b"fmt ", struct.pack("<HHIIHHHHIH14s", 0xFFFE, 1, 8000, 16000, 2, 16, 22, 16, 4, tag,
                                          b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"))
    return chunk(b"fmt ", struct.pack("<HHIIHH", tag, 1, 8000, 16000, 2, 16))


SAMPLES = np.array([0, 1, -1, 32767, -32768, 1234, -5], np.int16)
DATA = SAMPLES.astype("<i2").tobytes()


@pytest.mark.parametrize("name, content", [
    ("extensible.wav", riff(fmt_chunk(extensible=True), chunk(b"data", DATA))),
    ("list_before.wav", riff(fmt_chunk(), chunk(b"LIST", b"INFOISFT\x03\x00\x00\x00ab\x00"), chunk(b"data", DATA))),
    ("odd_chunk_padded.wav", riff(chunk(b"junk", b"xyz"), fmt_chunk(), chunk(b"data", DATA))),
    ("chunks_after.wav", riff(fmt_chunk(), chunk(b"data", DATA), chunk(b"LIST", b"INFOabcd"))),
    ("fact.wav", riff(fmt_chunk(), chunk(b"fact", struct.pack("<I", len(SAMPLES))), chunk(b"data", DATA))),
    ("bytes_after_riff.wav", riff(fmt_chunk(), chunk(b"data", DATA)) + b"trailing"),
])
@pytest.mark.filterwarnings("ignore::scipy.io.wavfile.WavFileWarning")  # scipy skips chunks it does not know
def test_valid_variants_read_like_scipy(tmp_path, name, content):
    path = write(tmp_path, name, content)
    rate, expected = scipy.io.wavfile.read(path)
    assert rate == 8000
    np.testing.assert_array_equal(M.read_wav(path), expected)
    np.testing.assert_array_equal(M.read_wav(path), SAMPLES)


def test_odd_chunk_without_pad_at_the_end_is_read(tmp_path):
    content = riff(fmt_chunk(), chunk(b"data", DATA), chunk(b"note", b"abc"))[:-1]
    content = b"RIFF" + struct.pack("<I", len(content) - 8) + content[8:]
    np.testing.assert_array_equal(M.read_wav(write(tmp_path, "nopad.wav", content)), SAMPLES)


def valid():
    return riff(fmt_chunk(), chunk(b"data", DATA))


def with_data_size(size):
    content = bytearray(valid())
    struct.pack_into("<I", content, content.find(b"data") + 4, size)
    return bytes(content)


@pytest.mark.parametrize("name, content, message", [
    ("chunk_7fffffff.wav", with_data_size(0x7FFFFFFF), "truncated: chunk 'data' declares 2147483647 bytes"),
    ("data_short.wav", with_data_size(len(DATA) + 2), "truncated: chunk 'data' declares"),
    ("cut_odd.wav", valid()[:-1], "truncated"),
    ("cut_even.wav", valid()[:-2], "truncated"),
    ("riff_long.wav", valid()[:4] + struct.pack("<I", len(valid())) + valid()[8:], "truncated: the RIFF chunk"),
    ("data_past_riff.wav", b"RIFF" + struct.pack("<I", len(valid()) - 12) + valid()[8:], "past the end of the RIFF"),
    ("odd_count.wav", riff(fmt_chunk(), chunk(b"data", DATA + b"\x01")), "not a whole number of 16-bit samples"),
    ("zero.wav", riff(fmt_chunk(), chunk(b"data", b"")), "holds no samples"),
    ("no_data.wav", riff(fmt_chunk()), "no 'data' chunk"),
    ("data_first.wav", riff(chunk(b"data", DATA), fmt_chunk()), "before the 'fmt ' chunk"),
    ("ext_short.wav", riff(chunk(b"fmt ", struct.pack("<HHIIHHH", 0xFFFE, 1, 8000, 16000, 2, 16, 0)),
                           chunk(b"data", DATA)), "WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk is 18 bytes"),
    ("ext_float.wav", riff(fmt_chunk(extensible=True, tag=3), chunk(b"data", DATA)), "IEEE float"),
    ("ext_guid.wav", riff(fmt_chunk(extensible=True)[:-1] + b"\x00", chunk(b"data", DATA)), "sub-format GUID"),
    ("short_fmt.wav", riff(chunk(b"fmt ", b"\x01\x00"), chunk(b"data", DATA)), "'fmt ' chunk is 2 bytes"),
])
def test_damaged_files_are_refused_by_name(tmp_path, name, content, message):
    path = write(tmp_path, name, content)
    with pytest.raises(InputFileError) as info:
        M.read_wav(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value) and "\n" not in str(info.value)


def test_every_truncation_of_a_valid_file_is_refused(tmp_path):
    content = riff(fmt_chunk(), chunk(b"LIST", b"INFOabcd"), chunk(b"data", DATA))
    path = tmp_path / "cut.wav"
    for n in range(len(content)):
        path.write_bytes(content[:n])
        with pytest.raises(InputFileError):
            M.read_wav(path)
    path.write_bytes(content)
    np.testing.assert_array_equal(M.read_wav(path), SAMPLES)


@pytest.mark.parametrize("config", ["8000", 8000, {"sample_rate": 8000}])
def test_config_of_another_type_is_a_clear_error(tmp_path, config):
    path = write(tmp_path, "ok.wav", valid())
    with pytest.raises(FixedRnnError, match=r"^config: expected a fixedrnn.mfcc.MfccConfig") as info:
        M.read_wav(path, config=config)
    assert not isinstance(info.value, InputFileError) and "\n" not in str(info.value)


def test_a_directory_a_device_and_a_nul_byte_are_named(tmp_path):
    with pytest.raises(InputFileError, match=r": is a directory$"):
        M.read_wav(tmp_path)
    with pytest.raises(InputFileError, match=r"^/dev/zero: not a regular file"):  # would never end
        M.read_wav("/dev/zero")
    with pytest.raises(InputFileError, match="cannot be read"):
        M.read_wav(str(tmp_path / "a\0b.wav"))
