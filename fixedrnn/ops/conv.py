"""CONV_2D and DEPTHWISE_CONV_2D, TFLM's int8 per-channel form (``reference_integer_ops::ConvPerChannel``,
``DepthwiseConvPerChannel``).

Definition (int64, exact), NHWC: for output ``(y, x, o)``::

    acc = bias[o] + Σ W[o, fy, fx, i] · (in[y·sh − ph + dh·fy, x·sw − pw + dw·fx, i] − z_in)

over the filter taps inside the image (TFLM's zero padding omits the others: the same as padding
with ``z_in``), then ``out = clamp(z_out + MBQM(acc, m[o], s[o]), act_min, act_max)``
(:mod:`fixedrnn.ops.requantize`). The accumulator is TFLM's int32: it must fit, else
``FixedRnnError``. Shapes: input int8 ``[B, H, W, I]``; CONV_2D filter int8 ``[O, KH, KW, I]``;
DEPTHWISE_CONV_2D filter int8 ``[1, KH, KW, I·M]``, output channel ``o = i·M + m`` reading input
channel ``i`` (depth multiplier M); bias int32 ``[O]`` or None; output int8 ``[B, OH, OW, O]``.

Padding (TFLite's ``ComputePaddingHeightWidth``): SAME ``OH = ceil(H / sh)``, VALID ``OH = ceil((H −
(KH − 1)·dh) / sh)``; ``ph = max((OH − 1)·sh + (KH − 1)·dh + 1 − H, 0) // 2`` (an odd total pads
one more at the end). The fused activation's range: :func:`activation_range`.
C: the graph executor's CONV op (``fixedrnn/c/model/frnn_graph.c``: ``conv``, ``conv_row``).
"""

from typing import NamedTuple

import numpy as np

from fixedrnn.errors import FixedRnnError
from fixedrnn.ops import requantize
from fixedrnn.overflow import check_accumulator

SAME, VALID = 0, 1  # TFLite's Padding enum
#: TFLite's ActivationFunctionType codes the conv and pool ops take fused.
ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}


def output_size(padding, size, kernel, stride, dilation):
    """TFLite's ``ComputeOutSize`` (``padding`` SAME or VALID)."""
    effective = (kernel - 1) * dilation + 1
    if padding == SAME:
        return (size + stride - 1) // stride
    if padding == VALID:
        return (size - effective + stride) // stride
    raise FixedRnnError(f"padding {padding}: not SAME (0) or VALID (1)")


def padding_before(padding, size, kernel, stride, dilation):
    """The padding before the first element along one axis (TFLite's ``ComputePaddingWithOffset``)."""
    out = output_size(padding, size, kernel, stride, dilation)
    total = (out - 1) * stride + (kernel - 1) * dilation + 1 - size
    return max(total, 0) // 2


def activation_range(code, scale, zero_point):
    """TFLite's ``CalculateActivationRangeQuantized`` for int8: ``(lo, hi)`` of a fused activation
    (``code`` of :data:`ACTIVATIONS`) at the output's float32 ``scale`` and ``zero_point``; a bound
    ``f`` is ``z + round(float32(f) / float32(scale))`` (half away from zero), clamped to [−128, 127]."""
    if code not in ACTIVATIONS:
        raise FixedRnnError(f"fused activation {code}: not one of {', '.join(ACTIVATIONS.values())}")

    def q(f):
        return int(zero_point) + int(_round_away(np.float32(f) / np.float32(scale)))

    lo, hi = -128, 127
    if ACTIVATIONS[code] == "RELU":
        lo = max(lo, q(0.0))
    elif ACTIVATIONS[code] == "RELU6":
        lo, hi = max(lo, q(0.0)), min(hi, q(6.0))
    elif ACTIVATIONS[code] == "RELU_N1_TO_1":
        lo, hi = max(lo, q(-1.0)), min(hi, q(1.0))
    return lo, hi


def _round_away(v):
    v = float(v)
    return np.sign(v) * np.floor(abs(v) + 0.5)


class ConvParams(NamedTuple):
    """A prepared CONV_2D or DEPTHWISE_CONV_2D: ``weight`` int64 ``[O, KH, KW, I]`` (depthwise:
    ``[1, KH, KW, I·M]``), ``bias`` int64 ``[O]``, ``depthwise``, ``stride`` / ``dilation`` (h, w),
    ``padding`` (SAME or VALID), ``input_zero_point``, ``requantize`` (per output channel, the fused
    activation's range as its clamp), ``name`` (for error messages)."""

    weight: np.ndarray
    bias: np.ndarray
    depthwise: bool
    stride: tuple
    dilation: tuple
    padding: int
    input_zero_point: int
    requantize: requantize.RequantizeParams
    name: str


