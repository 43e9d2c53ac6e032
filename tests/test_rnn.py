"""Vanilla RNN engine against TFLite Micro (exported graph), and its backends against each other."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine_models import model_cases

pytest.importorskip("tflite_micro")
from fixedrnn.tflm_runner import TflmRunner  # noqa: E402

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_against_tflm(model, xs):
    ref = model.run_features_batch(xs, backend="numpy")
    assert ref.dtype == np.int8
    np.testing.assert_array_equal(TflmRunner(model, xs.shape[1])(xs), ref)
    np.testing.assert_array_equal(model.run_features_batch(xs, backend="numba"), ref)
    if model.weights == "pot":
        np.testing.assert_array_equal(model.run_features_batch(xs, backend="shift"), ref)
    return ref


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("weights", ["int8", "pot"])
@SETTINGS
@given(data=st.data())
@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_rnn_matches_tflm(weights, per_channel, data):
    model, xs = data.draw(model_cases(cell="rnn", weights=weights, per_channel=per_channel))
    check_against_tflm(model, xs)


@SETTINGS
@given(case=model_cases(cell="rnn", weights="pot", per_channel=True))
def test_pot_decoded_as_int8_model_is_identical(case):
    """The shift-only path on PoT codes equals the int8 path on the decoded int8 weights."""
    from fixedrnn.model import Model

    model, xs = case
    arrays = model.to_arrays()
    as_int8 = {k: v for k, v in arrays.items() if not k.endswith(".pot")}
    as_int8["weights"] = np.array("int8")
    for key, fc in (("rnn.input_fc", model.rnn.input_fc), ("rnn.recurrent_fc", model.rnn.recurrent_fc),
                    ("head", model.head)):
        as_int8[f"{key}.weight"] = fc.weight
    int8_model = Model.from_arrays(as_int8)
    np.testing.assert_array_equal(model.run_features_batch(xs, backend="shift"),
                                  int8_model.run_features_batch(xs, backend="numpy"))


def test_trace_has_every_step_and_ends_in_the_logits():
    from engine_models import random_model, random_sequences

    model = random_model(seed=3, cell="rnn", n_in=5, units=7, n_cls=3, frames=9, wide=True)
    x = random_sequences(seed=3, batch=1, frames=9, n_in=5)[0]
    logits, trace = model.run_features(x, trace=True)
    assert set(trace) == {"input_fc", "recurrent_fc", "add", "hidden", "logits"}
    for key in ("input_fc", "recurrent_fc", "add", "hidden"):
        assert trace[key].shape == (9, 7) and trace[key].dtype == np.int8
    np.testing.assert_array_equal(trace["logits"], logits)
    # the head applied to the traced last hidden state gives the logits (checked in TFLM too)
    np.testing.assert_array_equal(TflmRunner(model)(x[None])[0], logits)
