"""From per-frame scores to detections, in integers (TFLM micro_speech's RecognizeCommands, per
speech segment).

A segment is a run of frames the VAD calls speech (:mod:`fixedrnn.vad`); the recurrent cell starts
it from its initial state (:mod:`fixedrnn.stream`), so the scores mean "the word so far" and are
best at its end. Rule (docs/streaming.md, "Decision"), with ``window`` W, ``threshold``,
``min_loud``, ``suppression``, ``max_frames``:

- During a segment, the int8 scores ``s_t [C]`` of its last W frames are kept, and its loud frames
  (the VAD's ``raw``) are counted. (A model that runs once per segment, :mod:`fixedrnn.segment_stream`,
  gives the same W scores at the decision instead: ``Decider(..., segment_scores=...)``.)
- The segment is decided at the first frame that is not speech (that frame is not part of it), or
  at its ``max_frames``-th frame (included; the next speech frame starts a new segment).
- Decision: ``sum[c] = Σ s_t[c]`` over the n ≤ W kept frames (int32); ``top`` = the first c of
  maximal ``sum``; ``score = floor(sum[top] / n)`` (floor division, also for negative sums).
  Detection when ``loud ≥ min_loud`` and ``score ≥ threshold`` and not (``top`` equals the label of
  the previous detection and fewer than ``suppression`` frames passed since it was decided), and
  ``top`` is a keyword (:func:`is_keyword`): a segment whose top label is a filler (``_unknown_``,
  ``_silence_``, ``_filler_``) gives no detection and changes nothing else.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from fixedrnn.errors import FixedRnnError, require_int_fields


def is_keyword(label):
    """Whether the class ``label`` (str) is a keyword: every label except those that start and end
    with "_" and have at least 2 characters (Speech Commands' ``_unknown_`` and ``_silence_``,
    fixedrnn's ``_filler_``), the classes that mean "not a keyword"."""
    label = str(label)
    return not (len(label) >= 2 and label.startswith("_") and label.endswith("_"))


def keyword_flags(labels):
    """:func:`is_keyword` of each of ``labels`` (a model's class labels, in class order): tuple of bool."""
    return tuple(is_keyword(label) for label in labels)


@dataclass(frozen=True)
class DecisionConfig:
    """``window`` (frames averaged, ≥ 1), ``threshold`` (int8 units, −128..127), ``min_loud`` (loud
    frames a segment needs), ``suppression`` (frames), ``max_frames`` (longest segment, ≥ 1)."""

    window: int = 4
    threshold: int = -128
    min_loud: int = 6
    suppression: int = 0
    max_frames: int = 125

    def __post_init__(self):
        require_int_fields(self, "decision.", (("window", 1, 255), ("threshold", -128, 127),
                                               ("min_loud", 0, 2**15), ("suppression", 0, 2**15),
                                               ("max_frames", 1, 2**15)))


class Detection(NamedTuple):
    """A detected word: ``label`` (index), segment frames ``start``..``end`` (inclusive), the frame
    at which it was ``decided``, and its averaged int8 ``score``."""

    label: int
    start: int
    end: int
    decided: int
    score: int


class Decider:
    """The rule's state; :meth:`update` takes one frame and returns a :class:`Detection` or None.
    ``keywords``: per class, whether it is a keyword (:func:`keyword_flags` of the model's labels);
    None: every class is. ``segment_scores``: None (the scores come with each frame), or a function
    ``(start, end) → int8 [n, C]`` called once when the segment of frames ``start..end`` is decided
    (not for a segment with fewer than ``min_loud`` loud frames), giving the n scores the rule
    averages, ``1 ≤ n ≤ min(window, end − start + 1)`` (then :meth:`update` takes ``scores=None``)."""

    def __init__(self, config=None, keywords=None, segment_scores=None):
        self.config = DecisionConfig() if config is None else config
        self.keywords = None if keywords is None else tuple(bool(k) for k in keywords)
        self.segment_scores = segment_scores
        self.reset()

    def reset(self):
        """Back to the state before the first frame."""
        self.start = None
        self.loud = 0
        self.kept = []
        self.last_label = None
        self.last_decided = 0

    def _kept_scores(self, end):
        """int32 ``[n, C]``: the scores the rule averages (the segment's last n ≤ W frames')."""
        if self.segment_scores is None:
            return np.asarray(self.kept, np.int32)
        most = min(self.config.window, end - self.start + 1)
        scores = np.asarray(self.segment_scores(self.start, end))
        if scores.dtype != np.int8 or scores.ndim != 2 or not 1 <= len(scores) <= most:
            raise FixedRnnError(f"segment_scores({self.start}, {end}) must give int8 [n, C] with 1 <= n <= {most}, "
                                f"got {scores.dtype} of shape {scores.shape}")
        return scores.astype(np.int32)

    def _decide(self, t, end):
        cfg = self.config
        if self.loud < cfg.min_loud:  # no detection whatever the scores (segment_scores is not called)
            self.start, self.loud, self.kept = None, 0, []
            return None
        kept = self._kept_scores(end)
        sums = np.sum(kept, axis=0, dtype=np.int32)
        top = int(np.argmax(sums))
        score = int(sums[top]) // len(kept)
        start = self.start
        self.start, self.loud, self.kept = None, 0, []
        if score < cfg.threshold:
            return None
        if self.keywords is not None and not self.keywords[top]:
            return None
        if top == self.last_label and t - self.last_decided < cfg.suppression:
            return None
        self.last_label, self.last_decided = top, t
        return Detection(top, start, end, t, score)

    def starts_segment(self, active):
        """Whether a frame the VAD calls ``active`` starts a segment (the cell is reset before it)."""
        return active and self.start is None

    def update(self, t, scores, raw, active):
        """Frame ``t``'s int8 ``scores [C]`` and VAD flags → a :class:`Detection` decided at it, or None."""
        if not active:
            return self._decide(t, t - 1) if self.start is not None else None
        if self.start is None:
            self.start = t
        if self.segment_scores is None:
            self.kept = (self.kept + [np.asarray(scores, np.int32)])[-self.config.window:]
        self.loud += int(raw)
        if t - self.start + 1 >= self.config.max_frames:
            return self._decide(t, t)
        return None
