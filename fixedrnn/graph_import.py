"""A TensorFlow-converted int8 ``.tflite`` (an unrolled recurrent layer, or a convolutional network) →
a :class:`fixedrnn.graph.Graph`.

What the converter makes of Keras 3 SimpleRNN / LSTM / GRU and tf-keras SimpleRNN / GRU with
``unroll=True`` and batch size 1 (full int8 quantisation): RESHAPE and UNPACK of the input, then per
step FULLY_CONNECTED, ADD, SUB, MUL, LOGISTIC, TANH, SPLIT, SPLIT_V, STRIDED_SLICE (and Keras 3's
float island at the LSTM's step 0: DEQUANTIZE → float SPLIT → QUANTIZE), and the dense head; of a
DS-CNN: RESHAPE to ``[1, T, I, 1]``, CONV_2D and DEPTHWISE_CONV_2D with a fused RELU / RELU6 (batch
normalisation folded), AVERAGE_POOL_2D or MEAN, the dense head. Every
op of :data:`fixedrnn.graph.OP_NAMES` is taken over as it is (its tensors, their quantisation, the
constants with shared buffers stored once) and its integers derived by TFLM's Prepare
(:func:`fixedrnn.graph.derive_params`). Anything else is refused with one line naming the op or
tensor (``InputFileError`` naming the file).
"""

import dataclasses

import numpy as np

from fixedrnn.errors import FixedRnnError, InputFileError
from fixedrnn.graph import INT8, MAX_RANK, OP_CODES, TENSOR_TYPES, Graph, derive_params

#: What to do about the ops a Keras conversion leaves when the layer is not unrolled.
_ADVICE = {"WHILE": "convert with unroll=True and batch_size=1",
           "FILL": "convert with a fixed batch size of 1 (batch_size=1)",
           "UNIDIRECTIONAL_SEQUENCE_LSTM": "a fused LSTM, not an unrolled graph",
           "SOFTMAX": "convert the model without its final softmax (the logits)"}
_ALIGN = 16


#: The reader's dtype names of the tensor types a graph holds → TFLite TensorType code.
_TYPE_CODES = {"float32": 0, "int32": 2, "int16": 7, "int8": 9}


