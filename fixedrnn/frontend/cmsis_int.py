"""C integer semantics CMSIS-DSP relies on, as numba scalar helpers (int64 in, int64 out).

- ``wrap16`` / ``wrap32``: the value a C cast or store to ``int16_t`` / ``int32_t`` keeps (the low
  16 / 32 bits, two's complement): what ``(q15_t)x`` and ``(q31_t)x`` do, and what a C ``int``
  sum does when it overflows (gcc and armcc both wrap).
- ``ssat(x, bits)``: ``__SSAT(x, bits)``; note that ``__SSAT`` takes an ``int32_t``, so a ``q63_t``
  argument is first wrapped to 32 bits (:func:`ssat_of_q63`).
- ``clz32``: ``__CLZ`` of a uint32 (32 for 0).

They are plain ``njit`` functions: LLVM inlines them into the kernels all the same, while numba's
own inlining (``inline="always"``) doubled the front end's first compilation.
"""

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

from fixedrnn.fixedpoint import clamp_nb


@numba.njit(cache=True)
def wrap16(x):
    """Low 16 bits of ``x`` as a signed value: C ``(int16_t)x``.

    numba's integer narrowing is LLVM's ``trunc`` (keeps the low bits, like C), widened back by
    ``sext``: one ``movsx``, where the mask-and-offset form costs three operations.
    """
    return np.int64(np.int16(x))


@numba.njit(cache=True)
def wrap32(x):
    """Low 32 bits of ``x`` as a signed value: C ``(int32_t)x`` (``trunc`` + ``sext``, as :func:`wrap16`)."""
    return np.int64(np.int32(x))


@numba.njit("int64(int64, int64)", cache=True)
def ssat(x, bits):
    """``__SSAT(x, bits)``: clamp to [−2**(bits−1), 2**(bits−1) − 1] (x already an int32 value)."""
    hi = (np.int64(1) << (bits - 1)) - 1
    return clamp_nb(x, -hi - 1, hi)


@numba.njit("int64(int64, int64)", cache=True)
def ssat_of_q63(x, bits):
    """``__SSAT((int32_t)x, bits)`` for a q63 ``x``: wrap to 32 bits, then saturate."""
    return ssat(wrap32(x), bits)


@intrinsic
def _ctlz_u32(typingctx, x):
    """LLVM ``ctlz`` of the low 32 bits of the int64 ``x`` (defined as 32 for 0): x86 ``lzcnt``/``bsr``."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        value = context.cast(builder, args[0], signature.args[0], types.int64)
        low = builder.trunc(value, context.get_value_type(types.uint32))
        count = builder.ctlz(low, context.get_constant(types.boolean, False))
        return builder.zext(count, context.get_value_type(types.int64))

    return types.int64(x), codegen


@numba.njit(cache=True)
def clz32(x):
    """``__CLZ(x)`` for a uint32 value ``x`` (0 <= x < 2**32): leading zero bits, 32 for 0."""
    return _ctlz_u32(x)
