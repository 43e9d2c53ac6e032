"""Streaming keyword spotting: int16 samples in blocks of any size → per-frame features, cell state,
scores, and detections, in integers only (docs/streaming.md).

Per frame t, as its last sample arrives (frames as :func:`fixedrnn.mfcc.frames`: ``fft_length``
samples every ``hop``, complete frames only):

1. MFCC (:class:`fixedrnn.mfcc.StreamingMfcc`) and the int8 features (the model's normalisation,
   :func:`fixedrnn.engine.normalise`).
2. VAD (:mod:`fixedrnn.vad`) on the frame's energy → ``raw`` (loud), ``active`` (speech).
3. Cell reset (``StreamConfig.reset``): when frame t starts a speech segment
   (:meth:`fixedrnn.decision.Decider.starts_segment`), the state goes back to the cell's initial
   state, the cell steps ``silence`` times on the silent frame's features
   (:func:`fixedrnn.engine.silent_features`, the batch window's left padding), then re-runs the
   ``preroll`` frames before t (fewer at the start of the stream), kept in a ring buffer of
   features. The models were trained on words after silence padding; a state carried across words
   and pauses does not recognise the next one, and a long pre-roll of noise (babble above all)
   puts the cell in a state it never saw in training.
4. One cell step on x_t (:func:`fixedrnn.rnn.step_from_input_fc` / :func:`fixedrnn.lstm
   .step_from_input_fc`), the head on h_t (:func:`fixedrnn.dense.run_head`) → int8 scores.
5. The decision rule (:mod:`fixedrnn.decision`, with the model's labels' keyword flags) → a
   detection or none (none for a segment whose top class is a filler such as ``_filler_``).

With ``reset=False`` the hidden states are exactly ``engine.run_features(model, x, trace=True)`` of
all the frames so far, and the scores the head on each; with ``reset=True``, those of ``silence`` silent frames followed
by the frames from the last reset's pre-roll. Everything is the model's prepared ops (NumPy reference).
"""

from dataclasses import dataclass, field
from typing import NamedTuple, Optional

import numpy as np

from fixedrnn import dense, engine, lstm, rnn
from fixedrnn.decision import Decider, DecisionConfig, keyword_flags
from fixedrnn.frontend.framing import StreamingMfcc
from fixedrnn.errors import FixedRnnError, require_int_fields
from fixedrnn.vad import Vad, VadConfig, frame_energy


@dataclass(frozen=True)
class StreamConfig:
    """``vad``, ``decision``; ``reset`` the cell at each segment start, stepping it ``silence`` times
    on the silent frame's features, then re-running the ``preroll`` frames before the start.
    ``per_segment``: run the model once per segment on its window instead of the cell frame by
    frame (:class:`fixedrnn.segment_stream.SegmentStream`; ``preroll`` frames before the segment
    are in the window, ``silence`` and ``decision.window`` are unused)."""

    vad: VadConfig = field(default_factory=VadConfig)
    decision: DecisionConfig = field(default_factory=DecisionConfig)
    reset: bool = True
    preroll: int = 4
    silence: int = 16
    per_segment: bool = False

    def __post_init__(self):
        require_int_fields(self, "", (("preroll", 0, 255), ("silence", 0, 255)))


class StreamFrames(NamedTuple):
    """The frames completed by one :meth:`KeywordStream.push`, ``n`` of them: ``index`` int64
    ``[n]`` (frame numbers in the stream), ``mfcc`` ``[n, I]`` (int16 q8.7 or int32), ``features``
    int8 ``[n, I]``, ``energy`` int32 ``[n]``, ``raw`` / ``active`` / ``reset`` bool ``[n]``,
    ``hidden`` int8 ``[n, H]``, ``cell`` int16 ``[n, H]`` (LSTM; None for the RNN), ``scores`` int8
    ``[n, C]``."""

    index: np.ndarray
    mfcc: np.ndarray
    features: np.ndarray
    energy: np.ndarray
    raw: np.ndarray
    active: np.ndarray
    reset: np.ndarray
    hidden: np.ndarray
    cell: Optional[np.ndarray]
    scores: np.ndarray


def steps_per_frame(model):
    """Whether ``model`` can step frame by frame (:class:`KeywordStream`): not a graph model (its
    graph runs whole windows) nor one with cepstral mean normalisation (``input.cmn``: its features
    need the whole window's mean before the first cell step). Others stream per segment
    (:class:`fixedrnn.segment_stream.SegmentStream`)."""
    return getattr(model, "cell", None) in ("rnn", "lstm") and model.input.cmn == "off"


