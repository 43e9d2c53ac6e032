"""The graph ops' definitions against TFLM: int8 LOGISTIC (every int8 input), int8 SUB and MUL
(zero points, a broadcast scalar), DEQUANTIZE → QUANTIZE (the float island), each a one-op .tflite
run by TFLM's interpreter; the Prepare rules (fixedrnn.graph.derive_params) give the integers."""

import numpy as np
import pytest

from fixedrnn import convert
from fixedrnn.ops import arith_s8, elementwise, float_island, logistic_s8
from tests.tflite_graphs import float_tensor, new_graph, tflm_run

pytest.importorskip("tflite_micro")

ALL_INT8 = np.arange(-128, 128, dtype=np.int8)[None, :]
RNG_CASES = [(0.0213864, -20), (0.1, 0), (0.002, 127), (0.7, -128), (3.0e-5, 5), (0.0625, 3)]


@pytest.mark.parametrize("scale, zero_point", RNG_CASES)
def test_logistic_s8_every_input_equals_tflm(scale, zero_point):
    g = new_graph()
    s = g.s
    x = g.tensor("x", (1, 256), np.int8, scale, zero_point)
    y = g.tensor("y", (1, 256), np.int8, logistic_s8.OUTPUT_SCALE, logistic_s8.OUTPUT_ZERO_POINT)
    g.op(s.BuiltinOperator.LOGISTIC, [x], [y])
    expected = tflm_run(g.finish([x], [y], "logistic"), [ALL_INT8]).reshape(-1)
    params = logistic_s8.prepare(zero_point, convert.tanh_params(scale))
    assert np.array_equal(logistic_s8.reference(params, ALL_INT8[0]), expected)
    assert np.array_equal(logistic_s8.lookup(params, ALL_INT8[0]), expected)


def _binary(op_name, options, s1, z1, s2, z2, so, zo):
    g = new_graph()
    s = g.s
    a = g.tensor("a", (1, 256), np.int8, s1, z1)
    b = g.tensor("b", (1, 256), np.int8, s2, z2)
    y = g.tensor("y", (1, 256), np.int8, so, zo)
    code = getattr(s.BuiltinOperator, op_name)
    g.op(code, [a, b], [y], getattr(s.BuiltinOptions, options), getattr(s, options + "T")())
    return g.finish([a, b], [y], op_name.lower())


CASES = [(0.0213, -20, 0.0048, -9, 0.022, -16), (0.00392157, -128, 0.00390625, -128, 0.0067, -17),
         (0.05, 3, 0.05, 3, 0.09, 0), (0.0001, 100, 0.3, -77, 0.31, 12)]


@pytest.mark.parametrize("case", CASES)
def test_sub_and_mul_s8_equal_tflm(case):
    s1, z1, s2, z2, so, zo = case
    rng = np.random.default_rng(7)
    a = ALL_INT8
    b = rng.integers(-128, 128, (1, 256)).astype(np.int8)
    sub = tflm_run(_binary("SUB", "SubOptions", *case), [a, b])
    p = arith_s8.prepare_sub(s1, z1, s2, z2, so, zo)
    assert np.array_equal(arith_s8.sub_s8_reference(p, a, b), sub)
    mul = tflm_run(_binary("MUL", "MulOptions", *case), [a, b])
    q = arith_s8.prepare_mul(s1, z1, s2, z2, so, zo)
    assert np.array_equal(arith_s8.mul_s8_reference(q, a, b), mul)
    add = tflm_run(_binary("ADD", "AddOptions", *case), [a, b])
    r = convert.add_params(s1, s2, so, zo)
    assert np.array_equal(elementwise.add_s8_reference(elementwise.prepare_add_s8(r, z1, z2), a, b), add)


def test_sub_broadcast_scalar_constant_equals_tflm():
    """The GRU's ``1 − z``: a constant scalar (1.0 at 1/255, zero point −128) minus a gate ``[1, 256]``."""
    g = new_graph()
    s = g.s
    one = g.tensor("one", (), np.int8, 0.00392157, -128, data=np.array(127, np.int8))
    z = g.tensor("z", (1, 256), np.int8, 0.00390625, -128)
    y = g.tensor("y", (1, 256), np.int8, 0.0065477, -17)
    g.op(s.BuiltinOperator.SUB, [one, z], [y], s.BuiltinOptions.SubOptions, s.SubOptionsT())
    expected = tflm_run(g.finish([z], [y], "sub"), [ALL_INT8])
    p = arith_s8.prepare_sub(0.00392157, -128, 0.00390625, -128, 0.0065477, -17)
    assert np.array_equal(arith_s8.sub_s8_reference(p, np.int8(127), ALL_INT8), expected)


@pytest.mark.parametrize("s_in, z_in, s_out, z_out", [(0.0230331, -21, 0.0230331, -21), (0.01, 5, 0.0377, -3),
                                                      (0.2, -128, 0.0013, 127)])
def test_float_island_equals_tflm(s_in, z_in, s_out, z_out):
    g = new_graph()
    s = g.s
    x = g.tensor("x", (1, 256), np.int8, s_in, z_in)
    f = float_tensor(g, "f", (1, 256))
    y = g.tensor("y", (1, 256), np.int8, s_out, z_out)
    g.op(s.BuiltinOperator.DEQUANTIZE, [x], [f])
    g.op(s.BuiltinOperator.QUANTIZE, [f], [y])
    expected = tflm_run(g.finish([x], [y], "island"), [ALL_INT8])
    got = float_island.quantize_reference(s_out, z_out, float_island.dequantize_reference(s_in, z_in, ALL_INT8))
    assert np.array_equal(got, expected)
