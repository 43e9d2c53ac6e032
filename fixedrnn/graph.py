"""A graph model's integer program: an ordered list of TFLite ops over tensors with per-tensor
quantisation, run by fixedrnn's ops exactly as TFLM runs the original ``.tflite``.

This is the form of the unrolled Keras graphs (SimpleRNN, LSTM, GRU with ``unroll=True``): per step a
FULLY_CONNECTED, ADD / SUB / MUL, LOGISTIC / TANH, the data moves between them, and a different
quantisation at every step (docs/import.md, "Unrolled Keras graphs"), and of convolutional networks
(CONV_2D, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D, MEAN: docs/import.md, "Convolutional graphs"; built by
:mod:`fixedrnn.conv_graph` for ``tools/train.py --cell dscnn``). :mod:`fixedrnn.graph_import`
builds a :class:`Graph` from a ``.tflite``; :mod:`fixedrnn.graph_model` stores it in the ``.npz``
model format.

Stored form (:class:`Graph`, every array as in the file; N tensors, K ops):

- ``tensor_type`` int32 ``[N]``: TFLite ``TensorType`` codes (:data:`TENSOR_TYPES`);
  ``tensor_rank`` int32 ``[N]`` and ``tensor_shape`` int32 ``[N, MAX_RANK]`` (dims, zero-padded);
- ``scale_start`` int32 ``[N + 1]`` into ``scales`` float32: a tensor's scales (none: not quantised,
  one: per tensor, several: per channel of axis 0 — FULLY_CONNECTED and CONV_2D weights and biases —
  or of axis 3 for a DEPTHWISE_CONV_2D filter, :meth:`Graph.channel_axis`);
  ``zero_point`` int32 ``[N]``;
- ``data_offset`` int32 ``[N]`` (−1: computed, else the byte offset of the constant's little-endian
  data in ``constants`` uint8; constants that share a ``.tflite`` buffer share these bytes, so
  weights used at every step are stored once);
- ``op_code`` int32 ``[K]`` (TFLite ``BuiltinOperator``: :data:`OP_NAMES`), ``io_start`` int32
  ``[K + 1]`` into ``io`` int32 (op k's inputs then outputs, tensor indices, −1 an omitted optional
  input), ``input_count`` int32 ``[K]``;
- ``param_start`` int32 ``[K + 1]`` into ``params`` int32: each op's integers, derived from the
  scales by TFLM's Prepare (:func:`derive_params`, which the loader re-runs and compares):
  FULLY_CONNECTED ``m[out], s[out]``; ADD / SUB ``m1, s1, m2, s2, m_out, s_out``; MUL ``m, s``;
  TANH / LOGISTIC ``m, s, radius``; UNPACK / SPLIT / SPLIT_V / CONCATENATION ``axis``;
  STRIDED_SLICE ``begin_mask, end_mask, shrink_axis_mask``; RESHAPE / QUANTIZE / DEQUANTIZE none;
  CONV_2D ``padding, stride_h, stride_w, dilation_h, dilation_w, activation, lo, hi, m[out], s[out]``
  and DEPTHWISE_CONV_2D the same with ``depth_multiplier`` after ``activation`` (padding 0 SAME,
  1 VALID; activation TFLite's fused-activation code; ``lo, hi`` its int8 range,
  :func:`fixedrnn.ops.conv.activation_range`); AVERAGE_POOL_2D ``padding, stride_h, stride_w,
  filter_h, filter_w, activation, lo, hi``; MEAN ``keep_dims, m, s`` (its axes: the constant input);
- ``input``, ``output``: the graph's int8 input ``[1, T, I]`` and int8 output ``[1, C]``.
"""

import functools
from dataclasses import dataclass

import numpy as np

from fixedrnn import convert
from fixedrnn.errors import FixedRnnError
from fixedrnn.fixedpoint import quantize_multiplier
from fixedrnn.ops import (arith_s8, conv, data_move, elementwise, float_island, fully_connected, logistic_s8, pooling,
                          tanh_s8)

MAX_RANK = 6
#: TFLite TensorType codes a graph may hold → NumPy dtype.
TENSOR_TYPES = {0: np.float32, 2: np.int32, 7: np.int16, 9: np.int8}
#: TFLite BuiltinOperator codes the graph engine runs → name.
OP_NAMES = {0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D",
            6: "DEQUANTIZE", 9: "FULLY_CONNECTED", 14: "LOGISTIC", 18: "MUL", 22: "RESHAPE", 28: "TANH", 40: "MEAN",
            41: "SUB", 45: "STRIDED_SLICE", 49: "SPLIT", 88: "UNPACK", 102: "SPLIT_V", 114: "QUANTIZE"}