def require_streamable(model):
    """``FixedRnnError`` for a model :class:`KeywordStream` cannot run (:func:`steps_per_frame`)."""
    if steps_per_frame(model):
        return
    why = ("an imported graph runs whole windows" if model.input.cmn == "off" else
           f"cepstral mean normalisation (input.cmn = {model.input.cmn}) needs the whole window's mean")
    raise FixedRnnError(f"model: {why}, not one frame at a time; it streams once per speech segment "
                        "(StreamConfig(per_segment=True), fixedrnn.segment_stream)")


class StreamClock:
    """Frame times of a stream over ``self.model``'s front end."""

    def frame_end_seconds(self, t):
        """Time (s) at which frame ``t`` is complete: its last sample's end."""
        c = self.model.front_end.config
        return (t * c.hop + c.fft_length) / c.sample_rate

    def frame_start_seconds(self, t):
        """Time (s) of frame ``t``'s first sample."""
        c = self.model.front_end.config
        return t * c.hop / c.sample_rate


class KeywordStream(StreamClock):
    """A model listening to a stream, its cell stepping frame by frame; :meth:`push` blocks of int16
    samples of any size."""

    def __init__(self, model, config=None):
        require_streamable(model)
        self.model = model
        self.config = StreamConfig() if config is None else config
        if self.config.per_segment:
            raise FixedRnnError("config: per_segment streams are fixedrnn.segment_stream.SegmentStream's, "
                                "KeywordStream steps the cell frame by frame")
        self._prepared = model.prepared
        self._cell = rnn if model.cell == "rnn" else lstm
        self.reset()

    def reset(self):
        """Back to the start of a stream (no samples seen, initial cell state)."""
        m = self.model
        self._mfcc = StreamingMfcc(precision=m.frontend.precision, front_end=m.front_end)
        self._vad = Vad(self.config.vad)
        self._decider = Decider(self.config.decision, keyword_flags(m.labels))
        self._state = self._cell.initial_state(self._prepared.cell)
        self._recent = np.zeros((0, m.n_features), np.int8)
        self._silence_fc = self._cell.input_fc(self._prepared.cell, engine.silent_features(m)[None])
        self.frames_done = 0

    def _step(self, fc):
        self._state = self._cell.step_from_input_fc(self._prepared.cell, fc, self._state)[-1]

    def _restart(self):
        """Initial state, ``silence`` steps on the silent frame, then the pre-roll frames."""
        self._state = self._cell.initial_state(self._prepared.cell)
        for _ in range(self.config.silence):
            self._step(self._silence_fc)
        if len(self._recent):
            fcs = self._cell.input_fc(self._prepared.cell, self._recent)
            for k in range(len(fcs)):
                self._step(fcs[k:k + 1])

    def push(self, samples):
        """int16 samples ``[n]`` → ``(StreamFrames, detections)`` of the frames they complete
        (``detections``: a list of :class:`fixedrnn.decision.Detection`, in order)."""
        m, cfg = self.model, self.config
        _, mfcc = self._mfcc.push(samples)
        n = len(mfcc)
        x = engine.normalise(m, mfcc) if n else np.zeros((0, m.n_features), np.int8)
        fcs = self._cell.input_fc(self._prepared.cell, x)
        energy = frame_energy(mfcc, m.frontend.precision)
        raw, active, reset = (np.zeros(n, bool) for _ in range(3))
        hidden = np.empty((n, m.units), np.int8)
        cell = np.empty((n, m.units), np.int16) if m.cell == "lstm" else None
        scores = np.empty((n, len(m.labels)), np.int8)
        detections = []
        for k in range(n):
            t = self.frames_done + k
            raw[k], active[k] = self._vad.update(energy[k])
            if cfg.reset and self._decider.starts_segment(active[k]):
                reset[k] = True
                self._restart()
            self._step(fcs[k:k + 1])
            h = self._state if m.cell == "rnn" else self._state.h
            hidden[k] = h[0]
            if cell is not None:
                cell[k] = self._state.c[0]
            scores[k] = dense.run_head(self._prepared.head, h)[0]
            found = self._decider.update(t, scores[k], raw[k], active[k])
            if found is not None:
                detections.append(found)
            if cfg.preroll:
                self._recent = np.concatenate([self._recent, x[k:k + 1]])[-cfg.preroll:]
        index = np.arange(self.frames_done, self.frames_done + n, dtype=np.int64)
        self.frames_done += n
        return StreamFrames(index, mfcc, x, energy, raw, active, reset, hidden, cell, scores), detections

    def finish(self):
        """End of the stream: the detections of a segment still open (decided as if a frame that is
        not speech followed the last one)."""
        found = self._decider.update(self.frames_done, None, False, False)
        return [] if found is None else [found]
