"""LOGISTIC and TANH int16 by TFLite's 256-entry sigmoid table (the kernels of TFLM's 8x8→16 LSTM).

TFLM's ``reference_integer_ops::Logistic`` / ``Tanh`` on int16 use a 256-entry uint16 table of
sigmoid in 0.16 format with linear interpolation, :func:`sigmoid_table_uint16`. TFLite ships the table as literal numbers under the comment "sigmoid(i/24)
at 0.16 format"; plain ``round(65536·σ(i/24))`` is 1 LSB off in 44 of the 256 entries. The rule that
reproduces every entry is the one TFLite's own int16 LUT generator (``gen_lut`` in
``tensorflow/lite/kernels/internal/common.h``) applies, evaluated exactly with a single final rounding
(``gen_lut`` rounds each term to an integer first, which is off in 58 entries): with ``h = 1/24`` and
``x_i = i·h``, entry i (i = 0 … 254) is the node value minus half the error of the chord at the
segment's midpoint,
``round(65536 · (σ(x_i) − ((σ(x_i) + σ(x_{i+1}))/2 − σ(x_i + h/2)) / 2))``, round half away from zero;
entry 255 is 65535, the saturation value the kernels also use (``0xFFFF``). The tests check every
entry against TFLM's TANH op (each entry is visible exactly in one of its outputs).
Input multipliers/shifts: :func:`int16_activation_params` (a standalone op, TFLM's ``Prepare``) and
:func:`lstm_tanh_shift` (the LSTM's cell tanh). :func:`int16_table` tabulates a function on all
65536 int16 inputs (index ``x + 32768``).

One routine, :func:`lut_s16`, computes both, parametrised by :class:`LutKind`. Definition, int16 ``x``
→ int16 Q0.15: input rescale ``v = (x·m + 2**(s−1)) >> s`` (round half up; ``m = 0`` is the
power-of-two case ``m = 3 << s, s = 0``); ``|v| = 2**step · k + f`` (step 9 for LOGISTIC, 8 for TANH);
``k >= 255`` saturates ``r`` (``0x7FFF << 10`` / ``0xFFFF << 8``), else ``r = (T[k] << step) + f·(T[k+1]
− T[k])``; the result is ``(r − pos + 2**(n−1)) >> n`` for ``v >= 0`` and ``(neg − r + 2**(n−1) − 1)
>> n`` for ``v < 0`` (n = 10 / 8; pos = 0 / 2**23, neg = 2**25 / 2**23: 1 − σ and −tanh by symmetry),
cast to int16 as C does. The prepared params hold it tabulated on all 65536 inputs (index ``x +
32768``), which the kernels look up. C: ``frnn_sigmoid_s16`` / ``frnn_tanh_s16``.
"""

import functools
import math
from typing import NamedTuple

import numpy as np

from fixedrnn.errors import FixedRnnError
from fixedrnn.ops import table
from fixedrnn.ops.requantize import frozen

TABLE_STEP = 1.0 / 24.0  # sigmoid argument between table entries
TABLE_SCALE = 65536.0  # 0.16 format
TABLE_LAST = 65535  # entry 255: sigmoid saturated to the uint16 maximum
INT16_ACTIVATION_KINDS = ("logistic", "tanh")
TABLE_OFFSET = 32768  # the table is indexed by x + 32768


class LutKind(NamedTuple):
    """The constants that make :func:`lut_s16` LOGISTIC or TANH (see the module docstring)."""

    step_bits: int
    out_shift: int
    saturated: int
    positive_offset: int
    negative_offset: int


KINDS = {"logistic": LutKind(9, 10, 0x7FFF << 10, 0, 1 << 25),
         "tanh": LutKind(8, 8, 0xFFFF << 8, 1 << 23, 1 << 23)}


class LutS16Params(NamedTuple):
    """A prepared int16 LOGISTIC / TANH: its ``kind``, ``input_multiplier``, ``input_left_shift``
    and ``table`` int16 ``[65536]`` (the definition on every int16, index ``x + 32768``)."""

    kind: LutKind
    input_multiplier: int
    input_left_shift: int
    table: np.ndarray


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def sigmoid_table_values():
    """The exact (unrounded) values 65536·(σ(x_i) − chord midpoint error / 2), float64 ``[255]``,
    of table entries 0 … 254 (see the module docstring)."""
    x = np.arange(255, dtype=np.float64) * TABLE_STEP
    node, following = _sigmoid(x), _sigmoid(x + TABLE_STEP)
    midpoint_error = (node + following) / 2.0 - _sigmoid(x + TABLE_STEP / 2.0)
    return TABLE_SCALE * (node - midpoint_error / 2.0)


@functools.cache
def _sigmoid_table():
    values = sigmoid_table_values()  # all positive: floor(v + 1/2) rounds half away from zero
    entries = np.empty(256, np.uint16)
    entries[:255] = np.minimum(np.floor(values + 0.5), TABLE_LAST)
    entries[255] = TABLE_LAST
    entries.flags.writeable = False
    return entries


def sigmoid_table_uint16():
    """The 256-entry uint16 sigmoid table (0.16 format) of TFLite's int16 LOGISTIC/TANH (a copy)."""
    return _sigmoid_table().copy()


def checked_log2(value):
    """TFLite's ``CheckedLog2`` in float32: (round(log2 value), whether value is within 10**−3 in
    log2 of that power of two)."""
    v = np.float32(value)
    log2 = np.float32(np.log(v)) * (np.float32(1.0) / np.float32(np.log(np.float32(2.0))))
    rounded = np.float32(math.floor(abs(float(log2)) + 0.5) * (1 if log2 >= 0 else -1))
    return int(rounded), bool(abs(float(np.float32(log2 - rounded))) < 1e-3)


