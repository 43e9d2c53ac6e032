"""TFLM's UNIDIRECTIONAL_SEQUENCE_LSTM, 8x8→16 integer form (lstm_eval.h ``LstmStep``), as a
composition of :mod:`fixedrnn.ops` on typed parameter blocks (TFLM's lstm_shared.h).

Shapes: ``x`` int8 ``[B, T, I]``; gate tensors on axis ``[..., 4, H]`` in order i, f, g, o.
Per step and gate (:class:`GateParameters`): ``gx = FC_s8→s16(x − z_x)`` (with bias), ``gh =
FC_s8→s16(h − z_h)``, ``z = ADD_s16_sat(gx, gh)`` (Q3.12); i, f, o = LOGISTIC_s16(z), g =
TANH_s16(z) (Q0.15). Between gates (:class:`InterGateParameters`): ``c = ADD_s16_sat(MUL_s16(f, c),
MUL_s16(i, g))`` (scale 2**P), then, with a cell clip q > 0, ``c = clamp(c, −q, q)`` (TFLM's
``Clipping``); ``h = MUL_s16→s8(o, TANH_s16(c))`` (zero point z_h).
Initial state c = 0, h = z_h. Returns the last hidden int8 ``[B, H]`` and, on the NumPy path if
asked, a trace: ``gate_x``, ``gate_h``, ``gate_pre``, ``gates`` int16 ``[B, T, 4, H]``, ``cell`` int16
``[B, T, H]``, ``hidden`` int8 ``[B, T, H]``.

Backends as :mod:`fixedrnn.rnn`: ``"numpy"`` (the ops' references, traceable), ``"numba"`` and
``"shift"`` (the fused kernel of :mod:`fixedrnn.fused`).
"""

from typing import NamedTuple

import numpy as np

from fixedrnn.fixedpoint import INT16_MAX, INT16_MIN
from fixedrnn.ops import elementwise, fully_connected, lut_s16
from fixedrnn.ops.elementwise import MulParams
from fixedrnn.ops.fully_connected import FullyConnectedParams
from fixedrnn.ops.lut_s16 import LutS16Params

TENSORS = ("lstm.input_fc", "lstm.recurrent_fc", "lstm.forget_mul", "lstm.input_mul",
           "lstm.output_mul")


class GateParameters(NamedTuple):
    """One gate: ``input_fc`` (x, with the gate's bias) and ``recurrent_fc`` (h), both s8 → s16
    Q3.12, and its ``activation`` (LOGISTIC s16, or TANH s16 for the cell gate g)."""

    input_fc: FullyConnectedParams
    recurrent_fc: FullyConnectedParams
    activation: LutS16Params


class InterGateParameters(NamedTuple):
    """The products between gates: ``forget_cell_mul`` (f·c → s16 at 2**P), ``input_cell_gate_mul``
    (i·g → s16 at 2**P), ``output_mul`` (o·tanh(c) → s8 hidden state), ``cell_tanh`` (TANH s16
    of the cell state at 2**P) and ``cell_clip`` (the quantized cell clip q: the new cell state is
    clamped to [−q, q]; 0: no clip)."""

    forget_cell_mul: MulParams
    input_cell_gate_mul: MulParams
    output_mul: MulParams
    cell_tanh: LutS16Params
    cell_clip: int


class LstmParams(NamedTuple):
    """The prepared cell: ``gates`` (i, f, g, o) :class:`GateParameters`, ``inter_gate``."""

    gates: tuple
    inter_gate: InterGateParameters


def prepare(cell, input_zero_point, pot_weights, sparse_weights=False):
    """:class:`LstmParams` of a stored :class:`fixedrnn.model.LstmCell` (product headroom checked,
    LUTs tabulated; ``sparse_weights``: each gate FC's compressed rows too, :mod:`fixedrnn.sparse`)."""
    sigmoid, gate_tanh, cell_tanh = lut_s16.prepare_lstm(cell.cell_scale_power)
    zh = cell.hidden_zero_point
    gates = []
    for k in range(4):
        fx = fully_connected.prepare(cell.input_weight[k], cell.bias[k], cell.input_multiplier[k],
                                     cell.input_shift[k], input_zero_point, 0, INT16_MIN, INT16_MAX,
                                     TENSORS[0], pot_weights, sparse_weights)
        fh = fully_connected.prepare(cell.recurrent_weight[k], None, cell.recurrent_multiplier[k],
                                     cell.recurrent_shift[k], zh, 0, INT16_MIN, INT16_MAX,
                                     TENSORS[1], pot_weights, sparse_weights)
        gates.append(GateParameters(fx, fh, gate_tanh if k == 2 else sigmoid))
    inter = InterGateParameters(
        elementwise.prepare_mul(cell.forget_mul, 0, INT16_MIN, INT16_MAX),
        elementwise.prepare_mul(cell.input_mul, 0, INT16_MIN, INT16_MAX),
        elementwise.prepare_mul(cell.output_mul, zh, -128, 127), cell_tanh, int(cell.cell_clip or 0))
    return LstmParams(tuple(gates), inter)


