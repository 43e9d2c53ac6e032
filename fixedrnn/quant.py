"""Quantizers: float tensors to the integers the kernels use, and their float "fake quant" forms.

Rounding everywhere is round half away from zero (C's ``round``, TFLite's ``TfLiteRound``),
computed in float64. Every scale must be finite and > 0; bad arguments raise
:class:`fixedrnn.errors.FixedRnnError` (a ``ValueError``) naming the argument.

Formats
- k-bit weights, symmetric (k = 2..8, default 8): ``w ≈ q · scale``, q in [−(2**(k−1) − 1),
  2**(k−1) − 1] (int8 at k = 8: [−127, 127]), zero point 0; per tensor (one scale) or per output
  channel (``axis=0``: one scale per row of a ``[out, in]`` matrix). The levels are held in int8.
- int8 activations, asymmetric: ``x ≈ (q − zero_point) · scale``, q in [−128, 127], with the zero
  point nudged to an integer as TensorFlow's FakeQuant / TFLite converter do.
- int32 bias: ``b ≈ q · input_scale · weight_scale``.
- minifloat weights (sign, e exponent bits, m mantissa bits; 1 + e + m bits a code): the code is
  ``sign << (e + m) | E << m | M``. E in 1..2**e − 1 is an octave counted down from the top:
  magnitude ``(2**m + M) · 2**(7 − m − E)``; E = 0 is the subnormal octave below the last one:
  ``M · 2**(7 − m − (2**e − 1))`` (M = 0: the weight 0; with the sign set, a "negative zero",
  which is invalid). Every level is an integer in [−127, 127] when e ≥ 1, m ≥ 0 and
  2**e − 1 + m ≤ 7; the largest is ``128 − 2**(6 − m)``. Power-of-two weights are the case e = 3,
  m = 0.
- power-of-two weights, 4-bit codes (minifloat e = 3, m = 0): bit 3 is the sign (1 = negative),
  bits 0–2 are m. m = 0 is the weight 0 (code 8, a "negative zero", is invalid); m in 1..7 is the
  int8 value ±2**(7 − m) (±64, ±32, …, ±1). With ``scale`` the int8 scale, the float weight is
  ±2**−k · S for k = m − 1 and S = 64 · scale, the largest level. ``levels`` (1..7) limits m to
  1..levels.
- packed codes (:func:`pack_codes`): 8 / b codes of b bits (b = 2 or 4) per byte, element i of the
  flattened row-major array at bits ``b · (i mod 8/b)`` of byte ``i div 8/b`` (low bits first);
  the bits after the last code are 0. Power-of-two codes: b = 4, element 2i in the low nibble.
"""

from dataclasses import dataclass

import numpy as np

from fixedrnn.errors import FixedRnnError
from fixedrnn.fixedpoint import INT32_MAX, INT32_MIN, as_int_array

POT_MAX_LEVELS = 7
POT_TOP_INT8 = 64  # int8 value of the largest power-of-two level (m = 1)
POT_EXPONENT_BITS, POT_MANTISSA_BITS = 3, 0  # the minifloat form of power-of-two codes
WEIGHT_BITS_MIN, WEIGHT_BITS_MAX = 2, 8  # k of the symmetric k-bit weights
PACKED_CODE_BITS = (2, 4)  # code widths pack_codes packs


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


# --- symmetric k-bit weights -----------------------------------------------------------------


