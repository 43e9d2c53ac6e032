"""Fused numba kernels of whole sequences, batched: the fast ``"numba"`` and ``"shift"`` backends.

One call runs every step of every utterance of a batch ``[B, T, I]`` as the composition of
:mod:`fixedrnn.rnn` / :mod:`fixedrnn.lstm`, calling the ops' numba functions on the prepared
parameter blocks (the same records the NumPy path uses). The batch is the innermost loop (state laid
out ``[units, B]``), so each MAC is a broadcast weight times a batch vector, a loop LLVM vectorises
with SIMD; ``shift_mode`` selects the shift-only MAC of :mod:`fixedrnn.ops.pot`.

Overflow: the MAC loops run in int32, which cannot wrap once prepare has checked the product
headroom; each ``sum + bias``, requantization input and MUL product is checked per element
(:func:`fixedrnn.ops.fully_connected.output_nb`, :func:`fixedrnn.ops.elementwise.mul_nb`). The first
overflow is recorded in ``status`` and the kernel returns; :func:`fixedrnn.ops.status.raise_on_status`
turns it into the same ``FixedRnnError`` as the NumPy path.
"""

import numba
import numpy as np

from fixedrnn import lstm, rnn
from fixedrnn.ops import status as st
from fixedrnn.ops.elementwise import add_s8_nb, add_s16_saturating_nb, mul_nb
from fixedrnn.ops import lut_s16, tanh_s8
from fixedrnn.ops.fully_connected import accumulate_row_nb, output_nb
from fixedrnn.ops.table import lookup_nb

LUT_S16_OFFSET, TANH_S8_OFFSET = lut_s16.TABLE_OFFSET, tanh_s8.TABLE_OFFSET


@numba.njit(cache=True, inline="always")
def _load_step(x, t, zero_point, xs):
    """``xs[j, b] = x[b, t, j] − zero_point`` (int32, unit-major)."""
    for j in range(xs.shape[0]):
        for b in range(xs.shape[1]):
            xs[j, b] = np.int32(x[b, t, j]) - zero_point


@numba.njit(cache=True, inline="always")
def _input_and_recurrent_sums(fx, fh, shift_mode, r, xs, hs, ax, ah):
    """Row ``r``'s sums of products of ``FC_x(xs)`` and ``FC_h(hs)`` for the whole batch, into
    ``ax`` and ``ah``."""
    ax[:] = 0
    ah[:] = 0
    accumulate_row_nb(fx, shift_mode, r, xs, ax)
    accumulate_row_nb(fh, shift_mode, r, hs, ah)


