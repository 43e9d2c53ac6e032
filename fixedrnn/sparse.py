"""Sparse storage of a weight matrix (compressed rows): what the engine and the firmware compute on
for a model whose ``weights.storage`` is ``"sparse"`` (docs/compression.md).

A matrix ``W`` int8 ``[rows, n_in]`` (an LSTM's four gates one after the other: ``rows = 4H``) is
held as

- ``values`` int8 ``[nnz]``: its nonzero weights, row by row, in column order within a row;
- ``columns`` uint8 ``[nnz]``: the column (input index) of each value, absolute, 0 .. n_in − 1;
- ``row_start`` uint16 ``[rows + 1]``: row r's values are ``values[row_start[r] : row_start[r + 1]]``
  (``row_start[0] = 0``, ``row_start[rows] = nnz``); an empty row (all its weights 0) is allowed
  and gives the bias alone.

Bounds (:func:`check`, one line naming the tensor): ``n_in ≤ 256`` (a column fits uint8), ``nnz ≤
65535`` (an offset fits uint16), ``nnz ≥ 1`` (C has no zero-length array). Flash bytes:
``2 · nnz + 2 · (rows + 1)`` (:func:`flash_bytes`): fewer than int8's ``rows · n_in`` when the
density is below about one half.

The arithmetic is the dense FC's with the zero terms left out: ``acc[r] = Σ_k values[k] · (x[columns[k]]
− z)`` over row r's k, an exact integer equal to ``Σ_j W[r, j] · (x[j] − z)``.
"""

from dataclasses import dataclass

import numpy as np

from fixedrnn.errors import FixedRnnError

MAX_COLUMNS = 256  # columns are uint8
MAX_NONZEROS = 65535  # row offsets are uint16
#: C element types of the three arrays (fixedrnn.layout, fixedrnn/c/frnn_sparse.h).
C_TYPES = {"values": "int8_t", "columns": "uint8_t", "row_start": "uint16_t"}


@dataclass(frozen=True, eq=False)
class SparseMatrix:
    """``values`` int8 ``[nnz]``, ``columns`` uint8 ``[nnz]``, ``row_start`` uint16 ``[rows + 1]``
    (module doc) of a ``[rows, n_in]`` matrix."""

    values: np.ndarray
    columns: np.ndarray
    row_start: np.ndarray
    n_in: int

    @property
    def rows(self):
        return self.row_start.size - 1

    @property
    def nnz(self):
        return self.values.size

    def arrays(self):
        """``{"values": ..., "columns": ..., "row_start": ...}`` (the keys of :data:`C_TYPES`)."""
        return {"values": self.values, "columns": self.columns, "row_start": self.row_start}

    def to_dense(self):
        """The int8 ``[rows, n_in]`` matrix."""
        out = np.zeros((self.rows, self.n_in), np.int8)
        rows = np.repeat(np.arange(self.rows), np.diff(self.row_start.astype(np.int64)))
        out[rows, self.columns.astype(np.int64)] = self.values
        return out


def as_rows(weight):
    """``weight`` (int8 ``[..., n_in]``) as a ``[rows, n_in]`` matrix (leading axes flattened)."""
    weight = np.asarray(weight)
    return weight.reshape(-1, weight.shape[-1])


def check(weight, name="weight"):
    """``FixedRnnError`` naming ``name`` unless ``weight`` (int8 ``[..., n_in]``) fits the sparse
    format's bounds (module doc)."""
    rows = as_rows(weight)
    if rows.shape[1] > MAX_COLUMNS:
        raise FixedRnnError(f"{name}: sparse storage holds at most {MAX_COLUMNS} columns (uint8 indices), "
                            f"got {rows.shape[1]} inputs")
    nnz = int(np.count_nonzero(rows))
    if nnz == 0:
        raise FixedRnnError(f"{name}: every weight is 0; sparse storage needs at least one nonzero weight")
    if nnz > MAX_NONZEROS:
        raise FixedRnnError(f"{name}: {nnz} nonzero weights; sparse storage holds at most {MAX_NONZEROS} "
                            f"(uint16 row offsets)")


def from_dense(weight, name="weight"):
    """The :class:`SparseMatrix` of ``weight`` (int8 ``[..., n_in]``; checked by :func:`check`)."""
    check(weight, name)
    rows = as_rows(weight)
    r, c = np.nonzero(rows)  # row-major: row by row, columns ascending
    row_start = np.zeros(rows.shape[0] + 1, np.int64)
    np.cumsum(np.count_nonzero(rows, axis=1), out=row_start[1:])
    return SparseMatrix(values=rows[r, c].astype(np.int8), columns=c.astype(np.uint8),
                        row_start=row_start.astype(np.uint16), n_in=rows.shape[1])


def flash_bytes(weight):
    """Flash bytes of ``weight``'s sparse storage: 2 · nnz + 2 · (rows + 1)."""
    rows = as_rows(weight)
    return 2 * int(np.count_nonzero(rows)) + 2 * (rows.shape[0] + 1)


def density(weights):
    """Nonzero weights / all weights of the arrays ``weights`` together (a float in [0, 1])."""
    total = sum(np.asarray(w).size for w in weights)
    return sum(int(np.count_nonzero(w)) for w in weights) / total if total else 1.0
