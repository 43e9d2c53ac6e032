"""Issue #13's stream target for the retrained tiny model: ≥ 97 % of the test-split words detected
with the right label on tools/stream_eval.py's 20 dB white-noise stream (300 words, ~7.7 min)."""

import sys

import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "tools"))

import stream_eval  # noqa: E402
from fixedrnn import fsdd  # noqa: E402
from fixedrnn.model import load  # noqa: E402
from fixedrnn.stream import StreamConfig  # noqa: E402
from fixedrnn.streams import build_stream, score_detections  # noqa: E402


@pytest.mark.slow
def test_tiny_lstm_int8_detects_97_percent_at_20_db(fsdd_dir):
    items = stream_eval.test_items(fsdd_dir)
    st = build_stream(items, seed=stream_eval.SEED, snr_db=20.0, sample_rate=fsdd.SAMPLE_RATE)
    stream, _, found = stream_eval.run_stream(load(REPO / "golden" / "models" / "tiny_lstm_int8.npz"), st.pcm,
                                              StreamConfig())
    score = score_detections(st, [(d.label, stream.frame_end_seconds(d.decided)) for d in found])
    assert score.words == 300 and score.detected >= 291  # 97 % of 300
    assert score.false_alarms == 0
