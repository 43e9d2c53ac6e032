"""tools/synth_voices.py: espeak-ng digits in FSDD's layout, read back by fixedrnn's FSDD reader."""

import shutil
import sys

import numpy as np
import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "tools"))

import synth_voices  # noqa: E402
from fixedrnn import fsdd  # noqa: E402
from fixedrnn.errors import FixedRnnError  # noqa: E402

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng not installed (apt-get install espeak-ng)")


@needs_espeak
def test_writes_fsdd_named_recordings(tmp_path):
    paths = synth_voices.write_set(tmp_path, voices=["en-us+f2"], speeds=[150], pitches=[30, 70])
    listed = fsdd.list_recordings(tmp_path)
    assert sorted(r.path for r in listed) == sorted(paths) and len(paths) == 20
    assert {r.speaker for r in listed} == {"en-us-f2"} and {r.index for r in listed} == {0, 1}
    assert sorted({r.digit for r in listed}) == list(range(10))
    for r in listed:
        x = r.samples()  # 8 kHz 16-bit mono, or fsdd refuses it
        assert 0.1 * fsdd.SAMPLE_RATE < x.size < 2 * fsdd.SAMPLE_RATE
        assert np.max(np.abs(x.astype(np.int32))) == synth_voices.PEAK
    low, high = (next(r for r in listed if r.digit == 7 and r.index == i).samples() for i in (0, 1))
    assert not np.array_equal(low[:min(low.size, high.size)], high[:min(low.size, high.size)])


@needs_espeak
def test_unknown_voice_is_one_line(tmp_path):
    with pytest.raises(FixedRnnError, match="espeak-ng could not speak with voice 'xx-nope'"):
        synth_voices.write_set(tmp_path, voices=["xx-nope"], speeds=[150], pitches=[50])


def test_voice_names_split_into_engine_and_name():
    assert synth_voices.split_voice("en-us+f2") == ("espeak", "en-us+f2")
    assert synth_voices.split_voice("flite:awb") == ("flite", "awb")
    assert synth_voices.split_voice("festival:kal_diphone") == ("festival", "kal_diphone")
    assert synth_voices.voice_name("festival:kal_diphone") == "festival-kal-diphone"
    for bad in ("nope:awb", "flite:"):
        with pytest.raises(FixedRnnError, match="is not ENGINE:NAME"):
            synth_voices.split_voice(bad)


def test_variants_by_engine():
    assert synth_voices.variants("en-us", [130, 175], [30, 70], [1.0], [1.0]) == \
        [(130, 30), (130, 70), (175, 30), (175, 70)]
    assert synth_voices.variants("flite:awb", [], [], [0.9, 1.1], [1.0, 1.2]) == \
        [(0.9, 1.0), (0.9, 1.2), (1.1, 1.0), (1.1, 1.2)]
    # no known f0 for the HTS voice: its pitch is left alone, one variant a stretch
    assert synth_voices.variants("festival:cmu_us_slt_arctic_hts", [], [], [0.9, 1.1], [1.0, 1.2]) == \
        [(0.9, 1.0), (1.1, 1.0)]
    assert synth_voices.variants("asterisk:en", [1], [2], [3.0], [4.0]) == [None]


def test_trim_silence_keeps_two_frames_around_the_sound():
    frame = synth_voices.SAMPLE_RATE // 100
    x = np.zeros(20 * frame)
    x[7 * frame + 5:11 * frame] = 1000.0  # sound in frames 7..10
    x[frame] = 1.0  # 1e-6 of the sound's power per sample: far under TRIM_DB
    trimmed = synth_voices.trim_silence(x)
    np.testing.assert_array_equal(trimmed, x[5 * frame:13 * frame])
    short = np.ones(frame - 1)
    np.testing.assert_array_equal(synth_voices.trim_silence(short), short)  # under one frame: as it is


def test_natural_voices_speak_digits_only(tmp_path, capsys):
    with pytest.raises(FixedRnnError, match="'asterisk:en' has recorded digits only, not 'hello'"):
        synth_voices.write_words(tmp_path, ["hello"], voices=["asterisk:en"])
    with pytest.raises(SystemExit) as exc:
        synth_voices.main([str(tmp_path), "--natural", "--words", "builtin"])
    assert exc.value.code == 2 and "--natural: not with --train or --words" in capsys.readouterr().err
    assert not any((tmp_path / "_filler_").glob("*.wav"))  # nothing written by either


def read_back(tmp_path, paths, count):
    listed = fsdd.list_recordings(tmp_path)
    assert sorted(r.path for r in listed) == sorted(paths) and len(paths) == count
    for r in listed:
        x = r.samples()  # 8 kHz 16-bit mono, or fsdd refuses it
        assert 0.1 * fsdd.SAMPLE_RATE < x.size < 2 * fsdd.SAMPLE_RATE
        assert np.max(np.abs(x.astype(np.int32))) == synth_voices.PEAK
    return listed


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed (apt-get install flite)")
def test_flite_stretch_and_pitch_variants(tmp_path):
    paths = synth_voices.write_set(tmp_path, voices=["flite:slt"], stretches=[1.0, 1.5], f0_factors=[1.0, 0.7])
    listed = read_back(tmp_path, paths, 40)
    assert {r.speaker for r in listed} == {"flite-slt"} and {r.index for r in listed} == {0, 1, 2, 3}
    size = {i: sum(r.samples().size for r in listed if r.index == i) for i in range(4)}
    assert size[2] > 1.3 * size[0] and size[3] > 1.3 * size[1]  # stretch 1.5: longer words
    plain, low = (next(r for r in listed if r.digit == 9 and r.index == i).samples() for i in (0, 1))
    assert not np.array_equal(plain[:min(plain.size, low.size)], low[:min(plain.size, low.size)])
    with pytest.raises(FixedRnnError, match="flite has no voice 'nope' \\(it has .*awb"):
        synth_voices.write_set(tmp_path, voices=["flite:nope"], stretches=[1.0])


@pytest.mark.skipif(shutil.which("text2wave") is None or
                    not (synth_voices.ASTERISK_SOUNDS / "en" / "digits" / "0.wav").exists(),
                    reason="festival or asterisk-core-sounds-en-wav not installed")
def test_festival_and_asterisk_voices(tmp_path):
    paths = synth_voices.write_set(tmp_path, voices=["festival:ked_diphone", "asterisk:en"], stretches=[1.0])
    listed = read_back(tmp_path, paths, 20)
    assert {r.speaker for r in listed} == {"festival-ked-diphone", "asterisk-en"}
    assert {r.index for r in listed} == {0}
