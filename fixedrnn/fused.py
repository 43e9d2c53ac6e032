"""Fused numba kernels of whole sequences, batched: the fast ``"numba"`` and ``"shift"`` backends.

One call runs every step of every utterance of a batch ``[B, T, I]`` as the composition of
:mod:`fixedrnn.rnn` / :mod:`fixedrnn.lstm`, calling the ops' numba functions on the prepared
parameter blocks (the same records the NumPy path uses). Utterances are independent, so the batch is
split into one contiguous chunk per numba thread (a thread pool over ``nogil`` kernels;
``NUMBA_NUM_THREADS`` or :func:`numba.set_num_threads` sets how many). Within a chunk:
- float32 MAC mode (the overflow audit proves float32 sums exact) and 4 or more utterances: blocks
  of :data:`LOCKSTEP_ROWS` utterances step together; each step's input and recurrent FC is one
  multi-row MAC over the block (:func:`fixedrnn.ops.fully_connected.accumulate_rows_f32_nb`, each
  weight load feeding four utterances), then each utterance's requantization and cell update;
- otherwise (int32 or shift-only MACs, sparse rows, B < 4) each utterance runs alone, its state a
  vector over the units: each MAC one input times a weight column, a SIMD loop over the output rows
  (:func:`fixedrnn.ops.fully_connected.accumulate_nb`).
The RNN's ADD and TANH are one lookup in the prepared table ``add_tanh``
(:func:`fixedrnn.rnn.add_tanh_table`). Scratch is allocated once per chunk; B = 1 is one chunk, no
threading.

Overflow: each ``sum + bias`` and requantization input is checked per element
(:func:`fixedrnn.ops.fully_connected.outputs_nb`), each MUL product likewise
(:func:`fixedrnn.ops.elementwise.muls_nb`). An utterance stops at its first overflow and records it
in its chunk's ``status`` row; the chunk stops there (a lockstep block that sees an overflow is run
again one utterance at a time, which finds its first utterance's first overflow). The first chunk
with an overflow (so the first utterance in batch order, whatever the thread count) is reported:
:func:`fixedrnn.ops.status.raise_on_status` turns it into the same ``FixedRnnError`` as the NumPy
path.
"""

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from fixedrnn import lstm, rnn
from fixedrnn.ops import status as st
from fixedrnn.ops.elementwise import add_s16_saturating_nb, muls_nb
from fixedrnn.ops import fully_connected, lut_s16
from fixedrnn.ops.table import lookup_nb

LUT_S16_OFFSET = lut_s16.TABLE_OFFSET
LOCKSTEP_ROWS = 32  # utterances stepped together in float32 MAC mode (each weight load feeds 4 rows)


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


@numba.njit(cache=True, inline="always")
def _float_outputs(fc, facc, acc, out, status, tensor, step):
    """``out`` = the FC ``fc``'s outputs of the exact float32 sums ``facc`` ``[out]`` (``acc``
    int32 scratch); whether no overflow happened."""
    for r in range(facc.shape[0]):
        acc[r] = np.int32(facc[r])
    return fully_connected.outputs_nb(fc, acc, out, status, tensor, step)


