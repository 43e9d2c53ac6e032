"""Fused numba kernels of whole sequences, batched: the fast ``"numba"`` and ``"shift"`` backends.

One call runs every step of every utterance of a batch ``[B, T, I]`` as the composition of
:mod:`fixedrnn.rnn` / :mod:`fixedrnn.lstm`, calling the ops' numba functions on the prepared
parameter blocks (the same records the NumPy path uses). Utterances are independent, so the batch is
split into one contiguous chunk per numba thread (``prange``; ``NUMBA_NUM_THREADS`` or
:func:`numba.set_num_threads` sets how many) and each utterance runs alone, its state a vector over
the units: each MAC is one input times a weight column, a SIMD loop over the output rows
(:func:`fixedrnn.ops.fully_connected.accumulate_nb`: float32 where the overflow audit proves it
exact, else int32; ``shift_mode``: the shift-only MAC of :mod:`fixedrnn.ops.pot`). Scratch vectors
are allocated once per chunk; B = 1 is one chunk, no threading.

Overflow: each ``sum + bias`` and requantization input is checked per element
(:func:`fixedrnn.ops.fully_connected.outputs_nb`), each MUL product likewise
(:func:`fixedrnn.ops.elementwise.muls_nb`). An utterance stops at its first overflow and records it
in its chunk's ``status`` row; the chunk stops there. The first chunk with an overflow (so the
first utterance in batch order, whatever the thread count) is reported:
:func:`fixedrnn.ops.status.raise_on_status` turns it into the same ``FixedRnnError`` as the NumPy
path.
"""

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from fixedrnn import lstm, rnn
from fixedrnn.ops import status as st
from fixedrnn.ops.elementwise import add_s8_nb, add_s16_saturating_nb, muls_nb
from fixedrnn.ops import fully_connected, lut_s16, tanh_s8
from fixedrnn.ops.table import lookup_nb

LUT_S16_OFFSET, TANH_S8_OFFSET = lut_s16.TABLE_OFFSET, tanh_s8.TABLE_OFFSET


@numba.njit(cache=True, inline="always")
def _load_step(x, t, zero_point, xs):
    """``xs[j] = x[t, j] − zero_point`` (int32)."""
    for j in range(xs.shape[0]):
        xs[j] = np.int32(x[t, j]) - zero_point


@numba.njit(cache=True, inline="always")
def _fc_outputs(fc, mode, xs, facc, acc, out, status, tensor, step):
    """``out`` = the FC ``fc`` of ``xs`` requantized (whether no overflow happened)."""
    fully_connected.accumulate_nb(fc, mode, xs, facc, acc)
    return fully_connected.outputs_nb(fc, acc, out, status, tensor, step)


@numba.njit(cache=True)
def _lstm_one(x, mode, fx, fh, p, scratch, h_out, status):
    """One utterance ``x`` int8 ``[T, I]`` → ``h_out`` int8 ``[H]``; False on an overflow. ``fx``,
    ``fh``: the four gates' input and recurrent FCs stacked (rows ``[4H]``, gates i, f, g, o). Every
    stage is a loop over the units (SIMD where it is not a table lookup)."""
    gates, inter = p.gates, p.inter_gate
    xs, hs, facc, acc, gx, gh, act, c, fc_, ig, h = scratch
    units = h.shape[0]
    zh = inter.output_mul.zero_point
    t_i, t_f, t_g, t_o = (gates[0].activation.table, gates[1].activation.table, gates[2].activation.table,
                          gates[3].activation.table)
    c[:] = 0
    h[:] = zh
    for t in range(x.shape[0]):
        _load_step(x, t, fx.input_zero_point, xs)
        for u in range(units):
            hs[u] = h[u] - zh
        if not (_fc_outputs(fx, mode, xs, facc, acc, gx, status, 0, t)
                and _fc_outputs(fh, mode, hs, facc, acc, gh, status, 1, t)):
            return False
        for r in range(gx.shape[0]):
            gx[r] = add_s16_saturating_nb(gx[r], gh[r])
        for u in range(units):
            act[0, u] = lookup_nb(t_i, LUT_S16_OFFSET, gx[u])
            act[1, u] = lookup_nb(t_f, LUT_S16_OFFSET, gx[units + u])
            act[2, u] = lookup_nb(t_g, LUT_S16_OFFSET, gx[2 * units + u])
            act[3, u] = lookup_nb(t_o, LUT_S16_OFFSET, gx[3 * units + u])
        if not (muls_nb(inter.forget_cell_mul, act[1], c, fc_, status, 2, t)
                and muls_nb(inter.input_cell_gate_mul, act[0], act[2], ig, status, 3, t)):
            return False
        for u in range(units):
            c[u] = add_s16_saturating_nb(fc_[u], ig[u])
        if inter.cell_clip > 0:
            for u in range(units):
                c[u] = min(max(c[u], -inter.cell_clip), inter.cell_clip)
        for u in range(units):
            fc_[u] = lookup_nb(inter.cell_tanh.table, LUT_S16_OFFSET, c[u])
        if not muls_nb(inter.output_mul, fc_, act[3], h, status, 4, t):
            return False
    h_out[:] = h
    return True


