"""Op conformance: every integer op the engine and the firmware run, op by op, on every backend —
NumPy (the op's definition, ``fixedrnn.ops.<op>.reference``), numba, C built for the host, C on QEMU's
Cortex-M4 — against the op's definition, 0 LSB.

C side: the public API of fixedrnn/c/frnn_kernels.h, driven by tools/firmware/kernel_main.c (its
header comment is the record format) on the host and on QEMU's Cortex-M4 at -O2 and -Os, with the
DSP intrinsics and in portable C, hard float, and at -O0; one run per build handles every record. Python side:
:data:`REFERENCE`, the one place naming the definition of each op. Inputs are random and edge:
int8 extremes, zero points at both ends, per-channel multipliers (0, 2**30, 2**31 − 1 included),
shifts from −31 to the largest positive shift that cannot overflow, zero and saturating
accumulators, power-of-two codes with m = 0, odd starts and lengths, in-place calls; all 65,536
int16 inputs of the int16 LUT activations with TFLite's sigmoid table; all 256 int8 inputs of int8
TANH at TFLM-derived parameter sets. The primitives (srdhm, rdbypot, mbqm, gemmlowp's tanh, the two
dot products) are checked too, the dot products against exact Python integers.
"""

import dataclasses
import functools
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from fixedrnn import c_export, convert, fixedpoint, gemmlowp, ops, pot_pairs, quant
from fixedrnn.model import AddParams, InputQuant, TanhParams, load
from fixedrnn.ops import elementwise as elementwise_ops
from fixedrnn.ops import fully_connected, lut_s16, normalise, tanh_s8

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "firmware"))

import runner  # noqa: E402

pytestmark = pytest.mark.slow  # four C builds, two of them under QEMU: not in the quick subset (pytest -m "not slow")

# --- The Python side: every op through fixedrnn.ops, on its two Python backends ------------------------
#
# Each entry of REFERENCE prepares the op's params from the case's integers (fixedrnn.ops.<module>.
# prepare*, as the engine does) and runs the op's registered implementation ``impl``: "reference" (the
# op's definition, exact int64 NumPy: the engine's NumPy backend) or "numba" (the fused kernels' numba
# code). The primitives (srdhm, rdbypot, mbqm) are fixedrnn.fixedpoint's rules — one numba scalar each,
# whose array forms are the same compiled rule — and gemmlowp's tanh; the dot products are checked
# against exact Python integers.


def _exact_dot(weight, x, input_offset, impl=None):
    """``Σ w·(x + input_offset)`` in Python integers (an independent oracle for both dot products)."""
    return sum(int(w) * (int(v) + input_offset) for w, v in zip(weight, x))


def _primitive(func):
    """A fixedpoint rule (one compiled rule for both Python backends: ``impl`` is not needed)."""
    return lambda *args, impl=None: func(*args)


def _run(name, impl, params, *inputs):
    entry = ops.op(name)
    return (entry.reference if impl == "reference" else entry.numba)(params, *inputs)


def _fc(name):
    """``fc(x [B, in], weight [out, in] (int8, or PoT codes), bias [out] or None, input_zero_point,
    multiplier, shift (ints, or [out] per channel), output_zero_point, lo, hi) → [B, out]``."""
    pot = "_pot_" in name

    def fc(x, weight, bias, input_zero_point, multiplier, shift, output_zero_point, lo, hi, impl):
        w = quant.pot_decode(weight) if pot else weight
        params = fully_connected.prepare(w, bias, multiplier, shift, input_zero_point, output_zero_point,
                                         lo, hi, name, pot_weights=pot)
        return _run(name, impl, params, np.asarray(x, np.int8))

    return fc


def _mul(name):
    """TFLM MulElementwise on int16 ``a + o1``, ``b + o2`` (the C API's input offsets; TFLM's are 0)."""

    def mul(a, b, input1_offset, input2_offset, multiplier, shift, output_zero_point, lo, hi, impl):
        params = elementwise_ops.prepare_mul((multiplier, shift), output_zero_point, lo, hi)
        return _run(name, impl, params, np.asarray(a, np.int64) + input1_offset,
                    np.asarray(b, np.int64) + input2_offset)

    return mul


def _lut(name, kind):
    def lut(x, input_multiplier, input_left_shift, impl):
        return _run(name, impl, lut_s16.prepare(kind, input_multiplier, input_left_shift), x)

    return lut


def _add_s8(a, a_zero_point, b, b_zero_point, add, impl):
    return _run("add_s8", impl, elementwise_ops.prepare_add_s8(add, a_zero_point, b_zero_point), a, b)