@numba.njit(cache=True, inline="always")
def _lstm_cell(p, gx, gh, act, c, fc_, ig, h, status, step):
    """One step after the FCs, one utterance: gates ``gx + gh`` (int64 ``[4H]``, overwritten) →
    activations ``act`` ``[4, H]`` → cell ``c`` and hidden state ``h`` (int64 ``[H]``, updated);
    ``fc_``, ``ig`` scratch ``[H]``. False on an overflow (recorded in ``status``)."""
    gates, inter = p.gates, p.inter_gate
    units = h.shape[0]
    t_i, t_f, t_g, t_o = (gates[0].activation.table, gates[1].activation.table, gates[2].activation.table,
                          gates[3].activation.table)
    for r in range(gx.shape[0]):
        gx[r] = add_s16_saturating_nb(gx[r], gh[r])
    for u in range(units):
        act[0, u] = lookup_nb(t_i, LUT_S16_OFFSET, gx[u])
        act[1, u] = lookup_nb(t_f, LUT_S16_OFFSET, gx[units + u])
        act[2, u] = lookup_nb(t_g, LUT_S16_OFFSET, gx[2 * units + u])
        act[3, u] = lookup_nb(t_o, LUT_S16_OFFSET, gx[3 * units + u])
    if not (muls_nb(inter.forget_cell_mul, act[1], c, fc_, status, 2, step)
            and muls_nb(inter.input_cell_gate_mul, act[0], act[2], ig, status, 3, step)):
        return False
    for u in range(units):
        c[u] = add_s16_saturating_nb(fc_[u], ig[u])
    if inter.cell_clip > 0:
        for u in range(units):
            c[u] = min(max(c[u], -inter.cell_clip), inter.cell_clip)
    for u in range(units):
        fc_[u] = lookup_nb(inter.cell_tanh.table, LUT_S16_OFFSET, c[u])
    return muls_nb(inter.output_mul, fc_, act[3], h, status, 4, step)


@numba.njit(cache=True)
def _lstm_one(x, mode, fx, fh, p, scratch, h_out, status):
    """One utterance ``x`` int8 ``[T, I]`` → ``h_out`` int8 ``[H]``; False on an overflow. ``fx``,
    ``fh``: the four gates' input and recurrent FCs stacked (rows ``[4H]``, gates i, f, g, o). Every
    stage is a loop over the units (SIMD where it is not a table lookup)."""
    xs, hs, facc, acc, gx, gh, act, c, fc_, ig, h = scratch
    zh = p.inter_gate.output_mul.zero_point
    c[:] = 0
    h[:] = zh
    for t in range(x.shape[0]):
        _load_step(x, t, fx.input_zero_point, xs)
        for u in range(h.shape[0]):
            hs[u] = h[u] - zh
        if not (_fc_outputs(fx, mode, xs, facc, acc, gx, status, 0, t)
                and _fc_outputs(fh, mode, hs, facc, acc, gh, status, 1, t)
                and _lstm_cell(p, gx, gh, act, c, fc_, ig, h, status, t)):
            return False
    h_out[:] = h
    return True


@numba.njit(cache=True)
def _lockstep_inputs(x, t, zx, h, zh, rows, xf, hf):
    """Step ``t``'s MAC inputs of the first ``rows`` utterances as exact float32: ``xf[b] = x[b, t]
    − zx`` (int8 input less its zero point), ``hf[b] = h[b] − zh`` (hidden state less its zero
    point)."""
    for b in range(rows):
        for j in range(x.shape[2]):
            xf[b, j] = np.float32(np.int32(x[b, t, j]) - zx)
        for u in range(h.shape[1]):
            hf[b, u] = np.float32(h[b, u] - zh)


@numba.njit(cache=True)
def _lstm_lockstep(x, fx, fh, p, scratch, h_out, status):
    """The utterances ``x`` int8 ``[rows, T, I]`` stepped together (float32 MAC mode only):
    each step's two FCs are one multi-row MAC each
    (:func:`fixedrnn.ops.fully_connected.accumulate_rows_f32_nb`), then each utterance's
    requantization and :func:`_lstm_cell`. Writes ``h_out`` int8 ``[rows, H]``; False on an
    overflow (``status`` then holds one, not necessarily the first in batch order)."""
    xf, hf, gxf, ghf, acc, gx, gh, act, c, fc_, ig, h = scratch
    rows, zx, zh = x.shape[0], fx.input_zero_point, p.inter_gate.output_mul.zero_point
    c[:rows] = 0
    h[:rows] = zh
    for t in range(x.shape[1]):
        _lockstep_inputs(x, t, zx, h, zh, rows, xf, hf)
        fully_connected.accumulate_rows_f32_nb(xf[:rows], fx.weight_t, gxf[:rows])
        fully_connected.accumulate_rows_f32_nb(hf[:rows], fh.weight_t, ghf[:rows])
        for b in range(rows):
            if not (_float_outputs(fx, gxf[b], acc, gx, status, 0, t)
                    and _float_outputs(fh, ghf[b], acc, gh, status, 1, t)
                    and _lstm_cell(p, gx, gh, act, c[b], fc_, ig, h[b], status, t)):
                return False
    h_out[:] = h[:rows]
    return True