def check_bits(bits, name="bits"):
    """``bits`` as int; ``FixedRnnError`` unless an integer in 2..8."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not WEIGHT_BITS_MIN <= bits <= WEIGHT_BITS_MAX:
        raise FixedRnnError(f"{name} must be an integer in {WEIGHT_BITS_MIN}..{WEIGHT_BITS_MAX}, got {bits!r}")
    return int(bits)


def symmetric_max(bits=8):
    """The largest level of symmetric ``bits``-bit weights: 2**(bits − 1) − 1 (127 at 8 bits)."""
    return (1 << (check_bits(bits) - 1)) - 1


def symmetric_scale(w, axis=None, bits=8):
    """Scale(s) of the symmetric ``bits``-bit weight quantizer: ``max|w| / (2**(bits−1) − 1)`` (per
    tensor, or per slice along ``axis``). An all-zero tensor or channel gets scale 1.0 (its codes
    are all 0)."""
    _, peak = _channel_max(w, axis, "w")
    scale = np.asarray(peak, dtype=np.float64) / symmetric_max(bits)
    return np.where(scale > 0, scale, 1.0)


def quantize_symmetric(w, scale, axis=None, bits=8):
    """int8 levels ``clamp(round(w / scale), −q, q)``, q = 2**(bits−1) − 1, ``w / scale`` the float64
    quotient, rounded half away from zero; ``scale`` per tensor or per ``axis``."""
    top = symmetric_max(bits)
    w = _finite_floats(w, "w")
    scale = check_scale(scale)
    q = round_half_away(w / _expand(scale, w, axis))
    return np.clip(q, -top, top).astype(np.int8)


def fake_quant_symmetric(w, scale, axis=None, bits=8):
    """Float form of :func:`quantize_symmetric`: ``q · scale`` (float64)."""
    scale = check_scale(scale)
    w = _finite_floats(w, "w")
    return quantize_symmetric(w, scale, axis, bits).astype(np.float64) * _expand(scale, w, axis)


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


# --- minifloat weights (power-of-two: e = 3, m = 0) ------------------------------------------


def check_minifloat(exponent_bits, mantissa_bits):
    """``(e, m)`` as ints; ``FixedRnnError`` unless e ≥ 1, m ≥ 0 and 2**e − 1 + m ≤ 7 (every level
    an integer of int8)."""
    e, m = exponent_bits, mantissa_bits
    ok = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (e, m))
    if not (ok and 1 <= e <= 3 and m >= 0 and (1 << int(e)) - 1 + m <= 7):
        raise FixedRnnError(f"minifloat exponent_bits e = {e!r}, mantissa_bits m = {m!r}: need integers "
                            f"e >= 1, m >= 0 with 2**e - 1 + m <= 7 (e 1: m <= 6; e 2: m <= 4; e 3: m = 0)")
    return int(e), int(m)


def minifloat_top(exponent_bits, mantissa_bits):
    """The largest minifloat level, int8 units: ``128 − 2**(6 − m)`` (64 for power-of-two)."""
    _, m = check_minifloat(exponent_bits, mantissa_bits)
    return 128 - (1 << (6 - m))


def check_minifloat_codes(codes, exponent_bits, mantissa_bits, name="codes"):
    """Codes as int64; ``FixedRnnError`` if any is outside 0..2**(1+e+m) − 1 or is the negative
    zero ``1 << (e + m)``."""
    e, m = check_minifloat(exponent_bits, mantissa_bits)
    codes = as_int_array(codes, name, 0, (2 << (e + m)) - 1)
    if np.any(codes == 1 << (e + m)):
        raise FixedRnnError(f"{name} holds code {1 << (e + m)} (negative zero), which is invalid")
    return codes


def minifloat_decode(codes, exponent_bits, mantissa_bits):
    """int8 values of minifloat codes (module doc): by shifts and adds of the code's fields."""
    e, m = check_minifloat(exponent_bits, mantissa_bits)
    codes = check_minifloat_codes(codes, e, m)
    octave = (codes >> m) & ((1 << e) - 1)
    mantissa = codes & ((1 << m) - 1)
    normal = ((1 << m) + mantissa) << np.maximum(7 - m - octave, 0)
    subnormal = mantissa << (7 - m - ((1 << e) - 1))
    magnitude = np.where(octave > 0, normal, subnormal)
    return np.where(codes >> (e + m), -magnitude, magnitude).astype(np.int8)


def minifloat_magnitudes(exponent_bits, mantissa_bits):
    """Every non-negative minifloat level, ascending, int64 (0 first)."""
    e, m = check_minifloat(exponent_bits, mantissa_bits)
    return np.unique(minifloat_decode(np.arange(1 << (e + m)), e, m).astype(np.int64))


def minifloat_encode_int8(values, exponent_bits, mantissa_bits):
    """Codes (uint8) of int8 values that are minifloat levels (the inverse of
    :func:`minifloat_decode`); ``FixedRnnError`` naming the first value that is not a level."""
    e, m = check_minifloat(exponent_bits, mantissa_bits)
    values = as_int_array(values, "values", -127, 127)
    positive = np.arange(1 << (e + m))
    index = np.full(128, -1, np.int64)
    index[minifloat_decode(positive, e, m).astype(np.int64)] = positive
    code = index[np.abs(values)]
    if np.any(code < 0):
        raise FixedRnnError(f"values must be minifloat (e={e}, m={m}) levels, got "
                            f"{int(values[code < 0].ravel()[0])}")
    return (code | ((values < 0).astype(np.int64) << (e + m))).astype(np.uint8)


def nearest_level(w, scale, magnitudes, axis=None):
    """int8 values ``sign(w) · L`` with L the level of ``magnitudes`` (non-negative int8 levels,
    ascending, 0 first) nearest to ``|w| / scale`` in absolute difference; a tie goes to the larger
    magnitude, and beyond the largest level it saturates there."""
    w = _finite_floats(w, "w")
    scale = check_scale(scale)
    mag = np.abs(w) / _expand(scale, w, axis)
    levels = np.asarray(magnitudes, np.float64)
    level = levels[np.searchsorted((levels[:-1] + levels[1:]) / 2.0, mag, side="right")]
    return (np.where(w < 0, -level, level)).astype(np.int8)


