"""fixedrnn.fsdd: listing, split, speakers, reading and checksums (oracle: scipy's WAV reader)."""

import hashlib
import wave

import numpy as np
import pytest
import scipy.io.wavfile

from fixedrnn import fsdd
from fixedrnn.errors import FixedRnnError, InputFileError


def test_split_sizes_and_speakers(fsdd_dir):
    test = fsdd.list_recordings(fsdd_dir, "test")
    train = fsdd.list_recordings(fsdd_dir, "train")
    assert len(test) == 300 and len(train) == 2700
    assert all(r.index < 5 for r in test) and all(r.index >= 5 for r in train)
    assert fsdd.speaker_names(test) == ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
    assert sorted(r.digit for r in test) == sorted(list(range(10)) * 30)


def test_validation_carved_from_train_only(fsdd_dir):
    train = fsdd.list_recordings(fsdd_dir, "train")
    fit, val = fsdd.validation_split(train)
    assert len(fit) == 2400 and len(val) == 300
    assert not {r.name for r in fit} & {r.name for r in val}
    with pytest.raises(FixedRnnError, match="training recordings"):
        fsdd.validation_split(fsdd.list_recordings(fsdd_dir, "test"))


def test_read_samples_matches_scipy(fsdd_dir):
    for rec in fsdd.list_recordings(fsdd_dir, "test", speakers=["theo"])[:5]:
        rate, expected = scipy.io.wavfile.read(rec.path)
        got = rec.samples()
        assert rate == 8000 and got.dtype == np.int16
        np.testing.assert_array_equal(got, expected)
        assert fsdd.sample_checksum(got) == hashlib.sha256(expected.astype("<i2").tobytes()).hexdigest()


def test_checksum_known_value():
    # SHA-256 of the bytes 01 00 ff ff (int16 [1, -1], little-endian), computed independently.
    assert fsdd.sample_checksum(np.array([1, -1], np.int16)) == hashlib.sha256(b"\x01\x00\xff\xff").hexdigest()
    with pytest.raises(FixedRnnError, match="samples"):
        fsdd.sample_checksum(np.array([1, 2], np.int32))


def test_bad_inputs(tmp_path):
    with pytest.raises(FixedRnnError, match="split"):
        fsdd.list_recordings(tmp_path, "dev")
    with pytest.raises(InputFileError, match="recordings"):
        fsdd.list_recordings(tmp_path)
    with pytest.raises(FixedRnnError, match="name"):
        fsdd.parse_name("hello.wav")
    stereo = tmp_path / "1_x_0.wav"
    with wave.open(str(stereo), "wb") as w:
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(8000), w.writeframes(b"\0" * 8)
    with pytest.raises(InputFileError, match="mono"):
        fsdd.read_samples(stereo)
    (tmp_path / "junk.wav").write_bytes(b"nope")
    with pytest.raises(InputFileError, match="junk.wav"):
        fsdd.read_samples(tmp_path / "junk.wav")


# ----------------------------------------------------------------------------------------------
# Issue #15: one WAV reader; names that do not parse are listed, not dropped silently.


@pytest.mark.parametrize("name, parsed", [
    ("3_theo_12.wav", (3, "theo", 12)),
    ("3_theo2_12.wav", (3, "theo2", 12)),  # a digit in the speaker name
    ("0_anne_marie_7.wav", (0, "anne_marie", 7)),
    ("9_A-b_0.wav", (9, "A-b", 0)),
])
def test_names_that_parse(name, parsed):
    assert fsdd.parse_name(name) == parsed


@pytest.mark.parametrize("name", ["10_theo_1.wav", "3__1.wav", "3_theo_.wav", "3_theo_1.WAV", "3_the o_1.wav",
                                  "a_theo_1.wav", "3_theo_1.wav.bak"])
def test_names_that_do_not_parse(name):
    with pytest.raises(FixedRnnError, match="not an FSDD file name"):
        fsdd.parse_name(name)


def test_scan_lists_skipped_wav_files_by_name(tmp_path):
    folder = tmp_path / "recordings"
    folder.mkdir()
    for name in ("1_theo2_0.wav", "2_anne_marie_3.wav", "oops.wav", "4_x_1.WAV", "README.txt"):
        scipy.io.wavfile.write(folder / name, 8000, np.zeros(8, np.int16))
    listing = fsdd.scan(tmp_path)
    assert [(r.digit, r.speaker, r.index) for r in listing.recordings] == [(2, "anne_marie", 3), (1, "theo2", 0)]
    assert listing.skipped == ("4_x_1.WAV", "oops.wav")
    assert fsdd.list_recordings(tmp_path) == listing.recordings


def test_read_samples_is_the_strict_reader(tmp_path):
    path = tmp_path / "1_x_0.wav"
    scipy.io.wavfile.write(path, 8000, np.arange(10, dtype=np.int16))
    path.write_bytes(path.read_bytes()[:-1])  # cut at an odd byte
    with pytest.raises(InputFileError, match="truncated"):
        fsdd.read_samples(path)
    scipy.io.wavfile.write(path, 16000, np.arange(10, dtype=np.int16))
    with pytest.raises(InputFileError, match="sample rate 16000 Hz, expected 8000 Hz"):
        fsdd.read_samples(path)