@numba.njit(cache=True, inline="always")
def _lstm_scratch(n_in, units):
    """The one-utterance scratch of :func:`_lstm_one`."""
    vectors = np.empty((4, units), np.int64)
    return (np.empty(n_in, np.int32), np.empty(units, np.int32), np.empty(4 * units, np.float32),
            np.empty(4 * units, np.int32), np.empty(4 * units, np.int64), np.empty(4 * units, np.int64),
            np.empty((4, units), np.int64), vectors[0], vectors[1], vectors[2], vectors[3])


@numba.njit(cache=True, nogil=True)
def lstm_sequences(x, mode, fx, fh, p, h_out, status):
    """LSTM (:class:`fixedrnn.lstm.LstmParams` ``p``; ``fx``, ``fh`` its gates' FCs stacked by
    :func:`fixedrnn.ops.fully_connected.stack_rows`) over ``x`` int8 ``[B, T, I]``, one utterance
    at a time; writes the last hidden state to ``h_out`` int8 ``[B, H]``, stopping at the first
    overflow (recorded in ``status``, tensors :data:`fixedrnn.lstm.TENSORS`). ``mode``: a
    :func:`fixedrnn.ops.fully_connected.accumulate_nb` mode. Releases the GIL."""
    scratch = _lstm_scratch(x.shape[2], h_out.shape[1])
    for b in range(x.shape[0]):
        if not _lstm_one(x[b], mode, fx, fh, p, scratch, h_out[b], status):
            return


@numba.njit(cache=True, nogil=True)
def lstm_blocks(x, mode, fx, fh, p, h_out, status):
    """As :func:`lstm_sequences` for float32 ``mode`` only, :data:`LOCKSTEP_ROWS` utterances at a
    time (:func:`_lstm_lockstep`); a block with an overflow is run again one utterance at a time,
    which finds and records its first one. Releases the GIL."""
    units, n_in, rows = h_out.shape[1], x.shape[2], min(LOCKSTEP_ROWS, x.shape[0])
    scratch = _lstm_scratch(n_in, units)
    lockstep = (np.empty((rows, n_in), np.float32), np.empty((rows, units), np.float32),
                np.empty((rows, 4 * units), np.float32), np.empty((rows, 4 * units), np.float32),
                scratch[3], scratch[4], scratch[5], scratch[6], np.empty((rows, units), np.int64),
                scratch[8], scratch[9], np.empty((rows, units), np.int64))
    probe = np.zeros(status.shape[0], np.int64)
    for first in range(0, x.shape[0], rows):
        last = min(first + rows, x.shape[0])
        if not _lstm_lockstep(x[first:last], fx, fh, p, lockstep, h_out[first:last], probe):
            for b in range(first, last):
                if not _lstm_one(x[b], mode, fx, fh, p, scratch, h_out[b], status):
                    return
            probe[:] = 0


@numba.njit(cache=True, inline="always")
def _rnn_cell(p, a, r, h):
    """One step after the FCs, one utterance: ``h = TANH(ADD(a, r))`` (int64 ``[H]``) by one lookup
    in ``p.add_tanh`` (:func:`fixedrnn.rnn.add_tanh_table`)."""
    for u in range(h.shape[0]):
        h[u] = p.add_tanh[(a[u] + 128) * 256 + r[u] + 128]


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
        _rnn_cell(p, a, r, h)
    h_out[:] = h
    return True


