"""tools/speaker_spectra.py: band levels of tones against their known powers, the word and room
frames told apart, the table from WAV files, and a bad folder as one line."""

import sys
from pathlib import Path

import numpy as np
import scipy.io.wavfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import speaker_spectra  # noqa: E402

RATE = 8000


def tone(freq, amplitude, seconds=0.5):
    t = np.arange(int(seconds * RATE)) / RATE
    return amplitude * np.sin(2 * np.pi * freq * t)


def test_a_tone_lands_in_its_band_and_twice_the_amplitude_is_6_db():
    word, room = speaker_spectra.band_levels(tone(1500.0, 1000.0), RATE)
    assert np.argmax(word) == 3  # 1000–2000 Hz
    assert 10 * np.log10(word[3] / np.delete(word, 3).max()) > 30  # the Hann window's leakage is far below
    louder, _ = speaker_spectra.band_levels(tone(1500.0, 2000.0), RATE)
    assert abs(10 * np.log10(louder[3] / word[3]) - 20 * np.log10(2)) < 1e-9


def test_word_is_the_loud_frames_and_room_the_quiet_ones():
    # 1.5 s loud between two quiet 0.5 s: the loudest third and the quietest fifth of the frames lie
    # wholly inside the loud and the quiet parts
    x = np.concatenate([tone(300.0, 10.0), tone(300.0, 1000.0, 1.5), tone(300.0, 10.0)])
    word, room = speaker_spectra.band_levels(x, RATE)
    assert abs(10 * np.log10(word[1] / room[1]) - 40.0) < 0.01  # 100 times the amplitude


def test_table_from_wav_files(tmp_path, capsys):
    rec = tmp_path / "recordings"
    rec.mkdir()
    for i in range(2):
        scipy.io.wavfile.write(rec / f"1_bright_{i}.wav", RATE, np.round(tone(3500.0, 3000.0)).astype(np.int16))
        scipy.io.wavfile.write(rec / f"1_dark_{i}.wav", RATE, np.round(tone(200.0, 3000.0)).astype(np.int16))
    assert speaker_spectra.main(["--data-dir", str(tmp_path), "--every", "1"]) == 0
    rows = {line.split("|")[1].strip(): [float(v) for v in line.split("|")[2:-1]]
            for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows.keys() == {"bright", "dark"}
    assert rows["bright"][5] == 0.0 and rows["bright"][0] < -30  # 3000–4000 Hz strongest
    assert rows["dark"][0] == 0.0 and rows["dark"][5] < -30


def test_no_recordings_is_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "recordings").mkdir()
    assert speaker_spectra.main(["--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(tmp_path) in err[0]
