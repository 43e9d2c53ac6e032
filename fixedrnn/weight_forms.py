"""The weight form of a model: which int8 levels its weights may take, how the converter picks them,
and how the firmware stores them in flash.

Every form's weights are int8 values (zero point 0) that the engine, TFLM and the firmware use as
int8 weights: only the set of levels and the storage differ (docs/compression.md).

- ``"int8"``: levels −127..127; flash: int8, one byte a weight.
- ``"intk"``: symmetric k-bit, k = ``bits`` in 2..8, levels −(2**(k−1) − 1)..2**(k−1) − 1; flash:
  for k ≤ 4 packed two's complement codes of :attr:`WeightForm.flash_code_bits` bits (k = 2: four
  2-bit codes a byte; k = 3, 4: two 4-bit codes a byte, k = 3 in a nibble), for k ≥ 5 int8.
- ``"pot"``: power-of-two, the minifloat e = 3, m = 0 (:mod:`fixedrnn.quant`); the file holds the
  packed 4-bit codes, the flash their pair-table indices (:mod:`fixedrnn.pot_pairs`).
- ``"minifloat"``: sign, e = ``exponent_bits``, m = ``mantissa_bits`` (:func:`fixedrnn.quant.check_minifloat`);
  flash: packed minifloat codes of 2 (1 + e + m ≤ 2) or 4 (≤ 4) bits, decoded by the firmware with
  shifts and adds, else int8.

Storage (``weights.storage``): ``"dense"`` (as above) or ``"sparse"``: compressed rows of the
nonzero int8 levels (:mod:`fixedrnn.sparse`, the int8-stored kinds only: int8, intk, minifloat; the
values stay int8, none packed).

Packed flash codes: :func:`fixedrnn.quant.pack_codes` (element i of the row-major matrix at bits
``b · (i mod 8/b)`` of byte ``i div 8/b``), ``ceil(N · b / 8)`` bytes for N weights.
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np

from fixedrnn import quant
from fixedrnn.errors import FixedRnnError
from fixedrnn.schema import INT8_STORED_KINDS, STORAGES, WEIGHT_KINDS

#: Which parameter fields each kind takes.
PARAMETERS = {"int8": (), "pot": (), "intk": ("bits",), "minifloat": ("exponent_bits", "mantissa_bits")}
#: The model file's parameter keys (fixedrnn.schema) and the :class:`WeightForm` field each holds.
FORM_KEYS = {"weights.bits": "bits", "weights.exponent_bits": "exponent_bits",
             "weights.mantissa_bits": "mantissa_bits"}
#: The model file's optional storage key (absent: ``"dense"``).
STORAGE_KEY = "weights.storage"


@dataclass(frozen=True)
class WeightForm:
    """``kind`` (one of :data:`fixedrnn.schema.WEIGHT_KINDS`) and its parameters: ``bits`` (intk),
    ``exponent_bits`` and ``mantissa_bits`` (minifloat); the others None; ``storage`` (one of
    :data:`fixedrnn.schema.STORAGES`). Invalid: ``FixedRnnError``."""

    kind: str = "int8"
    bits: Optional[int] = None
    exponent_bits: Optional[int] = None
    mantissa_bits: Optional[int] = None
    storage: str = "dense"

    def __post_init__(self):
        if self.kind not in WEIGHT_KINDS:
            raise FixedRnnError(f"weights must be one of {', '.join(WEIGHT_KINDS)}, got {self.kind!r}")
        for name in ("bits", "exponent_bits", "mantissa_bits"):
            given = getattr(self, name) is not None
            if given != (name in PARAMETERS[self.kind]):
                raise FixedRnnError(f"{name}: weights '{self.kind}' " + ("takes no " + name if given
                                                                        else f"needs {name}"))
        if self.storage not in STORAGES:
            raise FixedRnnError(f"weights.storage must be one of {', '.join(STORAGES)}, got {self.storage!r}")
        if self.sparse and self.kind not in INT8_STORED_KINDS:
            raise FixedRnnError(f"weights.storage 'sparse': the sparse kernels take int8 levels "
                                f"({', '.join(INT8_STORED_KINDS)}), not weights '{self.kind}'")
        if self.kind == "intk":
            object.__setattr__(self, "bits", quant.check_bits(self.bits))
        elif self.kind == "minifloat":
            e, m = quant.check_minifloat(self.exponent_bits, self.mantissa_bits)
            object.__setattr__(self, "exponent_bits", e)
            object.__setattr__(self, "mantissa_bits", m)

    @classmethod
    def from_arrays(cls, arrays):
        """The form of a model file's ``{key: array}`` mapping (``weights`` and its parameter keys)."""
        params = {field: int(np.asarray(arrays[key]).item()) for key, field in FORM_KEYS.items() if key in arrays}
        storage = str(np.asarray(arrays.get(STORAGE_KEY, "dense")).item())
        return cls(str(np.asarray(arrays["weights"]).item()), **params, storage=storage)

    @property
    def sparse(self):
        """True when the firmware stores the weight matrices as compressed rows (:mod:`fixedrnn.sparse`)."""
        return self.storage == "sparse"

    @property
    def label(self):
        """A short name: ``int8``, ``int4``, ``pot``, ``minifloat e2m1``; ``int8 sparse`` when sparse."""
        sparse = " sparse" if self.sparse else ""
        if self.kind == "intk":
            return f"int{self.bits}{sparse}"
        if self.kind == "minifloat":
            return f"minifloat e{self.exponent_bits}m{self.mantissa_bits}{sparse}"
        return self.kind + sparse

    @property
    def code_bits(self):
        """Bits of information of one weight's code: 8, k, 4 (pot) or 1 + e + m."""
        return {"int8": 8, "pot": 4, "intk": self.bits,
                "minifloat": 1 + (self.exponent_bits or 0) + (self.mantissa_bits or 0)}[self.kind]

    @property
    def flash_code_bits(self):
        """Bits one weight takes in the firmware's flash: 8 (int8), 4 (pot: pair-table indices, two
        weights a byte) or, for intk and minifloat, 2 (code ≤ 2 bits), 4 (≤ 4) or 8 (int8); 8 for
        the nonzero values of sparse storage (their indices aside: :func:`fixedrnn.sparse.flash_bytes`)."""
        if self.kind in ("int8", "pot") or self.sparse:
            return 8 if self.kind == "int8" else 4
        return next(b for b in (2, 4, 8) if self.code_bits <= b)

    @property
    def packed(self):
        """True when the firmware stores packed codes decoded by ``frnn_packed.c`` (intk and
        minifloat at 2 or 4 flash bits)."""
        return self.kind in ("intk", "minifloat") and self.flash_code_bits < 8

    @property
    def top(self):
        """The largest level (int8 units): the scale is ``max|w| / top``."""
        if self.kind == "intk":
            return quant.symmetric_max(self.bits)
        if self.kind == "minifloat":
            return quant.minifloat_top(self.exponent_bits, self.mantissa_bits)
        return quant.POT_TOP_INT8 if self.kind == "pot" else quant.symmetric_max(8)

    def quantize(self, w, scale, axis=None, pot_levels=quant.POT_MAX_LEVELS):
        """int8 levels of float ``w`` at ``scale`` (per tensor, or per slice along ``axis``):
        round half away from zero and clamp (int8, intk), nearest level (pot with ``pot_levels``,
        minifloat; ties to the larger magnitude)."""
        if self.kind == "pot":
            return quant.pot_decode(quant.quantize_pot(w, scale, pot_levels, axis))
        if self.kind == "minifloat":
            return quant.quantize_minifloat(w, scale, self.exponent_bits, self.mantissa_bits, axis)
        return quant.quantize_symmetric(w, scale, axis, self.bits or 8)

    def check_levels(self, values, name="weights"):
        """``FixedRnnError`` naming ``name`` unless every int8 value is a level of this form."""
        values = np.asarray(values, np.int64)
        if self.kind in ("int8", "intk"):
            top = self.top
            bad = np.abs(values) > top
            if np.any(bad):
                raise FixedRnnError(f"{name} must hold {self.label} levels in [-{top}, {top}], got "
                                    f"{int(values[bad].ravel()[0])}")
            return
        try:
            self.minifloat_codes(values)
        except FixedRnnError as exc:
            raise FixedRnnError(f"{name}: {exc}") from None

    def minifloat_codes(self, values):
        """The minifloat codes (pot: e = 3, m = 0) of int8 levels (uint8)."""
        if self.kind == "pot":
            return quant.pot_encode_int8(values)
        return quant.minifloat_encode_int8(values, self.exponent_bits, self.mantissa_bits)

    def flash_codes(self, values):
        """The firmware's :attr:`flash_code_bits`-bit codes of int8 levels (int64, same shape): the
        two's complement of the level (intk) or its minifloat code; only for a :attr:`packed` form."""
        if not self.packed:
            raise FixedRnnError(f"weights {self.label}: the firmware stores no packed codes")
        values = np.asarray(values, np.int64)
        if self.kind == "intk":
            return values & ((1 << self.flash_code_bits) - 1)
        return self.minifloat_codes(values).astype(np.int64)

    def flash_bytes(self, values):
        """The packed flash bytes (uint8) of an int8 level matrix (:func:`fixedrnn.quant.pack_codes`)."""
        return quant.pack_codes(self.flash_codes(values), self.flash_code_bits)

    def flash_count(self, count):
        """Bytes of flash ``count`` weights take in this form's firmware storage."""
        return -(-int(count) * self.flash_code_bits // 8)
