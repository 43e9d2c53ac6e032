"""Vanilla RNN cell as TFLM runs the unrolled graph: per step FC(x_t), FC(h_{t−1}), ADD, TANH.

Shapes: ``x`` int8 ``[B, T, I]`` (zero point ``input_zero_point``); hidden state int8 ``[B, H]`` at
scale 1/128, zero point 0, starting at 0. Returns the last hidden state int8 ``[B, H]`` and, on the
NumPy path if asked, a trace of int8 ``[B, T, H]`` arrays: ``input_fc``, ``recurrent_fc``, ``add``
(the tanh input) and ``hidden``.

Backends (all equal bit for bit): ``"numpy"`` (int64 NumPy, traceable), ``"numba"`` (exact float64
BLAS accumulation + numba requantization), ``"shift"`` (power-of-two weights only: shift-and-add
MACs in numba, no multiply).
"""

import numpy as np

from fixedrnn import kernels
from fixedrnn.activations import tanh_int8_table
from fixedrnn.errors import FixedRnnError

BACKENDS = ("numpy", "numba", "shift")


def _tanh_table(cell):
    t = cell.tanh
    return tanh_int8_table(cell.add.output_zero_point, t.input_multiplier, t.input_shift,
                           t.input_range_radius)


class _Accumulator:
    """``acc(x [B, in]) → int64 [B, out]`` for one FC, by backend."""

    def __init__(self, fc, zero_point, backend):
        self.fc, self.zero_point, self.backend = fc, int(zero_point), backend
        if backend == "numba":
            self.wt = np.ascontiguousarray(fc.weight.T, dtype=np.float64)
        elif backend == "shift":
            shift, sign = kernels.pot_shift_tables(fc.weight)
            self.shift, self.sign = np.ascontiguousarray(shift), np.ascontiguousarray(sign)
            self.bias = fc.bias if fc.bias is not None else np.zeros(fc.weight.shape[0], np.int32)

    def __call__(self, x):
        fc = self.fc
        if self.backend == "numpy":
            return kernels.fc_accumulate(x, fc.weight, self.zero_point, fc.bias)
        if self.backend == "numba":
            return kernels.fc_accumulate_exact_float(x, self.wt, self.zero_point, fc.bias)
        acc = np.empty((x.shape[0], fc.weight.shape[0]), np.int64)
        kernels.pot_shift_accumulate_nb(np.ascontiguousarray(x), self.zero_point, self.shift,
                                        self.sign, self.bias, fc.bias is not None, acc)
        return acc


def check_backend(backend, weights):
    if backend not in BACKENDS:
        raise FixedRnnError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "shift" and weights != "pot":
        raise FixedRnnError("backend 'shift' needs a power-of-two model (weights = 'pot')")


def run_rnn(cell, x, input_zero_point, backend="numpy", trace=False):
    """Run the cell over ``x`` int8 ``[B, T, I]``; returns (h_last int8 [B, H], trace or None)."""
    x = np.asarray(x)
    batch, steps, _ = x.shape
    units = cell.units
    table = _tanh_table(cell)
    if backend != "numpy" and not trace:
        return _run_fused(cell, x, input_zero_point, backend == "shift", table), None
    acc_x = _Accumulator(cell.input_fc, input_zero_point, backend)
    acc_h = _Accumulator(cell.recurrent_fc, 0, backend)
    fx, fh, add = cell.input_fc, cell.recurrent_fc, cell.add
    # The input FC does not depend on the state: all steps at once.
    a_all = np.empty((batch * steps, units), np.int64)
    acc = acc_x(x.reshape(batch * steps, -1))
    if backend == "numpy":
        a_all = kernels.requantize(acc, fx.multiplier, fx.shift, fx.output_zero_point, -128, 127)
    else:
        kernels.requantize_nb(acc, fx.multiplier.astype(np.int64), fx.shift.astype(np.int64),
                              fx.output_zero_point, -128, 127, a_all)
    a_all = a_all.reshape(batch, steps, units)
    h = np.zeros((batch, units), np.int8)
    rec = {k: np.empty((batch, steps, units), np.int8) for k in
           ("input_fc", "recurrent_fc", "add", "hidden")} if trace else None
    r = np.empty((batch, units), np.int64)
    p = np.empty((batch, units), np.int64)
    for t in range(steps):
        a = a_all[:, t]
        acc = acc_h(h)
        if backend == "numpy":
            r = kernels.requantize(acc, fh.multiplier, fh.shift, fh.output_zero_point, -128, 127)
            p = kernels.add_int8(a, fx.output_zero_point, r, fh.output_zero_point, add)
        else:
            kernels.requantize_nb(acc, fh.multiplier.astype(np.int64), fh.shift.astype(np.int64),
                                  fh.output_zero_point, -128, 127, r)
            kernels.add_int8_nb(np.ascontiguousarray(a), fx.output_zero_point, r,
                                fh.output_zero_point, add.input1_multiplier, add.input1_shift,
                                add.input2_multiplier, add.input2_shift, add.output_multiplier,
                                add.output_shift, add.output_zero_point, p)
        h = table[np.asarray(p, np.int64) + 128]
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
    fused.rnn_sequences(np.ascontiguousarray(x, np.int8), int(input_zero_point), shift_mode,
                        *fused.weight_forms(fx.weight, shift_mode), i64(fx.bias), i64(fx.multiplier),
                        i64(fx.shift), int(fx.output_zero_point),
                        *fused.weight_forms(fh.weight, shift_mode), i64(fh.multiplier), i64(fh.shift),
                        int(fh.output_zero_point), add.input1_multiplier, add.input1_shift,
                        add.input2_multiplier, add.input2_shift, add.output_multiplier,
                        add.output_shift, add.output_zero_point, table.astype(np.int32), h)
    return h
