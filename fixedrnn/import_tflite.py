"""``python -m fixedrnn import tflite MODEL.tflite OUT.npz``: a TensorFlow-converted int8 ``.tflite``
as a fixedrnn model (issue #11; docs/import.md).

What is imported: the graph ``tf.lite.TFLiteConverter`` makes of a tf-keras (Keras 2) ``LSTM(H)``
with batch size 1 and a ``Dense(C)`` head under full-integer quantisation — int8 input ``[1, T, I]``
→ UNIDIRECTIONAL_SEQUENCE_LSTM (8x8→16: int8 weights per tensor, int32 biases, int8 hidden state,
int16 cell state at a power-of-two scale, cell activation TANH, batch major, optional cell clip)
→ STRIDED_SLICE of the last step → FULLY_CONNECTED (int8, per-tensor or per-channel weights, no
fused activation) → int8 logits ``[1, C]``. The LSTM maps to fixedrnn's ``"lstm"`` cell, gates in
TFLite's input order i, f, g, o; every multiplier and shift is derived from the file's float32
scales as TFLM's Prepare derives it (:func:`fixedrnn.convert.tflm_fc_multiplier` for the gate FCs
to Q3.12 and the head, :func:`fixedrnn.convert.mul_multiplier` for the products between gates,
the cell clip as ``trunc(clip / 2**P)``), so the model computes what TFLM computes on the original
file. Anything else is refused with one line naming the operator or tensor and what to do.

A ``.tflite`` carries no front end: the caller names the one the model was trained on
(:class:`FrontEnd`): ``--frontend-from OTHER.npz`` (the MFCC settings and the per-coefficient
normalisation of an existing fixedrnn model) or ``--mfcc KEY=VALUE ...`` with ``--norm FILE`` (a
JSON ``{"mean": [...], "std": [...]}`` per MFCC coefficient, in MFCC units: the float features
the model was trained on are ``(mfcc − mean) / std``). The integer normalisation to the file's
input scale and zero point is derived by :func:`fixedrnn.convert.make_input_quant`.
"""

import dataclasses
import hashlib
import json
import math
import shlex
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from fixedrnn import convert
from fixedrnn.cepstral_mean import CMN_MODES
from fixedrnn.errors import FixedRnnError, InputFileError, require_regular_file
from fixedrnn.model import FrontendSpec, FullyConnected, LstmCell, Model
from fixedrnn.schema import CELL_CLIP_MAX, CELL_POWER_MAX, CELL_POWER_MIN, LSTM_GATE_INPUT_SCALE, LSTM_GATE_OUTPUT_SCALE

#: One LSB of the MFCC in real units, by ``frontend.precision`` (q8.7 for q15, q8.23 for q31).
MFCC_LSB = {"q15": 2.0**-7, "q31": 2.0**-23}
#: The fused graph, in execution order.
FUSED_LSTM_OPS = ("UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE", "FULLY_CONNECTED")
#: Inputs of UNIDIRECTIONAL_SEQUENCE_LSTM (TFLite's kLstm*Tensor indices).
LSTM_INPUT_WEIGHTS, LSTM_RECURRENT_WEIGHTS, LSTM_BIASES = (1, 2, 3, 4), (5, 6, 7, 8), (12, 13, 14, 15)
LSTM_HIDDEN_STATE, LSTM_CELL_STATE = 18, 19
#: Optional LSTM inputs fixedrnn does not run, by index: what they are.
LSTM_UNSUPPORTED_INPUTS = {9: "peephole", 10: "peephole", 11: "peephole", 16: "projection", 17: "projection",
                           20: "layer normalisation", 21: "layer normalisation", 22: "layer normalisation",
                           23: "layer normalisation"}
_FULL_INT8 = ("convert with full-integer quantisation: optimizations=[tf.lite.Optimize.DEFAULT], a "
              "representative dataset, supported_ops=[tf.lite.OpsSet.TFLITE_BUILTINS_INT8], "
              "inference_input_type=tf.int8, inference_output_type=tf.int8")


