"""Input normalisation: the front end's MFCC → the cell's int8 input (docs/CONTRACT.md step 3).

Definition, per coefficient i: ``x[i] = clamp(zero_point + MBQM(mfcc[i] − offset[i], multiplier[i],
shift[i]), −128, 127)``, MBQM rounding to nearest at 2**31 with ties toward +infinity, then half away
from zero. ``mfcc`` int16 q8.7 or int32 q8.23 ``[n, I]``; ``mfcc − offset`` must fit int32 and so must
its ``· 2**max(shift, 0)`` (``FixedRnnError`` otherwise). C: ``frnn_normalize``.
"""

from typing import NamedTuple

import numba
import numpy as np

from fixedrnn.errors import FixedRnnError
from fixedrnn.fixedpoint import clamp_nb, multiply_by_quantized_multiplier
from fixedrnn.fixedpoint import multiply_by_quantized_multiplier_nb as mbqm_nb
from fixedrnn.ops.requantize import frozen


class NormaliseParams(NamedTuple):
    """``offset``, ``multiplier``, ``shift`` int64 ``[I]`` and the int8 ``zero_point``."""

    offset: np.ndarray
    multiplier: np.ndarray
    shift: np.ndarray
    zero_point: int


def prepare(input_quant):
    """:class:`NormaliseParams` of a :class:`fixedrnn.model.InputQuant`."""
    q = input_quant
    return NormaliseParams(frozen(q.offset, np.int64), frozen(q.multiplier, np.int64),
                           frozen(q.shift, np.int64), int(q.zero_point))


def _offset_removed(params, mfcc):
    d = np.asarray(mfcc, np.int64) - params.offset
    if d.size and (d.min() < -2**31 or d.max() >= 2**31):
        raise FixedRnnError("mfcc - input.offset overflows int32")
    return d


def reference(params, mfcc):
    """The definition on ``mfcc [n, I]`` → int8 ``[n, I]`` (exact int64 NumPy)."""
    v = multiply_by_quantized_multiplier(_offset_removed(params, mfcc), params.multiplier,
                                         params.shift).astype(np.int64)
    return np.clip(v + params.zero_point, -128, 127).astype(np.int8)


@numba.njit(cache=True, inline="always")
def normalise_nb(p, d, i):
    """Coefficient ``i`` of one frame, ``d = mfcc[i] − offset[i]`` (int64 in and out)."""
    return clamp_nb(mbqm_nb(d, p.multiplier[i], p.shift[i]) + p.zero_point, -128, 127)


@numba.njit(cache=True)
def _normalise_rows(p, d, out):
    for n in range(d.shape[0]):
        for i in range(d.shape[1]):
            out[n, i] = normalise_nb(p, d[n, i], i)


def run_numba(params, mfcc):
    """:func:`reference` by :func:`normalise_nb`."""
    d = np.ascontiguousarray(_offset_removed(params, mfcc)).reshape(-1, params.offset.shape[0])
    out = np.empty_like(d)
    _normalise_rows(params, d, out)
    return out.astype(np.int8).reshape(np.shape(mfcc))