def graph_from_tflite(model):
    """The :class:`Graph` of a :class:`fixedrnn.tflite_read.TfliteModel` (module doc);
    ``InputFileError`` naming the file and the op or tensor it cannot take."""
    def fail(problem):
        raise InputFileError(model.path, problem)

    if len(model.subgraphs) != 1:
        fail(f"{len(model.subgraphs)} subgraphs; a graph model has one (a WHILE loop or a call: convert with "
             f"unroll=True and batch_size=1)")
    sub = model.main
    if len(sub.inputs) != 1 or len(sub.outputs) != 1:
        fail(f"{len(sub.inputs)} inputs and {len(sub.outputs)} outputs; a graph model has one of each")
    for op in sub.operators:
        name = f"custom op {op.custom_code!r}" if op.op == "CUSTOM" else op.op
        if op.op not in OP_CODES:
            advice = _ADVICE.get(op.op, "the graph import runs " + ", ".join(sorted(OP_CODES)))
            fail(f"operator {op.index} {name}: not supported ({advice})")
        if op.options.get("fused_activation_function", "NONE") not in _FUSED.get(op.op, ("NONE",)):
            fail(f"operator {op.index} {name}: fused activation {op.options['fused_activation_function']} is "
                 f"not supported")

    n = len(sub.tensors)
    ttype = np.zeros(n, np.int32)
    rank = np.zeros(n, np.int32)
    shape = np.zeros((n, MAX_RANK), np.int32)
    scale_start, scales, zero_point = [0], [], np.zeros(n, np.int32)
    data_offset = np.full(n, -1, np.int32)
    blob, stored = bytearray(), {}
    channel_axes = {}
    for tensor in sub.tensors:
        t, label = tensor.index, f"tensor {tensor.index} {tensor.name!r}"
        if tensor.dtype not in _TYPE_CODES:
            fail(f"{label}: type {tensor.dtype} is not supported")
        if tensor.is_variable:
            fail(f"{label}: variable tensors are not supported (an unrolled graph has none)")
        if len(tensor.shape) > MAX_RANK or any(d < 1 for d in tensor.shape):
            fail(f"{label}: shape {list(tensor.shape)} is not supported (rank <= {MAX_RANK}, fixed sizes)")
        ttype[t], rank[t] = _TYPE_CODES[tensor.dtype], len(tensor.shape)
        shape[t, :len(tensor.shape)] = tensor.shape
        q = tensor.quantization
        if q is not None:
            if q.per_channel and (q.quantized_dimension not in (0, 3) or np.any(q.zero_point != 0)):
                fail(f"{label}: per-channel quantisation must be on axis 0 (3 for a depthwise filter) with "
                     f"zero points 0")
            if q.per_channel:
                channel_axes[t] = q.quantized_dimension
            if np.any(q.scale <= 0) or (tensor.dtype == "int8" and not -128 <= q.zero_point[0] <= 127):
                fail(f"{label}: a scale must be > 0 and an int8 zero point in [-128, 127]")
            scales += [float(v) for v in q.scale]
            zero_point[t] = int(q.zero_point[0])
        scale_start.append(len(scales))
        if tensor.data is not None:
            raw = np.ascontiguousarray(tensor.data).astype(np.dtype(TENSOR_TYPES[ttype[t]]).newbyteorder("<")).tobytes()
            if raw not in stored:  # one copy of equal constants (the weights every step uses)
                blob += bytes(-len(blob) % _ALIGN)
                stored[raw] = len(blob)
                blob += raw
            data_offset[t] = stored[raw]
    (x,), (y,) = sub.inputs, sub.outputs
    for which, t, want in (("input", x, 3), ("output", y, 2)):
        if ttype[t] != INT8 or rank[t] != want or shape[t, 0] != 1 or scale_start[t + 1] - scale_start[t] != 1:
            fail(f"{which} tensor {t} {sub.tensors[t].name!r}: must be int8 of shape [1, ...] (rank {want}) with "
                 f"one scale, got {sub.tensors[t].dtype} {list(sub.tensors[t].shape)} (a full-integer model)")

    io_start, input_count, io, structure = [0], [], [], []
    for op in sub.operators:
        io += list(op.inputs) + list(op.outputs)
        io_start.append(len(io))
        input_count.append(len(op.inputs))
        structure.append(_structure(op, fail, data_offset))
    graph = Graph(tensor_type=ttype, tensor_rank=rank, tensor_shape=shape,
                  scale_start=np.array(scale_start, np.int32), scales=np.array(scales, np.float32),
                  zero_point=zero_point, data_offset=data_offset, constants=np.frombuffer(bytes(blob), np.uint8).copy(),
                  op_code=np.array([OP_CODES[op.op] for op in sub.operators], np.int32),
                  io_start=np.array(io_start, np.int32), input_count=np.array(input_count, np.int32),
                  io=np.array(io, np.int32), param_start=np.zeros(len(sub.operators) + 1, np.int32),
                  params=np.zeros(0, np.int32), input=int(x), output=int(y))

    def tensor_name(t):
        return f"{t} {sub.tensors[t].name!r}"

    for t, axis in channel_axes.items():
        if axis != graph.channel_axis(t) or graph.tensor_scales(t).shape[0] != graph.shape(t)[axis]:
            fail(f"tensor {tensor_name(t)}: per-channel scales on axis {axis}; its op reads its channels on axis "
                 f"{graph.channel_axis(t)}")
    _check_types(graph, tensor_name, fail)
    return _with_params(graph, [_params(graph, k, structure[k], fail) for k in range(graph.n_ops)])


#: The fused activations an op may carry (TFLite's names); the others: NONE only.
_FUSED = {name: ("NONE", "RELU", "RELU_N1_TO_1", "RELU6")
          for name in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D")}
_ACTIVATION_CODES = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}

_INPUT_COUNTS = {"CONV_2D": (2, 3), "DEPTHWISE_CONV_2D": (2, 3), "AVERAGE_POOL_2D": 1, "MEAN": 2, "ADD": 2, "SUB": 2, "MUL": 2, "TANH": 1, "LOGISTIC": 1, "DEQUANTIZE": 1, "QUANTIZE": 1,
                 "RESHAPE": (1, 2), "UNPACK": 1, "SPLIT": 2, "SPLIT_V": 3, "STRIDED_SLICE": 4,
                 "FULLY_CONNECTED": (2, 3)}
_ONE_OUTPUT = ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MEAN", "ADD", "SUB", "MUL", "TANH", "LOGISTIC", "DEQUANTIZE", "QUANTIZE", "RESHAPE", "STRIDED_SLICE",
               "FULLY_CONNECTED", "CONCATENATION")


