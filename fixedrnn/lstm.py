"""TFLM's UNIDIRECTIONAL_SEQUENCE_LSTM, 8x8→16 integer form (lstm_eval.h ``LstmStep``).

Shapes: ``x`` int8 ``[B, T, I]``; gate tensors on axis ``[..., 4, H]`` in order i, f, g, o.
Per step and gate: ``gx = sat16(MBQM(B + W·(x − z_x)))``, ``gh = sat16(MBQM(U·(h − z_h)))``,
``z = sat16(gx + gh)`` (Q3.12); i, f, o = sigmoid16(z), g = tanh16(z) (Q0.15);
``c = sat16(sat16(MBQM(f·c)) + sat16(MBQM(i·g)))`` (scale 2**P); ``h = sat8(z_h + MBQM(o ·
tanh16(c)))``. MBQM rounds as TFLite (see :mod:`fixedrnn.fixedpoint`); sigmoid16/tanh16 are
TFLite's int16 LUT kernels (:mod:`fixedrnn.activations`, tabulated on all 65536 inputs). No cell
clip. Initial state c = 0, h = z_h. Returns the last hidden int8 ``[B, H]`` and, on the NumPy path
if asked, a trace: ``gate_x``, ``gate_h``, ``gate_pre``, ``gates`` int16 ``[B, T, 4, H]``, ``cell``
int16 ``[B, T, H]``, ``hidden`` int8 ``[B, T, H]``.

Backends as :mod:`fixedrnn.rnn`: ``"numpy"`` (reference, traceable), ``"numba"`` and ``"shift"``
(fused kernels of :mod:`fixedrnn.fused`); overflow errors as :mod:`fixedrnn.kernels`.
"""

import numpy as np

from fixedrnn import kernels, overflow
from fixedrnn.activations import lstm_tables
from fixedrnn.errors import FixedRnnError

INT16_MIN, INT16_MAX = -32768, 32767


def _gate_fc(x, weight, bias, multiplier, shift, zero_point, name):
    """The four gate FCs of ``x [N, in]`` → int16 Q3.12 ``[N, 4, H]`` (per-gate multipliers)."""
    units = weight.shape[1]
    acc = kernels.fc_accumulate(x, np.asarray(weight).reshape(4 * units, -1), zero_point,
                                None if bias is None else np.asarray(bias).reshape(-1), name)
    m = np.repeat(np.asarray(multiplier, np.int64), units)
    s = np.repeat(np.asarray(shift, np.int64), units)
    return kernels.requantize(acc, m, s, 0, INT16_MIN, INT16_MAX, name).reshape(-1, 4, units)


def _mul(a, b, mult_shift, zero_point, lo, hi, name):
    """TFLM's elementwise int16 MUL: ``clamp(zero_point + MBQM(a · b, m, s), lo, hi)``, int64."""
    m, s = mult_shift
    product = np.asarray(a, np.int64) * np.asarray(b, np.int64)
    return kernels.requantize(product, m, s, zero_point, lo, hi, name)


def run_lstm(cell, x, input_zero_point, backend="numpy", trace=False):
    """Run the cell over ``x`` int8 ``[B, T, I]``; returns (h_last int8 [B, H], trace or None)."""
    x = np.asarray(x)
    kernels.check_backend(backend)
    if trace and backend != "numpy":
        raise FixedRnnError("trace=True needs backend='numpy'")
    overflow.check_product_headroom(cell.input_weight, "lstm.input_fc")
    overflow.check_product_headroom(cell.recurrent_weight, "lstm.recurrent_fc")
    if backend != "numpy":
        return _run_fused(cell, x, input_zero_point, backend == "shift"), None
    batch, steps, _ = x.shape
    units = cell.units
    sig, tanh_g, tanh_c = (t.astype(np.int64) for t in lstm_tables(cell.cell_scale_power))
    gx_all = _gate_fc(x.reshape(batch * steps, -1), cell.input_weight, cell.bias,
                      cell.input_multiplier, cell.input_shift, input_zero_point, "lstm.input_fc")
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
        gh = _gate_fc(h, cell.recurrent_weight, None, cell.recurrent_multiplier,
                      cell.recurrent_shift, zh, "lstm.recurrent_fc")
        gx = gx_all[:, t]
        pre = np.clip(gx + gh, INT16_MIN, INT16_MAX)
        gates = np.empty_like(pre)
        for k in (0, 1, 3):
            gates[:, k] = sig[pre[:, k] + 32768]
        gates[:, 2] = tanh_g[pre[:, 2] + 32768]
        i, f, g, o = gates[:, 0], gates[:, 1], gates[:, 2], gates[:, 3]
        c = np.clip(_mul(f, c, cell.forget_mul, 0, INT16_MIN, INT16_MAX, "lstm.forget_mul")
                    + _mul(i, g, cell.input_mul, 0, INT16_MIN, INT16_MAX, "lstm.input_mul"),
                    INT16_MIN, INT16_MAX)
        h = _mul(tanh_c[c + 32768], o, cell.output_mul, zh, -128, 127,
                 "lstm.output_mul").astype(np.int8)
        if trace:
            rec["gate_x"][:, t], rec["gate_h"][:, t] = gx, gh
            rec["gate_pre"][:, t], rec["gates"][:, t] = pre, gates
            rec["cell"][:, t], rec["hidden"][:, t] = c, h
    return h, rec


def _run_fused(cell, x, input_zero_point, shift_mode):
    from fixedrnn import fused

    units = cell.units
    wx = fused.weight_forms(cell.input_weight.reshape(4 * units, -1), shift_mode)
    wh = fused.weight_forms(cell.recurrent_weight.reshape(4 * units, -1), shift_mode)
    sig, tanh_g, tanh_c = (t.astype(np.int32) for t in lstm_tables(cell.cell_scale_power))
    i64 = lambda a: np.ascontiguousarray(np.asarray(a, np.int64))
    h = np.empty((x.shape[0], units), np.int8)
    status = fused.new_status()
    fused.lstm_sequences(np.ascontiguousarray(x, np.int8), int(input_zero_point), shift_mode, *wx,
                         i64(cell.bias.reshape(-1)), i64(cell.input_multiplier), i64(cell.input_shift),
                         *wh, i64(cell.recurrent_multiplier), i64(cell.recurrent_shift),
                         int(cell.hidden_zero_point), sig, tanh_g, tanh_c,
                         int(cell.forget_mul[0]), int(cell.forget_mul[1]), int(cell.input_mul[0]),
                         int(cell.input_mul[1]), int(cell.output_mul[0]), int(cell.output_mul[1]),
                         h, status)
    fused.raise_on_status(status, fused.LSTM_TENSORS)
    return h