def prepare(weight, bias, multiplier, shift, input_zero_point, output_zero_point, lo, hi, stride, dilation,
            padding, depthwise, name="conv"):
    """:class:`ConvParams` (shapes: module doc)."""
    weight = np.asarray(weight)
    if weight.dtype != np.int8 or weight.ndim != 4 or (depthwise and weight.shape[0] != 1):
        raise FixedRnnError(f"{name}: filter must be int8 [O, KH, KW, I] (depthwise [1, KH, KW, C]), got "
                            f"{weight.dtype} {list(weight.shape)}")
    channels = weight.shape[3] if depthwise else weight.shape[0]
    b = np.zeros(channels, np.int64) if bias is None else np.asarray(bias, np.int64).reshape(-1)
    if b.shape[0] != channels:
        raise FixedRnnError(f"{name}: bias has {b.shape[0]} values for {channels} output channels")
    if padding not in (SAME, VALID):
        raise FixedRnnError(f"{name}: padding {padding}: not SAME (0) or VALID (1)")
    if min(stride) < 1 or min(dilation) < 1:
        raise FixedRnnError(f"{name}: strides and dilations must be >= 1, got {stride}, {dilation}")
    rq = requantize.prepare(multiplier, shift, output_zero_point, lo, hi, channels)
    return ConvParams(requantize.frozen(weight, np.int64), requantize.frozen(b, np.int64), bool(depthwise),
                      tuple(int(v) for v in stride), tuple(int(v) for v in dilation), int(padding),
                      int(input_zero_point), rq, name)


def accumulate(p, x):
    """The exact accumulators int64 ``[B, OH, OW, O]`` of int8 ``x [B, H, W, I]`` (module doc)."""
    x = np.asarray(x)
    _, kh, kw, cw = p.weight.shape
    b, h, w, c = x.shape
    if p.depthwise:
        if cw % c:
            raise FixedRnnError(f"{p.name}: {cw} output channels are not a multiple of the {c} input channels")
    elif cw != c:
        raise FixedRnnError(f"{p.name}: filter reads {cw} input channels, the input has {c}")
    acc = tap_sums(x.astype(np.float64) - p.input_zero_point, p.weight.astype(np.float64), p.stride, p.dilation,
                   p.padding, p.depthwise, p.name)
    # float64 is exact: every partial sum is an integer below 2**53 (|product| <= 32640)
    return acc.astype(np.int64) + p.bias


def tap_sums(x, weight, stride, dilation, padding, depthwise, name="conv"):
    """float64 ``[B, OH, OW, O]``: per output, the sum over the filter taps inside the image of
    ``weight · x`` (module doc's geometry; the taps outside read 0). ``x`` float ``[B, H, W, I]``
    (the offset input ``x − z_in``, or a float network's activations), ``weight`` float as the op's
    filter. The accumulator of :func:`accumulate` and the float convolution of
    :func:`fixedrnn.conv_graph.float_forward`."""
    _, kh, kw, cw = weight.shape
    b, h, w, c = x.shape
    (sh, sw), (dh, dw) = stride, dilation
    oh, ow = (output_size(padding, n, k, s, d) for n, k, s, d in ((h, kh, sh, dh), (w, kw, sw, dw)))
    if oh < 1 or ow < 1:
        raise FixedRnnError(f"{name}: a {kh}x{kw} filter leaves no output of a {h}x{w} input")
    ph, pw = padding_before(padding, h, kh, sh, dh), padding_before(padding, w, kw, sw, dw)
    big_h, big_w = max(h + ph, (oh - 1) * sh + (kh - 1) * dh + 1), max(w + pw, (ow - 1) * sw + (kw - 1) * dw + 1)
    xs = np.zeros((b, big_h, big_w, c), np.float64)
    xs[:, ph:ph + h, pw:pw + w] = x
    if depthwise:  # output channel o reads input channel o // M
        xs = np.repeat(xs, cw // c, axis=3)
    acc = np.zeros((b, oh, ow, cw if depthwise else weight.shape[0]), np.float64)
    for fy in range(kh):
        for fx in range(kw):
            tap = xs[:, fy * dh:fy * dh + (oh - 1) * sh + 1:sh, fx * dw:fx * dw + (ow - 1) * sw + 1:sw]
            acc += tap * weight[0, fy, fx] if depthwise else tap @ weight[:, fy, fx, :].T
    return acc


def reference(p, x):
    """int8 ``[B, OH, OW, O]``: the op on int8 ``x [B, H, W, I]`` (module doc)."""
    acc = check_accumulator(accumulate(p, x), f"{p.name} accumulator")
    return requantize.reference(p.requantize, acc, p.name).astype(np.int8)
