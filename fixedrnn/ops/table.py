"""Tabulated ops: an op on int8 / int16 inputs held as its value on every input (prepared once),
looked up at ``x + offset`` (128 for int8, 32768 for int16)."""

import numba
import numpy as np


def lookup(table, offset, x):
    """``table[x + offset]`` of the integer array ``x`` (NumPy), in the table's dtype."""
    return table[np.asarray(x, np.int64) + offset]


@numba.njit(cache=True, inline="always")
def lookup_nb(table, offset, x):
    """``table[x + offset]`` of one value (int64 out)."""
    return np.int64(table[x + offset])


@numba.njit(cache=True)
def _lookup_flat(table, offset, x, out):
    for i in range(x.size):
        out[i] = lookup_nb(table, offset, x[i])


def run_numba(table, offset, x):
    """:func:`lookup` by :func:`lookup_nb`."""
    x = np.asarray(x, np.int64)
    out = np.empty(x.size, np.int64)
    _lookup_flat(table, offset, np.ascontiguousarray(x).reshape(-1), out)
    return out.reshape(x.shape).astype(table.dtype)
