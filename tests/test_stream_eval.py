"""tools/stream_eval.py: a CI-sized smoke run (a few test-split recordings, one condition), and its
per-segment evaluation against KeywordStream itself."""

import sys

import numpy as np
import pytest

from tests.conftest import REPO
from tests.throwaway_models import random_model

sys.path.insert(0, str(REPO / "tools"))

import stream_eval  # noqa: E402
from fixedrnn.decision import DecisionConfig  # noqa: E402
from fixedrnn.model import load  # noqa: E402
from fixedrnn.stream import StreamConfig  # noqa: E402
from fixedrnn.streams import build_stream  # noqa: E402


def test_smoke(fsdd_dir, capsys, tmp_path):
    model = str(REPO / "golden" / "models" / "tiny_lstm_pot.npz")
    out = tmp_path / "rows.jsonl"
    assert stream_eval.main([model, "--fsdd", str(fsdd_dir), "--limit", "4", "--snr", "20", "--noise", "babble",
                             "--json", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "tiny_lstm_pot.npz` | babble 20 dB | 4 |" in lines[2]
    assert '"words": 4' in out.read_text()


@pytest.mark.slow  # KeywordStream on 8 recordings in noise, twice
@pytest.mark.parametrize("name, config", [
    ("lstm_int8", StreamConfig()),
    ("rnn_pot", StreamConfig(preroll=9, silence=2, decision=DecisionConfig(window=2, max_frames=20, min_loud=1)))])
def test_segment_detections_equal_keyword_stream(fsdd_dir, name, config):
    """The per-segment evaluation finds KeywordStream's detections, frame for frame, and its flags."""
    model = load(REPO / "golden" / "models" / f"{name}.npz")
    st = build_stream(stream_eval.test_items(fsdd_dir, 8), seed=3, snr_db=20.0, noise_kind="pink")
    _, want_active, want = stream_eval.run_stream(model, st.pcm, config)
    active, found = stream_eval.segment_detections(model, st.pcm, config)
    assert found == want and len(want) >= 6
    np.testing.assert_array_equal(active, want_active)


def test_segment_detections_on_a_random_model():
    model = random_model(cell="lstm", units=8, seed=2)
    from tests.test_stream import synthetic

    pcm = synthetic(6.0, seed=4)
    config = StreamConfig(decision=DecisionConfig(min_loud=1, max_frames=15))
    _, _, want = stream_eval.run_stream(model, pcm, config)
    assert stream_eval.segment_detections(model, pcm, config)[1] == want and len(want) >= 2


def test_segment_detections_of_a_model_with_filler_classes():
    """A model with _filler_ / _unknown_ / _silence_ classes: the per-segment evaluation drops the
    segments whose top class is one, as KeywordStream does (the same weights with all-keyword labels
    detect them)."""
    from tests.test_stream import synthetic
    from tests.test_stream_firmware import FILLER_CONFIG, FILLER_LABELS, FILLER_MODEL, PLAIN_LABELS

    pcm = synthetic(12.0, seed=9)
    model = random_model(**FILLER_MODEL, labels=FILLER_LABELS)
    _, _, want = stream_eval.run_stream(model, pcm, FILLER_CONFIG)
    found = stream_eval.segment_detections(model, pcm, FILLER_CONFIG)[1]
    plain = stream_eval.segment_detections(random_model(**FILLER_MODEL, labels=PLAIN_LABELS), pcm, FILLER_CONFIG)[1]
    assert found == want == [d for d in plain if d.label != 6] and len(found) >= 2 and len(plain) > len(found)


@pytest.mark.parametrize("name", ["lstm_int8_cmn", "rnn_pot"])
def test_segment_window_detections_equal_segment_stream(fsdd_dir, name):
    """Per segment (always for the CMN model, asked for the RNN): all windows in one numba batch
    from the whole stream's front end give SegmentStream's detections and flags."""
    model = load(REPO / "golden" / "models" / f"{name}.npz")
    config = StreamConfig(per_segment=True)
    st = build_stream(stream_eval.test_items(fsdd_dir, 12), seed=5, snr_db=20.0, noise_kind="babble")
    _, want_active, want = stream_eval.run_stream(model, st.pcm, config)
    active, found = stream_eval.detections(model, st.pcm, config)
    assert found == want and len(want) >= 8
    np.testing.assert_array_equal(active, want_active)


def test_a_cmn_model_is_scored_per_segment(fsdd_dir, capsys):
    model = str(REPO / "golden" / "models" / "lstm_int8_cmn.npz")
    assert stream_eval.main([model, "--fsdd", str(fsdd_dir), "--limit", "4", "--snr", "clean"]) == 0
    assert "`lstm_int8_cmn.npz per segment` | clean | 4 |" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="--no-reset"):
        stream_eval.main([model, "--fsdd", str(fsdd_dir), "--limit", "4", "--snr", "clean", "--no-reset"])
