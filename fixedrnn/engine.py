"""Model inference entry points: PCM → int8 features → cell → head → int8 logits.

:func:`features` applies docs/CONTRACT.md's front end, normalisation and fit-to-T rules;
:func:`run_features` / :func:`run_features_batch` run the integer cell and head. Backends:
``"numpy"`` (reference, the only one that records a trace), ``"numba"`` (fast batch path), ``"shift"``
(power-of-two models: shift-only MACs). All give the same integers. Every function runs on the
model's prepared parameters (``model.prepared``, :mod:`fixedrnn.prepare`), built once per model.
"""

from typing import NamedTuple

import numpy as np

from fixedrnn import fused
from fixedrnn.backends import check_backend
from fixedrnn.dense import run_head
from fixedrnn.errors import FixedRnnError
from fixedrnn.lstm import run_lstm
from fixedrnn.mfcc import frames
from fixedrnn.ops import normalise as normalise_op
from fixedrnn.rnn import run_rnn


def normalise(model, mfcc):
    """MFCC ``[n, I]`` (int16 q8.7 or int32 q31) → int8 ``[n, I]`` (docs/CONTRACT.md step 3)."""
    return normalise_op.reference(model.prepared.normalise, mfcc)


def mfcc_frames(model, frames):
    """int16 frames ``[n, fft_length]`` → the model's front-end output ``[n, I]``: int16 q8.7 for a
    q15 model, int32 q8.23 for a q31 model (whose frames are the int16 samples ``<< 16``)."""
    if model.frontend.precision == "q31":
        return model.front_end.mfcc_q31(np.asarray(frames).astype(np.int32) << 16)
    return model.front_end.mfcc_q15(frames)


def mfcc(model, pcm):
    """int16 PCM ``[n]`` → the front-end output of every frame of the utterance (before the fit to
    T frames): ``[frames, I]``, int16 q8.7 (q15 model) or int32 (q31 model)."""
    pcm = np.asarray(pcm)
    if pcm.ndim != 1 or pcm.dtype != np.int16:
        raise FixedRnnError(f"pcm must be a 1-d int16 array, got {pcm.dtype} of shape {pcm.shape}")
    fr = frames(pcm, model.front_end.config)
    if len(fr) == 0:
        dtype = np.int32 if model.frontend.precision == "q31" else np.int16
        return np.zeros((0, model.n_features), dtype)
    return mfcc_frames(model, fr)


def silent_features(model):
    """int8 ``[I]``: the features of an all-zero frame, which left-pad a short utterance."""
    return model.prepared.silent_features


def features(model, pcm, endpoint=None):
    """int16 PCM ``[n]`` → int8 input sequence ``[T, I]`` (docs/CONTRACT.md steps 1–4: the last T
    frames, left-padded with :func:`silent_features` when the utterance has fewer). ``endpoint``: a
    :class:`fixedrnn.endpoint.EndpointConfig`: the last T frames of the clip's endpointed segment
    instead (:func:`clip_features`)."""
    return clip_features(model, pcm, endpoint).features


class ClipFeatures(NamedTuple):
    """:func:`clip_features`' result: ``features`` int8 ``[T, I]``; ``segment`` the
    :class:`fixedrnn.endpoint.Segment` endpointing keeps (with the given configuration, or the
    default one when the features were not endpointed); ``frames`` the clip's frame count."""

    features: np.ndarray
    segment: tuple
    frames: int


def clip_features(model, pcm, endpoint=None):
    """int16 PCM ``[n]`` → :class:`ClipFeatures`: the features of :func:`features` (endpointed
    with ``endpoint`` when given) and the segment where the word is (``endpoint``, or the default
    :class:`fixedrnn.endpoint.EndpointConfig` to say how much quiet surrounds it)."""
    from fixedrnn.endpoint import EndpointConfig

    mf = mfcc(model, pcm)
    found = segment_of(model, mf, endpoint or EndpointConfig())
    kept = mf[found.start:found.stop] if endpoint is not None else mf
    return ClipFeatures(window_features(model, kept), found, len(mf))


