"""A TensorFlow-converted int8 ``.tflite`` whose recurrent layer is unrolled → a :class:`fixedrnn.graph.Graph`.

What the converter makes of Keras 3 SimpleRNN / LSTM / GRU and tf-keras SimpleRNN / GRU with
``unroll=True`` and batch size 1 (full int8 quantisation): RESHAPE and UNPACK of the input, then per
step FULLY_CONNECTED, ADD, SUB, MUL, LOGISTIC, TANH, SPLIT, SPLIT_V, STRIDED_SLICE (and Keras 3's
float island at the LSTM's step 0: DEQUANTIZE → float SPLIT → QUANTIZE), and the dense head. Every
op of :data:`fixedrnn.graph.OP_NAMES` is taken over as it is (its tensors, their quantisation, the
constants with shared buffers stored once) and its integers derived by TFLM's Prepare
(:func:`fixedrnn.graph.derive_params`). Anything else is refused with one line naming the op or
tensor (``FixedRnnError``).
"""

import dataclasses

import numpy as np

from fixedrnn.errors import FixedRnnError
from fixedrnn.graph import INT8, MAX_RANK, OP_NAMES, TENSOR_TYPES, Graph, derive_params

#: What to do about the ops a Keras conversion leaves when the layer is not unrolled.
_ADVICE = {"WHILE": "convert with unroll=True and batch_size=1",
           "FILL": "convert with a fixed batch size of 1 (batch_size=1)",
           "UNIDIRECTIONAL_SEQUENCE_LSTM": "a fused LSTM, not an unrolled graph",
           "SOFTMAX": "convert the model without its final softmax (the logits)"}
_ALIGN = 16


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    return schema


def _names(enum):
    return {v: k for k, v in vars(enum).items() if not k.startswith("_")}


def parse(data, source="model"):
    """The schema's object tree (``ModelT``) of ``.tflite`` bytes; ``FixedRnnError`` naming ``source``
    if they are not a TFLite flatbuffer."""
    schema = _schema()
    data = bytes(data)
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise FixedRnnError(f"{source}: not a TFLite flatbuffer (no 'TFL3' identifier)")
    try:
        return schema.ModelT.InitFromPackedBuf(data, 0)
    except Exception as exc:  # a corrupt flatbuffer fails anywhere in the generated code
        raise FixedRnnError(f"{source}: corrupt TFLite flatbuffer ({type(exc).__name__})") from None