@numba.njit(cache=True)
def _rnn_lockstep(x, p, scratch, h_out, status):
    """As :func:`_lstm_lockstep` for the RNN: ``x`` int8 ``[rows, T, I]`` → ``h_out`` int8
    ``[rows, H]``; False on an overflow."""
    xf, hf, af, rf, acc, a, r, h = scratch
    rows, zx = x.shape[0], p.input_fc.input_zero_point
    h[:rows] = 0  # hidden zero point 0
    for t in range(x.shape[1]):
        _lockstep_inputs(x, t, zx, h, 0, rows, xf, hf)
        fully_connected.accumulate_rows_f32_nb(xf[:rows], p.input_fc.weight_t, af[:rows])
        fully_connected.accumulate_rows_f32_nb(hf[:rows], p.recurrent_fc.weight_t, rf[:rows])
        for b in range(rows):
            if not (_float_outputs(p.input_fc, af[b], acc, a, status, 0, t)
                    and _float_outputs(p.recurrent_fc, rf[b], acc, r, status, 1, t)):
                return False
            _rnn_cell(p, a, r, h[b])
    h_out[:] = h[:rows]
    return True


@numba.njit(cache=True, inline="always")
def _rnn_scratch(n_in, units):
    """The one-utterance scratch of :func:`_rnn_one`."""
    return (np.empty(n_in, np.int32), np.empty(units, np.int32), np.empty(units, np.float32),
            np.empty(units, np.int32), np.empty(units, np.int64), np.empty(units, np.int64))


@numba.njit(cache=True, nogil=True)
def rnn_sequences(x, mode, p, h_out, status):
    """Vanilla RNN (:class:`fixedrnn.rnn.RnnParams` ``p``) over ``x`` int8 ``[B, T, I]``, one
    utterance at a time; writes the last hidden state to ``h_out`` int8 ``[B, H]``, stopping at the
    first overflow (recorded in ``status``, tensors :data:`fixedrnn.rnn.TENSORS`). Releases the
    GIL."""
    scratch = _rnn_scratch(x.shape[2], h_out.shape[1])
    for b in range(x.shape[0]):
        if not _rnn_one(x[b], mode, p, scratch, h_out[b], status):
            return


@numba.njit(cache=True, nogil=True)
def rnn_blocks(x, mode, p, h_out, status):
    """As :func:`rnn_sequences` in lockstep blocks (:func:`_rnn_lockstep`), as :func:`lstm_blocks`.
    Releases the GIL."""
    units, n_in, rows = h_out.shape[1], x.shape[2], min(LOCKSTEP_ROWS, x.shape[0])
    scratch = _rnn_scratch(n_in, units)
    lockstep = (np.empty((rows, n_in), np.float32), np.empty((rows, units), np.float32),
                np.empty((rows, units), np.float32), np.empty((rows, units), np.float32),
                scratch[3], scratch[4], scratch[5], np.empty((rows, units), np.int64))
    probe = np.zeros(status.shape[0], np.int64)
    for first in range(0, x.shape[0], rows):
        last = min(first + rows, x.shape[0])
        if not _rnn_lockstep(x[first:last], p, lockstep, h_out[first:last], probe):
            for b in range(first, last):
                if not _rnn_one(x[b], mode, p, scratch, h_out[b], status):
                    return
            probe[:] = 0


def _run(kernels, params, fcs, tensors, x, units, shift_mode):
    """``kernel(x, mode, *params, h, status)`` over the batch in one contiguous chunk per thread
    (module doc); ``kernels``: (one utterance at a time, lockstep blocks), the second for float32
    MACs and 4 or more utterances."""
    x = np.ascontiguousarray(x, np.int8)
    h = np.empty((x.shape[0], units), np.int8)
    mode = fully_connected.mac_mode(fcs, shift_mode)
    kernel = kernels[1] if mode == fully_connected.MAC_FLOAT32 and x.shape[0] >= 4 else kernels[0]
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
    return _run((lstm_sequences, lstm_blocks), (fx, fh, params), (fx, fh), lstm.TENSORS, x,
                params.gates[0].input_fc.bias.shape[0], shift_mode)


def run_rnn(params, x, shift_mode):
    """Last hidden state int8 ``[B, H]`` of the RNN over int8 ``x [B, T, I]`` (raises on overflow)."""
    return _run((rnn_sequences, rnn_blocks), (params,), (params.input_fc, params.recurrent_fc), rnn.TENSORS,
                x, params.input_fc.bias.shape[0], shift_mode)
