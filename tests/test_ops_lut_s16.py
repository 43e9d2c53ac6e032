"""LOGISTIC / TANH s16 (fixedrnn.ops.lut_s16) against TFLM's int16 ops on every input, at the LSTM's
scales and others; the sigmoid table read back from TFLM."""

import numpy as np
import pytest

from fixedrnn.errors import FixedRnnError
from fixedrnn.ops import lut_s16

pytest.importorskip("tflite_micro")
from tflite_micro.python.tflite_micro import runtime  # noqa: E402

from fixedrnn.tflite_export import _Graph, _schema  # noqa: E402


def test_sigmoid_table_shape_and_definition():
    table = lut_s16.sigmoid_table_uint16()
    assert table.dtype == np.uint16 and table.shape == (256,)
    assert table[0] == 32768 and table[255] == 65535
    assert np.all(np.diff(table.astype(int)) >= 0)
    exact = 65536 / (1 + np.exp(-np.arange(255) / 24))
    assert np.all(np.abs(table[:255] - exact) <= 1.5)
    # float64 decides every rounding: no value is within 10**-3 LSB of a tie
    values = lut_s16.sigmoid_table_values()
    assert np.min(np.abs(values - np.floor(values) - 0.5)) > 1e-3


def tflm_int16_activation(op_name, input_scale):
    """TFLM's int16 LOGISTIC or TANH op (scale 2**-15, zero points 0) on all 65536 int16 inputs,
    indexed by ``x + 32768``."""
    s = _schema()
    g = _Graph(s)
    x = g.tensor("x", (1, 65536), np.int16, input_scale, 0)
    y = g.tensor("y", (1, 65536), np.int16, 2.0**-15, 0)
    g.op(getattr(s.BuiltinOperator, op_name), [x], [y])
    interp = runtime.Interpreter.from_bytes(g.finish([x], [y], op_name), arena_size=600 * 1024)
    interp.set_input(np.arange(-32768, 32768, dtype=np.int16)[None], 0)
    interp.invoke()
    return np.asarray(interp.get_output(0)).reshape(-1)


ALL_INT16 = np.arange(-32768, 32768)
OTHER_SCALES = [2.0**-15, 2.0**-11, 2.0**-8, 2.0**-3, 1e-4, 3.1e-4, 1.0 / 6144, 0.0123, 0.3]


def test_int16_logistic_equals_tflm_on_every_input():
    """The LSTM's gate sigmoid (Q3.12 input) and the kernel at other input scales: 0 LSB."""
    np.testing.assert_array_equal(lut_s16.lstm_sigmoid(ALL_INT16),
                                  tflm_int16_activation("LOGISTIC", 2.0**-12))
    for scale in OTHER_SCALES:
        m, shift = lut_s16.int16_activation_params(scale, "logistic")
        np.testing.assert_array_equal(lut_s16.logistic_int16(ALL_INT16, m, shift),
                                      tflm_int16_activation("LOGISTIC", scale), err_msg=str(scale))


@pytest.mark.parametrize("power", range(-15, 1))
def test_lstm_tanh_equals_tflm_tanh_on_every_input(power):
    """The LSTM's tanh of an int16 at 2**P (P = -12: the cell gate; any P: the cell state) equals
    TFLM's int16 TANH op at input scale 2**P on all inputs."""
    np.testing.assert_array_equal(lut_s16.lstm_tanh(ALL_INT16, power),
                                  tflm_int16_activation("TANH", 2.0**power))


def test_int16_tanh_equals_tflm_at_other_scales():
    for scale in OTHER_SCALES:
        m, shift = lut_s16.int16_activation_params(scale, "tanh")
        np.testing.assert_array_equal(lut_s16.tanh_int16(ALL_INT16, m, shift),
                                      tflm_int16_activation("TANH", scale), err_msg=str(scale))


def test_sigmoid_table_read_back_from_tflm():
    """Every table entry, read from TFLM's TANH outputs. At input scale float32(1/6144) the kernel
    maps x to 2x (multiplier 16384, shift 13), so x = 128·k lands exactly on entry k and the output
    is ``table[k] − 32768``; entry 255 shows in the interpolation just below saturation
    (x = 32639: 254/256 of the way from entry 254 to 255, rounded down from +1/2)."""
    scale = 1.0 / 6144
    assert lut_s16.int16_activation_params(scale, "tanh") == (16384, 13)
    out = tflm_int16_activation("TANH", scale).astype(np.int64)
    at = lambda x: int(out[x + 32768])
    from_tflm = [at(128 * k) + 32768 for k in range(255)]
    step = at(32639) - at(128 * 254)  # = floor((254 · (t255 − t254) + 128) / 256) = t255 − t254
    from_tflm.append(from_tflm[254] + step)
    np.testing.assert_array_equal(lut_s16.sigmoid_table_uint16(), np.array(from_tflm))


def test_int16_activation_params_power_of_two_rule():
    assert lut_s16.int16_activation_params(2.0**-12, "logistic") == (0, 0)
    assert lut_s16.int16_activation_params(2.0**-11, "tanh") == (0, 1)
    assert lut_s16.int16_activation_params(2.0**-11, "logistic") == (24576, 12)  # 2**-11 · 12288 · 2**12
    assert lut_s16.int16_activation_params(2.0**-12 * 1.0003, "logistic") == (0, 0)  # CheckedLog2
    with pytest.raises(FixedRnnError, match="kind"):
        lut_s16.int16_activation_params(1.0, "relu")
    with pytest.raises(FixedRnnError, match="input_scale"):
        lut_s16.int16_activation_params(0.0, "tanh")


def test_int16_activations_are_monotone_odd_and_accurate():
    x = np.arange(-32768, 32768)
    sig = lut_s16.lstm_sigmoid(x).astype(np.int64)
    tanh = lut_s16.lstm_tanh(x, -12).astype(np.int64)
    assert np.all(np.diff(sig) >= 0) and np.all(np.diff(tanh) >= 0)
    real = x / 4096.0
    assert np.max(np.abs(sig / 32768 - 1 / (1 + np.exp(-real)))) < 2e-4
    assert np.max(np.abs(tanh / 32768 - np.tanh(real))) < 4e-4
    mirrored = lut_s16.lstm_tanh(-x[1:], -12).astype(np.int64)
    assert np.all(np.abs(tanh[1:] + mirrored) <= 1)  # odd, up to the rounding of negatives
