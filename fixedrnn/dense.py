"""The head: FULLY_CONNECTED s8 → s8 on the last hidden state (:mod:`fixedrnn.ops.fully_connected`),
and argmax.

``h`` int8 ``[B, H]`` (zero point ``hidden_zero_point``) → logits int8 ``[B, C]``:
``clamp(z_out + MBQM(bias + W·(h − z_h), m, s), −128, 127)`` per tensor or per channel. The
prediction is the first index of the maximum logit (``numpy.argmax``). Backends form the same
accumulator three ways: ``"numpy"`` int64 (the op's reference), ``"numba"`` exact float64 BLAS (a
sparse model: the op's numba MAC on its compressed rows), ``"shift"`` the op's numba shift-and-add
MAC (power-of-two weights). Overflow raises
``FixedRnnError`` naming ``head``.
"""

from typing import NamedTuple

import numpy as np

from fixedrnn.errors import FixedRnnError
from fixedrnn.ops import fully_connected, requantize
from fixedrnn.ops.fully_connected import FullyConnectedParams

NAME = "head"


class HeadParams(NamedTuple):
    """The prepared head: its ``fc`` and ``weight_t_f64`` float64 ``[H, C]`` (Wᵀ, the BLAS form)."""

    fc: FullyConnectedParams
    weight_t_f64: np.ndarray


def prepare(head, hidden_zero_point, pot_weights, sparse_weights=False):
    """:class:`HeadParams` of a stored :class:`fixedrnn.model.FullyConnected` (headroom checked;
    ``sparse_weights``: the compressed rows too, :mod:`fixedrnn.sparse`)."""
    fc = fully_connected.prepare(head.weight, head.bias, head.multiplier, head.shift, hidden_zero_point,
                                 head.output_zero_point, -128, 127, NAME, pot_weights, sparse_weights)
    return HeadParams(fc, requantize.frozen(np.asarray(head.weight, np.float64).T, np.float64))


def run_head(params, h, backend="numpy"):
    """Logits int8 ``[B, C]`` of the head (every backend gives the same integers). ``h`` must be an
    int8 ``[B, H]`` array: anything else (an int16 hidden vector, a wrong width) raises
    ``FixedRnnError`` naming ``h``."""
    fc = params.fc
    if not isinstance(h, np.ndarray) or h.dtype != np.int8 or h.ndim != 2 or h.shape[1] != fc.weight.shape[1]:
        got = f"{h.dtype} {h.shape}" if isinstance(h, np.ndarray) else type(h).__name__
        raise FixedRnnError(f"h: the head takes an int8 hidden state [B, {fc.weight.shape[1]}], got {got}")
    if backend == "shift":
        return fully_connected.run_numba_pot(fc, h, NAME).astype(np.int8)
    if backend == "numba" and fc.sparse:
        return fully_connected.run_numba(fc, h, NAME).astype(np.int8)  # the numba MAC on the compressed rows
    if backend == "numba":
        acc = fully_connected.fc_accumulate_exact_float(h, params.weight_t_f64, fc.input_zero_point,
                                                        fc.bias, NAME)
        return requantize.reference(fc.requantize, acc, NAME).astype(np.int8)
    return fully_connected.reference(fc, h, NAME).astype(np.int8)


def predict(logits):
    """Index of the first maximal logit along the last axis."""
    return np.argmax(np.asarray(logits), axis=-1)
