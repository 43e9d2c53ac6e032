"""FULLY_CONNECTED, TFLM's integer form: int8 ``x`` → int8 or int16, per-tensor or per-channel.

Definition (int64, exact): ``acc[b, o] = bias[o] + Σ_j W[o, j] · (x[b, j] − z_in)`` — TFLM's int32
accumulator, so the products' running sum must fit int32 (checked once per weight matrix at prepare
time, :func:`fixedrnn.overflow.check_product_headroom`) and so must the sum with the bias (checked
per output, :func:`fixedrnn.overflow.check_accumulator`); then ``y = clamp(z_out + MBQM(acc, m[o],
s[o]), lo, hi)`` (:mod:`fixedrnn.ops.requantize`). Shapes: ``x`` int8 ``[B, in]``, ``W`` int8
``[out, in]`` (zero point 0), ``bias`` int32 ``[out]``. ``lo, hi`` = −128, 127 (s8 → s8) or
−32768, 32767 (s8 → s16, the LSTM gates). C: ``frnn_fc_s8_s8`` / ``frnn_fc_s8_s16`` (int8 weights),
``frnn_fc_pot_s8`` / ``frnn_fc_pot_s16`` (power-of-two codes, :mod:`fixedrnn.ops.pot`).

Three ways to form the accumulator, equal bit for bit: :func:`fc_accumulate` (int64 NumPy, the
reference), :func:`fc_accumulate_exact_float` (float64 BLAS: every partial sum is an integer below
2**53, so exact) and the numba row MACs (:func:`accumulate_row_nb`, int8 or PoT weights).
"""

from typing import NamedTuple

import numba
import numpy as np

from fixedrnn.ops import pot, requantize
from fixedrnn.ops import status as st
from fixedrnn.ops.requantize import RequantizeParams, frozen
from fixedrnn.overflow import check_accumulator, check_product_headroom

_NO_TABLE = np.zeros((1, 1), np.int32)
_NO_TABLE.flags.writeable = False


class FullyConnectedParams(NamedTuple):
    """A prepared FULLY_CONNECTED: ``weight`` int32 ``[out, in]`` (the int8 values), the PoT tables
    ``pot_shift``, ``pot_nonzero``, ``pot_negative`` int32 ``[out, in]`` (``[1, 1]`` placeholders for
    an int8 model, :func:`fixedrnn.ops.pot.shift_masks`), ``bias`` int64 ``[out]`` (zeros when the
    layer has none), ``input_zero_point`` and the output stage ``requantize`` (per output row)."""

    weight: np.ndarray
    pot_shift: np.ndarray
    pot_nonzero: np.ndarray
    pot_negative: np.ndarray
    bias: np.ndarray
    input_zero_point: int
    requantize: RequantizeParams


def prepare(weight, bias, multiplier, shift, input_zero_point, output_zero_point, lo, hi, name,
            pot_weights=False):
    """:class:`FullyConnectedParams` from the stored integers (``weight`` int8 ``[out, in]``, ``bias``
    int32 ``[out]`` or None, multiplier/shift per tensor or per row). Checks the product headroom
    (``FixedRnnError`` naming ``name``); ``pot_weights``: also build the shift tables."""
    weight = np.asarray(weight)
    check_product_headroom(weight, name)
    out = weight.shape[0]
    tables = pot.shift_masks(weight) if pot_weights else (_NO_TABLE,) * 3
    return FullyConnectedParams(
        weight=frozen(weight, np.int32), pot_shift=frozen(tables[0], np.int32),
        pot_nonzero=frozen(tables[1], np.int32), pot_negative=frozen(tables[2], np.int32),
        bias=frozen(np.zeros(out) if bias is None else bias, np.int64),
        input_zero_point=int(input_zero_point),
        requantize=requantize.prepare(multiplier, shift, output_zero_point, lo, hi, out))


def _add_bias(acc, bias, name):
    if bias is not None:
        acc = acc + np.asarray(bias, np.int64)
    return check_accumulator(acc, name)


def fc_accumulate(x, weight, input_zero_point, bias=None, name="fully_connected"):
    """``bias + (x − z) · Wᵀ``: int8 ``x [B, in]``, int8 ``weight [out, in]`` → int64 ``[B, out]``
    (exact; raises if it leaves int32)."""
    acc = (np.asarray(x, np.int64) - int(input_zero_point)) @ np.asarray(weight, np.int64).T
    return _add_bias(acc, bias, name)