@dataclass(frozen=True, eq=False)
class FrontEnd:
    """The front end a model was trained on: ``spec`` (MFCC settings), ``mean`` and ``std`` (float64
    ``[n_mfcc]``, MFCC real units: one LSB is :data:`MFCC_LSB` of ``spec.precision``), ``cmn``: the
    window's cepstral mean normalisation before them ("off" or "window"; mean and std are then those
    of the mean-removed MFCC)."""

    spec: FrontendSpec
    mean: np.ndarray
    std: np.ndarray
    cmn: str = "off"

    def input_quant(self, scale, zero_point):
        """The integer normalisation (:class:`fixedrnn.model.InputQuant`) to int8 at the float32
        ``scale`` and ``zero_point`` of an imported model's input."""
        return convert.make_input_quant(self.mean, self.std, scale, zero_point, MFCC_LSB[self.spec.precision],
                                        scale_bits=None, cmn=self.cmn)


def frontend_from_model(model):
    """The :class:`FrontEnd` of a fixedrnn model: its MFCC settings, its cepstral mean normalisation,
    and the mean and std its normalisation encodes (``mean = offset · lsb``; ``std = lsb / (s_x · M)``
    with ``M`` the real value of its multiplier and shift)."""
    lsb = MFCC_LSB[model.frontend.precision]
    inp = model.input
    real = np.array([int(m) * 2.0 ** (int(s) - 31) for m, s in zip(inp.multiplier, inp.shift)])
    if np.any(real <= 0):
        raise FixedRnnError("the model's input normalisation has a zero multiplier: it encodes no std")
    return FrontEnd(model.frontend, inp.offset.astype(np.float64) * lsb, lsb / (float(inp.scale) * real), inp.cmn)


def read_norm(path, n_mfcc):
    """``(mean, std)`` float64 ``[n_mfcc]`` of a ``--norm`` JSON file ``{"mean": [...], "std": [...]}``."""
    path = Path(path)
    require_regular_file(path, "no such normalisation file")
    if path.stat().st_size > 1 << 20:
        raise InputFileError(path, "more than 1 MiB: not a normalisation file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(path, f"not JSON ({exc})") from None
    if not isinstance(data, dict) or set(data) != {"mean", "std"}:
        raise InputFileError(path, 'expected a JSON object {"mean": [...], "std": [...]}')
    out = []
    for key in ("mean", "std"):
        values = data[key]
        if (not isinstance(values, list) or len(values) != n_mfcc
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                           for v in values)):
            raise InputFileError(path, f"'{key}' must be a list of {n_mfcc} finite numbers (one per MFCC coefficient)")
        out.append(np.array(values, np.float64))
    if np.any(out[1] <= 0):
        raise InputFileError(path, "'std' must be > 0")
    return out[0], out[1]


def frontend_spec(options):
    """A :class:`FrontendSpec` from ``KEY=VALUE`` strings over the defaults of
    :class:`fixedrnn.mfcc.MfccConfig` (precision q15)."""
    from fixedrnn.mfcc import MfccConfig

    defaults = MfccConfig()
    values = {f.name: getattr(defaults, f.name, None) for f in fields(FrontendSpec)}
    values["precision"] = "q15"
    for option in options:
        key, sep, text = option.partition("=")
        if not sep or key not in values:
            raise FixedRnnError(f"--mfcc {option!r}: expected KEY=VALUE with KEY one of {', '.join(values)}")
        kind = type(values[key])
        try:
            values[key] = kind(text)
        except ValueError:
            raise FixedRnnError(f"--mfcc {key}: expected {kind.__name__}, got {text!r}") from None
    spec = FrontendSpec(**values)
    try:
        spec.mfcc_config()
    except FixedRnnError as exc:
        raise FixedRnnError(f"--mfcc: {exc}") from None
    return spec


# -- the graph ---------------------------------------------------------------------------------


class _Refusal:
    """Raises :class:`InputFileError` naming the .tflite file."""

    def __init__(self, path):
        self.path = path

    def __call__(self, problem):
        raise InputFileError(self.path, problem)


def _describe(tensor):
    return f"tensor {tensor.index} '{tensor.name}'"


