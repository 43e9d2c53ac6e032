"""fixedrnn.decision: the per-segment rule of docs/streaming.md on hand-made score sequences."""

import pytest

from fixedrnn.decision import Decider, DecisionConfig, Detection
from fixedrnn.errors import FixedRnnError


def feed(config, frames):
    """``frames``: (scores, raw, active) per frame → the detections."""
    decider = Decider(config)
    out = [decider.update(t, s, r, a) for t, (s, r, a) in enumerate(frames)]
    return [d for d in out if d is not None]


def test_segment_decided_at_first_silent_frame_with_floor_average():
    cfg = DecisionConfig(window=2, min_loud=2, threshold=-128)
    frames = [([0, 0, 0], False, False), ([9, 1, 0], True, True), ([-5, -3, -4], True, True),
              ([-1, -2, -4], False, True), ([0, 0, 0], False, False)]
    # last two frames: sums [-6, -5, -8] → top 1, score floor(-5 / 2) = -3
    assert feed(cfg, frames) == [Detection(label=1, start=1, end=3, decided=4, score=-3)]


def test_ties_take_the_first_label_and_threshold_and_min_loud_gate():
    frames = [([4, 4], True, True), ([0, 0], False, False)]
    assert feed(DecisionConfig(window=4, min_loud=1), frames) == [Detection(0, 0, 0, 1, 4)]
    assert feed(DecisionConfig(window=4, min_loud=1, threshold=5), frames) == []
    assert feed(DecisionConfig(window=4, min_loud=2), frames) == []


def test_max_frames_and_suppression():
    loud = ([1, 7], True, True)
    frames = [loud] * 7
    # segments of 3 frames decided at frames 2 and 5; suppression 4 drops the second (same label, 3 frames later)
    assert feed(DecisionConfig(max_frames=3, min_loud=1), frames) == [Detection(1, 0, 2, 2, 7), Detection(1, 3, 5, 5, 7)]
    assert feed(DecisionConfig(max_frames=3, min_loud=1, suppression=4), frames) == [Detection(1, 0, 2, 2, 7)]


def test_bad_config_names_the_field():
    with pytest.raises(FixedRnnError, match="decision.window"):
        DecisionConfig(window=0)