def _add_s16_sat(a, b, impl):
    return _run("add_s16_saturating", impl, None, np.asarray(a, np.int16), np.asarray(b, np.int16))


def _tanh_s8(x, zero_point, input_multiplier, input_shift, input_range_radius, impl):
    params = tanh_s8.prepare(zero_point, TanhParams(input_multiplier, input_shift, input_range_radius))
    return _run("tanh_s8", impl, params, x)


def _normalise(mfcc, offset, multiplier, shift, zero_point, impl):
    """MFCC ``[frames, C]`` → int8 features, per channel (docs/CONTRACT.md step 3)."""
    params = normalise.prepare(InputQuant(offset, multiplier, shift, 1.0, zero_point))
    return _run("normalise", impl, params, mfcc)


#: The int8 ADD's input left shift and int8 TANH's exp(−2**k) constants (k = −2 … 4, Q0.31), as the
#: package gives them to the firmware.
ADD_LEFT_SHIFT = elementwise_ops.ADD_LEFT_SHIFT
EXP_MULTIPLIERS = c_export.tanh_exp_multipliers()

#: op (kernel_main.c's name) → its Python definition, called with ``impl="reference"`` or ``"numba"``:
#:   srdhm(a, b), rdbypot(x, exponent), mbqm(x, multiplier, shift): int32 arrays, broadcasting;
#:   tanh_q4(x): Q4.27 → Q0.31; dot_s8, dot_pot(weight, x, input_offset) → one int;
#:   sigmoid16, tanh16(x, input_multiplier, input_left_shift): int16 → int16 Q0.15;
#:   fc_*: see :func:`_fc`; add_s8(a, a_zero_point, b, b_zero_point, AddParams) → int8;
#:   mul_*(a, b, input1_offset, input2_offset, multiplier, shift, output_zero_point, lo, hi);
#:   add_s16_sat(a, b); tanh_s8(x, zero_point, input_multiplier, input_shift, input_range_radius);
#:   normalise(mfcc [frames, C], offset [C], multiplier [C], shift [C], zero_point) → int8.
REFERENCE = {
    "srdhm": _primitive(fixedpoint.saturating_rounding_doubling_high_mul),
    "rdbypot": _primitive(fixedpoint.rounding_divide_by_pot),
    "mbqm": _primitive(fixedpoint.multiply_by_quantized_multiplier),
    "tanh_q4": _primitive(lambda x: [gemmlowp.tanh(int(v), 4) for v in x]),
    "dot_s8": _exact_dot,
    "dot_pot": _exact_dot,
    "sigmoid16": _lut("logistic_s16", "logistic"),
    "tanh16": _lut("tanh_s16", "tanh"),
    "fc_s8_s8": _fc("fully_connected_s8_s8"),
    "fc_s8_s16": _fc("fully_connected_s8_s16"),
    "fc_pot_s8": _fc("fully_connected_pot_s8"),
    "fc_pot_s16": _fc("fully_connected_pot_s16"),
    "add_s8": _add_s8,
    "mul_s16_s16": _mul("mul_s16_s16"),
    "mul_s16_s8": _mul("mul_s16_s8"),
    "add_s16_sat": _add_s16_sat,
    "tanh_s8": _tanh_s8,
    "normalise": _normalise,
}


def outputs_of(op, *args):
    """(the definition's outputs, the numba backend's outputs) of ``op`` on ``args``, int64 flat."""
    return tuple(np.asarray(REFERENCE[op](*args, impl=impl), np.int64).ravel() for impl in ("reference", "numba"))


# --- The C side -------------------------------------------------------------------------------------

C_DIR = REPO / "fixedrnn" / "c"
BUILDS = [
    runner.BuildConfig("host", "-O2"),
    runner.BuildConfig("arm", "-O2"),
    runner.BuildConfig("arm", "-Os"),
    runner.BuildConfig("arm", "-O2", dsp=False),
    runner.BuildConfig("arm", "-O2", hard_float=True),
    runner.BuildConfig("arm", "-O0"),  # the kernels' C fallback of the assembler MAC loop
    runner.BuildConfig("arm", "-O2", pot_shift_only=True),  # the multiply-free PoT FC
    runner.BuildConfig("arm", "-Os", dsp=False, pot_shift_only=True),
]
#: kernel_main.c's record type of each op.
OP_IDS = {"srdhm": 1, "rdbypot": 2, "mbqm": 3, "tanh_q4": 4, "dot_s8": 5, "dot_pot": 6, "sigmoid16": 7,
          "tanh16": 8, "fc_s8_s8": 9, "fc_s8_s16": 10, "fc_pot_s8": 11, "fc_pot_s16": 12, "add_s8": 13,
          "mul_s16_s16": 14, "mul_s16_s8": 15, "add_s16_sat": 16, "tanh_s8": 17, "normalise": 18}
