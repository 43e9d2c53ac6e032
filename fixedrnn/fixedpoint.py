"""Integer primitives of TensorFlow Lite's (and gemmlowp's) fixed-point arithmetic.

Each rounding rule is written once, as a numba scalar function on int64 (the ``*_nb`` functions:
``@numba.njit``, callable from numba kernels and from Python with ints). The NumPy functions of the
same names without ``_nb`` are their array forms (``numba.vectorize`` of the scalar rule, compiled on
first use for the int64 arrays they are given, so a run compiles only the forms it calls): they take
Python ints or NumPy integer arrays (broadcasting like NumPy), check every argument and either return
the exact result or raise :class:`fixedrnn.errors.FixedRnnError` naming the argument that is out of
range: nothing wraps silently. Results are int32 arrays (int64 for :func:`shift_round`), or a NumPy
scalar when all inputs are scalars.
"""

import math

import numba
import numpy as np

from fixedrnn.errors import FixedRnnError

INT8_MIN, INT8_MAX = -128, 127
INT16_MIN, INT16_MAX = -32768, 32767
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

_RANGES = {
    np.dtype(np.int8): (INT8_MIN, INT8_MAX),
    np.dtype(np.int16): (INT16_MIN, INT16_MAX),
    np.dtype(np.int32): (INT32_MIN, INT32_MAX),
}


def as_int_array(x, name, lo=None, hi=None):
    """``x`` as an int64 array; ``FixedRnnError`` naming ``name`` if it is not integer or out of [lo, hi]."""
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise FixedRnnError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.dtype == np.uint64 and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
        raise FixedRnnError(f"{name} has values beyond the int64 range")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and lo is not None and int(arr.min()) < lo:
        raise FixedRnnError(f"{name} must be >= {lo}, got {int(arr.min())}")
    if arr.size and hi is not None and int(arr.max()) > hi:
        raise FixedRnnError(f"{name} must be <= {hi}, got {int(arr.max())}")
    return arr


def _result(arr, dtype):
    out = arr.astype(dtype)
    return out[()] if out.ndim == 0 else out


def quantize_multiplier(real):
    """TFLite's ``QuantizeMultiplier``: a positive real as ``(multiplier, shift)``.

    ``real ≈ multiplier · 2**(shift − 31)`` with ``multiplier`` an int32 in [2**30, 2**31). Rule:
    ``q, shift = frexp(real)`` (q in [0.5, 1)), ``multiplier = round(q · 2**31)`` rounding half away
    from zero; if that reaches 2**31 it becomes 2**30 and ``shift`` grows by one. Edge cases as
    TFLite: ``real == 0`` gives ``(0, 0)``; a real below 2**−32 (``shift < −31``) gives ``(0, 0)``
    since every product would shift out to zero. The relative error is at most 2**−31 otherwise.
    ``real`` must be finite and ``>= 0``.
    """
    try:
        value = float(real)
    except (TypeError, ValueError):
        raise FixedRnnError(f"real must be a number, got {real!r}") from None
    if math.isnan(value) or math.isinf(value):
        raise FixedRnnError(f"real must be finite, got {value}")
    if value < 0:
        raise FixedRnnError(f"real must be >= 0, got {value}")
    if value == 0.0:
        return 0, 0
    q, shift = math.frexp(value)
    scaled = q * 2.0**31  # exact: a power-of-two scaling of a double
    q_fixed = math.floor(scaled + 0.5)  # half away from zero (scaled > 0); exact below 2**31
    if q_fixed == 2**31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(q_fixed), int(shift)


# ---------------------------------------------------------------------------------------------
# The rules: numba scalar functions on int64


@numba.njit(cache=True, inline="always")
def clamp_nb(x, lo, hi):
    """min(max(x, lo), hi)."""
    return lo if x < lo else (hi if x > hi else x)


@numba.njit(cache=True, inline="always")
def saturating_rounding_doubling_high_mul_nb(a, b):
    """gemmlowp's ``SaturatingRoundingDoublingHighMul`` of two int32: ``floor(a·b / 2**31 + 1/2)``.

    Computed as gemmlowp does: the int64 product plus 2**30 (or 1 − 2**30 if the product is
    negative), divided by 2**31 truncating toward zero. That is round to nearest with ties toward
    +infinity (−0.5 → 0, 0.5 → 1; not half away from zero). The single overflow case
    ``a == b == −2**31`` saturates to 2**31 − 1.
    """
    if a == INT32_MIN and b == INT32_MIN:
        return np.int64(INT32_MAX)
    ab = np.int64(a) * np.int64(b)
    total = ab + ((1 << 30) if ab >= 0 else (1 - (1 << 30)))
    if total >= 0:
        return total >> 31
    return -((-total) >> 31)  # C division: toward zero


@numba.njit(cache=True, inline="always")
def rounding_divide_by_pot_nb(x, exponent):
    """gemmlowp's ``RoundingDivideByPOT``: ``x / 2**exponent`` rounded half away from zero.

    ``x`` int32, ``exponent`` in [0, 31]. Computed as ``(x >> e) + (remainder > threshold)`` with
    ``remainder = x & (2**e − 1)`` and ``threshold = (2**e − 1) >> 1`` plus one when ``x < 0``.
    """
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


