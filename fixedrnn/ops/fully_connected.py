"""FULLY_CONNECTED, TFLM's integer form: int8 ``x`` → int8 or int16, per-tensor or per-channel.

Definition (int64, exact): ``acc[b, o] = bias[o] + Σ_j W[o, j] · (x[b, j] − z_in)`` — TFLM's int32
accumulator, so the products' running sum must fit int32 (checked once per weight matrix at prepare
time, :func:`fixedrnn.overflow.check_product_headroom`) and so must the sum with the bias (checked
per output, :func:`fixedrnn.overflow.check_accumulator`); then ``y = clamp(z_out + MBQM(acc, m[o],
s[o]), lo, hi)`` (:mod:`fixedrnn.ops.requantize`). Shapes: ``x`` int8 ``[B, in]``, ``W`` int8
``[out, in]`` (zero point 0), ``bias`` int32 ``[out]``. ``lo, hi`` = −128, 127 (s8 → s8) or
−32768, 32767 (s8 → s16, the LSTM gates). C: ``frnn_fc_s8_s8`` / ``frnn_fc_s8_s16`` (int8 weights),
``frnn_fc_pot_s8`` / ``frnn_fc_pot_s16`` (power-of-two codes, :mod:`fixedrnn.ops.pot`).

Four ways to form the accumulator, equal bit for bit: :func:`fc_accumulate` (int64 NumPy, the
reference), :func:`fc_accumulate_sparse` (int64 NumPy over the compressed rows of a sparse model,
:mod:`fixedrnn.sparse`: the same sum with its zero terms left out), :func:`fc_accumulate_exact_float`
(float64 BLAS: every partial sum is an integer below 2**53, so exact) and the numba MAC
:func:`accumulate_nb` (one input vector, every output row at once: float32, int32 or PoT shifts; or
row by row over the nonzeros of a sparse model, int32). C: ``frnn_fc_sparse_s8`` / ``_s16``
(fixedrnn/c/frnn_sparse.h) for sparse storage.

Why float32 is exact where :attr:`FullyConnectedParams.float32_exact` holds: a partial sum of ``Σ_j
W[o, j] · (x[j] − z)``, taken in any order or grouping (SIMD lanes, FMA), is the full sum at another
int8 input (the left-out ``x[j]`` set to ``z``), so it lies within the overflow audit's exact bounds
(:func:`fixedrnn.overflow.check_accumulation`, bias excluded). When those bounds are within ±2**24,
every product and every partial sum is an integer float32 holds exactly, so no rounding ever
happens. Otherwise the kernels use int32 (exact by the product-headroom check).
"""

from typing import NamedTuple

import numba
import numpy as np

from fixedrnn import sparse
from fixedrnn.fixedpoint import INT32_MAX, INT32_MIN
from fixedrnn.ops import pot, requantize
from fixedrnn.ops import status as st
from fixedrnn.ops.requantize import RequantizeParams, frozen
from fixedrnn.overflow import Accumulation, check_accumulation, check_accumulator, check_product_headroom

_NO_TABLE = np.zeros((1, 1), np.int32)
_NO_TABLE.flags.writeable = False


FLOAT32_EXACT_LIMIT = 2**24  # every integer of magnitude <= 2**24 is a float32
MAC_INT32, MAC_FLOAT32, MAC_SHIFT, MAC_SPARSE = 0, 1, 2, 3  # how accumulate_nb forms the sums of products
_NO_SPARSE = (np.zeros(1, np.int32), np.zeros(1, np.int32), np.zeros(2, np.int64))
for _placeholder in _NO_SPARSE:
    _placeholder.flags.writeable = False


