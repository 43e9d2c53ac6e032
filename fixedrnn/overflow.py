"""When an int32 (or an int16 intermediate) overflows: the one definition the engine's run-time checks
and the budget's static audit share.

C's int32 arithmetic would wrap (formally undefined) where fixedrnn raises
:class:`fixedrnn.errors.FixedRnnError` naming the tensor. Run-time checks (the engine, per value):
- a fully connected row's running sum of products ``Σ W[o, j]·(x[j] − z)`` (:func:`check_product_headroom`);
- that sum plus the bias (:func:`check_accumulator`);
- requantization's ``x · 2**shift`` for a positive shift (:func:`check_requantize_input`).

The static audit (:func:`overflow_audit`, shown by ``python -m fixedrnn.budget MODEL``) bounds every
place of the model where an int32 can leave its range, exactly (Python integers), over all int8
inputs of each op (all int16 inputs of the LSTM's int16 ops; all MFCC values of the front end):

- input normalisation ``mfcc − offset``, its requantization input ``(mfcc − offset) · 2**shift``
  and ``zero point + MBQM(…)``; the MFCC is int16 (q15), or for q31 the range of the front end's
  last step ``wrap32((Σ_i dct[k, i] · mel_i) >> 31)`` over every ``mel_i`` in [−2**28, 2**28 − 1]
  (fixedrnn/frontend/pipeline.py, q31 steps 7–8; the whole int32 range if the sum can wrap); with
  cepstral mean normalisation (``input.cmn``) the differences of two such values, saturated
  (:func:`normalise_input_range`);
- every fully connected row (per LSTM gate): the running sum and the sum plus bias
  (:func:`check_accumulation`), ``acc · 2**shift`` (``<block>.requantize``) and the int8 output's
  ``zero point + MBQM(acc)`` (``<block>.output``);
- the RNN's ADD: ``(v − z) · 2**20`` of each input (its shifts are <= 0 in the file), ``u1 + u2``
  and ``zero point + MBQM(u1 + u2)``; its int8 TANH: ``(p − z) · 2**shift`` for ``|p − z|`` below
  the saturation radius (gemmlowp's Q4.27 tanh after it saturates every step);
- the LSTM's three int16 MULs: ``a · b · 2**shift`` and, for the hidden state, ``z_h + MBQM(…)``;
  its two int16 additions ``gx + gh`` and ``f·c + i·g`` saturate (never overflow: listed as such).
  The int16 LUT kernels' input rescale ``c · 3 · 2**(12 + P)`` is at most 32768 · 3 · 2**12 for the
  file's P <= 0.
"""

import math
from dataclasses import asdict, dataclass

import numpy as np

from fixedrnn.errors import FixedRnnError
from fixedrnn.fixedpoint import INT16_MAX, INT16_MIN, INT32_MAX, INT32_MIN, multiply_by_quantized_multiplier
from fixedrnn.schema import GATES, GRAPH_CELL, fc_blocks, value_at

MAX_INPUT_OFFSET = 255  # largest |x − z| for int8 x and an int8 zero point

ACCUMULATOR = "the accumulator (bias + Σ W·(x − z))"
REQUANTIZE_INPUT = "the requantization input x · 2**shift"


def overflow_message(name, what, value):
    """The one-line error of an int32 overflow in tensor ``name``."""
    return (f"{name}: {what} overflows int32 (exact value {int(value)}); TFLite Micro would compute "
            f"a wrapped value. The model fails the overflow audit (python -m fixedrnn.budget MODEL)")


def check_product_headroom(weight, name):
    """Raise if the running sum of ``W[o, :] · (x − z)`` could leave int32 for some int8 input."""
    w = np.asarray(weight, np.int64)
    if w.size and MAX_INPUT_OFFSET * int(np.abs(w).sum(axis=-1).max()) > INT32_MAX:
        raise FixedRnnError(f"{name}: too many inputs per row: the int32 sum of products could "
                            f"overflow (255 · Σ|W| > 2**31 − 1)")