def _check_graph_edges(graph, refuse):
    """The subgraph's one int8 input and one int8 output."""
    for kind, indices in (("input", graph.inputs), ("output", graph.outputs)):
        if len(indices) != 1:
            names = ", ".join(f"'{graph.tensors[i].name}'" for i in indices)
            refuse(f"{len(indices)} {kind}s ({names}): fixedrnn imports a model with one int8 input sequence "
                   f"and one int8 output")
        tensor = graph.tensors[indices[0]]
        if tensor.dtype == "float32":
            refuse(f"{kind} {_describe(tensor)} is float32, a float model: {_FULL_INT8}")
        if tensor.dtype != "int8" or tensor.quantization is None:
            refuse(f"{kind} {_describe(tensor)} is {tensor.dtype}, not quantized int8: {_FULL_INT8}")


def _refuse_loops(model, refuse):
    """A recurrent layer converted as a loop (WHILE and its subgraphs) is refused first."""
    for g, graph in enumerate(model.subgraphs):
        for op in graph.operators:
            if op.op in ("WHILE", "CALL_ONCE", "IF"):
                refuse(f"operator {op.index} ({op.op}) of subgraph {g}: the recurrent layer was converted as a "
                       f"loop; convert with unroll=True and batch_size=1, or as a tf-keras LSTM with "
                       f"batch_size=1 (a fused UNIDIRECTIONAL_SEQUENCE_LSTM)")
    if len(model.subgraphs) > 1:
        refuse(f"{len(model.subgraphs)} subgraphs: fixedrnn imports a single-graph model")


def _fused_ops(graph, refuse):
    """The operators are the fused graph's, in order and connected: (LSTM, STRIDED_SLICE, FC)."""
    for op in graph.operators:
        if op.op in ("QUANTIZE", "DEQUANTIZE"):
            refuse(f"operator {op.index} ({op.op}): float tensors inside the graph; {_FULL_INT8}")
        if op.op == "SOFTMAX":
            refuse(f"operator {op.index} (SOFTMAX): fixedrnn's head gives the logits; convert the model "
                   f"without the final softmax (the argmax is the same)")
        if op.op not in FUSED_LSTM_OPS:
            refuse(f"operator {op.index} ({op.op}) is not supported: fixedrnn imports "
                   f"{' -> '.join(FUSED_LSTM_OPS)} (a tf-keras LSTM with batch_size=1 and a Dense head)")
    if tuple(op.op for op in graph.operators) != FUSED_LSTM_OPS:
        refuse(f"operators {' -> '.join(op.op for op in graph.operators) or '(none)'}: fixedrnn imports "
               f"{' -> '.join(FUSED_LSTM_OPS)}")
    lstm, last, head = graph.operators
    if (lstm.inputs[0] != graph.inputs[0] or last.inputs[0] != lstm.outputs[0]
            or head.inputs[0] != last.outputs[0] or head.outputs[0] != graph.outputs[0]):
        refuse(f"the operators are not connected input -> {' -> '.join(FUSED_LSTM_OPS)} -> output")
    return lstm, last, head


def _quant(tensor, refuse, what, dtype="int8", symmetric=False, per_channel_axis=None):
    """``(scale float32 [S], zero_point int [S])`` of a quantized ``dtype`` tensor."""
    if tensor.dtype != dtype:
        refuse(f"{what} {_describe(tensor)} is {tensor.dtype}, expected {dtype}")
    q = tensor.quantization
    if q is None:
        refuse(f"{what} {_describe(tensor)} has no quantization: {_FULL_INT8}")
    if q.per_channel and (per_channel_axis is None or q.quantized_dimension != per_channel_axis):
        refuse(f"{what} {_describe(tensor)} is quantized per channel (dimension {q.quantized_dimension}); "
               f"fixedrnn (as TFLM) takes one scale here")
    if np.any(q.scale <= 0):
        refuse(f"{what} {_describe(tensor)} has a scale <= 0")
    if symmetric and np.any(q.zero_point != 0):
        refuse(f"{what} {_describe(tensor)} has zero point {int(q.zero_point[q.zero_point != 0][0])}, expected 0")
    return q.scale, q.zero_point


def _constant(tensor, refuse, what, dtype, shape):
    if tensor is None:
        refuse(f"{what} is missing")
    if tensor.data is None:
        refuse(f"{what} {_describe(tensor)} is not a constant")
    if tensor.dtype != dtype or tuple(tensor.shape) != tuple(shape):
        refuse(f"{what} {_describe(tensor)} is {tensor.dtype} {list(tensor.shape)}, expected {dtype} {list(shape)}")
    return np.array(tensor.data)


