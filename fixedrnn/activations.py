"""TFLite's integer activations as TFLM runs them: int8 TANH (gemmlowp), int16 LOGISTIC/TANH (LUT).

int8 TANH (``reference_integer_ops::Tanh``, int8): ``d = x − zero_point``; ``d <= −radius`` → −128,
``d >= radius`` → 127, else ``clamp(RoundingDivideByPOT(gemmlowp.tanh(MBQM(d, m, s) as Q4.27), 24),
−128, 127)``; output scale 1/128, zero point 0. An int8 input has 256 values, so
:func:`tanh_int8_table` tabulates it per model; kernels index the table with ``x + 128``.

int16 LOGISTIC / TANH (``reference_integer_ops::Logistic`` / ``Tanh``, int16, the kernels of TFLM's
8x8→16 LSTM): a 256-entry uint16 table of sigmoid with linear interpolation,
:func:`sigmoid_table_uint16`, generated from its definition: entry k (k = 0 … 254) is
``round(65536 · (σ(k/24) + e_k / 2))`` where ``e_k`` is the mean of the two chord deficits
``σ(k/24 ± 1/48) − (σ(k/24) + σ((k ± 1)/24)) / 2`` (half the interpolation error of the adjacent
segments moved into the node), and entry 255 is 65535 (σ saturated to the uint16 maximum).
Input Q3.12 (scale 2**−12) is multiplied by 3 (the table spans [0, 32/3)); outputs are Q0.15.
:func:`int16_table` tabulates a function on all 65536 int16 inputs (index ``x + 32768``).
"""

import functools

import numpy as np

from fixedrnn import gemmlowp
from fixedrnn.errors import FixedRnnError
from fixedrnn.fixedpoint import multiply_by_quantized_multiplier

TABLE_STEP = 1.0 / 24.0  # sigmoid argument between table entries


@functools.lru_cache(maxsize=None)
def _sigmoid_table():
    k = np.arange(256, dtype=np.float64)
    x = k * TABLE_STEP
    h = TABLE_STEP

    def sigmoid(v):
        return 1.0 / (1.0 + np.exp(-v))

    chord_right = sigmoid(x + h / 2) - (sigmoid(x) + sigmoid(x + h)) / 2
    chord_left = sigmoid(x - h / 2) - (sigmoid(x) + sigmoid(x - h)) / 2
    value = 65536.0 * (sigmoid(x) + (chord_right + chord_left) / 4)
    table = np.minimum(np.floor(value + 0.5), 65535.0).astype(np.uint16)
    table[255] = 65535
    table.flags.writeable = False
    return table


def sigmoid_table_uint16():
    """The 256-entry uint16 sigmoid table (0.16 format) of TFLite's int16 LOGISTIC/TANH."""
    return _sigmoid_table().copy()


def logistic_int16(x, input_multiplier=0, input_left_shift=0):
    """TFLite int16 LOGISTIC (LUT) of int16 ``x``; int16 Q0.15 result.

    ``input_multiplier == 0`` is the power-of-two case (multiplier ``3 << input_left_shift``, no
    shift) — the LSTM gates use ``(0, 0)``: Q3.12 input times 3.
    """
    if input_multiplier == 0:
        input_multiplier, input_left_shift = 3 << input_left_shift, 0
    x = np.asarray(x, dtype=np.int64)
    rnd = (1 << (input_left_shift - 1)) if input_left_shift > 0 else 0
    v = (x * input_multiplier + rnd) >> input_left_shift
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
    """TFLite int16 TANH (LUT, tanh(x) = 2σ(2x) − 1) of int16 ``x``; int16 Q0.15 result."""
    if input_multiplier == 0:
        input_multiplier, input_left_shift = 3 << input_left_shift, 0
    x = np.asarray(x, dtype=np.int64)
    rnd = (1 << (input_left_shift - 1)) if input_left_shift > 0 else 0
    v = (x * input_multiplier + rnd) >> input_left_shift
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

