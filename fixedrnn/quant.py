"""Quantizers: float tensors to the integers the kernels use, and their float "fake quant" forms.

Rounding everywhere is round half away from zero (C's ``round``, TFLite's ``TfLiteRound``),
computed in float64. Every scale must be finite and > 0; bad arguments raise
:class:`fixedrnn.errors.FixedRnnError` (a ``ValueError``) naming the argument.

Formats
- int8 weights, symmetric: ``w ≈ q · scale``, q in [−127, 127], zero point 0; per tensor (one
  scale) or per output channel (``axis=0``: one scale per row of a ``[out, in]`` matrix).
- int8 activations, asymmetric: ``x ≈ (q − zero_point) · scale``, q in [−128, 127], with the zero
  point nudged to an integer as TensorFlow's FakeQuant / TFLite converter do.
- int32 bias: ``b ≈ q · input_scale · weight_scale``.
- power-of-two weights, 4-bit codes: bit 3 is the sign (1 = negative), bits 0–2 are m. m = 0 is
  the weight 0 (code 8, a "negative zero", is invalid); m in 1..7 is the int8 value ±2**(7 − m)
  (±64, ±32, …, ±1). With ``scale`` the int8 scale, the float weight is ±2**−k · S for
  k = m − 1 and S = 64 · scale, the largest level. ``levels`` (1..7) limits m to 1..levels.
  Two codes per byte: element 2i in the low nibble, 2i+1 in the high nibble, row-major; an odd
  length leaves the last high nibble 0.
"""

from dataclasses import dataclass

import numpy as np

from fixedrnn.errors import FixedRnnError
from fixedrnn.fixedpoint import INT32_MAX, INT32_MIN, as_int_array

POT_MAX_LEVELS = 7
POT_TOP_INT8 = 64  # int8 value of the largest power-of-two level (m = 1)