def _same_quant(a, b):
    qa, qb = a.quantization, b.quantization
    return (qa is not None and qb is not None and np.array_equal(qa.scale, qb.scale)
            and np.array_equal(qa.zero_point, qb.zero_point))


def _lstm(graph, op, refuse):
    """The :class:`LstmCell` (``cell_clip`` quantized as TFLM does), the input quantization and T."""
    opts = op.options
    if op.options_type != "UnidirectionalSequenceLSTMOptions":
        refuse(f"operator {op.index} (UNIDIRECTIONAL_SEQUENCE_LSTM) has no LSTM options")
    if opts["fused_activation_function"] != "TANH":
        refuse(f"operator {op.index} (UNIDIRECTIONAL_SEQUENCE_LSTM): cell activation "
               f"{opts['fused_activation_function']}, fixedrnn runs TANH (Keras' default activation='tanh')")
    if opts["time_major"]:
        refuse(f"operator {op.index} (UNIDIRECTIONAL_SEQUENCE_LSTM) is time major: convert a batch-major "
               f"(Keras) LSTM")
    if opts["asymmetric_quantize_inputs"]:
        refuse(f"operator {op.index} (UNIDIRECTIONAL_SEQUENCE_LSTM) is a hybrid (float activations, int8 "
               f"weights): {_FULL_INT8}")
    if len(op.inputs) != 24 or len(op.outputs) != 1:
        refuse(f"operator {op.index} (UNIDIRECTIONAL_SEQUENCE_LSTM) has {len(op.inputs)} inputs and "
               f"{len(op.outputs)} outputs, expected 24 and 1")
    for index, what in LSTM_UNSUPPORTED_INPUTS.items():
        if op.inputs[index] >= 0:
            refuse(f"operator {op.index} (UNIDIRECTIONAL_SEQUENCE_LSTM): input {index} "
                   f"({_describe(graph.tensors[op.inputs[index]])}) is a {what} tensor, which fixedrnn's LSTM "
                   f"does not have")
    if op.inputs[1] < 0 or op.inputs[5] < 0:
        refuse(f"operator {op.index} (UNIDIRECTIONAL_SEQUENCE_LSTM) has no input gate (CIFG), which fixedrnn's "
               f"LSTM does not have")
    x = graph.tensors[op.inputs[0]]
    if len(x.shape) != 3 or x.shape[0] != 1:
        refuse(f"input {_describe(x)} has shape {list(x.shape)}: fixedrnn imports [1, T, I] "
               f"(convert with batch_size=1)")
    _, frames, n_in = x.shape
    s_x, z_x = _quant(x, refuse, "input")
    h = graph.tensors[op.inputs[LSTM_HIDDEN_STATE]] if op.inputs[LSTM_HIDDEN_STATE] >= 0 else None
    c = graph.tensors[op.inputs[LSTM_CELL_STATE]] if op.inputs[LSTM_CELL_STATE] >= 0 else None
    if h is None or c is None or not (h.is_variable and c.is_variable):
        refuse(f"operator {op.index} (UNIDIRECTIONAL_SEQUENCE_LSTM): its hidden and cell state (inputs 18, "
               f"19) must be variable tensors")
    units = int(np.prod(h.shape))
    s_h, z_h = _quant(h, refuse, "hidden state")
    s_c, z_c = _quant(c, refuse, "cell state", dtype="int16", symmetric=True)
    if int(np.prod(c.shape)) != units:
        refuse(f"cell state {_describe(c)} has shape {list(c.shape)}, the hidden state {list(h.shape)}")
    mantissa, exponent = math.frexp(float(s_c[0]))
    power = exponent - 1
    if mantissa != 0.5 or not CELL_POWER_MIN <= power <= CELL_POWER_MAX:
        refuse(f"cell state {_describe(c)} has scale {float(s_c[0])!r}: fixedrnn (as TFLM) needs 2**P with "
               f"P in {CELL_POWER_MIN}..{CELL_POWER_MAX}")
    out = graph.tensors[op.outputs[0]]
    if not _same_quant(out, h) or out.dtype != "int8":
        refuse(f"LSTM output {_describe(out)} is not quantized as its hidden state {_describe(h)}")
    weights, scales = {}, {}
    for side, indices, width in (("input", LSTM_INPUT_WEIGHTS, n_in), ("recurrent", LSTM_RECURRENT_WEIGHTS, units)):
        ws, ss = [], []
        for gate, index in zip("ifgo", indices):
            tensor = graph.tensor(op.inputs[index])
            ws.append(_constant(tensor, refuse, f"{side} weights of gate {gate}", "int8", (units, width)))
            ss.append(_quant(tensor, refuse, f"{side} weights of gate {gate}", symmetric=True)[0][0])
        weights[side], scales[side] = np.stack(ws), np.array(ss, np.float32)
    biases = []
    for gate, index in zip("ifgo", LSTM_BIASES):
        tensor = graph.tensor(op.inputs[index])
        biases.append(np.zeros(units, np.int32) if tensor is None
                      else _constant(tensor, refuse, f"bias of gate {gate}", "int32", (units,)))
    m_in, s_in = convert.tflm_fc_multiplier(s_x[0], scales["input"], LSTM_GATE_INPUT_SCALE)
    m_rec, s_rec = convert.tflm_fc_multiplier(s_h[0], scales["recurrent"], LSTM_GATE_INPUT_SCALE)
    g, cell_scale = LSTM_GATE_OUTPUT_SCALE, float(s_c[0])
    clip = None
    if opts["cell_clip"] > 0:  # TFLM: int16(min(max(double(clip) / double(scale), -32768), 32767))
        clip = int(min(max(float(np.float32(opts["cell_clip"])) / cell_scale, -32768.0), 32767.0))
        if not 1 <= clip <= CELL_CLIP_MAX:
            refuse(f"operator {op.index} (UNIDIRECTIONAL_SEQUENCE_LSTM): cell clip {opts['cell_clip']!r} is "
                   f"less than one step of the cell state (scale {cell_scale!r})")
    cell = LstmCell(units=units, input_weight=weights["input"], input_weight_scale=scales["input"],
                    bias=np.stack(biases), input_multiplier=m_in, input_shift=s_in,
                    recurrent_weight=weights["recurrent"], recurrent_weight_scale=scales["recurrent"],
                    recurrent_multiplier=m_rec, recurrent_shift=s_rec, hidden_scale=float(s_h[0]),
                    hidden_zero_point=int(z_h[0]), cell_scale_power=power,
                    forget_mul=convert.mul_multiplier(g, cell_scale, cell_scale),
                    input_mul=convert.mul_multiplier(g, g, cell_scale),
                    output_mul=convert.mul_multiplier(g, g, s_h[0]), cell_clip=clip)
    return cell, (float(s_x[0]), int(z_x[0])), frames