def int16_activation_params(input_scale, kind):
    """(input_multiplier, input_left_shift) TFLM's int16 LOGISTIC / TANH ``Prepare`` derives from
    the float32 input scale (zero points must be 0, output scale 2**−15).

    Power of two: ``shift = 12 + log2(scale)``; if it is 0 (LOGISTIC) or 0 or 1 (TANH) the result is
    ``(0, shift)`` (the kernel then multiplies by ``3 << shift``). Otherwise ``m = scale · 4096 · 3``
    in double, doubled (shift + 1) while ``m <= 32767 / 2`` and ``shift <= 30``, truncated to int.
    """
    if kind not in INT16_ACTIVATION_KINDS:
        raise FixedRnnError(f"kind must be one of {', '.join(INT16_ACTIVATION_KINDS)}, got {kind!r}")
    scale = float(np.float32(input_scale))
    if not (math.isfinite(scale) and scale > 0):
        raise FixedRnnError(f"input_scale must be finite and > 0, got {input_scale!r}")
    log2, is_pot = checked_log2(scale)
    shift = 12 + log2
    if is_pot and (shift == 0 or (kind == "tanh" and shift == 1)):
        return 0, shift
    multiplier = scale * 4096.0 * 3.0
    shift = 0
    while multiplier <= 32767.0 / 2.0 and shift <= 30:
        shift += 1
        multiplier *= 2.0
    if multiplier >= 2.0**31:
        raise FixedRnnError(f"input_scale {scale} is too large for the int16 {kind} kernel")
    return int(multiplier), shift


def lut_s16(x, kind, input_multiplier, input_left_shift):
    """The definition (exact int64 NumPy) on int16 ``x`` → int16 Q0.15; ``kind`` a :class:`LutKind`."""
    if input_multiplier == 0:
        input_multiplier, input_left_shift = 3 << input_left_shift, 0
    rnd = (1 << (input_left_shift - 1)) if input_left_shift > 0 else 0
    v = (np.asarray(x, dtype=np.int64) * input_multiplier + rnd) >> input_left_shift
    a = np.abs(v)
    entries = _sigmoid_table().astype(np.int64)
    uh = a >> kind.step_bits
    idx = np.minimum(uh, 254)
    ua, ub = entries[idx], entries[idx + 1]
    interp = (ua << kind.step_bits) + (a & ((1 << kind.step_bits) - 1)) * (ub - ua)
    r = np.where(uh >= 255, kind.saturated, interp)
    half = 1 << (kind.out_shift - 1)
    result = np.where(v >= 0, r - kind.positive_offset + half, kind.negative_offset - r + half - 1)
    return (result >> kind.out_shift).astype(np.int16)


def logistic_int16(x, input_multiplier=0, input_left_shift=0):
    """TFLite int16 LOGISTIC of int16 ``x`` (the LSTM gates use ``(0, 0)``: Q3.12 input times 3)."""
    return lut_s16(x, KINDS["logistic"], input_multiplier, input_left_shift)


def tanh_int16(x, input_multiplier, input_left_shift):
    """TFLite int16 TANH (tanh(x) = 2σ(2x) − 1) of int16 ``x``."""
    return lut_s16(x, KINDS["tanh"], input_multiplier, input_left_shift)


def lstm_tanh_shift(cell_scale_power):
    """(input_multiplier, input_left_shift) TFLM's LSTM passes to int16 TANH for a 2**P input."""
    shift = 15 + cell_scale_power - 3
    return (3, -shift) if shift < 0 else (0, shift)


def lstm_sigmoid(x):
    """Gate sigmoid of TFLM's LSTM: int16 Q3.12 → int16 Q0.15."""
    return logistic_int16(x, 0, 0)


def lstm_tanh(x, cell_scale_power):
    """TFLM's LSTM tanh of an int16 at scale 2**P (P = −12 for the cell gate) → int16 Q0.15."""
    return tanh_int16(x, *lstm_tanh_shift(cell_scale_power))


def int16_table(func):
    """``func`` evaluated on every int16 (−32768 … 32767) as an int16 array indexed by ``x + 32768``."""
    return np.asarray(func(np.arange(-32768, 32768, dtype=np.int64)), dtype=np.int16)


def prepare(kind, input_multiplier, input_left_shift):
    """:class:`LutS16Params` for ``kind`` "logistic" or "tanh" (the table built here, once)."""
    if kind not in INT16_ACTIVATION_KINDS:
        raise FixedRnnError(f"kind must be one of {', '.join(INT16_ACTIVATION_KINDS)}, got {kind!r}")
    k = KINDS[kind]
    values = int16_table(lambda v: lut_s16(v, k, input_multiplier, input_left_shift))
    return LutS16Params(k, int(input_multiplier), int(input_left_shift), frozen(values, np.int16))


def prepare_lstm(cell_scale_power):
    """(gate sigmoid, gate tanh, cell tanh) :class:`LutS16Params` of TFLM's LSTM (gates Q3.12, the
    cell at 2**cell_scale_power)."""
    return (prepare("logistic", 0, 0), prepare("tanh", *lstm_tanh_shift(-12)),
            prepare("tanh", *lstm_tanh_shift(cell_scale_power)))


def reference(params, x):
    """The definition on int16 ``x`` with prepared ``params`` → int16."""
    return lut_s16(x, params.kind, params.input_multiplier, params.input_left_shift)


def run_numba(params, x):
    """:func:`reference` by the numba table lookup (:func:`fixedrnn.ops.table.lookup_nb` of
    ``params.table`` at ``x + TABLE_OFFSET``, which the fused kernels call)."""
    return table.run_numba(params.table, TABLE_OFFSET, x)