def check_accumulator(acc, name):
    """``acc`` (exact int64) if every element fits int32, else ``FixedRnnError`` naming ``name``."""
    if acc.size and (acc.min() < INT32_MIN or acc.max() > INT32_MAX):
        bad = acc.min() if acc.min() < INT32_MIN else acc.max()
        raise FixedRnnError(overflow_message(name, ACCUMULATOR, bad))
    return acc


def check_requantize_input(acc, shift, name):
    """Raise unless ``acc · 2**max(shift, 0)`` fits int32 for every element (``shift`` broadcasts)."""
    acc = np.asarray(acc, np.int64)
    shifted = acc << np.maximum(np.asarray(shift, np.int64), 0)
    if shifted.size and (shifted.min() < INT32_MIN or shifted.max() > INT32_MAX):
        bad = acc.ravel()[np.argmax(np.abs(shifted).ravel())]
        raise FixedRnnError(overflow_message(name, REQUANTIZE_INPUT, bad))


# ----------------------------------------------------------------------------------------------
# The static audit

ADD_LEFT_SHIFT = 20  # TFLM int8 ADD's left shift of both inputs
MEL_Q31_RANGE = (-(2**28), 2**28 - 1)  # q31 log-mel values entering the DCT (a saturated int32 >> 3)

WHAT_ACCUMULATOR = "accumulator"
WHAT_REQUANTIZE = "requantization input x * 2**shift"
WHAT_OUTPUT = "zero point + MBQM(x)"


@dataclass(frozen=True)
class Accumulation:
    """One int32 accumulation per output row, as TFLite Micro's fully connected kernel does it:
    ``acc[i] = sum_j w[i, j] * (x[j] - input_zero_point)``, then ``acc[i] += bias[i]``.

    ``weights`` are int8 values ``[out, in]`` (power-of-two codes decoded: a shift by 7 − m is the
    product by 2**(7 − m)); ``bias`` is int32 ``[out]`` or None; x ranges over all of int8.
    """

    name: str
    weights: np.ndarray
    bias: object
    input_zero_point: int


@dataclass(frozen=True)
class OverflowCheck:
    """Worst case of one place of the model over all its inputs (exact integers).

    ``what`` names the quantity (an accumulator, a requantization input ``x · 2**shift``, …);
    ``low``/``high`` bound it over its ``rows`` elements (for an accumulator: at every point of the
    sum, the products' sum and the sum plus bias, over ``inputs`` terms); ``row`` is the element
    reaching the larger magnitude; ``ok`` says the bounds stay within int32; ``headroom_bits`` =
    31 − log2(max |bound|) (negative: overflow); ``saturates``: an addition that clamps its result
    instead of wrapping (listed for completeness, always ok).
    """

    name: str
    rows: int
    inputs: int
    low: int
    high: int
    row: int
    ok: bool
    headroom_bits: float
    what: str = WHAT_ACCUMULATOR
    saturates: bool = False

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(**data)


def _check(name, what, low_rows, high_rows, inputs=1, saturates=False):
    """The :class:`OverflowCheck` of per-row bounds (sequences of Python ints)."""
    low_rows, high_rows = [int(v) for v in low_rows], [int(v) for v in high_rows]
    magnitude = [max(hi, -lo) for lo, hi in zip(low_rows, high_rows)]
    row = magnitude.index(max(magnitude)) if magnitude else 0
    low, high = min(low_rows, default=0), max(high_rows, default=0)
    peak = max(high, -low)
    ok = saturates or (low >= INT32_MIN and high <= INT32_MAX)
    headroom = 31.0 - math.log2(peak) if peak > 0 else 31.0
    return OverflowCheck(name, len(low_rows), int(inputs), low, high, row, bool(ok), round(headroom, 3),
                         what, saturates)


