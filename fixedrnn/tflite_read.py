"""Read a ``.tflite`` flatbuffer into a typed graph, without trusting the file.

A ``.tflite`` file is a FlatBuffer (root table ``Model``, file identifier ``TFL3`` at bytes 4..8) of
TensorFlow Lite's schema (``tensorflow/lite/schema/schema.fbs``). This module reads the few tables
an integer model needs with its own bounds-checked FlatBuffer decoding (no generated schema code):

- ``Model``: version, operator codes, subgraphs, description, buffers;
- ``SubGraph``: tensors, inputs, outputs, operators, name;
- ``Tensor``: shape, type, buffer, name, quantization (scale, zero point, quantized dimension),
  is_variable;
- ``Operator``: opcode index, inputs, outputs (-1: an absent optional input), builtin options,
  intermediates;
- ``Buffer``: data inside the flatbuffer, or (offset, size) into the file past it.

FlatBuffer layout (little-endian): a table at ``p`` starts with an int32 ``soffset``; its vtable is
at ``p - soffset``: uint16 vtable size, uint16 table size, then one uint16 per field (0: absent,
else the field's byte offset in the table). An offset field holds a uint32 relative to its own
position; a vector is a uint32 count followed by its elements; a string is a vector of bytes.

Every position, size and index is checked before it is used, and the number of elements decoded is
bounded by the file's size (``_WORK_PER_BYTE`` per byte), so any input is read in bounded time and
memory. Anything malformed raises :class:`fixedrnn.errors.InputFileError` naming the file, where in
the graph, and what was wrong, in one line. Constant data is returned as read-only NumPy arrays of
the tensor's dtype and shape.
"""

import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from fixedrnn.errors import InputFileError, require_regular_file

FILE_IDENTIFIER = b"TFL3"
#: Largest file read: a microcontroller model is kilobytes.
MAX_FILE_BYTES = 64 << 20
#: Elements (table fields, vector entries) decoded per byte of file, at most.
_WORK_PER_BYTE = 4
_WORK_MIN = 1 << 16

