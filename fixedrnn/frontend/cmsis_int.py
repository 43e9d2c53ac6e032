"""C integer semantics CMSIS-DSP relies on, as numba scalar helpers (int64 in, int64 out).

- ``wrap16`` / ``wrap32``: the value a C cast or store to ``int16_t`` / ``int32_t`` keeps (the low
  16 / 32 bits, two's complement): what ``(q15_t)x`` and ``(q31_t)x`` do, and what a C ``int``
  sum does when it overflows (gcc and armcc both wrap).
- ``ssat(x, bits)``: ``__SSAT(x, bits)``; note that ``__SSAT`` takes an ``int32_t``, so a ``q63_t``
  argument is first wrapped to 32 bits (:func:`ssat_of_q63`).
- ``clz32``: ``__CLZ`` of a uint32 (32 for 0).
"""

import numba
import numpy as np

from fixedrnn.fixedpoint import clamp_nb


@numba.njit(cache=True, inline="always")
def wrap16(x):
    """Low 16 bits of ``x`` as a signed value: C ``(int16_t)x``."""
    return ((x + 32768) & 0xFFFF) - 32768


@numba.njit(cache=True, inline="always")
def wrap32(x):
    """Low 32 bits of ``x`` as a signed value: C ``(int32_t)x``."""
    return ((x + 2147483648) & 0xFFFFFFFF) - 2147483648


@numba.njit(cache=True, inline="always")
def ssat(x, bits):
    """``__SSAT(x, bits)``: clamp to [−2**(bits−1), 2**(bits−1) − 1] (x already an int32 value)."""
    hi = (np.int64(1) << (bits - 1)) - 1
    return clamp_nb(x, -hi - 1, hi)


@numba.njit(cache=True, inline="always")
def ssat_of_q63(x, bits):
    """``__SSAT((int32_t)x, bits)`` for a q63 ``x``: wrap to 32 bits, then saturate."""
    return ssat(wrap32(x), bits)


@numba.njit(cache=True, inline="always")
def clz32(x):
    """``__CLZ(x)`` for a uint32 value ``x`` (0 <= x < 2**32): leading zero bits, 32 for 0."""
    if x == 0:
        return 32
    n = 0
    if x <= 0x0000FFFF:
        n += 16
        x <<= 16
    if x <= 0x00FFFFFF:
        n += 8
        x <<= 8
    if x <= 0x0FFFFFFF:
        n += 4
        x <<= 4
    if x <= 0x3FFFFFFF:
        n += 2
        x <<= 2
    if x <= 0x7FFFFFFF:
        n += 1
    return n
