"""The head: TFLM int8 FULLY_CONNECTED on the last hidden state, and argmax.

``h`` int8 ``[B, H]`` (zero point ``hidden_zero_point``) → logits int8 ``[B, C]``; the prediction is
the first index of the maximum logit (``numpy.argmax``).
"""

import numpy as np

from fixedrnn import kernels


def run_head(head, h, hidden_zero_point, backend="numpy"):
    """Logits int8 ``[B, C]`` of the head (any backend gives the same integers)."""
    from fixedrnn.rnn import _Accumulator

    acc = _Accumulator(head, hidden_zero_point, backend)(np.asarray(h))
    if backend == "numpy":
        out = kernels.requantize(acc, head.multiplier, head.shift, head.output_zero_point, -128, 127)
    else:
        out = np.empty(acc.shape, np.int64)
        kernels.requantize_nb(acc, head.multiplier.astype(np.int64), head.shift.astype(np.int64),
                              head.output_zero_point, -128, 127, out)
    return out.astype(np.int8)


def predict(logits):
    """Index of the first maximal logit along the last axis."""
    return np.argmax(np.asarray(logits), axis=-1)
