"""tools/channel_eval.py: each channel against its stated response (tones measured in steady state,
the pre-emphasis against its difference equation), the rounding and saturation, the table against
per-recording classifications, and a bad channel name as one line."""

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io.wavfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import channel_eval  # noqa: E402
from fixedrnn import fsdd  # noqa: E402
from fixedrnn.model import save  # noqa: E402
from tests.throwaway_models import random_model  # noqa: E402

RATE = 8000


def gain_db(name, freq):
    """Steady-state gain of channel ``name`` for a tone at ``freq`` Hz (the last second of two)."""
    t = np.arange(2 * RATE) / RATE
    x = 1000.0 * np.sin(2 * np.pi * freq * t)
    y = channel_eval.channel_filter(name, RATE)(x)
    return 20 * np.log10(np.std(y[RATE:]) / np.std(x[RATE:]))


@pytest.mark.parametrize("name,freq,low,high", [
    ("quiet", 700, -20.01, -19.99), ("loud", 700, 11.99, 12.01),
    ("telephone", 1000, -1.0, 1.0), ("telephone", 100, -99, -15), ("telephone", 3900, -99, -15),
    ("muffled", 400, -1.0, 0.5), ("muffled", 3500, -99, -12),
    ("resonant", 1000, 9.7, 10.3), ("resonant", 150, -0.5, 1.0),
    ("bright", 3999, 5.4, 5.7), ("bright", 50, -19.6, -19.2),  # |1 − 0.9·e^(−jω)|: 1.9 at 4 kHz, 0.107 at 50 Hz
])
def test_channel_responses(name, freq, low, high):
    assert low <= gain_db(name, freq) <= high


def test_bright_is_its_difference_equation_and_through_rounds_and_saturates():
    x = [0, 1000, -3000, 32767, -32768, 5]
    want = [x[0]] + [x[n] - 0.9 * x[n - 1] for n in range(1, len(x))]
    got = channel_eval.through(np.array(x, np.int16), "bright", RATE)
    # round half to even, then saturate: 1000 - 0 = 1000; -3000 - 900 = -3900; 32767 + 2700 → 32767; ...
    assert got.tolist() == [int(min(32767, max(-32768, round(v)))) for v in want]
    assert got.dtype == np.int16 and got[3] == 32767 and got[4] == -32768
    assert channel_eval.through(np.array([5, -5, 15], np.int16), "quiet", RATE).tolist() == [0, 0, 2]  # 0.5 → 0, 1.5 → 2


def test_table_is_the_per_recording_classifications(tmp_path):
    rec = tmp_path / "data" / "recordings"
    rec.mkdir(parents=True)
    t = np.arange(3000)
    for digit in range(10):
        for i in range(2):  # split "test"
            x = 6000 * np.sin(2 * np.pi * (150 + 90 * digit + 20 * i) * t / RATE) * np.hanning(len(t))
            scipy.io.wavfile.write(rec / f"{digit}_ann_{i}.wav", RATE, x.astype(np.int16))
    model = random_model(frames=20, seed=4)
    save(model, tmp_path / "m.npz")
    rows = channel_eval.channel_table([tmp_path / "m.npz"], tmp_path / "data", channels=("as recorded", "telephone"))
    recordings = fsdd.list_recordings(tmp_path / "data", "test")
    for name in ("as recorded", "telephone"):
        hits = sum(int(np.argmax(model.run(channel_eval.through(r.samples(), name, RATE)))) == r.digit
                   for r in recordings)
        assert rows[0][name] == hits / len(recordings)
    assert rows[0]["cmn"] == "off" and "| m | off |" in channel_eval.markdown(rows, ("as recorded", "telephone"))


def test_unknown_channel_is_one_line(capsys):
    assert channel_eval.main(["--channel", "underwater"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--channel: 'underwater' is not one of" in err[0]
