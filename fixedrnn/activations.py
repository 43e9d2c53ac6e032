"""TFLite's integer activations as TFLM runs them: int8 TANH (gemmlowp), int16 LOGISTIC/TANH (LUT).

int8 TANH (``reference_integer_ops::Tanh``, int8): ``d = x − zero_point``; ``d <= −radius`` → −128,
``d >= radius`` → 127, else ``clamp(RoundingDivideByPOT(gemmlowp.tanh(MBQM(d, m, s) as Q4.27), 24),
−128, 127)``; output scale 1/128, zero point 0. An int8 input has 256 values, so
:func:`tanh_int8_table` tabulates it per model; kernels index the table with ``x + 128``.

int16 LOGISTIC / TANH (``reference_integer_ops::Logistic`` / ``Tanh``, int16, the kernels of TFLM's
8x8→16 LSTM): a 256-entry uint16 table of sigmoid in 0.16 format with linear interpolation,
:func:`sigmoid_table_uint16`. TFLite ships the table as literal numbers under the comment "sigmoid(i/24)
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
"""

import functools
import math

import numpy as np

from fixedrnn import gemmlowp
from fixedrnn.errors import FixedRnnError
from fixedrnn.fixedpoint import multiply_by_quantized_multiplier

TABLE_STEP = 1.0 / 24.0  # sigmoid argument between table entries
TABLE_SCALE = 65536.0  # 0.16 format
TABLE_LAST = 65535  # entry 255: sigmoid saturated to the uint16 maximum
INT16_ACTIVATION_KINDS = ("logistic", "tanh")


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def sigmoid_table_values():
    """The exact (unrounded) values 65536·(σ(x_i) − chord midpoint error / 2), float64 ``[255]``,
    of table entries 0 … 254 (see the module docstring)."""
    x = np.arange(255, dtype=np.float64) * TABLE_STEP
    node, following = _sigmoid(x), _sigmoid(x + TABLE_STEP)
    midpoint_error = (node + following) / 2.0 - _sigmoid(x + TABLE_STEP / 2.0)
    return TABLE_SCALE * (node - midpoint_error / 2.0)


@functools.lru_cache(maxsize=None)
def _sigmoid_table():
    values = sigmoid_table_values()  # all positive: floor(v + 1/2) rounds half away from zero
    table = np.empty(256, np.uint16)
    table[:255] = np.minimum(np.floor(values + 0.5), TABLE_LAST)
    table[255] = TABLE_LAST
    table.flags.writeable = False
    return table


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


def _lut_input(x, input_multiplier, input_left_shift):
    """The int16 LUT kernels' input rescale, int64: ``(x·m + 2**(s−1)) >> s`` (round half up); a
    zero multiplier means ``m = 3 << s, s = 0`` (the power-of-two case)."""
    if input_multiplier == 0:
        input_multiplier, input_left_shift = 3 << input_left_shift, 0
    x = np.asarray(x, dtype=np.int64)
    rnd = (1 << (input_left_shift - 1)) if input_left_shift > 0 else 0
    return (x * input_multiplier + rnd) >> input_left_shift


def logistic_int16(x, input_multiplier=0, input_left_shift=0):
    """TFLite int16 LOGISTIC (LUT) of int16 ``x``; int16 Q0.15 result.

    ``input_multiplier == 0`` is the power-of-two case (multiplier ``3 << input_left_shift``, no
    shift) — the LSTM gates use ``(0, 0)``: Q3.12 input times 3. Otherwise
    ``v = (x·m + 2**(s−1)) >> s`` (round half up; int32 in C, never overflows for m <= 32767).
    ``|v|`` = 512·k + f: ``k >= 255`` saturates to ``0x7FFF << 10``, else
    ``r = (T[k] << 9) + f·(T[k+1] − T[k])``; the result is ``(r + 2**9) >> 10`` for ``v >= 0`` and
    ``(2**25 − r + 2**9 − 1) >> 10`` (i.e. 1 − σ) for ``v < 0``.
    """
    v = _lut_input(x, input_multiplier, input_left_shift)
    a = np.abs(v)
    table = _sigmoid_table().astype(np.int64)
    uh = a >> 9
    idx = np.minimum(uh, 254)
    ua, ub = table[idx], table[idx + 1]
    interp = (ua << 9) + (a & 0x1FF) * (ub - ua)
    result = np.where(uh >= 255, 0x7FFF << 10, interp)
    result = np.where(v >= 0, result + (1 << 9), (1 << 25) - result + (1 << 9) - 1)
    return (result >> 10).astype(np.int16)