#: The structural integers (from the op's options) that lead the stored params of these ops.
STRUCTURE_COUNTS = {"CONV_2D": 6, "DEPTHWISE_CONV_2D": 7, "AVERAGE_POOL_2D": 6, "MEAN": 1}
OP_CODES = {name: code for code, name in OP_NAMES.items()}
INT8 = 9


@dataclass(frozen=True, eq=False)
class Graph:
    """The stored graph (module doc): int32 / float32 / uint8 arrays as in the model file."""

    tensor_type: np.ndarray
    tensor_rank: np.ndarray
    tensor_shape: np.ndarray
    scale_start: np.ndarray
    scales: np.ndarray
    zero_point: np.ndarray
    data_offset: np.ndarray
    constants: np.ndarray
    op_code: np.ndarray
    io_start: np.ndarray
    input_count: np.ndarray
    io: np.ndarray
    param_start: np.ndarray
    params: np.ndarray
    input: int
    output: int

    # -- structure -------------------------------------------------------------------------------

    @property
    def n_tensors(self):
        return int(self.tensor_type.shape[0])

    @property
    def n_ops(self):
        return int(self.op_code.shape[0])

    def shape(self, t):
        """Tensor ``t``'s shape (a tuple of ints)."""
        return tuple(int(d) for d in self.tensor_shape[t, :self.tensor_rank[t]])

    def dtype(self, t):
        return TENSOR_TYPES[int(self.tensor_type[t])]

    def tensor_scales(self, t):
        """float32 ``[0 | 1 | channels]``: tensor ``t``'s scales."""
        return self.scales[self.scale_start[t]:self.scale_start[t + 1]]

    def scale(self, t):
        """Tensor ``t``'s per-tensor scale (a float32 value as float); ``FixedRnnError`` if it has
        none or several."""
        s = self.tensor_scales(t)
        if s.shape[0] != 1:
            raise FixedRnnError(f"tensor {t}: expected one scale, has {s.shape[0]}")
        return float(s[0])

    def inputs(self, k):
        """Op ``k``'s input tensor indices (−1: an omitted optional input)."""
        start = self.io_start[k]
        return [int(v) for v in self.io[start:start + self.input_count[k]]]

    def outputs(self, k):
        return [int(v) for v in self.io[self.io_start[k] + self.input_count[k]:self.io_start[k + 1]]]

    def op_params(self, k):
        return [int(v) for v in self.params[self.param_start[k]:self.param_start[k + 1]]]

    def op_name(self, k):
        return OP_NAMES[int(self.op_code[k])]

    def constant(self, t):
        """Constant tensor ``t``'s value (its dtype and shape); None for a computed tensor."""
        offset = int(self.data_offset[t])
        if offset < 0:
            return None
        dtype = np.dtype(self.dtype(t)).newbyteorder("<")
        count = int(np.prod(self.shape(t), dtype=np.int64))
        raw = self.constants[offset:offset + count * dtype.itemsize]
        if raw.shape[0] != count * dtype.itemsize:
            raise FixedRnnError(f"tensor {t}: constant data runs past the end of the constants")
        return raw.view(dtype).astype(self.dtype(t)).reshape(self.shape(t))

    def channel_axis(self, t):
        """The axis of tensor ``t``'s per-channel scales (TFLite's ``quantized_dimension``): 3 for a
        DEPTHWISE_CONV_2D filter ``[1, KH, KW, C]``, else 0."""
        return 3 if t in self.depthwise_filters else 0

    @functools.cached_property
    def depthwise_filters(self):
        """The tensors that are a DEPTHWISE_CONV_2D's filter."""
        return frozenset(self.inputs(k)[1] for k in range(self.n_ops) if self.op_name(k) == "DEPTHWISE_CONV_2D")

    @property
    def frames(self):
        """T of the input ``[1, T, I]``."""
        return self.shape(self.input)[1]

    @property
    def n_features(self):
        return self.shape(self.input)[2]

    @property
    def n_outputs(self):
        return self.shape(self.output)[-1]

    @functools.cached_property
    def prepared(self):
        """Every op's prepared params (tables built once): :func:`prepare`."""
        return prepare(self)

    @functools.cached_property
    def prepared_batch(self):
        """:func:`prepare` for :func:`run_batch` (batched, numba's FULLY_CONNECTED)."""
        return prepare(self, batched=True)

    def run(self, x, trace=False):
        """int8 ``[T, I]`` → int8 ``[C]``, the ops in order (:func:`run`)."""
        return run(self, x, trace=trace)

    @functools.cached_property
    def trace_width(self):
        """W of :func:`op_outputs`: the most int8 output elements of one op."""
        return max([sum(int(np.prod(self.shape(t))) for t in self.outputs(k) if self.tensor_type[t] == INT8)
                    for k in range(self.n_ops)] + [1])