I32 = (-(2**31), 2**31 - 1)
I16 = (-32768, 32767)
I8 = (-128, 127)
GOLDEN_MODELS = sorted((REPO / "golden" / "models").glob("*.npz"))


@dataclasses.dataclass
class Case:
    """One record of kernel_main.c: ``header`` (n, p0, p1 after the op id) and ``payload`` as it
    reads them, the reference's ``expected`` outputs (int64, flat), and ``describe(i)``: the inputs
    behind output i, for a failure message."""

    op: str
    header: tuple
    payload: list
    outputs: tuple  # (the definition's, the numba backend's), :func:`outputs_of`
    describe: Callable[[int], str]

    @property
    def expected(self):
        return self.outputs[0]

    @property
    def numba(self):
        return self.outputs[1]

    def record(self):
        parts = [np.asarray(p, np.int64).ravel() for p in self.payload]
        return np.concatenate([[OP_IDS[self.op], *self.header], *parts]).astype(np.int64)


def _shown(value):
    return np.asarray(value).tolist()


def elementwise(op, header, head, elements, expected, **context):
    """A case whose output i depends on element i of each array of ``elements`` (a dict, in payload
    order after ``head``, the op's parameters) and on ``context`` (shown on failure)."""
    elements = {k: np.asarray(v, np.int64) for k, v in elements.items()}

    def describe(i):
        return ", ".join([f"{k}[{i}]={int(v[i])}" for k, v in elements.items()]
                         + [f"{k}={_shown(v)}" for k, v in context.items()])

    return Case(op, header, [*head, *elements.values()], expected, describe)


def int32_edges():
    """The int32 values where the rounding and saturation rules change."""
    return np.array([I32[0], I32[0] + 1, -1, 0, 1, 2**30, I32[1]], dtype=np.int64)


def crossed(values):
    """Every pair of ``values``: (first, second) arrays of len(values)**2."""
    values = np.asarray(values, np.int64)
    return np.repeat(values, values.size), np.tile(values, values.size)


def largest_safe_shift(acc, axis=None):
    """The largest shift s in [0, 31] with every ``acc · 2**s`` inside int32 (reduced over ``axis``)."""
    acc = np.asarray(acc, np.int64)
    high, low = np.max(acc, axis=axis, initial=0), np.min(acc, axis=axis, initial=0)
    shift = np.zeros(np.shape(high), np.int64)
    for s in range(1, 32):
        shift = np.where(((high << s) <= I32[1]) & ((low << s) >= I32[0]), s, shift)
    return shift


# --- Cases, one builder per op ------------------------------------------------------------------------


def srdhm_cases(rng):
    n = 2000
    a0, b0 = crossed(int32_edges())
    a = np.concatenate([rng.integers(*I32, n, endpoint=True), a0])
    b = np.concatenate([rng.integers(*I32, n, endpoint=True), b0])
    yield elementwise("srdhm", (a.size, 0, 0), [], {"a": a, "b": b}, outputs_of("srdhm", a, b))


def rdbypot_cases(rng):
    n = 2000
    x0, _ = crossed(int32_edges())
    x = np.concatenate([rng.integers(*I32, n, endpoint=True), x0, np.repeat(int32_edges(), 32)])
    e = np.concatenate([rng.integers(0, 31, n + x0.size, endpoint=True), np.tile(np.arange(32), 7)])
    yield elementwise("rdbypot", (x.size, 0, 0), [], {"x": x, "exponent": e}, outputs_of("rdbypot", x, e))


def mbqm_cases(rng):
    n = 2000
    m = rng.integers(2**30, 2**31 - 1, n, endpoint=True)
    s = rng.integers(-31, 8, n, endpoint=True)
    x = np.where(s > 0, rng.integers(-(2**15), 2**15, n), rng.integers(*I32, n, endpoint=True))
    # Edges: multipliers 0, 2**30, 2**31 − 1; every shift −31 … 31 at the largest safe |x|.
    edge_m = np.array([0, 2**30, 2**31 - 1])
    shifts = np.arange(-31, 32)
    limit = np.array([I32[1] >> max(int(v), 0) for v in shifts])
    one = np.minimum(limit, 1)
    edge_x = np.stack([-limit - (shifts <= 0), -limit, -one, np.zeros_like(limit), one, limit]).ravel()
    edge_s = np.tile(shifts, 6)
    x = np.concatenate([x, np.repeat(edge_x, 3)])
    m = np.concatenate([m, np.tile(edge_m, edge_x.size)])
    s = np.concatenate([s, np.repeat(edge_s, 3)])
    yield elementwise("mbqm", (x.size, 0, 0), [], {"x": x, "multiplier": m, "shift": s},
                      outputs_of("mbqm", x, m, s))


