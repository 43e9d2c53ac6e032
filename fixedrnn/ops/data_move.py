"""The data-movement ops of TFLite graphs: RESHAPE, UNPACK, SPLIT, SPLIT_V, STRIDED_SLICE,
CONCATENATION. They copy elements (any dtype) and never change a value; int8 ones keep the input's
quantisation (TFLM requires the same scale and zero point on input and outputs).

Shapes are TFLite's: row-major, the axis argument may be negative (counted from the end).
STRIDED_SLICE follows TFLM's ``StridedSlice`` with begin / end / stride per dimension and the
``begin_mask`` / ``end_mask`` / ``shrink_axis_mask`` bits (bit i: dimension i takes its full
start / stop, or is dropped, keeping only ``begin``); ellipsis and new-axis masks are refused by the
graph import. CONCATENATION needs equal quantisation on every input (a requantizing concatenation
is refused by the import).
"""

import numpy as np

from fixedrnn.errors import FixedRnnError


def _axis(axis, rank):
    a = int(axis) + rank if int(axis) < 0 else int(axis)
    if not 0 <= a < rank:
        raise FixedRnnError(f"axis {axis} out of range for rank {rank}")
    return a


def reshape(x, shape):
    """``x`` with ``shape`` (same element count, row-major)."""
    return np.asarray(x).reshape(tuple(int(d) for d in shape))


def unpack(x, axis):
    """The slices of ``x`` along ``axis``, that axis removed: a list of ``x.shape[axis]`` arrays."""
    x = np.asarray(x)
    a = _axis(axis, x.ndim)
    return [np.take(x, i, axis=a) for i in range(x.shape[a])]


def split(x, axis, count):
    """``x`` cut into ``count`` equal parts along ``axis``."""
    x = np.asarray(x)
    a = _axis(axis, x.ndim)
    if x.shape[a] % count:
        raise FixedRnnError(f"SPLIT: dimension {x.shape[a]} is not a multiple of {count}")
    return np.split(x, count, axis=a)


def split_v(x, axis, sizes):
    """``x`` cut along ``axis`` into parts of ``sizes`` (one entry may be −1: the rest)."""
    x = np.asarray(x)
    a = _axis(axis, x.ndim)
    sizes = [int(s) for s in sizes]
    if sizes.count(-1) == 1:
        sizes[sizes.index(-1)] = x.shape[a] - sum(s for s in sizes if s != -1)
    if sum(sizes) != x.shape[a] or min(sizes) < 0:
        raise FixedRnnError(f"SPLIT_V: sizes {sizes} do not cover dimension {x.shape[a]}")
    return np.split(x, np.cumsum(sizes)[:-1], axis=a)


def strided_slice(x, begin, end, strides, begin_mask, end_mask, shrink_axis_mask):
    """TFLM's STRIDED_SLICE of ``x`` (positive strides; negative begin / end count from the end,
    clamped to the dimension)."""
    x = np.asarray(x)
    index = []
    for i, n in enumerate(x.shape):
        stride = int(strides[i])
        if stride <= 0:
            raise FixedRnnError(f"STRIDED_SLICE: stride {stride} on dimension {i}: only positive strides")
        b = 0 if begin_mask >> i & 1 else int(begin[i])
        b = min(max(b + n if b < 0 else b, 0), n)
        if shrink_axis_mask >> i & 1:
            index.append(b)
            continue
        e = n if end_mask >> i & 1 else int(end[i])
        e = min(max(e + n if e < 0 else e, 0), n)
        index.append(slice(b, e, stride))
    return x[tuple(index)]


def concatenation(xs, axis):
    """The arrays ``xs`` joined along ``axis``."""
    xs = [np.asarray(x) for x in xs]
    return np.concatenate(xs, axis=_axis(axis, xs[0].ndim))
