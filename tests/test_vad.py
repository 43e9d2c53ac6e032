"""fixedrnn.vad: the rule of docs/streaming.md on sequences worked out by hand."""

import numpy as np
import pytest

from fixedrnn.errors import FixedRnnError
from fixedrnn.vad import FLOOR_FRAC, Vad, VadConfig, frame_energy


def run(config, energies):
    vad = Vad(config)
    flags = [vad.update(e) for e in energies]
    return [r for r, _ in flags], [a for _, a in flags], vad


def test_hand_worked_sequence():
    # floor (<< 8): 0, 0, +12800>>2=3200, +9600>>2 → 5600, −5600>>1 → 2800, 1400, 700
    raw, active, vad = run(VadConfig(margin=10, hangover=2, fall_shift=1, rise_shift=2),
                           [0, 0, 50, 50, 0, 0, 0])
    assert raw == [False, False, True, True, False, False, False]
    assert active == [False, False, True, True, True, False, False]
    assert vad.floor == 700


def test_floor_follows_down_with_arithmetic_shift():
    # d = −1 >> 2 = −1 (floor division): the floor reaches a quieter level exactly
    vad = Vad(VadConfig(fall_shift=2))
    vad.update(-1000)
    for _ in range(200):
        vad.update(-2000)
    assert vad.floor == -2000 << FLOOR_FRAC


def test_margin_is_strict_and_first_frame_sets_the_floor():
    raw, _, _ = run(VadConfig(margin=100, rise_shift=16), [500, 600, 601])
    assert raw == [False, False, True]


def test_frame_energy_q31_is_q8_7():
    mfcc = np.array([[-3 << 16, 5], [(7 << 16) + 65535, 0]], np.int32)
    np.testing.assert_array_equal(frame_energy(mfcc, "q31"), [-3, 7])
    np.testing.assert_array_equal(frame_energy(np.array([[-9, 1]], np.int16), "q15"), [-9])


@pytest.mark.parametrize("field,value", [("margin", -1), ("hangover", 0), ("fall_shift", 17), ("rise_shift", 1.5)])
def test_bad_config_names_the_field(field, value):
    with pytest.raises(FixedRnnError, match=f"vad.{field}"):
        VadConfig(**{field: value})