# -- TFLM's Prepare: the integers of each op ------------------------------------------------------


def derive_params(graph, k):
    """Op ``k``'s stored integers (module doc) derived from the tensors' scales by TFLM's Prepare."""
    name, ins, outs = graph.op_name(k), graph.inputs(k), graph.outputs(k)
    if name == "FULLY_CONNECTED":
        rows = graph.shape(ins[1])[0]
        m, s = convert.tflm_fc_multiplier(graph.scale(ins[0]), graph.tensor_scales(ins[1]), graph.scale(outs[0]))
        return list(np.broadcast_to(m, rows)) + list(np.broadcast_to(s, rows))
    if name == "ADD":
        p = convert.add_params(graph.scale(ins[0]), graph.scale(ins[1]), graph.scale(outs[0]), 0)
        return [p.input1_multiplier, p.input1_shift, p.input2_multiplier, p.input2_shift, p.output_multiplier,
                p.output_shift]
    if name == "SUB":
        p = arith_s8.prepare_sub(graph.scale(ins[0]), 0, graph.scale(ins[1]), 0, graph.scale(outs[0]), 0)
        return [p.input1_multiplier, p.input1_shift, p.input2_multiplier, p.input2_shift, p.output_multiplier,
                p.output_shift]
    if name == "MUL":
        return list(convert.mul_multiplier(graph.scale(ins[0]), graph.scale(ins[1]), graph.scale(outs[0])))
    if name in ("TANH", "LOGISTIC"):
        p = convert.tanh_params(graph.scale(ins[0]))  # the same 4-integer-bit rescale for both
        return [p.input_multiplier, p.input_shift, p.input_range_radius]
    if name in ("UNPACK", "CONCATENATION", "SPLIT", "SPLIT_V", "STRIDED_SLICE"):
        return graph.op_params(k)  # structural: taken from the .tflite's options as they are
    if name in STRUCTURE_COUNTS:
        structure = graph.op_params(k)[:STRUCTURE_COUNTS[name]]
        if len(structure) != STRUCTURE_COUNTS[name]:
            raise FixedRnnError(f"{len(structure)} structural integers, {name} has {STRUCTURE_COUNTS[name]}")
        if name == "MEAN":
            return structure + list(quantize_multiplier(float(np.float32(graph.scale(ins[0])))
                                                        / float(np.float32(graph.scale(outs[0])))))
        lo, hi = conv.activation_range(structure[5], graph.scale(outs[0]), int(graph.zero_point[outs[0]]))
        if name == "AVERAGE_POOL_2D":
            return structure + [lo, hi]
        channels = graph.shape(outs[0])[-1]
        m, s = convert.tflm_fc_multiplier(graph.scale(ins[0]), graph.tensor_scales(ins[1]), graph.scale(outs[0]))
        return structure + [lo, hi] + list(np.broadcast_to(m, channels)) + list(np.broadcast_to(s, channels))
    return []


def check_params(graph):
    """``FixedRnnError`` unless every op's stored integers are TFLM's derivation from the scales."""
    for k in range(graph.n_ops):
        expected = [int(v) for v in derive_params(graph, k)]
        if graph.op_params(k) != expected:
            raise FixedRnnError(f"op {k} ({graph.op_name(k)}): stored integers differ from TFLM's derivation "
                                f"from the tensors' scales")


# -- prepare and run ------------------------------------------------------------------------------


class _Rescale:
    """(input_multiplier, input_shift, input_range_radius) as the activation ops' prepare wants."""

    def __init__(self, m, s, radius):
        self.input_multiplier, self.input_shift, self.input_range_radius = m, s, radius


