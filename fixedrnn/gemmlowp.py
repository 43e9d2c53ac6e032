"""gemmlowp's fixed-point ``exp_on_negative_values`` and ``tanh`` on int32, in exact Python integers.

A ``Q(k)`` value is an int32 raw ``r`` meaning ``r / 2**(31 − k)`` (k integer bits). Operations,
as in gemmlowp's ``fixedpoint.h``:
- product of Q(a) and Q(b) → Q(a + b): ``SaturatingRoundingDoublingHighMul`` of the raws;
- sum/difference: plain int32 addition (wrapping; it never wraps on these paths);
- ``Rescale`` / multiply by 2**e: rounding right shift (half away from zero) or saturating left shift;
- products and rounding shifts are the rules of :mod:`fixedrnn.fixedpoint` (``srdhm``: round to
  nearest, ties toward +infinity; ``rdbp``: half away from zero), called here on Python ints;
- constants: ``round(value · 2**(31 − k))`` computed here from their defining formulas (e.g.
  exp(−1/8), 1/3, 48/17, −32/17, exp(−2**e)).

TFLM's int8 TANH kernel calls :func:`tanh` and its int8 LOGISTIC kernel :func:`logistic` on a Q4
input (Q4.27); the tests check both against TFLM on every int8 input.
These scalar functions are the definition; kernels tabulate them per model (an int8 input has 256
values), see :mod:`fixedrnn.ops.tanh_s8`.
"""

import math

from fixedrnn.fixedpoint import INT32_MAX, INT32_MIN
from fixedrnn.fixedpoint import rounding_divide_by_pot_nb as rdbp
from fixedrnn.fixedpoint import saturating_rounding_doubling_high_mul_nb as srdhm

Q31_ONE = INT32_MAX  # "One" in Q0: the largest raw value


def _wrap32(x):
    return ((x + 2**31) % 2**32) - 2**31


def mul_pot(x, exponent):
    """SaturatingRoundingMultiplyByPOT<exponent> on an int32 raw."""
    if exponent == 0:
        return x
    if exponent < 0:
        return rdbp(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return x << exponent


def constant(value, integer_bits):
    """Raw int32 of ``value`` in Q(integer_bits), rounded to nearest (gemmlowp's constants)."""
    return int(round(value * 2.0 ** (31 - integer_bits)))


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a):
    """exp(a) for a in [−1/4, 0), Q0 → Q0 (Taylor expansion around −1/8)."""
    constant_term = constant(math.exp(-1.0 / 8.0), 0)
    one_third = constant(1.0 / 3.0, 0)
    x = _wrap32(a + (1 << 28))
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = mul_pot(x4, -2)
    poly = mul_pot(_wrap32(srdhm(_wrap32(x4_over_4 + x3), one_third) + x2), -1)
    return _wrap32(constant_term + srdhm(constant_term, _wrap32(x + poly)))


def exp_on_negative_values(a, integer_bits):
    """exp(a) for a Q(integer_bits) raw a <= 0, result Q0."""
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    mask = one_quarter - 1
    a_mod_quarter_minus_one_quarter = _wrap32((a & mask) - one_quarter)
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        mul_pot(a_mod_quarter_minus_one_quarter, integer_bits))  # Rescale<0>
    remainder = _wrap32(a_mod_quarter_minus_one_quarter - a)
    for exponent in range(-2, 5):  # barrel shifter: exp(−2**e) for e = −2 … 4
        if integer_bits > exponent:
            multiplier = constant(math.exp(-(2.0**exponent)), 0)
            if remainder & (1 << (fractional_bits + exponent)):
                result = srdhm(result, multiplier)
    if integer_bits > 5:
        clamp = -(1 << (36 - integer_bits))
        if a < clamp:
            result = 0
    if a == 0:
        result = Q31_ONE
    return result


def _reciprocal_of_half_denominator_q2(half_denominator):
    """1 / d for a Q0 raw d in [1/2, 1), as a Q2 raw: gemmlowp's Newton–Raphson from
    48/17 − 32/17·d, three iterations ``x += x·(1 − d·x)``; products by
    ``saturating_rounding_doubling_high_mul``, sums wrapping as int32."""
    c48_17 = constant(48.0 / 17.0, 2)
    cm32_17 = constant(-32.0 / 17.0, 2)
    one_q2 = 1 << 29
    x = _wrap32(c48_17 + srdhm(half_denominator, cm32_17))
    for _ in range(3):
        half_denominator_times_x = srdhm(half_denominator, x)
        one_minus = _wrap32(one_q2 - half_denominator_times_x)
        x = _wrap32(x + mul_pot(srdhm(x, one_minus), 2))  # Rescale<2> of a Q4 product
    return x


def _one_minus_x_over_one_plus_x_for_x_in_0_1(a):
    """(1 − a) / (1 + a) for a Q0 raw in (0, 1): 2/(1 + a) − 1 by Newton–Raphson in Q2, result Q0."""
    x = _reciprocal_of_half_denominator_q2(_rounding_half_sum(a, Q31_ONE))
    return mul_pot(_wrap32(x - (1 << 29)), 2)  # Rescale<0> of (x − 1) in Q2


def _rounding_half_sum(a, b):
    """(a + b) / 2 rounded half away from zero, as gemmlowp: (sum + sign) / 2 truncating."""
    total = a + b
    sign = 1 if total >= 0 else -1
    num = total + sign
    return num // 2 if num >= 0 else -((-num) // 2)


def tanh(a, integer_bits):
    """gemmlowp ``tanh`` of a Q(integer_bits) int32 raw; result Q0 raw."""
    if a == 0:
        return 0
    n = a if a < 0 else -a
    # neg_tanh_on_negative_values: ExactMulByPot<1> reinterprets n as Q(integer_bits + 1)
    t = _one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(n, integer_bits + 1))
    return -t if a < 0 else t


def _one_over_one_plus_x_for_x_in_0_1(a):
    """1 / (1 + a) for a Q0 raw in [0, 1]: the Q2 reciprocal of (1 + a)/2, halved (ExactMulByPot<-1>
    makes it Q1) and rescaled to Q0 (a saturating doubling)."""
    return mul_pot(_reciprocal_of_half_denominator_q2(_rounding_half_sum(a, Q31_ONE)), 1)


def logistic(a, integer_bits):
    """gemmlowp ``logistic`` of a Q(integer_bits) int32 raw; result Q0 raw: 1/2 (``2**30``) at 0,
    ``1 / (1 + exp(−|a|))`` for a > 0 and One (``2**31 − 1``) minus it for a < 0."""
    if a == 0:
        return 1 << 30
    positive = _one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(-abs(a), integer_bits))
    return positive if a > 0 else _wrap32(Q31_ONE - positive)
