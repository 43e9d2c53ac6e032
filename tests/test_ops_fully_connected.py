"""FULLY_CONNECTED, REQUANTIZE and the PoT MAC (fixedrnn.ops): the reference against Python integers,
and the int32 overflow errors, equal on the reference and the numba implementation."""

import numpy as np
import pytest

from fixedrnn import fixedpoint
from fixedrnn.errors import FixedRnnError
from fixedrnn.ops import fully_connected, pot, requantize
from fixedrnn.quant import pot_decode


def test_reference_equals_python_integers():
    rng = np.random.default_rng(1)
    w = rng.integers(-127, 128, (6, 9))
    bias = rng.integers(-2**16, 2**16, 6)
    m, s = rng.integers(2**30, 2**31, 6), rng.integers(-20, -5, 6)
    x = rng.integers(-128, 128, (5, 9))
    params = fully_connected.prepare(w, bias, m, s, -7, 3, -128, 127, "fc")
    want = [[min(127, max(-128, 3 + int(fixedpoint.multiply_by_quantized_multiplier(
        int(bias[o]) + sum(int(w[o, j]) * (int(x[b, j]) + 7) for j in range(9)), int(m[o]), int(s[o])))))
        for o in range(6)] for b in range(5)]
    np.testing.assert_array_equal(fully_connected.reference(params, x), want)
    np.testing.assert_array_equal(fully_connected.run_numba(params, x), want)


def test_pot_tables_encode_the_weights():
    codes = np.array([[0, 1, 7, 9], [15, 3, 0, 12]])
    w = pot_decode(codes)
    shift, nonzero, negative = pot.shift_masks(w)
    decoded = np.where(nonzero != 0, (1 << shift) * np.where(negative != 0, -1, 1), 0)
    np.testing.assert_array_equal(decoded, w)
    with pytest.raises(FixedRnnError, match="not a power-of-two weight"):
        pot.shift_masks(np.array([[3]]))


@pytest.mark.parametrize("run", [fully_connected.reference, fully_connected.run_numba,
                                 fully_connected.run_numba_pot])
def test_accumulator_and_requantization_overflow_messages(run):
    w = np.array([[64, 64], [0, 1]])
    x = np.array([[127, 127]], np.int8)  # row 0 sums 2 · 64 · 254 = 32512
    edge = fully_connected.prepare(w, [2**31 - 1 - 32512, 0], 2**30, -1, -127, 0, -128, 127, "t", True)
    assert run(edge, x).shape == (1, 2)
    over = fully_connected.prepare(w, [2**31 - 32512, 0], 2**30, -1, -127, 0, -128, 127, "t", True)
    with pytest.raises(FixedRnnError, match=r"^t: the accumulator .* overflows int32"):
        run(over, x, "t")
    shifted = fully_connected.prepare(w, [0, 0], 2**30, 18, -127, 0, -128, 127, "t", True)
    with pytest.raises(FixedRnnError, match=r"^t: the requantization input .* overflows int32"):
        run(shifted, x, "t")


@pytest.mark.parametrize("run", [requantize.reference, requantize.run_numba])
def test_requantize_overflow_message(run):
    params = requantize.prepare(2**30, 12, 0, -128, 127, 1)
    assert run(params, np.array([[2**18]]))[0, 0] == 127
    with pytest.raises(FixedRnnError, match=r"^q: the requantization input"):
        run(params, np.array([[2**19]]), "q")