def _prepare_op(graph, k, batched=False):
    """``(function, input tensors)`` of op ``k``: the function maps the input values to the list of
    output values. ``batched``: every computed tensor has a leading batch axis (the values of B
    sequences, :func:`run_batch`; constants have none) and FULLY_CONNECTED runs numba's kernel;
    otherwise the ops' NumPy references on one sequence."""
    name, ins, outs, p = graph.op_name(k), graph.inputs(k), graph.outputs(k), graph.op_params(k)
    z = [int(graph.zero_point[t]) if t >= 0 else 0 for t in ins]
    zo = [int(graph.zero_point[t]) for t in outs]
    lead = (-1,) if batched else ()

    def axis(a):  # an op's axis in the batched tensors (a negative axis counts from the end: the same)
        return a + 1 if batched and a >= 0 else a

    def binary(op, shape):
        """An elementwise op on two inputs broadcast as TFLM broadcasts them (trailing axes aligned);
        batched, a computed input's dims are aligned to the output's rank behind its batch axis."""
        lift = [batched and graph.data_offset[t] < 0 for t in ins]
        ranks = [(len(graph.shape(t)), graph.shape(t)) for t in ins]

        def run(a, b):
            a, b = (np.asarray(v).reshape((v.shape[0],) + (1,) * (len(shape) - r) + dims) if up else v
                    for v, up, (r, dims) in zip((a, b), lift, ranks))
            return [op(a, b).reshape(lead + shape)]
        return run

    if name == "FULLY_CONNECTED":
        weight = graph.constant(ins[1])
        bias = graph.constant(ins[2]) if len(ins) > 2 and ins[2] >= 0 else None
        rows = weight.shape[0]
        fc = fully_connected.prepare(weight, bias, p[:rows], p[rows:], z[0], zo[0], -128, 127,
                                     f"op {k} FULLY_CONNECTED")
        kernel = fully_connected.run_numba if batched else fully_connected.reference
        shape = graph.shape(outs[0])
        return (lambda x: [kernel(fc, np.asarray(x).reshape(-1, weight.shape[1])).astype(
            np.int8).reshape(lead + shape)]), ins[:1]
    if name in ("ADD", "SUB"):
        params = elementwise.AddS8Params(z[0], p[0], p[1], z[1], p[2], p[3], zo[0], p[4], p[5])
        op = elementwise.add_s8_reference if name == "ADD" else arith_s8.sub_s8_reference
        return binary(lambda a, b: op(params, a, b), graph.shape(outs[0])), ins
    if name == "MUL":
        params = arith_s8.MulS8Params(z[0], z[1], p[0], p[1], zo[0], -128, 127)
        return binary(lambda a, b: arith_s8.mul_s8_reference(params, a, b, f"op {k} MUL"), graph.shape(outs[0])), ins
    if name == "TANH":
        params = tanh_s8.prepare(z[0], _Rescale(*p))
        return (lambda x: [tanh_s8.lookup(params, x)]), ins
    if name == "LOGISTIC":
        params = logistic_s8.prepare(z[0], _Rescale(*p))
        return (lambda x: [logistic_s8.lookup(params, x)]), ins
    if name == "DEQUANTIZE":
        scale = graph.scale(ins[0])
        return (lambda x: [float_island.dequantize_reference(scale, z[0], x)]), ins
    if name == "QUANTIZE":
        scale = graph.scale(outs[0])
        return (lambda x: [float_island.quantize_reference(scale, zo[0], x)]), ins
    if name == "RESHAPE":
        shape = lead + graph.shape(outs[0])
        return (lambda x: [data_move.reshape(x, shape)]), ins[:1]
    if name == "UNPACK":
        return (lambda x: data_move.unpack(x, axis(p[0]))), ins
    if name == "SPLIT":
        return (lambda x: data_move.split(x, axis(p[0]), len(outs))), ins[1:2]
    if name == "SPLIT_V":
        sizes = graph.constant(ins[1]).reshape(-1)
        return (lambda x: data_move.split_v(x, axis(p[0]), sizes)), ins[:1]
    if name == "STRIDED_SLICE":
        begin, end, strides = (graph.constant(t).reshape(-1) for t in ins[1:4])
        masks = p
        if batched:  # the batch axis: all of it, kept
            begin, end, strides = (np.concatenate([[v], a]) for v, a in ((0, begin), (0, end), (1, strides)))
            masks = [p[0] << 1 | 1, p[1] << 1 | 1, p[2] << 1]
        shape = lead + graph.shape(outs[0])
        return (lambda x: [data_move.strided_slice(x, begin, end, strides, *masks).reshape(shape)]), ins[:1]
    if name == "CONCATENATION":
        return (lambda *xs: [data_move.concatenation(xs, axis(p[0]))]), ins
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        depthwise = name == "DEPTHWISE_CONV_2D"
        n = STRUCTURE_COUNTS[name]
        channels = graph.shape(outs[0])[-1]
        bias = graph.constant(ins[2]) if len(ins) > 2 and ins[2] >= 0 else None
        cp = conv.prepare(graph.constant(ins[1]), bias, p[n + 2:n + 2 + channels], p[n + 2 + channels:], z[0], zo[0],
                          p[n], p[n + 1], p[1:3], p[3:5], p[0], depthwise, f"op {k} {name}")
        shape = graph.shape(outs[0])
        return (lambda x: [conv.reference(cp, np.asarray(x).reshape((-1,) + graph.shape(ins[0])[1:])).reshape(
            lead + shape)]), ins[:1]
    if name == "AVERAGE_POOL_2D":
        shape = graph.shape(outs[0])
        return (lambda x: [pooling.average_pool(np.asarray(x).reshape((-1,) + graph.shape(ins[0])[1:]), p[3:5],
                                                p[1:3], p[0], p[6], p[7], f"op {k} AVERAGE_POOL_2D").reshape(
            lead + shape)]), ins[:1]
    if name == "MEAN":
        axes = [axis(int(a) % len(graph.shape(ins[0]))) for a in graph.constant(ins[1]).reshape(-1)]
        shape = graph.shape(outs[0])
        return (lambda x: [pooling.mean(x, axes, p[1], p[2], z[0], zo[0], p[0], f"op {k} MEAN").reshape(
            lead + shape)]), ins[:1]
    raise FixedRnnError(f"op {k}: {name} is not run by the graph engine")


