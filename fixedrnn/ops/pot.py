"""The power-of-two (PoT) multiply-accumulate: weights 0 or ±2**e (e in 0..6), shifts and adds only.

A PoT int8 weight ``w = sign · 2**e`` is held as tables: ``shift = e`` and ``sign`` ±1/0
(:func:`pot_shift_tables`, for NumPy's
:func:`fixedrnn.ops.fully_connected.fc_accumulate_pot_shift`) or, for the numba kernels, ``shift``,
a non-zero mask ``nz`` (−1 where ``w != 0``) and a sign mask ``neg`` (−1 where ``w < 0``), int32
(:func:`shift_masks`).
One MAC is ``v = (x − z) << shift; acc += ((v ^ neg) − neg) & nz``, which equals
``acc += w · (x − z)`` exactly (int32 accumulator; the headroom check guarantees no wrap). The
packed 4-bit codes of the model file (:mod:`fixedrnn.quant`) decode to these weights; C:
``frnn_fc_pot_s8`` / ``frnn_fc_pot_s16`` (multiply-adds of the weights of :mod:`fixedrnn.pot_pairs`;
built with ``-DFRNN_POT_SHIFT_ONLY``, this shift-only MAC: ``frnn_dot_pot``).
"""

import numba
import numpy as np

from fixedrnn.errors import FixedRnnError


def pot_shift_tables(weight):
    """Power-of-two int8 ``weight [out, in]`` → (shift e as int64, sign ±1/0 as int64)."""
    w = np.asarray(weight, np.int64)
    mag = np.abs(w)
    if np.any((mag & (mag - 1)) != 0) or np.any(mag > 64):
        raise FixedRnnError("weight is not a power-of-two weight (0 or ±2**e, e in 0..6)")
    shift = np.where(mag > 0, np.log2(np.maximum(mag, 1)).astype(np.int64), 0)
    return shift, np.sign(w)


def shift_masks(weight):
    """Power-of-two int8 ``weight [out, in]`` → (shift, non-zero mask, negative mask), int32."""
    shift, sign = pot_shift_tables(weight)
    return (np.ascontiguousarray(shift, np.int32), np.where(sign != 0, -1, 0).astype(np.int32),
            np.where(sign < 0, -1, 0).astype(np.int32))


@numba.njit(cache=True, inline="always")
def accumulate_nb(shift, nonzero, negative, x, acc):
    """``acc[o] += W[o] · x`` for every row o of one input column (``shift``, ``nonzero``,
    ``negative`` int32 ``[out]``: the column's tables; ``x`` one input minus its zero point) by a
    shift, xor, add and mask (rows innermost: a SIMD loop)."""
    for o in range(acc.shape[0]):
        v = x << shift[o]
        acc[o] += ((v ^ negative[o]) - negative[o]) & nonzero[o]
