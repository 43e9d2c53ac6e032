"""Engine entry points: no silent int32 overflow on any backend (TFLM agrees up to the int32 edge),
argument errors."""

import dataclasses

import numpy as np
import pytest

from engine_models import random_model, random_sequences
from fixedrnn import engine
from fixedrnn.errors import FixedRnnError

pytest.importorskip("tflite_micro")
from fixedrnn.tflm_runner import TflmRunner  # noqa: E402

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def backends(model):
    return ("numpy", "numba", "shift") if model.weights == "pot" else ("numpy", "numba")


def exact_products(x, weight, zero_point):
    """Per row o: (min, max) over every input vector v of Σ_j W[o, j]·(v[j] − z), in Python ints."""
    rows = [[int(w) for w in row] for row in np.asarray(weight).reshape(-1, weight.shape[-1])]
    vectors = [[int(v) - int(zero_point) for v in vec] for vec in np.asarray(x).reshape(-1, x.shape[-1])]
    sums = [[sum(w * v for w, v in zip(row, vec)) for vec in vectors] for row in rows]
    return [min(s) for s in sums], [max(s) for s in sums]


def with_input_bias(model, bias):
    """``model`` with the cell's input-FC bias replaced (shape as stored, clipped to int32)."""
    bias = np.clip(np.asarray(bias, np.int64), INT32_MIN, INT32_MAX)
    if model.cell == "rnn":
        fc = dataclasses.replace(model.rnn.input_fc, bias=np.asarray(bias, np.int32))
        return dataclasses.replace(model, rnn=dataclasses.replace(model.rnn, input_fc=fc))
    cell = dataclasses.replace(model.lstm, bias=np.asarray(bias, np.int32).reshape(4, -1))
    return dataclasses.replace(model, lstm=cell)


def input_weight(model):
    return model.rnn.input_fc.weight if model.cell == "rnn" else model.lstm.input_weight


@pytest.mark.parametrize("cell,weights", [("rnn", "int8"), ("rnn", "pot"), ("lstm", "int8"),
                                          ("lstm", "pot")])
def test_accumulator_up_to_the_int32_edge_matches_tflm_and_one_past_it_raises(cell, weights):
    model = random_model(seed=21, cell=cell, weights=weights, n_in=5, units=6, n_cls=3, frames=7)
    xs = random_sequences(seed=21, batch=3, frames=7, n_in=5)
    low, high = exact_products(xs, input_weight(model), model.input.zero_point)
    # Each row's largest accumulator is exactly INT32_MAX (or, second case, its smallest INT32_MIN),
    # unless the bias that takes it there is not an int32 itself
    for edge_bias in ([INT32_MAX - h for h in high], [INT32_MIN - lo for lo in low]):
        edge = with_input_bias(model, edge_bias)
        ref = TflmRunner(edge)(xs)
        for backend in backends(model):
            np.testing.assert_array_equal(edge.run_features_batch(xs, backend=backend), ref, backend)
    over = [INT32_MAX - h for h in high]
    row = int(np.argmax(high))
    assert high[row] > 0  # so the bias below is still an int32
    over[row] += 1  # this row reaches 2**31 on its largest input: C would wrap
    bad = with_input_bias(model, over)
    for backend in backends(model):
        with pytest.raises(FixedRnnError, match=rf"^{cell}\.input_fc: the accumulator .* overflows int32"):
            bad.run_features_batch(xs, backend=backend)
    with pytest.raises(FixedRnnError, match="overflow"):
        engine.run_features_batch(bad, xs, backend="numpy", trace=True)


def _with_mul(model, name, shift):
    cell = dataclasses.replace(model.lstm, **{name: (2**30, shift)})
    return dataclasses.replace(model, lstm=cell)


def overflowing_requantizations():
    """(description, model, tensor name): a positive shift large enough to overflow x · 2**shift."""
    rnn = random_model(seed=22, cell="rnn", weights="pot", per_channel=True, n_in=4, units=5,
                       frames=6, wide=True)
    lstm = random_model(seed=23, cell="lstm", weights="pot", n_in=4, units=5, frames=6, wide=True)
    big = np.full_like(rnn.head.shift, 30)
    yield "head", dataclasses.replace(rnn, head=dataclasses.replace(rnn.head, shift=big)), "head"
    fc = dataclasses.replace(rnn.rnn.recurrent_fc, shift=np.full_like(rnn.rnn.recurrent_fc.shift, 30))
    yield ("rnn recurrent", dataclasses.replace(rnn, rnn=dataclasses.replace(rnn.rnn, recurrent_fc=fc)),
           "rnn.input_fc|rnn.recurrent_fc")
    yield "lstm output_mul", _with_mul(lstm, "output_mul", 30), "lstm.output_mul"
    yield "lstm input_mul", _with_mul(lstm, "input_mul", 30), "lstm.input_mul"


@pytest.mark.parametrize("case", list(overflowing_requantizations()), ids=lambda c: c[0])
def test_requantization_overflow_raises_on_every_backend(case):
    _, model, names = case
    xs = random_sequences(seed=24, batch=2, frames=model.frames, n_in=model.n_features)
    for backend in backends(model):
        with pytest.raises(FixedRnnError, match=rf"^({names}): the requantization input"):
            model.run_features_batch(xs, backend=backend)


def test_argument_errors():
    model = random_model(seed=25, cell="lstm", weights="int8", n_in=3, units=4, n_cls=2, frames=5)
    xs = random_sequences(seed=25, batch=2, frames=5, n_in=3)
    with pytest.raises(FixedRnnError, match="backend 'shift' needs a power-of-two model"):
        model.run_features_batch(xs, backend="shift")
    with pytest.raises(FixedRnnError, match="backend must be one of"):
        model.run_features_batch(xs, backend="gpu")
    with pytest.raises(FixedRnnError, match=r"x must be int8 \[B, T, 3\]"):
        model.run_features_batch(xs.astype(np.int16))
    with pytest.raises(FixedRnnError, match="trace=True needs backend='numpy'"):
        model.run_features(xs[0], trace=True, backend="numba")
