"""Streaming keyword spotting once per speech segment: the model classifies each segment the VAD
cuts as a clip, on its window, when the segment is decided (docs/streaming.md, "Per segment").

For a model that cannot step frame by frame (:func:`fixedrnn.stream.steps_per_frame`): one with
cepstral mean normalisation of its window (``input.cmn`` "window", e.g. ``lstm_int8_cmn``: the mean
needs the whole window), an imported graph (it runs whole windows); any other model too, with
``StreamConfig(per_segment=True)``. Per frame t, as its last sample arrives:

1. The front end (:class:`fixedrnn.frontend.framing.StreamingMfcc`) → the frame's front-end output
   (int16 q8.7, or int32 q8.23 for a q31 model), kept with the T frames before it (T the model's
   window); no features, no cell step.
2. VAD (:mod:`fixedrnn.vad`) on the frame's energy → ``raw``, ``active``.
3. The decision rule (:class:`fixedrnn.decision.Decider`, the frame-by-frame stream's rule and
   configuration) opens and closes segments. When it decides the segment of frames
   ``start..end``, the model reads the window of the frames ``max(start − preroll, end − T + 1,
   0)`` .. ``end`` (:func:`window_span`) as it reads a clip's (:func:`fixedrnn.engine.window_features`: left-padded to T with
   the silent frame's output, the window's mean removed for a CMN model, normalised to int8); its
   int8 logits ``[C]`` are the segment's one score (n = 1 in the rule's average:
   ``decision.window`` is unused, and so are ``StreamConfig.silence`` and ``reset``, which is
   always on). A segment with fewer than ``min_loud`` loud frames is dropped before the model runs.

So a detection is the model's classification of the segment's window, bit for bit
(``Model.run_features`` of those features): what ``classify`` gives for a clip holding the
segment's frames and its pre-roll. Latency: the segment's end, as in the frame-by-frame stream,
whose decision also waits for it; the model's whole window runs then.
"""

from dataclasses import replace
from typing import NamedTuple

import numpy as np

from fixedrnn import engine
from fixedrnn.decision import Decider, keyword_flags
from fixedrnn.errors import FixedRnnError
from fixedrnn.frontend.framing import StreamingMfcc
from fixedrnn.stream import KeywordStream, StreamClock, StreamConfig, steps_per_frame
from fixedrnn.vad import Vad, frame_energy


def window_span(start, end, preroll, frames):
    """``(first, stop)``: the frames ``first .. stop − 1`` of the stream that the window of the
    segment ``start..end`` holds: from ``preroll`` frames before its start, at most the last
    ``frames`` (T) up to ``end``, none before frame 0."""
    return max(start - preroll, end - frames + 1, 0), end + 1


class SegmentFrames(NamedTuple):
    """The frames completed by one :meth:`SegmentStream.push`, ``n`` of them: ``index`` int64
    ``[n]`` (frame numbers in the stream), ``mfcc`` ``[n, I]`` (int16 q8.7 or int32 q8.23),
    ``energy`` int32 ``[n]``, ``raw`` / ``active`` bool ``[n]``."""

    index: np.ndarray
    mfcc: np.ndarray
    energy: np.ndarray
    raw: np.ndarray
    active: np.ndarray


class SegmentStream(StreamClock):
    """A model listening to a stream, classifying each speech segment's window once;
    :meth:`push` blocks of int16 samples of any size. ``config``: a
    :class:`fixedrnn.stream.StreamConfig` (``vad``, ``decision``, ``preroll``)."""

    def __init__(self, model, config=None):
        self.model = model
        self.config = StreamConfig(per_segment=True) if config is None else config
        if not self.config.reset:
            raise FixedRnnError("config: reset=False carries a cell state across segments; a stream that runs "
                                "the model once per segment starts every segment from its window")
        self.reset()

    def reset(self):
        """Back to the start of a stream (no samples seen, no frames held)."""
        m = self.model
        self._mfcc = StreamingMfcc(precision=m.frontend.precision, front_end=m.front_end)
        self._vad = Vad(self.config.vad)
        self._decider = Decider(self.config.decision, keyword_flags(m.labels), segment_scores=self._segment_logits)
        dtype = np.int32 if m.frontend.precision == "q31" else np.int16
        self._held = np.zeros((0, m.n_features), dtype)  # the last T + 1 frames' front-end outputs
        self.frames_done = 0

    def window_of(self, start, end):
        """The held front-end outputs ``[n, I]`` the window of the segment ``start..end`` reads
        (:func:`window_span`; ``end`` < :attr:`frames_done`)."""
        held_first = self.frames_done - len(self._held)
        first, stop = window_span(start, end, self.config.preroll, self.model.frames)
        if first < held_first or stop > self.frames_done:
            raise FixedRnnError(f"frames {first}..{end} are not held (held: {held_first}..{self.frames_done - 1})")
        return self._held[first - held_first:stop - held_first]

    def _segment_logits(self, start, end):
        """The decision's scores of the segment ``start..end``: int8 ``[1, C]``, the model's logits
        of its window."""
        x = engine.window_features(self.model, self.window_of(start, end))
        return np.asarray(self.model.run_features(x), np.int8)[None]

    def push(self, samples):
        """int16 samples ``[n]`` → ``(SegmentFrames, detections)`` of the frames they complete
        (``detections``: a list of :class:`fixedrnn.decision.Detection`, in order)."""
        m = self.model
        _, mfcc = self._mfcc.push(samples)
        n = len(mfcc)
        energy = frame_energy(mfcc, m.frontend.precision)
        raw, active = np.zeros(n, bool), np.zeros(n, bool)
        detections = []
        for k in range(n):
            t = self.frames_done
            self._held = np.concatenate([self._held, mfcc[k:k + 1]])[-(m.frames + 1):]
            self.frames_done += 1
            raw[k], active[k] = self._vad.update(energy[k])
            found = self._decider.update(t, None, raw[k], active[k])
            if found is not None:
                detections.append(found)
        index = np.arange(self.frames_done - n, self.frames_done, dtype=np.int64)
        return SegmentFrames(index, mfcc, energy, raw, active), detections

    def finish(self):
        """End of the stream: the detection of a segment still open (decided as if a frame that is
        not speech followed the last one)."""
        found = self._decider.update(self.frames_done, None, False, False)
        return [] if found is None else [found]


def stream_config(model, config=None):
    """``config`` (None: the default :class:`fixedrnn.stream.StreamConfig`) with ``per_segment`` set
    when ``model`` cannot step frame by frame (:func:`fixedrnn.stream.steps_per_frame`)."""
    config = StreamConfig() if config is None else config
    return config if steps_per_frame(model) else replace(config, per_segment=True)


def open_stream(model, config=None):
    """The stream for ``model`` and :func:`stream_config`: a :class:`SegmentStream` per segment, else
    a :class:`fixedrnn.stream.KeywordStream`."""
    config = stream_config(model, config)
    return SegmentStream(model, config) if config.per_segment else KeywordStream(model, config)
