"""The model file's keys, declared once (``.npz``, schema version 1; docs/model-format.md).

Each key is a :class:`KeySpec`: name, dtype, shape in the model's dimensions, allowed range, the
cell and weight kind it belongs to, where its value lives in :class:`fixedrnn.model.Model`, whether
it goes to the device (one ``const`` C array in flash, named :func:`symbol_for` of the key) and its
meaning. :func:`fixedrnn.model.load` checks, :meth:`fixedrnn.model.Model.to_arrays` writes,
:mod:`fixedrnn.layout` lays out and :mod:`fixedrnn.tflite_export` checks exactly these keys.

Shape symbols: ``"I"`` = ``frontend.n_mfcc``, ``"H"`` = ``<cell>.units``, ``"C"`` = ``len(labels)``,
``"4"`` = the LSTM gates (i, f, g, o), ``"S"`` = a fully connected block's scale count (1 per
tensor, or its output count per channel), ``"P"`` = ``ceil(N / 2)`` bytes of N packed 4-bit
power-of-two codes.
"""

import re
from dataclasses import dataclass
from typing import Optional

import numpy as np

from fixedrnn.cepstral_mean import CMN_MODES
from fixedrnn.frontend.config import CMSIS_BUILDS, FFT_LENGTHS

FORMAT = "fixedrnn-model"
SCHEMA_VERSION = 1
CELLS = ("rnn", "lstm")
#: The ``cell`` of a graph model (an imported unrolled graph: fixedrnn.graph_model), whose keys are
#: the common ones (head aside) and ``graph.*``.
GRAPH_CELL = "graph"
#: Weight kinds (fixedrnn.weight_forms): int8; power-of-two codes; symmetric k-bit (``weights.bits``);
#: minifloat (``weights.exponent_bits``, ``weights.mantissa_bits``).
WEIGHT_KINDS = ("int8", "pot", "intk", "minifloat")
#: How the firmware stores the weight matrices (``weights.storage``): int8 / packed codes as the kind
#: says, or compressed rows of the nonzero weights (fixedrnn.sparse; int8-stored kinds only).
STORAGES = ("dense", "sparse")
WINDOWS = ("hamming", "hann")
PRECISIONS = ("q15", "q31")
#: The optional key of a model's cepstral mean normalisation (fixedrnn.cepstral_mean.CMN_MODES).
CMN_KEY = "input.cmn"

#: The optional key naming the CMSIS-DSP build the front end follows (fixedrnn.frontend.config.CMSIS_BUILDS).
CMSIS_BUILD_KEY = "frontend.cmsis_build"
GATES = ("i", "f", "g", "o")  # order of the leading axis of every LSTM gate tensor
# LSTM options TFLM has and fixedrnn does not run: a file asking for one is refused by name
UNSUPPORTED_LSTM_KEYS = {"lstm.proj_clip": "projection clip",
                         "lstm.projection.weight": "projection", "lstm.peephole.weight": "peephole",
                         "lstm.layer_norm.weight": "layer normalisation"}
#: The weight kinds whose files store each weight matrix as int8 levels (``<fc>.weight``).
INT8_STORED_KINDS = ("int8", "intk", "minifloat")
MAX_UNITS = 1024
MAX_FRAMES = 10000
MAX_LABELS = 1024  # C
MAX_LABEL_LENGTH = 256  # characters of one label (and of any string key)
MAX_FEATURES = max(FFT_LENGTHS) // 2  # I: n_mfcc <= n_mels <= fft_length // 2 (fixedrnn.frontend.config)
#: Bounds of the free-form ``meta.*`` keys: how many, and their array data together (bytes).
MAX_META_KEYS = 256
MAX_META_BYTES = 64 << 20
MULTIPLIER_MIN = 1 << 30
SHIFT_MIN, SHIFT_MAX = -31, 30
CELL_POWER_MIN, CELL_POWER_MAX = -15, 0
CELL_CLIP_MAX = 32767  # the quantized cell clip is an int16 bound