class FullyConnectedParams(NamedTuple):
    """A prepared FULLY_CONNECTED: ``weight`` int32 ``[out, in]`` (the int8 values), ``weight_t``
    float32 ``[in, out]`` (the same values transposed: the MAC form of :func:`accumulate_nb`),
    ``float32_exact`` (the audit bounds every partial sum within ±2**24: module doc),
    ``overflow_free`` (the audit bounds ``bias + sum`` and the requantization input within int32 for
    every int8 input, so the kernels skip the run-time checks: :func:`overflow_free`), the PoT tables
    ``pot_shift``, ``pot_nonzero``, ``pot_negative`` int32 ``[in, out]`` (transposed
    :func:`fixedrnn.ops.pot.shift_masks`; ``[1, 1]`` placeholders for an int8 model), ``bias`` int64
    ``[out]`` (zeros when the layer has none), ``input_zero_point`` and the output stage
    ``requantize`` (per output row); ``sparse`` (the model stores compressed rows) with their
    ``sparse_values`` int32 ``[nnz]``, ``sparse_columns`` int32 ``[nnz]`` and ``sparse_row_start``
    int64 ``[out + 1]`` (:class:`fixedrnn.sparse.SparseMatrix`; 1- and 2-element placeholders when
    dense)."""

    weight: np.ndarray
    weight_t: np.ndarray
    float32_exact: bool
    overflow_free: bool
    pot_shift: np.ndarray
    pot_nonzero: np.ndarray
    pot_negative: np.ndarray
    bias: np.ndarray
    input_zero_point: int
    requantize: RequantizeParams
    sparse: bool = False
    sparse_values: np.ndarray = _NO_SPARSE[0]
    sparse_columns: np.ndarray = _NO_SPARSE[1]
    sparse_row_start: np.ndarray = _NO_SPARSE[2]


def _sparse_fields(weight, name):
    """The ``sparse*`` fields of :class:`FullyConnectedParams` for int8 ``weight`` ``[out, in]``."""
    matrix = sparse.from_dense(weight, name)
    return dict(sparse=True, sparse_values=frozen(matrix.values, np.int32),
                sparse_columns=frozen(matrix.columns, np.int32), sparse_row_start=frozen(matrix.row_start, np.int64))


def prepare(weight, bias, multiplier, shift, input_zero_point, output_zero_point, lo, hi, name,
            pot_weights=False, sparse_weights=False):
    """:class:`FullyConnectedParams` from the stored integers (``weight`` int8 ``[out, in]``, ``bias``
    int32 ``[out]`` or None, multiplier/shift per tensor or per row). Checks the product headroom
    (``FixedRnnError`` naming ``name``); ``pot_weights``: also build the shift tables;
    ``sparse_weights``: also the compressed rows (:mod:`fixedrnn.sparse`, its bounds checked)."""
    weight = np.asarray(weight)
    check_product_headroom(weight, name)
    out = weight.shape[0]
    tables = [t.T for t in pot.shift_masks(weight)] if pot_weights else (_NO_TABLE,) * 3
    return FullyConnectedParams(
        weight=frozen(weight, np.int32), weight_t=frozen(weight.T, np.float32),
        float32_exact=float32_exact(weight, input_zero_point, name),
        overflow_free=overflow_free(weight, bias, input_zero_point, shift, name),
        pot_shift=frozen(tables[0], np.int32),
        pot_nonzero=frozen(tables[1], np.int32), pot_negative=frozen(tables[2], np.int32),
        bias=frozen(np.zeros(out) if bias is None else bias, np.int64),
        input_zero_point=int(input_zero_point),
        requantize=requantize.prepare(multiplier, shift, output_zero_point, lo, hi, out),
        **(_sparse_fields(weight, name) if sparse_weights else {}))


def float32_exact(weight, input_zero_point, name="fully_connected"):
    """Whether float32 sums of ``W · (x − z)`` are exact for every int8 ``x`` (module doc): the
    overflow audit's exact bounds of the sum of products (no bias) lie within ±2**24."""
    bounds = check_accumulation(Accumulation(name, np.asarray(weight), None, int(input_zero_point)))
    return bool(max(bounds.high, -bounds.low) <= FLOAT32_EXACT_LIMIT)


