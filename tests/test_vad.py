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
    # (level, threshold, hang, spread, floor) per frame, floor and spread << 8:
    # 0: (0, 10, 0, 0, 0)          1: (0, 10, 0, 0, 0)
    # 2: (50, 10, 2, 0, 256)       loud
    # 3: (7, 10, 2, 896, 512)      not loud, kept (7 > 5): spread += (1792 - 0) >> 1
    # 4: (6, 13, 2, 1216, 768)     threshold 10 + (4 * 3 >> 2); kept; spread += (1536 - 896) >> 1
    # 5: (-3, 14, 1, 992, 256)     not kept: hangover counts down; spread += (768 - 1216) >> 1; floor -= 512
    # 6: (-101, 13, 0, 13424, -256)  |level| feeds the spread
    # 7: (1, 62, 0, 6840, 0)       spread += (256 - 13424) >> 1 = -6584
    cfg = VadConfig(margin=10, spread_gain=4, keep_margin=5, hangover=2, spread_shift=1, spread_start=0, rise=256,
                    fall=512)
    raw, active, vad = run(cfg, [0, 0, 50, 8, 8, 0, -100, 0])
    assert raw == [False, False, True, False, False, False, False, False]
    assert active == [False, False, True, True, True, True, False, False]
    assert (vad.floor, vad.spread, vad.hang) == (0, 6840, 0)


def test_spread_raises_the_threshold():
    # a noise swinging by +-200 around 0: with spread_gain 8 its spread (~200) adds ~400 to the
    # margin, so a frame 500 above the floor is not loud; without the spread term it is
    swing = [0] + [200, -200] * 200 + [500]
    raw, _, vad = run(VadConfig(margin=280, spread_gain=8, spread_start=0), swing)
    assert not any(raw) and 195 <= vad.spread >> FLOOR_FRAC <= 205
    raw, _, _ = run(VadConfig(margin=280, spread_gain=0, spread_start=0), swing)
    assert raw[-1] and not any(raw[:-1])


def test_floor_is_a_running_median_not_a_minimum():
    # two quiet frames and one loud frame in three: the floor stays at the quiet level (the median);
    # with fall = 2 rise it settles at the lower third, with rise = 2 fall above the median
    energies = [0, 0, 1000] * 300
    _, _, vad = run(VadConfig(rise=256, fall=256), energies)
    assert 0 <= vad.floor <= 256
    _, _, vad = run(VadConfig(rise=256, fall=128), [0, 1000] * 300)
    assert vad.floor >> FLOOR_FRAC >= 150


def test_keep_margin_holds_a_segment_open_and_hangover_counts_down():
    cfg = VadConfig(margin=100, spread_gain=0, keep_margin=50, hangover=3, rise=0, fall=0)
    _, active, _ = run(cfg, [0, 200, 60, 60, 60, 60, 40, 40, 40, 40, 60])
    # opened by 200, held by the 60s (> 50), then 3 frames of hangover, and 60 alone opens nothing
    assert active == [False] + [True] * 5 + [True, True, False, False, False]


def test_margin_is_strict_and_first_frame_sets_the_floor():
    raw, _, _ = run(VadConfig(margin=100, spread_gain=0, rise=0, fall=0), [500, 600, 601])
    assert raw == [False, False, True]


def test_frame_energy_q31_is_q8_7():
    mfcc = np.array([[-3 << 16, 5], [(7 << 16) + 65535, 0]], np.int32)
    np.testing.assert_array_equal(frame_energy(mfcc, "q31"), [-3, 7])
    np.testing.assert_array_equal(frame_energy(np.array([[-9, 1]], np.int16), "q15"), [-9])


@pytest.mark.parametrize("field,value", [("margin", -1), ("hangover", 0), ("spread_shift", 17), ("rise", 1.5),
                                         ("spread_gain", 256), ("keep_margin", 2**15), ("fall", -1),
                                         ("spread_start", -1)])
def test_bad_config_names_the_field(field, value):
    with pytest.raises(FixedRnnError, match=f"vad.{field}"):
        VadConfig(**{field: value})


def test_spread_starts_high_and_comes_down():
    # spread_start 100: the first frames need 10 + 100 above the floor; the spread then decays
    # toward the noise's deviation (0 here) by half per frame (spread_shift 1)
    cfg = VadConfig(margin=10, spread_gain=4, keep_margin=5, hangover=1, spread_shift=1, spread_start=100, rise=0,
                    fall=0)
    raw, _, vad = run(cfg, [0, 50, 0, 0, 0, 0, 50])
    # spread (<< 8) after each frame: 12800, 12800 (|level| 50 = spread), 6400, 3200, 1600, 800, 800;
    # thresholds 110, 60, 60, 35, 22, 16, 13: the same 50 that was not loud at frame 1 is at frame 6
    assert raw == [False, False, False, False, False, False, True]
    assert vad.spread == 800