def graph_from_tflite(data, source="model"):
    """The :class:`Graph` of ``.tflite`` bytes (module doc); ``FixedRnnError`` naming ``source``
    and the op or tensor it cannot take."""
    schema = _schema()
    model = parse(data, source)
    op_names, type_names = _names(schema.BuiltinOperator), _names(schema.TensorType)
    if not model.subgraphs or len(model.subgraphs) != 1:
        raise FixedRnnError(f"{source}: {len(model.subgraphs or [])} subgraphs; a graph model has one")
    sub = model.subgraphs[0]
    tensors = sub.tensors or []

    def tensor_name(t):
        name = tensors[t].name
        return name.decode(errors="replace") if isinstance(name, bytes) else str(name)

    def fail(problem):
        raise FixedRnnError(f"{source}: {problem}")

    inputs, outputs = list(sub.inputs if sub.inputs is not None else []), list(
        sub.outputs if sub.outputs is not None else [])
    if len(inputs) != 1 or len(outputs) != 1:
        fail(f"{len(inputs)} inputs and {len(outputs)} outputs; a graph model has one of each")

    codes = []
    for k, op in enumerate(sub.operators or []):
        entry = model.operatorCodes[op.opcodeIndex]
        code = max(int(entry.builtinCode), int(entry.deprecatedBuiltinCode))
        name = op_names.get(code, f"operator code {code}")
        if code == schema.BuiltinOperator.CUSTOM:
            name = f"custom op {entry.customCode!r}"
        if code not in OP_NAMES:
            fail(f"op {k} {name}: not supported ({_ADVICE.get(name, 'the graph import runs ' + ', '.join(sorted(OP_NAMES.values())))})")
        options = op.builtinOptions
        if getattr(options, "fusedActivationFunction", 0):
            fail(f"op {k} {name}: a fused activation is not supported")
        codes.append(code)

    # tensors, constants (one copy per .tflite buffer)
    n = len(tensors)
    ttype = np.zeros(n, np.int32)
    rank = np.zeros(n, np.int32)
    shape = np.zeros((n, MAX_RANK), np.int32)
    scale_start, scales, zero_point = [0], [], np.zeros(n, np.int32)
    data_offset = np.full(n, -1, np.int32)
    blob, buffer_offset = bytearray(), {}
    for t, tensor in enumerate(tensors):
        if tensor.type not in TENSOR_TYPES:
            fail(f"tensor '{tensor_name(t)}': type {type_names.get(tensor.type, tensor.type)} is not supported")
        dims = [] if tensor.shape is None else [int(d) for d in tensor.shape]
        if len(dims) > MAX_RANK or any(d < 1 for d in dims):
            fail(f"tensor '{tensor_name(t)}': shape {dims} is not supported (rank <= {MAX_RANK}, fixed sizes)")
        ttype[t], rank[t] = tensor.type, len(dims)
        shape[t, :len(dims)] = dims
        q = tensor.quantization
        s = [] if q is None or q.scale is None else [float(v) for v in np.asarray(q.scale, np.float32)]
        zp = [] if q is None or q.zeroPoint is None else [int(v) for v in q.zeroPoint]
        if len(s) > 1 and (q.quantizedDimension != 0 or any(zp)):
            fail(f"tensor '{tensor_name(t)}': per-channel quantisation must be on axis 0 with zero points 0")
        if any(not np.isfinite(v) or v <= 0 for v in s):
            fail(f"tensor '{tensor_name(t)}': scales must be finite and > 0")
        if tensor.type == INT8 and len(s) != 1 and not _has_data(model, tensor):
            fail(f"tensor '{tensor_name(t)}': an int8 tensor without one scale (not a full-integer model)")
        scales += s
        scale_start.append(len(scales))
        zero_point[t] = zp[0] if zp else 0
        if _has_data(model, tensor):
            if tensor.buffer not in buffer_offset:
                raw = bytes(np.asarray(model.buffers[tensor.buffer].data, np.uint8))
                expected = int(np.prod(dims, dtype=np.int64)) * np.dtype(TENSOR_TYPES[tensor.type]).itemsize
                if len(raw) != expected:
                    fail(f"tensor '{tensor_name(t)}': {len(raw)} bytes of data for shape {dims}")
                blob += bytes(-len(blob) % _ALIGN)
                buffer_offset[tensor.buffer] = len(blob)
                blob += raw
            data_offset[t] = buffer_offset[tensor.buffer]
    (x,), (y,) = inputs, outputs
    for which, t, want in (("input", x, 3), ("output", y, 2)):
        if ttype[t] != INT8 or rank[t] != want or shape[t, 0] != 1:
            fail(f"{which} tensor '{tensor_name(t)}': must be int8 of shape [1, ...] (rank {want}), got "
                 f"{type_names.get(int(ttype[t]))} {list(shape[t, :rank[t]])}")

    # ops: io lists and structural params
    io_start, input_count, io, structure = [0], [], [], []
    for k, op in enumerate(sub.operators or []):
        ins = [int(v) for v in (op.inputs if op.inputs is not None else [])]
        outs = [int(v) for v in (op.outputs if op.outputs is not None else [])]
        io += ins + outs
        io_start.append(len(io))
        input_count.append(len(ins))
        structure.append(_structure(OP_NAMES[codes[k]], op.builtinOptions, ins, fail, k, shape, rank, data_offset))
    graph = Graph(tensor_type=ttype, tensor_rank=rank, tensor_shape=shape,
                  scale_start=np.array(scale_start, np.int32), scales=np.array(scales, np.float32),
                  zero_point=zero_point, data_offset=data_offset, constants=np.frombuffer(bytes(blob), np.uint8).copy(),
                  op_code=np.array(codes, np.int32), io_start=np.array(io_start, np.int32),
                  input_count=np.array(input_count, np.int32), io=np.array(io, np.int32),
                  param_start=np.zeros(len(codes) + 1, np.int32), params=np.zeros(0, np.int32),
                  input=int(x), output=int(y))
    _check_types(graph, tensor_name, fail)
    graph = _with_params(graph, [_params(graph, k, structure[k], fail) for k in range(len(codes))])
    return graph


def _has_data(model, tensor):
    data = model.buffers[tensor.buffer].data if 0 <= tensor.buffer < len(model.buffers) else None
    return data is not None and len(data) > 0


def _axis_value(t, data_offset, fail, k, name):
    if t < 0 or data_offset[t] < 0:
        fail(f"op {k} {name}: the axis must be a constant")
    return t