def overflow_free(weight, bias, input_zero_point, shift, name="fully_connected"):
    """Whether no int8 input can overflow the FC (the overflow audit's exact bounds of ``bias + Σ W
    · (x − z)``, also times ``2**max(shift, 0)``, lie within int32); the run-time checks can then
    never fire."""
    bounds = check_accumulation(Accumulation(name, np.asarray(weight), bias, int(input_zero_point)))
    left = max(int(np.max(shift)), 0)
    return bool(bounds.ok and bounds.low << left >= INT32_MIN and bounds.high << left <= INT32_MAX)


def stack_rows(fcs):
    """One :class:`FullyConnectedParams` whose rows are those of ``fcs`` in order (blocks of one
    input and output zero point and clamp range, e.g. an LSTM's four gates): one MAC pass over
    every row."""
    first, q = fcs[0], fcs[0].requantize

    def rows(get, axis=0):
        return frozen(np.concatenate([get(fc) for fc in fcs], axis=axis), get(first).dtype)

    tables = [rows(lambda fc, i=i: (fc.pot_shift, fc.pot_nonzero, fc.pot_negative)[i], axis=1)
              for i in range(3)] if first.pot_shift is not _NO_TABLE else (_NO_TABLE,) * 3
    sparse_fields = {}
    if first.sparse:
        offsets = np.cumsum([0] + [fc.sparse_values.size for fc in fcs[:-1]])
        sparse_fields = dict(
            sparse=True, sparse_values=rows(lambda fc: fc.sparse_values),
            sparse_columns=rows(lambda fc: fc.sparse_columns),
            sparse_row_start=frozen(np.concatenate([fcs[0].sparse_row_start[:1]] + [
                fc.sparse_row_start[1:] + off for fc, off in zip(fcs, offsets)]), np.int64))
    return FullyConnectedParams(
        weight=rows(lambda fc: fc.weight), weight_t=rows(lambda fc: fc.weight_t, axis=1),
        float32_exact=all(fc.float32_exact for fc in fcs), overflow_free=all(fc.overflow_free for fc in fcs),
        pot_shift=tables[0], pot_nonzero=tables[1], pot_negative=tables[2], bias=rows(lambda fc: fc.bias),
        input_zero_point=first.input_zero_point,
        requantize=RequantizeParams(rows(lambda fc: fc.requantize.multiplier), rows(lambda fc: fc.requantize.shift),
                                    q.zero_point, q.lo, q.hi), **sparse_fields)


def _add_bias(acc, bias, name):
    if bias is not None:
        acc = acc + np.asarray(bias, np.int64)
    return check_accumulator(acc, name)


def fc_accumulate(x, weight, input_zero_point, bias=None, name="fully_connected"):
    """``bias + (x − z) · Wᵀ``: int8 ``x [B, in]``, int8 ``weight [out, in]`` → int64 ``[B, out]``
    (exact; raises if it leaves int32)."""
    acc = (np.asarray(x, np.int64) - int(input_zero_point)) @ np.asarray(weight, np.int64).T
    return _add_bias(acc, bias, name)


def fc_accumulate_sparse(x, values, columns, row_start, input_zero_point, bias=None, name="fully_connected"):
    """As :func:`fc_accumulate` over compressed rows (:mod:`fixedrnn.sparse`: ``values``, ``columns``
    ``[nnz]``, ``row_start`` ``[out + 1]``): ``acc[b, r] = Σ values[k] · (x[b, columns[k]] − z)`` over
    row r's k (an empty row sums to 0), int64 exact."""
    xs = np.asarray(x, np.int64) - int(input_zero_point)
    terms = xs[:, np.asarray(columns, np.int64)] * np.asarray(values, np.int64)
    running = np.concatenate([np.zeros((xs.shape[0], 1), np.int64), np.cumsum(terms, axis=1)], axis=1)
    row_start = np.asarray(row_start, np.int64)
    return _add_bias(running[:, row_start[1:]] - running[:, row_start[:-1]], bias, name)


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
    """The definition: int8 ``x [B, in]`` → int64 ``[B, out]`` in ``[lo, hi]`` (exact int64 NumPy;
    over the compressed rows for a sparse model: the same integers)."""
    if params.sparse:
        acc = fc_accumulate_sparse(x, params.sparse_values, params.sparse_columns, params.sparse_row_start,
                                   params.input_zero_point, params.bias, name)
    else:
        acc = fc_accumulate(x, params.weight, params.input_zero_point, params.bias, name)
    return requantize.reference(params.requantize, acc, name)