class LstmState(NamedTuple):
    """The cell's state: ``h`` int8 ``[B, H]`` (zero point z_h) and ``c`` int16 ``[B, H]`` (scale 2**P)."""

    h: np.ndarray
    c: np.ndarray


def _gate_fcs(gates, which, x, name):
    """Every gate's FC ``which`` of ``x [N, in]`` → int16 Q3.12 ``[N, 4, H]``."""
    return np.stack([fully_connected.reference(getattr(g, which), x, name) for g in gates], axis=1)


def initial_state(params, batch=1):
    """The state before the first step: ``h = z_h``, ``c = 0``."""
    units = params.gates[0].input_fc.bias.shape[0]
    return LstmState(np.full((batch, units), params.inter_gate.output_mul.zero_point, np.int8),
                     np.zeros((batch, units), np.int16))


def input_fc(params, x):
    """Every gate's input FC of any number of steps: ``x`` int8 ``[N, I]`` → int16 Q3.12
    ``[N, 4, H]`` (state-independent, so a batch path computes it for all steps at once)."""
    return _gate_fcs(params.gates, "input_fc", x, TENSORS[0])


def step_from_input_fc(params, gx, state):
    """One step given the gates' input FCs ``gx`` int16 ``[B, 4, H]`` and the :class:`LstmState`;
    returns ``(gh, pre, act, new_state)``: recurrent FCs, gate pre-activations and activations
    (int16 ``[B, 4, H]``) and the new :class:`LstmState`."""
    gates, inter = params.gates, params.inter_gate
    gh = _gate_fcs(gates, "recurrent_fc", state.h, TENSORS[1])
    pre = elementwise.add_s16_saturating_reference(None, gx, gh)
    act = np.stack([lut_s16.reference(g.activation, pre[:, k]) for k, g in enumerate(gates)], axis=1)
    i, f, g, o = act[:, 0], act[:, 1], act[:, 2], act[:, 3]
    c = elementwise.add_s16_saturating_reference(
        None, elementwise.mul_reference(inter.forget_cell_mul, f, state.c, TENSORS[2]),
        elementwise.mul_reference(inter.input_cell_gate_mul, i, g, TENSORS[3]))
    if inter.cell_clip:
        c = np.clip(c, -inter.cell_clip, inter.cell_clip).astype(np.int16)
    h = elementwise.mul_reference(inter.output_mul, lut_s16.reference(inter.cell_tanh, c), o,
                                  TENSORS[4]).astype(np.int8)
    return gh, pre, act, LstmState(h, c)


def run_lstm(params, x, trace=False):
    """Run the cell over ``x`` int8 ``[B, T, I]`` with the ops' references (the ``"numpy"`` backend;
    :mod:`fixedrnn.fused` is the numba one); returns (h_last int8 [B, H], trace or None)."""
    x = np.asarray(x)
    batch, steps, _ = x.shape
    gx_all = input_fc(params, x.reshape(batch * steps, -1)).reshape(batch, steps, 4, -1)
    state = initial_state(params, batch)
    units = state.h.shape[1]
    rec = None
    if trace:
        rec = {k: np.empty((batch, steps, 4, units), np.int16) for k in
               ("gate_x", "gate_h", "gate_pre", "gates")}
        rec["cell"] = np.empty((batch, steps, units), np.int16)
        rec["hidden"] = np.empty((batch, steps, units), np.int8)
    for t in range(steps):
        gx = gx_all[:, t]
        gh, pre, act, state = step_from_input_fc(params, gx, state)
        if trace:
            rec["gate_x"][:, t], rec["gate_h"][:, t] = gx, gh
            rec["gate_pre"][:, t], rec["gates"][:, t] = pre, act
            rec["cell"][:, t], rec["hidden"][:, t] = state.c, state.h
    return state.h, rec
