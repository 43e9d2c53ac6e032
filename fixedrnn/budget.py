"""The memory audit: ``python -m fixedrnn.budget model.npz``.

Counts, item by item, the bytes a C firmware for the model holds: flash (constants) and RAM
(working buffers), against a combined budget (default 36 KiB = 36,864 bytes), and the model's cost
(multiply- or shift-accumulates per frame, parameters), and audits every int32 accumulation for
overflow over all int8 inputs. What is counted and why: docs/budget.md.

Each item is one C array in the generated firmware (issue #7): :func:`flash_items` and
:func:`ram_items` return :class:`MemoryItem` records with the C symbol name, element C type, element
count and bytes; ``nm -S`` on the firmware must show the same size for the same symbol.

Sizes on the command line are plain bytes or a K / KB / KiB (or M / MB / MiB) suffix; the embedded
convention is used throughout: 1 K = 1 KB = 1 KiB = 1024 bytes.

Exit codes: 0 fits, 1 over budget or an accumulator can overflow, 2 unusable input.
"""

import argparse
import json
import math
import re
import sys
from dataclasses import asdict, dataclass, fields

import numpy as np

from fixedrnn.errors import FixedRnnError, InputFileError

#: The default combined (flash + RAM) budget, bytes: 36 KiB.
DEFAULT_BUDGET = 36 * 1024

#: Pipeline RAM layouts a firmware can use (see :func:`ram_items`).
MODES = ("window", "streaming")

#: Prefix of every C symbol the audit names.
SYMBOL_PREFIX = "fr_"

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1

_SIZE_UNITS = {"": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2, "mib": 1024**2}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$")


def parse_size(text, name="size"):
    """Bytes from ``"36864"``, ``"36K"``, ``"36KB"``, ``"36KiB"``, ``"1.5K"`` (case-insensitive).

    K, KB and KiB all mean 1024 bytes, M, MB and MiB 1024**2 (the embedded convention). The result
    must be a whole number of bytes; ``FixedRnnError`` naming ``name`` otherwise.
    """
    match = _SIZE_RE.match(str(text).lower())
    if not match or match.group(2) not in _SIZE_UNITS:
        raise FixedRnnError(
            f"{name}: {text!r} is not a size; give bytes or a K/KB/KiB or M/MB/MiB suffix (1 K = 1024 bytes)"
        )
    number, unit = match.groups()
    if "." in number:
        whole, frac = number.split(".")
        value = (int(whole + frac) * _SIZE_UNITS[unit], 10 ** len(frac))
        if value[0] % value[1]:
            raise FixedRnnError(f"{name}: {text!r} is not a whole number of bytes")
        return value[0] // value[1]
    return int(number) * _SIZE_UNITS[unit]


# --------------------------------------------------------------------------------------------
# Items


#: C element types and their sizes on the target (ARMv7-M, AAPCS: 4-byte pointers).
C_TYPE_BYTES = {
    "int8_t": 1,
    "uint8_t": 1,
    "int16_t": 2,
    "uint16_t": 2,
    "int32_t": 4,
    "uint32_t": 4,
    "q15_t": 2,
    "q31_t": 4,
    # CMSIS-DSP instance structures, non-MVE / non-Neon build (Cortex-M4), AAPCS layout; checked
    # with arm-none-eabi-gcc -mcpu=cortex-m4 on CMSIS-DSP's transform_functions.h: nm -S gives
    # 0x10, 0x18, 0x38.
    "arm_cfft_instance_q15": 16,  # uint16 fftLen (+2 pad), 2 pointers, uint16 bitRevLength (+2 pad)
    "arm_cfft_instance_q31": 16,
    "arm_rfft_instance_q15": 24,  # uint32, 2 x uint8 (+2 pad), uint32, 3 pointers
    "arm_rfft_instance_q31": 24,
    "arm_mfcc_instance_q15": 56,  # 5 pointers, 3 x uint32, arm_rfft_instance (24)
    "arm_mfcc_instance_q31": 56,
}

_NUMPY_C_TYPES = {
    np.dtype(np.int8): "int8_t",
    np.dtype(np.uint8): "uint8_t",
    np.dtype(np.int16): "int16_t",
    np.dtype(np.uint16): "uint16_t",
    np.dtype(np.int32): "int32_t",
    np.dtype(np.uint32): "uint32_t",
}


