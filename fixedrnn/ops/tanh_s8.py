"""TANH int8, TFLM's ``reference_integer_ops::Tanh`` (gemmlowp fixed-point tanh).

Definition, one int8 ``x``: ``d = x − zero_point``; ``d <= −radius`` → −128, ``d >= radius`` → 127,
else ``clamp(RoundingDivideByPOT(gemmlowp.tanh(MBQM(d, m, s) as Q4.27), 24), −128, 127)`` (MBQM
rounds to nearest at 2**31 with ties toward +infinity, then half away from zero; RoundingDivideByPOT
half away from zero). Output scale 1/128, zero point 0. An int8 input has 256 values, so the prepared
params hold the definition tabulated (int8 ``[256]`` indexed by ``x + 128``) and the kernels look it
up. C: ``frnn_tanh_s8``.
"""

from typing import NamedTuple

import numpy as np

from fixedrnn import gemmlowp
from fixedrnn.errors import FixedRnnError
from fixedrnn.fixedpoint import multiply_by_quantized_multiplier
from fixedrnn.ops import table
from fixedrnn.ops.requantize import frozen

TABLE_OFFSET = 128  # the table is indexed by x + 128


class TanhS8Params(NamedTuple):
    """TFLM int8 TANH: input ``zero_point``, ``input_multiplier``/``input_shift`` (rescale to Q4.27),
    ``input_range_radius``, and ``table`` int8 ``[256]`` (the definition on every input)."""

    zero_point: int
    input_multiplier: int
    input_shift: int
    input_range_radius: int
    table: np.ndarray


def tanh_s8_scalar(x, zero_point, input_multiplier, input_shift, input_range_radius):
    """The definition on one int8 value (Python ints, gemmlowp arithmetic)."""
    d = int(x) - int(zero_point)
    if d <= -input_range_radius:
        return -128
    if d >= input_range_radius:
        return 127
    q427 = int(multiply_by_quantized_multiplier(d, input_multiplier, input_shift))
    out = gemmlowp.rdbp(gemmlowp.tanh(q427, 4), 24)
    return min(max(out, -128), 127)


def prepare(zero_point, tanh):
    """:class:`TanhS8Params` of an input zero point and a :class:`fixedrnn.model.TanhParams`."""
    if not -128 <= zero_point <= 127:
        raise FixedRnnError(f"zero_point must be in [-128, 127], got {zero_point}")
    args = (int(zero_point), int(tanh.input_multiplier), int(tanh.input_shift),
            int(tanh.input_range_radius))
    values = [tanh_s8_scalar(v, *args) for v in range(-128, 128)]
    return TanhS8Params(*args, frozen(values, np.int8))


def reference(params, x):
    """The definition applied to every element of the int8 array ``x`` → int8."""
    x = np.asarray(x, np.int64)
    out = [tanh_s8_scalar(v, *params[:4]) for v in x.ravel()]
    return np.array(out, np.int8).reshape(x.shape)


def run_numba(params, x):
    """:func:`reference` by the numba table lookup (:func:`fixedrnn.ops.table.lookup_nb` of
    ``params.table`` at ``x + TABLE_OFFSET``, which the fused kernels call)."""
    return table.run_numba(params.table, TABLE_OFFSET, x)


def lookup(params, x):
    """The tabulated definition on the int8 array ``x`` (NumPy) → int8."""
    return table.lookup(params.table, TABLE_OFFSET, x)
