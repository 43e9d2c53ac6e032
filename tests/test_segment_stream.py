"""fixedrnn.segment_stream: each detection is ``classify`` of the clip of its segment's frames (the
batch front end on that PCM, not the streaming one), its flags those of the frame-by-frame stream,
whatever the block sizes; which models stream which way."""

from dataclasses import replace

import numpy as np
import pytest

from fixedrnn.decision import DecisionConfig
from fixedrnn.errors import FixedRnnError
from fixedrnn.model import load
from fixedrnn.segment_stream import SegmentStream, open_stream
from fixedrnn.stream import KeywordStream, StreamConfig, require_streamable, steps_per_frame
from tests.conftest import REPO
from tests.test_cepstral_mean import cmn_model
from tests.test_stream import _fsdd_audio, push_blocks, synthetic
from tests.throwaway_models import random_model

GRAPH = REPO / "golden" / "imported" / "import_keras3_gru_h24.npz"
LOOSE = StreamConfig(decision=DecisionConfig(min_loud=1, max_frames=30), per_segment=True)


def clip_of(model, pcm, detection, preroll):
    """The PCM of the frames ``max(start − preroll, 0)``..``end`` of ``detection``'s segment."""
    c = model.front_end.config
    first = max(detection.start - preroll, 0)
    return pcm[first * c.hop:detection.end * c.hop + c.fft_length]


def assert_each_detection_is_classify(model, pcm, found, preroll):
    for d in found:
        got = model.classify(clip_of(model, pcm, d, preroll))
        assert (d.label, d.score) == (got.index, got.logits[got.index])


@pytest.mark.parametrize("make", [lambda: cmn_model(), lambda: cmn_model("rnn", "q31", seed=3),
                                  lambda: random_model(cell="lstm", units=10, seed=4), lambda: load(GRAPH)],
                         ids=["cmn-lstm-q15", "cmn-rnn-q31", "lstm", "graph"])
def test_detections_are_classify_of_their_segments(make):
    model = make()
    pcm = synthetic(8.0, seed=5)
    _, found = push_blocks(SegmentStream(model, LOOSE), pcm, [333, 1, 1024])
    assert len(found) >= 3
    assert_each_detection_is_classify(model, pcm, found, LOOSE.preroll)


def test_flags_and_front_end_equal_the_frame_by_frame_stream():
    """The VAD, the front-end outputs and the segments are the frame-by-frame stream's; only the
    scores differ."""
    model = random_model(cell="lstm", units=10, seed=4)
    pcm = synthetic(6.0, seed=7)
    frame_config = replace(LOOSE, per_segment=False)
    want, frame_found = push_blocks(KeywordStream(model, frame_config), pcm, [500])
    got, found = push_blocks(SegmentStream(model, LOOSE), pcm, [77, 1000])
    for name in ("index", "mfcc", "raw", "active"):
        np.testing.assert_array_equal(got[name], want[name])
    assert [(d.start, d.end, d.decided) for d in found] == [(d.start, d.end, d.decided) for d in frame_found]


def test_block_sizes_and_finish():
    model = cmn_model(seed=2)
    pcm = synthetic(5.0, seed=9)
    results = []
    for sizes in ([pcm.size], [1, 129, 4000], [1]):
        stream = SegmentStream(model, LOOSE)
        _, found = push_blocks(stream, pcm, sizes)
        results.append(found + stream.finish())
    assert results[0] == results[1] == results[2] and len(results[0]) >= 2


def test_a_segment_open_at_the_end_is_decided_by_finish():
    model = cmn_model(seed=2)
    pcm = synthetic(3.0, seed=1)
    loud = (8000 * np.sin(np.arange(2400) * 0.3)).astype(np.int16)  # 0.3 s of tone, no quiet after
    pcm = np.concatenate([pcm, loud])
    stream = SegmentStream(model, LOOSE)
    push_blocks(stream, pcm, [pcm.size])
    (last,) = stream.finish()
    assert last.end == stream.frames_done - 1 == last.decided - 1
    assert_each_detection_is_classify(model, pcm, [last], LOOSE.preroll)


def test_long_segments_read_their_last_window():
    """A segment longer than the window (max_frames > T): the window is its last T frames."""
    model = cmn_model(frames=12, seed=6)
    config = replace(LOOSE, decision=DecisionConfig(min_loud=1, max_frames=40))
    pcm = np.concatenate([np.zeros(3000, np.int16), (9000 * np.sin(np.arange(8000) * 0.21)).astype(np.int16),
                          np.zeros(3000, np.int16)])
    _, found = push_blocks(SegmentStream(model, config), pcm, [1000])
    assert found and all(d.end - d.start + 1 > model.frames for d in found)
    assert_each_detection_is_classify(model, pcm, found, config.preroll)


def test_quiet_segments_never_run_the_model(monkeypatch):
    """A segment with fewer than min_loud loud frames is dropped before the model runs (its window is
    never built); with min_loud 1 the same audio builds windows."""
    from fixedrnn import segment_stream

    model = cmn_model()
    built = []
    real = segment_stream.engine.window_features
    monkeypatch.setattr(segment_stream.engine, "window_features", lambda m, rows: built.append(len(rows)) or real(m, rows))
    pcm = synthetic(5.0, seed=5)
    _, found = push_blocks(SegmentStream(model, replace(LOOSE, decision=DecisionConfig(min_loud=10_000))), pcm, [1000])
    assert found == [] and built == []
    _, found = push_blocks(SegmentStream(model, LOOSE), pcm, [1000])
    assert len(found) >= 1 and len(built) >= len(found)


def test_which_models_step_frame_by_frame():
    lstm = random_model(cell="lstm", units=6)
    assert steps_per_frame(lstm) and not steps_per_frame(cmn_model()) and not steps_per_frame(load(GRAPH))
    assert isinstance(open_stream(lstm), KeywordStream)
    assert isinstance(open_stream(lstm, StreamConfig(per_segment=True)), SegmentStream)
    for model in (cmn_model(), load(GRAPH)):
        stream = open_stream(model, StreamConfig())
        assert isinstance(stream, SegmentStream) and stream.config.per_segment
        with pytest.raises(FixedRnnError, match="streams once per speech segment"):
            require_streamable(model)
        with pytest.raises(FixedRnnError, match="once per speech segment"):
            KeywordStream(model)
    with pytest.raises(FixedRnnError, match="per_segment streams"):
        KeywordStream(lstm, StreamConfig(per_segment=True))
    with pytest.raises(FixedRnnError, match="reset=False"):
        SegmentStream(cmn_model(), StreamConfig(reset=False, per_segment=True))


def test_lstm_int8_cmn_on_fsdd_audio(fsdd_dir):
    """The shipped CMN model in a stream: three test-split digits with 0.75 s of silence between
    them, each detected once, in order, each ``classify`` of its segment's clip."""
    model = load(REPO / "golden" / "models" / "lstm_int8_cmn.npz")
    pcm = _fsdd_audio(fsdd_dir, ["3_theo_0.wav", "7_jackson_1.wav", "0_george_2.wav"])
    stream = open_stream(model)
    _, found = push_blocks(stream, pcm, np.random.default_rng(0).integers(1, 2000, 30).tolist())
    found += stream.finish()
    assert [model.labels[d.label] for d in found] == ["3", "7", "0"]
    assert_each_detection_is_classify(model, pcm, found, stream.config.preroll)
