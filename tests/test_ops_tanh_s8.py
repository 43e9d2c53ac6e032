"""TANH s8 (fixedrnn.ops.tanh_s8, gemmlowp's tanh) against TFLM's int8 TANH op on all 256 inputs, and
gemmlowp's fixed-point tanh and constants against their real-valued definitions."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixedrnn import convert, gemmlowp
from fixedrnn.ops import tanh_s8

pytest.importorskip("tflite_micro")
from tflite_micro.python.tflite_micro import runtime  # noqa: E402

from fixedrnn.tflite_export import _Graph, _schema  # noqa: E402


def tflm_tanh_int8(scale, zero_point):
    s = _schema()
    g = _Graph(s)
    x = g.tensor("x", (1, 256), np.int8, scale, zero_point)
    y = g.tensor("y", (1, 256), np.int8, 1.0 / 128, 0)
    g.op(s.BuiltinOperator.TANH, [x], [y])
    interp = runtime.Interpreter.from_bytes(g.finish([x], [y], "tanh"), arena_size=16 * 1024)
    interp.set_input(np.arange(-128, 128, dtype=np.int8)[None], 0)
    interp.invoke()
    return np.asarray(interp.get_output(0)).reshape(-1)


@settings(max_examples=25, deadline=None)
@given(log_scale=st.floats(math.log(1e-4), math.log(2.0)), zero_point=st.integers(-128, 127))
def test_int8_tanh_equals_tflm_on_all_256_inputs(log_scale, zero_point):
    scale = float(np.float32(math.exp(log_scale)))
    p = convert.tanh_params(scale)
    ours = tanh_s8.lookup(tanh_s8.prepare(zero_point, p), np.arange(-128, 128))
    np.testing.assert_array_equal(ours, tflm_tanh_int8(scale, zero_point))


def test_gemmlowp_tanh_is_close_to_tanh():
    worst = 0.0
    for raw in range(-(2**31), 2**31 - 1, 2**31 // 5000):
        value = raw / 2**27
        worst = max(worst, abs(gemmlowp.tanh(raw, 4) / 2**31 - math.tanh(value)))
    assert worst < 2**-20


def test_gemmlowp_constants_from_their_formulas():
    """The raws of gemmlowp's documented constants, e.g. exp(-1/8) in Q0.31 and 48/17 in Q2.29."""
    assert gemmlowp.constant(math.exp(-1 / 8), 0) == round(math.exp(-1 / 8) * 2**31)
    assert gemmlowp.constant(48 / 17, 2) == round(48 / 17 * 2**29)
    assert gemmlowp.exp_on_negative_values(0, 5) == 2**31 - 1
