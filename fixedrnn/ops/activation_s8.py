"""TFLM's int8 TANH and LOGISTIC on gemmlowp's fixed point: the rule they share, written once.

Definition, one int8 ``x`` (``reference_integer_ops::Tanh`` / ``::Logistic``): ``d = x − zero_point``;
``d <= −radius`` → −128, ``d >= radius`` → 127, else
``clamp(RoundingDivideByPOT(f(MBQM(d, m, s) as Q4.27), exponent) + output_offset, −128, 127)``, with
``f`` gemmlowp's tanh (exponent 24, offset 0) or logistic (exponent 23, offset −128). MBQM rounds to
nearest at 2**31 with ties toward +infinity, then half away from zero; RoundingDivideByPOT half away
from zero. The input rescale ``(m, s, radius)`` is TFLM's Prepare (4 integer bits:
:func:`fixedrnn.convert.tanh_params`). An int8 input has 256 values, so the prepared params hold the
definition tabulated (int8 ``[256]`` indexed by ``x + TABLE_OFFSET``) and the kernels look it up.
"""

from typing import NamedTuple

import numpy as np

from fixedrnn import gemmlowp
from fixedrnn.errors import FixedRnnError
from fixedrnn.fixedpoint import multiply_by_quantized_multiplier
from fixedrnn.ops import table
from fixedrnn.ops.requantize import frozen

TABLE_OFFSET = 128  # the table is indexed by x + 128


class ActivationS8Params(NamedTuple):
    """Input ``zero_point``, ``input_multiplier``/``input_shift`` (rescale to Q4.27),
    ``input_range_radius``, and ``table`` int8 ``[256]`` (the definition on every input)."""

    zero_point: int
    input_multiplier: int
    input_shift: int
    input_range_radius: int
    table: np.ndarray


def scalar(x, zero_point, input_multiplier, input_shift, input_range_radius, function, exponent, output_offset):
    """The definition on one int8 value (Python ints): ``function`` gemmlowp's ``tanh`` or
    ``logistic`` of a Q4.27 value, its result divided by ``2**exponent`` and offset."""
    d = int(x) - int(zero_point)
    if d <= -input_range_radius:
        return -128
    if d >= input_range_radius:
        return 127
    q427 = int(multiply_by_quantized_multiplier(d, input_multiplier, input_shift))
    out = gemmlowp.rdbp(function(q427, 4), exponent) + output_offset
    return min(max(out, -128), 127)


def prepare(params_type, definition, zero_point, rescale):
    """``params_type`` of an input zero point and an input rescale (any record with
    ``input_multiplier``, ``input_shift``, ``input_range_radius``), tabulating ``definition`` (the
    op's scalar rule) on every int8 input."""
    if not -128 <= zero_point <= 127:
        raise FixedRnnError(f"zero_point must be in [-128, 127], got {zero_point}")
    args = (int(zero_point), int(rescale.input_multiplier), int(rescale.input_shift),
            int(rescale.input_range_radius))
    return params_type(*args, frozen([definition(v, *args) for v in range(-128, 128)], np.int8))


def reference(definition, params, x):
    """``definition`` (the op's scalar rule) applied to every element of the int8 array ``x`` → int8."""
    x = np.asarray(x, np.int64)
    return np.array([definition(v, *params[:4]) for v in x.ravel()], np.int8).reshape(x.shape)


def lookup(params, x):
    """The tabulated definition on the int8 array ``x`` (NumPy) → int8."""
    return table.lookup(params.table, TABLE_OFFSET, x)


def run_numba(params, x):
    """:func:`lookup` by the numba table lookup (:func:`fixedrnn.ops.table.lookup_nb` of
    ``params.table`` at ``x + TABLE_OFFSET``, which the fused kernels call)."""
    return table.run_numba(params.table, TABLE_OFFSET, x)
