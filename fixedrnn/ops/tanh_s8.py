"""TANH int8, TFLM's ``reference_integer_ops::Tanh`` (gemmlowp fixed-point tanh).

The rule shared with LOGISTIC is :mod:`fixedrnn.ops.activation_s8`; TANH's part: gemmlowp's tanh,
``RoundingDivideByPOT(·, 24)``, no offset. Output scale 1/128, zero point 0. C: ``frnn_tanh_s8``.
"""

from fixedrnn import gemmlowp
from fixedrnn.ops import activation_s8
from fixedrnn.ops.activation_s8 import TABLE_OFFSET, lookup, run_numba  # noqa: F401  (this op's entry points)


class TanhS8Params(activation_s8.ActivationS8Params):
    """TFLM int8 TANH's prepared params (:class:`~fixedrnn.ops.activation_s8.ActivationS8Params`)."""

    __slots__ = ()


def tanh_s8_scalar(x, zero_point, input_multiplier, input_shift, input_range_radius):
    """The definition on one int8 value (Python ints, gemmlowp arithmetic)."""
    return activation_s8.scalar(x, zero_point, input_multiplier, input_shift, input_range_radius,
                                gemmlowp.tanh, 24, 0)


def prepare(zero_point, tanh):
    """:class:`TanhS8Params` of an input zero point and a :class:`fixedrnn.model.TanhParams`."""
    return activation_s8.prepare(TanhS8Params, tanh_s8_scalar, zero_point, tanh)


def reference(params, x):
    """The definition applied to every element of the int8 array ``x`` → int8."""
    return activation_s8.reference(tanh_s8_scalar, params, x)