@numba.njit(cache=True)
def lstm_sequences(x, shift_mode, p, h_out, status):
    """LSTM (:class:`fixedrnn.lstm.LstmParams` ``p``) over ``x`` int8 ``[B, T, I]``; writes the last
    hidden state to ``h_out`` int8 ``[B, H]`` (or an overflow to ``status``, tensors
    :data:`fixedrnn.lstm.TENSORS`)."""
    batch, steps, n_in = x.shape
    gates, inter = p.gates, p.inter_gate
    units = gates[0].input_fc.bias.shape[0]
    zh = inter.output_mul.zero_point
    xs = np.empty((n_in, batch), np.int32)
    hs = np.empty((units, batch), np.int32)
    pre = np.empty((4, units, batch), np.int32)
    c = np.zeros((units, batch), np.int32)
    h = np.full((units, batch), zh, np.int32)
    ax = np.empty(batch, np.int32)
    ah = np.empty(batch, np.int32)
    for t in range(steps):
        _load_step(x, t, gates[0].input_fc.input_zero_point, xs)
        for j in range(units):
            for b in range(batch):
                hs[j, b] = h[j, b] - zh
        for k in range(4):
            fx, fh = gates[k].input_fc, gates[k].recurrent_fc
            for u in range(units):
                _input_and_recurrent_sums(fx, fh, shift_mode, u, xs, hs, ax, ah)
                for b in range(batch):
                    pre[k, u, b] = add_s16_saturating_nb(output_nb(fx, u, ax[b], status, 0, t),
                                                         output_nb(fh, u, ah[b], status, 1, t))
                if status[0] != st.STATUS_OK:
                    return
        for u in range(units):
            for b in range(batch):
                gi = lookup_nb(gates[0].activation.table, LUT_S16_OFFSET, pre[0, u, b])
                gf = lookup_nb(gates[1].activation.table, LUT_S16_OFFSET, pre[1, u, b])
                gg = lookup_nb(gates[2].activation.table, LUT_S16_OFFSET, pre[2, u, b])
                go = lookup_nb(gates[3].activation.table, LUT_S16_OFFSET, pre[3, u, b])
                cell = add_s16_saturating_nb(mul_nb(inter.forget_cell_mul, gf, c[u, b], status, 2, t),
                                             mul_nb(inter.input_cell_gate_mul, gi, gg, status, 3, t))
                c[u, b] = cell
                tanh_c = lookup_nb(inter.cell_tanh.table, LUT_S16_OFFSET, cell)
                h[u, b] = mul_nb(inter.output_mul, tanh_c, go, status, 4, t)
                if status[0] != st.STATUS_OK:
                    return
    for u in range(units):
        for b in range(batch):
            h_out[b, u] = h[u, b]


@numba.njit(cache=True)
def rnn_sequences(x, shift_mode, p, h_out, status):
    """Vanilla RNN (:class:`fixedrnn.rnn.RnnParams` ``p``) over ``x`` int8 ``[B, T, I]``; writes the
    last hidden state to ``h_out`` int8 ``[B, H]`` (or an overflow to ``status``, tensors
    :data:`fixedrnn.rnn.TENSORS`)."""
    batch, steps, n_in = x.shape
    units = p.input_fc.bias.shape[0]
    xs = np.empty((n_in, batch), np.int32)
    h = np.zeros((units, batch), np.int32)  # hidden zero point 0: h − z_h = h
    hn = np.zeros((units, batch), np.int32)
    ax = np.empty(batch, np.int32)
    ah = np.empty(batch, np.int32)
    for t in range(steps):
        _load_step(x, t, p.input_fc.input_zero_point, xs)
        for r in range(units):
            _input_and_recurrent_sums(p.input_fc, p.recurrent_fc, shift_mode, r, xs, h, ax, ah)
            for b in range(batch):
                added = add_s8_nb(p.add, output_nb(p.input_fc, r, ax[b], status, 0, t),
                                  output_nb(p.recurrent_fc, r, ah[b], status, 1, t))
                hn[r, b] = lookup_nb(p.tanh.table, TANH_S8_OFFSET, added)
            if status[0] != st.STATUS_OK:
                return
        h[:, :] = hn
    for u in range(units):
        for b in range(batch):
            h_out[b, u] = h[u, b]


def run_lstm(params, x, shift_mode):
    """Last hidden state int8 ``[B, H]`` of the LSTM over int8 ``x [B, T, I]`` (raises on overflow)."""
    h = np.empty((x.shape[0], params.gates[0].input_fc.bias.shape[0]), np.int8)
    status = st.new_status()
    lstm_sequences(np.ascontiguousarray(x, np.int8), shift_mode, params, h, status)
    st.raise_on_status(status, lstm.TENSORS)
    return h


def run_rnn(params, x, shift_mode):
    """Last hidden state int8 ``[B, H]`` of the RNN over int8 ``x [B, T, I]`` (raises on overflow)."""
    h = np.empty((x.shape[0], params.input_fc.bias.shape[0]), np.int8)
    status = st.new_status()
    rnn_sequences(np.ascontiguousarray(x, np.int8), shift_mode, params, h, status)
    st.raise_on_status(status, rnn.TENSORS)
    return h
