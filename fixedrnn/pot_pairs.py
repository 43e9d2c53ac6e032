"""The firmware's form of power-of-two weights: one byte per two weights, an index into a pair table.

The model file packs two 4-bit codes per byte (:func:`fixedrnn.quant.pot_pack`). The firmware's FC
needs, per byte, the two int8 weights as the two int16 lanes of an SMLAD operand, in one load. A
table of the 256 byte values would take 1,024 bytes of flash; instead the exporter writes each byte
as an index i into :func:`table`, an int16 sequence in which every ordered pair of weights occurs once
as neighbours (a de Bruijn sequence of order 2 over the 15 valid codes): the little-endian word at
``table + i`` (int16 units) holds the low nibble's weight in its low half and the high nibble's in
its high half. 226 entries, 452 bytes. The multiply-free kernel reads the same weights.

Formats: :func:`sequence` int64 codes ``[TABLE_ENTRIES]``; :func:`table` int64 weights (int16
values, ``[TABLE_ENTRIES]``); :func:`byte_index` int64 ``[256]``; :func:`encode` uint8, the shape of
its input.
"""

import numpy as np

from fixedrnn import quant
from fixedrnn.errors import FixedRnnError

__all__ = ["TABLE_ENTRIES", "VALID_CODES", "byte_index", "encode", "sequence", "table"]

#: The codes a model may hold: 0 … 15 without 8 (negative zero).
VALID_CODES = tuple(c for c in range(16) if c != 8)
#: k² windows of a cyclic de Bruijn sequence over k symbols, plus its first symbol repeated.
TABLE_ENTRIES = len(VALID_CODES) ** 2 + 1


def sequence():
    """Codes whose ``TABLE_ENTRIES − 1`` neighbouring pairs are every ordered pair of valid codes once:
    the concatenation, in lexicographic order, of the Lyndon words of length 1 and 2 (``a``, then
    ``a b`` for every b > a), which is a cyclic de Bruijn sequence of order 2, then its first symbol
    again to close the cycle."""
    symbols = []
    k = len(VALID_CODES)
    for a in range(k):
        symbols.append(a)
        for b in range(a + 1, k):
            symbols += [a, b]
    symbols.append(symbols[0])
    return np.asarray(VALID_CODES, np.int64)[symbols]


def table():
    """The int8 weight (:func:`fixedrnn.quant.pot_decode`) of each code of :func:`sequence`."""
    return quant.pot_decode(sequence()).astype(np.int64)


def byte_index():
    """For each byte b of packed codes (low nibble: the even element), the i with
    ``sequence()[i] == b & 15`` and ``sequence()[i + 1] == b >> 4``; −1 for a byte holding code 8."""
    seq = sequence()
    index = np.full(256, -1, np.int64)
    for i in range(TABLE_ENTRIES - 1):
        index[int(seq[i]) | (int(seq[i + 1]) << 4)] = i
    return index


def encode(packed):
    """The firmware bytes of packed codes (uint8, any shape): each byte's :func:`byte_index`."""
    packed = np.asarray(packed)
    index = byte_index()[packed.astype(np.int64)]
    if np.any(index < 0):
        raise FixedRnnError("packed power-of-two codes hold code 8 (negative zero), which is invalid")
    return index.astype(np.uint8)