def window_features(model, mfcc_frames_):
    """The front-end outputs of the frames a window reads, ``[n, I]`` (:func:`mfcc`) → the int8 window
    ``[T, I]``: normalised (step 3) and fitted to T (step 4); a model with ``input.cmn`` "window"
    first fits the front-end outputs (left-padded with the silent frame's) and removes their mean
    (:func:`fixedrnn.cepstral_mean.remove_window_mean`)."""
    if model.input.cmn == "off":
        return fit_to_window(model, normalise(model, mfcc_frames_))
    from fixedrnn.cepstral_mean import remove_window_mean

    fitted = _fit(mfcc_frames_, model.frames, model.prepared.silent_mfcc)
    return normalise(model, remove_window_mean(fitted, model.frontend.precision))


def segment_of(model, mfcc_frames_, endpoint):
    """The :class:`fixedrnn.endpoint.Segment` that ``endpoint`` keeps of a clip whose front-end
    outputs are ``mfcc_frames_`` ``[n, I]`` (:func:`mfcc`), on their energy
    (:func:`fixedrnn.vad.frame_energy`)."""
    from fixedrnn.endpoint import segment
    from fixedrnn.vad import frame_energy

    return segment(frame_energy(mfcc_frames_, model.frontend.precision), endpoint)


def fit_to_window(model, x):
    """int8 ``[n, I]`` → ``[T, I]``: the last T frames, left-padded with :func:`silent_features`
    (docs/CONTRACT.md step 4)."""
    return _fit(np.asarray(x, np.int8), model.frames, silent_features(model))


def _fit(rows, t, pad_row):
    """The last ``t`` rows of ``rows`` ``[n, I]``, left-padded with ``pad_row`` ``[I]`` (same dtype)."""
    if len(rows) >= t:
        return np.ascontiguousarray(rows[len(rows) - t:])
    pad = np.repeat(np.asarray(pad_row)[None, :], t - len(rows), axis=0)
    return np.concatenate([pad, rows]).astype(rows.dtype)


def _check_sequences(model, xs):
    xs = np.asarray(xs)
    if xs.dtype != np.int8 or xs.ndim != 3 or xs.shape[2] != model.n_features or xs.shape[1] < 1:
        raise FixedRnnError(f"x must be int8 [B, T, {model.n_features}] with T >= 1, "
                            f"got {xs.dtype} of shape {xs.shape}")
    return xs


def run_features_batch(model, xs, backend="numba", trace=False):
    """int8 ``[B, T, I]`` → int8 logits ``[B, C]`` (and the trace dict when ``trace``)."""
    xs = _check_sequences(model, xs)
    check_backend(backend, model.weights)
    if trace and backend != "numpy":
        raise FixedRnnError("trace=True needs backend='numpy'")
    prepared = model.prepared
    if backend == "numpy":
        h, rec = (run_rnn if model.cell == "rnn" else run_lstm)(prepared.cell, xs, trace)
    else:
        run_fused = fused.run_rnn if model.cell == "rnn" else fused.run_lstm
        h, rec = run_fused(prepared.cell, xs, backend == "shift"), None
    logits = run_head(prepared.head, h, backend)
    if trace:
        rec["logits"] = logits
        return logits, rec
    return logits


def run_features(model, x, trace=False, backend="numpy"):
    """int8 ``[T, I]`` → int8 logits ``[C]`` (and a trace of ``[T, ...]`` arrays when asked)."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise FixedRnnError(f"x must be int8 [T, {model.n_features}], got shape {x.shape}")
    out = run_features_batch(model, x[None], backend=backend, trace=trace)
    if trace:
        logits, rec = out
        return logits[0], {k: v[0] for k, v in rec.items()}
    return out[0]
