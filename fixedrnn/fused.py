"""Fused numba kernels of whole sequences, batched: the fast ``"numba"`` and ``"shift"`` backends.

One call runs every step of every utterance of a batch ``[B, T, I]``; the batch is the innermost
loop (state laid out ``[units, B]``), so each MAC is a broadcast weight times a batch vector, a
loop LLVM vectorises with SIMD. The arithmetic is the
one of :mod:`fixedrnn.rnn` / :mod:`fixedrnn.lstm` (same MBQM, saturation and tables); the tests
check the results equal the NumPy reference and TFLM.

Power-of-two ("shift") variant: the weight is given as a left shift ``sh`` (0..6), a zero mask
``nz`` (−1 where the weight is non-zero, else 0) and a sign mask ``neg`` (−1 where negative); a MAC
is ``v = x << sh; acc += (v ^ neg) − neg`` for non-zero codes — shifts, xor and adds, no multiply.

Overflow (the rules of :mod:`fixedrnn.kernels`): the MAC loops run in int32, which cannot wrap once
the caller has checked :func:`fixedrnn.overflow.check_product_headroom`; outside them, each
``sum + bias`` and each MBQM input ``x · 2**shift`` (positive shifts) is checked per output element.
On the first overflow a kernel records it in ``status`` (int64 ``[4]``: kind, tensor, exact value,
step) and returns; :func:`raise_on_status` turns that into the same ``FixedRnnError`` as the NumPy
path.
"""

import numba
import numpy as np

from fixedrnn.errors import FixedRnnError
from fixedrnn.fixedpoint import multiply_by_quantized_multiplier_nb as mbqm
from fixedrnn.overflow import ACCUMULATOR, REQUANTIZE_INPUT, overflow_message

STATUS_OK, STATUS_ACCUMULATOR, STATUS_REQUANTIZE = 0, 1, 2
RNN_TENSORS = ("rnn.input_fc", "rnn.recurrent_fc")
LSTM_TENSORS = ("lstm.input_fc", "lstm.recurrent_fc", "lstm.forget_mul", "lstm.input_mul",
                "lstm.output_mul")
_INT32_MIN, _INT32_MAX = -2147483648, 2147483647


def new_status():
    """A fresh kernel status (int64 ``[4]``: kind, tensor index, value, step), all zero."""
    return np.zeros(4, np.int64)


def raise_on_status(status, tensors):
    """Raise the ``FixedRnnError`` a kernel recorded in ``status`` (no-op when it is OK)."""
    kind, tensor, value = int(status[0]), int(status[1]), int(status[2])
    if kind == STATUS_ACCUMULATOR:
        raise FixedRnnError(overflow_message(tensors[tensor], ACCUMULATOR, value))
    if kind == STATUS_REQUANTIZE:
        raise FixedRnnError(overflow_message(tensors[tensor], REQUANTIZE_INPUT, value))


@numba.njit(cache=True, inline="always")
def _out_of_int32(v):
    return v < _INT32_MIN or v > _INT32_MAX


@numba.njit(cache=True, inline="always")
def _shift_overflows(v, shift):
    """Whether MBQM's ``v · 2**shift`` (shift > 0 only) leaves int32."""
    return shift > 0 and _out_of_int32(np.int64(v) << shift)


@numba.njit(cache=True, inline="always")
def _flag(status, kind, tensor, value, step):
    status[0] = kind
    status[1] = tensor
    status[2] = value
    status[3] = step


@numba.njit(cache=True, inline="always")
def _clamp(v, lo, hi):
    return lo if v < lo else (hi if v > hi else v)


