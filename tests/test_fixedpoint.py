"""fixedpoint primitives against exact arithmetic (Python ints and fractions.Fraction)."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from fixedrnn import fixedpoint as fp
from fixedrnn.errors import FixedRnnError

INT32 = st.integers(fp.INT32_MIN, fp.INT32_MAX)
MULTIPLIER = st.integers(0, fp.INT32_MAX)
NORMAL_MULTIPLIER = st.integers(2**30, fp.INT32_MAX)


def round_half_away(q: Fraction) -> int:
    """Exact round half away from zero of a rational."""
    n = math.floor(abs(q) + Fraction(1, 2))
    return n if q >= 0 else -n


def exact_srdhm(a, b):
    if a == b == fp.INT32_MIN:
        return fp.INT32_MAX
    return math.floor(Fraction(a * b, 2**31) + Fraction(1, 2))  # ties toward +infinity


def exact_mbqm(x, multiplier, shift):
    """The mathematically defined double rounding: round at 2**31, then round at 2**-shift."""
    left, right = max(shift, 0), max(-shift, 0)
    first = exact_srdhm(x * 2**left, multiplier)
    return round_half_away(Fraction(first, 2**right))


def exact_quantize_multiplier(real: float):
    """Independent derivation from the exact rational value of the double ``real``."""
    if real == 0:
        return 0, 0
    r = Fraction(real)
    shift = 0
    while r >= Fraction(2) ** shift:
        shift += 1
    while r < Fraction(2) ** (shift - 1):
        shift -= 1
    m = round_half_away(r * Fraction(2) ** (31 - shift))
    if m == 2**31:
        m, shift = 2**30, shift + 1
    if shift < -31:
        return 0, 0
    return m, shift


# --- quantize_multiplier ------------------------------------------------------------------------


@given(st.floats(min_value=0, max_value=2.0**40, allow_nan=False, allow_infinity=False))
@example(0.0)
@example(1.0)
@example(0.5)
@example(2.0**-31)
@example(2.0**-32)
@example(2.0**-33)
@example(1.0 - 2.0**-40)  # rounds up to 2**31 and is renormalised
@example(float(np.nextafter(2.0**-32, 0)))
@example(5e-324)
def test_quantize_multiplier_matches_exact_derivation(real):
    m, shift = fp.quantize_multiplier(real)
    assert (m, shift) == exact_quantize_multiplier(real)
    if m == 0:
        assert real < 2.0**-32 + 2.0**-64 or real == 0
        return
    assert 2**30 <= m < 2**31
    # reconstruction within half a unit in the last place of the multiplier
    error = abs(Fraction(m) * Fraction(2) ** (shift - 31) - Fraction(real))
    assert error <= Fraction(2) ** (shift - 32)
    assert error <= Fraction(real) * Fraction(1, 2**31) * 2


@pytest.mark.parametrize("k", range(-31, 32))
def test_quantize_multiplier_exact_powers_of_two(k):
    assert fp.quantize_multiplier(2.0**k) == (2**30, k + 1)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), -1.0, -1e-30, "x", None])
def test_quantize_multiplier_rejects(bad):
    with pytest.raises(FixedRnnError, match="real"):
        fp.quantize_multiplier(bad)


# --- saturating_rounding_doubling_high_mul, rounding_divide_by_pot ---------------------------------


@given(INT32, INT32)
@example(fp.INT32_MIN, fp.INT32_MIN)
@example(fp.INT32_MIN, fp.INT32_MAX)
@example(1 << 30, 1)
@example(-(1 << 30), 1)
def test_srdhm_exact(a, b):
    assert int(fp.saturating_rounding_doubling_high_mul(a, b)) == exact_srdhm(a, b)


@given(INT32, st.integers(0, 31))
@example(-5, 1)
@example(5, 1)
@example(fp.INT32_MIN, 31)
@example(fp.INT32_MAX, 31)
def test_rounding_divide_by_pot_exact(x, e):
    assert int(fp.rounding_divide_by_pot(x, e)) == round_half_away(Fraction(x, 2**e))


# --- multiply_by_quantized_multiplier ---------------------------------------------------------------


@settings(max_examples=500)
@given(INT32, MULTIPLIER, st.integers(-31, 0))
def test_mbqm_right_shifts_exact(x, multiplier, shift):
    assert int(fp.multiply_by_quantized_multiplier(x, multiplier, shift)) == exact_mbqm(x, multiplier, shift)


@given(st.integers(0, 31), MULTIPLIER, st.data())
def test_mbqm_left_shifts_exact(shift, multiplier, data):
    bound = fp.INT32_MAX >> shift
    x = data.draw(st.integers(-bound - 1, bound))
    assume(fp.INT32_MIN <= x * 2**shift <= fp.INT32_MAX)
    assert int(fp.multiply_by_quantized_multiplier(x, multiplier, shift)) == exact_mbqm(x, multiplier, shift)


@given(st.lists(INT32, min_size=1, max_size=20), st.lists(st.tuples(NORMAL_MULTIPLIER, st.integers(-31, 0)),
                                                             min_size=1, max_size=20))
def test_mbqm_vectorised_and_per_channel(xs, params):
    n = min(len(xs), len(params))
    x = np.array(xs[:n], dtype=np.int32)
    m = np.array([p[0] for p in params[:n]], dtype=np.int32)
    s = np.array([p[1] for p in params[:n]], dtype=np.int32)
    out = fp.multiply_by_quantized_multiplier(x, m, s)
    assert out.dtype == np.int32
    assert out.tolist() == [exact_mbqm(int(a), int(b), int(c)) for a, b, c in zip(x, m, s)]


def test_mbqm_refuses_overflowing_left_shift():
    with pytest.raises(FixedRnnError, match="overflows int32"):
        fp.multiply_by_quantized_multiplier(1 << 20, 1 << 30, 12)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(x=1.5, multiplier=1 << 30, shift=0), "x"),
        (dict(x=1, multiplier=-1, shift=0), "multiplier"),
        (dict(x=1, multiplier=1 << 30, shift=-32), "shift"),
        (dict(x=1, multiplier=1 << 30, shift=0.5), "shift"),
        (dict(x=2**31, multiplier=1 << 30, shift=0), "x"),
        (dict(x=np.array([True]), multiplier=1 << 30, shift=0), "x"),
    ],
)
def test_mbqm_rejects_bad_arguments(kwargs, name):
    with pytest.raises(FixedRnnError, match=name):
        fp.multiply_by_quantized_multiplier(**kwargs)


# --- shift-only requantizer ----------------------------------------------------------------------


@given(INT32, st.integers(-31, 31))
@example(5, -1)
@example(-5, -1)
@example(-6, -2)
@example(fp.INT32_MIN, -31)
@example(fp.INT32_MAX, 31)
def test_shift_round_exact(x, shift):
    expected = x * 2**shift if shift >= 0 else math.floor(Fraction(x, 2**-shift) + Fraction(1, 2))
    out = fp.shift_round(x, shift)
    assert out.dtype == np.int64
    assert int(out) == expected


def test_shift_round_ties_go_up():
    out = fp.shift_round(np.array([-3, -2, -1, 1, 2, 3], dtype=np.int32), -1)
    assert out.tolist() == [-1, -1, 0, 1, 1, 2]


# --- saturating casts ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype, lo, hi", [(np.int8, -128, 127), (np.int16, -32768, 32767),
                                            (np.int32, fp.INT32_MIN, fp.INT32_MAX)])
@given(values=st.lists(st.integers(-(2**62), 2**62), min_size=1, max_size=30))
def test_saturate(dtype, lo, hi, values):
    out = fp.saturate(np.array(values, dtype=np.int64), dtype)
    assert out.dtype == dtype
    assert out.tolist() == [min(max(v, lo), hi) for v in values]


def test_saturate_named_helpers():
    x = np.array([-(2**40), -129, 5, 128, 2**40])
    assert fp.saturate_int8(x).tolist() == [-128, -128, 5, 127, 127]
    assert fp.saturate_int16(x).tolist() == [-32768, -129, 5, 128, 32767]
    assert fp.saturate_int32(x).tolist() == [fp.INT32_MIN, -129, 5, 128, fp.INT32_MAX]


def test_saturate_rejects_floats_and_bad_dtype():
    with pytest.raises(FixedRnnError, match="x must hold integers"):
        fp.saturate_int8(np.array([1.0]))
    with pytest.raises(FixedRnnError, match="dtype"):
        fp.saturate(np.array([1]), np.int64)


# --- numba twins == NumPy ----------------------------------------------------------------------


@settings(max_examples=300)
@given(INT32, INT32, st.integers(0, 31))
def test_numba_twins_equal_numpy(a, b, e):
    assert fp.saturating_rounding_doubling_high_mul_nb(a, b) == int(fp.saturating_rounding_doubling_high_mul(a, b))
    assert fp.rounding_divide_by_pot_nb(a, e) == int(fp.rounding_divide_by_pot(a, e))
    assert fp.shift_round_nb(a, -e) == int(fp.shift_round(a, -e))
    assert fp.shift_round_nb(a, e) == int(fp.shift_round(a, e))
    assert fp.clamp_nb(a, -128, 127) == int(fp.saturate_int8(a))


@settings(max_examples=300)
@given(INT32, MULTIPLIER, st.integers(-31, 31))
def test_numba_mbqm_equals_numpy(x, multiplier, shift):
    if fp.INT32_MIN <= x * 2 ** max(shift, 0) <= fp.INT32_MAX:
        assert fp.multiply_by_quantized_multiplier_nb(x, multiplier, shift) == int(
            fp.multiply_by_quantized_multiplier(x, multiplier, shift))
    else:
        with pytest.raises(FixedRnnError, match="overflows int32"):
            fp.multiply_by_quantized_multiplier_nb(x, multiplier, shift)