_OPTIONAL_BIAS = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D")


def _constant(op, position, data_offset, fail, what):
    t = op.inputs[position]
    if t < 0 or data_offset[t] < 0:
        fail(f"operator {op.index} {op.op}: {what} must be a constant")
    return ("const", t)


def _structure(op, fail, data_offset):
    """The op's structural integers from its options (a constant input is read once the graph
    exists: a ``("const", tensor)`` marker); checks its input and output counts."""
    name, options = op.op, op.options
    want = _INPUT_COUNTS.get(name)
    counts = want if isinstance(want, tuple) else (want,)
    if (want is not None and len(op.inputs) not in counts) or (name == "CONCATENATION" and not op.inputs) \
            or (name in _ONE_OUTPUT and len(op.outputs) != 1) or not op.outputs \
            or any(t < 0 for t in op.inputs if not (name in _OPTIONAL_BIAS and t == op.inputs[-1])):
        fail(f"operator {op.index} {name}: {len(op.inputs)} inputs and {len(op.outputs)} outputs are not "
             f"TFLite's form of the op")
    if name in ("UNPACK", "CONCATENATION"):
        if "axis" not in options:
            fail(f"operator {op.index} {name}: no {name.title()}Options (its axis)")
        return [int(options["axis"])]
    if name == "SPLIT":
        return [_constant(op, 0, data_offset, fail, "the axis")]
    if name == "SPLIT_V":
        _constant(op, 1, data_offset, fail, "the sizes")
        return [_constant(op, 2, data_offset, fail, "the axis")]
    if name == "STRIDED_SLICE":
        if "begin_mask" not in options:
            fail(f"operator {op.index} STRIDED_SLICE: no StridedSliceOptions")
        if options["ellipsis_mask"] or options["new_axis_mask"] or options["offset"]:
            fail(f"operator {op.index} STRIDED_SLICE: ellipsis, new-axis and offset forms are not supported")
        for position in (1, 2, 3):
            _constant(op, position, data_offset, fail, "begin, end and strides")
        return [int(options["begin_mask"]), int(options["end_mask"]), int(options["shrink_axis_mask"])]
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D"):
        if "padding" not in options:
            fail(f"operator {op.index} {name}: no options (padding, strides)")
        if options["padding"] not in (0, 1):
            fail(f"operator {op.index} {name}: padding {options['padding']} is not SAME or VALID")
        head = [int(options["padding"]), int(options["stride_h"]), int(options["stride_w"])]
        act = _ACTIVATION_CODES[options["fused_activation_function"]]
        if name == "AVERAGE_POOL_2D":
            return head + [int(options["filter_height"]), int(options["filter_width"]), act]
        head += [int(options["dilation_h_factor"]), int(options["dilation_w_factor"]), act]
        if name == "CONV_2D":
            if options.get("quantized_bias_type", 0):
                fail(f"operator {op.index} CONV_2D: a quantized bias type other than the default is not supported")
            return head
        return head + [int(options["depth_multiplier"])]
    if name == "MEAN":
        _constant(op, 1, data_offset, fail, "the axes")
        return [int(bool(options.get("keep_dims", False)))]
    return []


