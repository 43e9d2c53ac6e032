"""CMSIS-DSP's fixed-point square root, natural log and division, bit for bit (numba scalars).

These reproduce ``arm_sqrt_q31``, ``arm_vlog_q31`` (its scalar ``arm_scalar_log_q31``) and
``arm_divide_q15`` / ``arm_divide_q31`` of CMSIS-DSP (portable C build), read from its sources and
re-implemented; tables are generated from their defining formulas (:func:`sqrt_initial_lut_q31`).
"""

import numba
import numpy as np

from fixedrnn.frontend.cmsis_int import clz32, wrap32

#: ln(2) in q5.26 as CMSIS writes it (0x02C5C860), used by the MFCC to undo its scalings.
LOG2_TO_LOG_Q26 = 0x02C5C860
#: 1/log2(e) = ln(2) in q31 (0x58B90BFB), the last multiply of ``arm_scalar_log_q31``.
LOG_Q31_INVLOG2EXP = 0x58B90BFB


def sqrt_initial_lut_q31():
    """``sqrt_initial_lut_q31``: int64 ``[32]`` start values of the Newton iteration for 1/sqrt.

    Entry ``k`` (k = 0..31) is ``round(2**31 / (8·sqrt(i/2**31)))`` at ``i = 2**29 + k·2**26``
    (round half to even), capped at 2**31 − 1: 1/sqrt(x)/8 for x in [0.25, 1.25) in q31.
    """
    i = (1 << 29) + np.arange(32, dtype=np.float64) * (1 << 26)
    values = np.round(1.0 / np.sqrt(i / 2.0**31) / 8.0 * 2.0**31)
    return np.minimum(values, 2**31 - 1).astype(np.int64)


@numba.njit(cache=True)
def sqrt_q31(x, lut):
    """``arm_sqrt_q31``: q31 square root of ``x`` (0 for x <= 0), int64 scalar in and out.

    ``x`` is normalised by an even left shift to [2**29, 2**31), 1/sqrt is refined by three Newton
    steps in q28/q29 (``t = (v·v) >> 28; t = (n·t) >> 31; t = 0x30000000 − t; v = (v·t) >> 29``, each
    result kept as int32), then ``(n·v) >> 28`` is shifted back right by half the normalisation.
    """
    if x <= 0:
        return np.int64(0)
    sign_bits = clz32(x) - 1
    half_shift = sign_bits >> 1
    number = x << (2 * half_shift)  # the even shift CMSIS applies (sign_bits or sign_bits - 1)
    var1 = lut[(number >> 26) - 8]
    for _ in range(3):
        temp = wrap32((var1 * var1) >> 28)
        temp = wrap32((number * temp) >> 31)
        temp = wrap32(0x30000000 - temp)
        var1 = wrap32((var1 * temp) >> 29)
    var1 = wrap32((number * var1) >> 28)
    return var1 >> half_shift


@numba.njit(cache=True)
def log_q31(x):
    """``arm_scalar_log_q31``: ln(x / 2**31) in q5.26 for an int32 ``x`` read as uint32.

    ``c = clz(x)``; ``x`` is normalised to q30 in [1, 2) (``x << (c − 1)``); 31 squarings
    ``x = (x·x) >> 30`` each add 2**(25−i) to a q26 log2 when x reaches 2 (then ``x >>= 1``); the
    result ``((y − (c << 26)) · 0x58B90BFB) >> 31`` (int32 arithmetic, wrapping) is ln in q5.26.
    ``x == 0`` gives ``((−2**31)·0x58B90BFB) >> 31`` = −1488522236 (C's wrap of ``32 << 26``).
    """
    src = x & 0xFFFFFFFF
    c = clz32(src)
    if c - 1 < 0:
        norm = src >> (1 - c)
    else:
        norm = (src << (c - 1)) & 0xFFFFFFFF
    inc = np.int64(1) << 25
    y = np.int64(0)
    for _ in range(31):
        norm = (norm * norm) >> 30
        bit = norm >> 31  # 1 when x² reached 2.0 (branch-free form of CMSIS's if)
        y += inc & -bit
        norm >>= bit
        inc >>= 1
    tmp = wrap32(y - wrap32(c << 26))
    return wrap32((tmp * LOG_Q31_INVLOG2EXP) >> 31)


