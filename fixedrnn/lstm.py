"""TFLM's UNIDIRECTIONAL_SEQUENCE_LSTM, 8x8→16 integer form (lstm_eval.h ``LstmStep``).

Shapes: ``x`` int8 ``[B, T, I]``; gate tensors on axis ``[..., 4, H]`` in order i, f, g, o.
Per step and gate: ``gx = sat16(MBQM(B + W·(x − z_x)))``, ``gh = sat16(MBQM(U·(h − z_h)))``,
``z = sat16(gx + gh)`` (Q3.12); i, f, o = sigmoid16(z), g = tanh16(z) (Q0.15);
``c = sat16(sat16(MBQM(f·c)) + sat16(MBQM(i·g)))`` (scale 2**P); ``h = sat8(z_h + MBQM(o ·
tanh16(c)))``. Initial state c = 0, h = z_h. Returns the last hidden int8 ``[B, H]`` and, on the
NumPy path if asked, a trace: ``gate_x``, ``gate_h``, ``gate_pre``, ``gates`` int16 ``[B, T, 4, H]``,
``cell`` int16 ``[B, T, H]``, ``hidden`` int8 ``[B, T, H]``.

Backends as :mod:`fixedrnn.rnn`: ``"numpy"``, ``"numba"`` (exact float64 BLAS + numba), ``"shift"``.
"""

import numba
import numpy as np

from fixedrnn import kernels
from fixedrnn.activations import lstm_tables
from fixedrnn.fixedpoint import multiply_by_quantized_multiplier, multiply_by_quantized_multiplier_nb
from fixedrnn.model import FullyConnected


def _stacked_fc(weight, bias, multiplier, shift):
    """The four gate matrices as one FC ``[4H, in]`` with per-row multipliers (an equivalent
    layout: each row keeps its gate's per-tensor multiplier)."""
    units = weight.shape[1]
    m = np.repeat(np.asarray(multiplier, np.int64), units)
    s = np.repeat(np.asarray(shift, np.int64), units)
    b = None if bias is None else np.asarray(bias, np.int64).reshape(-1)
    return FullyConnected(weight=np.asarray(weight).reshape(4 * units, -1),
                          weight_scale=np.ones(4 * units, np.float32), bias=b, output_scale=1.0,
                          output_zero_point=0, multiplier=m, shift=s)


def _requant16(acc, fc, backend):
    if backend == "numpy":
        return kernels.requantize(acc, fc.multiplier, fc.shift, 0, -32768, 32767)
    out = np.empty(acc.shape, np.int64)
    kernels.requantize_nb(acc, fc.multiplier, fc.shift, 0, -32768, 32767, out)
    return out


def _mul(a, b, mult_shift, zero_point, lo, hi):
    m, s = mult_shift
    v = multiply_by_quantized_multiplier(np.asarray(a, np.int64) * np.asarray(b, np.int64), m, s)
    return np.clip(v.astype(np.int64) + zero_point, lo, hi)