def tanh_int16(x, input_multiplier, input_left_shift):
    """TFLite int16 TANH (LUT, tanh(x) = 2σ(2x) − 1) of int16 ``x``; int16 Q0.15 result.

    Input rescale as :func:`logistic_int16`; then ``|v|`` = 256·k + f: ``k >= 255`` saturates to
    ``0xFFFF << 8``, else ``r = (T[k] << 8) + f·(T[k+1] − T[k])``; the result is
    ``(r − 2**23 + 2**7) >> 8`` for ``v >= 0`` and ``(2**23 − r + 2**7 − 1) >> 8`` for ``v < 0``.
    """
    v = _lut_input(x, input_multiplier, input_left_shift)
    a = np.abs(v)
    table = _sigmoid_table().astype(np.int64)
    uh = a >> 8
    idx = np.minimum(uh, 254)
    ua, ub = table[idx], table[idx + 1]
    interp = (ua << 8) + (a & 0xFF) * (ub - ua)
    result = np.where(uh >= 255, 0xFFFF << 8, interp)
    result = np.where(v >= 0, result - (1 << 23) + (1 << 7), -result + (1 << 23) + (1 << 7) - 1)
    return (result >> 8).astype(np.int16)


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


@functools.lru_cache(maxsize=64)
def lstm_tables(cell_scale_power):
    """(sigmoid, gate tanh, cell tanh) int16 tables of 65536 entries, read-only."""
    tables = (int16_table(lstm_sigmoid), int16_table(lambda v: lstm_tanh(v, -12)),
              int16_table(lambda v: lstm_tanh(v, cell_scale_power)))
    for t in tables:
        t.flags.writeable = False
    return tables


def tanh_int8_scalar(x, zero_point, input_multiplier, input_shift, input_range_radius):
    """TFLM int8 TANH of one int8 value (Python ints, gemmlowp arithmetic)."""
    d = int(x) - int(zero_point)
    if d <= -input_range_radius:
        return -128
    if d >= input_range_radius:
        return 127
    q427 = int(multiply_by_quantized_multiplier(d, input_multiplier, input_shift))
    out = gemmlowp.rdbp(gemmlowp.tanh(q427, 4), 24)
    return min(max(out, -128), 127)


@functools.lru_cache(maxsize=256)
def _tanh_int8_table(zero_point, input_multiplier, input_shift, input_range_radius):
    table = np.array([tanh_int8_scalar(v, zero_point, input_multiplier, input_shift,
                                       input_range_radius) for v in range(-128, 128)], np.int8)
    table.flags.writeable = False
    return table


def tanh_int8_table(zero_point, input_multiplier, input_shift, input_range_radius):
    """TFLM int8 TANH of every int8 input, int8 ``[256]`` indexed by ``x + 128`` (read-only)."""
    if not -128 <= zero_point <= 127:
        raise FixedRnnError(f"zero_point must be in [-128, 127], got {zero_point}")
    return _tanh_int8_table(int(zero_point), int(input_multiplier), int(input_shift),
                            int(input_range_radius))


def tanh_int8(x, zero_point, input_multiplier, input_shift, input_range_radius):
    """TFLM int8 TANH of an int8 array (scale 1/128, zero point 0 out)."""
    table = tanh_int8_table(zero_point, input_multiplier, input_shift, input_range_radius)
    return table[np.asarray(x, dtype=np.int64) + 128]

