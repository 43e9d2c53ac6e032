"""Write a model's recurrent part and head as a ``.tflite`` flatbuffer that TFLite Micro runs as is.

Graph (input int8 ``[1, T, I]`` at the model's input scale/zero point, output int8 logits
``[1, C]``):

- ``"rnn"``: UNPACK (axis 1) into T steps; per step FULLY_CONNECTED(x_t, W, b),
  FULLY_CONNECTED(h_{t−1}, U, no bias), ADD, TANH (output 1/128, zero point 0); h_{−1} is a constant
  zero tensor; FULLY_CONNECTED head on h_{T−1}.
- ``"lstm"``: UNIDIRECTIONAL_SEQUENCE_LSTM (batch major, cell activation TANH, cell clip
  ``q · 2**P`` for a model with a quantized cell clip q (else none), no projection clip; hidden state
  int8 and cell state int16 at 2**P as variable tensors), STRIDED_SLICE of the last step,
  FULLY_CONNECTED head.

- ``"graph"`` (an imported unrolled graph, :mod:`fixedrnn.graph`): the stored graph re-emitted as
  it is (:func:`graph_tflite_bytes`): its tensors, quantisation, shared constants and ops.

Power-of-two weights are written as their int8 values. Scales are the model's float32 scales; bias
scales are ``float32(s_in · s_W)``. Before writing, every integer TFLM will derive from those
scales is recomputed with TFLM's rules (:mod:`fixedrnn.convert`) and compared with the stored
integers: a mismatch is an error, so the file always computes what the engine computes. A model
that fails the overflow audit (:func:`fixedrnn.overflow.require_no_overflow`) is refused before
anything is written. The file is written to a temporary name and renamed.
"""

from pathlib import Path

import flatbuffers
import numpy as np

from fixedrnn import atomicfile, convert, overflow
from fixedrnn.errors import FixedRnnError
from fixedrnn.model import Model, load
from fixedrnn.schema import GRAPH_CELL, LSTM_GATE_OUTPUT_SCALE, RNN_HIDDEN_SCALE, fc_blocks, value_at


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    return schema


def check_integers(model):
    """Raise ``FixedRnnError`` unless TFLM's derivation from the model's float32 scales gives
    exactly the stored multipliers and shifts."""

    def same(name, derived, stored):
        if not np.array_equal(np.asarray(derived, np.int64), np.asarray(stored, np.int64)):
            raise FixedRnnError(f"{name}: TFLM would derive {np.asarray(derived).tolist()} from the "
                                f"stored scales, but the model stores {np.asarray(stored).tolist()}")

    for block in fc_blocks(model.cell):  # every fully connected block, as the schema declares it
        s_out = block.fixed_output_scale
        if s_out is None:
            s_out = value_at(model, block.attrs["output_scale"])
        m, s = convert.tflm_fc_multiplier(value_at(model, block.input[0]),
                                     value_at(model, block.attrs["weight_scale"]), s_out)
        same(f"{block.name}.multiplier", m, value_at(model, block.attrs["multiplier"]))
        same(f"{block.name}.shift", s, value_at(model, block.attrs["shift"]))
    if model.cell == "rnn":
        c = model.rnn
        add = convert.add_params(c.input_fc.output_scale, c.recurrent_fc.output_scale,
                                 c.add.output_scale, c.add.output_zero_point)
        same("rnn.add", [getattr(add, k) for k in ("input1_multiplier", "input1_shift",
                                                    "input2_multiplier", "input2_shift",
                                                    "output_multiplier", "output_shift")],
             [getattr(c.add, k) for k in ("input1_multiplier", "input1_shift", "input2_multiplier",
                                          "input2_shift", "output_multiplier", "output_shift")])
        same("rnn.tanh", list(convert.tanh_params(c.add.output_scale).__dict__.values()),
             list(c.tanh.__dict__.values()))
    else:
        c = model.lstm
        g, p = LSTM_GATE_OUTPUT_SCALE, 2.0**c.cell_scale_power
        same("lstm.forget_mul", convert.mul_multiplier(g, p, p), c.forget_mul)
        same("lstm.input_mul", convert.mul_multiplier(g, g, p), c.input_mul)
        same("lstm.output_mul", convert.mul_multiplier(g, g, c.hidden_scale), c.output_mul)