#: The RNN hidden state is the int8 TANH's output, whose quantization TFLM fixes: scale 2**-7,
#: zero point 0 (not stored in the file).
RNN_HIDDEN_SCALE = 1.0 / 128.0
RNN_HIDDEN_ZERO_POINT = 0
LSTM_GATE_INPUT_SCALE = 2.0**-12  # Q3.12 gate pre-activations (the gate FCs' output)
LSTM_GATE_OUTPUT_SCALE = 2.0**-15  # Q0.15 gate outputs

#: Prefix of every C symbol of the firmware's data.
SYMBOL_PREFIX = "fr_"

#: C element type of each stored integer dtype.
C_TYPES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "uint16": "uint16_t",
           "int32": "int32_t", "uint32": "uint32_t"}


def symbol_for(key):
    """The C symbol of a model key: ``fr_`` + key with every non-identifier character as ``_``
    (``lstm.input_fc.pot`` → ``fr_lstm_input_fc_pot``)."""
    return SYMBOL_PREFIX + re.sub(r"[^0-9A-Za-z_]", "_", key)


@dataclass(frozen=True)
class KeySpec:
    """One key of the file.

    ``dtype``: a NumPy dtype name, or ``"str"`` (unicode array). ``shape``: symbols (module doc).
    ``lo``/``hi``: inclusive range (None: unbounded); ``positive``: a float that must be > 0.
    ``cell``/``weights``: the only cell / weight kind (or tuple of kinds) whose files hold the key
    (None: all).
    ``attr``: path of the value in :class:`fixedrnn.model.Model` (attribute names, tuple indices);
    ``packs``: for a ``.pot`` key, the path of the int8 weights its codes encode; ``const``: the
    value of a key every file holds the same (``attr`` None); ``optional``: a file may leave the
    key out; ``default``: an optional key's value in the :class:`fixedrnn.model.Model` when the file
    does not hold it (None: the attribute is None; a model at a non-None default is written without
    the key). ``role``: what a
    device key is in the memory report ("weights", "bias", "requantization", "input requant");
    None: the key stays on the host (float scales, strings, 0-d integers compiled into the code).
    """

    name: str
    dtype: str
    shape: tuple
    attr: tuple
    meaning: str
    lo: object = None
    hi: object = None
    positive: bool = False
    cell: Optional[str] = None
    weights: object = None
    role: Optional[str] = None
    packs: Optional[tuple] = None
    const: object = None
    optional: bool = False
    default: object = None

    @property
    def device(self):
        """True when the firmware holds the key as a ``const`` array in flash."""
        return self.role is not None

    @property
    def c_type(self):
        """The key's C element type (integer keys only)."""
        return C_TYPES[self.dtype]

    @property
    def symbol(self):
        """The key's C symbol (:func:`symbol_for`)."""
        return symbol_for(self.name)

    def resolve(self, dims):
        """The concrete shape for ``dims`` (a mapping from shape symbols to ints)."""
        return tuple(4 if s == "4" else int(dims[s]) for s in self.shape)

    def belongs_to(self, cell, weights):
        kinds = (self.weights,) if isinstance(self.weights, str) else self.weights
        return self.cell in (None, cell) and (kinds is None or weights in kinds)