def _structure(name, options, ins, fail, k, shape, rank, data_offset):
    """The op's structural integers from its options (constants are read once the graph exists:
    a ``("const", tensor)`` marker)."""
    if name == "UNPACK":
        return [int(options.axis)]
    if name == "CONCATENATION":
        return [int(options.axis)]
    if name == "SPLIT":
        return [("const", _axis_value(ins[0], data_offset, fail, k, name))]
    if name == "SPLIT_V":
        if data_offset[ins[1]] < 0:
            fail(f"op {k} SPLIT_V: the sizes must be a constant")
        return [("const", _axis_value(ins[2], data_offset, fail, k, name))]
    if name == "STRIDED_SLICE":
        if options.ellipsisMask or options.newAxisMask or getattr(options, "offset", False):
            fail(f"op {k} STRIDED_SLICE: ellipsis, new-axis and offset forms are not supported")
        if any(data_offset[t] < 0 for t in ins[1:4]):
            fail(f"op {k} STRIDED_SLICE: begin, end and strides must be constants")
        return [int(options.beginMask), int(options.endMask), int(options.shrinkAxisMask)]
    return []


def _check_types(graph, tensor_name, fail):
    """Each op's tensor types as the graph engine runs them (int8 arithmetic; the float island)."""
    for k in range(graph.n_ops):
        name, ins, outs = graph.op_name(k), graph.inputs(k), graph.outputs(k)
        int8_in = {"FULLY_CONNECTED": ins[:1], "ADD": ins, "SUB": ins, "MUL": ins, "TANH": ins, "LOGISTIC": ins,
                   "DEQUANTIZE": ins, "QUANTIZE": [], "CONCATENATION": ins}.get(name, [])
        int8_out = outs if name not in ("DEQUANTIZE",) and name in (
            "FULLY_CONNECTED", "ADD", "SUB", "MUL", "TANH", "LOGISTIC", "QUANTIZE", "CONCATENATION") else []
        for t in int8_in + int8_out:
            if graph.tensor_type[t] != INT8 or graph.tensor_scales(t).shape[0] != 1:
                fail(f"op {k} {name}: tensor '{tensor_name(t)}' must be int8 with one scale")
        if name == "QUANTIZE" and graph.tensor_type[ins[0]] != 0:
            fail(f"op {k} QUANTIZE: only float32 → int8 (tensor '{tensor_name(ins[0])}')")
        if name == "FULLY_CONNECTED":
            w = ins[1]
            if graph.tensor_type[w] != INT8 or graph.data_offset[w] < 0 or graph.tensor_rank[w] != 2:
                fail(f"op {k} FULLY_CONNECTED: weights '{tensor_name(w)}' must be constant int8 [out, in]")
            if len(ins) > 2 and ins[2] >= 0 and (graph.tensor_type[ins[2]] != 2 or graph.data_offset[ins[2]] < 0):
                fail(f"op {k} FULLY_CONNECTED: bias '{tensor_name(ins[2])}' must be constant int32")
        if name == "CONCATENATION":
            q = {(graph.scale(t), int(graph.zero_point[t])) for t in ins + outs}
            if len(q) != 1:
                fail(f"op {k} CONCATENATION: inputs and output must share one quantisation")
        if name in ("RESHAPE", "UNPACK", "SPLIT", "SPLIT_V", "STRIDED_SLICE") and graph.tensor_type[outs[0]] == INT8:
            src = ins[1] if name == "SPLIT" else ins[0]
            for t in outs:
                if (graph.scale(t), int(graph.zero_point[t])) != (graph.scale(src), int(graph.zero_point[src])):
                    fail(f"op {k} {name}: tensor '{tensor_name(t)}' must keep its input's quantisation")


def _params(graph, k, structure, fail):
    resolved = [int(graph.constant(v[1]).reshape(-1)[0]) if isinstance(v, tuple) else v for v in structure]
    staged = _with_params(graph, None, override=(k, resolved))
    try:
        return [int(v) for v in derive_params(staged, k)]
    except FixedRnnError as exc:
        fail(f"op {k} {graph.op_name(k)}: {exc}")


def _with_params(graph, params, override=None):
    """``graph`` with its per-op params replaced (``params`` a list per op; or ``override`` = (k,
    list) for one op, the others empty)."""
    if override is not None:
        params = [override[1] if i == override[0] else [] for i in range(graph.n_ops)]
    start = np.zeros(len(params) + 1, np.int32)
    start[1:] = np.cumsum([len(p) for p in params])
    flat = np.array([v for p in params for v in p], np.int32)
    return dataclasses.replace(graph, param_start=start, params=flat)