def tanh_q4_cases(rng):
    x = np.concatenate([rng.integers(*I32, 2000, endpoint=True), int32_edges(),
                        np.arange(-3000, 3000) << 16])
    yield elementwise("tanh_q4", (x.size, 0, 0), [EXP_MULTIPLIERS], {"x": x}, outputs_of("tanh_q4", x))


DOT_LENGTHS = (1, 3, 4, 7, 13, 64, 203)
DOT_OFFSETS = (-128, -5, 0, 127, 128)


def _dot_case(op, header, payload, weight, x, offset):
    def describe(_):
        return f"weights={_shown(weight)}, x={_shown(x)}, input_offset={offset}"

    return Case(op, header, payload, outputs_of(op, weight, x, offset), describe)


def dot_s8_cases(rng):
    for length in DOT_LENGTHS:
        for offset in DOT_OFFSETS:
            w, x = rng.integers(-128, 128, length), rng.integers(-128, 128, length)
            yield _dot_case("dot_s8", (length, offset, 0), [w, x], w, x, offset)
        extreme = np.full(length, -128)
        yield _dot_case("dot_s8", (length, 128, 0), [extreme, np.full(length, 127)], extreme,
                        np.full(length, 127), 128)


def dot_pot_cases(rng):
    for length in DOT_LENGTHS:
        for offset in DOT_OFFSETS:
            start = int(rng.integers(0, 3, endpoint=True))
            codes = random_pot_codes(rng, start + length)
            x = rng.integers(-128, 128, length)
            weight_bytes = pot_pairs.encode(quant.pot_pack(codes))
            yield _dot_case("dot_pot", (length, offset, start), [pot_pairs.table(), weight_bytes, x],
                            quant.pot_decode(codes[start:]), x, offset)


#: (input multiplier, input left shift) of the int16 LUT activations: TFLM's power-of-two cases
#: (multiplier 0), the LSTM's cell tanh (lut_s16.lstm_tanh_shift), and the Prepare of
#: standalone ops (lut_s16.int16_activation_params) for several input scales.
LUT_PARAMS = sorted({(0, 0), (0, 2), (3, 1), (1518500250 >> 16, 15),
                     *(lut_s16.lstm_tanh_shift(p) for p in (-15, -11, -8)),
                     *(lut_s16.int16_activation_params(s, "logistic") for s in (2**-11, 3e-4, 0.0042))})
ALL_INT16 = np.arange(-32768, 32768, dtype=np.int64)


def _lut_cases(op, rng):
    table = lut_s16.sigmoid_table_uint16()
    for multiplier, shift in LUT_PARAMS:
        yield elementwise(op, (ALL_INT16.size, multiplier, shift), [table], {"x": ALL_INT16},
                          outputs_of(op, ALL_INT16, multiplier, shift),
                          input_multiplier=multiplier, input_left_shift=shift)


def random_pot_codes(rng, count):
    """Power-of-two codes 0 … 15 without the invalid 8 (m = 0 codes included), uint8."""
    codes = rng.integers(0, 16, count)
    codes[codes == 8] = 0
    return codes.astype(np.uint8)


#: (n_in, n_out, batch) of the FULLY_CONNECTED cases: odd and even lengths, one to 203 inputs.
FC_SHAPES = ((1, 1, 3), (3, 5, 2), (4, 4, 4), (7, 3, 3), (13, 9, 2), (64, 16, 2), (203, 7, 2))
FC_VARIANTS = ("random", "extreme", "zero", "saturating")


