"""The fused numba kernels (fixedrnn.fused) equal the cells composed of the ops' references
(fixedrnn.rnn / fixedrnn.lstm, NumPy path) on random models: the last hidden state, 0 LSB."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine_models import model_cases
from fixedrnn import fused, lstm, rnn

SETTINGS = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
@pytest.mark.parametrize("weights", ["int8", "pot"])
@SETTINGS
@given(data=st.data())
def test_fused_equals_reference_cell(cell, weights, data):
    model, xs = data.draw(model_cases(cell=cell, weights=weights, per_channel=False, max_frames=30))
    params = model.prepared.cell
    composed = rnn.run_rnn if cell == "rnn" else lstm.run_lstm
    run_fused = fused.run_rnn if cell == "rnn" else fused.run_lstm
    want, _ = composed(params, xs, "numpy")
    np.testing.assert_array_equal(run_fused(params, xs, False), want)
    if weights == "pot":
        np.testing.assert_array_equal(run_fused(params, xs, True), want)


@SETTINGS
@given(case=model_cases(cell="rnn", weights="int8", per_channel=True, max_frames=30))
def test_fused_per_channel_rnn_equals_reference(case):
    model, xs = case
    np.testing.assert_array_equal(fused.run_rnn(model.prepared.cell, xs, False),
                                  rnn.run_rnn(model.prepared.cell, xs, "numpy")[0])
