"""Integer FULLY_CONNECTED and ADD as TFLM computes them, batched; NumPy reference and numba twins.

Conventions: activations int8 (or int16 for LSTM gate pre-activations) with a batch axis first;
weights int8 ``[out, in]``, zero point 0; accumulators int32 (computed exactly in int64, then
wrapped to int32 as the C ``int32_t`` accumulator would be — never reached by converted models);
requantization TFLite's ``MultiplyByQuantizedMultiplier`` (double rounding) with per-tensor or
per-channel multiplier/shift, then ``+ zero point`` and saturation.

Three ways to form the accumulator, all equal bit for bit:
- :func:`fc_accumulate` — int64 NumPy matrix product (the reference);
- :func:`fc_accumulate_exact_float` — float64 BLAS product: every partial sum is an integer below
  2**53, so it is exact (the fast batch path);
- :func:`fc_accumulate_pot_shift` / :func:`pot_shift_accumulate_nb` — power-of-two weights, shifts
  and adds only: ``acc += ±((x − z) << (7 − m))`` for code m ≠ 0.
"""

import numba
import numpy as np

from fixedrnn.fixedpoint import (multiply_by_quantized_multiplier,
                                 multiply_by_quantized_multiplier_nb)

ADD_LEFT_SHIFT = 20


def wrap_int32(acc):
    """int64 → the int32 two's-complement value (as an int64 array)."""
    return ((np.asarray(acc, np.int64) + 2**31) & 0xFFFFFFFF) - 2**31


def fc_accumulate(x, weight, input_zero_point, bias=None):
    """``bias + (x − z) · Wᵀ``: int8 ``x [B, in]``, int8 ``weight [out, in]`` → int64 ``[B, out]``."""
    acc = (np.asarray(x, np.int64) - int(input_zero_point)) @ np.asarray(weight, np.int64).T
    if bias is not None:
        acc = acc + np.asarray(bias, np.int64)
    return wrap_int32(acc)


def fc_accumulate_exact_float(x, weight_t_f64, input_zero_point, bias=None):
    """As :func:`fc_accumulate` with ``weight_t_f64 = weight.T`` as float64 (exact BLAS product)."""
    xs = np.asarray(x, np.float64) - float(input_zero_point)
    acc = (xs @ weight_t_f64).astype(np.int64)
    if bias is not None:
        acc = acc + np.asarray(bias, np.int64)
    return wrap_int32(acc)


def pot_shift_tables(weight):
    """Power-of-two int8 ``weight [out, in]`` → (left shift 7 − m as int64, sign ±1/0 as int64)."""
    w = np.asarray(weight, np.int64)
    mag = np.abs(w)
    if np.any((mag & (mag - 1)) != 0) or np.any(mag > 64):
        raise ValueError("weight is not a power-of-two weight (0 or ±2**e, e in 0..6)")
    shift = np.where(mag > 0, np.log2(np.maximum(mag, 1)).astype(np.int64), 0)
    return shift, np.sign(w)


def fc_accumulate_pot_shift(x, shift, sign, input_zero_point, bias=None):
    """Shift-only accumulation: ``Σ_j sign[o, j] · ((x[b, j] − z) << shift[o, j])`` (NumPy)."""
    xs = np.asarray(x, np.int64) - int(input_zero_point)
    terms = np.left_shift(xs[:, None, :], shift[None, :, :])
    acc = np.where(sign[None] > 0, terms, np.where(sign[None] < 0, -terms, 0)).sum(axis=-1)
    if bias is not None:
        acc = acc + np.asarray(bias, np.int64)
    return wrap_int32(acc)


def requantize(acc, multiplier, shift, zero_point, lo, hi):
    """``clamp(zero_point + MBQM(acc, multiplier, shift), lo, hi)``; per-channel multiplier/shift
    broadcast along the last axis. int64 result."""
    scaled = multiply_by_quantized_multiplier(acc, multiplier, shift).astype(np.int64)
    return np.clip(scaled + int(zero_point), lo, hi)


def fully_connected(x, fc, input_zero_point):
    """TFLM int8 FULLY_CONNECTED of ``x [B, in]`` with a :class:`fixedrnn.model.FullyConnected`."""
    acc = fc_accumulate(x, fc.weight, input_zero_point, fc.bias)
    return requantize(acc, fc.multiplier, fc.shift, fc.output_zero_point, -128, 127).astype(np.int8)


def add_int8(a, a_zero_point, b, b_zero_point, add):
    """TFLM int8 ADD (left shift 20) with :class:`fixedrnn.model.AddParams` → int8."""
    ua = multiply_by_quantized_multiplier((np.asarray(a, np.int64) - a_zero_point) << ADD_LEFT_SHIFT,
                                          add.input1_multiplier, add.input1_shift).astype(np.int64)
    ub = multiply_by_quantized_multiplier((np.asarray(b, np.int64) - b_zero_point) << ADD_LEFT_SHIFT,
                                          add.input2_multiplier, add.input2_shift).astype(np.int64)
    out = multiply_by_quantized_multiplier(wrap_int32(ua + ub), add.output_multiplier,
                                           add.output_shift).astype(np.int64)
    return np.clip(out + add.output_zero_point, -128, 127).astype(np.int8)


# ----------------------------------------------------------------------------------------------
# numba twins


@numba.njit(cache=True)
def wrap_int32_nb(v):
    return ((v + 2147483648) & 0xFFFFFFFF) - 2147483648


@numba.njit(cache=True)
def requantize_nb(acc, multiplier, shift, zero_point, lo, hi, out):
    """``out[b, o] = clamp(zp + MBQM(acc[b, o], m[o or 0], s[o or 0]), lo, hi)`` in place."""
    batch, n = acc.shape
    per_channel = multiplier.shape[0] > 1
    for b in range(batch):
        for o in range(n):
            k = o if per_channel else 0
            v = multiply_by_quantized_multiplier_nb(wrap_int32_nb(acc[b, o]), multiplier[k], shift[k])
            v += zero_point
            out[b, o] = lo if v < lo else (hi if v > hi else v)


@numba.njit(cache=True)
def pot_shift_accumulate_nb(x, zero_point, shift, sign, bias, has_bias, acc):
    """Shift-only MACs: ``acc[b, o] = bias[o] + Σ_j ±((x[b, j] − z) << shift[o, j])``."""
    batch, n_in = x.shape
    n_out = shift.shape[0]
    for b in range(batch):
        for o in range(n_out):
            total = np.int64(bias[o]) if has_bias else np.int64(0)
            for j in range(n_in):
                s = sign[o, j]
                if s != 0:
                    term = (np.int64(x[b, j]) - zero_point) << shift[o, j]
                    if s > 0:
                        total += term
                    else:
                        total -= term
            acc[b, o] = total


@numba.njit(cache=True)
def add_int8_nb(a, za, r, zr, m1, s1, m2, s2, mo, so, zo, out):
    """TFLM int8 ADD over ``[B, n]`` arrays in place (left shift 20)."""
    batch, n = a.shape
    for b in range(batch):
        for i in range(n):
            u1 = multiply_by_quantized_multiplier_nb((np.int64(a[b, i]) - za) << 20, m1, s1)
            u2 = multiply_by_quantized_multiplier_nb((np.int64(r[b, i]) - zr) << 20, m2, s2)
            v = multiply_by_quantized_multiplier_nb(wrap_int32_nb(u1 + u2), mo, so) + zo
            out[b, i] = -128 if v < -128 else (127 if v > 127 else v)