def quantize_minifloat(w, scale, exponent_bits, mantissa_bits, axis=None):
    """int8 minifloat levels of ``w`` at int8 ``scale``: :func:`nearest_level` of every level."""
    return nearest_level(w, scale, minifloat_magnitudes(exponent_bits, mantissa_bits), axis)


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
    candidate nearest to it in absolute difference; a tie goes to the larger magnitude
    (:func:`nearest_level`). So |w| ≥ 64·scale saturates to the top level, and
    |w| < 2**(7−levels)·scale / 2 gives 0.
    """
    levels = _check_levels(levels)
    magnitudes = [0] + [1 << (7 - m) for m in range(levels, 0, -1)]
    return pot_encode_int8(nearest_level(w, scale, magnitudes, axis))


def check_pot_codes(codes, name="codes"):
    """Codes as int64; ``FixedRnnError`` if any is outside 0..15 or is 8 (negative zero)."""
    return check_minifloat_codes(codes, POT_EXPONENT_BITS, POT_MANTISSA_BITS, name)


def pot_decode(codes):
    """int8 values of power-of-two codes: 0, or ±2**(7 − m) (:func:`minifloat_decode`, e = 3, m = 0)."""
    return minifloat_decode(codes, POT_EXPONENT_BITS, POT_MANTISSA_BITS)


def pot_encode_int8(values):
    """Codes of int8 values that are 0 or ±2**e for e in 0..6 (the inverse of :func:`pot_decode`)."""
    values = as_int_array(values, "values", -64, 64)
    mag = np.abs(values)
    is_pot = (mag == 0) | ((mag & (mag - 1)) == 0)
    if not np.all(is_pot):
        raise FixedRnnError(f"values must be 0 or ±2**e (e in 0..6), got {int(values[~is_pot].ravel()[0])}")
    return minifloat_encode_int8(values, POT_EXPONENT_BITS, POT_MANTISSA_BITS)


def fake_quant_pot(w, scale, levels=POT_MAX_LEVELS, axis=None):
    """Float form of :func:`quantize_pot`: the chosen level's value (float64)."""
    scale = check_scale(scale)
    w = _finite_floats(w, "w")
    q = pot_decode(quantize_pot(w, scale, levels, axis)).astype(np.float64)
    return q * _expand(scale, w, axis)


# --- packed codes -----------------------------------------------------------------------------


def _check_code_bits(bits):
    if bits not in PACKED_CODE_BITS:
        raise FixedRnnError(f"code bits must be one of {PACKED_CODE_BITS}, got {bits!r}")
    return int(bits)


def pack_codes(codes, bits):
    """Pack ``bits``-bit codes (2 or 4; int values 0..2**bits − 1) 8 / bits per byte, flattened
    row-major, element i at bits ``bits · (i mod 8/bits)`` (module doc) → uint8."""
    bits = _check_code_bits(bits)
    per = 8 // bits
    flat = as_int_array(codes, "codes", 0, (1 << bits) - 1).ravel()
    flat = np.concatenate([flat, np.zeros(-flat.size % per, np.int64)]).reshape(-1, per)
    return np.bitwise_or.reduce(flat << (bits * np.arange(per)), axis=1).astype(np.uint8)


def unpack_codes(packed, count, bits):
    """The first ``count`` codes (int64, flat) of :func:`pack_codes` bytes; ``FixedRnnError`` if
    the size is not ceil(count · bits / 8) or a padding bit after the last code is set."""
    bits = _check_code_bits(bits)
    per = 8 // bits
    packed = as_int_array(packed, "packed", 0, 255).ravel()
    if not isinstance(count, (int, np.integer)) or count < 0:
        raise FixedRnnError(f"count must be a non-negative integer, got {count!r}")
    need = -(-int(count) // per)
    if packed.size != need:
        raise FixedRnnError(f"packed has {packed.size} bytes; {count} codes need {need}")
    codes = ((packed[:, None] >> (bits * np.arange(per))) & ((1 << bits) - 1)).ravel()
    if np.any(codes[count:]):
        raise FixedRnnError("packed has a non-zero padding " + ("nibble" if bits == 4 else "code")
                            + " after the last code")
    return codes[:count]


def pot_pack(codes):
    """Pack codes two per byte (flattened row-major; element 2i low nibble, 2i+1 high) → uint8."""
    return pack_codes(check_pot_codes(codes), 4)


def pot_unpack(packed, count):
    """The first ``count`` codes of a packed uint8 array (uint8, flat); validates every code."""
    codes = unpack_codes(packed, count, 4)
    check_pot_codes(codes, "packed")
    return codes.astype(np.uint8)
