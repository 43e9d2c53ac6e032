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