def round_half_away(x):
    """Round half away from zero (C ``round``), float64 in, float64 out."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _finite_floats(x, name):
    arr = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise FixedRnnError(f"{name} must be finite (got NaN or inf)")
    return arr


def check_scale(scale, name="scale"):
    """``scale`` as float64 array; ``FixedRnnError`` unless every value is finite and > 0."""
    try:
        arr = np.asarray(scale, dtype=np.float64)
    except (TypeError, ValueError):
        raise FixedRnnError(f"{name} must be a number, got {scale!r}") from None
    if arr.size == 0:
        raise FixedRnnError(f"{name} is empty")
    if not np.all(np.isfinite(arr)):
        raise FixedRnnError(f"{name} must be finite, got {arr[~np.isfinite(arr)].ravel()[0]}")
    if np.any(arr <= 0):
        raise FixedRnnError(f"{name} must be > 0, got {arr[arr <= 0].ravel()[0]}")
    return arr


def _channel_max(w, axis, name):
    w = _finite_floats(w, name)
    if w.size == 0:
        raise FixedRnnError(f"{name} is empty")
    if axis is None:
        return w, np.max(np.abs(w))
    if w.ndim < 1 or not -w.ndim <= axis < w.ndim:
        raise FixedRnnError(f"axis {axis} is out of range for {name} of shape {w.shape}")
    other = tuple(i for i in range(w.ndim) if i != axis % w.ndim)
    return w, np.max(np.abs(w), axis=other)


def _expand(scale, w, axis):
    if axis is None or np.ndim(scale) == 0:
        return scale
    shape = [1] * w.ndim
    shape[axis % w.ndim] = -1
    return np.reshape(scale, shape)


# --- symmetric int8 weights -------------------------------------------------------------------


def symmetric_scale(w, axis=None):
    """Scale(s) of the symmetric int8 weight quantizer: ``max|w| / 127`` (per tensor, or per slice
    along ``axis``). An all-zero tensor or channel gets scale 1.0 (its codes are all 0)."""
    _, peak = _channel_max(w, axis, "w")
    scale = np.asarray(peak, dtype=np.float64) / 127.0
    return np.where(scale > 0, scale, 1.0)


def quantize_symmetric(w, scale, axis=None):
    """int8 codes ``clamp(round(w / scale), −127, 127)``; ``scale`` per tensor or per ``axis``."""
    w = _finite_floats(w, "w")
    scale = check_scale(scale)
    q = round_half_away(w / _expand(scale, w, axis))
    return np.clip(q, -127, 127).astype(np.int8)


def fake_quant_symmetric(w, scale, axis=None):
    """Float form of :func:`quantize_symmetric`: ``q · scale`` (float64)."""
    scale = check_scale(scale)
    w = _finite_floats(w, "w")
    return quantize_symmetric(w, scale, axis).astype(np.float64) * _expand(scale, w, axis)


# --- asymmetric int8 activations --------------------------------------------------------------


@dataclass(frozen=True)
class ActivationQuant:
    """Affine int8 quantization of an activation: ``x ≈ (q − zero_point) · scale``."""

    scale: float
    zero_point: int
    qmin: int = -128
    qmax: int = 127

    @property
    def nudged_min(self):
        return (self.qmin - self.zero_point) * self.scale

    @property
    def nudged_max(self):
        return (self.qmax - self.zero_point) * self.scale


def activation_params(rmin, rmax, qmin=-128, qmax=127):
    """Scale and nudged zero point for the float range [rmin, rmax] (TensorFlow's FakeQuant rule).

    The range is first widened to contain 0. ``scale = (rmax − rmin) / (qmax − qmin)``; the zero
    point ``qmin − rmin / scale`` is rounded half away from zero and clamped to [qmin, qmax], so
    that 0.0 is exactly representable. An empty range (rmin == rmax == 0 after widening), NaN or
    inf, or rmin > rmax raises ``FixedRnnError``.
    """
    rmin = float(_finite_floats(rmin, "rmin"))
    rmax = float(_finite_floats(rmax, "rmax"))
    if rmin > rmax:
        raise FixedRnnError(f"rmin ({rmin}) must be <= rmax ({rmax})")
    if not (isinstance(qmin, (int, np.integer)) and isinstance(qmax, (int, np.integer)) and qmin < qmax):
        raise FixedRnnError(f"qmin < qmax must be integers, got {qmin}, {qmax}")
    rmin, rmax = min(rmin, 0.0), max(rmax, 0.0)
    if rmax - rmin <= 0:
        raise FixedRnnError("the range [rmin, rmax] is empty (both 0): no scale can be chosen")
    scale = (rmax - rmin) / (qmax - qmin)
    zero_point_from_min = qmin - rmin / scale
    zero_point = int(np.clip(round_half_away(zero_point_from_min), qmin, qmax))
    return ActivationQuant(float(scale), zero_point, int(qmin), int(qmax))


def quantize_activation(x, params):
    """int8 codes ``clamp(round(x / scale) + zero_point, qmin, qmax)`` (TFLite's Quantize)."""
    x = _finite_floats(x, "x")
    check_scale(params.scale, "params.scale")
    q = round_half_away(x / params.scale) + params.zero_point
    return np.clip(q, params.qmin, params.qmax).astype(np.int8)


def dequantize_activation(q, params):
    """Float value ``(q − zero_point) · scale`` of int8 codes (float64)."""
    q = as_int_array(q, "q")
    return (q - params.zero_point).astype(np.float64) * params.scale


def fake_quant_activation(x, params):
    """Float form of :func:`quantize_activation`: quantize then dequantize (float64)."""
    return dequantize_activation(quantize_activation(x, params), params)


# --- int32 bias -------------------------------------------------------------------------------


def quantize_bias(b, input_scale, weight_scale):
    """int32 codes ``round(b / (input_scale · weight_scale))``, saturated to the int32 range.

    ``weight_scale`` may be per output channel (same length as ``b``).
    """
    b = _finite_floats(b, "b")
    input_scale = check_scale(input_scale, "input_scale")
    weight_scale = check_scale(weight_scale, "weight_scale")
    q = round_half_away(b / (input_scale * weight_scale))
    return np.clip(q, INT32_MIN, INT32_MAX).astype(np.int32)


def fake_quant_bias(b, input_scale, weight_scale):
    """Float form of :func:`quantize_bias` (float64)."""
    scale = check_scale(input_scale, "input_scale") * check_scale(weight_scale, "weight_scale")
    return quantize_bias(b, input_scale, weight_scale).astype(np.float64) * scale


# --- power-of-two weights ---------------------------------------------------------------------


def _check_levels(levels):
    if not isinstance(levels, (int, np.integer)) or not 1 <= levels <= POT_MAX_LEVELS:
        raise FixedRnnError(f"levels must be an integer in 1..{POT_MAX_LEVELS}, got {levels!r}")
    return int(levels)


def pot_scale(w, axis=None):
    """The int8 scale that puts the largest level 64·scale at ``max|w|`` (per tensor or ``axis``).
    An all-zero tensor or channel gets scale 1.0."""
    _, peak = _channel_max(w, axis, "w")
    scale = np.asarray(peak, dtype=np.float64) / POT_TOP_INT8
    return np.where(scale > 0, scale, 1.0)


def quantize_pot(w, scale, levels=POT_MAX_LEVELS, axis=None):
    """4-bit power-of-two codes (uint8 values 0..15, same shape as ``w``): nearest level, linearly.

    The candidates are 0 and ±2**(7 − m) · scale for m in 1..levels. Each weight takes the
    candidate nearest to it in absolute difference; a tie goes to the larger magnitude. So
    |w| ≥ 64·scale saturates to the top level, and |w| < 2**(7−levels)·scale / 2 gives 0.
    """
    levels = _check_levels(levels)
    w = _finite_floats(w, "w")
    scale = check_scale(scale)
    mag = np.abs(w) / _expand(scale, w, axis)  # in units of the int8 scale
    m = np.zeros(w.shape, dtype=np.int64)  # 0 means the zero code
    for level in range(levels, 0, -1):  # from the smallest magnitude up
        value = 2.0 ** (7 - level)
        lower = value / 2.0 if level == levels else value * 0.75  # midpoint to the next lower level
        m = np.where(mag >= lower, level, m)
    sign = (w < 0) & (m > 0)
    return (m | (sign.astype(np.int64) << 3)).astype(np.uint8)


def check_pot_codes(codes, name="codes"):
    """Codes as int64; ``FixedRnnError`` if any is outside 0..15 or is 8 (negative zero)."""
    codes = as_int_array(codes, name, 0, 15)
    if np.any(codes == 8):
        raise FixedRnnError(f"{name} holds code 8 (negative zero), which is invalid")
    return codes


def pot_decode(codes):
    """int8 values of power-of-two codes: 0, or ±2**(7 − m)."""
    codes = check_pot_codes(codes)
    m = codes & 7
    magnitude = np.where(m > 0, np.int64(1) << np.maximum(7 - m, 0), 0)
    return np.where(codes & 8, -magnitude, magnitude).astype(np.int8)


def pot_encode_int8(values):
    """Codes of int8 values that are 0 or ±2**e for e in 0..6 (the inverse of :func:`pot_decode`)."""
    values = as_int_array(values, "values", -64, 64)
    mag = np.abs(values)
    is_pot = (mag == 0) | ((mag & (mag - 1)) == 0)
    if not np.all(is_pot):
        raise FixedRnnError(f"values must be 0 or ±2**e (e in 0..6), got {int(values[~is_pot].ravel()[0])}")
    exponent = np.where(mag > 0, np.log2(np.maximum(mag, 1)).astype(np.int64), 0)
    m = np.where(mag > 0, 7 - exponent, 0)
    return (m | ((values < 0).astype(np.int64) << 3)).astype(np.uint8)


def fake_quant_pot(w, scale, levels=POT_MAX_LEVELS, axis=None):
    """Float form of :func:`quantize_pot`: the chosen level's value (float64)."""
    scale = check_scale(scale)
    w = _finite_floats(w, "w")
    q = pot_decode(quantize_pot(w, scale, levels, axis)).astype(np.float64)
    return q * _expand(scale, w, axis)


def pot_pack(codes):
    """Pack codes two per byte (flattened row-major; element 2i low nibble, 2i+1 high) → uint8."""
    flat = check_pot_codes(codes).ravel()
    if flat.size % 2:
        flat = np.concatenate([flat, np.zeros(1, dtype=np.int64)])
    return (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8)


def pot_unpack(packed, count):
    """The first ``count`` codes of a packed uint8 array (uint8, flat); validates every code."""
    packed = as_int_array(packed, "packed", 0, 255).ravel()
    if not isinstance(count, (int, np.integer)) or count < 0:
        raise FixedRnnError(f"count must be a non-negative integer, got {count!r}")
    if packed.size != (count + 1) // 2:
        raise FixedRnnError(f"packed has {packed.size} bytes; {count} codes need {(count + 1) // 2}")
    codes = np.empty(packed.size * 2, dtype=np.int64)
    codes[0::2] = packed & 15
    codes[1::2] = packed >> 4
    if count % 2 and codes[-1] != 0:
        raise FixedRnnError("packed has a non-zero padding nibble after the last code")
    codes = codes[:count]
    check_pot_codes(codes, "packed")
    return codes.astype(np.uint8)