@numba.njit(cache=True, inline="always")
def _gemv_batch(w, sh, nz, neg, shift_mode, r, xs, n, acc):
    """``acc[b] += Σ_j w[r, j] · xs[j, b]`` for every b (batch innermost: a SIMD loop)."""
    batch = acc.shape[0]
    for j in range(n):
        if shift_mode:
            s, z, g = sh[r, j], nz[r, j], neg[r, j]
            if z != 0:
                for b in range(batch):
                    v = xs[j, b] << s
                    acc[b] += (v ^ g) - g
        else:
            wj = w[r, j]
            if wj != 0:
                for b in range(batch):
                    acc[b] += wj * xs[j, b]


@numba.njit(cache=True)
def lstm_sequences(x, zx, shift_mode, wx, wx_sh, wx_nz, wx_neg, bias, mx, sx,
                   wh, wh_sh, wh_nz, wh_neg, mh, sh, zh, sig, tanh_g, tanh_c,
                   fm, fs, im, is_, om, os_, h_out, status):
    """LSTM over ``x`` int8 ``[B, T, I]``; weights int32 ``[4H, in]`` (rows gate-major i, f, g, o);
    writes the last hidden state to ``h_out`` int8 ``[B, H]`` (or an overflow to ``status``, tensors
    :data:`LSTM_TENSORS`). State is unit-major ``[H, B]``."""
    batch, steps, n_in = x.shape
    rows = bias.shape[0]
    units = rows // 4
    xs = np.empty((n_in, batch), np.int32)
    hs = np.empty((units, batch), np.int32)
    pre = np.empty((rows, batch), np.int32)
    c = np.zeros((units, batch), np.int32)
    h = np.full((units, batch), zh, np.int32)
    ax = np.empty(batch, np.int32)
    ah = np.empty(batch, np.int32)
    for t in range(steps):
        for j in range(n_in):
            for b in range(batch):
                xs[j, b] = np.int32(x[b, t, j]) - zx
        for j in range(units):
            for b in range(batch):
                hs[j, b] = h[j, b] - zh
        for r in range(rows):
            k = r // units
            ax[:] = 0
            ah[:] = 0
            _gemv_batch(wx, wx_sh, wx_nz, wx_neg, shift_mode, r, xs, n_in, ax)
            _gemv_batch(wh, wh_sh, wh_nz, wh_neg, shift_mode, r, hs, units, ah)
            for b in range(batch):
                vx = np.int64(ax[b]) + bias[r]
                if _out_of_int32(vx):
                    _flag(status, STATUS_ACCUMULATOR, 0, vx, t)
                    return
                if _shift_overflows(vx, sx[k]):
                    _flag(status, STATUS_REQUANTIZE, 0, vx, t)
                    return
                if _shift_overflows(ah[b], sh[k]):
                    _flag(status, STATUS_REQUANTIZE, 1, ah[b], t)
                    return
                gx = _clamp(mbqm(vx, mx[k], sx[k]), -32768, 32767)
                gh = _clamp(mbqm(np.int64(ah[b]), mh[k], sh[k]), -32768, 32767)
                pre[r, b] = _clamp(gx + gh, -32768, 32767)
        for u in range(units):
            for b in range(batch):
                gi = np.int64(sig[pre[u, b] + 32768])
                gf = np.int64(sig[pre[units + u, b] + 32768])
                gg = np.int64(tanh_g[pre[2 * units + u, b] + 32768])
                go = np.int64(sig[pre[3 * units + u, b] + 32768])
                kept = gf * c[u, b]
                added = gi * gg
                if _shift_overflows(kept, fs):
                    _flag(status, STATUS_REQUANTIZE, 2, kept, t)
                    return
                if _shift_overflows(added, is_):
                    _flag(status, STATUS_REQUANTIZE, 3, added, t)
                    return
                cell = _clamp(_clamp(mbqm(kept, fm, fs), -32768, 32767)
                              + _clamp(mbqm(added, im, is_), -32768, 32767), -32768, 32767)
                c[u, b] = cell
                out = np.int64(tanh_c[cell + 32768]) * go
                if _shift_overflows(out, os_):
                    _flag(status, STATUS_REQUANTIZE, 4, out, t)
                    return
                h[u, b] = _clamp(mbqm(out, om, os_) + zh, -128, 127)
    for u in range(units):
        for b in range(batch):
            h_out[b, u] = h[u, b]


