"""Pruning of a float model (:mod:`fixedrnn.convert`'s ``FloatRnn`` / ``FloatLstm`` and ``FloatHead``),
before conversion: unstructured magnitude pruning and structured pruning of hidden units.

- :func:`prune_magnitude`: sets the smallest-magnitude weights to 0 — ``round(sparsity · N)`` of
  the N weights of each matrix (``scope="layer"``: the cell's input and recurrent matrices and the
  head's, each on its own) or of all three together (``scope="global"``). Biases are kept. Ties in
  |w| are broken by position (row-major, the earlier pruned first), so the result is deterministic.
- :func:`prune_units`: keeps the ``keep`` hidden units of largest :func:`unit_scores` (``norm`` "l1",
  "l2" or "linf" of every weight attached to the unit: its rows of the input and recurrent matrices
  (every gate of an LSTM), its column of the recurrent matrix and of the head) and removes the others
  with their biases: a genuinely smaller float model (H = ``keep``), in the original unit order.

Float arrays are float64. Bad arguments raise :class:`fixedrnn.errors.FixedRnnError` naming them.
"""

from dataclasses import replace

import numpy as np

from fixedrnn.convert import FloatHead, FloatLstm, FloatRnn
from fixedrnn.errors import FixedRnnError

SCOPES = ("layer", "global")
NORMS = ("l1", "l2", "linf")


def _cell(params):
    if not isinstance(params, (FloatRnn, FloatLstm)):
        raise FixedRnnError(f"params must be a FloatRnn or FloatLstm, got {type(params).__name__}")
    return np.asarray(params.w_x, np.float64), np.asarray(params.w_h, np.float64)


def _keep_largest(magnitudes, sparsity):
    """Boolean masks (one per array of ``magnitudes``) keeping all but the round(sparsity · N) smallest
    values of their concatenation (ties: the earlier position pruned first)."""
    flat = np.concatenate([m.ravel() for m in magnitudes])
    n_prune = int(np.floor(sparsity * flat.size + 0.5))
    keep = np.ones(flat.size, bool)
    keep[np.argsort(flat, kind="stable")[:n_prune]] = False
    out, start = [], 0
    for m in magnitudes:
        out.append(keep[start:start + m.size].reshape(m.shape))
        start += m.size
    return out


def prune_magnitude(params, head, sparsity, scope="layer"):
    """``(params, head)`` with the smallest-magnitude weights set to 0 (module doc); ``sparsity`` in
    [0, 1), ``scope`` "layer" or "global"."""
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) or not 0 <= sparsity < 1:
        raise FixedRnnError(f"sparsity must be a number in [0, 1), got {sparsity!r}")
    if scope not in SCOPES:
        raise FixedRnnError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    w_x, w_h = _cell(params)
    w_head = np.asarray(head.w, np.float64)
    weights = [w_x, w_h, w_head]
    if scope == "global":
        masks = _keep_largest([np.abs(w) for w in weights], sparsity)
    else:
        masks = [_keep_largest([np.abs(w)], sparsity)[0] for w in weights]
    w_x, w_h, w_head = (np.where(mask, w, 0.0) for w, mask in zip(weights, masks))
    return replace(params, w_x=w_x, w_h=w_h), replace(head, w=w_head)


def unit_scores(params, head, norm="l2"):
    """float64 ``[H]``: the ``norm`` of each hidden unit's weights (module doc)."""
    if norm not in NORMS:
        raise FixedRnnError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")
    w_x, w_h = _cell(params)
    gates = w_x.ndim == 3  # LSTM: [4, H, ...]
    units = w_h.shape[-1]
    parts = [w_x.swapaxes(0, 1).reshape(units, -1) if gates else w_x,
             w_h.swapaxes(0, 1).reshape(units, -1) if gates else w_h,
             np.moveaxis(w_h, -1, 0).reshape(units, -1),
             np.asarray(head.w, np.float64).T]
    attached = np.abs(np.concatenate(parts, axis=1))
    if norm == "l1":
        return attached.sum(axis=1)
    if norm == "l2":
        return np.sqrt((attached**2).sum(axis=1))
    return attached.max(axis=1)


def prune_units(params, head, keep, norm="l2"):
    """The float model with only the ``keep`` hidden units of largest :func:`unit_scores` (ties: the
    earlier unit kept), in their original order: ``(params, head)`` with H = ``keep``."""
    w_x, w_h = _cell(params)
    units = w_h.shape[-1]
    if isinstance(keep, bool) or not isinstance(keep, (int, np.integer)) or not 1 <= keep <= units:
        raise FixedRnnError(f"keep must be an integer in 1..{units} (the units kept), got {keep!r}")
    scores = unit_scores(params, head, norm)
    kept = np.sort(np.argsort(-scores, kind="stable")[:int(keep)])
    b = np.asarray(params.b, np.float64)
    if w_x.ndim == 3:
        cell = FloatLstm(w_x[:, kept], w_h[:, kept][:, :, kept], b[:, kept])
    else:
        cell = FloatRnn(w_x[kept], w_h[kept][:, kept], b[kept])
    return cell, FloatHead(np.asarray(head.w, np.float64)[:, kept], np.asarray(head.b, np.float64))