@dataclass(frozen=True)
class FcBlock:
    """A fully connected block ``<name>.*``: weights ``out + (in,)``, scales ``scales``.

    ``attrs`` maps each field (weight, pot, weight_scale, bias, multiplier, shift, output_scale,
    output_zero_point) to its path in :class:`fixedrnn.model.Model`; a block without ``bias`` in
    ``attrs`` has no bias key; one without ``output_scale`` stores no output scale or zero point:
    its output is int16 Q3.12 at ``fixed_output_scale`` (the LSTM gate FCs). ``input``: the paths of
    the scale and zero point of the block's int8 input (``Model.hidden_scale``/``hidden_zero_point``
    for a hidden state: for the RNN, :data:`RNN_HIDDEN_SCALE` and :data:`RNN_HIDDEN_ZERO_POINT`).
    ``per_channel``: ``scales`` is ``("S",)``.
    """

    name: str
    cell: Optional[str]
    out: tuple
    inp: str
    scales: tuple
    attrs: dict
    input: tuple
    fixed_output_scale: Optional[float] = None

    @property
    def output_bits(self):
        """8 (int8 output) or 16 (int16 Q3.12 output)."""
        return 8 if self.fixed_output_scale is None else 16

    @property
    def has_bias(self):
        return "bias" in self.attrs

    @property
    def per_channel(self):
        return self.scales == ("S",)

    def keys(self, fields):
        """The block's :class:`KeySpec` of ``fields`` (a subset of ``attrs``), in that order."""
        w_shape = self.out + (self.inp,)
        spec = {
            "weight": dict(dtype="int8", shape=w_shape, lo=-127, hi=127, weights=INT8_STORED_KINDS,
                           role="weights", meaning="int8 weights W (zero point 0; levels of the weight kind)"),
            "pot": dict(dtype="uint8", shape=("P",), weights="pot", role="weights", packs=self.attrs["weight"],
                        meaning="power-of-two codes of W, two per byte (docs/CONTRACT.md)"),
            "weight_scale": dict(dtype="float32", shape=self.scales, positive=True, meaning="weight scale s_W"),
            "bias": dict(dtype="int32", shape=self.out, role="bias", meaning="int32 bias, scale s_in · s_W"),
            "output_scale": dict(dtype="float32", shape=(), positive=True, meaning="output scale s_out"),
            "output_zero_point": dict(dtype="int32", shape=(), lo=-128, hi=127, meaning="output zero point"),
            "multiplier": dict(dtype="int32", shape=self.scales, lo=0, role="requantization",
                               meaning="requantization multiplier, 0 or in [2**30, 2**31)"),
            "shift": dict(dtype="int32", shape=self.scales, lo=SHIFT_MIN, hi=SHIFT_MAX, role="requantization",
                          meaning="requantization shift (positive: left)"),
        }
        return [KeySpec(f"{self.name}.{f}", attr=self.attrs[f], cell=self.cell, **spec[f])
                for f in fields if f in self.attrs]


def _fc_attrs(path):
    return {f: path + (f,) for f in ("weight", "pot", "weight_scale", "bias", "output_scale",
                                     "output_zero_point", "multiplier", "shift")}


def _lstm_attrs(side, bias):
    out = {"weight": ("lstm", f"{side}_weight"), "pot": ("lstm", f"{side}_pot"),
           "weight_scale": ("lstm", f"{side}_weight_scale"), "multiplier": ("lstm", f"{side}_multiplier"),
           "shift": ("lstm", f"{side}_shift")}
    if bias:
        out["bias"] = ("lstm", "bias")
    return out


_INPUT = (("input", "scale"), ("input", "zero_point"))
_HIDDEN = (("hidden_scale",), ("hidden_zero_point",))

RNN_INPUT_FC = FcBlock("rnn.input_fc", "rnn", ("H",), "I", ("S",), _fc_attrs(("rnn", "input_fc")), _INPUT)
RNN_RECURRENT_FC = FcBlock("rnn.recurrent_fc", "rnn", ("H",), "H", ("S",),
                           {k: v for k, v in _fc_attrs(("rnn", "recurrent_fc")).items() if k != "bias"}, _HIDDEN)
LSTM_INPUT_FC = FcBlock("lstm.input_fc", "lstm", ("4", "H"), "I", ("4",), _lstm_attrs("input", True), _INPUT,
                        LSTM_GATE_INPUT_SCALE)
LSTM_RECURRENT_FC = FcBlock("lstm.recurrent_fc", "lstm", ("4", "H"), "H", ("4",), _lstm_attrs("recurrent", False),
                            _HIDDEN, LSTM_GATE_INPUT_SCALE)
HEAD = FcBlock("head", None, ("C",), "H", ("S",), _fc_attrs(("head",)), _HIDDEN)

#: Every fully connected block, cell blocks first, in the order a step runs them; the head last.
FC_BLOCKS = (RNN_INPUT_FC, RNN_RECURRENT_FC, LSTM_INPUT_FC, LSTM_RECURRENT_FC, HEAD)

_FC_FIELDS = ("weight", "pot", "weight_scale", "bias", "output_scale", "output_zero_point", "multiplier",
              "shift")
_LSTM_FC_FIELDS = ("weight", "pot", "weight_scale", "multiplier", "shift")


def _scalar(name, dtype, attr, meaning, **kw):
    return KeySpec(name, dtype, (), attr, meaning, **kw)


