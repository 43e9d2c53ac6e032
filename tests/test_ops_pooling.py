"""AVERAGE_POOL_2D and MEAN (fixedrnn.ops.pooling) against TFLM's interpreter on one-op .tflite
files (global and strided pools, SAME padding's partial windows, fused RELU; MEAN over two axes and
one, with and without keep_dims, at other scales and zero points), and the average's rounding against
exact fractions."""

from fractions import Fraction

import numpy as np
import pytest

from fixedrnn.fixedpoint import quantize_multiplier
from fixedrnn.ops import conv, pooling
from fixedrnn.ops.conv import SAME, VALID
from tests.tflite_graphs import new_graph, tflm_run

POOLS = [  # (H, W, C, filter, stride, padding, activation)
    (31, 7, 4, (31, 7), (1, 1), VALID, 0),
    (9, 6, 3, (3, 2), (2, 2), SAME, 0),
    (8, 8, 2, (3, 3), (1, 1), SAME, 1),
    (7, 5, 2, (2, 3), (2, 1), VALID, 0),
]


@pytest.mark.parametrize("case", POOLS)
def test_average_pool_equals_tflm(case):
    pytest.importorskip("tflite_micro")
    h, w, c, (fh, fw), (sh, sw), padding, act = case
    oh, ow = conv.output_size(padding, h, fh, sh, 1), conv.output_size(padding, w, fw, sw, 1)
    g = new_graph()
    s = g.s
    x = g.tensor("x", (1, h, w, c), np.int8, 0.1, -3)
    y = g.tensor("y", (1, oh, ow, c), np.int8, 0.1, -3)
    opt = s.Pool2DOptionsT()
    opt.padding, opt.strideH, opt.strideW, opt.filterHeight, opt.filterWidth = padding, sh, sw, fh, fw
    opt.fusedActivationFunction = act
    g.op(s.BuiltinOperator.AVERAGE_POOL_2D, [x], [y], s.BuiltinOptions.Pool2DOptions, opt)
    data = g.finish([x], [y], "pool")
    lo, hi = conv.activation_range(act, 0.1, -3)
    rng = np.random.default_rng(h * w + c)
    for xs in (rng.integers(-128, 128, (1, h, w, c)), np.full((1, h, w, c), -128), np.full((1, h, w, c), 127)):
        xs = xs.astype(np.int8)
        np.testing.assert_array_equal(pooling.average_pool(xs, (fh, fw), (sh, sw), padding, lo, hi),
                                      tflm_run(data, [xs]))


def test_average_rounds_half_away_from_zero():
    for values in ([1, 2], [-1, -2], [3, 3, 4, 4], [-3, -3, -4, -4], [5, -6], [0, 1, 1]):
        x = np.array(values, np.int8).reshape(1, 1, -1, 1)
        got = int(pooling.average_pool(x, (1, len(values)), (1, 1), VALID, -128, 127)[0, 0, 0, 0])
        exact = Fraction(sum(values), len(values))
        want = int(abs(exact) + Fraction(1, 2)) * (1 if exact >= 0 else -1)
        assert got == want, values


MEANS = [  # (shape, axes, keep_dims, in (scale, zp), out (scale, zp))
    ((1, 31, 7, 5), (1, 2), False, (0.05, -128), (0.05, -128)),
    ((1, 31, 7, 5), (1, 2), True, (0.05, -128), (0.02, 10)),
    ((1, 12, 6, 3), (1,), False, (0.2, 5), (0.07, -9)),
    ((1, 4, 5, 6), (2, 1), False, (0.01, 0), (0.5, 3)),
]


@pytest.mark.parametrize("case", MEANS)
def test_mean_equals_tflm(case):
    pytest.importorskip("tflite_micro")
    shape, axes, keep, (s_in, z_in), (s_out, z_out) = case
    out_shape = tuple(1 if i in axes else d for i, d in enumerate(shape)) if keep else tuple(
        d for i, d in enumerate(shape) if i not in axes)
    g = new_graph()
    s = g.s
    x = g.tensor("x", shape, np.int8, s_in, z_in)
    ax = g.tensor("axes", (len(axes),), np.int32, data=np.array(axes, np.int32))
    y = g.tensor("y", out_shape, np.int8, s_out, z_out)
    opt = s.ReducerOptionsT()
    opt.keepDims = keep
    g.op(s.BuiltinOperator.MEAN, [x, ax], [y], s.BuiltinOptions.ReducerOptions, opt)
    data = g.finish([x], [y], "mean")
    m, sh = quantize_multiplier(float(np.float32(s_in)) / float(np.float32(s_out)))
    rng = np.random.default_rng(len(shape) + sum(axes))
    for xs in (rng.integers(-128, 128, shape), np.full(shape, 127), np.full(shape, -128)):
        xs = xs.astype(np.int8)
        got = pooling.mean(xs, axes, m, sh, z_in, z_out, keep)
        np.testing.assert_array_equal(got, tflm_run(data, [xs]).reshape(got.shape))


def test_mean_rescale_folds_in_one_over_n():
    m, s = quantize_multiplier(0.75)
    m2, s2 = pooling.mean_rescale(m, s, 217)
    assert abs(Fraction(m2, 2**31) * Fraction(2) ** s2 - Fraction(3, 4 * 217)) < Fraction(1, 2**36)