def check_accumulation(acc):
    """The :class:`OverflowCheck` of one :class:`Accumulation` (exact: int64 with a bound check)."""
    w = np.asarray(acc.weights).astype(np.int64)
    if w.ndim != 2:
        raise FixedRnnError(f"{acc.name}: weights must be [out, in], got shape {w.shape}")
    if w.shape[1] * 128 * 256 >= 2**62:
        raise FixedRnnError(f"{acc.name}: {w.shape[1]} inputs is too many to audit")
    bias = _bias(acc, w.shape[0])
    prod_lo, prod_hi = _product_sums(acc)
    # every product's extremes straddle 0, so the running sum's extremes are the full sums
    high_rows = np.maximum(prod_hi, prod_hi + bias)
    low_rows = np.minimum(prod_lo, prod_lo + bias)
    return _check(acc.name, WHAT_ACCUMULATOR, low_rows, high_rows, inputs=w.shape[1])


def _bias(acc, rows):
    if acc.bias is None:
        return np.zeros(rows, dtype=np.int64)
    bias = np.asarray(acc.bias).astype(np.int64).reshape(-1)
    if bias.shape[0] != rows:
        raise FixedRnnError(f"{acc.name}: bias has {bias.shape[0]} entries for {rows} rows")
    return bias


def _product_sums(acc):
    """Per row, the least and greatest ``Σ_j w[i, j] · (x[j] − z)`` over all int8 x (int64)."""
    w = np.asarray(acc.weights).astype(np.int64)
    zp = int(acc.input_zero_point)
    lo_x, hi_x = -128 - zp, 127 - zp  # x − z for int8 x; lo_x <= 0 <= hi_x for an int8 zero point
    return (np.where(w > 0, w * lo_x, w * hi_x).sum(axis=1), np.where(w > 0, w * hi_x, w * lo_x).sum(axis=1))


def accumulations(model):
    """Every int32 accumulation of a :class:`fixedrnn.model.Model`: the FCs of the cell (per gate for
    the LSTM, named ``lstm.input_fc[f]`` etc.) and the head, with their rows' multiplier and shift
    (``[out]`` int64 arrays) and output zero point (None for the LSTM's int16 gate outputs)."""
    out = []
    for block in fc_blocks(model.cell):
        weights = np.asarray(value_at(model, block.attrs["weight"]))
        bias = value_at(model, block.attrs["bias"]) if block.has_bias else None
        zero_point = int(value_at(model, block.input[1]))
        m = np.asarray(value_at(model, block.attrs["multiplier"]), np.int64)
        s = np.asarray(value_at(model, block.attrs["shift"]), np.int64)
        z_out = int(value_at(model, block.attrs["output_zero_point"])) if "output_zero_point" in block.attrs else None
        if weights.ndim == 3:  # LSTM: one accumulation per gate, per-gate multiplier and shift
            for k, gate in enumerate(GATES):
                rows = weights.shape[1]
                out.append((Accumulation(f"{block.name}[{gate}]", weights[k], None if bias is None else bias[k],
                                         zero_point), np.full(rows, m[k]), np.full(rows, s[k]), z_out))
        else:
            rows = weights.shape[0]
            out.append((Accumulation(block.name, weights, bias, zero_point),
                        np.broadcast_to(m, (rows,)), np.broadcast_to(s, (rows,)), z_out))
    return out


def _requantization_checks(name, low_rows, high_rows, multiplier, shift, zero_point):
    """``<name>.requantize`` (x · 2**max(shift, 0) for x in [low, high] per row) and, with an
    output ``zero_point``, ``<name>.output`` (zero point + MBQM(x); MBQM is monotone in x)."""
    low_rows, high_rows = [int(v) for v in low_rows], [int(v) for v in high_rows]
    left = [max(int(v), 0) for v in shift]
    checks = [_check(f"{name}.requantize", WHAT_REQUANTIZE, [lo << s for lo, s in zip(low_rows, left)],
                     [hi << s for hi, s in zip(high_rows, left)])]
    if zero_point is not None and checks[0].ok:
        ends = [multiply_by_quantized_multiplier(np.array(v, np.int64), multiplier, shift).astype(np.int64)
                for v in (low_rows, high_rows)]
        checks.append(_check(f"{name}.output", WHAT_OUTPUT, ends[0] + zero_point, ends[1] + zero_point))
    return checks


