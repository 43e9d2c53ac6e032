"""fixedrnn.pot_pairs: the firmware's power-of-two weight bytes and pair table, against the model
file's packed codes (fixedrnn.quant) decoded independently."""

import numpy as np
import pytest

from fixedrnn import pot_pairs, quant
from fixedrnn.errors import FixedRnnError


def test_every_pair_of_valid_codes_is_one_window_of_the_sequence():
    seq = pot_pairs.sequence()
    assert seq.size == pot_pairs.TABLE_ENTRIES == 15 * 15 + 1
    windows = {(int(a), int(b)) for a, b in zip(seq[:-1], seq[1:])}
    assert len(windows) == seq.size - 1
    assert windows == {(a, b) for a in pot_pairs.VALID_CODES for b in pot_pairs.VALID_CODES}


def test_table_is_int16_weights_and_fits_the_tiny_budget_margin():
    table = pot_pairs.table()
    assert np.array_equal(table, quant.pot_decode(pot_pairs.sequence()))
    assert table.min() >= -64 and table.max() <= 64
    assert 2 * table.size <= 512  # half the 1,024 bytes of a table of all 256 byte values


def test_encoded_bytes_give_both_weights_as_the_lanes_of_one_word():
    """The firmware's view: the little-endian int32 at table + index (int16 units) of byte i holds
    element 2i's weight in its low half and element 2i+1's in its high half."""
    rng = np.random.default_rng(3)
    codes = rng.choice(np.array(pot_pairs.VALID_CODES), 1001)
    encoded = pot_pairs.encode(quant.pot_pack(codes))
    memory = pot_pairs.table().astype("<i2").tobytes()
    weights = quant.pot_decode(codes)
    for i, j in enumerate(encoded.tolist()):
        word = int.from_bytes(memory[2 * j: 2 * j + 4], "little")
        low, high = (word & 0xFFFF) - ((word & 0x8000) << 1), (word >> 16) - ((word & 0x80000000) >> 15)
        assert low == weights[2 * i]
        if 2 * i + 1 < codes.size:
            assert high == weights[2 * i + 1]
        else:
            assert high == 0  # the padding nibble of an odd count


def test_code_8_is_rejected():
    with pytest.raises(FixedRnnError, match="code 8"):
        pot_pairs.encode(np.array([0x80], np.uint8))
