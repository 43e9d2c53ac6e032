"""Element-wise ops of TFLM: ADD int8, saturating ADD int16, MUL int16 · int16 → int16 / int8.

- ADD s8 (TFLM ``AddFunc``, left shift 20): ``u_k = MBQM((v_k − z_k) · 2**20, m_k, s_k)`` per input,
  ``y = clamp(z_out + MBQM(u_1 + u_2, m_out, s_out), −128, 127)``. The model file holds every ADD
  shift ≤ 0, so ``|u| < 255 · 2**20`` and the int32 sum ``u_1 + u_2`` cannot overflow. C:
  ``frnn_add_s8``.
- ADD s16 saturating (the LSTM's ``AddElementWise``): ``clamp(a + b, −32768, 32767)``. C:
  ``frnn_add_s16_sat``.
- MUL (TFLM ``MulElementwise``, input zero points 0): ``clamp(z_out + MBQM(a · b, m, s), lo, hi)``
  with the product exact in int32 (|a · b| ≤ 2**30 for int16 inputs); ``a · b · 2**max(s, 0)`` must
  fit int32 (overflow error otherwise). s16 → s16: ``[lo, hi] = [−32768, 32767]``, C
  ``frnn_mul_s16_s16``; s16 → s8: ``[−128, 127]``, C ``frnn_mul_s16_s8``.
MBQM is :func:`fixedrnn.fixedpoint.multiply_by_quantized_multiplier_nb` (ties toward +infinity at
2**31, then half away from zero).
"""

from typing import NamedTuple

import numba
import numpy as np

from fixedrnn.fixedpoint import INT16_MAX, INT16_MIN, clamp_nb, multiply_by_quantized_multiplier
from fixedrnn.ops import requantize
from fixedrnn.ops import status as st
from fixedrnn.ops.requantize import mbqm_unchecked_nb as mbqm_nb

ADD_LEFT_SHIFT = 20


class AddS8Params(NamedTuple):
    """TFLM int8 ADD: per input and for the output, its zero point and (multiplier, shift), every
    shift ≤ 0."""

    input1_zero_point: int
    input1_multiplier: int
    input1_shift: int
    input2_zero_point: int
    input2_multiplier: int
    input2_shift: int
    output_zero_point: int
    output_multiplier: int
    output_shift: int


class MulParams(NamedTuple):
    """TFLM int16 MUL's output stage: ``multiplier``, ``shift``, output ``zero_point``, clamp ``[lo,
    hi]`` (the fields of :class:`fixedrnn.ops.requantize.RequantizeParams`, as scalars)."""

    multiplier: int
    shift: int
    zero_point: int
    lo: int
    hi: int


def prepare_add_s8(add, input1_zero_point, input2_zero_point):
    """:class:`AddS8Params` of a :class:`fixedrnn.model.AddParams` and the inputs' zero points."""
    return AddS8Params(int(input1_zero_point), int(add.input1_multiplier), int(add.input1_shift),
                       int(input2_zero_point), int(add.input2_multiplier), int(add.input2_shift),
                       int(add.output_zero_point), int(add.output_multiplier), int(add.output_shift))


def prepare_mul(mult_shift, zero_point, lo, hi):
    """:class:`MulParams` of a stored ``(multiplier, shift)`` pair."""
    return MulParams(int(mult_shift[0]), int(mult_shift[1]), int(zero_point), int(lo), int(hi))


def rescaled_s8_inputs(params, a, b):
    """TFLM's int8 ADD / SUB input stage: each int8 array (broadcast) less its zero point, shifted
    left by ``ADD_LEFT_SHIFT`` and rescaled by its MBQM → the two int64 arrays that are summed."""
    p = params
    ua = multiply_by_quantized_multiplier((np.asarray(a, np.int64) - p.input1_zero_point) << ADD_LEFT_SHIFT,
                                          p.input1_multiplier, p.input1_shift).astype(np.int64)
    ub = multiply_by_quantized_multiplier((np.asarray(b, np.int64) - p.input2_zero_point) << ADD_LEFT_SHIFT,
                                          p.input2_multiplier, p.input2_shift).astype(np.int64)
    return ua, ub


def requantized_s8_output(params, total):
    """TFLM's int8 ADD / SUB output stage: the int64 sum by the output MBQM, plus the output zero
    point, clamped to int8."""
    out = multiply_by_quantized_multiplier(total, params.output_multiplier, params.output_shift).astype(np.int64)
    return np.clip(out + params.output_zero_point, -128, 127).astype(np.int8)


def add_s8_reference(params, a, b):
    """The definition of int8 ADD on int8 arrays ``a``, ``b`` (broadcast) → int8."""
    ua, ub = rescaled_s8_inputs(params, a, b)
    return requantized_s8_output(params, ua + ub)