def mfcc_range(model):
    """(low, high) int arrays ``[n_mfcc]``: every value the model's front end can output (module doc)."""
    n = model.n_features
    if model.frontend.precision == "q15":
        return [INT16_MIN] * n, [INT16_MAX] * n
    from fixedrnn.mfcc import make_tables

    dct = make_tables(model.frontend.mfcc_config()).arrays("q31")["dct"].astype(object).reshape(n, -1)
    m_lo, m_hi = MEL_Q31_RANGE
    low = [sum(min(d * m_lo, d * m_hi) for d in row) >> 31 for row in dct]
    high = [sum(max(d * m_lo, d * m_hi) for d in row) >> 31 for row in dct]
    if min(low) < INT32_MIN or max(high) > INT32_MAX:  # wrap32 can give any int32
        return [INT32_MIN] * n, [INT32_MAX] * n
    return low, high


def normalise_input_range(model):
    """(low, high) int arrays ``[n_mfcc]``: every value the int8 normalisation can read — the front
    end's (:func:`mfcc_range`), or with cepstral mean normalisation (``input.cmn`` "window") the
    differences ``x − m`` of two values of that range, saturated to the front end's width."""
    lo, hi = mfcc_range(model)
    if model.input.cmn == "off":
        return lo, hi
    w_lo, w_hi = (INT16_MIN, INT16_MAX) if model.frontend.precision == "q15" else (INT32_MIN, INT32_MAX)
    return ([max(w_lo, a - b) for a, b in zip(lo, hi)], [min(w_hi, b - a) for a, b in zip(lo, hi)])


def _input_checks(model):
    q = model.input
    m_lo, m_hi = normalise_input_range(model)
    offset = [int(v) for v in q.offset]
    d_lo = [lo - off for lo, off in zip(m_lo, offset)]
    d_hi = [hi - off for hi, off in zip(m_hi, offset)]
    checks = [_check("input.normalise", "mfcc - offset", d_lo, d_hi)]
    if checks[0].ok:
        checks += _requantization_checks("input", d_lo, d_hi, q.multiplier, q.shift, q.zero_point)
    return checks


def _rnn_checks(model):
    c = model.rnn
    add, checks = c.add, []
    u_ranges = []
    for which, fc in (("input1", c.input_fc), ("input2", c.recurrent_fc)):
        z = fc.output_zero_point
        lo, hi = (-128 - z) << ADD_LEFT_SHIFT, (127 - z) << ADD_LEFT_SHIFT
        m, s = getattr(add, f"{which}_multiplier"), getattr(add, f"{which}_shift")
        check = _requantization_checks(f"rnn.add.{which}", [lo], [hi], [m], [s], None)[0]
        checks.append(check)
        if check.ok:
            u_ranges.append([int(multiply_by_quantized_multiplier(v, m, s)) for v in (lo, hi)])
    if len(u_ranges) == 2:
        lo, hi = u_ranges[0][0] + u_ranges[1][0], u_ranges[0][1] + u_ranges[1][1]
        checks.append(_check("rnn.add.sum", "u1 + u2", [lo], [hi]))
        if checks[-1].ok:
            checks += _requantization_checks("rnn.add", [lo], [hi], [add.output_multiplier], [add.output_shift],
                                             add.output_zero_point)
    radius = c.tanh.input_range_radius
    z = add.output_zero_point
    d_lo, d_hi = max(-128 - z, 1 - radius), min(127 - z, radius - 1)
    if d_lo <= d_hi:  # some input reaches the fixed-point tanh
        checks += _requantization_checks("rnn.tanh", [d_lo], [d_hi], [c.tanh.input_multiplier],
                                         [c.tanh.input_shift], None)
    return checks