@dataclass(frozen=True)
class MemoryItem:
    """One C object of the firmware: ``<c_type> <symbol>[<count>]``, ``nbytes`` bytes.

    ``region`` is "flash" (``const``, in .rodata) or "ram" (.bss); ``kind`` groups items in the
    report (weights, bias, requantization, activation table, front-end table, front-end instance,
    audio, front-end scratch, features, state, gate scratch, logits); ``source`` says where the
    contents come from (a model key, a CMSIS-DSP table, or a buffer's role).
    """

    symbol: str
    c_type: str
    count: int
    nbytes: int
    kind: str
    region: str
    source: str = ""
    shape: tuple = ()

    @classmethod
    def of(cls, symbol, c_type, count, kind, region, source="", shape=()):
        """An item of ``count`` elements of ``c_type``; bytes from :data:`C_TYPE_BYTES`."""
        count = int(count)
        return cls(symbol, c_type, count, count * C_TYPE_BYTES[c_type], kind, region, source,
                   tuple(int(s) for s in (shape or (count,))))

    @property
    def is_instance(self):
        """True for a CMSIS-DSP instance structure (one object, not an array)."""
        return self.c_type.startswith("arm_")

    def c_declaration(self):
        """The C declaration the firmware gives this item (without initializer or ';'), e.g.
        ``const int8_t fr_head_weight[160]`` or ``int16_t fr_cell_state[32]``."""
        const = "const " if self.region == "flash" else ""
        extent = "" if self.is_instance else f"[{self.count}]"
        return f"{const}{self.c_type} {self.symbol}{extent}"

    def to_dict(self):
        out = asdict(self)
        out["shape"] = list(self.shape)
        return out

    @classmethod
    def from_dict(cls, data):
        data = dict(data)
        data["shape"] = tuple(data.get("shape", ()))
        return cls(**data)


def symbol_for(key):
    """The C symbol of a model key: ``fr_`` + key with every non-identifier character as ``_``
    (``lstm.w_input.pot`` → ``fr_lstm_w_input_pot``)."""
    return SYMBOL_PREFIX + re.sub(r"[^0-9A-Za-z_]", "_", key)


# ---- CMSIS-DSP transform tables, length-specific -------------------------------------------


def _check_fft_length(n, lo=32, hi=8192):
    if not (isinstance(n, (int, np.integer)) and lo <= n <= hi and n & (n - 1) == 0):
        raise FixedRnnError(f"fft_length must be a power of two in {lo}..{hi}, got {n!r}")
    return int(n)


def cfft_twiddle_count(length):
    """Elements of CMSIS-DSP's ``twiddleCoef_<L>_q15/_q31`` for a complex FFT of ``length``:
    3L/4 complex values (cos, sin interleaved), i.e. 3L/2 numbers."""
    return 3 * int(length) // 2