def _slice_bounds(shape, begin, end, strides, opts):
    """``(start, stop, stride)`` per axis of TFLite's STRIDED_SLICE (no ellipsis or new axis)."""
    out = []
    for axis, dim in enumerate(shape):
        stride = int(strides[axis])
        start = 0 if opts["begin_mask"] >> axis & 1 else int(begin[axis])
        start = start + dim if start < 0 else start
        if opts["shrink_axis_mask"] >> axis & 1:
            stop = start + 1
        else:
            stop = dim if opts["end_mask"] >> axis & 1 else int(end[axis])
            stop = stop + dim if stop < 0 else stop
        out.append((min(max(start, 0), dim), min(max(stop, 0), dim), stride))
    return out


def _check_last_step(graph, op, frames, units, refuse):
    """The STRIDED_SLICE takes step T − 1 of the LSTM's ``[1, T, H]`` output as ``[1, H]``."""
    opts = op.options
    if (op.options_type != "StridedSliceOptions" or opts["ellipsis_mask"] or opts["new_axis_mask"]
            or opts["offset"] or len(op.inputs) != 4):
        refuse(f"operator {op.index} (STRIDED_SLICE): only a plain slice of the last step is supported")
    consts = [_constant(graph.tensor(op.inputs[k]), refuse, f"STRIDED_SLICE {name}", "int32", (3,))
              for k, name in ((1, "begin"), (2, "end"), (3, "strides"))]
    bounds = _slice_bounds((1, frames, units), *consts, opts)
    out = graph.tensors[op.outputs[0]]
    if (bounds != [(0, 1, 1), (frames - 1, frames, 1), (0, units, 1)] or opts["shrink_axis_mask"] & 2 == 0
            or tuple(out.shape) != (1, units)):
        refuse(f"operator {op.index} (STRIDED_SLICE) does not take the last step of the LSTM output: "
               f"fixedrnn's head reads h_T (return_sequences=False)")
    if not _same_quant(out, graph.tensors[op.inputs[0]]):
        refuse(f"STRIDED_SLICE output {_describe(out)} is quantized differently from its input")