def run_lstm(cell, x, input_zero_point, backend="numpy", trace=False):
    """Run the cell over ``x`` int8 ``[B, T, I]``; returns (h_last int8 [B, H], trace or None)."""
    from fixedrnn.rnn import _Accumulator

    x = np.asarray(x)
    batch, steps, _ = x.shape
    units = cell.units
    if backend != "numpy" and not trace:
        return _run_fused(cell, x, input_zero_point, backend == "shift"), None
    sig, tanh_g, tanh_c = (t.astype(np.int64) for t in lstm_tables(cell.cell_scale_power))
    fcx = _stacked_fc(cell.input_weight, cell.bias, cell.input_multiplier, cell.input_shift)
    fch = _stacked_fc(cell.recurrent_weight, None, cell.recurrent_multiplier, cell.recurrent_shift)
    acc_x = _Accumulator(fcx, input_zero_point, backend)
    acc_h = _Accumulator(fch, cell.hidden_zero_point, backend)
    gx_all = _requant16(acc_x(x.reshape(batch * steps, -1)), fcx, backend)
    gx_all = gx_all.reshape(batch, steps, 4, units)
    zh = int(cell.hidden_zero_point)
    h = np.full((batch, units), zh, np.int8)
    c = np.zeros((batch, units), np.int64)
    rec = None
    if trace:
        rec = {k: np.empty((batch, steps, 4, units), np.int16) for k in
               ("gate_x", "gate_h", "gate_pre", "gates")}
        rec["cell"] = np.empty((batch, steps, units), np.int16)
        rec["hidden"] = np.empty((batch, steps, units), np.int8)
    for t in range(steps):
        gh = _requant16(acc_h(h), fch, backend).reshape(batch, 4, units)
        gx = gx_all[:, t]
        if backend == "numpy":
            pre = np.clip(gx + gh, -32768, 32767)
            gates = np.empty_like(pre)
            for k in (0, 1, 3):
                gates[:, k] = sig[pre[:, k] + 32768]
            gates[:, 2] = tanh_g[pre[:, 2] + 32768]
            i, f, g, o = gates[:, 0], gates[:, 1], gates[:, 2], gates[:, 3]
            c = np.clip(_mul(f, c, cell.forget_mul, 0, -32768, 32767)
                        + _mul(i, g, cell.input_mul, 0, -32768, 32767), -32768, 32767)
            h = _mul(tanh_c[c + 32768], o, cell.output_mul, zh, -128, 127).astype(np.int8)
            if trace:
                rec["gate_x"][:, t], rec["gate_h"][:, t] = gx, gh
                rec["gate_pre"][:, t], rec["gates"][:, t] = pre, gates
                rec["cell"][:, t], rec["hidden"][:, t] = c, h
        else:
            _lstm_update_nb(np.ascontiguousarray(gx), gh, sig, tanh_g, tanh_c, c, h,
                            cell.forget_mul[0], cell.forget_mul[1], cell.input_mul[0],
                            cell.input_mul[1], cell.output_mul[0], cell.output_mul[1], zh)
    return h, rec


@numba.njit(cache=True)
def _sat16(v):
    return -32768 if v < -32768 else (32767 if v > 32767 else v)


@numba.njit(cache=True)
def _lstm_update_nb(gx, gh, sig, tanh_g, tanh_c, c, h, fm, fs, im, is_, om, os_, zh):
    """One step's elementwise part for the whole batch, in place on ``c`` (int64) and ``h`` (int8)."""
    batch, _, units = gx.shape
    for b in range(batch):
        for u in range(units):
            zi = _sat16(gx[b, 0, u] + gh[b, 0, u])
            zf = _sat16(gx[b, 1, u] + gh[b, 1, u])
            zg = _sat16(gx[b, 2, u] + gh[b, 2, u])
            zo = _sat16(gx[b, 3, u] + gh[b, 3, u])
            gi = sig[zi + 32768]
            gf = sig[zf + 32768]
            gg = tanh_g[zg + 32768]
            go = sig[zo + 32768]
            keep = _sat16(multiply_by_quantized_multiplier_nb(gf * c[b, u], fm, fs))
            new = _sat16(multiply_by_quantized_multiplier_nb(gi * gg, im, is_))
            cell = _sat16(keep + new)
            c[b, u] = cell
            v = multiply_by_quantized_multiplier_nb(tanh_c[cell + 32768] * go, om, os_) + zh
            h[b, u] = -128 if v < -128 else (127 if v > 127 else v)


def _run_fused(cell, x, input_zero_point, shift_mode):
    from fixedrnn import fused
    from fixedrnn.activations import lstm_tables

    units = cell.units
    wx = fused.weight_forms(cell.input_weight.reshape(4 * units, -1), shift_mode)
    wh = fused.weight_forms(cell.recurrent_weight.reshape(4 * units, -1), shift_mode)
    sig, tanh_g, tanh_c = (t.astype(np.int32) for t in lstm_tables(cell.cell_scale_power))
    i64 = lambda a: np.ascontiguousarray(np.asarray(a, np.int64))
    h = np.empty((x.shape[0], units), np.int8)
    fused.lstm_sequences(np.ascontiguousarray(x, np.int8), int(input_zero_point), shift_mode, *wx,
                         i64(cell.bias.reshape(-1)), i64(cell.input_multiplier), i64(cell.input_shift),
                         *wh, i64(cell.recurrent_multiplier), i64(cell.recurrent_shift),
                         int(cell.hidden_zero_point), sig, tanh_g, tanh_c,
                         int(cell.forget_mul[0]), int(cell.forget_mul[1]), int(cell.input_mul[0]),
                         int(cell.input_mul[1]), int(cell.output_mul[0]), int(cell.output_mul[1]), h)
    return h