@numba.njit(cache=True)
def rnn_sequences(x, zx, shift_mode, wx, wx_sh, wx_nz, wx_neg, bias, mx, sx, za,
                  wh, wh_sh, wh_nz, wh_neg, mh, sh, zr,
                  m1, s1, m2, s2, mo, so, zp, tanh_table, h_out, status):
    """Vanilla RNN over ``x`` int8 ``[B, T, I]`` (per-tensor multipliers have length 1); writes the
    last hidden state to ``h_out`` int8 ``[B, H]`` (or an overflow to ``status``, tensors
    :data:`RNN_TENSORS`). ADD shifts are <= 0 (the model file guarantees it): no check there."""
    batch, steps, n_in = x.shape
    units = bias.shape[0]
    pcx = mx.shape[0] > 1
    pch = mh.shape[0] > 1
    xs = np.empty((n_in, batch), np.int32)
    h = np.zeros((units, batch), np.int32)
    hn = np.zeros((units, batch), np.int32)
    ax = np.empty(batch, np.int32)
    ah = np.empty(batch, np.int32)
    for t in range(steps):
        for j in range(n_in):
            for b in range(batch):
                xs[j, b] = np.int32(x[b, t, j]) - zx
        for r in range(units):
            kx = r if pcx else 0
            kh = r if pch else 0
            ax[:] = 0
            ah[:] = 0
            _gemv_batch(wx, wx_sh, wx_nz, wx_neg, shift_mode, r, xs, n_in, ax)
            _gemv_batch(wh, wh_sh, wh_nz, wh_neg, shift_mode, r, h, units, ah)
            for b in range(batch):
                vx = np.int64(ax[b]) + bias[r]
                if _out_of_int32(vx):
                    _flag(status, STATUS_ACCUMULATOR, 0, vx, t)
                    return
                if _shift_overflows(vx, sx[kx]):
                    _flag(status, STATUS_REQUANTIZE, 0, vx, t)
                    return
                if _shift_overflows(ah[b], sh[kh]):
                    _flag(status, STATUS_REQUANTIZE, 1, ah[b], t)
                    return
                a = _clamp(mbqm(vx, mx[kx], sx[kx]) + za, -128, 127)
                rr = _clamp(mbqm(np.int64(ah[b]), mh[kh], sh[kh]) + zr, -128, 127)
                u1 = mbqm((a - za) << 20, m1, s1)
                u2 = mbqm((rr - zr) << 20, m2, s2)
                p = _clamp(mbqm(u1 + u2, mo, so) + zp, -128, 127)
                hn[r, b] = tanh_table[p + 128]
        h[:, :] = hn
    for u in range(units):
        for b in range(batch):
            h_out[b, u] = h[u, b]


def shift_masks(weight):
    """int8 power-of-two weights → (shift, non-zero mask, negative mask), int32 arrays."""
    w = np.asarray(weight, np.int64)
    mag = np.abs(w)
    if np.any((mag & (mag - 1)) != 0) or np.any(mag > 64):
        raise FixedRnnError("weight is not a power-of-two weight (0 or ±2**e, e in 0..6)")
    sh = np.where(mag > 0, np.log2(np.maximum(mag, 1)), 0).astype(np.int32)
    return (np.ascontiguousarray(sh), np.where(mag > 0, -1, 0).astype(np.int32),
            np.where(w < 0, -1, 0).astype(np.int32))


def weight_forms(weight, shift_mode):
    """(int32 weight, shift, nz, neg) for the kernels; the unused form is a 1x1 dummy."""
    dummy = np.zeros((1, 1), np.int32)
    if shift_mode:
        return (dummy, *shift_masks(weight))
    return np.ascontiguousarray(np.asarray(weight, np.int32)), dummy, dummy, dummy
