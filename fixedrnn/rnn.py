"""Vanilla RNN cell as TFLM runs the unrolled graph: per step FC(x_t), FC(h_{t−1}), ADD, TANH.

Shapes: ``x`` int8 ``[B, T, I]`` (zero point ``input_zero_point``); hidden state int8 ``[B, H]`` at
scale 1/128, zero point 0, starting at 0. Per step (docs/model-format.md):
``a = sat8(z_a + MBQM(b + W·(x_t − z_x)))``, ``r = sat8(z_r + MBQM(U·h))``, ``p = ADD(a, r)``
(TFLM int8 ADD), ``h = TANH(p)`` (TFLM int8 TANH, a 256-entry table per model). Returns the last
hidden state int8 ``[B, H]`` and, on the NumPy path if asked, a trace of int8 ``[B, T, H]`` arrays:
``input_fc``, ``recurrent_fc``, ``add`` (the tanh input) and ``hidden``.

Backends (all equal bit for bit; see :mod:`fixedrnn.kernels` for the overflow errors every path
raises): ``"numpy"`` (int64 NumPy reference, traceable), ``"numba"`` (fused batch kernel,
:mod:`fixedrnn.fused`), ``"shift"`` (the fused kernel with shift-and-add MACs, power-of-two weights).
"""

import numpy as np

from fixedrnn import kernels, overflow
from fixedrnn.activations import tanh_int8_table
from fixedrnn.errors import FixedRnnError


def _tanh_table(cell):
    t = cell.tanh
    return tanh_int8_table(cell.add.output_zero_point, t.input_multiplier, t.input_shift,
                           t.input_range_radius)


def run_rnn(cell, x, input_zero_point, backend="numpy", trace=False):
    """Run the cell over ``x`` int8 ``[B, T, I]``; returns (h_last int8 [B, H], trace or None)."""
    x = np.asarray(x)
    kernels.check_backend(backend)
    if trace and backend != "numpy":
        raise FixedRnnError("trace=True needs backend='numpy'")
    overflow.check_product_headroom(cell.input_fc.weight, "rnn.input_fc")
    overflow.check_product_headroom(cell.recurrent_fc.weight, "rnn.recurrent_fc")
    table = _tanh_table(cell)
    if backend != "numpy":
        return _run_fused(cell, x, input_zero_point, backend == "shift", table), None
    batch, steps, _ = x.shape
    units = cell.units
    fx, fh, add = cell.input_fc, cell.recurrent_fc, cell.add
    # The input FC does not depend on the state: all steps at once.
    acc = kernels.fc_accumulate(x.reshape(batch * steps, -1), fx.weight, input_zero_point, fx.bias,
                                "rnn.input_fc")
    a_all = kernels.requantize(acc, fx.multiplier, fx.shift, fx.output_zero_point, -128, 127,
                               "rnn.input_fc").reshape(batch, steps, units)
    h = np.zeros((batch, units), np.int8)
    rec = {k: np.empty((batch, steps, units), np.int8) for k in
           ("input_fc", "recurrent_fc", "add", "hidden")} if trace else None
    for t in range(steps):
        a = a_all[:, t]
        acc = kernels.fc_accumulate(h, fh.weight, 0, None, "rnn.recurrent_fc")
        r = kernels.requantize(acc, fh.multiplier, fh.shift, fh.output_zero_point, -128, 127,
                               "rnn.recurrent_fc")
        p = kernels.add_int8(a, fx.output_zero_point, r, fh.output_zero_point, add)
        h = table[p.astype(np.int64) + 128]
        if trace:
            rec["input_fc"][:, t] = a
            rec["recurrent_fc"][:, t] = r
            rec["add"][:, t] = p
            rec["hidden"][:, t] = h
    return h, rec


def _run_fused(cell, x, input_zero_point, shift_mode, table):
    from fixedrnn import fused

    fx, fh, add = cell.input_fc, cell.recurrent_fc, cell.add
    i64 = lambda a: np.ascontiguousarray(np.asarray(a, np.int64))
    h = np.empty((x.shape[0], cell.units), np.int8)
    status = fused.new_status()
    fused.rnn_sequences(np.ascontiguousarray(x, np.int8), int(input_zero_point), shift_mode,
                        *fused.weight_forms(fx.weight, shift_mode), i64(fx.bias), i64(fx.multiplier),
                        i64(fx.shift), int(fx.output_zero_point),
                        *fused.weight_forms(fh.weight, shift_mode), i64(fh.multiplier), i64(fh.shift),
                        int(fh.output_zero_point), add.input1_multiplier, add.input1_shift,
                        add.input2_multiplier, add.input2_shift, add.output_multiplier,
                        add.output_shift, add.output_zero_point, table.astype(np.int32), h, status)
    fused.raise_on_status(status, fused.RNN_TENSORS)
    return h