@numba.njit(cache=True, inline="always")
def accumulate_nb(fc, mode, xs, facc, acc):
    """``acc[o] = Σ_j W[o, j] · xs[j]`` for every row o: ``xs`` int32 ``[in]`` (one input vector
    minus the zero point), ``acc`` int32 ``[out]``; the rows are the inner loop (SIMD over o).
    ``mode``: :data:`MAC_FLOAT32` (float32 ``weight_t``, scratch ``facc`` float32 ``[out]``; only
    where ``fc.float32_exact``), :data:`MAC_INT32`, :data:`MAC_SHIFT` (the PoT tables) or
    :data:`MAC_SPARSE` (row by row over the stored nonzeros, int32)."""
    n_out, n_in = acc.shape[0], xs.shape[0]
    w = fc.weight_t
    if mode == MAC_SPARSE:
        values, columns, starts = fc.sparse_values, fc.sparse_columns, fc.sparse_row_start
        for o in range(n_out):
            total = np.int32(0)
            for k in range(starts[o], starts[o + 1]):
                total += values[k] * xs[columns[k]]
            acc[o] = total
        return
    if mode == MAC_FLOAT32:
        facc[:n_out] = 0
        body = n_in - n_in % 4
        for j in range(0, body, 4):  # four columns per pass: a quarter of the loads and stores of facc
            v0, v1, v2, v3 = np.float32(xs[j]), np.float32(xs[j + 1]), np.float32(xs[j + 2]), np.float32(xs[j + 3])
            for o in range(n_out):
                facc[o] += (v0 * w[j, o] + v1 * w[j + 1, o]) + (v2 * w[j + 2, o] + v3 * w[j + 3, o])
        for j in range(body, n_in):
            v = np.float32(xs[j])
            for o in range(n_out):
                facc[o] += v * w[j, o]
        for o in range(n_out):
            acc[o] = np.int32(facc[o])
        return
    acc[:] = 0
    for j in range(n_in):
        if xs[j] != 0:
            if mode == MAC_SHIFT:
                pot.accumulate_nb(fc.pot_shift[j], fc.pot_nonzero[j], fc.pot_negative[j], xs[j], acc)
            else:
                v = np.int32(xs[j])
                for o in range(n_out):
                    acc[o] += v * np.int32(w[j, o])


@numba.njit(cache=True)
def accumulate_rows_f32_nb(xf, w, out):
    """``out[b, o] = Σ_j xf[b, j] · w[j, o]`` for a block of input rows: ``xf`` float32 ``[rows,
    in]`` (integer inputs minus the zero point), ``w`` the float32 ``weight_t`` ``[in, out]`` of an
    :attr:`~FullyConnectedParams.float32_exact` FC, ``out`` float32 ``[rows, out]``. Four input
    rows and two columns per pass (each weight load feeds eight multiply-adds; outputs innermost,
    SIMD), leftover columns and rows one at a time. Exact: every partial sum, in whatever order or
    grouping (FMA included), is a partial sum of one row's ``Σ_j W[o, j] · (x[j] − z)`` (module
    doc)."""
    rows, n_in = xf.shape
    n_out = w.shape[1]
    out[:, :] = 0
    body_rows, body_cols = rows - rows % 4, n_in - n_in % 2
    for b in range(0, body_rows, 4):
        o0, o1, o2, o3 = out[b], out[b + 1], out[b + 2], out[b + 3]
        for j in range(0, body_cols, 2):
            a0, a1, a2, a3 = xf[b, j], xf[b + 1, j], xf[b + 2, j], xf[b + 3, j]
            c0, c1, c2, c3 = xf[b, j + 1], xf[b + 1, j + 1], xf[b + 2, j + 1], xf[b + 3, j + 1]
            for o in range(n_out):
                wa, wc = w[j, o], w[j + 1, o]
                o0[o] += a0 * wa + c0 * wc
                o1[o] += a1 * wa + c1 * wc
                o2[o] += a2 * wa + c2 * wc
                o3[o] += a3 * wa + c3 * wc
        for j in range(body_cols, n_in):
            a0, a1, a2, a3 = xf[b, j], xf[b + 1, j], xf[b + 2, j], xf[b + 3, j]
            wa = w[j]
            for o in range(n_out):
                o0[o] += a0 * wa[o]
                o1[o] += a1 * wa[o]
                o2[o] += a2 * wa[o]
                o3[o] += a3 * wa[o]
    for b in range(body_rows, rows):
        ob = out[b]
        for j in range(n_in):
            a, wa = xf[b, j], w[j]
            for o in range(n_out):
                ob[o] += a * wa[o]


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