#: ``BuiltinOperator`` names in code order (schema.fbs).
BUILTIN_OPERATORS = tuple("""
ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE
EMBEDDING_LOOKUP FLOOR FULLY_CONNECTED HASHTABLE_LOOKUP L2_NORMALIZATION L2_POOL_2D
LOCAL_RESPONSE_NORMALIZATION LOGISTIC LSH_PROJECTION LSTM MAX_POOL_2D MUL RELU RELU_N1_TO_1 RELU6
RESHAPE RESIZE_BILINEAR RNN SOFTMAX SPACE_TO_DEPTH SVDF TANH CONCAT_EMBEDDINGS SKIP_GRAM CALL CUSTOM
EMBEDDING_LOOKUP_SPARSE PAD UNIDIRECTIONAL_SEQUENCE_RNN GATHER BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND
TRANSPOSE MEAN SUB DIV SQUEEZE UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE BIDIRECTIONAL_SEQUENCE_RNN
EXP TOPK_V2 SPLIT LOG_SOFTMAX DELEGATE BIDIRECTIONAL_SEQUENCE_LSTM CAST PRELU MAXIMUM ARG_MAX MINIMUM
LESS NEG PADV2 GREATER GREATER_EQUAL LESS_EQUAL SELECT SLICE SIN TRANSPOSE_CONV SPARSE_TO_DENSE TILE
EXPAND_DIMS EQUAL NOT_EQUAL LOG SUM SQRT RSQRT SHAPE POW ARG_MIN FAKE_QUANT REDUCE_PROD REDUCE_MAX
PACK LOGICAL_OR ONE_HOT LOGICAL_AND LOGICAL_NOT UNPACK REDUCE_MIN FLOOR_DIV REDUCE_ANY SQUARE
ZEROS_LIKE FILL FLOOR_MOD RANGE RESIZE_NEAREST_NEIGHBOR LEAKY_RELU SQUARED_DIFFERENCE MIRROR_PAD ABS
SPLIT_V UNIQUE CEIL REVERSE_V2 ADD_N GATHER_ND COS WHERE RANK ELU REVERSE_SEQUENCE MATRIX_DIAG
QUANTIZE MATRIX_SET_DIAG ROUND HARD_SWISH IF WHILE NON_MAX_SUPPRESSION_V4 NON_MAX_SUPPRESSION_V5
SCATTER_ND SELECT_V2 DENSIFY SEGMENT_SUM BATCH_MATMUL PLACEHOLDER_FOR_GREATER_OP_CODES CUMSUM
CALL_ONCE BROADCAST_TO RFFT2D CONV_3D IMAG REAL COMPLEX_ABS HASHTABLE HASHTABLE_FIND
HASHTABLE_IMPORT HASHTABLE_SIZE REDUCE_ALL CONV_3D_TRANSPOSE VAR_HANDLE READ_VARIABLE
ASSIGN_VARIABLE BROADCAST_ARGS RANDOM_STANDARD_NORMAL BUCKETIZE RANDOM_UNIFORM MULTINOMIAL GELU
DYNAMIC_UPDATE_SLICE RELU_0_TO_1 UNSORTED_SEGMENT_PROD UNSORTED_SEGMENT_MAX UNSORTED_SEGMENT_SUM
ATAN2 UNSORTED_SEGMENT_MIN SIGN BITCAST BITWISE_XOR RIGHT_SHIFT STABLEHLO_LOGISTIC STABLEHLO_ADD
STABLEHLO_DIVIDE STABLEHLO_MULTIPLY STABLEHLO_MAXIMUM STABLEHLO_RESHAPE STABLEHLO_CLAMP
STABLEHLO_CONCATENATE STABLEHLO_BROADCAST_IN_DIM STABLEHLO_CONVOLUTION STABLEHLO_SLICE
STABLEHLO_CUSTOM_CALL STABLEHLO_REDUCE STABLEHLO_ABS STABLEHLO_AND STABLEHLO_COSINE
STABLEHLO_EXPONENTIAL STABLEHLO_FLOOR STABLEHLO_LOG STABLEHLO_MINIMUM STABLEHLO_NEGATE STABLEHLO_OR
STABLEHLO_POWER STABLEHLO_REMAINDER STABLEHLO_RSQRT STABLEHLO_SELECT STABLEHLO_SUBTRACT
STABLEHLO_TANH STABLEHLO_SCATTER STABLEHLO_COMPARE STABLEHLO_CONVERT STABLEHLO_DYNAMIC_SLICE
STABLEHLO_DYNAMIC_UPDATE_SLICE STABLEHLO_PAD STABLEHLO_IOTA STABLEHLO_DOT_GENERAL
STABLEHLO_REDUCE_WINDOW STABLEHLO_SORT STABLEHLO_WHILE STABLEHLO_GATHER STABLEHLO_TRANSPOSE DILATE
STABLEHLO_RNG_BIT_GENERATOR REDUCE_WINDOW STABLEHLO_COMPOSITE STABLEHLO_SHIFT_LEFT STABLEHLO_CBRT
STABLEHLO_CASE
""".split())

#: ``TensorType`` codes: (name, NumPy dtype of its data, or None where it has no NumPy form).
TENSOR_TYPES = {
    0: ("float32", "<f4"), 1: ("float16", "<f2"), 2: ("int32", "<i4"), 3: ("uint8", "u1"),
    4: ("int64", "<i8"), 5: ("string", None), 6: ("bool", "?"), 7: ("int16", "<i2"),
    8: ("complex64", "<c8"), 9: ("int8", "i1"), 10: ("float64", "<f8"), 11: ("complex128", "<c16"),
    12: ("uint64", "<u8"), 13: ("resource", None), 14: ("variant", None), 15: ("uint32", "<u4"),
    16: ("uint16", "<u2"), 17: ("int4", None), 18: ("bfloat16", None), 19: ("int2", None),
    20: ("uint4", None), 21: ("float8_e4m3fn", None), 22: ("float8_e5m2", None),
}

