"""Fused numba kernels of whole sequences, batched: the fast ``"numba"`` and ``"shift"`` backends.

One call runs every step of every utterance of a batch ``[B, T, I]``; the batch is the innermost
loop (state laid out ``[units, B]``), so each MAC is a broadcast weight times a batch vector, a
loop LLVM vectorises with SIMD. The arithmetic is the
one of :mod:`fixedrnn.rnn` / :mod:`fixedrnn.lstm` (same MBQM, saturation and tables); the tests
check the results equal the NumPy reference and TFLM.

Power-of-two ("shift") variant: the weight is given as a left shift ``sh`` (0..6), a zero mask
``nz`` (−1 where the weight is non-zero, else 0) and a sign mask ``neg`` (−1 where negative); a MAC
is ``v = x << sh; acc += (v ^ neg) − neg`` for non-zero codes — shifts, xor and adds, no multiply.
"""

import numba
import numpy as np

from fixedrnn.fixedpoint import multiply_by_quantized_multiplier_nb as mbqm


@numba.njit(cache=True, inline="always")
def _clamp(v, lo, hi):
    return lo if v < lo else (hi if v > hi else v)


@numba.njit(cache=True, inline="always")
def _wrap(v):
    return ((v + 2147483648) & 0xFFFFFFFF) - 2147483648


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
                   fm, fs, im, is_, om, os_, h_out):
    """LSTM over ``x`` int8 ``[B, T, I]``; weights int32 ``[4H, in]`` (rows gate-major i, f, g, o);
    writes the last hidden state to ``h_out`` int8 ``[B, H]``. State is unit-major ``[H, B]``."""
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
                gx = _clamp(mbqm(_wrap(np.int64(ax[b]) + bias[r]), mx[k], sx[k]), -32768, 32767)
                gh = _clamp(mbqm(np.int64(ah[b]), mh[k], sh[k]), -32768, 32767)
                pre[r, b] = _clamp(gx + gh, -32768, 32767)
        for u in range(units):
            for b in range(batch):
                gi = np.int64(sig[pre[u, b] + 32768])
                gf = np.int64(sig[pre[units + u, b] + 32768])
                gg = np.int64(tanh_g[pre[2 * units + u, b] + 32768])
                go = np.int64(sig[pre[3 * units + u, b] + 32768])
                keep = _clamp(mbqm(gf * c[u, b], fm, fs), -32768, 32767)
                new = _clamp(mbqm(gi * gg, im, is_), -32768, 32767)
                cell = _clamp(keep + new, -32768, 32767)
                c[u, b] = cell
                h[u, b] = _clamp(mbqm(np.int64(tanh_c[cell + 32768]) * go, om, os_) + zh, -128, 127)
    for u in range(units):
        for b in range(batch):
            h_out[b, u] = h[u, b]


@numba.njit(cache=True)
def rnn_sequences(x, zx, shift_mode, wx, wx_sh, wx_nz, wx_neg, bias, mx, sx, za,
                  wh, wh_sh, wh_nz, wh_neg, mh, sh, zr,
                  m1, s1, m2, s2, mo, so, zp, tanh_table, h_out):
    """Vanilla RNN over ``x`` int8 ``[B, T, I]`` (per-tensor multipliers have length 1)."""
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
                a = _clamp(mbqm(_wrap(np.int64(ax[b]) + bias[r]), mx[kx], sx[kx]) + za, -128, 127)
                rr = _clamp(mbqm(np.int64(ah[b]), mh[kh], sh[kh]) + zr, -128, 127)
                u1 = mbqm((a - za) << 20, m1, s1)
                u2 = mbqm((rr - zr) << 20, m2, s2)
                p = _clamp(mbqm(_wrap(u1 + u2), mo, so) + zp, -128, 127)
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
        raise ValueError("weight is not a power-of-two weight (0 or ±2**e, e in 0..6)")
    sh = np.where(mag > 0, np.log2(np.maximum(mag, 1)), 0).astype(np.int32)
    return (np.ascontiguousarray(sh), np.where(mag > 0, -1, 0).astype(np.int32),
            np.where(w < 0, -1, 0).astype(np.int32))


def weight_forms(weight, shift_mode):
    """(int32 weight, shift, nz, neg) for the kernels; the unused form is a 1x1 dummy."""
    dummy = np.zeros((1, 1), np.int32)
    if shift_mode:
        return (dummy, *shift_masks(weight))
    return np.ascontiguousarray(np.asarray(weight, np.int32)), dummy, dummy, dummy