@numba.njit(cache=True, inline="always")
def outputs_nb(fc, acc, out, status, tensor, step):
    """Every row's output of the sums of products ``acc`` int32 ``[out]`` into ``out``, as
    :func:`output_nb`; a first check pass (skipped when the audit proves the block
    ``overflow_free``) lets the common case run as SIMD. Returns whether
    no overflow happened (else it is recorded in ``status``)."""
    q = fc.requantize
    bad = False
    if not fc.overflow_free:
        for r in range(acc.shape[0]):
            v = np.int64(acc[r]) + fc.bias[r]
            bad |= st.out_of_int32_nb(v) | st.out_of_int32_nb(v << max(q.shift[r], 0))
    if bad:
        for r in range(acc.shape[0]):
            out[r] = output_nb(fc, r, acc[r], status, tensor, step)
        return False
    for r in range(acc.shape[0]):
        out[r] = requantize.requantize_nb(np.int64(acc[r]) + fc.bias[r], q.multiplier[r], q.shift[r],
                                          q.zero_point, q.lo, q.hi)
    return True


@numba.njit(cache=True)
def _fully_connected_batch(fc, mode, x, out, status):
    batch, n_in = x.shape
    n_out = fc.bias.shape[0]
    xs = np.empty(n_in, np.int32)
    facc = np.empty(n_out, np.float32)
    acc = np.empty(n_out, np.int32)
    for b in range(batch):
        for j in range(n_in):
            xs[j] = np.int32(x[b, j]) - fc.input_zero_point
        accumulate_nb(fc, mode, xs, facc, acc)
        if not outputs_nb(fc, acc, out[b], status, 0, 0):
            return


def mac_mode(fcs, shift_mode):
    """The :func:`accumulate_nb` mode for the blocks ``fcs``: shifts if asked, the compressed rows
    where the blocks are sparse, else float32 where every block is
    :attr:`~FullyConnectedParams.float32_exact`, else int32."""
    if shift_mode:
        return MAC_SHIFT
    if all(fc.sparse for fc in fcs):
        return MAC_SPARSE
    return MAC_FLOAT32 if all(fc.float32_exact for fc in fcs) else MAC_INT32


def _run(params, x, shift_mode, name):
    x = np.ascontiguousarray(x, np.int8)
    out = np.empty((x.shape[0], params.bias.shape[0]), np.int64)
    status = st.new_status()
    _fully_connected_batch(params, mac_mode([params], shift_mode), x, out, status)
    st.raise_on_status(status, (name,))
    return out


def run_numba(params, x, name="fully_connected"):
    """:func:`reference` by the numba MAC on int8 weights (float32 where exact, else int32)."""
    return _run(params, x, False, name)


def run_numba_pot(params, x, name="fully_connected"):
    """:func:`reference` by the numba shift-only MAC (``params`` prepared with PoT tables)."""
    return _run(params, x, True, name)