def fc_accumulate_exact_float(x, weight_t_f64, input_zero_point, bias=None, name="fully_connected"):
    """As :func:`fc_accumulate` with ``weight_t_f64 = weight.T`` as float64 (exact BLAS product)."""
    xs = np.asarray(x, np.float64) - float(input_zero_point)
    return _add_bias((xs @ weight_t_f64).astype(np.int64), bias, name)


def fc_accumulate_pot_shift(x, shift, sign, input_zero_point, bias=None, name="fully_connected"):
    """As :func:`fc_accumulate` for power-of-two weights given as (shift, sign) tables
    (:func:`fixedrnn.ops.pot.pot_shift_tables`), by shifts only: ``Σ_j sign[o, j] · ((x[b, j] − z)
    << shift[o, j])``."""
    xs = np.asarray(x, np.int64) - int(input_zero_point)
    terms = np.left_shift(xs[:, None, :], shift[None, :, :])
    acc = np.where(sign[None] > 0, terms, np.where(sign[None] < 0, -terms, 0)).sum(axis=-1)
    return _add_bias(acc, bias, name)


def reference(params, x, name="fully_connected"):
    """The definition: int8 ``x [B, in]`` → int64 ``[B, out]`` in ``[lo, hi]`` (exact int64 NumPy)."""
    acc = fc_accumulate(x, params.weight, params.input_zero_point, params.bias, name)
    return requantize.reference(params.requantize, acc, name)


@numba.njit(cache=True, inline="always")
def accumulate_row_nb(fc, shift_mode, r, xs, acc):
    """``acc[b] += Σ_j W[r, j] · xs[j, b]`` for every b (``xs`` int32 ``[in, B]``: inputs minus the
    zero point; batch innermost: a SIMD loop); ``shift_mode``: by the PoT tables."""
    if shift_mode:
        pot.accumulate_row_nb(fc.pot_shift, fc.pot_nonzero, fc.pot_negative, r, xs, acc)
        return
    batch = acc.shape[0]
    for j in range(xs.shape[0]):
        wj = fc.weight[r, j]
        if wj != 0:
            for b in range(batch):
                acc[b] += wj * xs[j, b]


@numba.njit(cache=True, inline="always")
def output_nb(fc, r, acc, status, tensor, step):
    """Row ``r``'s output of the int32 sum of products ``acc``: ``bias[r] + acc`` requantized. On an
    overflow (accumulator or requantization input) records it in ``status`` and returns 0."""
    v = np.int64(acc) + fc.bias[r]
    q = fc.requantize
    if st.out_of_int32_nb(v):
        st.flag_nb(status, st.STATUS_ACCUMULATOR, tensor, v, step)
        return 0
    if requantize.input_overflows_nb(v, q.shift[r]):
        st.flag_nb(status, st.STATUS_REQUANTIZE, tensor, v, step)
        return 0
    return requantize.requantize_nb(v, q.multiplier[r], q.shift[r], q.zero_point, q.lo, q.hi)


@numba.njit(cache=True)
def _fully_connected_batch(fc, shift_mode, x, out, status):
    batch, n_in = x.shape
    xs = np.empty((n_in, batch), np.int32)
    for j in range(n_in):
        for b in range(batch):
            xs[j, b] = np.int32(x[b, j]) - fc.input_zero_point
    acc = np.empty(batch, np.int32)
    for r in range(fc.bias.shape[0]):
        acc[:] = 0
        accumulate_row_nb(fc, shift_mode, r, xs, acc)
        for b in range(batch):
            out[b, r] = output_nb(fc, r, acc[b], status, 0, 0)
        if status[0] != st.STATUS_OK:
            return


def _run(params, x, shift_mode, name):
    x = np.ascontiguousarray(x, np.int8)
    out = np.empty((x.shape[0], params.bias.shape[0]), np.int64)
    status = st.new_status()
    _fully_connected_batch(params, shift_mode, x, out, status)
    st.raise_on_status(status, (name,))
    return out


def run_numba(params, x, name="fully_connected"):
    """:func:`reference` by the numba row MAC on int8 weights."""
    return _run(params, x, False, name)


def run_numba_pot(params, x, name="fully_connected"):
    """:func:`reference` by the numba shift-only row MAC (``params`` prepared with PoT tables)."""
    return _run(params, x, True, name)
