"""fixedrnn.decision: the per-segment rule of docs/streaming.md on hand-made score sequences."""

import pytest

from fixedrnn.decision import Decider, DecisionConfig, Detection, is_keyword, keyword_flags
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


def test_labels_that_start_and_end_with_underscore_are_not_keywords():
    assert [is_keyword(label) for label in ("0", "yes", "_filler_", "_unknown_", "_silence_", "_", "_a", "a_", "__")] \
        == [True, True, False, False, False, True, True, True, False]
    assert keyword_flags(["0", "1", "_filler_"]) == (True, True, False)


def test_filler_top_gives_no_detection_and_leaves_suppression_alone():
    cfg = DecisionConfig(window=2, min_loud=1, suppression=100)
    keywords = (True, True, False)  # class 2 is a filler
    silent = ([0, 0, 0], False, False)
    frames = [([3, 9, 1], True, True), silent,     # segment 0: label 1, detected at frame 1
              ([0, 1, 9], True, True), silent,     # segment 1: top 2 (filler) → nothing
              ([8, 1, 2], True, True), ([8, 5, 7], True, True), silent,  # segment 2: label 0
              ([5, 6, 6], True, True), silent]     # segment 3: tie of 1 and 2 → the first, 1; the last
    # detection is segment 2's (label 0), so suppression does not drop it
    decider = Decider(cfg, keywords)
    got = [d for t, (s, r, a) in enumerate(frames) if (d := decider.update(t, s, r, a)) is not None]
    assert got == [Detection(1, 0, 0, 1, 9), Detection(0, 4, 5, 6, 8), Detection(1, 7, 7, 8, 6)]
    # without the flags, the filler segment is a detection of class 2
    assert Detection(2, 2, 2, 3, 9) in feed(cfg, frames)


def test_filler_segment_does_not_become_the_last_label():
    """Suppression compares with the last *detection*: a filler segment in between changes nothing."""
    cfg = DecisionConfig(window=1, min_loud=1, suppression=10)
    silent = ([0, 0], False, False)
    frames = [([9, 0], True, True), silent, ([0, 9], True, True), silent, ([9, 0], True, True), silent]
    decider = Decider(cfg, (True, False))
    got = [d for t, (s, r, a) in enumerate(frames) if (d := decider.update(t, s, r, a)) is not None]
    assert got == [Detection(0, 0, 0, 1, 9)]  # frame 4's label 0 is suppressed (4 frames after frame 1)


def test_scores_given_at_the_decision_equal_scores_given_per_frame():
    """``segment_scores`` returning the segment's last min(W, length) frames' scores gives the
    per-frame decider's detections, on random flags and scores, with every gate in play."""
    import numpy as np

    rng = np.random.default_rng(0)
    total = 0
    for trial in range(40):
        cfg = DecisionConfig(window=int(rng.integers(1, 6)), min_loud=int(rng.integers(0, 4)),
                             threshold=int(rng.integers(-40, 40)), suppression=int(rng.integers(0, 30)),
                             max_frames=int(rng.integers(1, 20)))
        n = 200
        scores = rng.integers(-128, 128, (n, 4)).astype(np.int8)
        active = rng.random(n) < 0.7
        raw = active & (rng.random(n) < 0.6)
        keywords = (True, True, False, True)
        plain = Decider(cfg, keywords)
        want = [d for t in range(n) if (d := plain.update(t, scores[t], raw[t], active[t]))]
        calls = []

        def segment_scores(start, end):
            calls.append((start, end))
            return scores[max(start, end - cfg.window + 1):end + 1]

        deferred = Decider(cfg, keywords, segment_scores=segment_scores)
        got = [d for t in range(n) if (d := deferred.update(t, None, raw[t], active[t]))]
        assert got == want, trial
        assert len(calls) == len(set(calls))
        total += len(want)
    assert total >= 100


def test_segment_scores_of_a_wrong_shape_are_refused():
    import numpy as np

    decider = Decider(DecisionConfig(window=2, min_loud=0), segment_scores=lambda s, e: np.zeros((3, 2), np.int8))
    decider.update(0, None, True, True)
    decider.update(1, None, True, True)
    decider.update(2, None, True, True)
    with pytest.raises(FixedRnnError, match=r"1 <= n <= 2"):
        decider.update(3, None, False, False)
