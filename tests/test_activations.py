"""int8 TANH (gemmlowp) against TFLM's TANH op on every input; int16 LUT table properties."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixedrnn import activations, convert, gemmlowp

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
    ours = activations.tanh_int8(np.arange(-128, 128), zero_point, p.input_multiplier,
                                 p.input_shift, p.input_range_radius)
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


def test_sigmoid_table_shape_and_definition():
    table = activations.sigmoid_table_uint16()
    assert table.dtype == np.uint16 and table.shape == (256,)
    assert table[0] == 32768 and table[255] == 65535
    assert np.all(np.diff(table.astype(int)) >= 0)
    exact = 65536 / (1 + np.exp(-np.arange(255) / 24))
    assert np.all(np.abs(table[:255] - exact) <= 1.5)


def test_int16_activations_are_monotone_odd_and_accurate():
    x = np.arange(-32768, 32768)
    sig = activations.lstm_sigmoid(x).astype(np.int64)
    tanh = activations.lstm_tanh(x, -12).astype(np.int64)
    assert np.all(np.diff(sig) >= 0) and np.all(np.diff(tanh) >= 0)
    real = x / 4096.0
    assert np.max(np.abs(sig / 32768 - 1 / (1 + np.exp(-real)))) < 2e-4
    assert np.max(np.abs(tanh / 32768 - np.tanh(real))) < 4e-4
    mirrored = activations.lstm_tanh(-x[1:], -12).astype(np.int64)
    assert np.all(np.abs(tanh[1:] + mirrored) <= 1)  # odd, up to the rounding of negatives
