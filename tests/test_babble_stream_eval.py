"""tools/babble_stream_eval.py: the babble stream's construction and a smoke run."""

import sys

import numpy as np
import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "tools"))

import babble_stream_eval  # noqa: E402
import stream_eval  # noqa: E402
from fixedrnn.streams import BABBLE_PIECE_S, build_stream  # noqa: E402


def test_babble_is_at_the_stated_level_over_the_clean_stream(fsdd_dir):
    items = stream_eval.test_items(fsdd_dir, 8)
    clean = build_stream(items, seed=stream_eval.SEED)
    noisy = babble_stream_eval.babble_stream(items, 20.0)
    assert noisy.words == clean.words and noisy.pcm.size == clean.pcm.size and noisy.snr_db == 20.0
    babble = noisy.pcm.astype(np.float64) - clean.pcm
    level = np.median([np.sqrt(np.mean(p.astype(np.float64) ** 2)) for _, _, p in items])
    # every 2 s piece at unit RMS times level / 10: int16 rounding aside
    piece = int(BABBLE_PIECE_S * 8000)
    for start in range(0, babble.size - piece + 1, piece):
        rms = np.sqrt(np.mean(babble[start:start + piece] ** 2))
        assert abs(rms / (level / 10) - 1) < 0.01


@pytest.mark.parametrize("name", ["tiny_lstm_int8", "lstm_int8_cmn"])  # the CMN model streams per segment
def test_smoke(fsdd_dir, capsys, tmp_path, name):
    model = str(REPO / "golden" / "models" / f"{name}.npz")
    out = tmp_path / "rows.jsonl"
    assert babble_stream_eval.main([model, "--fsdd", str(fsdd_dir), "--limit", "4", "--snr", "20",
                                    "--json", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and f"{name}.npz` | 20 dB | 4 |" in lines[2]
    assert '"words": 4' in out.read_text()