@numba.njit(cache=True, nogil=True)
def lstm_sequences(x, mode, fx, fh, p, h_out, status):
    """LSTM (:class:`fixedrnn.lstm.LstmParams` ``p``; ``fx``, ``fh`` its gates' FCs stacked by
    :func:`fixedrnn.ops.fully_connected.stack_rows`) over ``x`` int8 ``[B, T, I]``; writes the last
    hidden state to ``h_out`` int8 ``[B, H]``, stopping at the first overflow (recorded in
    ``status``, tensors :data:`fixedrnn.lstm.TENSORS`). ``mode``: a
    :func:`fixedrnn.ops.fully_connected.accumulate_nb` mode. Releases the GIL."""
    units = h_out.shape[1]
    vectors = np.empty((4, units), np.int64)
    scratch = (np.empty(x.shape[2], np.int32), np.empty(units, np.int32), np.empty(4 * units, np.float32),
               np.empty(4 * units, np.int32), np.empty(4 * units, np.int64), np.empty(4 * units, np.int64),
               np.empty((4, units), np.int64), vectors[0], vectors[1], vectors[2], vectors[3])
    for b in range(x.shape[0]):
        if not _lstm_one(x[b], mode, fx, fh, p, scratch, h_out[b], status):
            return


@numba.njit(cache=True)
def _rnn_one(x, mode, p, scratch, h_out, status):
    """One utterance ``x`` int8 ``[T, I]`` → ``h_out`` int8 ``[H]``; False on an overflow."""
    xs, h, facc, acc, a, r = scratch
    h[:] = 0  # hidden zero point 0: h − z_h = h
    for t in range(x.shape[0]):
        _load_step(x, t, p.input_fc.input_zero_point, xs)
        if not (_fc_outputs(p.input_fc, mode, xs, facc, acc, a, status, 0, t)
                and _fc_outputs(p.recurrent_fc, mode, h, facc, acc, r, status, 1, t)):
            return False
        for u in range(h.shape[0]):
            a[u] = add_s8_nb(p.add, a[u], r[u])
        for u in range(h.shape[0]):
            h[u] = lookup_nb(p.tanh.table, TANH_S8_OFFSET, a[u])
    h_out[:] = h
    return True


@numba.njit(cache=True, nogil=True)
def rnn_sequences(x, mode, p, h_out, status):
    """Vanilla RNN (:class:`fixedrnn.rnn.RnnParams` ``p``) over ``x`` int8 ``[B, T, I]``; writes the
    last hidden state to ``h_out`` int8 ``[B, H]``, stopping at the first overflow (recorded in
    ``status``, tensors :data:`fixedrnn.rnn.TENSORS`). Releases the GIL."""
    units = h_out.shape[1]
    scratch = (np.empty(x.shape[2], np.int32), np.empty(units, np.int32), np.empty(units, np.float32),
               np.empty(units, np.int32), np.empty(units, np.int64), np.empty(units, np.int64))
    for b in range(x.shape[0]):
        if not _rnn_one(x[b], mode, p, scratch, h_out[b], status):
            return


def _run(kernel, params, fcs, tensors, x, units, shift_mode):
    """``kernel(x, mode, *params, h, status)`` over the batch in one contiguous chunk per thread
    (module doc)."""
    x = np.ascontiguousarray(x, np.int8)
    h = np.empty((x.shape[0], units), np.int8)
    mode = fully_connected.mac_mode(fcs, shift_mode)
    chunks = max(1, min(numba.get_num_threads(), x.shape[0]))
    status = np.zeros((chunks, 4), np.int64)
    bounds = [k * x.shape[0] // chunks for k in range(chunks + 1)]
    if chunks == 1:
        kernel(x, mode, *params, h, status[0])
    else:
        with ThreadPoolExecutor(chunks) as pool:
            for done in [pool.submit(kernel, x[lo:hi], mode, *params, h[lo:hi], status[k])
                         for k, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:]))]:
                done.result()
    failed = np.flatnonzero(status[:, 0] != st.STATUS_OK)
    if len(failed):
        st.raise_on_status(status[failed[0]], tensors)
    return h


def run_lstm(params, x, shift_mode):
    """Last hidden state int8 ``[B, H]`` of the LSTM over int8 ``x [B, T, I]`` (raises on overflow)."""
    fx = fully_connected.stack_rows([g.input_fc for g in params.gates])
    fh = fully_connected.stack_rows([g.recurrent_fc for g in params.gates])
    return _run(lstm_sequences, (fx, fh, params), (fx, fh), lstm.TENSORS, x,
                params.gates[0].input_fc.bias.shape[0], shift_mode)


def run_rnn(params, x, shift_mode):
    """Last hidden state int8 ``[B, H]`` of the RNN over int8 ``x [B, T, I]`` (raises on overflow)."""
    return _run(rnn_sequences, (params,), (params.input_fc, params.recurrent_fc), rnn.TENSORS, x,
                params.input_fc.bias.shape[0], shift_mode)