@numba.njit(cache=True, inline="always")
def multiply_by_quantized_multiplier_nb(x, multiplier, shift):
    """TFLite's reference ``MultiplyByQuantizedMultiplier`` (double rounding), the one TFLM uses.

    ``x`` int32; ``multiplier`` in [0, 2**31); ``shift`` in [−31, 31]. Result:
    ``rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x · 2**max(shift, 0),
    multiplier), max(−shift, 0))`` — first round to nearest at 2**31 (ties toward +infinity), then
    round half away from zero at 2**−shift. ``x · 2**shift`` must fit int32 (C would overflow);
    otherwise ``FixedRnnError``.
    """
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    shifted = np.int64(x) << left
    if shifted < INT32_MIN or shifted > INT32_MAX:
        raise FixedRnnError("x * 2**shift overflows int32 in multiply_by_quantized_multiplier")
    return rounding_divide_by_pot_nb(saturating_rounding_doubling_high_mul_nb(shifted, multiplier), right)


@numba.njit(cache=True, inline="always")
def shift_round_nb(x, shift):
    """Requantize by a power of two, as a firmware does it in one or two instructions.

    ``shift >= 0``: ``x · 2**shift`` (exact). ``shift < 0``: ``(x + 2**(−shift−1)) >> −shift``,
    an add and an arithmetic right shift: round half toward +infinity (−2.5 → −2, 2.5 → 3).
    """
    if shift >= 0:
        return np.int64(x) << shift
    return (np.int64(x) + (np.int64(1) << (-shift - 1))) >> (-shift)


@numba.vectorize(cache=True)
def _srdhm_array(a, b):
    return saturating_rounding_doubling_high_mul_nb(a, b)


@numba.vectorize(cache=True)
def _rounding_divide_by_pot_array(x, exponent):
    return rounding_divide_by_pot_nb(x, exponent)


@numba.vectorize(cache=True)
def _mbqm_array(x, multiplier, shift):
    return multiply_by_quantized_multiplier_nb(x, multiplier, shift)


@numba.vectorize(cache=True)
def _shift_round_array(x, shift):
    return shift_round_nb(x, shift)


# ---------------------------------------------------------------------------------------------
# Array forms (argument checks, then the rule above element by element)


def saturating_rounding_doubling_high_mul(a, b):
    """Array form of :func:`saturating_rounding_doubling_high_mul_nb` (ties toward +infinity);
    ``a``, ``b`` int32. Returns int32."""
    a = as_int_array(a, "a", INT32_MIN, INT32_MAX)
    b = as_int_array(b, "b", INT32_MIN, INT32_MAX)
    return _result(_srdhm_array(a, b), np.int32)


def rounding_divide_by_pot(x, exponent):
    """Array form of :func:`rounding_divide_by_pot_nb` (half away from zero); ``x`` int32,
    ``exponent`` in [0, 31]. Returns int32."""
    x = as_int_array(x, "x", INT32_MIN, INT32_MAX)
    exponent = as_int_array(exponent, "exponent", 0, 31)
    return _result(_rounding_divide_by_pot_array(x, exponent), np.int32)


def multiply_by_quantized_multiplier(x, multiplier, shift):
    """Array form of :func:`multiply_by_quantized_multiplier_nb` (round at 2**31 ties toward
    +infinity, then half away from zero at 2**−shift).

    ``x`` int32; ``multiplier`` in [0, 2**31); ``shift`` in [−31, 31]; arrays broadcast (per-channel
    multipliers). ``x · 2**shift`` must fit int32 (C would overflow); otherwise ``FixedRnnError``.
    Returns int32.
    """
    x = as_int_array(x, "x", INT32_MIN, INT32_MAX)
    multiplier = as_int_array(multiplier, "multiplier", 0, INT32_MAX)
    shift = as_int_array(shift, "shift", -31, 31)
    shifted = x << np.maximum(shift, 0)
    if shifted.size and (shifted.min() < INT32_MIN or shifted.max() > INT32_MAX):
        raise FixedRnnError("x * 2**shift overflows int32 in multiply_by_quantized_multiplier")
    return _result(_mbqm_array(x, multiplier, shift), np.int32)


def shift_round(x, shift):
    """Array form of :func:`shift_round_nb` (ties toward +infinity); ``x`` in the int32 range,
    ``shift`` in [−31, 31]; the result is int64 (exact, never wraps)."""
    x = as_int_array(x, "x", INT32_MIN, INT32_MAX)
    shift = as_int_array(shift, "shift", -31, 31)
    return _result(_shift_round_array(x, shift), np.int64)


def saturate(x, dtype):
    """Clamp integers to the range of ``dtype`` (int8, int16 or int32) and cast to it."""
    dtype = np.dtype(dtype)
    if dtype not in _RANGES:
        raise FixedRnnError(f"dtype must be int8, int16 or int32, got {dtype}")
    lo, hi = _RANGES[dtype]
    x = as_int_array(x, "x")
    return _result(np.clip(x, lo, hi), dtype)


def saturate_int8(x):
    """Clamp to [−128, 127], as int8 (``__SSAT(x, 8)``)."""
    return saturate(x, np.int8)


def saturate_int16(x):
    """Clamp to [−32768, 32767], as int16 (``__SSAT(x, 16)``)."""
    return saturate(x, np.int16)


def saturate_int32(x):
    """Clamp to [−2**31, 2**31 − 1], as int32."""
    return saturate(x, np.int32)
