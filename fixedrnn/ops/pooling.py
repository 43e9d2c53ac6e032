"""AVERAGE_POOL_2D and MEAN, TFLM's int8 forms.

AVERAGE_POOL_2D (``reference_integer_ops::AveragePool``; input and output share one quantisation),
NHWC int8 ``[B, H, W, C]`` → ``[B, OH, OW, C]``: per output the int32 sum ``S`` of the ``n`` input
values under the filter that lie inside the image (padding omitted, not counted), then ``S / n``
rounded half away from zero as C writes it — ``(S + n/2) / n`` for ``S > 0``, else ``(S − n/2) / n``,
``/`` truncating toward zero — clamped to the fused activation's range. Output sizes and padding:
:mod:`fixedrnn.ops.conv`.

MEAN (``reference_ops::QuantizedMeanOrSum``, TFLM's int8 path): over the reduced axes, ``n``
elements, ``S`` their int32 sum; ``(m, s) = QuantizeMultiplier(double(s_in) / double(s_out))``; with
``k = min(floor(log2 n), 32, 31 + s)``, ``m' = (m · 2**k) // n`` (int64, truncating) and ``s' = s −
k``; ``out = clamp(z_out + MBQM(S − z_in · n, m', s'), −128, 127)``.
C: the graph executor's AVERAGE_POOL_2D and MEAN ops (``fixedrnn/c/model/frnn_graph.c``; MEAN over
the map of ``[1, H, W, C]`` only).
"""

import numpy as np

from fixedrnn.errors import FixedRnnError
from fixedrnn.fixedpoint import INT32_MAX, INT32_MIN, multiply_by_quantized_multiplier
from fixedrnn.ops.conv import output_size, padding_before


def average_pool(x, filter_hw, stride, padding, lo, hi, name="AVERAGE_POOL_2D"):
    """int8 ``[B, OH, OW, C]`` of int8 ``x [B, H, W, C]`` (module doc); ``filter_hw``, ``stride``:
    (h, w); ``lo, hi``: the fused activation's range."""
    x = np.asarray(x).astype(np.int64)
    b, h, w, c = x.shape
    (fh, fw), (sh, sw) = filter_hw, stride
    oh, ow = output_size(padding, h, fh, sh, 1), output_size(padding, w, fw, sw, 1)
    if oh < 1 or ow < 1:
        raise FixedRnnError(f"{name}: a {fh}x{fw} filter leaves no output of a {h}x{w} input")
    ph, pw = padding_before(padding, h, fh, sh, 1), padding_before(padding, w, fw, sw, 1)
    out = np.zeros((b, oh, ow, c), np.int64)
    for y in range(oh):
        y0, y1 = max(y * sh - ph, 0), min(y * sh - ph + fh, h)
        for xx in range(ow):
            x0, x1 = max(xx * sw - pw, 0), min(xx * sw - pw + fw, w)
            n = (y1 - y0) * (x1 - x0)
            if n <= 0:
                raise FixedRnnError(f"{name}: output ({y}, {xx}) has no input under its filter")
            total = x[:, y0:y1, x0:x1].sum(axis=(1, 2))
            out[:, y, xx] = np.where(total > 0, (total + n // 2) // n, -((-total + n // 2) // n))
    return np.clip(out, lo, hi).astype(np.int8)


def mean_rescale(multiplier, shift, n):
    """``(m', s')``: TFLM's MEAN rescale ``(m, s)`` with ``1/n`` folded in (module doc)."""
    if n < 1:
        raise FixedRnnError(f"MEAN over {n} elements")
    k = min(n.bit_length() - 1, 32, 31 + int(shift))
    return (int(multiplier) << k) // n, int(shift) - k


def mean(x, axes, multiplier, shift, input_zero_point, output_zero_point, keep_dims, name="MEAN"):
    """int8: the MEAN of int8 ``x`` over ``axes`` (module doc; ``keep_dims`` keeps them as size 1)."""
    x = np.asarray(x).astype(np.int64)
    axes = tuple(sorted({a % x.ndim for a in axes}))
    n = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    total = x.sum(axis=axes, keepdims=bool(keep_dims)) - int(input_zero_point) * n
    if total.size and (total.min() < INT32_MIN or total.max() > INT32_MAX):
        raise FixedRnnError(f"{name}: the sum over {n} elements leaves int32")
    m, s = mean_rescale(multiplier, shift, n)
    scaled = multiply_by_quantized_multiplier(total, m, s).astype(np.int64)
    return np.clip(scaled + int(output_zero_point), -128, 127).astype(np.int8)
