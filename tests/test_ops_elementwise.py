"""ADD s8, ADD s16 saturating and MUL (fixedrnn.ops.elementwise) against Python integers, and MUL's
requantization overflow, equal on the reference and the numba implementation."""

from types import SimpleNamespace

import numpy as np
import pytest

from fixedrnn import fixedpoint
from fixedrnn.errors import FixedRnnError
from fixedrnn.ops import elementwise

mbqm = lambda x, m, s: int(fixedpoint.multiply_by_quantized_multiplier(x, m, s))


@pytest.mark.parametrize("run", [elementwise.add_s8_reference, elementwise.add_s8_numba])
def test_add_s8_equals_python_integers(run):
    add = SimpleNamespace(input1_multiplier=1518500250, input1_shift=-1, input2_multiplier=2**30,
                          input2_shift=0, output_multiplier=1771674012, output_shift=-19,
                          output_zero_point=-5)
    params = elementwise.prepare_add_s8(add, 3, -9)
    a = np.arange(-128, 128)
    b = a[::-1]
    want = [min(127, max(-128, -5 + mbqm(mbqm((int(u) - 3) << 20, 1518500250, -1)
                                        + mbqm((int(v) + 9) << 20, 2**30, 0), 1771674012, -19)))
            for u, v in zip(a, b)]
    np.testing.assert_array_equal(run(params, a, b), want)


@pytest.mark.parametrize("run", [elementwise.add_s16_saturating_reference,
                                 elementwise.add_s16_saturating_numba])
def test_add_s16_saturates(run):
    got = run(None, np.array([32767, -32768, 100, -5]), np.array([1, -1, -300, 5]))
    assert got.dtype == np.int16 and got.tolist() == [32767, -32768, -200, 0]


@pytest.mark.parametrize("run", [elementwise.mul_reference, elementwise.mul_numba])
def test_mul_equals_python_integers_and_refuses_overflow(run):
    params = elementwise.prepare_mul((1207959552, -17), 4, -128, 127)
    a = np.array([-32768, -32768, 32767, 1234, 0])
    b = np.array([-32768, 32767, 32767, -4321, 9])
    want = [min(127, max(-128, 4 + mbqm(int(u) * int(v), 1207959552, -17))) for u, v in zip(a, b)]
    np.testing.assert_array_equal(run(params, a, b), want)
    shifted = elementwise.prepare_mul((2**30, 2), 0, -32768, 32767)
    with pytest.raises(FixedRnnError, match=r"^lstm.output_mul: the requantization input"):
        run(shifted, np.array([32767]), np.array([32767]), "lstm.output_mul")