class _Graph:
    """Accumulates tensors, buffers and operators of one subgraph."""

    def __init__(self, schema):
        self.s = schema
        self.buffers = [schema.BufferT()]
        self.tensors = []
        self.operators = []
        self.opcodes = {}

    def tensor(self, name, shape, dtype, scale=None, zero_point=None, data=None, variable=False,
               axis=0, buffer=None):
        """A tensor; ``data`` its constant value (a new buffer), or ``buffer`` an existing buffer's
        index (a constant sharing another's bytes)."""
        s = self.s
        t = s.TensorT()
        t.name = name
        t.shape = np.array(shape, np.int32)
        t.type = {np.int8: s.TensorType.INT8, np.int16: s.TensorType.INT16,
                  np.int32: s.TensorType.INT32, np.float32: s.TensorType.FLOAT32}[dtype]
        if scale is not None:
            q = s.QuantizationParametersT()
            q.scale = np.atleast_1d(np.asarray(scale, np.float32))
            zp = np.atleast_1d(np.asarray(zero_point if zero_point is not None else 0, np.int64))
            q.zeroPoint = np.broadcast_to(zp, q.scale.shape).copy()
            q.quantizedDimension = axis
            t.quantization = q
        t.isVariable = variable
        if data is not None:
            b = s.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(np.asarray(data, dtype)).tobytes(), np.uint8)
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        else:
            t.buffer = 0 if buffer is None else buffer
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(self, code, inputs, outputs, options_type=0, options=None):
        s = self.s
        if code not in self.opcodes:
            oc = s.OperatorCodeT()
            oc.builtinCode = code
            oc.deprecatedBuiltinCode = min(code, 127)
            oc.version = 1
            self.opcodes[code] = (len(self.opcodes), oc)
        o = s.OperatorT()
        o.opcodeIndex = self.opcodes[code][0]
        o.inputs = np.array(inputs, np.int32)
        o.outputs = np.array(outputs, np.int32)
        o.builtinOptionsType = options_type
        o.builtinOptions = options
        self.operators.append(o)

    def fully_connected(self, name, x, fc, s_in, out_shape):
        s = self.s
        n_out = fc.weight.shape[0]
        w = self.tensor(f"{name}/weight", fc.weight.shape, np.int8, fc.weight_scale,
                        np.zeros(fc.weight_scale.shape, np.int64), data=fc.weight)
        b = -1
        if fc.bias is not None:
            bias_scale = (np.float32(s_in) * fc.weight_scale.astype(np.float32)).astype(np.float32)
            b = self.tensor(f"{name}/bias", (n_out,), np.int32, bias_scale,
                            np.zeros(bias_scale.shape, np.int64), data=fc.bias)
        y = self.tensor(name, out_shape, np.int8, fc.output_scale, fc.output_zero_point)
        opt = s.FullyConnectedOptionsT()
        self.op(s.BuiltinOperator.FULLY_CONNECTED, [x, w, b], [y],
                s.BuiltinOptions.FullyConnectedOptions, opt)
        return y

    def finish(self, inputs, outputs, description):
        s = self.s
        sg = s.SubGraphT()
        sg.tensors, sg.operators = self.tensors, self.operators
        sg.inputs = np.array(inputs, np.int32)
        sg.outputs = np.array(outputs, np.int32)
        sg.name = "main"
        m = s.ModelT()
        m.version = 3
        m.description = description
        m.subgraphs = [sg]
        m.buffers = self.buffers
        m.operatorCodes = [oc for _, oc in sorted(self.opcodes.values(), key=lambda v: v[0])]
        builder = flatbuffers.Builder(1024)
        builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def tflite_bytes(model, frames=None):
    """The ``.tflite`` flatbuffer of ``model`` for ``frames`` steps (default ``model.frames``)."""
    s = _schema()
    check_integers(model)
    steps = model.frames if frames is None else int(frames)
    if not 1 <= steps <= 10000:
        raise FixedRnnError(f"frames must be in 1..10000, got {frames}")
    n_in, units, n_cls = model.n_features, model.units, len(model.labels)
    g = _Graph(s)
    x = g.tensor("input", (1, steps, n_in), np.int8, model.input.scale, model.input.zero_point)
    if model.cell == "rnn":
        c = model.rnn
        xs = [g.tensor(f"x{t}", (1, n_in), np.int8, model.input.scale, model.input.zero_point)
              for t in range(steps)]
        opt = s.UnpackOptionsT()
        opt.num, opt.axis = steps, 1
        g.op(s.BuiltinOperator.UNPACK, [x], xs, s.BuiltinOptions.UnpackOptions, opt)
        h = g.tensor("h_init", (1, units), np.int8, RNN_HIDDEN_SCALE, 0,
                     data=np.zeros(units, np.int8))
        for t in range(steps):
            a = g.fully_connected(f"t{t}/input_fc", xs[t], c.input_fc, model.input.scale, (1, units))
            r = g.fully_connected(f"t{t}/recurrent_fc", h, c.recurrent_fc, RNN_HIDDEN_SCALE,
                                  (1, units))
            p = g.tensor(f"t{t}/add", (1, units), np.int8, c.add.output_scale, c.add.output_zero_point)
            g.op(s.BuiltinOperator.ADD, [a, r], [p], s.BuiltinOptions.AddOptions, s.AddOptionsT())
            h = g.tensor(f"t{t}/h", (1, units), np.int8, RNN_HIDDEN_SCALE, 0)
            g.op(s.BuiltinOperator.TANH, [p], [h])
        last = h
    else:
        c = model.lstm
        ins = [x]
        for k, gate in enumerate("ifgo"):
            ins.append(g.tensor(f"lstm/input_weight_{gate}", (units, n_in), np.int8,
                                c.input_weight_scale[k], 0, data=c.input_weight[k]))
        for k, gate in enumerate("ifgo"):
            ins.append(g.tensor(f"lstm/recurrent_weight_{gate}", (units, units), np.int8,
                                c.recurrent_weight_scale[k], 0, data=c.recurrent_weight[k]))
        ins += [-1, -1, -1]
        for k, gate in enumerate("ifgo"):
            bias_scale = np.float32(model.input.scale) * np.float32(c.input_weight_scale[k])
            ins.append(g.tensor(f"lstm/bias_{gate}", (units,), np.int32, bias_scale, 0,
                                data=c.bias[k]))
        ins += [-1, -1]
        ins.append(g.tensor("lstm/hidden_state", (1, units), np.int8, c.hidden_scale,
                            c.hidden_zero_point, variable=True))
        ins.append(g.tensor("lstm/cell_state", (1, units), np.int16, 2.0**c.cell_scale_power, 0,
                            variable=True))
        ins += [-1, -1, -1, -1]
        seq = g.tensor("lstm/output", (1, steps, units), np.int8, c.hidden_scale, c.hidden_zero_point)
        opt = s.UnidirectionalSequenceLSTMOptionsT()
        opt.fusedActivationFunction = s.ActivationFunctionType.TANH
        # TFLM quantizes the clip as trunc(cellClip / 2**P): q · 2**P (exact in float32) gives q back
        opt.cellClip = float(c.cell_clip or 0) * 2.0**c.cell_scale_power
        opt.projClip, opt.timeMajor = 0.0, False
        g.op(s.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM, ins, [seq],
             s.BuiltinOptions.UnidirectionalSequenceLSTMOptions, opt)
        begin = g.tensor("last/begin", (3,), np.int32, data=np.array([0, steps - 1, 0], np.int32))
        end = g.tensor("last/end", (3,), np.int32, data=np.array([1, steps, units], np.int32))
        strides = g.tensor("last/strides", (3,), np.int32, data=np.ones(3, np.int32))
        last = g.tensor("last", (1, units), np.int8, c.hidden_scale, c.hidden_zero_point)
        opt = s.StridedSliceOptionsT()
        opt.shrinkAxisMask = 2
        g.op(s.BuiltinOperator.STRIDED_SLICE, [seq, begin, end, strides], [last],
             s.BuiltinOptions.StridedSliceOptions, opt)
    logits = g.fully_connected("logits", last, model.head, model.hidden_scale, (1, n_cls))
    return g.finish([x], [logits], f"fixedrnn {model.cell} {model.weights} T={steps}")


