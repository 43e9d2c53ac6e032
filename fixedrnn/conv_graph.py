"""A convolutional classifier (float layers and their calibrated output ranges) → an int8
:class:`fixedrnn.graph.Graph`, quantised as the TFLite converter quantises (post-training, full int8).

The network: the int8 input ``[1, T, I]`` reshaped to the feature image ``[1, T, I, 1]``, then
:class:`Conv` / :class:`DepthwiseConv` layers (NHWC, TFLite's SAME or VALID padding, a fused RELU or
none), one :class:`GlobalAveragePool` (AVERAGE_POOL_2D over the whole map, the quantisation
unchanged), a RESHAPE to ``[1, C]`` and a :class:`Dense` head to int8 logits ``[1, K]``.

Quantisation (what ``tf.lite.TFLiteConverter`` with a representative dataset writes):

- weights per output channel, symmetric: ``s_W[o] = max|W[o]| / 127`` (``1`` for an all-zero
  channel), ``q = clamp(round(W / s_W), −127, 127)`` (half to even, NumPy's ``rint``);
- biases int32 at ``float32(s_in · s_W[o])``, ``round(b / that)``;
- activations per tensor, asymmetric int8 from the calibrated float range ``[lo, hi]`` widened to
  hold 0: ``s = (hi − lo) / 255``, ``z = clamp(round(−128 − lo / s), −128, 127)`` (float32 ``s``);
- every op's integers by TFLM's Prepare (:func:`fixedrnn.graph.derive_params`).

The graph then runs in the graph engine, as a ``.tflite`` in TFLM (:func:`fixedrnn.tflite_export.
graph_tflite_bytes`) and in a graph model file (:mod:`fixedrnn.graph_model`).
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np

from fixedrnn.errors import FixedRnnError
from fixedrnn.graph import INT8, MAX_RANK, OP_CODES, Graph, derive_params
from fixedrnn.ops.conv import SAME, VALID, output_size

RELU_CODE = 1
_ALIGN = 16


@dataclass(frozen=True)
class Conv:
    """CONV_2D: float ``weight [O, KH, KW, I]``, ``bias [O]``; ``stride`` (h, w); ``padding`` SAME / VALID;
    ``relu`` fused; ``out_range`` the calibrated float (lo, hi) of its output (after the ReLU)."""

    weight: np.ndarray
    bias: np.ndarray
    stride: tuple
    padding: int
    relu: bool
    out_range: tuple


@dataclass(frozen=True)
class DepthwiseConv(Conv):
    """DEPTHWISE_CONV_2D: float ``weight [1, KH, KW, C · M]`` (depth multiplier M: output channel o
    reads input channel o // M), ``bias [C · M]``; the other fields as :class:`Conv`'s."""


@dataclass(frozen=True)
class GlobalAveragePool:
    """The mean over the whole feature map: ``op`` "AVERAGE_POOL_2D" (VALID, then a RESHAPE to
    ``[1, C]``; the input's quantisation kept) or "MEAN" (over axes 1 and 2, Keras'
    ``GlobalAveragePooling2D`` as the converter writes it; output quantised at ``out_range``, the
    input's when None)."""

    op: str = "AVERAGE_POOL_2D"
    out_range: Optional[tuple] = None


@dataclass(frozen=True)
class Dense:
    """The head: float ``weight [K, C]``, ``bias [K]``, ``out_range`` of the logits."""

    weight: np.ndarray
    bias: np.ndarray
    out_range: tuple


def activation_quant(lo, hi):
    """``(scale float32, zero_point)`` of an int8 tensor holding float [lo, hi] (module doc)."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if not np.isfinite(lo) or not np.isfinite(hi):
        raise FixedRnnError(f"range [{lo}, {hi}] is not finite")
    if hi - lo <= 0:
        hi = lo + 1e-6
    scale = float(np.float32((hi - lo) / 255.0))
    zero_point = int(np.clip(np.rint(-128 - lo / scale), -128, 127))
    return scale, zero_point


def weight_quant(weight):
    """``(int8 weights, float32 scales [O])``: symmetric per output channel (axis 0)."""
    w = np.asarray(weight, np.float64)
    peak = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scale.astype(np.float64).reshape((-1,) + (1,) * (w.ndim - 1))), -127, 127)
    return q.astype(np.int8), scale


class _Builder:
    def __init__(self):
        self.tensors = []  # (type code, shape, scales, zero point, data bytes or None)
        self.ops = []  # (name, inputs, outputs, structure)

    def tensor(self, type_code, shape, scales=(), zero_point=0, data=None):
        self.tensors.append((type_code, tuple(int(d) for d in shape), np.asarray(scales, np.float32).reshape(-1),
                             int(zero_point), data))
        return len(self.tensors) - 1

    def op(self, name, inputs, outputs, structure=()):
        self.ops.append((name, list(inputs), list(outputs), [int(v) for v in structure]))

    def graph(self, x, y):
        n = len(self.tensors)
        ttype = np.array([t[0] for t in self.tensors], np.int32)
        rank = np.array([len(t[1]) for t in self.tensors], np.int32)
        shape = np.zeros((n, MAX_RANK), np.int32)
        for i, t in enumerate(self.tensors):
            shape[i, :len(t[1])] = t[1]
        scale_start = np.concatenate([[0], np.cumsum([t[2].shape[0] for t in self.tensors])]).astype(np.int32)
        scales = np.concatenate([t[2] for t in self.tensors]).astype(np.float32)
        blob, offsets = bytearray(), np.full(n, -1, np.int32)
        for i, t in enumerate(self.tensors):
            if t[4] is not None:
                blob += bytes(-len(blob) % _ALIGN)
                offsets[i] = len(blob)
                blob += t[4]
        io, io_start, counts = [], [0], []
        for _, ins, outs, _ in self.ops:
            io += ins + outs
            io_start.append(len(io))
            counts.append(len(ins))
        structure = [s for *_, s in self.ops]
        start = np.concatenate([[0], np.cumsum([len(s) for s in structure])]).astype(np.int32)
        graph = Graph(tensor_type=ttype, tensor_rank=rank, tensor_shape=shape, scale_start=scale_start,
                      scales=scales, zero_point=np.array([t[3] for t in self.tensors], np.int32),
                      data_offset=offsets, constants=np.frombuffer(bytes(blob), np.uint8).copy(),
                      op_code=np.array([OP_CODES[o[0]] for o in self.ops], np.int32),
                      io_start=np.array(io_start, np.int32), input_count=np.array(counts, np.int32),
                      io=np.array(io, np.int32), param_start=start,
                      params=np.array([v for s in structure for v in s], np.int32), input=x, output=y)
        params = [[int(v) for v in derive_params(graph, k)] for k in range(graph.n_ops)]
        start = np.concatenate([[0], np.cumsum([len(p) for p in params])]).astype(np.int32)
        import dataclasses

        return dataclasses.replace(graph, param_start=start,
                                   params=np.array([v for p in params for v in p], np.int32))


def _le(values, dtype):
    return np.ascontiguousarray(values, np.dtype(dtype).newbyteorder("<")).tobytes()


def build_graph(layers, frames, n_features, input_scale, input_zero_point):
    """The int8 :class:`Graph` of ``layers`` (module doc: convolutions, one global average pool,
    one dense head, in that order) for the int8 input ``[1, frames, n_features]`` at
    (``input_scale``, ``input_zero_point``)."""
    kinds = [type(layer) for layer in layers]
    if GlobalAveragePool not in kinds or kinds.count(GlobalAveragePool) != 1 or kinds[-1] is not Dense \
            or kinds.index(GlobalAveragePool) != len(kinds) - 2 \
            or any(k not in (Conv, DepthwiseConv) for k in kinds[:-2]) or len(kinds) < 3:
        raise FixedRnnError("layers must be convolutions, one GlobalAveragePool, then one Dense")
    b = _Builder()
    s_in, z_in = float(np.float32(input_scale)), int(input_zero_point)
    x = b.tensor(INT8, (1, frames, n_features), [s_in], z_in)
    shape_t = b.tensor(2, (4,), data=_le([1, frames, n_features, 1], "i4"))
    cur = b.tensor(INT8, (1, frames, n_features, 1), [s_in], z_in)
    b.op("RESHAPE", [x, shape_t], [cur])
    h, w, c = frames, n_features, 1
    for i, layer in enumerate(layers[:-2]):
        depthwise = isinstance(layer, DepthwiseConv)
        weight = np.asarray(layer.weight, np.float64)
        kh, kw = weight.shape[1:3]
        if depthwise and (weight.shape[0] != 1 or weight.shape[3] % c):
            raise FixedRnnError(f"layer {i}: a depthwise filter must be [1, KH, KW, {c} · M], got "
                                f"{list(weight.shape)}")
        if not depthwise and weight.shape[3] != c:
            raise FixedRnnError(f"layer {i}: the filter reads {weight.shape[3]} channels, the input has {c}")
        if layer.padding not in (SAME, VALID):
            raise FixedRnnError(f"layer {i}: padding must be SAME (0) or VALID (1)")
        out_c = weight.shape[3] if depthwise else weight.shape[0]
        wq, ws = weight_quant(weight.transpose(3, 1, 2, 0) if depthwise else weight)
        if depthwise:
            wq = wq.transpose(3, 1, 2, 0)
        bias_scale = (np.float32(s_in) * ws).astype(np.float32)
        bias = np.rint(np.asarray(layer.bias, np.float64) / bias_scale.astype(np.float64)).astype(np.int64)
        if np.abs(bias).max(initial=0) >= 2**31:
            raise FixedRnnError(f"layer {i}: a bias leaves int32 at the scale s_in · s_W")
        h, w = (output_size(layer.padding, n, k, s, 1) for n, k, s in ((h, kh, layer.stride[0]),
                                                                         (w, kw, layer.stride[1])))
        s_out, z_out = activation_quant(*layer.out_range)
        wt = b.tensor(INT8, wq.shape, ws, 0, _le(wq, "i1"))
        bt = b.tensor(2, (out_c,), bias_scale, 0, _le(bias.astype(np.int32), "i4"))
        out = b.tensor(INT8, (1, h, w, out_c), [s_out], z_out)
        structure = [layer.padding, layer.stride[0], layer.stride[1], 1, 1, RELU_CODE if layer.relu else 0]
        b.op("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", [cur, wt, bt], [out],
             structure + ([out_c // c] if depthwise else []))
        cur, c, s_in, z_in = out, out_c, s_out, z_out
    pool = layers[-2]
    if pool.op == "AVERAGE_POOL_2D":
        pooled = b.tensor(INT8, (1, 1, 1, c), [s_in], z_in)
        b.op("AVERAGE_POOL_2D", [cur], [pooled], [VALID, 1, 1, h, w, 0])
        flat_shape = b.tensor(2, (2,), data=_le([1, c], "i4"))
        flat = b.tensor(INT8, (1, c), [s_in], z_in)
        b.op("RESHAPE", [pooled, flat_shape], [flat])
    elif pool.op == "MEAN":
        if pool.out_range is not None:
            s_in, z_in = activation_quant(*pool.out_range)
        axes = b.tensor(2, (2,), data=_le([1, 2], "i4"))
        flat = b.tensor(INT8, (1, c), [s_in], z_in)
        b.op("MEAN", [cur, axes], [flat], [0])
    else:
        raise FixedRnnError(f"GlobalAveragePool op {pool.op!r}: AVERAGE_POOL_2D or MEAN")
    head = layers[-1]
    weight = np.asarray(head.weight, np.float64)
    if weight.shape[1] != c:
        raise FixedRnnError(f"head: reads {weight.shape[1]} features, the pool gives {c}")
    wq, ws = weight_quant(weight)
    bias_scale = (np.float32(s_in) * ws).astype(np.float32)
    bias = np.rint(np.asarray(head.bias, np.float64) / bias_scale.astype(np.float64)).astype(np.int32)
    s_out, z_out = activation_quant(*head.out_range)
    wt = b.tensor(INT8, wq.shape, ws, 0, _le(wq, "i1"))
    bt = b.tensor(2, (wq.shape[0],), bias_scale, 0, _le(bias, "i4"))
    y = b.tensor(INT8, (1, wq.shape[0]), [s_out], z_out)
    b.op("FULLY_CONNECTED", [flat, wt, bt], [y])
    return b.graph(x, y)


def float_forward(layers, x):
    """The float network on float ``x [B, T, I]`` (the dequantised int8 input): every layer's
    output, a list of float64 arrays (conv outputs NHWC after the ReLU, the pool ``[B, C]``, the
    logits ``[B, K]``): the calibration's activations."""
    a = np.asarray(x, np.float64)[..., None]
    outs = []
    for layer in layers:
        if isinstance(layer, GlobalAveragePool):
            a = a.mean(axis=(1, 2))
        elif isinstance(layer, Dense):
            a = a @ np.asarray(layer.weight, np.float64).T + layer.bias
        else:
            a = _conv_float(a, layer)
        outs.append(a)
    return outs


def _conv_float(a, layer):
    from fixedrnn.ops.conv import tap_sums

    out = tap_sums(a, np.asarray(layer.weight, np.float64), layer.stride, (1, 1), layer.padding,
                   isinstance(layer, DepthwiseConv)) + layer.bias
    return np.maximum(out, 0.0) if layer.relu else out


def calibrated(layers, x, quantile: Optional[float] = None):
    """``layers`` with each conv's and the head's ``out_range`` set to the float min and max of its
    output over the calibration inputs ``x [B, T, I]`` (``quantile`` q: the q and 1 − q quantiles)."""
    import dataclasses

    outs = float_forward(layers, x)
    result = []
    for layer, a in zip(layers, outs):
        if isinstance(layer, GlobalAveragePool) and layer.op != "MEAN":
            result.append(layer)
            continue
        lo, hi = (float(a.min()), float(a.max())) if quantile is None else (
            float(np.quantile(a, quantile)), float(np.quantile(a, 1 - quantile)))
        result.append(dataclasses.replace(layer, out_range=(lo, hi)))
    return result