def _check_types(graph, tensor_name, fail):
    """Each op's tensor types as the graph engine runs them (int8 arithmetic; the float island)."""
    for k in range(graph.n_ops):
        name, ins, outs = graph.op_name(k), graph.inputs(k), graph.outputs(k)
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MEAN"):
            _check_spatial(graph, k, name, ins, outs, tensor_name, fail)
            continue
        int8_in = {"FULLY_CONNECTED": ins[:1], "ADD": ins, "SUB": ins, "MUL": ins, "TANH": ins, "LOGISTIC": ins,
                   "DEQUANTIZE": ins, "QUANTIZE": [], "CONCATENATION": ins}.get(name, [])
        int8_out = outs if name not in ("DEQUANTIZE",) and name in (
            "FULLY_CONNECTED", "ADD", "SUB", "MUL", "TANH", "LOGISTIC", "QUANTIZE", "CONCATENATION") else []
        for t in int8_in + int8_out:
            if graph.tensor_type[t] != INT8 or graph.tensor_scales(t).shape[0] != 1:
                fail(f"operator {k} {name}: tensor '{tensor_name(t)}' must be int8 with one scale")
        if name == "QUANTIZE" and graph.tensor_type[ins[0]] != 0:
            fail(f"operator {k} QUANTIZE: only float32 → int8 (tensor '{tensor_name(ins[0])}')")
        if name == "FULLY_CONNECTED":
            w = ins[1]
            if graph.tensor_type[w] != INT8 or graph.data_offset[w] < 0 or graph.tensor_rank[w] != 2:
                fail(f"operator {k} FULLY_CONNECTED: weights '{tensor_name(w)}' must be constant int8 [out, in]")
            if len(ins) > 2 and ins[2] >= 0 and (graph.tensor_type[ins[2]] != 2 or graph.data_offset[ins[2]] < 0):
                fail(f"operator {k} FULLY_CONNECTED: bias '{tensor_name(ins[2])}' must be constant int32")
        if name == "CONCATENATION":
            q = {(graph.scale(t), int(graph.zero_point[t])) for t in ins + outs}
            if len(q) != 1:
                fail(f"operator {k} CONCATENATION: inputs and output must share one quantisation")
        if name in ("RESHAPE", "UNPACK", "SPLIT", "SPLIT_V", "STRIDED_SLICE") and graph.tensor_type[outs[0]] == INT8:
            src = ins[1] if name == "SPLIT" else ins[0]
            for t in outs:
                if (graph.scale(t), int(graph.zero_point[t])) != (graph.scale(src), int(graph.zero_point[src])):
                    fail(f"operator {k} {name}: tensor '{tensor_name(t)}' must keep its input's quantisation")


def _check_spatial(graph, k, name, ins, outs, tensor_name, fail):
    """The NHWC ops: int8 rank-4 data (MEAN: any rank), constant int8 filters per output channel,
    constant int32 biases; AVERAGE_POOL_2D keeps its input's quantisation."""
    for t in (ins[:1] + outs):
        if graph.tensor_type[t] != INT8 or graph.tensor_scales(t).shape[0] != 1 or (
                name != "MEAN" and graph.tensor_rank[t] != 4):
            fail(f"operator {k} {name}: tensor '{tensor_name(t)}' must be int8 with one scale"
                 + ("" if name == "MEAN" else ", shape [1, H, W, C]"))
    if name == "AVERAGE_POOL_2D":
        if (graph.scale(ins[0]), int(graph.zero_point[ins[0]])) != (graph.scale(outs[0]), int(graph.zero_point[outs[0]])):
            fail(f"operator {k} AVERAGE_POOL_2D: tensor '{tensor_name(outs[0])}' must keep its input's quantisation")
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        w, channels = ins[1], graph.shape(outs[0])[-1]
        if graph.tensor_type[w] != INT8 or graph.data_offset[w] < 0 or graph.tensor_rank[w] != 4:
            fail(f"operator {k} {name}: filter '{tensor_name(w)}' must be constant int8 [O, KH, KW, I]")
        if graph.tensor_scales(w).shape[0] not in (1, channels):
            fail(f"operator {k} {name}: filter '{tensor_name(w)}' needs one scale or one per output channel")
        if name == "CONV_2D" and graph.shape(w)[3] != graph.shape(ins[0])[3]:
            fail(f"operator {k} CONV_2D: grouped convolution (filter depth {graph.shape(w)[3]}, input depth "
                 f"{graph.shape(ins[0])[3]}) is not supported")
        if len(ins) > 2 and ins[2] >= 0 and (graph.tensor_type[ins[2]] != 2 or graph.data_offset[ins[2]] < 0):
            fail(f"operator {k} {name}: bias '{tensor_name(ins[2])}' must be constant int32")


def _params(graph, k, structure, fail):
    resolved = [int(graph.constant(v[1]).reshape(-1)[0]) if isinstance(v, tuple) else v for v in structure]
    staged = _with_params(graph, None, override=(k, resolved))
    try:
        return [int(v) for v in derive_params(staged, k)]
    except FixedRnnError as exc:
        fail(f"operator {k} {graph.op_name(k)}: {exc}")


def _with_params(graph, params, override=None):
    """``graph`` with its per-op params replaced (``params`` a list per op; or ``override`` = (k,
    list) for one op, the others empty)."""
    if override is not None:
        params = [override[1] if i == override[0] else [] for i in range(graph.n_ops)]
    start = np.zeros(len(params) + 1, np.int32)
    start[1:] = np.cumsum([len(p) for p in params])
    flat = np.array([v for p in params for v in p], np.int32)
    return dataclasses.replace(graph, param_start=start, params=flat)