def _fc_case(rng, op, shape, per_channel, variant):
    """One FULLY_CONNECTED record. ``variant``: "random"; "extreme" (int8 extremes everywhere, zero
    points at the ends, the largest safe shift); "zero" (x at the zero point: the accumulator is the
    bias, 0 or absent; zero multipliers; shifts 31 and −31); "saturating" (a bias taking the
    accumulator to ±(2**31 − 1), a narrow activation range)."""
    n_in, n_out, batch = shape
    pot, out16 = op.startswith("fc_pot"), op.endswith("s16")
    lo, hi = I16 if out16 else I8
    ends = I16 if out16 else I8
    start = int(rng.integers(0, 3, endpoint=True))
    input_zp = int(rng.integers(-128, 128))
    output_zp = int(rng.integers(-128, 128))
    if variant == "extreme":
        input_zp, output_zp = (-128, ends[1]) if per_channel else (127, ends[0])
    if pot:
        codes = random_pot_codes(rng, (n_out, n_in))
        if variant == "extreme":
            codes = rng.choice(np.array([1, 9, 0], np.uint8), (n_out, n_in))  # ±64 and m = 0
        codes[0, : n_in // 2] = 0  # m = 0 runs
        weight = quant.pot_decode(codes)
        prefix = random_pot_codes(rng, start)
        weights_payload = np.concatenate([pot_pairs.table(),
                                          pot_pairs.encode(quant.pot_pack(np.concatenate([prefix, codes.ravel()])))])
    else:
        weight = rng.integers(-128, 128, (n_out, n_in))
        if variant == "extreme":
            weight = rng.choice([-128, 127], (n_out, n_in))
        weights_payload = weight
    x = rng.integers(-128, 128, (batch, n_in))
    if variant == "extreme":
        x = rng.choice([-128, 127], (batch, n_in))
    elif variant == "zero":
        x = np.full((batch, n_in), input_zp)
    dot = fully_connected.fc_accumulate(x, weight, input_zp)
    bias = rng.integers(-(2**20), 2**20, n_out) if (n_in + per_channel) % 2 else None
    if variant == "zero":
        bias = np.zeros(n_out, np.int64) if per_channel else None
    elif variant == "saturating":
        toward_max = np.arange(n_out) % 2 == 0
        bias = np.clip(np.where(toward_max, I32[1] - dot.max(axis=0), I32[0] - dot.min(axis=0)), *I32)
        lo, hi = (-1000, 1000) if out16 else (-100, 100)
    acc = dot if bias is None else dot + bias
    k = n_out if per_channel else 1
    safe = largest_safe_shift(acc, axis=0) if per_channel else np.atleast_1d(largest_safe_shift(acc))
    multiplier = rng.integers(2**30, 2**31 - 1, k, endpoint=True)
    shift = np.array([int(rng.integers(-31, s, endpoint=True)) for s in safe])
    if variant == "extreme":
        multiplier = np.where(np.arange(k) % 2 == 0, 2**31 - 1, 2**30)
        shift = safe
    elif variant == "zero":
        multiplier[::2] = 0
        shift = np.where(np.arange(k) % 2 == 0, -31, safe)
    elif variant == "saturating":
        shift = np.where(np.arange(k) % 2 == 0, 0, rng.integers(-31, 0, k, endpoint=True))
    params = [int(per_channel), int(bias is not None), -input_zp, output_zp, lo, hi, start]
    payload = [params, multiplier, shift, weights_payload, *([] if bias is None else [bias]), x]
    reference_weight = codes if pot else weight
    m_ref, s_ref = (multiplier, shift) if per_channel else (int(multiplier[0]), int(shift[0]))
    expected = outputs_of(op, x, reference_weight, bias, input_zp, m_ref, s_ref, output_zp, lo, hi)

    def describe(i):
        b, o = divmod(i, n_out)
        c = o if per_channel else 0
        return (f"{variant}, x[{b}]={_shown(x[b])}, weight[{o}]={_shown(reference_weight[o])}, "
                f"bias[{o}]={None if bias is None else int(bias[o])}, multiplier={int(multiplier[c])}, "
                f"shift={int(shift[c])}, input_zp={input_zp}, output_zp={output_zp}, range=({lo}, {hi}), "
                f"start={start}, accumulator={int(acc[b, o])}")

    return Case(op, (n_out, n_in, batch), payload, expected, describe)


def _fc_cases(op, rng):
    for shape in FC_SHAPES:
        for per_channel in (False, True):
            for variant in FC_VARIANTS:
                yield _fc_case(rng, op, shape, per_channel, variant)


@functools.lru_cache(maxsize=None)
def golden_models():
    """The shipped cell models (RNN, LSTM): their parameters are TFLM-derived sets for the
    element-wise ops (a graph model's are tested with its graph)."""
    return tuple(m for m in (load(path) for path in GOLDEN_MODELS) if m.cell != "graph")


def add_s8_cases(rng):
    """TFLM-derived parameters (the golden RNNs', convert.add_params at several scales) and random
    ones; input and output shifts in [−31, 0] (TFLM's ADD has no positive shift)."""
    sets = [(m.rnn.add, m.rnn.input_fc.output_zero_point, m.rnn.recurrent_fc.output_zero_point)
            for m in golden_models() if m.rnn is not None]
    scales_and_zero_points = ((0.02, 0.03, 0.05, -1, 0, 0), (1 / 128, 0.5, 0.4, 127, -128, 127),
                              (0.7, 1e-3, 0.7, -128, 127, -128))
    sets += [(convert.add_params(s1, s2, so, zo), z1, z2) for s1, s2, so, zo, z1, z2 in scales_and_zero_points]
    for z1, z2, zo in ((-128, 127, -128), (127, -128, 127), (5, -7, 3)):
        m = [int(v) for v in rng.integers(2**30, 2**31 - 1, 3, endpoint=True)]
        s = [int(v) for v in rng.integers(-31, 0, 3, endpoint=True)]
        sets.append((AddParams(1.0, zo, m[0], s[0], m[1], s[1], m[2], s[2]), z1, z2))
    sets.append((AddParams(1.0, 0, 2**31 - 1, 0, 2**30, 0, 2**31 - 1, 0), 127, -128))  # saturates
    all_a, all_b = crossed(np.arange(-128, 128))
    for k, (add, z1, z2) in enumerate(sets):
        a, b = (all_a, all_b) if k % 2 == 0 else rng.integers(-128, 128, (2, 3000))
        head = [-z1, -z2, add.output_zero_point, ADD_LEFT_SHIFT, add.input1_multiplier, add.input1_shift,
                add.input2_multiplier, add.input2_shift, add.output_multiplier, add.output_shift, -128, 127]
        yield elementwise("add_s8", (a.size, k % 3, 0), [head], {"a": a, "b": b},
                          outputs_of("add_s8", a, z1, b, z2, add), zero_points=(z1, z2), params=add)


INT16_EDGES = np.array([-32768, -32767, -256, -1, 0, 1, 255, 32766, 32767], np.int64)


def _mul_cases(op, rng):
    """Multipliers of the golden LSTMs (forget, input: int16 out; output: int8 out at the hidden
    zero point) and random ones with zero points at both ends and shifts from −31 to the largest
    safe one, on full-range inputs and on small inputs (which allow positive shifts)."""
    lo, hi = I16 if op == "mul_s16_s16" else I8
    sets = []
    for model in golden_models():
        if model.lstm is not None:
            cell = model.lstm
            sets += [(*cell.forget_mul, 0), (*cell.input_mul, 0)] if op == "mul_s16_s16" else \
                [(*cell.output_mul, cell.hidden_zero_point)]
    sets = sorted(set(sets))
    edges_a, edges_b = crossed(INT16_EDGES)
    for k, (m, s, zo) in enumerate(sets):
        a = np.concatenate([edges_a, rng.integers(*I16, 2000, endpoint=True)])
        b = np.concatenate([edges_b, rng.integers(*I16, 2000, endpoint=True)])
        yield _mul_case(op, k % 2 if op == "mul_s16_s16" else 0, a, b, 0, 0, m, s, zo, lo, hi)
    for k, zo in enumerate((lo, hi, 0)):
        small = 2 ** (3 + 3 * k)
        a = np.concatenate([rng.integers(-small, small, 2000), [-small, small - 1]])
        b = np.concatenate([rng.integers(-small, small, 2000), [-small, -small]])
        m = int(rng.integers(2**30, 2**31 - 1, endpoint=True))
        safe = int(largest_safe_shift(a * b))
        for s in (safe, int(rng.integers(-31, safe, endpoint=True)), -31):
            yield _mul_case(op, 0, a, b, 0, 0, m, s, zo, lo, hi)
    a, b = rng.integers(*I16, 3000, endpoint=True), rng.integers(*I16, 3000, endpoint=True)
    for o1, o2 in ((128, -128), (-128, 127)):  # input offsets: the C API has them (TFLM's int16 MUL: 0)
        yield _mul_case(op, 0, a, b, o1, o2, 2**31 - 1, -15, 0, lo, hi)


def _mul_case(op, alias, a, b, input1_offset, input2_offset, multiplier, shift, output_zp, lo, hi):
    head = [input1_offset, input2_offset, output_zp, multiplier, shift, lo, hi]
    expected = outputs_of(op, a, b, input1_offset, input2_offset, multiplier, shift, output_zp, lo, hi)
    return elementwise(op, (a.size, alias, 0), [head], {"a": a, "b": b}, expected, params=head,
                       alias=alias)


def add_s16_sat_cases(rng):
    edges_a, edges_b = crossed(INT16_EDGES)
    for alias in (0, 1, 2):
        a = np.concatenate([edges_a, rng.integers(*I16, 3000, endpoint=True)])
        b = np.concatenate([edges_b, rng.integers(*I16, 3000, endpoint=True)])
        yield elementwise("add_s16_sat", (a.size, alias, 0), [], {"a": a, "b": b},
                          outputs_of("add_s16_sat", a, b), alias=alias)


#: Input scales of int8 TANH (TFLM's Prepare, convert.tanh_params): the golden RNNs' ADD output
#: scale, 1/128, 1/256, 0.1, 1, 5e-4, 2**−20, 3.
TANH_S8_SCALES = (0.0235294122248888, 2**-7, 2**-8, 0.1, 1.0, 5e-4, 2**-20, 3.0)
ALL_INT8 = np.arange(-128, 128, dtype=np.int64)


def tanh_s8_cases(rng):
    """All 256 inputs at each scale and zero point (both ends included), and the golden RNNs' own."""
    sets = [(m.rnn.tanh, m.rnn.add.output_zero_point) for m in golden_models() if m.rnn is not None]
    sets += [(convert.tanh_params(s), zp) for s in TANH_S8_SCALES for zp in (-128, -1, 0, 37, 127)]
    for k, (t, zp) in enumerate(sets):
        head = [[zp, t.input_range_radius, t.input_multiplier, t.input_shift], EXP_MULTIPLIERS]
        expected = outputs_of("tanh_s8", ALL_INT8, zp, t.input_multiplier, t.input_shift,
                                        t.input_range_radius)
        yield elementwise("tanh_s8", (ALL_INT8.size, k % 2, 0), head, {"x": ALL_INT8}, expected,
                          zero_point=zp, params=t, alias=k % 2)


def normalise_cases(rng):
    """The golden models' input quantization on int16 MFCCs (q15 front end), and random per-channel
    parameters on int16 and int32 (q31 front end) MFCCs, shifts up to the largest safe one."""
    frames = 40
    for model in golden_models()[:1]:
        q = model.input
        mfcc = rng.integers(*I16, (frames, q.offset.size), endpoint=True)
        mfcc[:2] = np.array(I16)[:, None]  # every channel at both ends
        yield _normalise_case(mfcc, q.offset, q.multiplier, q.shift, q.zero_point)
    for channels, zp, wide in ((13, -128, False), (1, 127, False), (20, 3, True), (7, 127, True)):
        span = 2**30 if wide else 2**15
        mfcc = rng.integers(-span, span, (frames, channels))
        offset = rng.integers(-span, span, channels)
        mfcc[0] = -span
        safe = largest_safe_shift(mfcc - offset, axis=0)
        shift = np.array([int(rng.integers(-31, s, endpoint=True)) for s in safe])
        shift[::3] = safe[::3]
        multiplier = rng.integers(2**30, 2**31 - 1, channels, endpoint=True)
        multiplier[1::4] = 0
        yield _normalise_case(mfcc, offset, multiplier, shift, zp)


def _normalise_case(mfcc, offset, multiplier, shift, zero_point):
    frames, channels = mfcc.shape
    expected = outputs_of("normalise", mfcc, offset, multiplier, shift, zero_point)

    def describe(i):
        f, c = divmod(i, channels)
        return (f"mfcc[{f}, {c}]={int(mfcc[f, c])}, offset={int(offset[c])}, "
                f"multiplier={int(multiplier[c])}, shift={int(shift[c])}, zero_point={zero_point}")

    return Case("normalise", (channels, zero_point, frames), [offset, multiplier, shift, mfcc], expected,
                describe)


#: The case builder of each op: ``builder(rng)`` yields its cases.
CASES = {
    "srdhm": srdhm_cases,
    "rdbypot": rdbypot_cases,
    "mbqm": mbqm_cases,
    "tanh_q4": tanh_q4_cases,
    "dot_s8": dot_s8_cases,
    "dot_pot": dot_pot_cases,
    "sigmoid16": functools.partial(_lut_cases, "sigmoid16"),
    "tanh16": functools.partial(_lut_cases, "tanh16"),
    **{op: functools.partial(_fc_cases, op) for op in ("fc_s8_s8", "fc_s8_s16", "fc_pot_s8", "fc_pot_s16")},
    "add_s8": add_s8_cases,
    **{op: functools.partial(_mul_cases, op) for op in ("mul_s16_s16", "mul_s16_s8")},
    "add_s16_sat": add_s16_sat_cases,
    "tanh_s8": tanh_s8_cases,
    "normalise": normalise_cases,
}


def build_cases(rng):
    """Every case of every op, in :data:`REFERENCE` order."""
    return [case for op in REFERENCE for case in CASES[op](rng)]


# --- The tests ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    cases = build_cases(np.random.default_rng(7))
    path = tmp_path_factory.mktemp("ops") / "in.bin"
    path.write_bytes(b"".join(c.record().astype("<i4").tobytes() for c in cases))
    return path, cases


@pytest.fixture(scope="module", params=BUILDS, ids=lambda c: c.name)
def outputs(request, cases, tmp_path_factory):
    """(build name, the C outputs of every case, in order) for one build: one run for all cases."""
    config = request.param
    missing = runner.toolchain_missing(config.target)
    if missing:
        pytest.skip(missing)
    work = tmp_path_factory.mktemp(config.name)
    exe = runner.build(config, work / "build", main="kernel_main.c", src_dir=C_DIR)
    in_path, all_cases = cases
    out_path = work / "out.bin"
    runner.run(exe, config, [in_path, out_path], timeout=300)
    got = np.frombuffer(out_path.read_bytes(), dtype="<i4").astype(np.int64)
    sizes = [c.expected.size for c in all_cases]
    assert got.size == sum(sizes), f"{config.name}: {got.size} outputs for {sum(sizes)} expected"
    return config.name, np.split(got, np.cumsum(sizes)[:-1])


def _check(op, build, mine):
    assert mine, f"no cases for {op}"
    failures = [(r, case, out, np.flatnonzero(out != case.expected)) for r, (case, out) in enumerate(mine)]
    failures = [f for f in failures if f[3].size]
    if failures:
        r, case, out, bad = failures[0]
        i = int(bad[0])
        total = sum(f[3].size for f in failures)
        pytest.fail(f"{op} on {build}: {total} outputs differ in {len(failures)} of its {len(mine)} records; "
                    f"first: record {r} output {i}: got {int(out[i])}, expected {int(case.expected[i])}; "
                    f"inputs: {case.describe(i)}", pytrace=False)


@pytest.mark.parametrize("op", list(REFERENCE))
def test_op_conforms(op, outputs, cases):
    """Every C build (host, Cortex-M4 -O2 / -Os / portable C) equals the op's definition."""
    build, got = outputs
    _, all_cases = cases
    _check(op, build, [(case, got[k]) for k, case in enumerate(all_cases) if case.op == op])


#: kernel_main.c's primitives: not ops of fixedrnn.ops (their Python forms are one compiled rule).
PRIMITIVES = ("srdhm", "rdbypot", "mbqm", "tanh_q4", "dot_s8", "dot_pot")


@pytest.mark.parametrize("op", [op for op in REFERENCE if op not in PRIMITIVES])
def test_numba_backend_conforms(op, cases):
    """The numba backend of every op (what the fused kernels call) equals the op's definition."""
    _, all_cases = cases
    _check(op, "numba", [(case, case.numba) for case in all_cases if case.op == op])


def _function_disassembly(elf, name):
    """The disassembly of function ``name`` (or of GCC's specialised clone of it, ``name.constprop.0``
    and the like)."""
    dis = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True,
                         check=True).stdout
    start = re.search(rf"<{re.escape(name)}(\.[a-z]+\.\d+)*>:\n", dis).start()
    return dis[start:dis.index("\n\n", start)]


