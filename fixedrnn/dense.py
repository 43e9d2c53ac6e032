"""The head: TFLM int8 FULLY_CONNECTED on the last hidden state, and argmax.

``h`` int8 ``[B, H]`` (zero point ``hidden_zero_point``) → logits int8 ``[B, C]``:
``clamp(z_out + MBQM(bias + W·(h − z_h), m, s), −128, 127)`` per tensor or per channel. The
prediction is the first index of the maximum logit (``numpy.argmax``). Backends form the same
accumulator three ways (:mod:`fixedrnn.kernels`): ``"numpy"`` int64, ``"numba"`` exact float64 BLAS,
``"shift"`` shift-and-add (power-of-two weights); requantization is shared. Overflow raises
``FixedRnnError`` naming ``head``.
"""

import numpy as np

from fixedrnn import kernels, overflow

NAME = "head"


def head_accumulate(head, h, hidden_zero_point, backend="numpy"):
    """Exact int64 accumulator ``[B, C]`` of the head (checked to fit int32)."""
    kernels.check_backend(backend)
    overflow.check_product_headroom(head.weight, NAME)
    h = np.asarray(h)
    if backend == "numpy":
        return kernels.fc_accumulate(h, head.weight, hidden_zero_point, head.bias, NAME)
    if backend == "numba":
        wt = np.asarray(head.weight, np.float64).T
        return kernels.fc_accumulate_exact_float(h, wt, hidden_zero_point, head.bias, NAME)
    shift, sign = kernels.pot_shift_tables(head.weight)
    acc = np.empty((h.shape[0], head.weight.shape[0]), np.int64)
    bias = head.bias if head.bias is not None else np.zeros(head.weight.shape[0], np.int32)
    kernels.pot_shift_accumulate_nb(np.ascontiguousarray(h, np.int8), int(hidden_zero_point),
                                    np.ascontiguousarray(shift), np.ascontiguousarray(sign),
                                    np.asarray(bias, np.int64), head.bias is not None, acc)
    return overflow.check_accumulator(acc, NAME)


def run_head(head, h, hidden_zero_point, backend="numpy"):
    """Logits int8 ``[B, C]`` of the head (every backend gives the same integers)."""
    acc = head_accumulate(head, h, hidden_zero_point, backend)
    return kernels.requantize(acc, head.multiplier, head.shift, head.output_zero_point, -128, 127,
                              NAME).astype(np.int8)


def predict(logits):
    """Index of the first maximal logit along the last axis."""
    return np.argmax(np.asarray(logits), axis=-1)