def _mult_shift(prefix, attr, meaning, cell, shift_hi=SHIFT_MAX):
    """The ``<prefix>multiplier`` / ``<prefix>shift`` scalar pair at ``attr`` (a (m, s) tuple or
    two attribute names)."""
    m_attr, s_attr = attr
    return [_scalar(f"{prefix}multiplier", "int32", m_attr, f"{meaning}: multiplier", lo=0, cell=cell),
            _scalar(f"{prefix}shift", "int32", s_attr, f"{meaning}: shift", lo=SHIFT_MIN, hi=shift_hi, cell=cell)]


GRAPH_MAX_RANK = 6
GRAPH_MAX_TENSORS = 1 << 16
GRAPH_MAX_OPS = 1 << 16
#: The graph keys' shape symbols and their largest values: ``N`` tensors (``N1`` = N + 1), ``R`` the
#: largest rank, ``G`` scales, ``B`` constant bytes, ``K`` ops (``K1`` = K + 1), ``E`` op tensor
#: references, ``Q`` op integers.
GRAPH_DIMS = {"N": GRAPH_MAX_TENSORS, "N1": GRAPH_MAX_TENSORS + 1, "R": GRAPH_MAX_RANK, "G": 1 << 20,
              "B": 16 << 20, "K": GRAPH_MAX_OPS, "K1": GRAPH_MAX_OPS + 1, "E": 1 << 20, "Q": 1 << 20}


