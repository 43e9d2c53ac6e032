"""TFLM 8x8→16 LSTM engine against TFLite Micro, and its backends against each other."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine_models import model_cases, random_model, random_sequences

pytest.importorskip("tflite_micro")
from fixedrnn.tflm_runner import TflmRunner  # noqa: E402

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("weights", ["int8", "pot"])
@SETTINGS
@given(data=st.data())
def test_lstm_matches_tflm(weights, data):
    model, xs = data.draw(model_cases(cell="lstm", weights=weights, per_channel=False))
    ref = model.run_features_batch(xs, backend="numpy")
    np.testing.assert_array_equal(TflmRunner(model, xs.shape[1])(xs), ref)
    np.testing.assert_array_equal(model.run_features_batch(xs, backend="numba"), ref)
    if weights == "pot":
        np.testing.assert_array_equal(model.run_features_batch(xs, backend="shift"), ref)


def test_saturating_inputs_saturate_the_cell_and_still_match_tflm():
    model = random_model(seed=11, cell="lstm", n_in=6, units=8, n_cls=4, frames=40, wide=True)
    xs = np.full((2, 40, 6), 127, np.int8)
    xs[1] = -128
    logits, trace = model.run_features(xs[0], trace=True)
    assert np.abs(trace["cell"].astype(np.int64)).max() >= 32767 or \
        np.abs(trace["gates"].astype(np.int64)).max() >= 32767
    np.testing.assert_array_equal(TflmRunner(model)(xs), model.run_features_batch(xs, backend="numba"))


def test_trace_shapes_and_state_continuity():
    model = random_model(seed=5, cell="lstm", weights="pot", n_in=4, units=6, n_cls=3, frames=12)
    x = random_sequences(seed=5, batch=1, frames=12, n_in=4)[0]
    logits, trace = model.run_features(x, trace=True)
    assert trace["gates"].shape == (12, 4, 6) and trace["gates"].dtype == np.int16
    assert trace["cell"].shape == (12, 6) and trace["hidden"].dtype == np.int8
    # TFLM's output sequence is the hidden state of every step: the last one feeds the head
    np.testing.assert_array_equal(TflmRunner(model)(x[None])[0], logits)
    # gates are sigmoid/tanh outputs: Q0.15, sigmoid gates non-negative
    assert trace["gates"][:, [0, 1, 3]].min() >= 0


def test_per_channel_lstm_is_refused():
    from fixedrnn import convert as cv
    from fixedrnn.errors import FixedRnnError

    with pytest.raises(FixedRnnError, match="per-tensor"):
        cv.convert(None, None, None, None, None, 1, ["a", "b"],
                   cv.ConvertOptions(cell="lstm", per_channel=True))
