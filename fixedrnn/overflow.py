"""When an int32 (or an int16 intermediate) overflows: the one definition the engine's run-time checks
and the budget's static audit share.

C's int32 arithmetic would wrap (formally undefined) where fixedrnn raises
:class:`fixedrnn.errors.FixedRnnError` naming the tensor. The places an integer can leave its range:
- a fully connected row's running sum of products ``Σ W[o, j]·(x[j] − z)`` (:func:`check_product_headroom`);
- that sum plus the bias (:func:`check_accumulator`);
- requantization's ``x · 2**shift`` for a positive shift (:func:`check_requantize_input`).
"""

import numpy as np

from fixedrnn.errors import FixedRnnError
from fixedrnn.fixedpoint import INT32_MAX, INT32_MIN

MAX_INPUT_OFFSET = 255  # largest |x − z| for int8 x and an int8 zero point

ACCUMULATOR = "the accumulator (bias + Σ W·(x − z))"
REQUANTIZE_INPUT = "the requantization input x · 2**shift"


def overflow_message(name, what, value):
    """The one-line error of an int32 overflow in tensor ``name``."""
    return (f"{name}: {what} overflows int32 (exact value {int(value)}); TFLite Micro would compute "
            f"a wrapped value. The model fails the overflow audit (python -m fixedrnn.budget MODEL)")


def check_product_headroom(weight, name):
    """Raise if the running sum of ``W[o, :] · (x − z)`` could leave int32 for some int8 input."""
    w = np.asarray(weight, np.int64)
    if w.size and MAX_INPUT_OFFSET * int(np.abs(w).sum(axis=-1).max()) > INT32_MAX:
        raise FixedRnnError(f"{name}: too many inputs per row: the int32 sum of products could "
                            f"overflow (255 · Σ|W| > 2**31 − 1)")


def check_accumulator(acc, name):
    """``acc`` (exact int64) if every element fits int32, else ``FixedRnnError`` naming ``name``."""
    if acc.size and (acc.min() < INT32_MIN or acc.max() > INT32_MAX):
        bad = acc.min() if acc.min() < INT32_MIN else acc.max()
        raise FixedRnnError(overflow_message(name, ACCUMULATOR, bad))
    return acc


def check_requantize_input(acc, shift, name):
    """Raise unless ``acc · 2**max(shift, 0)`` fits int32 for every element (``shift`` broadcasts)."""
    acc = np.asarray(acc, np.int64)
    shifted = acc << np.maximum(np.asarray(shift, np.int64), 0)
    if shifted.size and (shifted.min() < INT32_MIN or shifted.max() > INT32_MAX):
        bad = acc.ravel()[np.argmax(np.abs(shifted).ravel())]
        raise FixedRnnError(overflow_message(name, REQUANTIZE_INPUT, bad))