@numba.njit(cache=True, inline="always")
def add_s8_nb(p, a, b):
    """One int8 ADD (int64 in and out). Every shift is <= 0, so no MBQM can overflow: unchecked
    (a loop of it vectorises)."""
    ua = mbqm_nb((np.int64(a) - p.input1_zero_point) << ADD_LEFT_SHIFT, p.input1_multiplier, p.input1_shift)
    ub = mbqm_nb((np.int64(b) - p.input2_zero_point) << ADD_LEFT_SHIFT, p.input2_multiplier, p.input2_shift)
    return clamp_nb(mbqm_nb(ua + ub, p.output_multiplier, p.output_shift) + p.output_zero_point, -128, 127)


def add_s16_saturating_reference(params, a, b):
    """The definition of the saturating int16 ADD (``params`` unused: None) → int16."""
    return np.clip(np.asarray(a, np.int64) + np.asarray(b, np.int64), INT16_MIN, INT16_MAX).astype(np.int16)


@numba.njit(cache=True, inline="always")
def add_s16_saturating_nb(a, b):
    """One saturating int16 ADD (int64 in and out)."""
    return clamp_nb(np.int64(a) + np.int64(b), INT16_MIN, INT16_MAX)


def mul_reference(params, a, b, name="mul"):
    """The definition of int16 MUL on int16 arrays (broadcast) → int64 in ``[lo, hi]``;
    ``FixedRnnError`` naming ``name`` if ``a · b · 2**shift`` leaves int32."""
    product = np.asarray(a, np.int64) * np.asarray(b, np.int64)
    return requantize.reference(params, product, name)


@numba.njit(cache=True, inline="always")
def mul_nb(p, a, b, status, tensor, step):
    """One int16 MUL (int64 in and out); on a requantization overflow records it in ``status``
    (tensor index ``tensor``, ``step``) and returns 0."""
    product = np.int64(a) * np.int64(b)
    if requantize.input_overflows_nb(product, p.shift):
        st.flag_nb(status, st.STATUS_REQUANTIZE, tensor, product, step)
        return 0
    return requantize.requantize_nb(product, p.multiplier, p.shift, p.zero_point, p.lo, p.hi)


@numba.njit(cache=True, inline="always")
def muls_nb(p, a, b, out, status, tensor, step):
    """``out[i]`` = the int16 MUL of ``a[i]``, ``b[i]`` for every i, as :func:`mul_nb`; with a
    shift <= 0 no product can overflow (``|a · b| <= 2**30``), so the loop is one SIMD pass. Returns
    whether no overflow happened (else it is recorded in ``status``)."""
    if p.shift > 0:
        bad = False
        for i in range(out.shape[0]):
            bad |= requantize.input_overflows_nb(np.int64(a[i]) * np.int64(b[i]), p.shift)
        if bad:
            for i in range(out.shape[0]):
                out[i] = mul_nb(p, a[i], b[i], status, tensor, step)
            return False
    for i in range(out.shape[0]):
        out[i] = requantize.requantize_nb(np.int64(a[i]) * np.int64(b[i]), p.multiplier, p.shift,
                                          p.zero_point, p.lo, p.hi)
    return True


@numba.njit(cache=True)
def _add_s8_flat(p, a, b, out):
    for i in range(out.size):
        out[i] = add_s8_nb(p, a[i], b[i])


@numba.njit(cache=True)
def _add_s16_flat(a, b, out):
    for i in range(out.size):
        out[i] = add_s16_saturating_nb(a[i], b[i])


@numba.njit(cache=True)
def _mul_flat(p, a, b, out, status):
    for i in range(out.size):
        out[i] = mul_nb(p, a[i], b[i], status, 0, 0)


def _flat_pair(a, b):
    a, b = np.broadcast_arrays(np.asarray(a, np.int64), np.asarray(b, np.int64))
    return np.ascontiguousarray(a).reshape(-1), np.ascontiguousarray(b).reshape(-1), a.shape


def add_s8_numba(params, a, b):
    """:func:`add_s8_reference` by :func:`add_s8_nb`."""
    fa, fb, shape = _flat_pair(a, b)
    out = np.empty(fa.size, np.int64)
    _add_s8_flat(params, fa, fb, out)
    return out.reshape(shape).astype(np.int8)


def add_s16_saturating_numba(params, a, b):
    """:func:`add_s16_saturating_reference` by :func:`add_s16_saturating_nb`."""
    fa, fb, shape = _flat_pair(a, b)
    out = np.empty(fa.size, np.int64)
    _add_s16_flat(fa, fb, out)
    return out.reshape(shape).astype(np.int16)


def mul_numba(params, a, b, name="mul"):
    """:func:`mul_reference` by :func:`mul_nb`."""
    fa, fb, shape = _flat_pair(a, b)
    out = np.empty(fa.size, np.int64)
    status = st.new_status()
    _mul_flat(params, fa, fb, out, status)
    st.raise_on_status(status, (name,))
    return out.reshape(shape)