def _build_keys():
    keys = [
        _scalar("format", "str", None, f'"{FORMAT}"', const=FORMAT),
        _scalar("schema_version", "int32", None, f"{SCHEMA_VERSION}", const=SCHEMA_VERSION),
        _scalar("cell", "str", ("cell",), "rnn or lstm"),
        _scalar("weights", "str", ("weights",), " or ".join(WEIGHT_KINDS)),
        _scalar("weights.bits", "int32", ("weight_bits",), "k of symmetric k-bit weights", lo=2, hi=8,
                weights="intk"),
        _scalar("weights.exponent_bits", "int32", ("exponent_bits",), "minifloat exponent bits e", lo=1, hi=3,
                weights="minifloat"),
        _scalar("weights.mantissa_bits", "int32", ("mantissa_bits",), "minifloat mantissa bits m", lo=0, hi=6,
                weights="minifloat"),
        _scalar("weights.storage", "str", ("weight_storage",), " or ".join(STORAGES) + " (optional, default "
                "dense): the firmware's storage of the weight matrices", optional=True, default="dense"),
        KeySpec("labels", "str", ("C",), ("labels",), "class labels, distinct, non-empty, C >= 2"),
        _scalar("sequence.frames", "int32", ("frames",), "T, frames per inference", lo=1, hi=MAX_FRAMES),
        KeySpec("input.offset", "int32", ("I",), ("input", "offset"), "offset subtracted from the MFCC",
                role="input requant"),
        KeySpec("input.multiplier", "int32", ("I",), ("input", "multiplier"), "input requantization multiplier",
                lo=0, role="input requant"),
        KeySpec("input.shift", "int32", ("I",), ("input", "shift"), "input requantization shift",
                lo=SHIFT_MIN, hi=SHIFT_MAX, role="input requant"),
        _scalar("input.scale", "float32", ("input", "scale"), "scale s_x of the int8 input", positive=True),
        _scalar("input.zero_point", "int32", ("input", "zero_point"), "zero point z_x of the int8 input",
                lo=-128, hi=127),
        _scalar(CMN_KEY, "str", ("input", "cmn"), " or ".join(CMN_MODES) + " (optional, default off): cepstral "
                "mean normalisation of the window before the int8 input (fixedrnn.cepstral_mean)",
                optional=True, default="off"),
    ]
    for name in ("sample_rate", "fft_length", "hop", "n_mels", "n_mfcc"):
        keys.append(_scalar(f"frontend.{name}", "int32", ("frontend", name), f"MFCC front end: {name}", lo=1))
    for name in ("fmin", "fmax"):
        keys.append(_scalar(f"frontend.{name}", "float64", ("frontend", name), f"mel band edge {name}, Hz", lo=0.0))
    keys.append(_scalar("frontend.window", "str", ("frontend", "window"), " or ".join(WINDOWS)))
    keys.append(_scalar("frontend.precision", "str", ("frontend", "precision"), " or ".join(PRECISIONS)))
    keys.append(_scalar(CMSIS_BUILD_KEY, "str", ("frontend", "cmsis_build"), " or ".join(CMSIS_BUILDS)
                        + " (optional, default portable): the CMSIS-DSP build whose MFCC arithmetic the "
                        "front end follows (dsp: compiled with ARM_MATH_DSP, as on a Cortex-M4)",
                        optional=True, default="portable"))

    keys.append(_scalar("rnn.units", "int32", ("rnn", "units"), "H", lo=1, hi=MAX_UNITS, cell="rnn"))
    keys += RNN_INPUT_FC.keys(_FC_FIELDS) + RNN_RECURRENT_FC.keys(_FC_FIELDS)
    keys.append(_scalar("rnn.add.output_scale", "float32", ("rnn", "add", "output_scale"), "ADD output scale",
                        positive=True, cell="rnn"))
    keys.append(_scalar("rnn.add.output_zero_point", "int32", ("rnn", "add", "output_zero_point"),
                        "ADD output zero point", lo=-128, hi=127, cell="rnn"))
    for which in ("input1", "input2", "output"):
        keys += _mult_shift(f"rnn.add.{which}_", (("rnn", "add", f"{which}_multiplier"),
                                                  ("rnn", "add", f"{which}_shift")),
                            f"ADD {which} rescale", "rnn", shift_hi=0)
    keys += _mult_shift("rnn.tanh.input_", (("rnn", "tanh", "input_multiplier"), ("rnn", "tanh", "input_shift")),
                        "TANH input rescale to Q4.27", "rnn")
    keys.append(_scalar("rnn.tanh.input_range_radius", "int32", ("rnn", "tanh", "input_range_radius"),
                        "TANH saturation radius", lo=0, cell="rnn"))

    keys.append(_scalar("lstm.units", "int32", ("lstm", "units"), "H", lo=1, hi=MAX_UNITS, cell="lstm"))
    keys += LSTM_INPUT_FC.keys(_LSTM_FC_FIELDS) + LSTM_RECURRENT_FC.keys(_LSTM_FC_FIELDS)
    keys += LSTM_INPUT_FC.keys(("bias",))
    keys.append(_scalar("lstm.hidden.scale", "float32", ("lstm", "hidden_scale"), "hidden state scale s_h",
                        positive=True, cell="lstm"))
    keys.append(_scalar("lstm.hidden.zero_point", "int32", ("lstm", "hidden_zero_point"),
                        "hidden state zero point z_h", lo=-128, hi=127, cell="lstm"))
    keys.append(_scalar("lstm.cell.scale_power", "int32", ("lstm", "cell_scale_power"),
                        "P: cell state scale 2**P", lo=CELL_POWER_MIN, hi=CELL_POWER_MAX, cell="lstm"))
    keys.append(_scalar("lstm.cell_clip", "int32", ("lstm", "cell_clip"),
                        "quantized cell clip q: c = clamp(c, −q, q) after each cell update (TFLM: "
                        "trunc(cell_clip / 2**P)); absent: no clip", lo=1, hi=CELL_CLIP_MAX, cell="lstm",
                        optional=True))
    for name, meaning in (("forget_mul", "f · c → c"), ("input_mul", "i · g → c"),
                          ("output_mul", "o · tanh(c) → h")):
        keys += _mult_shift(f"lstm.{name}.", (("lstm", name, 0), ("lstm", name, 1)), meaning, "lstm")
    keys += HEAD.keys(_FC_FIELDS)
    keys += _graph_keys()
    return tuple(keys)


