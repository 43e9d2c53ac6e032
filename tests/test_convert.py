"""convert: TFLM's integer derivations checked in exact arithmetic; kernels' accumulators agree."""

from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fixedrnn import convert
from fixedrnn.fixedpoint import quantize_multiplier
from fixedrnn.ops import fully_connected
from fixedrnn.ops.pot import pot_shift_tables

scales = st.floats(1e-5, 10.0).map(lambda v: float(np.float32(v)))


@settings(max_examples=200, deadline=None)
@given(s_in=scales, s_w=scales, s_out=scales)
def test_short_scales_make_the_float32_product_exact(s_in, s_w, s_out):
    a, b = float(convert.short_scale(s_in)), float(convert.short_scale(s_w))
    assert Fraction(float(np.float32(a) * np.float32(b))) == Fraction(a) * Fraction(b)
    m, s = convert.fc_multiplier(a, [b], s_out)
    real = Fraction(a) * Fraction(b) / Fraction(float(np.float32(s_out)))
    if m[0]:
        approx = Fraction(int(m[0])) * Fraction(2) ** (int(s[0]) - 31)
        assert abs(approx - real) <= real / 2**30


@settings(max_examples=100, deadline=None)
@given(scale=st.floats(1e-4, 4.0))
def test_tanh_radius_is_the_floor_of_15_over_the_input_scale(scale):
    p = convert.tanh_params(scale)
    exact = Fraction(15 * 2**27) / Fraction(2) ** p.input_shift
    assert p.input_range_radius == int(exact)  # floor for positive values
    assert 2**30 <= p.input_multiplier < 2**31


def test_add_params_follow_tflm_formula():
    p = convert.add_params(0.02, 0.05, 0.03, 4)
    assert (p.input1_multiplier, p.input1_shift) == quantize_multiplier(
        float(np.float32(0.02)) / (2 * float(np.float32(0.05))))
    assert (p.output_multiplier, p.output_shift) == quantize_multiplier(
        2 * float(np.float32(0.05)) / (2**20 * float(np.float32(0.03))))


def test_cell_scale_power_is_the_smallest_that_fits():
    assert convert.cell_scale_power(1.0) == -14  # 32767 * 2**-15 < 1 <= 32767 * 2**-14
    assert convert.cell_scale_power(4.0) == -12
    assert convert.cell_scale_power(1e-6) == -15 and convert.cell_scale_power(1e9) == 0
    for v in (1.0, 4.0, 100.0):
        p = convert.cell_scale_power(v)
        assert 32767 * 2.0**p >= v > 32767 * 2.0 ** (p - 1)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), zero_point=st.integers(-128, 127))
def test_three_accumulators_agree(seed, zero_point):
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (5, 9)).astype(np.int8)
    w = (rng.choice([0, 1, 2, 4, 8, 16, 32, 64], (7, 9)) * rng.choice([-1, 1], (7, 9))).astype(np.int8)
    b = rng.integers(-2**20, 2**20, 7).astype(np.int32)
    exact = np.array([[int(b[o]) + sum(int(w[o, j]) * (int(x[i, j]) - zero_point) for j in range(9))
                       for o in range(7)] for i in range(5)])
    np.testing.assert_array_equal(fully_connected.fc_accumulate(x, w, zero_point, b), exact)
    np.testing.assert_array_equal(
        fully_connected.fc_accumulate_exact_float(x, w.T.astype(np.float64), zero_point, b), exact)
    shift, sign = pot_shift_tables(w)
    np.testing.assert_array_equal(fully_connected.fc_accumulate_pot_shift(x, shift, sign, zero_point, b), exact)
