"""CMSIS-DSP arithmetic of the front end (real FFT, sqrt, log, divide) against the cmsisdsp oracle."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

cmsisdsp = pytest.importorskip("cmsisdsp")

from fixedrnn.frontend.cmsis_fft import RfftTables, bit_reversal, rfft_q15, rfft_q31  # noqa: E402
from fixedrnn.frontend.cmsis_int import clz32, wrap16, wrap32  # noqa: E402
from fixedrnn.frontend.cmsis_math import (  # noqa: E402
    divide_q15,
    divide_q31,
    log_q31,
    sqrt_initial_lut_q31,
    sqrt_q31,
)

LENGTHS = (128, 256, 512, 1024)
LUT = sqrt_initial_lut_q31()


def _rfft(samples, tables, precision):
    n = tables.fft_length
    work = np.empty(n, dtype=np.int64)
    out = np.empty(n + 2, dtype=np.int64)
    if precision == "q15":
        rfft_q15(samples.astype(np.int64), work, out, tables.twiddle_q15, tables.coef_a_q15,
                 tables.coef_b_q15, tables.modifier, tables.bit_reversal, None)
    else:
        rfft_q31(samples.astype(np.int64), work, out, tables.twiddle_q31, tables.coef_a_q31,
                 tables.coef_b_q31, tables.modifier, tables.bit_reversal)
    return out


def _oracle_rfft(samples, precision):
    n = samples.size
    if precision == "q15":
        inst = cmsisdsp.arm_rfft_instance_q15()
        assert cmsisdsp.arm_rfft_init_q15(inst, n, 0, 1) == 0
        return np.asarray(cmsisdsp.arm_rfft_q15(inst, samples))[: n + 2]
    inst = cmsisdsp.arm_rfft_instance_q31()
    assert cmsisdsp.arm_rfft_init_q31(inst, n, 0, 1) == 0
    return np.asarray(cmsisdsp.arm_rfft_q31(inst, samples))[: n + 2]


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("precision", ["q15", "q31"])
def test_rfft_bit_exact_random_full_scale(n, precision):
    rng = np.random.default_rng(n)
    tables = RfftTables(n)
    dtype, lo, hi = (np.int16, -(2**15), 2**15) if precision == "q15" else (np.int32, -(2**31), 2**31)
    for trial in range(40):
        scale = 2.0 ** rng.uniform(0, 1) if trial % 2 else 1.0
        samples = (rng.integers(lo, hi, n) / scale).astype(dtype)
        np.testing.assert_array_equal(_rfft(samples, tables, precision), _oracle_rfft(samples, precision))


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("precision", ["q15", "q31"])
def test_rfft_bit_exact_extremes(n, precision):
    tables = RfftTables(n)
    info = np.iinfo(np.int16 if precision == "q15" else np.int32)
    cases = [np.full(n, info.max), np.full(n, info.min), np.zeros(n), np.tile([info.max, info.min], n // 2)]
    impulse = np.zeros(n)
    impulse[3] = info.max
    cases.append(impulse)
    for samples in cases:
        samples = samples.astype(info.dtype)
        np.testing.assert_array_equal(_rfft(samples, tables, precision), _oracle_rfft(samples, precision))


def test_bit_reversal_is_a_permutation_of_bit_reversed_indices():
    rev = bit_reversal(8)
    assert rev.tolist() == [0, 4, 2, 6, 1, 5, 3, 7]


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_sqrt_q31_matches_arm_sqrt_q31(x):
    status, expected = cmsisdsp.arm_sqrt_q31(x)
    assert sqrt_q31(x, LUT) == expected


def test_sqrt_q31_edges():
    for x in [0, 1, 2, 3, 4, 2**29, 2**30 - 1, 2**30, 2**31 - 1, -5]:
        assert sqrt_q31(x, LUT) == cmsisdsp.arm_sqrt_q31(x)[1]


def test_sqrt_lut_formula_starts_at_one_quarter():
    # entry 0 is 1/sqrt(0.25)/8 = 0.25 in q31 exactly
    assert LUT[0] == 2**29 and LUT.size == 32


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(2**31), 2**31 - 1), min_size=1, max_size=16))
def test_log_q31_matches_arm_vlog_q31(values):
    arr = np.array(values, dtype=np.int32)
    expected = cmsisdsp.arm_vlog_q31(arr)
    assert [log_q31(int(v)) for v in arr] == list(expected)


def test_log_q31_of_zero_is_the_wrapped_value():
    # CMSIS computes (0 - (32 << 26)) in int32, which wraps to -2**31: ln(0) -> -0x58B90BFB
    assert log_q31(0) == -0x58B90BFB == cmsisdsp.arm_vlog_q31(np.zeros(1, np.int32))[0]


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 32767))
def test_divide_q15_matches_arm_divide_q15(den):
    status, quotient, shift = cmsisdsp.arm_divide_q15(32767, den)
    assert divide_q15(32767, den) == (quotient, shift)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 2**31 - 1))
def test_divide_q31_matches_arm_divide_q31(den):
    status, quotient, shift = cmsisdsp.arm_divide_q31(2**31 - 1, den)
    assert divide_q31(2**31 - 1, den) == (quotient, shift)


@given(st.integers(-(2**40), 2**40))
def test_wraps_keep_the_low_bits(x):
    assert wrap16(x) == int(np.array(x, dtype=np.int64).astype(np.int16))
    assert wrap32(x) == int(np.array(x, dtype=np.int64).astype(np.int32))


@given(st.integers(0, 2**32 - 1))
def test_clz32(x):
    assert clz32(x) == 32 - x.bit_length()


def test_lockstep_sqrt_and_log_equal_the_oracle():
    from fixedrnn.frontend.cmsis_math import log_q31_many, sqrt_q31_many

    rng = np.random.default_rng(9)
    values = np.concatenate([rng.integers(0, 2**31, 300), 2 ** rng.integers(0, 31, 50), [0, 1, 2**31 - 1, -7]])
    values = values.astype(np.int64)
    out = np.empty_like(values)
    sqrt_q31_many(values, LUT, out, np.empty_like(values), np.empty_like(values))
    assert out.tolist() == [cmsisdsp.arm_sqrt_q31(int(v))[1] for v in values]
    log_q31_many(values, out, np.empty_like(values), np.empty_like(values))
    assert out.tolist() == list(cmsisdsp.arm_vlog_q31(values.astype(np.int32)))