@numba.njit(cache=True)
def divide_q15(numerator, denominator):
    """``arm_divide_q15`` for positive operands: ``(quotient, shift)`` with num/den ≈ quotient·2**shift / 2**15.

    ``t = (num << 15) // den`` (C truncating division); ``shift = 17 − clz(t)`` when positive, and
    then ``t >>= shift`` (else shift = 0).
    """
    temp = (numerator << 15) // denominator
    shift = 17 - clz32(temp)
    if shift > 0:
        return temp >> shift, shift
    return temp, np.int64(0)


@numba.njit(cache=True)
def divide_q31(numerator, denominator):
    """``arm_divide_q31`` for positive operands: ``t = (num << 31) // den``, ``shift = 32 − clz(t >> 31)``."""
    temp = (numerator << 31) // denominator
    shift = 32 - clz32(temp >> 31)
    if shift > 0:
        return wrap32(temp >> shift), shift
    return wrap32(temp), np.int64(0)


@numba.njit(cache=True)
def sqrt_q31_many(values, lut, out, numbers, estimates):
    """:func:`sqrt_q31` of every element of ``values`` into ``out`` (same results).

    The Newton steps run in lockstep over all elements (independent lanes the compiler
    vectorises). ``numbers`` (the normalised inputs) and ``estimates`` (``var1``) are scratch arrays
    of the same size, best int32: every value they hold is an int32 (C's ``q31_t``), and each
    product is formed as int64 from two int32 operands (``(q63_t)a * b``, what ``vpmuldq`` does),
    then shifted and truncated to int32, so int32 storage loses nothing.
    """
    n = values.shape[0]
    for i in range(n):
        x = values[i]
        if x <= 0:
            numbers[i] = 0
            estimates[i] = 0
            continue
        number = x << (2 * ((clz32(x) - 1) >> 1))  # in [2**29, 2**31): an int32
        numbers[i] = number
        estimates[i] = lut[(number >> 26) - 8]
    for _ in range(3):
        for i in range(n):
            var1 = np.int64(estimates[i])
            number = np.int64(numbers[i])
            temp = wrap32((var1 * var1) >> 28)
            temp = wrap32((number * temp) >> 31)
            temp = wrap32(0x30000000 - temp)
            estimates[i] = wrap32((var1 * temp) >> 29)
    for i in range(n):
        x = values[i]
        if x <= 0:
            out[i] = 0
        else:
            out[i] = wrap32((np.int64(numbers[i]) * estimates[i]) >> 28) >> ((clz32(x) - 1) >> 1)


@numba.njit(cache=True)
def log_q31_many(values, out, norms, counts):
    """:func:`log_q31` of every element of ``values`` into ``out`` (same results, lockstep lanes)."""
    n = values.shape[0]
    for i in range(n):
        src = values[i] & 0xFFFFFFFF
        c = clz32(src)
        counts[i] = c
        if c - 1 < 0:
            norms[i] = src >> (1 - c)
        else:
            norms[i] = (src << (c - 1)) & 0xFFFFFFFF
        out[i] = 0
    inc = np.int64(1) << 25
    for _ in range(31):
        for i in range(n):
            norm = (norms[i] * norms[i]) >> 30
            bit = norm >> 31
            out[i] += inc & -bit
            norms[i] = norm >> bit
        inc >>= 1
    for i in range(n):
        tmp = wrap32(out[i] - wrap32(counts[i] << 26))
        out[i] = wrap32((tmp * LOG_Q31_INVLOG2EXP) >> 31)