def bitrev_table_length(length):
    """Entries of CMSIS-DSP's ``armBitRevIndexTable_fixed_<L>`` (uint16): two per swapped pair of
    the bit-reversal permutation, L − 2**ceil(log2(L)/2) (the palindromic indices stay put)."""
    bits = int(length).bit_length() - 1
    return int(length) - 2 ** ((bits + 1) // 2)


def rfft_coef_count(fft_length):
    """Elements of each real-FFT split table (``realCoefA``/``realCoefB``) a length-N real FFT
    uses with a twiddle modifier of 1: N/2 complex values, N numbers. (CMSIS-DSP ships one
    8192-element table per type for all lengths, read with stride 8192/N; a firmware built for
    one length stores only these N.)"""
    return int(fft_length)


#: Entries of CMSIS-DSP's ``sqrt_initial_lut_q31`` (the Newton start values of ``arm_sqrt_q31``,
#: which the MFCC magnitude uses in both precisions).
SQRT_LUT_ENTRIES = 32


def mfcc_scratch_count(fft_length, precision):
    """Elements of the ``pTmp`` buffer ``arm_mfcc_q15``/``_q31`` needs (RFFT build): the real FFT's
    output, 2N numbers of the precision; declared ``q31_t`` as the API does, so N (q15) or 2N (q31)."""
    return int(fft_length) if precision == "q15" else 2 * int(fft_length)


@dataclass(frozen=True)
class FrontendShape:
    """What sizes the front end's constants and buffers: from the model's ``frontend.*`` keys and
    the table lengths of :func:`fixedrnn.mfcc.make_tables` (``filter_coef_count`` = sum of the mel
    filter lengths)."""

    precision: str
    fft_length: int
    n_mels: int
    n_mfcc: int
    filter_coef_count: int


def frontend_flash_items(shape):
    """Flash items of the MFCC front end (CMSIS-DSP ``arm_mfcc_<precision>``, RFFT build)."""
    q = shape.precision
    qt = f"{q}_t"
    n = _check_fft_length(shape.fft_length)
    half = n // 2  # the real FFT of N runs a complex FFT of N/2
    flash = "flash"
    return [
        MemoryItem.of(f"{SYMBOL_PREFIX}mfcc_window", qt, n, "front-end table", flash, "window, fft_length"),
        MemoryItem.of(f"{SYMBOL_PREFIX}mfcc_filter_pos", "uint32_t", shape.n_mels, "front-end table", flash,
                      "mel filter first bins"),
        MemoryItem.of(f"{SYMBOL_PREFIX}mfcc_filter_lengths", "uint32_t", shape.n_mels, "front-end table", flash,
                      "mel filter lengths"),
        MemoryItem.of(f"{SYMBOL_PREFIX}mfcc_filter_coefs", qt, shape.filter_coef_count, "front-end table", flash,
                      "mel filter coefficients, packed"),
        MemoryItem.of(f"{SYMBOL_PREFIX}mfcc_dct", qt, shape.n_mfcc * shape.n_mels, "front-end table", flash,
                      "DCT-II matrix [n_mfcc, n_mels]", (shape.n_mfcc, shape.n_mels)),
        MemoryItem.of(f"{SYMBOL_PREFIX}rfft_coef_a", qt, rfft_coef_count(n), "front-end table", flash,
                      f"realCoefA{q.upper()} for N={n} (stride 1)"),
        MemoryItem.of(f"{SYMBOL_PREFIX}rfft_coef_b", qt, rfft_coef_count(n), "front-end table", flash,
                      f"realCoefB{q.upper()} for N={n} (stride 1)"),
        MemoryItem.of(f"{SYMBOL_PREFIX}cfft_twiddle", qt, cfft_twiddle_count(half), "front-end table", flash,
                      f"twiddleCoef_{half}_{q}"),
        MemoryItem.of(f"{SYMBOL_PREFIX}cfft_bitrev", "uint16_t", bitrev_table_length(half), "front-end table",
                      flash, f"armBitRevIndexTable_fixed_{half}"),
        MemoryItem.of(f"{SYMBOL_PREFIX}sqrt_lut", "q31_t", SQRT_LUT_ENTRIES, "front-end table", flash,
                      "sqrt_initial_lut_q31: start values of arm_sqrt_q31 (magnitudes, both precisions)"),
        MemoryItem.of(f"{SYMBOL_PREFIX}cfft_instance", f"arm_cfft_instance_{q}", 1, "front-end instance", flash,
                      f"complex FFT of {half}"),
        MemoryItem.of(f"{SYMBOL_PREFIX}mfcc_instance", f"arm_mfcc_instance_{q}", 1, "front-end instance", flash,
                      "MFCC instance with its RFFT instance"),
    ]


def frontend_ram_items(shape):
    """RAM items of the front end: the sliding audio frame, the copy ``arm_mfcc`` overwrites, its
    scratch, its output."""
    q = shape.precision
    qt = f"{q}_t"
    n = _check_fft_length(shape.fft_length)
    return [
        MemoryItem.of(f"{SYMBOL_PREFIX}audio_frame", "int16_t", n, "audio", "ram",
                      "last fft_length PCM samples (slides by hop)"),
        MemoryItem.of(f"{SYMBOL_PREFIX}audio_count", "uint32_t", 1, "audio", "ram",
                      "PCM samples pushed since init (framing position)"),
        MemoryItem.of(f"{SYMBOL_PREFIX}mfcc_input", qt, n, "front-end scratch", "ram",
                      "frame handed to arm_mfcc (overwritten in place)"),
        MemoryItem.of(f"{SYMBOL_PREFIX}mfcc_tmp", "q31_t", mfcc_scratch_count(n, q), "front-end scratch", "ram",
                      "arm_mfcc pTmp: FFT output, then mel energies"),
        MemoryItem.of(f"{SYMBOL_PREFIX}mfcc_out", qt, shape.n_mfcc, "front-end scratch", "ram",
                      "MFCC of one frame"),
    ]


# ---- the model's items ----------------------------------------------------------------------

#: Gate order of the LSTM tensors' leading axis (docs/model-format.md).
LSTM_GATES = ("i", "f", "g", "o")

#: Entries of TFLite's int16 sigmoid table (``sigmoid_table_uint16``) the LSTM's sigmoid16 and
#: tanh16 read (index up to 255, interpolating between entries uh and uh + 1).
SIGMOID_TABLE_ENTRIES = 256

#: Constants exp(-2**k), k = -2..4, of gemmlowp's ``exp_on_negative_values`` (its barrel shifter),
#: which the RNN's int8 TANH (gemmlowp ``tanh``) multiplies by; the firmware keeps them as a table.
TANH_EXP_MULTIPLIERS = 7


def _arrays(model):
    """The model's flat ``{key: ndarray}`` mapping (a loaded model or a mapping of arrays)."""
    if isinstance(model, dict):
        return model
    for name in ("arrays", "to_arrays", "as_arrays"):
        value = getattr(model, name, None)
        if value is not None:
            value = value() if callable(value) else value
            return dict(value)
    raise FixedRnnError(f"cannot read the arrays of a {type(model).__name__}")


def _text(arrays, key):
    return str(np.asarray(arrays[key]).item())


def _int(arrays, key):
    return int(np.asarray(arrays[key]).item())


def _kind_of_key(key):
    last = key.rsplit(".", 1)[-1]
    if key.startswith("input."):
        return "input requant"
    if last in ("weight", "pot"):
        return "weights"
    if last == "bias":
        return "bias"
    if "multiplier" in last or "shift" in last:
        return "requantization"
    return "model constant"


def _weight_key(arrays, block):
    """``<block>.pot`` for power-of-two models, else ``<block>.weight``."""
    return f"{block}.pot" if f"{block}.pot" in arrays else f"{block}.weight"


def model_flash_items(model, mode="window"):
    """Flash items of the model: every integer array of the model file (ndim ≥ 1) in file order:
    weights as stored (int8, or packed 4-bit codes: ceil(N/2) bytes per tensor), int32 biases,
    per-tensor/per-channel multipliers and shifts, the input normalization; plus the activation
    constants (LSTM: the int16 sigmoid table; RNN: gemmlowp's seven exp multipliers of its int8
    TANH), and in ``window`` mode the feature vector of a silent frame (the left padding).

    0-d integers (zero points, ADD/TANH/LSTM scalars) are compile-time constants in the code, not
    data objects; float32 scales, labels and ``meta.*`` do not go to the device.
    """
    arrays = _arrays(model)
    _check_mode(mode)
    items = []
    for key, value in arrays.items():
        arr = np.asarray(value)
        if key.startswith(("meta.", "frontend.", "sequence.")) or arr.ndim == 0:
            continue
        if arr.dtype not in _NUMPY_C_TYPES:
            continue  # float scales, strings
        items.append(MemoryItem.of(symbol_for(key), _NUMPY_C_TYPES[arr.dtype], arr.size, _kind_of_key(key),
                                   "flash", key, arr.shape))
    if _text(arrays, "cell") == "lstm":
        items.append(MemoryItem.of(f"{SYMBOL_PREFIX}sigmoid_table", "uint16_t", SIGMOID_TABLE_ENTRIES,
                                   "activation table", "flash", "TFLite sigmoid_table_uint16 (sigmoid16, tanh16)"))
    else:
        items.append(MemoryItem.of(f"{SYMBOL_PREFIX}tanh_exp_multipliers", "int32_t", TANH_EXP_MULTIPLIERS,
                                   "activation table", "flash",
                                   "gemmlowp exp_on_negative_values: exp(-2^k) in Q0.31, k = -2..4 (int8 TANH)"))
    if mode == "window":
        items.append(MemoryItem.of(f"{SYMBOL_PREFIX}silence_features", "int8_t", _int(arrays, "frontend.n_mfcc"),
                                   "model constant", "flash", "int8 features of an all-zero frame (left padding)"))
    return items


def frontend_shape(model):
    """The :class:`FrontendShape` of a model, with the mel filter lengths of the front end's
    ``make_tables`` for its ``frontend.*`` configuration."""
    arrays = _arrays(model)
    precision = _text(arrays, "frontend.precision")
    tables = _frontend_tables(arrays).arrays(precision)
    return FrontendShape(
        precision=precision,
        fft_length=_int(arrays, "frontend.fft_length"),
        n_mels=int(tables["filter_pos"].size),
        n_mfcc=_int(arrays, "frontend.n_mfcc"),
        filter_coef_count=int(tables["filter_coefs"].size),
    )


def _mfcc_api():
    """``(MfccConfig, make_tables)`` of the front end package."""
    try:
        from fixedrnn.frontend import MfccConfig, make_tables
    except ImportError:
        try:
            from fixedrnn.frontend.config import MfccConfig
            from fixedrnn.frontend.tables import make_tables
        except ImportError:
            from fixedrnn.mfcc import MfccConfig, make_tables
    return MfccConfig, make_tables


def _frontend_tables(arrays):
    config_class, make_tables = _mfcc_api()
    values = {}
    for f in fields(config_class):
        key = f"frontend.{f.name}"
        if key in arrays:
            value = np.asarray(arrays[key]).item()
            values[f.name] = value
    return make_tables(config_class(**values))


def _check_mode(mode):
    if mode not in MODES:
        raise FixedRnnError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")


def model_ram_items(model, mode="window"):
    """RAM items of the model: the int8 features it reads (``window``: the last T vectors, [T, I];
    ``streaming``: one vector, [I]), the hidden state (int8 [H]), for the LSTM the cell state (int16
    [H]) and TFLM's four int16 gate buffers ([4, H]), for the RNN the two FC outputs (int8 [2, H];
    ADD writes in place into the first, TANH into the hidden state), and the int8 logits [C]."""
    arrays = _arrays(model)
    _check_mode(mode)
    cell = _text(arrays, "cell")
    units = _int(arrays, f"{cell}.units")
    n_in = _int(arrays, "frontend.n_mfcc")
    frames = _int(arrays, "sequence.frames")
    n_classes = int(np.asarray(arrays["labels"]).size)
    if mode == "window":
        features = MemoryItem.of(f"{SYMBOL_PREFIX}features", "int8_t", frames * n_in, "features", "ram",
                                 "int8 feature window [T, I] (ring of the last T frames)", (frames, n_in))
    else:
        features = MemoryItem.of(f"{SYMBOL_PREFIX}features", "int8_t", n_in, "features", "ram",
                                 "int8 feature vector of the current frame [I]")
    items = [features, MemoryItem.of(f"{SYMBOL_PREFIX}hidden", "int8_t", units, "state", "ram", "hidden state h [H]")]
    if cell == "lstm":
        items += [
            MemoryItem.of(f"{SYMBOL_PREFIX}cell_state", "int16_t", units, "state", "ram", "cell state c [H], scale 2^P"),
            MemoryItem.of(f"{SYMBOL_PREFIX}gate_scratch", "int16_t", 4 * units, "gate scratch", "ram",
                          "TFLM LSTM buffers 0-3, int16 [4, H]", (4, units)),
        ]
    else:
        items.append(MemoryItem.of(f"{SYMBOL_PREFIX}gate_scratch", "int8_t", 2 * units, "gate scratch", "ram",
                                   "input FC output (then ADD output) and recurrent FC output, int8 [2, H]",
                                   (2, units)))
    items.append(MemoryItem.of(f"{SYMBOL_PREFIX}logits", "int8_t", n_classes, "logits", "ram", "head output [C]"))
    return items


def flash_items(model, mode="window"):
    """Every flash item of the firmware for ``model``: the model's then the front end's."""
    return model_flash_items(model, mode) + frontend_flash_items(frontend_shape(model))


def ram_items(model, mode="window"):
    """Every RAM item of the firmware for ``model`` in ``mode`` ("window" or "streaming"). All are
    static buffers, so the RAM total is their sum (the peak: nothing is allocated at run time)."""
    return frontend_ram_items(frontend_shape(model)) + model_ram_items(model, mode)


# --------------------------------------------------------------------------------------------
# Overflow audit


@dataclass(frozen=True)
class Accumulation:
    """One int32 accumulation per output row, as TFLite Micro's fully connected kernel does it:
    ``acc[i] = sum_j w[i, j] * (x[j] - input_zero_point)``, then ``acc[i] += bias[i]``.

    ``weights`` are int8 values ``[out, in]`` (power-of-two codes decoded: a shift by 7 − m is the
    product by 2**(7 − m)); ``bias`` is int32 ``[out]`` or None; x ranges over all of int8.
    """

    name: str
    weights: np.ndarray
    bias: object
    input_zero_point: int


@dataclass(frozen=True)
class OverflowCheck:
    """Worst case of one accumulation over all int8 inputs (exact integers).

    ``low``/``high`` bound the accumulator at every point of the sum (the products' sum, and the
    sum plus bias); ``row`` is the output row reaching the larger magnitude; ``ok`` says both stay
    within int32 [-2**31, 2**31 - 1]; ``headroom_bits`` = 31 − log2(max |bound|) (negative: overflow).
    """

    name: str
    rows: int
    inputs: int
    low: int
    high: int
    row: int
    ok: bool
    headroom_bits: float

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(**data)


def check_accumulation(acc):
    """The :class:`OverflowCheck` of one :class:`Accumulation` (exact: int64 with a bound check)."""
    w = np.asarray(acc.weights).astype(np.int64)
    if w.ndim != 2:
        raise FixedRnnError(f"{acc.name}: weights must be [out, in], got shape {w.shape}")
    zp = int(acc.input_zero_point)
    # per element, x - zp lies in [lo_x, hi_x]; lo_x <= 0 <= hi_x for any int8 zero point
    lo_x, hi_x = -128 - zp, 127 - zp
    if w.shape[1] * 128 * 256 >= 2**62:
        raise FixedRnnError(f"{acc.name}: {w.shape[1]} inputs is too many to audit")
    # every product's extremes straddle 0, so the running sum's extremes are the full sums
    prod_hi = np.where(w > 0, w * hi_x, w * lo_x).sum(axis=1)
    prod_lo = np.where(w > 0, w * lo_x, w * hi_x).sum(axis=1)
    if acc.bias is None:
        bias = np.zeros(w.shape[0], dtype=np.int64)
    else:
        bias = np.asarray(acc.bias).astype(np.int64).reshape(-1)
        if bias.shape[0] != w.shape[0]:
            raise FixedRnnError(f"{acc.name}: bias has {bias.shape[0]} entries for {w.shape[0]} rows")
    high_rows = np.maximum(prod_hi, prod_hi + bias)
    low_rows = np.minimum(prod_lo, prod_lo + bias)
    magnitude = np.maximum(high_rows, -low_rows)
    row = int(np.argmax(magnitude)) if magnitude.size else 0
    high = int(high_rows.max()) if high_rows.size else 0
    low = int(low_rows.min()) if low_rows.size else 0
    peak = max(high, -low)
    ok = low >= INT32_MIN and high <= INT32_MAX
    headroom = 31.0 - math.log2(peak) if peak > 0 else 31.0
    return OverflowCheck(acc.name, int(w.shape[0]), int(w.shape[1]), low, high, row, bool(ok), round(headroom, 3))


def _weight_values(arrays, block, shape):
    """int8 weight values of ``block`` with ``shape`` (power-of-two codes decoded)."""
    key = _weight_key(arrays, block)
    if key.endswith(".pot"):
        from fixedrnn.quant import pot_decode, pot_unpack

        count = int(np.prod(shape))
        return pot_decode(pot_unpack(arrays[key], count)).reshape(shape)
    return np.asarray(arrays[key]).reshape(shape)


def _fc_blocks(arrays):
    """The model's fully connected blocks as (name, weights [..., out, in], bias or None, input zero point)."""
    cell = _text(arrays, "cell")
    units = _int(arrays, f"{cell}.units")
    n_in = _int(arrays, "frontend.n_mfcc")
    n_classes = int(np.asarray(arrays["labels"]).size)
    z_x = _int(arrays, "input.zero_point")
    blocks = []
    if cell == "lstm":
        z_h = _int(arrays, "lstm.hidden.zero_point")
        blocks.append(("lstm.input_fc", _weight_values(arrays, "lstm.input_fc", (4, units, n_in)),
                       np.asarray(arrays["lstm.input_fc.bias"]).reshape(4, units), z_x))
        blocks.append(("lstm.recurrent_fc", _weight_values(arrays, "lstm.recurrent_fc", (4, units, units)), None, z_h))
    else:
        z_h = 0  # int8 TANH output: scale 1/128, zero point 0
        blocks.append(("rnn.input_fc", _weight_values(arrays, "rnn.input_fc", (units, n_in)),
                       np.asarray(arrays["rnn.input_fc.bias"]), z_x))
        blocks.append(("rnn.recurrent_fc", _weight_values(arrays, "rnn.recurrent_fc", (units, units)), None, z_h))
    blocks.append(("head", _weight_values(arrays, "head", (n_classes, units)), np.asarray(arrays["head.bias"]), z_h))
    return blocks


def accumulations(model):
    """Every int32 accumulation of the model: the FCs of the cell (per gate for the LSTM, named
    ``lstm.input_fc[f]`` etc.) and the head."""
    out = []
    for name, weights, bias, zero_point in _fc_blocks(_arrays(model)):
        if weights.ndim == 3:  # LSTM: one accumulation per gate
            for k, gate in enumerate(LSTM_GATES):
                out.append(Accumulation(f"{name}[{gate}]", weights[k], None if bias is None else bias[k], zero_point))
        else:
            out.append(Accumulation(name, weights, bias, zero_point))
    return out


def overflow_audit(model):
    """:func:`check_accumulation` of every accumulation of the model."""
    return [check_accumulation(acc) for acc in accumulations(model)]


# --------------------------------------------------------------------------------------------
# Cost


@dataclass(frozen=True)
class Cost:
    """Arithmetic of the model (front end not included).

    ``*_per_frame``: one cell step (one hop of audio). ``head_*``: the dense head, once per
    inference. ``per_inference`` = ``frames`` × per frame + head; ``per_second`` = ``frames_per_second``
    (sample_rate / hop) × per frame. Multiply-accumulates are int8 × int8 products; shift-accumulates
    are power-of-two weights applied as shifts. ``parameters`` counts weights and biases.
    """

    macs_per_frame: int
    shift_accs_per_frame: int
    head_macs: int
    head_shift_accs: int
    frames: int
    frames_per_second: float
    parameters: int

    @property
    def per_frame(self):
        return self.macs_per_frame + self.shift_accs_per_frame

    @property
    def per_inference(self):
        return self.frames * self.per_frame + self.head_macs + self.head_shift_accs

    @property
    def per_second(self):
        return self.frames_per_second * self.per_frame

    def to_dict(self):
        out = asdict(self)
        out.update(per_frame=self.per_frame, per_inference=self.per_inference, per_second=self.per_second)
        return out

    @classmethod
    def from_dict(cls, data):
        return cls(**{f.name: data[f.name] for f in fields(cls)})


def model_cost(model):
    """The :class:`Cost` of a model: products per weight element (a zero power-of-two code still
    takes its slot in the shift-and-add loop); element-wise ops (ADD, TANH, gates) not counted."""
    arrays = _arrays(model)
    cell_macs = cell_shifts = head_macs = head_shifts = 0
    parameters = 0
    for name, weights, bias, _ in _fc_blocks(arrays):
        n = int(weights.size)
        pot = _weight_key(arrays, name).endswith(".pot")
        parameters += n + (0 if bias is None else int(np.asarray(bias).size))
        if name == "head":
            head_macs, head_shifts = (0, n) if pot else (n, 0)
        elif pot:
            cell_shifts += n
        else:
            cell_macs += n
    return Cost(
        macs_per_frame=cell_macs,
        shift_accs_per_frame=cell_shifts,
        head_macs=head_macs,
        head_shift_accs=head_shifts,
        frames=_int(arrays, "sequence.frames"),
        frames_per_second=_int(arrays, "frontend.sample_rate") / _int(arrays, "frontend.hop"),
        parameters=parameters,
    )


# --------------------------------------------------------------------------------------------
# The report


@dataclass(frozen=True)
class Limits:
    """Budgets in bytes: ``total`` for flash + RAM; ``flash`` / ``ram`` (None: no separate limit)."""

    total: int = DEFAULT_BUDGET
    flash: object = None
    ram: object = None


@dataclass(frozen=True)
class BudgetReport:
    """Everything ``python -m fixedrnn.budget`` prints (``--json`` is :meth:`to_dict`)."""

    model: str
    cell: str
    weights: str
    precision: str
    mode: str
    flash: list
    ram: list
    limits: Limits
    cost: Cost
    overflow: list

    @property
    def flash_total(self):
        return sum(item.nbytes for item in self.flash)

    @property
    def ram_total(self):
        return sum(item.nbytes for item in self.ram)

    @property
    def total(self):
        return self.flash_total + self.ram_total

    @property
    def margin(self):
        """Bytes left under the combined budget (negative: overshoot)."""
        return self.limits.total - self.total

    @property
    def over_budget(self):
        """Names of the budgets exceeded: "total", "flash", "ram"."""
        over = []
        if self.total > self.limits.total:
            over.append("total")
        if self.limits.flash is not None and self.flash_total > self.limits.flash:
            over.append("flash")
        if self.limits.ram is not None and self.ram_total > self.limits.ram:
            over.append("ram")
        return over

    @property
    def overflow_ok(self):
        return all(check.ok for check in self.overflow)

    @property
    def fits(self):
        return not self.over_budget and self.overflow_ok

    @property
    def exit_code(self):
        return 0 if self.fits else 1

    def to_dict(self):
        return {
            "model": self.model,
            "cell": self.cell,
            "weights": self.weights,
            "precision": self.precision,
            "mode": self.mode,
            "flash": {"items": [item.to_dict() for item in self.flash], "total": self.flash_total},
            "ram": {"items": [item.to_dict() for item in self.ram], "total": self.ram_total},
            "total": self.total,
            "budget": asdict(self.limits),
            "margin": self.margin,
            "over_budget": self.over_budget,
            "cost": self.cost.to_dict(),
            "overflow": {"ok": self.overflow_ok, "accumulations": [c.to_dict() for c in self.overflow]},
            "fits": self.fits,
            "exit_code": self.exit_code,
        }

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict` (derived figures are recomputed, not read)."""
        return cls(
            model=data["model"],
            cell=data["cell"],
            weights=data["weights"],
            precision=data["precision"],
            mode=data["mode"],
            flash=[MemoryItem.from_dict(d) for d in data["flash"]["items"]],
            ram=[MemoryItem.from_dict(d) for d in data["ram"]["items"]],
            limits=Limits(**data["budget"]),
            cost=Cost.from_dict(data["cost"]),
            overflow=[OverflowCheck.from_dict(d) for d in data["overflow"]["accumulations"]],
        )


def audit(model, mode="window", limits=Limits(), name="model"):
    """The :class:`BudgetReport` of a loaded model (or a mapping of its arrays)."""
    arrays = _arrays(model)
    return BudgetReport(
        model=str(name),
        cell=_text(arrays, "cell"),
        weights=_text(arrays, "weights"),
        precision=_text(arrays, "frontend.precision"),
        mode=mode,
        flash=flash_items(arrays, mode),
        ram=ram_items(arrays, mode),
        limits=limits,
        cost=model_cost(arrays),
        overflow=overflow_audit(arrays),
    )


def audit_file(path, mode="window", limits=Limits()):
    """:func:`audit` of the model file at ``path`` (loaded and validated by :func:`fixedrnn.model.load`)."""
    from fixedrnn import model as model_file

    loaded = model_file.load(path)
    try:
        return audit(loaded, mode=mode, limits=limits, name=path)
    except InputFileError:
        raise
    except FixedRnnError as exc:  # e.g. a front-end configuration the tables cannot be made for
        raise InputFileError(path, str(exc)) from None


def _kib(nbytes):
    return f"{nbytes / 1024:.2f} KiB"


def format_report(report):
    """The human-readable table."""
    lines = [
        f"model {report.model}: {report.cell} cell, {report.weights} weights, MFCC {report.precision}, "
        f"{report.mode} mode",
        "",
    ]
    width = max([len(i.symbol) for i in report.flash + report.ram] + [24])
    header = f"  {'item':<{width}}  {'kind':<18}  {'C type':<22}  {'count':>7}  {'bytes':>7}"
    for title, items, total in (
        ("FLASH (constants)", report.flash, report.flash_total),
        ("RAM (working buffers)", report.ram, report.ram_total),
    ):
        lines += [title, header]
        for item in items:
            lines.append(
                f"  {item.symbol:<{width}}  {item.kind:<18}  {item.c_type:<22}  {item.count:>7}  {item.nbytes:>7}"
            )
        lines += [f"  {title.split()[0].lower() + ' total':<{width}}  {'':<18}  {'':<22}  {'':>7}  {total:>7}"
                  f"  ({_kib(total)})", ""]
    limits = report.limits
    lines.append(f"flash {report.flash_total} + RAM {report.ram_total} = {report.total} bytes ({_kib(report.total)})")
    verdict_total = (
        f"margin {report.margin} bytes" if report.margin >= 0 else f"OVER by {-report.margin} bytes"
    )
    lines.append(f"budget {limits.total} bytes ({_kib(limits.total)}): {verdict_total}")
    for name, limit, used in (("flash", limits.flash, report.flash_total), ("ram", limits.ram, report.ram_total)):
        if limit is not None:
            left = limit - used
            lines.append(f"{name} budget {limit} bytes: " + (f"margin {left} bytes" if left >= 0 else f"OVER by {-left} bytes"))
    cost = report.cost
    lines += [
        "",
        "cost (model only, front end excluded)",
        f"  per frame (one cell step): {cost.macs_per_frame} multiply-accumulates, "
        f"{cost.shift_accs_per_frame} shift-accumulates",
        f"  head (once per inference): {cost.head_macs} multiply-accumulates, {cost.head_shift_accs} shift-accumulates",
        f"  per inference ({cost.frames} frames + head): {cost.per_inference} accumulates",
        f"  per second of audio ({cost.frames_per_second:g} frames/s): {cost.per_second:.0f} accumulates",
        f"  parameters (weights + biases): {cost.parameters}",
        "",
        "overflow audit (int32 accumulators, worst case over all int8 inputs)",
        f"  {'accumulation':<{width}}  {'rows x in':>11}  {'worst low':>14}  {'worst high':>14}  {'headroom':>9}",
    ]
    for check in report.overflow:
        status = "ok" if check.ok else f"OVERFLOW (row {check.row})"
        lines.append(
            f"  {check.name:<{width}}  {f'{check.rows}x{check.inputs}':>11}  {check.low:>14}  {check.high:>14}  "
            f"{check.headroom_bits:>7.2f} b  {status}"
        )
    lines.append(f"  int32 range [{INT32_MIN}, {INT32_MAX}]")
    lines.append("")
    problems = [f"over the {name} budget" for name in report.over_budget]
    if not report.overflow_ok:
        problems.append("an accumulator can overflow")
    lines.append("verdict: FITS" if not problems else "verdict: FAILS: " + "; ".join(problems))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Command line

_SIZE_HELP = "plain bytes or a K/KB/KiB suffix; 1 K = 1 KB = 1 KiB = 1024 bytes (M likewise)"


def _configure(parser):
    parser.add_argument("model", help="model file (.npz, docs/model-format.md)")
    parser.add_argument(
        "--mode", choices=MODES, default="window",
        help="RAM layout: 'window' buffers the T int8 feature vectors the model reads and runs the "
             "cell over them per inference (bit-exact with the reference; default); 'streaming' keeps "
             "one feature vector and steps the cell once per hop",
    )
    parser.add_argument("--budget", default=str(DEFAULT_BUDGET), metavar="SIZE",
                        help=f"combined flash + RAM budget (default {DEFAULT_BUDGET} = 36 KiB); {_SIZE_HELP}")
    parser.add_argument("--flash", default=None, metavar="SIZE", help=f"separate flash limit; {_SIZE_HELP}")
    parser.add_argument("--ram", default=None, metavar="SIZE", help=f"separate RAM limit; {_SIZE_HELP}")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    parser.set_defaults(func=run_budget)
    return parser


def build_parser(prog="python -m fixedrnn.budget"):
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Memory audit of a model: flash and RAM item by item against a budget, the model's "
                    "cost, and an int32 overflow audit. Exit codes: 0 fits, 1 over budget or overflow "
                    "possible, 2 unusable input.",
    )
    return _configure(parser)


def add_parser(subparsers):
    """The ``budget`` subcommand of ``python -m fixedrnn``."""
    return _configure(subparsers.add_parser("budget", help="memory audit against the 36 KiB budget"))


def run_budget(args):
    """Run the audit for parsed arguments; print; return the exit code (0 fits, 1 fails)."""
    limits = Limits(
        total=parse_size(args.budget, "--budget"),
        flash=None if args.flash is None else parse_size(args.flash, "--flash"),
        ram=None if args.ram is None else parse_size(args.ram, "--ram"),
    )
    report = audit_file(args.model, mode=args.mode, limits=limits)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(format_report(report))
    return report.exit_code


def main(argv=None):
    from fixedrnn.cli import run

    args = build_parser().parse_args(argv)
    return run(args.func, args, prog="fixedrnn.budget")


if __name__ == "__main__":
    sys.exit(main())