def _head(graph, op, s_h, refuse):
    """The head :class:`FullyConnected` (per tensor or per channel)."""
    opts = op.options
    if op.options_type != "FullyConnectedOptions" or opts["fused_activation_function"] != "NONE":
        refuse(f"operator {op.index} (FULLY_CONNECTED): fused activation "
               f"{opts.get('fused_activation_function')}, fixedrnn's head has none (Dense without activation)")
    if opts["weights_format"] != 0:
        refuse(f"operator {op.index} (FULLY_CONNECTED): shuffled weights are not supported")
    x = graph.tensors[op.inputs[0]]
    w = graph.tensor(op.inputs[1]) if len(op.inputs) > 1 else None
    out = graph.tensors[op.outputs[0]]
    units = x.shape[-1]
    if w is None or len(w.shape) != 2:
        refuse(f"operator {op.index} (FULLY_CONNECTED): no [C, H] weight tensor")
    n_out = w.shape[0]
    weight = _constant(w, refuse, "head weights", "int8", (n_out, units))
    w_scale, _ = _quant(w, refuse, "head weights", symmetric=True, per_channel_axis=0)
    b = graph.tensor(op.inputs[2]) if len(op.inputs) > 2 else None
    bias = np.zeros(n_out, np.int32) if b is None else _constant(b, refuse, "head bias", "int32", (n_out,))
    if tuple(out.shape) != (1, n_out):
        refuse(f"output {_describe(out)} has shape {list(out.shape)}, expected [1, {n_out}]")
    s_out, z_out = _quant(out, refuse, "output")
    m, s = convert.tflm_fc_multiplier(s_h, w_scale, s_out[0])
    return FullyConnected(weight=weight, weight_scale=np.asarray(w_scale, np.float32), bias=bias,
                          output_scale=float(s_out[0]), output_zero_point=int(z_out[0]), multiplier=m, shift=s)


def import_tflite(path, frontend, labels=None):
    """The :class:`fixedrnn.model.Model` of the ``.tflite`` at ``path`` with the :class:`FrontEnd`
    ``frontend``; ``labels`` (default ``"0"``, ``"1"``, ...) name the outputs. Raises
    :class:`InputFileError` naming the file for what cannot be imported."""
    from fixedrnn.tflite_read import read_tflite

    path = Path(path)
    tflite = read_tflite(path)
    refuse = _Refusal(path)
    graph = tflite.main
    _refuse_loops(tflite, refuse)
    _check_graph_edges(graph, refuse)
    if not any(op.op == "UNIDIRECTIONAL_SEQUENCE_LSTM" for op in graph.operators):
        from fixedrnn import graph_model  # an unrolled Keras graph (SimpleRNN, LSTM, GRU): a graph model

        return graph_model.from_tflite(tflite, frontend, labels, meta=_provenance(path, tflite))
    lstm_op, last_op, head_op = _fused_ops(graph, refuse)
    cell, (s_x, z_x), frames = _lstm(graph, lstm_op, refuse)
    _check_last_step(graph, last_op, frames, cell.units, refuse)
    head = _head(graph, head_op, cell.hidden_scale, refuse)
    n_in = cell.input_weight.shape[2]
    if n_in != frontend.spec.n_mfcc:
        raise FixedRnnError(f"front end: {frontend.spec.n_mfcc} MFCC coefficients, but {path} takes {n_in} "
                            f"features per frame")
    n_out = head.weight.shape[0]
    labels = tuple(str(v) for v in range(n_out)) if labels is None else tuple(labels)
    if len(labels) != n_out:
        raise FixedRnnError(f"labels: {len(labels)} given, {path} has {n_out} outputs")
    model = Model(cell="lstm", weights="int8", labels=labels, frontend=frontend.spec, frames=int(frames),
                  input=frontend.input_quant(s_x, z_x), head=head, lstm=cell, meta=_provenance(path, tflite))
    return Model.from_arrays(model.to_arrays(), source=f"{path} (imported)")


