"""Quantizer properties, checked with exact rational arithmetic where a value is compared."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fixedrnn import quant
from fixedrnn.errors import FixedRnnError

FLOATS = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False, width=32)
SCALES = st.floats(min_value=1e-6, max_value=10.0, allow_nan=False, allow_infinity=False)


def exact_round_half_away(q: Fraction) -> int:
    n = math.floor(abs(q) + Fraction(1, 2))
    return n if q >= 0 else -n


def matrices(min_side=1, max_side=6):
    shapes = st.tuples(st.integers(min_side, max_side), st.integers(min_side, max_side))
    return hnp.arrays(np.float64, shapes, elements=FLOATS)


# --- symmetric int8 ------------------------------------------------------------------------------


@given(st.lists(FLOATS, min_size=1, max_size=40), SCALES)
@example(values=[0.5], scale=0.2)  # 0.5 / 0.2 rounds to the float64 2.5, a tie the exact quotient is not
def test_symmetric_codes_are_exact_rounding(values, scale):
    q = quant.quantize_symmetric(np.array(values), scale)
    assert q.dtype == np.int8
    for v, code in zip(values, q.tolist()):
        exact = exact_round_half_away(Fraction(float(v) / float(scale)))  # the rule divides in float64, then rounds exactly
        assert code == max(-127, min(127, exact))
        if abs(Fraction(v)) <= Fraction(scale) * Fraction(255, 2):
            # inside the range: within half a step, plus the float64 division's rounding (relative
            # error at most 2^-53 of the quotient: |v| · 2^-53 once scaled back)
            bound = Fraction(scale) / 2 + abs(Fraction(v)) * Fraction(1, 2**53)
            assert abs(Fraction(code) * Fraction(scale) - Fraction(v)) <= bound


@given(matrices())
def test_symmetric_properties_per_tensor_and_per_channel(w):
    for axis in (None, 0):
        scale = quant.symmetric_scale(w, axis)
        q = quant.quantize_symmetric(w, scale, axis)
        # sign symmetry, saturation at ±127 never beyond, idempotence, monotonicity (per channel)
        assert np.array_equal(quant.quantize_symmetric(-w, scale, axis), -q)
        assert q.min() >= -127
        again = quant.quantize_symmetric(quant.fake_quant_symmetric(w, scale, axis), scale, axis)
        assert np.array_equal(again, q)
        rows = w if axis == 0 else w.reshape(1, -1)
        qrows = q if axis == 0 else q.reshape(1, -1)
        for row, qrow in zip(rows, qrows):
            order = np.argsort(row, kind="stable")
            assert np.all(np.diff(qrow[order].astype(int)) >= 0)
        # the peak of each channel maps to ±127 exactly
        peak = np.max(np.abs(rows), axis=1)
        for row, qrow, p in zip(rows, qrows, peak):
            if p > 0:
                assert np.max(np.abs(qrow.astype(int))) == 127


def test_symmetric_saturates_outside_the_range():
    q = quant.quantize_symmetric(np.array([1e6, -1e6, 127.49, 127.5]), 1.0)
    assert q.tolist() == [127, -127, 127, 127]


def test_symmetric_all_zero_channel_gets_unit_scale():
    w = np.array([[0.0, 0.0], [1.0, -2.0]])
    assert quant.symmetric_scale(w, 0).tolist() == [1.0, 2.0 / 127]


# --- asymmetric activations ---------------------------------------------------------------------


RANGES = st.tuples(st.floats(-100, 100, allow_nan=False), st.floats(-100, 100, allow_nan=False)).map(sorted).filter(
    lambda r: max(r[1], 0) - min(r[0], 0) > 1e-6)


@given(RANGES)
def test_activation_params_nudging(r):
    p = quant.activation_params(*r)
    assert -128 <= p.zero_point <= 127
    lo, hi = min(r[0], 0.0), max(r[1], 0.0)
    assert p.scale == pytest.approx((hi - lo) / 255, rel=1e-15)
    # zero is exactly representable
    assert quant.dequantize_activation(quant.quantize_activation(0.0, p), p) == 0.0
    # the zero point is the float64 value qmin - rmin/scale, rounded half away from zero, clamped
    z = Fraction(-128.0 - lo / p.scale)
    assert p.zero_point == max(-128, min(127, exact_round_half_away(z)))


@given(RANGES, st.lists(st.floats(-300, 300, allow_nan=False), min_size=1, max_size=30))
def test_activation_quantizer_properties(r, values):
    p = quant.activation_params(*r)
    x = np.array(values)
    q = quant.quantize_activation(x, p)
    deq = quant.dequantize_activation(q, p)
    inside = (x >= p.nudged_min) & (x <= p.nudged_max)
    assert np.all(np.abs(deq[inside] - x[inside]) <= p.scale / 2 * (1 + 1e-12))
    assert np.all(q[x > p.nudged_max + p.scale] == 127)
    assert np.all(q[x < p.nudged_min - p.scale] == -128)
    assert np.array_equal(quant.quantize_activation(quant.fake_quant_activation(x, p), p), q)
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(q[order].astype(int)) >= 0)


@pytest.mark.parametrize("args, message", [
    ((0.0, 0.0), "empty"),
    ((1.0, -1.0), "rmin"),
    ((float("nan"), 1.0), "rmin must be finite"),
    ((0.0, float("inf")), "rmax must be finite"),
])
def test_activation_params_rejects(args, message):
    with pytest.raises(FixedRnnError, match=message):
        quant.activation_params(*args)


# --- bias --------------------------------------------------------------------------------------


@given(st.lists(FLOATS, min_size=1, max_size=10), SCALES, SCALES)
def test_bias_exact(values, s_in, s_w):
    q = quant.quantize_bias(np.array(values), s_in, s_w)
    assert q.dtype == np.int32
    for v, code in zip(values, q.tolist()):
        # float64 product of the scales, as documented, then exact rounding of the quotient
        exact = exact_round_half_away(Fraction(v) / Fraction(float(np.float64(s_in) * np.float64(s_w))))
        assert code == max(-(2**31), min(2**31 - 1, exact)) or abs(code - exact) <= 1


def test_bias_saturates_to_int32():
    assert quant.quantize_bias(np.array([1e12, -1e12]), 1e-3, 1e-3).tolist() == [2**31 - 1, -(2**31)]


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan"), float("inf")])
def test_scales_must_be_positive_and_finite(scale):
    with pytest.raises(FixedRnnError, match="scale"):
        quant.quantize_symmetric(np.ones(3), scale)
    with pytest.raises(FixedRnnError, match="input_scale"):
        quant.quantize_bias(np.ones(3), scale, 1.0)
    with pytest.raises(FixedRnnError, match="scale"):
        quant.quantize_pot(np.ones(3), scale)


# --- power-of-two -------------------------------------------------------------------------------


def test_pot_decode_table():
    codes = np.arange(16)
    codes = codes[codes != 8]
    values = quant.pot_decode(codes)
    expected = [0, 64, 32, 16, 8, 4, 2, 1, -64, -32, -16, -8, -4, -2, -1]
    assert values.dtype == np.int8 and values.tolist() == expected
    assert np.array_equal(quant.pot_encode_int8(values), codes)


@pytest.mark.parametrize("bad", [[8], [16], [-1], [1.0]])
def test_pot_codes_out_of_range(bad):
    with pytest.raises(FixedRnnError, match="codes"):
        quant.pot_decode(np.array(bad))


@given(st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=40), SCALES, st.integers(1, 7))
def test_pot_nearest_level_linear(values, scale, levels):
    codes = quant.quantize_pot(np.array(values), scale, levels)
    decoded = quant.pot_decode(codes).astype(int)
    fq = quant.fake_quant_pot(np.array(values), scale, levels)
    candidates = [0] + [s * 2 ** (7 - m) for m in range(1, levels + 1) for s in (1, -1)]
    for v, code, d, f in zip(values, codes.tolist(), decoded.tolist(), fq.tolist()):
        assert (code & 7) <= levels
        # decodes to exactly 0 or ±2**-k · S with S = 64·scale
        assert d == 0 or abs(d) == 2 ** (6 - ((code & 7) - 1))
        assert Fraction(f) == Fraction(d) * Fraction(scale) or f == d * scale
        exact = Fraction(v) / Fraction(scale)
        best = min(abs(exact - c) for c in candidates)
        assert abs(exact - d) == best
        ties = [c for c in candidates if abs(exact - c) == best]
        assert abs(d) == max(abs(c) for c in ties)  # a tie goes to the larger magnitude
        if d != 0:
            assert (d < 0) == (v < 0)


@given(matrices(), st.integers(1, 7))
def test_pot_properties(w, levels):
    for axis in (None, 0):
        scale = quant.pot_scale(w, axis)
        codes = quant.quantize_pot(w, scale, levels, axis)
        assert np.array_equal(quant.pot_decode(quant.quantize_pot(-w, scale, levels, axis)),
                              -quant.pot_decode(codes))
        again = quant.quantize_pot(quant.fake_quant_pot(w, scale, levels, axis), scale, levels, axis)
        assert np.array_equal(again, codes)


@given(st.lists(st.sampled_from([c for c in range(16) if c != 8]), min_size=0, max_size=41))
def test_pot_pack_round_trip(codes):
    codes = np.array(codes, dtype=np.uint8)
    packed = quant.pot_pack(codes)
    assert packed.dtype == np.uint8 and packed.size == (codes.size + 1) // 2
    for i, c in enumerate(codes.tolist()):
        assert (int(packed[i // 2]) >> (4 * (i % 2))) & 15 == c
    assert np.array_equal(quant.pot_unpack(packed, codes.size), codes)


def test_pot_unpack_rejects():
    with pytest.raises(FixedRnnError, match="bytes"):
        quant.pot_unpack(np.zeros(3, np.uint8), 3)
    with pytest.raises(FixedRnnError, match="padding"):
        quant.pot_unpack(np.array([0x11], np.uint8), 1)
    with pytest.raises(FixedRnnError, match="negative zero"):
        quant.pot_unpack(np.array([0x08], np.uint8), 2)
    with pytest.raises(FixedRnnError, match="levels"):
        quant.quantize_pot(np.ones(2), 1.0, levels=8)
