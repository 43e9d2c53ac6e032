"""REQUANTIZE: TFLM's output stage, an exact int32 accumulator → a clamped int8 / int16 value.

``y = clamp(zero_point + MBQM(acc, multiplier[c], shift[c]), lo, hi)`` with MBQM TFLite's
``MultiplyByQuantizedMultiplier`` (:func:`fixedrnn.fixedpoint.multiply_by_quantized_multiplier_nb`:
round to nearest at 2**31 with ties toward +infinity, then half away from zero at 2**−shift) and
``c`` the output channel (last axis). ``acc`` must be int32 and ``acc · 2**max(shift, 0)`` must fit
int32 (C would overflow): otherwise ``FixedRnnError`` (:func:`fixedrnn.overflow.check_requantize_input`).
C: ``frnn_mbqm`` then ``frnn_clamp``.
"""

from typing import NamedTuple

import numba
import numpy as np

from fixedrnn.fixedpoint import (clamp_nb, multiply_by_quantized_multiplier, rounding_divide_by_pot_nb,
                                 saturating_rounding_doubling_high_mul_nb)
from fixedrnn.ops import status as st
from fixedrnn.overflow import check_requantize_input


class RequantizeParams(NamedTuple):
    """``multiplier`` int64 ``[C]`` in [0, 2**31), ``shift`` int64 ``[C]`` in [−31, 31] (one per
    output channel; a per-tensor value repeated), output ``zero_point``, clamp range ``[lo, hi]``."""

    multiplier: np.ndarray
    shift: np.ndarray
    zero_point: int
    lo: int
    hi: int


def frozen(values, dtype):
    """A read-only C-contiguous copy of ``values`` as ``dtype`` (the arrays of prepared params)."""
    arr = np.array(values, dtype=dtype, order="C")
    arr.flags.writeable = False
    return arr


def prepare(multiplier, shift, zero_point, lo, hi, channels):
    """:class:`RequantizeParams` with per-tensor or per-channel ``multiplier``/``shift`` spread to
    ``channels`` entries."""
    m = np.broadcast_to(np.asarray(multiplier, np.int64).reshape(-1), (channels,))
    s = np.broadcast_to(np.asarray(shift, np.int64).reshape(-1), (channels,))
    return RequantizeParams(frozen(m, np.int64), frozen(s, np.int64), int(zero_point), int(lo), int(hi))


def reference(params, acc, name="requantization"):
    """``clamp(zero_point + MBQM(acc, m[c], s[c]), lo, hi)`` of int32 ``acc [..., C]`` (int64 result;
    ``params`` any record with the fields of :class:`RequantizeParams`, scalars broadcast).
    ``FixedRnnError`` naming ``name`` if ``acc · 2**max(shift, 0)`` leaves int32."""
    acc = np.asarray(acc, np.int64)
    check_requantize_input(acc, params.shift, name)
    scaled = multiply_by_quantized_multiplier(acc, params.multiplier, params.shift).astype(np.int64)
    return np.clip(scaled + int(params.zero_point), params.lo, params.hi)


@numba.njit(cache=True, inline="always")
def input_overflows_nb(acc, shift):
    """Whether MBQM's ``acc · 2**shift`` (positive shifts only) leaves int32."""
    return shift > 0 and st.out_of_int32_nb(np.int64(acc) << shift)


@numba.njit(cache=True, inline="always")
def mbqm_unchecked_nb(acc, multiplier, shift):
    """MBQM (:func:`fixedrnn.fixedpoint.multiply_by_quantized_multiplier_nb`) for a caller that has
    ruled out its overflow (:func:`input_overflows_nb`, or a shift <= 0): its two rounding steps
    without the range check, branch-free enough for LLVM to vectorise a loop of it."""
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    return rounding_divide_by_pot_nb(saturating_rounding_doubling_high_mul_nb(np.int64(acc) << left, multiplier),
                                     right)


@numba.njit(cache=True, inline="always")
def requantize_nb(acc, multiplier, shift, zero_point, lo, hi):
    """One value: ``clamp(zero_point + MBQM(acc, multiplier, shift), lo, hi)`` (the caller has
    checked :func:`input_overflows_nb`)."""
    return clamp_nb(mbqm_unchecked_nb(acc, multiplier, shift) + zero_point, lo, hi)


@numba.njit(cache=True)
def _requantize_rows(p, acc, out, status):
    rows, channels = acc.shape
    for i in range(rows):
        for c in range(channels):
            if input_overflows_nb(acc[i, c], p.shift[c]):
                st.flag_nb(status, st.STATUS_REQUANTIZE, 0, acc[i, c], 0)
                return
            out[i, c] = requantize_nb(acc[i, c], p.multiplier[c], p.shift[c], p.zero_point, p.lo, p.hi)


def run_numba(params, acc, name="requantization"):
    """:func:`reference` by :func:`requantize_nb` (``acc`` int32 ``[..., C]``, int64 result)."""
    acc = np.asarray(acc, np.int64)
    flat = np.ascontiguousarray(acc.reshape(-1, params.multiplier.shape[0]))
    out = np.empty_like(flat)
    status = st.new_status()
    _requantize_rows(params, flat, out, status)
    st.raise_on_status(status, (name,))
    return out.reshape(acc.shape)