MULTIPLY = ("mul", "mla", "mls", "smul", "smla", "smls", "umul", "umla", "smmul", "smmla", "smuad",
            "smlad", "smusd", "smlsd", "sdiv", "udiv")


def _mnemonics(disassembly):
    return [line.split("\t")[2].split()[0] if len(line.split("\t")) > 2 else ""
            for line in disassembly.splitlines()[1:]]


@pytest.mark.parametrize("opt", ["-O2", "-Os"])
def test_pot_dot_product_has_no_multiply_and_int8_uses_smlad(opt, tmp_path):
    """The shift-only build (-DFRNN_POT_SHIFT_ONLY): its PoT dot product, the MAC of every row of its
    PoT FC, has no multiply instruction; the default build's int8 and PoT FCs use SMLAD."""
    missing = runner.toolchain_missing("arm")
    if missing:
        pytest.skip(missing)
    shift_only = runner.build(runner.BuildConfig("arm", opt, pot_shift_only=True), tmp_path / "shift",
                              main="kernel_main.c", src_dir=C_DIR)
    pot = _function_disassembly(shift_only, "frnn_dot_pot")
    mnemonics = _mnemonics(pot)
    assert mnemonics and not [m for m in mnemonics if m.startswith(MULTIPLY)], pot
    fc_pot = _function_disassembly(shift_only, "fc_pot_acc")  # the PoT FC's MAC passes
    assert "frnn_dot_pot" in fc_pot or not [m for m in _mnemonics(fc_pot) if m.startswith(("smlad", "mla"))], fc_pot
    exe = runner.build(runner.BuildConfig("arm", opt), tmp_path / "table", main="kernel_main.c", src_dir=C_DIR)
    assert "smlad" in _function_disassembly(exe, "frnn_dot_s8")
    assert "sxtab16" in _function_disassembly(exe, "frnn_dot_s8")
    assert "smlad" in _function_disassembly(exe, "fc_s8_acc")  # the int8 FC's MAC passes
    assert "smlad" in _function_disassembly(exe, "fc_pot_acc")