def _graph_options(s, graph, k):
    """``(BuiltinOptions type, options object)`` of graph op ``k`` as the converter writes them
    (the structural integers of :func:`fixedrnn.graph.derive_params`, the conv and pool ops' fused
    activation among them; NONE for the others)."""
    name, p = graph.op_name(k), graph.op_params(k)
    n_out = len(graph.outputs(k))
    if name == "FULLY_CONNECTED":
        return s.BuiltinOptions.FullyConnectedOptions, s.FullyConnectedOptionsT()
    if name in ("ADD", "SUB", "MUL"):
        cls = {"ADD": "Add", "SUB": "Sub", "MUL": "Mul"}[name]
        return getattr(s.BuiltinOptions, f"{cls}Options"), getattr(s, f"{cls}OptionsT")()
    if name == "UNPACK":
        opt = s.UnpackOptionsT()
        opt.num, opt.axis = n_out, p[0]
        return s.BuiltinOptions.UnpackOptions, opt
    if name in ("SPLIT", "SPLIT_V"):
        opt = s.SplitOptionsT() if name == "SPLIT" else s.SplitVOptionsT()
        opt.numSplits = n_out
        return (s.BuiltinOptions.SplitOptions if name == "SPLIT" else s.BuiltinOptions.SplitVOptions), opt
    if name == "STRIDED_SLICE":
        opt = s.StridedSliceOptionsT()
        opt.beginMask, opt.endMask, opt.shrinkAxisMask = p
        return s.BuiltinOptions.StridedSliceOptions, opt
    if name == "CONCATENATION":
        opt = s.ConcatenationOptionsT()
        opt.axis = p[0]
        return s.BuiltinOptions.ConcatenationOptions, opt
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D"):
        cls = {"CONV_2D": "Conv2D", "DEPTHWISE_CONV_2D": "DepthwiseConv2D", "AVERAGE_POOL_2D": "Pool2D"}[name]
        opt = getattr(s, f"{cls}OptionsT")()
        opt.padding, opt.strideH, opt.strideW = p[0], p[1], p[2]
        if name == "AVERAGE_POOL_2D":
            opt.filterHeight, opt.filterWidth, opt.fusedActivationFunction = p[3], p[4], p[5]
        else:
            opt.dilationHFactor, opt.dilationWFactor, opt.fusedActivationFunction = p[3], p[4], p[5]
            if name == "DEPTHWISE_CONV_2D":
                opt.depthMultiplier = p[6]
        return getattr(s.BuiltinOptions, f"{cls}Options"), opt
    if name == "MEAN":
        opt = s.ReducerOptionsT()
        opt.keepDims = bool(p[0])
        return s.BuiltinOptions.ReducerOptions, opt
    return 0, None  # RESHAPE (its shape is the output tensor's, and its shape input when it has one),
    # TANH, LOGISTIC, QUANTIZE, DEQUANTIZE: no options


