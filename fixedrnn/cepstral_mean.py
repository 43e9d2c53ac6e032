"""Cepstral mean normalisation over the feature window (docs/CONTRACT.md step 3a; a model's
``input.cmn``).

``"window"``: before the int8 normalisation of step 3, each coefficient c of the model's T-frame
window ``W [T, I]`` of front-end outputs — int16 q8.7 (q15 front end) or int32 q8.23 (q31), the
frames fitted to T as step 4 fits them, left-padded with the silent frame's output — loses its mean
over the window: ``m_c = floor(Σ_t W[t, c] / T)`` (the exact integer sum: int32 holds it for q15,
int64 for q31; floor division, toward −infinity), ``W'[t, c] = sat(W[t, c] − m_c)`` saturated to the
front end's width (int16 / int32). A channel (microphone, room, distance) that scales each mel band
adds a constant to each cepstral coefficient; this removes it. ``"off"``: no normalisation (every
model before it). C: ``frnn_cmn_window`` (FRNN_CMN).
"""

import numpy as np

from fixedrnn.errors import FixedRnnError

#: The values of a model's ``input.cmn``.
CMN_MODES = ("off", "window")

_WIDTH = {"q15": np.int16, "q31": np.int32}


def window_mean(window):
    """``m [I]`` int64: ``floor(Σ_t window[t, c] / T)`` of an integer window ``[T, I]`` (T ≥ 1)."""
    w = np.asarray(window, np.int64)
    if w.ndim != 2 or len(w) == 0:
        raise FixedRnnError(f"window must be [T, I] with T >= 1, got shape {w.shape}")
    return w.sum(axis=0) // len(w)  # NumPy's // on integers is floor division


def remove_window_mean(window, precision):
    """``window`` ``[T, I]`` (int16 for ``precision`` "q15", int32 for "q31") → the same dtype and
    shape: every frame minus :func:`window_mean`, saturated to the dtype."""
    if precision not in _WIDTH:
        raise FixedRnnError(f"precision: must be q15 or q31, got {precision!r}")
    dtype = _WIDTH[precision]
    info = np.iinfo(dtype)
    w = np.asarray(window)
    if w.dtype != dtype:
        raise FixedRnnError(f"window: a {precision} model's front-end outputs are {np.dtype(dtype)}, got {w.dtype}")
    return np.clip(w.astype(np.int64) - window_mean(w), info.min, info.max).astype(dtype)
