"""Model inference entry points: PCM → int8 features → cell → head → int8 logits.

:func:`features` applies docs/CONTRACT.md's front end, normalisation and fit-to-T rules;
:func:`run_features` / :func:`run_features_batch` run the integer cell and head. Backends:
``"numpy"`` (reference, the only one that records a trace), ``"numba"`` (fast batch path), ``"shift"``
(power-of-two models: shift-only MACs). All give the same integers.
"""

import importlib

import numpy as np

from fixedrnn.dense import run_head
from fixedrnn.errors import FixedRnnError
from fixedrnn.fixedpoint import multiply_by_quantized_multiplier
from fixedrnn.kernels import check_backend
from fixedrnn.lstm import run_lstm
from fixedrnn.rnn import run_rnn


def frontend_module():
    """The MFCC front-end module (``fixedrnn.mfcc``, or the ``fixedrnn.frontend`` package)."""
    for name in ("fixedrnn.mfcc", "fixedrnn.frontend"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(mod, "mfcc_q15") and hasattr(mod, "frames"):
            return mod
    raise FixedRnnError("the MFCC front end (fixedrnn.mfcc) is not available")


def normalise(model, mfcc):
    """MFCC ``[n, I]`` (int16 q8.7 or int32 q31) → int8 ``[n, I]`` (docs/CONTRACT.md step 3)."""
    q = model.input
    d = np.asarray(mfcc, np.int64) - q.offset.astype(np.int64)
    if d.size and (d.min() < -2**31 or d.max() >= 2**31):
        raise FixedRnnError("mfcc - input.offset overflows int32")
    v = multiply_by_quantized_multiplier(d, q.multiplier, q.shift).astype(np.int64)
    return np.clip(v + q.zero_point, -128, 127).astype(np.int8)


def _mfcc(model, frames):
    mod = frontend_module()
    cfg = model.frontend.mfcc_config()
    if model.frontend.precision == "q31":  # int16 PCM in q31: x << 16 (as fixedrnn.mfcc.mfcc does)
        return mod.mfcc_q31(np.asarray(frames).astype(np.int32) << 16, cfg)
    return mod.mfcc_q15(frames, cfg)


def features(model, pcm):
    """int16 PCM ``[n]`` → int8 input sequence ``[T, I]``."""
    pcm = np.asarray(pcm)
    if pcm.ndim != 1 or pcm.dtype != np.int16:
        raise FixedRnnError(f"pcm must be a 1-d int16 array, got {pcm.dtype} of shape {pcm.shape}")
    mod = frontend_module()
    cfg = model.frontend.mfcc_config()
    fr = mod.frames(pcm, cfg)
    x = normalise(model, _mfcc(model, fr)) if len(fr) else np.zeros((0, model.n_features), np.int8)
    t = model.frames
    if len(x) >= t:
        return np.ascontiguousarray(x[len(x) - t:])
    silent = normalise(model, _mfcc(model, np.zeros((1, model.frontend.fft_length), np.int16)))
    pad = np.repeat(silent, t - len(x), axis=0)
    return np.concatenate([pad, x]).astype(np.int8)


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
    z = model.input.zero_point
    if model.cell == "rnn":
        h, rec = run_rnn(model.rnn, xs, z, backend, trace)
    else:
        h, rec = run_lstm(model.lstm, xs, z, backend, trace)
    logits = run_head(model.head, h, model.hidden_zero_point, backend)
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