#: ``ActivationFunctionType`` names (a fused activation).
ACTIVATIONS = ("NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT")

# Field kinds of the option tables: struct format, or "act" (activation byte), "ints" (int32 vector).
_OPTION_TABLES = {
    1: ("Conv2DOptions", (("padding", "b", 0), ("stride_w", "i", 0), ("stride_h", "i", 0),
                          ("fused_activation_function", "act", "NONE"), ("dilation_w_factor", "i", 1),
                          ("dilation_h_factor", "i", 1), ("quantized_bias_type", "b", 0))),
    2: ("DepthwiseConv2DOptions", (("padding", "b", 0), ("stride_w", "i", 0), ("stride_h", "i", 0),
                                   ("depth_multiplier", "i", 0), ("fused_activation_function", "act", "NONE"),
                                   ("dilation_w_factor", "i", 1), ("dilation_h_factor", "i", 1))),
    5: ("Pool2DOptions", (("padding", "b", 0), ("stride_w", "i", 0), ("stride_h", "i", 0), ("filter_width", "i", 0),
                          ("filter_height", "i", 0), ("fused_activation_function", "act", "NONE"))),
    8: ("FullyConnectedOptions", (("fused_activation_function", "act", "NONE"),
                                  ("weights_format", "b", 0), ("keep_num_dims", "?", False),
                                  ("asymmetric_quantize_inputs", "?", False),
                                  ("quantized_bias_type", "b", 0))),
    9: ("SoftmaxOptions", (("beta", "f", 0.0),)),
    10: ("ConcatenationOptions", (("axis", "i", 0), ("fused_activation_function", "act", "NONE"))),
    11: ("AddOptions", (("fused_activation_function", "act", "NONE"), ("pot_scale_int16", "?", True))),
    17: ("ReshapeOptions", (("new_shape", "ints", ()),)),
    21: ("MulOptions", (("fused_activation_function", "act", "NONE"),)),
    27: ("ReducerOptions", (("keep_dims", "?", False),)),
    28: ("SubOptions", (("fused_activation_function", "act", "NONE"), ("pot_scale_int16", "?", True))),
    30: ("SqueezeOptions", (("squeeze_dims", "ints", ()),)),
    32: ("StridedSliceOptions", (("begin_mask", "i", 0), ("end_mask", "i", 0), ("ellipsis_mask", "i", 0),
                                 ("new_axis_mask", "i", 0), ("shrink_axis_mask", "i", 0),
                                 ("offset", "?", False))),
    35: ("SplitOptions", (("num_splits", "i", 0),)),
    59: ("PackOptions", (("values_count", "i", 0), ("axis", "i", 0))),
    64: ("UnpackOptions", (("num", "i", 0), ("axis", "i", 0))),
    71: ("UnidirectionalSequenceLSTMOptions", (("fused_activation_function", "act", "NONE"),
                                               ("cell_clip", "f", 0.0), ("proj_clip", "f", 0.0),
                                               ("time_major", "?", False),
                                               ("asymmetric_quantize_inputs", "?", False),
                                               ("diagonal_recurrent_tensors", "?", False))),
    79: ("SplitVOptions", (("num_splits", "i", 0),)),
    93: ("WhileOptions", (("cond_subgraph_index", "i", 0), ("body_subgraph_index", "i", 0))),
}

_SIZES = {"b": 1, "B": 1, "?": 1, "h": 2, "H": 2, "i": 4, "I": 4, "f": 4, "q": 8, "Q": 8}


