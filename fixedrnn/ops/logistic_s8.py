"""LOGISTIC int8, TFLM's ``reference_integer_ops::Logistic`` (gemmlowp fixed-point logistic).

Definition, one int8 ``x``: ``d = x − zero_point``; ``d <= −radius`` → −128, ``d >= radius`` → 127,
else ``clamp(RoundingDivideByPOT(gemmlowp.logistic(MBQM(d, m, s) as Q4.27), 23) − 128, −128, 127)``
(MBQM rounds to nearest at 2**31 with ties toward +infinity, then half away from zero;
RoundingDivideByPOT half away from zero). Output scale 1/256, zero point −128. The input rescale
``(m, s, radius)`` is TFLM's Prepare of LOGISTIC, the same rule as TANH's (4 integer bits:
:func:`fixedrnn.convert.tanh_params`). The prepared params hold the definition tabulated (int8
``[256]``, index ``x + 128``).
"""

from typing import NamedTuple

import numpy as np

from fixedrnn import gemmlowp
from fixedrnn.errors import FixedRnnError
from fixedrnn.fixedpoint import multiply_by_quantized_multiplier
from fixedrnn.ops import table
from fixedrnn.ops.requantize import frozen

TABLE_OFFSET = 128  # the table is indexed by x + 128
OUTPUT_ZERO_POINT = -128
OUTPUT_SCALE = 1.0 / 256.0


class LogisticS8Params(NamedTuple):
    """TFLM int8 LOGISTIC: input ``zero_point``, ``input_multiplier``/``input_shift`` (rescale to
    Q4.27), ``input_range_radius``, and ``table`` int8 ``[256]`` (the definition on every input)."""

    zero_point: int
    input_multiplier: int
    input_shift: int
    input_range_radius: int
    table: np.ndarray


def logistic_s8_scalar(x, zero_point, input_multiplier, input_shift, input_range_radius):
    """The definition on one int8 value (Python ints, gemmlowp arithmetic)."""
    d = int(x) - int(zero_point)
    if d <= -input_range_radius:
        return -128
    if d >= input_range_radius:
        return 127
    q427 = int(multiply_by_quantized_multiplier(d, input_multiplier, input_shift))
    out = gemmlowp.rdbp(gemmlowp.logistic(q427, 4), 23) + OUTPUT_ZERO_POINT
    return min(max(out, -128), 127)


def prepare(zero_point, rescale):
    """:class:`LogisticS8Params` of an input zero point and an input rescale (any record with
    ``input_multiplier``, ``input_shift``, ``input_range_radius``: :func:`fixedrnn.convert.tanh_params`)."""
    if not -128 <= zero_point <= 127:
        raise FixedRnnError(f"zero_point must be in [-128, 127], got {zero_point}")
    args = (int(zero_point), int(rescale.input_multiplier), int(rescale.input_shift),
            int(rescale.input_range_radius))
    return LogisticS8Params(*args, frozen([logistic_s8_scalar(v, *args) for v in range(-128, 128)], np.int8))


def reference(params, x):
    """The definition applied to every element of the int8 array ``x`` → int8."""
    x = np.asarray(x, np.int64)
    return np.array([logistic_s8_scalar(v, *params[:4]) for v in x.ravel()], np.int8).reshape(x.shape)


def lookup(params, x):
    """The tabulated definition on the int8 array ``x`` (NumPy) → int8."""
    return table.lookup(params.table, TABLE_OFFSET, x)
