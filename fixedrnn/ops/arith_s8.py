"""TFLM's int8 SUB and int8 MUL with zero points (the element-wise ops of the unrolled Keras graphs;
the int8 ADD is :mod:`fixedrnn.ops.elementwise`).

- SUB s8 (TFLM ``CalculateOpDataSub`` + ``reference_ops::Sub`` general path, left shift 20): as the
  int8 ADD with the second input subtracted, ``y = clamp(z_out + MBQM(u_1 − u_2, m_out, s_out), −128,
  127)``, ``u_k = MBQM((v_k − z_k) · 2**20, m_k, s_k)``. Its Prepare computes the three real
  multipliers in **float32** (``2·max(s_1, s_2)``, ``s_k / (2·max)`` and ``2·max / (2**20 · s_out)``
  rounded to float32 before ``QuantizeMultiplier``), unlike ADD's double: :func:`prepare_sub`.
  Broadcasting (a scalar constant, e.g. the GRU's ``1 − z``) repeats elements; the arithmetic per
  element is the same.
- MUL s8 (TFLM ``CalculateOpDataMul`` + ``reference_integer_ops::Mul``):
  ``y = clamp(z_out + MBQM((a − z_1) · (b − z_2), m, s), −128, 127)``, ``(m, s) =
  QuantizeMultiplier(s_1 · s_2 / s_out)`` in double (:func:`fixedrnn.convert.mul_multiplier`).
  ``|(a − z_1)(b − z_2)| <= 255**2``, so the product is exact in int32; a positive shift is checked by
  :func:`fixedrnn.ops.requantize.reference`.
MBQM: :func:`fixedrnn.fixedpoint.multiply_by_quantized_multiplier`.
"""

from typing import NamedTuple

import numpy as np

from fixedrnn import convert
from fixedrnn.errors import FixedRnnError
from fixedrnn.fixedpoint import quantize_multiplier
from fixedrnn.ops import requantize
from fixedrnn.ops.elementwise import ADD_LEFT_SHIFT, AddS8Params, requantized_s8_output, rescaled_s8_inputs


class MulS8Params(NamedTuple):
    """TFLM int8 MUL: the inputs' zero points, the output stage ``multiplier``, ``shift``, output
    ``zero_point`` and clamp ``[lo, hi]`` (−128, 127)."""

    input1_zero_point: int
    input2_zero_point: int
    multiplier: int
    shift: int
    zero_point: int
    lo: int
    hi: int


def _smaller_than_one(real, what):
    if not 0.0 < real < 1.0:
        raise FixedRnnError(f"{what}: real multiplier {real!r} must be in (0, 1)")
    return quantize_multiplier(real)


def prepare_sub(scale1, zero_point1, scale2, zero_point2, output_scale, output_zero_point):
    """:class:`fixedrnn.ops.elementwise.AddS8Params` of a TFLM int8 SUB (float32 Prepare: module doc)."""
    s1, s2, so = (np.float32(v) for v in (scale1, scale2, output_scale))
    twice_max = np.float32(2) * max(s1, s2)
    m1, e1 = _smaller_than_one(float(np.float32(s1 / twice_max)), "SUB input 1")
    m2, e2 = _smaller_than_one(float(np.float32(s2 / twice_max)), "SUB input 2")
    mo, eo = _smaller_than_one(float(np.float32(twice_max / (np.float32(1 << ADD_LEFT_SHIFT) * so))), "SUB output")
    return AddS8Params(int(zero_point1), m1, e1, int(zero_point2), m2, e2, int(output_zero_point), mo, eo)


def sub_s8_reference(params, a, b):
    """The definition of int8 SUB ``a − b`` on int8 arrays (broadcast) → int8."""
    ua, ub = rescaled_s8_inputs(params, a, b)
    return requantized_s8_output(params, ua - ub)


def prepare_mul(scale1, zero_point1, scale2, zero_point2, output_scale, output_zero_point):
    """:class:`MulS8Params` of a TFLM int8 MUL."""
    m, s = convert.mul_multiplier(scale1, scale2, output_scale)
    return MulS8Params(int(zero_point1), int(zero_point2), int(m), int(s), int(output_zero_point), -128, 127)


def mul_s8_reference(params, a, b, name="mul"):
    """The definition of int8 MUL on int8 arrays (broadcast) → int8; ``FixedRnnError`` naming
    ``name`` if the requantization input leaves int32."""
    product = ((np.asarray(a, np.int64) - params.input1_zero_point)
               * (np.asarray(b, np.int64) - params.input2_zero_point))
    return requantize.reference(params, product, name).astype(np.int8)