@dataclass(frozen=True)
class Quantization:
    """A tensor's affine quantization: real = ``scale[k] · (q − zero_point[k])`` along
    ``quantized_dimension`` (one entry: per tensor). ``scale`` float32 ``[S]``, ``zero_point``
    int64 ``[S]``."""

    scale: np.ndarray
    zero_point: np.ndarray
    quantized_dimension: int

    @property
    def per_channel(self):
        return self.scale.shape[0] > 1


@dataclass(frozen=True)
class Tensor:
    """One tensor: ``index`` in its subgraph, ``name``, ``shape`` (ints), ``dtype`` (a
    ``TENSOR_TYPES`` name, e.g. ``"int8"``), ``quantization`` (None when the file gives no scale),
    ``data`` (the constant value, read-only, of ``shape`` and ``dtype``; raw ``uint8`` bytes for a
    dtype without a NumPy form; None when the tensor has no data), ``is_variable``."""

    index: int
    name: str
    shape: tuple
    dtype: str
    quantization: Optional[Quantization]
    data: Optional[np.ndarray]
    is_variable: bool

    def __repr__(self):
        return f"Tensor({self.index}, {self.name!r}, {self.shape}, {self.dtype})"


@dataclass(frozen=True)
class Operator:
    """One operator: ``index`` in execution order, ``op`` (builtin operator name, e.g.
    ``"FULLY_CONNECTED"``; ``"CUSTOM"`` with ``custom_code``), ``version``, ``inputs`` / ``outputs``
    / ``intermediates`` (tensor indices; -1 = an absent optional input), ``options_type`` (the
    builtin options table's name, None when absent, ``"#<n>"`` for one this reader does not decode)
    and ``options`` (its fields by snake_case schema name, defaults filled in)."""

    index: int
    op: str
    version: int
    inputs: tuple
    outputs: tuple
    intermediates: tuple
    options_type: Optional[str]
    options: dict = field(default_factory=dict)
    custom_code: Optional[str] = None


@dataclass(frozen=True)
class Subgraph:
    """``name``, ``tensors`` and ``operators`` (tuples), ``inputs`` / ``outputs`` (tensor indices)."""

    name: str
    tensors: tuple
    operators: tuple
    inputs: tuple
    outputs: tuple

    def tensor(self, index):
        """The tensor at ``index``, None for -1 (an absent optional input)."""
        return None if index < 0 else self.tensors[index]


@dataclass(frozen=True)
class TfliteModel:
    """A whole ``.tflite`` file: ``path`` (for messages), ``version``, ``description``,
    ``subgraphs`` (the first one is the main graph)."""

    path: str
    version: int
    description: str
    subgraphs: tuple

    @property
    def main(self):
        return self.subgraphs[0]