def _graph_keys():
    """The ``graph.*`` keys of a graph model (fixedrnn.graph's stored form; shape symbols
    :data:`GRAPH_DIMS`)."""
    g = GRAPH_CELL

    def key(name, dtype, shape, meaning, **kw):
        return KeySpec(f"graph.{name}", dtype, shape, ("graph", name),
                       meaning, cell=g, **kw)

    return [
        key("tensor_type", "int32", ("N",), "TFLite TensorType of each tensor (0 float32, 2 int32, 7 int16, 9 int8)",
            lo=0, hi=9),
        key("tensor_rank", "int32", ("N",), "rank of each tensor", lo=0, hi=GRAPH_MAX_RANK),
        key("tensor_shape", "int32", ("N", "R"), "dims of each tensor, zero-padded", lo=0),
        key("scale_start", "int32", ("N1",), "start of each tensor's scales in graph.scales", lo=0),
        key("scales", "float32", ("G",), "tensor scales (per tensor, or per channel of axis 0)", positive=True),
        key("zero_point", "int32", ("N",), "zero point of each tensor", lo=-32768, hi=32767),
        key("data_offset", "int32", ("N",), "byte offset of a constant's data in graph.constants, -1: computed",
            lo=-1),
        key("constants", "uint8", ("B",), "constant tensors' little-endian data, one copy per shared buffer"),
        key("op_code", "int32", ("K",), "TFLite BuiltinOperator of each op", lo=0),
        key("io_start", "int32", ("K1",), "start of each op's tensors in graph.io", lo=0),
        key("input_count", "int32", ("K",), "inputs of each op (its outputs follow them in graph.io)", lo=0),
        key("io", "int32", ("E",), "each op's input then output tensor indices (-1: omitted input)", lo=-1),
        key("param_start", "int32", ("K1",), "start of each op's integers in graph.params", lo=0),
        key("params", "int32", ("Q",), "each op's integers: TFLM's Prepare of its scales (fixedrnn.graph)"),
        key("input", "int32", (), "the graph's input tensor, int8 [1, T, I]", lo=0),
        key("output", "int32", (), "the graph's output tensor, int8 [1, C]", lo=0),
    ]



#: Every key of schema version 1 (``meta.*`` aside), in file order.
KEYS = _build_keys()
SPECS = {spec.name: spec for spec in KEYS}

#: Prefix of the free-form provenance keys (any non-object dtype; never on the device).
META_PREFIX = "meta."


def keys_for(cell, weights, with_optional=False):
    """The :class:`KeySpec` of a ``cell`` / ``weights`` model's file, in file order: the keys every
    such file holds, and with ``with_optional`` the optional ones too."""
    return [spec for spec in KEYS if spec.belongs_to(cell, weights) and (with_optional or not spec.optional)]


def fc_blocks(cell):
    """The fully connected blocks of a ``cell`` model, in order (cell blocks, then the head)."""
    return [block for block in FC_BLOCKS if block.cell in (None, cell)]


def value_at(model, path):
    """The value at ``path`` (attribute names and tuple indices) in ``model``."""
    value = model
    for step in path:
        value = value[step] if isinstance(step, int) else getattr(value, step)
    return value


#: The largest value of each shape symbol in a legal file.
MAX_DIMS = {"I": MAX_FEATURES, "H": MAX_UNITS, "C": MAX_LABELS, "S": max(MAX_UNITS, MAX_LABELS),
            "P": (4 * MAX_UNITS * max(MAX_FEATURES, MAX_UNITS) + 1) // 2, **GRAPH_DIMS}


def max_elements(spec):
    """The most elements a legal file holds in key ``spec`` (its largest legal shape)."""
    return int(np.prod([4 if s == "4" else MAX_DIMS[s] for s in spec.shape], dtype=object))


def max_data_bytes(spec):
    """The most bytes of array data a legal file holds in key ``spec`` (strings of
    :data:`MAX_LABEL_LENGTH` UCS-4 characters)."""
    itemsize = 4 * MAX_LABEL_LENGTH if spec.dtype == "str" else np.dtype(spec.dtype).itemsize
    return max_elements(spec) * itemsize


def dims_of(model):
    """The shape symbols' values of a :class:`fixedrnn.model.Model` (``"S"``/``"P"`` excluded)."""
    return {"I": model.n_features, "H": model.units, "C": len(model.labels)}


def packed_bytes(count):
    """Bytes of ``count`` packed 4-bit codes: ceil(count / 2)."""
    return (int(count) + 1) // 2


def shape_dims(dims, block, scales):
    """``dims`` completed for one block: ``"S"`` = ``scales``, ``"P"`` = its packed weight bytes."""
    full = dict(dims, S=scales)
    full["P"] = packed_bytes(np.prod([4 if s == "4" else full[s] for s in block.out + (block.inp,)]))
    return full
