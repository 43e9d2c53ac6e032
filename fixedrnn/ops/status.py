"""How a numba kernel reports an int32 overflow: a status vector the caller turns into the error.

``status``: int64 ``[4]`` = (kind, tensor index, exact value, step); kind 0 means no overflow. A
kernel records the first overflow only (:func:`flag_nb`) and returns; :func:`raise_on_status` raises
the same :class:`fixedrnn.errors.FixedRnnError` (message of :mod:`fixedrnn.overflow`) as the NumPy
path.
"""

import numba
import numpy as np

from fixedrnn.errors import FixedRnnError
from fixedrnn.fixedpoint import INT32_MAX, INT32_MIN
from fixedrnn.overflow import ACCUMULATOR, REQUANTIZE_INPUT, overflow_message

STATUS_OK, STATUS_ACCUMULATOR, STATUS_REQUANTIZE = 0, 1, 2


def new_status():
    """A fresh kernel status (int64 ``[4]``: kind, tensor index, value, step), all zero."""
    return np.zeros(4, np.int64)


def raise_on_status(status, tensors):
    """Raise the ``FixedRnnError`` a kernel recorded in ``status`` (``tensors``: names by index)."""
    kind, tensor, value = int(status[0]), int(status[1]), int(status[2])
    if kind == STATUS_ACCUMULATOR:
        raise FixedRnnError(overflow_message(tensors[tensor], ACCUMULATOR, value))
    if kind == STATUS_REQUANTIZE:
        raise FixedRnnError(overflow_message(tensors[tensor], REQUANTIZE_INPUT, value))


@numba.njit(cache=True, inline="always")
def out_of_int32_nb(v):
    """Whether the int64 ``v`` lies outside int32."""
    return v < INT32_MIN or v > INT32_MAX


@numba.njit(cache=True, inline="always")
def flag_nb(status, kind, tensor, value, step):
    """Record an overflow in ``status`` unless one is recorded already (the first one wins)."""
    if status[0] == STATUS_OK:
        status[0] = kind
        status[1] = tensor
        status[2] = value
        status[3] = step