class _Reader:
    """Bounds-checked FlatBuffer decoding of ``data``; errors name ``path``."""

    def __init__(self, data, path):
        self.data = data
        self.size = len(data)
        self.path = path
        self.work_left = max(_WORK_MIN, _WORK_PER_BYTE * self.size)

    def fail(self, where, problem):
        raise InputFileError(self.path, f"{where}: {problem}" if where else problem)

    def spend(self, where, count):
        self.work_left -= count
        if self.work_left < 0:
            self.fail(where, "the file's offsets decode to far more data than it holds (overlapping tables)")

    def scalar(self, fmt, pos, where):
        n = _SIZES[fmt]
        if pos < 0 or pos + n > self.size:
            self.fail(where, f"offset {pos} out of range (file of {self.size} bytes)")
        return struct.unpack_from("<" + fmt, self.data, pos)[0]

    def table(self, pos, where):
        """A table at ``pos``: returns ``(pos, fields)`` with ``fields`` the vtable's entries."""
        self.spend(where, 1)
        soffset = self.scalar("i", pos, where)
        vtable = pos - soffset
        vsize = self.scalar("H", vtable, where)
        tsize = self.scalar("H", vtable + 2, where)
        if vsize < 4 or vsize % 2 or vtable + vsize > self.size:
            self.fail(where, f"bad vtable at {vtable} (size {vsize})")
        if tsize < 4 or pos + tsize > self.size:
            self.fail(where, f"table at {pos} of {tsize} bytes runs past the end of the file")
        count = (vsize - 4) // 2
        self.spend(where, count)
        fields = struct.unpack_from(f"<{count}H", self.data, vtable + 4)
        for k, off in enumerate(fields):
            if off and (off < 4 or off >= tsize):
                self.fail(where, f"field {k} at offset {off} lies outside its table of {tsize} bytes")
        return pos, fields, tsize

    def field_pos(self, tab, index, fmt, where):
        pos, fields, tsize = tab
        if index >= len(fields) or not fields[index]:
            return None
        off = fields[index]
        if off + _SIZES[fmt] > tsize:
            self.fail(where, f"field {index} runs past the end of its table")
        return pos + off

    def get(self, tab, index, fmt, default, where):
        """Scalar field ``index`` of ``tab`` (struct format ``fmt``), ``default`` when absent."""
        p = self.field_pos(tab, index, fmt, where)
        return default if p is None else self.scalar(fmt, p, where)

    def target(self, tab, index, where):
        """Where the offset field ``index`` points, or None when absent."""
        p = self.field_pos(tab, index, "I", where)
        if p is None:
            return None
        dest = p + self.scalar("I", p, where)
        if dest >= self.size:
            self.fail(where, f"offset {dest} out of range (file of {self.size} bytes)")
        return dest

    def vector(self, tab, index, elem_bytes, where):
        """``(start, count)`` of vector field ``index``; ``(None, 0)`` when absent."""
        p = self.target(tab, index, where)
        if p is None:
            return None, 0
        count = self.scalar("I", p, where)
        if p + 4 + count * elem_bytes > self.size:
            self.fail(where, f"vector of {count} elements at {p} runs past the end of the file")
        return p + 4, count

    def numbers(self, tab, index, dtype, where):
        """Numeric vector field ``index`` as a NumPy array (a copy) of ``dtype``; None when absent."""
        dtype = np.dtype(dtype)
        start, count = self.vector(tab, index, dtype.itemsize, where)
        if start is None:
            return None
        self.spend(where, count)
        return np.frombuffer(self.data, dtype, count, start).copy()

    def ints(self, tab, index, where):
        values = self.numbers(tab, index, "<i4", where)
        return () if values is None else tuple(int(v) for v in values)

    def string(self, tab, index, where):
        start, count = self.vector(tab, index, 1, where)
        if start is None:
            return ""
        self.spend(where, count // 64)
        return bytes(self.data[start:start + count]).decode("utf-8", errors="replace")

    def tables(self, tab, index, where):
        """The table positions of a vector-of-tables field (offsets checked later, per table)."""
        start, count = self.vector(tab, index, 4, where)
        if start is None:
            return []
        self.spend(where, count)
        rel = np.frombuffer(self.data, "<u4", count, start).astype(np.int64)
        return [int(v) for v in rel + start + 4 * np.arange(count, dtype=np.int64)]


def _builtin_name(reader, code, where):
    if not 0 <= code < len(BUILTIN_OPERATORS):
        reader.fail(where, f"builtin operator code {code} is unknown to this reader")
    return BUILTIN_OPERATORS[code]


def _operator_codes(r, root):
    codes = []
    for k, pos in enumerate(r.tables(root, 1, "operator codes")):
        where = f"operator code {k}"
        tab = r.table(pos, where)
        # TFLite's GetBuiltinCode: the larger of the deprecated int8 code and the int32 code.
        code = max(r.get(tab, 0, "b", 0, where), r.get(tab, 3, "i", 0, where))
        name = _builtin_name(r, code, where)
        custom = r.string(tab, 1, where) if name == "CUSTOM" else None
        codes.append((name, r.get(tab, 2, "i", 1, where), custom))
    return codes


def _buffers(r, root):
    """Every buffer's bytes (a read-only view into the file), None for an empty one."""
    out = []
    for k, pos in enumerate(r.tables(root, 4, "buffers")):
        where = f"buffer {k}"
        tab = r.table(pos, where)
        start, count = r.vector(tab, 0, 1, where)
        offset, size = r.get(tab, 1, "Q", 0, where), r.get(tab, 2, "Q", 0, where)
        if start is None and offset > 1:  # data stored past the flatbuffer, at a file offset
            if offset + size > r.size:
                r.fail(where, f"{size} bytes at file offset {offset} run past the end of the file "
                              f"({r.size} bytes)")
            start, count = offset, size
        out.append(memoryview(r.data)[start:start + count] if start is not None and count else None)
    return out


def _quantization(r, tab, shape, where):
    q = r.target(tab, 4, where)
    if q is None:
        return None
    where = f"{where} (quantization)"
    qt = r.table(q, where)
    scale = r.numbers(qt, 2, "<f4", where)
    if scale is None or scale.size == 0:
        return None
    zero = r.numbers(qt, 3, "<i8", where)
    if zero is None or zero.size == 0:
        zero = np.zeros(scale.shape, np.int64)
    if zero.shape != scale.shape:
        r.fail(where, f"{scale.size} scales but {zero.size} zero points")
    if r.get(qt, 4, "B", 0, where):
        r.fail(where, "custom quantization details are not supported")
    axis = r.get(qt, 6, "i", 0, where)
    if scale.size > 1 and not (0 <= axis < len(shape) and shape[axis] == scale.size):
        r.fail(where, f"{scale.size} per-channel scales do not match dimension {axis} of shape "
                      f"{list(shape)}")
    if not (np.all(np.isfinite(scale)) and np.all(scale >= 0)):
        r.fail(where, "a scale is negative, infinite or NaN")
    scale.flags.writeable = zero.flags.writeable = False
    return Quantization(scale, zero, int(axis))


def _tensor_data(r, raw, shape, dtype_name, numpy_dtype, where):
    if raw is None:
        return None
    if numpy_dtype is None:
        data = np.frombuffer(raw, np.uint8)
    else:
        itemsize = np.dtype(numpy_dtype).itemsize
        count = math.prod(shape)
        if len(raw) != count * itemsize:
            r.fail(where, f"buffer holds {len(raw)} bytes, a {dtype_name} tensor of shape "
                          f"{list(shape)} needs {count * itemsize}")
        data = np.frombuffer(raw, numpy_dtype).reshape(shape)
    return data


def _tensor(r, pos, k, buffers, where):
    tab = r.table(pos, where)
    name = r.string(tab, 3, where)
    where = f"{where} {name!r}" if name else where
    shape = r.ints(tab, 0, where)
    if any(d < 0 for d in shape):
        r.fail(where, f"negative dimension in shape {list(shape)}")
    code = r.get(tab, 1, "b", 0, where)
    if code not in TENSOR_TYPES:
        r.fail(where, f"tensor type {code} is unknown")
    dtype_name, numpy_dtype = TENSOR_TYPES[code]
    buffer = r.get(tab, 2, "I", 0, where)
    if buffer >= len(buffers):
        r.fail(where, f"buffer index {buffer} out of range ({len(buffers)} buffers)")
    if r.target(tab, 6, where) is not None:
        r.fail(where, "sparse tensors are not supported")
    if r.get(tab, 10, "I", 0, where):
        r.fail(where, "external buffers are not supported")
    data = _tensor_data(r, buffers[buffer], shape, dtype_name, numpy_dtype, where)
    return Tensor(k, name, shape, dtype_name, _quantization(r, tab, shape, where), data,
                  bool(r.get(tab, 5, "?", False, where)))


def _options(r, op, where):
    kind = r.get(op, 3, "B", 0, where)
    if kind == 0:
        return None, {}
    if kind not in _OPTION_TABLES:
        return f"#{kind}", {}
    name, spec = _OPTION_TABLES[kind]
    pos = r.target(op, 4, where)
    if pos is None:
        r.fail(where, f"{name} declared but absent")
    where = f"{where} ({name})"
    tab = r.table(pos, where)
    values = {}
    for index, (key, fmt, default) in enumerate(spec):
        if fmt == "ints":
            values[key] = r.ints(tab, index, where) if r.target(tab, index, where) is not None else default
        elif fmt == "act":
            code = r.get(tab, index, "b", 0, where)
            if not 0 <= code < len(ACTIVATIONS):
                r.fail(where, f"fused activation {code} is unknown")
            values[key] = ACTIVATIONS[code]
        else:
            value = r.get(tab, index, fmt, default, where)
            values[key] = float(value) if fmt == "f" else value
    return name, values


def _indices(r, tab, index, n_tensors, where, what, optional=False):
    values = r.ints(tab, index, where)
    lo = -1 if optional else 0
    for v in values:
        if not lo <= v < n_tensors:
            r.fail(where, f"{what} tensor index {v} out of range ({n_tensors} tensors)")
    return values


def _subgraph(r, pos, g, codes, buffers):
    where = f"subgraph {g}"
    tab = r.table(pos, where)
    tensors = tuple(_tensor(r, p, k, buffers, f"{where} tensor {k}")
                    for k, p in enumerate(r.tables(tab, 0, where)))
    n = len(tensors)
    operators = []
    for k, p in enumerate(r.tables(tab, 3, where)):
        w = f"{where} operator {k}"
        op = r.table(p, w)
        code = r.get(op, 0, "I", 0, w)
        if code >= len(codes):
            r.fail(w, f"opcode index {code} out of range ({len(codes)} operator codes)")
        name, version, custom = codes[code]
        w = f"{w} ({name})"
        inputs = _indices(r, op, 1, n, w, "input", optional=True)
        outputs = _indices(r, op, 2, n, w, "output")
        intermediates = _indices(r, op, 8, n, w, "intermediate")
        options_type, options = _options(r, op, w)
        operators.append(Operator(k, name, version, inputs, outputs, intermediates, options_type,
                                  options, custom))
    return Subgraph(r.string(tab, 4, where), tensors, tuple(operators),
                    _indices(r, tab, 1, n, where, "input"), _indices(r, tab, 2, n, where, "output"))


def parse_tflite(data, path="<bytes>"):
    """The :class:`TfliteModel` of the flatbuffer ``data`` (bytes); errors name ``path``."""
    data = bytes(data)
    r = _Reader(data, path)
    if len(data) < 8:
        r.fail("", f"too short for a .tflite file ({len(data)} bytes)")
    if data[4:8] != FILE_IDENTIFIER:
        r.fail("", f"not a .tflite file (file identifier {data[4:8]!r}, expected {FILE_IDENTIFIER!r})")
    root = r.table(r.scalar("I", 0, "root"), "model")
    version = r.get(root, 0, "I", 0, "model")
    codes = _operator_codes(r, root)
    buffers = _buffers(r, root)
    subgraphs = tuple(_subgraph(r, p, g, codes, buffers)
                      for g, p in enumerate(r.tables(root, 2, "subgraphs")))
    if not subgraphs:
        r.fail("", "the model has no subgraph")
    return TfliteModel(str(path), int(version), r.string(root, 3, "model"), subgraphs)


def read_tflite(path):
    """Read the ``.tflite`` file at ``path`` (at most :data:`MAX_FILE_BYTES`)."""
    path = Path(path)
    require_regular_file(path, "no such .tflite file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputFileError(path, f"{size} bytes, more than the {MAX_FILE_BYTES} a .tflite model "
                                   f"may have here")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    return parse_tflite(data, path)
