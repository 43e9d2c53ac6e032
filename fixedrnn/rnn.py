"""Vanilla RNN cell as TFLM runs the unrolled graph: per step FC(x_t), FC(h_{t−1}), ADD, TANH.

Shapes: ``x`` int8 ``[B, T, I]``; hidden state int8 ``[B, H]`` at scale 1/128, zero point 0,
starting at 0. Per step (docs/model-format.md), as a composition of :mod:`fixedrnn.ops`:
``a = FC_s8(x_t)`` (with bias), ``r = FC_s8(h)`` (no bias), ``p = ADD_s8(a, r)``, ``h = TANH_s8(p)``.
Returns the last hidden state int8 ``[B, H]`` and, on the NumPy path if asked, a trace of int8
``[B, T, H]`` arrays: ``input_fc``, ``recurrent_fc``, ``add`` (the tanh input) and ``hidden``.

Backends: ``"numpy"`` (the ops' references, traceable), ``"numba"`` / ``"shift"`` (the fused kernel
of :mod:`fixedrnn.fused`, int8 or shift-only MACs); all equal bit for bit, and all raise the same
overflow errors (:mod:`fixedrnn.overflow`).
"""

from typing import NamedTuple

import numpy as np

from fixedrnn.ops import elementwise, fully_connected, tanh_s8
from fixedrnn.ops.elementwise import AddS8Params
from fixedrnn.ops.fully_connected import FullyConnectedParams
from fixedrnn.ops.requantize import frozen
from fixedrnn.ops.tanh_s8 import TanhS8Params

TENSORS = ("rnn.input_fc", "rnn.recurrent_fc")


class RnnParams(NamedTuple):
    """The prepared cell: input FC (s8 → s8, bias), recurrent FC (s8 → s8), ADD s8, TANH s8, and
    ``add_tanh`` int8 ``[256 · 256]``: TANH(ADD(a, r)) of every pair of int8 FC outputs at
    ``(a + 128) · 256 + r + 128`` (:func:`add_tanh_table`, the fused kernels' one lookup)."""

    input_fc: FullyConnectedParams
    recurrent_fc: FullyConnectedParams
    add: AddS8Params
    tanh: TanhS8Params
    add_tanh: np.ndarray


def add_tanh_table(add, tanh):
    """int8 ``[256 · 256]``: ``tanh_s8(add_s8(a, r))`` (the ops' references) for every int8 ``a``
    (major) and ``r``, at ``(a + 128) · 256 + r + 128``."""
    a, r = np.meshgrid(np.arange(-128, 128), np.arange(-128, 128), indexing="ij")
    return frozen(tanh_s8.lookup(tanh, elementwise.add_s8_reference(add, a, r)).reshape(-1), np.int8)


def prepare(cell, input_zero_point, pot_weights, sparse_weights=False):
    """:class:`RnnParams` of a stored :class:`fixedrnn.model.RnnCell` (product headroom checked;
    ``sparse_weights``: the FCs' compressed rows too, :mod:`fixedrnn.sparse`)."""
    fx, fh = cell.input_fc, cell.recurrent_fc
    add = elementwise.prepare_add_s8(cell.add, fx.output_zero_point, fh.output_zero_point)
    tanh = tanh_s8.prepare(cell.add.output_zero_point, cell.tanh)
    return RnnParams(
        fully_connected.prepare(fx.weight, fx.bias, fx.multiplier, fx.shift, input_zero_point,
                                fx.output_zero_point, -128, 127, TENSORS[0], pot_weights, sparse_weights),
        fully_connected.prepare(fh.weight, None, fh.multiplier, fh.shift, cell.hidden_zero_point,
                                fh.output_zero_point, -128, 127, TENSORS[1], pot_weights, sparse_weights),
        add, tanh, add_tanh_table(add, tanh))


def initial_state(params, batch=1):
    """The state before the first step: ``h`` int8 ``[batch, H]`` of zeros (zero point 0)."""
    return np.zeros((batch, params.input_fc.bias.shape[0]), np.int8)


def input_fc(params, x):
    """The input FC of any number of steps: ``x`` int8 ``[N, I]`` → int8 ``[N, H]`` (it does not
    depend on the state, so a batch path computes it for all steps at once)."""
    return fully_connected.reference(params.input_fc, x, TENSORS[0])


def step_from_input_fc(params, a, h):
    """One step given its input FC ``a`` int8 ``[B, H]`` and the state ``h`` int8 ``[B, H]``;
    returns ``(r, p, h_new)``: the recurrent FC, the ADD (tanh input) and the new state, int8."""
    r = fully_connected.reference(params.recurrent_fc, h, TENSORS[1])
    p = elementwise.add_s8_reference(params.add, a, r)
    return r, p, tanh_s8.lookup(params.tanh, p)


def run_rnn(params, x, trace=False):
    """Run the cell over ``x`` int8 ``[B, T, I]`` with the ops' references (the ``"numpy"`` backend;
    :mod:`fixedrnn.fused` is the numba one); returns (h_last int8 [B, H], trace or None)."""
    x = np.asarray(x)
    batch, steps, _ = x.shape
    a_all = input_fc(params, x.reshape(batch * steps, -1)).reshape(batch, steps, -1)
    h = initial_state(params, batch)
    units = h.shape[1]
    rec = {k: np.empty((batch, steps, units), np.int8) for k in
           ("input_fc", "recurrent_fc", "add", "hidden")} if trace else None
    for t in range(steps):
        a = a_all[:, t]
        r, p, h = step_from_input_fc(params, a, h)
        if trace:
            rec["input_fc"][:, t] = a
            rec["recurrent_fc"][:, t] = r
            rec["add"][:, t] = p
            rec["hidden"][:, t] = h
    return h, rec
