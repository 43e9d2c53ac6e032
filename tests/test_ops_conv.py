"""CONV_2D and DEPTHWISE_CONV_2D (fixedrnn.ops.conv): the accumulators against a loop over Python
integers that visits only the taps inside the image (TFLM's rule, written out), the whole op against
TFLM's interpreter on one-op .tflite files (SAME and VALID, strides, dilation, depth multiplier 2,
fused RELU / RELU6 / none, zero points), and the padding and activation rules."""

import numpy as np
import pytest

from fixedrnn import convert
from fixedrnn.errors import FixedRnnError
from fixedrnn.ops import conv
from fixedrnn.ops.conv import SAME, VALID
from tests.tflite_graphs import new_graph, tflm_run


def _loop_accumulators(x, w, bias, z_in, stride, dilation, padding, depthwise):
    b, h, wd, c = x.shape
    kh, kw = w.shape[1:3]
    out_c = w.shape[3] if depthwise else w.shape[0]
    oh = conv.output_size(padding, h, kh, stride[0], dilation[0])
    ow = conv.output_size(padding, wd, kw, stride[1], dilation[1])
    ph = conv.padding_before(padding, h, kh, stride[0], dilation[0])
    pw = conv.padding_before(padding, wd, kw, stride[1], dilation[1])
    mult = out_c // c if depthwise else 1
    acc = np.zeros((b, oh, ow, out_c), np.int64)
    for n in range(b):
        for y in range(oh):
            for xx in range(ow):
                for o in range(out_c):
                    total = int(bias[o])
                    for fy in range(kh):
                        for fx in range(kw):
                            iy, ix = y * stride[0] - ph + dilation[0] * fy, xx * stride[1] - pw + dilation[1] * fx
                            if not (0 <= iy < h and 0 <= ix < wd):
                                continue
                            if depthwise:
                                total += int(w[0, fy, fx, o]) * (int(x[n, iy, ix, o // mult]) - z_in)
                            else:
                                total += sum(int(w[o, fy, fx, i]) * (int(x[n, iy, ix, i]) - z_in) for i in range(c))
                    acc[n, y, xx, o] = total
    return acc


CASES = [  # (depthwise, H, W, C, O or multiplier, KH, KW, stride, dilation, padding)
    (False, 9, 7, 1, 5, 4, 3, (2, 2), (1, 1), SAME),
    (False, 8, 6, 3, 4, 3, 3, (1, 2), (1, 1), VALID),
    (False, 7, 7, 2, 3, 3, 2, (1, 1), (2, 1), SAME),
    (True, 9, 5, 4, 1, 3, 3, (1, 1), (1, 1), SAME),
    (True, 10, 6, 3, 2, 3, 3, (2, 1), (1, 1), SAME),
    (True, 8, 8, 2, 1, 2, 3, (1, 1), (1, 2), VALID),
]


@pytest.mark.parametrize("case", CASES)
def test_accumulators_equal_the_tap_loop(case):
    depthwise, h, w, c, o, kh, kw, stride, dilation, padding = case
    rng = np.random.default_rng(sum(map(hash, map(str, case))) % 2**32)
    x = rng.integers(-128, 128, (2, h, w, c)).astype(np.int8)
    shape = (1, kh, kw, c * o) if depthwise else (o, kh, kw, c)
    weight = rng.integers(-127, 128, shape).astype(np.int8)
    channels = shape[3] if depthwise else shape[0]
    bias = rng.integers(-5000, 5000, channels)
    p = conv.prepare(weight, bias, [2**30] * channels, [0] * channels, 17, 0, -128, 127, stride, dilation, padding,
                     depthwise)
    np.testing.assert_array_equal(conv.accumulate(p, x),
                                  _loop_accumulators(x, weight, bias, 17, stride, dilation, padding, depthwise))


def _one_op_tflite(case, act, rng, s_in=0.05, z_in=-7, s_out=0.2, z_out=11):
    depthwise, h, w, c, o, kh, kw, stride, dilation, padding = case
    shape = (1, kh, kw, c * o) if depthwise else (o, kh, kw, c)
    channels = shape[3] if depthwise else shape[0]
    weight = rng.integers(-127, 128, shape).astype(np.int8)
    w_scale = rng.uniform(0.005, 0.03, channels).astype(np.float32)
    bias = rng.integers(-3000, 3000, channels).astype(np.int32)
    oh = conv.output_size(padding, h, kh, stride[0], dilation[0])
    ow = conv.output_size(padding, w, kw, stride[1], dilation[1])
    g = new_graph()
    s = g.s
    xt = g.tensor("x", (1, h, w, c), np.int8, s_in, z_in)
    wt = g.tensor("w", shape, np.int8, w_scale, 0, data=weight, axis=3 if depthwise else 0)
    bt = g.tensor("b", (channels,), np.int32, (np.float32(s_in) * w_scale).astype(np.float32), 0, data=bias)
    yt = g.tensor("y", (1, oh, ow, channels), np.int8, s_out, z_out)
    cls = "DepthwiseConv2D" if depthwise else "Conv2D"
    opt = getattr(s, f"{cls}OptionsT")()
    opt.padding, opt.strideH, opt.strideW = padding, stride[0], stride[1]
    opt.dilationHFactor, opt.dilationWFactor, opt.fusedActivationFunction = dilation[0], dilation[1], act
    if depthwise:
        opt.depthMultiplier = o
    g.op(s.BuiltinOperator.DEPTHWISE_CONV_2D if depthwise else s.BuiltinOperator.CONV_2D, [xt, wt, bt], [yt],
         getattr(s.BuiltinOptions, f"{cls}Options"), opt)
    m, sh = convert.tflm_fc_multiplier(s_in, w_scale, s_out)
    lo, hi = conv.activation_range(act, s_out, z_out)
    p = conv.prepare(weight, bias, m, sh, z_in, z_out, lo, hi, stride, dilation, padding, depthwise)
    return g.finish([xt], [yt], "conv"), p


@pytest.mark.parametrize("act", [0, 1, 3])
@pytest.mark.parametrize("case", CASES)
def test_conv_equals_tflm(case, act):
    pytest.importorskip("tflite_micro")
    rng = np.random.default_rng(abs(hash((str(case), act))) % 2**32)
    data, p = _one_op_tflite(case, act, rng)
    for _ in range(3):
        x = rng.integers(-128, 128, (1,) + case[1:3] + (case[3],)).astype(np.int8)
        np.testing.assert_array_equal(conv.reference(p, x), tflm_run(data, [x]))


def test_padding_and_output_sizes_follow_tflite():
    assert conv.output_size(SAME, 61, 10, 2, 1) == 31 and conv.padding_before(SAME, 61, 10, 2, 1) == 4
    assert conv.output_size(SAME, 13, 4, 2, 1) == 7 and conv.padding_before(SAME, 13, 4, 2, 1) == 1
    assert conv.output_size(VALID, 13, 4, 2, 1) == 5 and conv.padding_before(VALID, 13, 4, 2, 1) == 0
    assert conv.output_size(VALID, 7, 3, 1, 3) == 1  # dilated filter spans 7


def test_activation_ranges():
    assert conv.activation_range(0, 0.1, 5) == (-128, 127)
    assert conv.activation_range(1, 0.1, -20) == (-20, 127)
    assert conv.activation_range(3, 0.05, -128) == (-128, -8)  # 6 / 0.05 = 120
    assert conv.activation_range(2, 0.004, 3) == (-128, 127)  # ±1 / 0.004 = ±250: clamped
    with pytest.raises(FixedRnnError, match="fused activation 4"):
        conv.activation_range(4, 0.1, 0)


def test_accumulator_overflow_is_refused():
    n = 70000  # 70000 · 127 · 255 > 2**31
    p = conv.prepare(np.full((1, 1, 1, n), 127, np.int8), None, [2**30], [0], -128, 0, -128, 127, (1, 1), (1, 1),
                     VALID, False, "big conv")
    with pytest.raises(FixedRnnError, match="big conv"):
        conv.reference(p, np.full((1, 1, 1, n), 127, np.int8))


def test_bad_shapes_are_refused():
    with pytest.raises(FixedRnnError, match="filter must be int8"):
        conv.prepare(np.zeros((2, 3, 3, 1), np.int16), None, [1], [0], 0, 0, -128, 127, (1, 1), (1, 1), SAME, False)
    p = conv.prepare(np.zeros((2, 3, 3, 2), np.int8), None, [1], [0], 0, 0, -128, 127, (1, 1), (1, 1), SAME, False)
    with pytest.raises(FixedRnnError, match="reads 2 input channels"):
        conv.reference(p, np.zeros((1, 4, 4, 3), np.int8))
    p = conv.prepare(np.zeros((2, 5, 5, 2), np.int8), None, [1], [0], 0, 0, -128, 127, (1, 1), (1, 1), VALID, False)
    with pytest.raises(FixedRnnError, match="leaves no output"):
        conv.reference(p, np.zeros((1, 4, 4, 2), np.int8))
