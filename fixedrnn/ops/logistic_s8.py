"""LOGISTIC int8, TFLM's ``reference_integer_ops::Logistic`` (gemmlowp fixed-point logistic).

The rule shared with TANH is :mod:`fixedrnn.ops.activation_s8`; LOGISTIC's part: gemmlowp's
logistic, ``RoundingDivideByPOT(·, 23)``, then − 128. Output scale 1/256, zero point −128; the input
rescale is the same rule as TANH's (:func:`fixedrnn.convert.tanh_params`).
"""

from fixedrnn import gemmlowp
from fixedrnn.ops import activation_s8
from fixedrnn.ops.activation_s8 import TABLE_OFFSET, lookup  # noqa: F401  (this op's entry points)

OUTPUT_ZERO_POINT = -128
OUTPUT_SCALE = 1.0 / 256.0


class LogisticS8Params(activation_s8.ActivationS8Params):
    """TFLM int8 LOGISTIC's prepared params (:class:`~fixedrnn.ops.activation_s8.ActivationS8Params`)."""

    __slots__ = ()


def logistic_s8_scalar(x, zero_point, input_multiplier, input_shift, input_range_radius):
    """The definition on one int8 value (Python ints, gemmlowp arithmetic)."""
    return activation_s8.scalar(x, zero_point, input_multiplier, input_shift, input_range_radius,
                                gemmlowp.logistic, 23, OUTPUT_ZERO_POINT)


def prepare(zero_point, rescale):
    """:class:`LogisticS8Params` of an input zero point and an input rescale (any record with
    ``input_multiplier``, ``input_shift``, ``input_range_radius``: :func:`fixedrnn.convert.tanh_params`)."""
    return activation_s8.prepare(LogisticS8Params, logistic_s8_scalar, zero_point, rescale)


def reference(params, x):
    """The definition applied to every element of the int8 array ``x`` → int8."""
    return activation_s8.reference(logistic_s8_scalar, params, x)