def _lstm_checks(model):
    c = model.lstm
    int16 = (INT16_MIN, INT16_MAX)
    products = (INT16_MIN * INT16_MAX, INT16_MIN * INT16_MIN)  # over all int16 a, b
    checks = [_check("lstm.gate_pre", "gx + gh (int16, saturating)", [2 * INT16_MIN], [2 * INT16_MAX],
                     saturates=True)]
    for name, zero_point in (("forget_mul", None), ("input_mul", None), ("output_mul", c.hidden_zero_point)):
        m, s = getattr(c, name)
        checks += _requantization_checks(f"lstm.{name}", [products[0]], [products[1]], [m], [s], zero_point)
        if name == "input_mul":
            checks.append(_check("lstm.cell", "f*c + i*g (int16, saturating)", [2 * int16[0]], [2 * int16[1]],
                                 saturates=True))
    return checks


def overflow_audit(model):
    """Every :class:`OverflowCheck` of a :class:`fixedrnn.model.Model`, in the order a step computes
    them: input normalisation, the cell's FCs and element-wise ops, the head (module doc)."""
    checks = _input_checks(model)
    if model.cell == GRAPH_CELL:
        return checks + _graph_checks(model.graph)
    fcs = accumulations(model)
    for acc, multiplier, shift, zero_point in fcs[:-1]:
        checks += _fc_checks(acc, multiplier, shift, zero_point)
    checks += _rnn_checks(model) if model.cell == "rnn" else _lstm_checks(model)
    acc, multiplier, shift, zero_point = fcs[-1]
    return checks + _fc_checks(acc, multiplier, shift, zero_point)


def _graph_checks(graph):
    """The FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D ops of a graph model
    (:class:`fixedrnn.graph.Graph`), named ``op K NAME``: accumulator and requantization bounds, as
    the cells' FCs (a convolution's output channel is a row over its taps: a tap outside the image
    adds 0, as an input at the zero point would, so the bounds hold at the edges too). Its ADD / SUB
    inputs ``(v − z) · 2**20`` and MUL products ``(a − z1)(b − z2)`` of int8 values are below 2**28
    whatever the quantisation, so they are not listed."""
    from fixedrnn.graph import STRUCTURE_COUNTS

    checks = []
    for k in range(graph.n_ops):
        name = graph.op_name(k)
        if name not in ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D"):
            continue
        ins, p = graph.inputs(k), graph.op_params(k)
        weights = graph.constant(ins[1])
        if name == "CONV_2D":  # one row per output channel: its taps over every input channel
            weights = weights.reshape(weights.shape[0], -1)
        elif name == "DEPTHWISE_CONV_2D":  # output channel o: its KH·KW taps of one input channel
            weights = weights.reshape(-1, weights.shape[3]).T
        rows = weights.shape[0]
        if name != "FULLY_CONNECTED":
            p = p[STRUCTURE_COUNTS[name] + 2:]  # the multipliers and shifts after the structure and range
        bias = graph.constant(ins[2]) if len(ins) > 2 and ins[2] >= 0 else None
        acc = Accumulation(f"op {k} {name}", weights, bias, int(graph.zero_point[ins[0]]))
        checks += _fc_checks(acc, np.asarray(p[:rows], np.int64), np.asarray(p[rows:], np.int64),
                             int(graph.zero_point[graph.outputs(k)[0]]))
    return checks


def _fc_checks(acc, multiplier, shift, zero_point):
    checks = [check_accumulation(acc)]
    if checks[0].ok:
        bias = _bias(acc, np.asarray(acc.weights).shape[0])
        prod_lo, prod_hi = _product_sums(acc)
        checks += _requantization_checks(acc.name, prod_lo + bias, prod_hi + bias, multiplier, shift, zero_point)
    return checks


def require_no_overflow(model, what):
    """Raise a one-line :class:`FixedRnnError` (``what`` first, e.g. "export c") naming every tensor
    of :func:`overflow_audit` that can overflow int32; None when none can."""
    bad = [check.name for check in overflow_audit(model) if not check.ok]
    if bad:
        raise FixedRnnError(f"{what}: refused: int32 overflow possible in {', '.join(bad)} "
                            f"(python -m fixedrnn.budget MODEL shows the overflow audit)")