def _provenance(path, tflite):
    """The ``meta.*`` of an imported model: the file's name, SHA-256 and description."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return {"source": np.array(Path(path).name), "source_sha256": np.array(digest),
            "source_description": np.array(tflite.description)}


# -- command line ------------------------------------------------------------------------------


def _frontend(args):
    if args.frontend_from and (args.mfcc or args.norm or args.cmn):
        raise FixedRnnError("--frontend-from replaces --mfcc, --norm and --cmn (it copies the model's): give one or "
                            "the other")
    if args.frontend_from:
        from fixedrnn.model import load

        return frontend_from_model(load(args.frontend_from))
    if not args.norm:
        raise FixedRnnError("the front end: give --frontend-from OTHER.npz, or --norm FILE (with --mfcc KEY=VALUE "
                            "for settings other than the defaults)")
    spec = frontend_spec(args.mfcc or [])
    return FrontEnd(spec, *read_norm(args.norm, spec.n_mfcc), args.cmn or "off")


def _run(args):
    from fixedrnn import model as model_io

    out = Path(args.out)
    if out.is_dir():
        raise FixedRnnError(f"out: {out} is a directory, not a model file name")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise FixedRnnError(f"out: the directory of {out} does not exist")
    labels = None if args.labels is None else [v for v in args.labels.split(",")]
    model = import_tflite(args.model, _frontend(args), labels)
    command = ["fixedrnn", "import", "tflite", args.model, args.out]
    for option, value in (("--frontend-from", args.frontend_from), ("--norm", args.norm),
                          ("--labels", args.labels), ("--cmn", args.cmn)):
        command += [option, value] if value is not None else []
    command += ["--mfcc", *args.mfcc] if args.mfcc else []
    model = dataclasses.replace(model, meta={**model.meta, "command": np.array(shlex.join(command))})
    model_io.save(model, out)
    print(f"wrote {out}: {model}")
    return 0


def add_parser(subparsers):
    parser = subparsers.add_parser("import", help="import a model made elsewhere (a converted .tflite)",
                                   description="Import a model made elsewhere as a fixedrnn model file.")
    formats = parser.add_subparsers(dest="format", metavar="FORMAT")
    formats.required = True
    sub = formats.add_parser(
        "tflite", help="a TensorFlow-converted int8 .tflite (tf-keras LSTM, or an unrolled Keras RNN/LSTM/GRU)",
        description="Import a full-integer .tflite of a tf-keras LSTM (batch_size=1) and a Dense head "
                    "(UNIDIRECTIONAL_SEQUENCE_LSTM -> STRIDED_SLICE -> FULLY_CONNECTED), or of a Keras SimpleRNN, "
                    "LSTM or GRU converted with unroll=True and batch_size=1 (a graph model). The front end it was "
                    "trained on comes from --frontend-from, or from --mfcc and --norm (docs/import.md).")
    sub.add_argument("model", help="the .tflite file")
    sub.add_argument("out", help="output model file (.npz)")
    sub.add_argument("--frontend-from", metavar="OTHER.npz",
                     help="copy the MFCC settings and per-coefficient normalisation of this fixedrnn model")
    sub.add_argument("--mfcc", nargs="+", metavar="KEY=VALUE",
                     help="MFCC settings other than the defaults (sample_rate, fft_length, hop, n_mels, n_mfcc, "
                          "fmin, fmax, window, precision)")
    sub.add_argument("--norm", metavar="FILE",
                     help='JSON {"mean": [...], "std": [...]} per MFCC coefficient (MFCC units): the model\'s '
                          "float input was (mfcc - mean) / std")
    sub.add_argument("--cmn", choices=CMN_MODES,
                     help="with --norm: the cepstral mean normalisation of the window the model was trained on "
                          "(window: each coefficient's mean over the T frames removed before --norm's mean and std; "
                          "default off)")
    sub.add_argument("--labels", metavar="A,B,...", help="output labels, comma separated (default 0, 1, ...)")
    sub.set_defaults(func=_run)