def prepare(graph, batched=False):
    """The graph's ops as a list of ``(function, input tensors, output tensors)`` and its constant
    tensors' values (``{tensor: array}``); TFLM's Prepare of each op (``batched``: :func:`_prepare_op`)."""
    steps = []
    for k in range(graph.n_ops):
        fn, ins = _prepare_op(graph, k, batched)
        steps.append((fn, ins, graph.outputs(k)))
    constants = {t: graph.constant(t) for t in range(graph.n_tensors) if graph.data_offset[t] >= 0}
    return steps, constants


def _execute(steps, values):
    for fn, ins, outs in steps:
        results = fn(*(values[t] for t in ins))
        for t, v in zip(outs, results):
            values[t] = v
    return values


def run_batch(graph, xs):
    """int8 ``[B, T, I]`` → int8 ``[B, C]``: the graph run once on the whole batch (every computed
    tensor with a leading batch axis; FULLY_CONNECTED by the numba kernel, the other ops vectorised
    over the batch). The same integers as :func:`run` on each sequence."""
    xs = np.asarray(xs)
    if xs.dtype != np.int8 or xs.ndim != 3 or xs.shape[1:] != graph.shape(graph.input)[1:]:
        raise FixedRnnError(f"x must be int8 of shape [B, {', '.join(map(str, graph.shape(graph.input)[1:]))}], "
                            f"got {xs.dtype} {xs.shape}")
    if xs.shape[0] == 0:
        return np.zeros((0, graph.n_outputs), np.int8)
    steps, constants = graph.prepared_batch
    values = dict(constants)
    values[graph.input] = xs[:, None]
    return np.asarray(_execute(steps, values)[graph.output], np.int8).reshape(xs.shape[0], -1)


def run(graph, x, trace=False):
    """int8 ``[T, I]`` → int8 ``[C]``: the graph's ops in order on ``x[None]``. With ``trace`` also
    returns ``{tensor index: value}`` of every computed tensor."""
    x = np.asarray(x)
    if x.dtype != np.int8 or x.shape != graph.shape(graph.input)[1:]:
        raise FixedRnnError(f"x must be int8 of shape {graph.shape(graph.input)[1:]}, got {x.dtype} {x.shape}")
    steps, constants = graph.prepared
    values = dict(constants)
    values[graph.input] = x[None]
    _execute(steps, values)
    out = np.asarray(values[graph.output], np.int8).reshape(-1)
    return (out, values) if trace else out


def op_outputs(graph, values):
    """int8 ``[K, W]`` (W = :attr:`Graph.trace_width`): row k holds op k's int8 outputs, each
    flattened (row-major), concatenated in output order and zero-padded to W; an op whose outputs are
    float32 (the float island's DEQUANTIZE and float SPLIT) has a row of zeros. ``values``: the
    ``{tensor: value}`` of :func:`run` with ``trace``. The golden vectors' per-op trace (docs/golden.md)."""
    rows = np.zeros((graph.n_ops, graph.trace_width), np.int8)
    for k in range(graph.n_ops):
        flat = [np.asarray(values[t]).reshape(-1) for t in graph.outputs(k) if graph.tensor_type[t] == INT8]
        if flat:
            row = np.concatenate(flat)
            rows[k, :row.shape[0]] = row
    return rows