def graph_tflite_bytes(model, outputs=None):
    """The ``.tflite`` flatbuffer of a graph model's graph (:mod:`fixedrnn.graph`): every tensor with
    its stored type, shape, float32 scales and zero points (constants that share bytes share one
    buffer, as in the converter's file), every op in order with its inputs, outputs and options.
    TFLM's Prepare derives from those scales the integers the engine runs (checked first:
    :func:`fixedrnn.graph.check_params`). ``outputs``: the subgraph's output tensors (default the
    graph's output; other computed tensors expose intermediate values to TFLM)."""
    from fixedrnn.graph import TENSOR_TYPES, check_params

    s = _schema()
    graph = model.graph
    check_params(graph)
    g = _Graph(s)
    buffers = {}
    for t in range(graph.n_tensors):
        dtype = TENSOR_TYPES[int(graph.tensor_type[t])]
        scales = graph.tensor_scales(t)
        scale = None if scales.shape[0] == 0 else scales
        zero_point = np.full(scales.shape, int(graph.zero_point[t]), np.int64)
        offset = int(graph.data_offset[t])
        if offset >= 0 and offset in buffers:
            g.tensor(f"t{t}", graph.shape(t), dtype, scale, zero_point, buffer=buffers[offset],
                     axis=graph.channel_axis(t))
        else:
            g.tensor(f"t{t}", graph.shape(t), dtype, scale, zero_point,
                     data=None if offset < 0 else graph.constant(t), axis=graph.channel_axis(t))
            if offset >= 0:
                buffers[offset] = g.tensors[t].buffer
    for k in range(graph.n_ops):
        options_type, options = _graph_options(s, graph, k)
        g.op(getattr(s.BuiltinOperator, graph.op_name(k)), graph.inputs(k), graph.outputs(k), options_type, options)
    outputs = [graph.output] if outputs is None else [int(t) for t in outputs]
    return g.finish([graph.input], outputs, f"fixedrnn graph ({graph.n_ops} ops) T={graph.frames}")


def export_tflite(model_or_path, out_path, frames=None, allow_overflow=False):
    """Write the ``.tflite`` of a :class:`Model` (or a model file path) to ``out_path`` atomically.
    A model that fails the overflow audit is refused unless ``allow_overflow`` (the caller reports
    the failing rows)."""
    graph = getattr(model_or_path, "cell", None) == GRAPH_CELL
    model = model_or_path if isinstance(model_or_path, Model) or graph else load(model_or_path)
    if model.cell == GRAPH_CELL and frames is not None and int(frames) != model.frames:
        raise FixedRnnError(f"frames: a graph model is unrolled over its {model.frames} frames, got {frames}")
    if not allow_overflow:
        overflow.require_no_overflow(model, "export tflite")
    data = graph_tflite_bytes(model) if model.cell == GRAPH_CELL else tflite_bytes(model, frames)
    out_path = Path(out_path)
    atomicfile.write_bytes(out_path, data)
    return out_path
