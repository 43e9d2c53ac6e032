"""The prepare stage: a model's op parameters are built once and every inference call uses them."""

import numpy as np
import pytest

from engine_models import random_model, random_sequences
from fixedrnn import prepare
from fixedrnn.errors import FixedRnnError
from fixedrnn.lstm import GateParameters, InterGateParameters, LstmParams
from fixedrnn.rnn import RnnParams


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_prepared_once_for_every_call(cell, monkeypatch):
    calls = []
    real = prepare.prepare_model
    monkeypatch.setattr(prepare, "prepare_model", lambda m: calls.append(m) or real(m))
    model = random_model(seed=31, cell=cell, weights="pot", n_in=4, units=5, frames=6)
    xs = random_sequences(seed=31, batch=4, frames=6, n_in=4)
    first = model.prepared
    for backend in ("numpy", "numba", "shift"):
        for _ in range(2):
            model.run_features_batch(xs, backend=backend)
    model.run_features(xs[0], trace=True)
    model.features(np.zeros(100, np.int16))
    model.run_batch([np.zeros(3000, np.int16), np.ones(50, np.int16)])
    assert model.prepared is first
    assert calls == [model]
    assert first.silent_features is first.silent_features


def test_typed_blocks_of_the_lstm():
    model = random_model(seed=32, cell="lstm", n_in=3, units=4, frames=5)
    p = model.prepared.cell
    assert isinstance(p, LstmParams) and len(p.gates) == 4
    assert all(isinstance(g, GateParameters) for g in p.gates)
    assert isinstance(p.inter_gate, InterGateParameters)
    assert p.gates[0].activation is p.gates[1].activation is p.gates[3].activation  # one sigmoid LUT
    assert p.inter_gate.output_mul.zero_point == model.lstm.hidden_zero_point
    assert p.gates[1].input_fc.weight.shape == (4, 3) and not p.gates[1].input_fc.weight.flags.writeable
    assert isinstance(random_model(seed=33).prepared.cell, RnnParams)


def test_headroom_is_checked_at_prepare_time():
    import dataclasses

    model = random_model(seed=34, n_in=3, units=4, frames=5)
    wide = np.full((4, 70000), 127, np.int8)
    fc = dataclasses.replace(model.rnn.input_fc, weight=wide)
    bad = dataclasses.replace(model, rnn=dataclasses.replace(model.rnn, input_fc=fc))
    with pytest.raises(FixedRnnError, match="^rnn.input_fc: too many inputs per row"):
        prepare.prepare_model(bad)


def test_evaluate_prepares_once_for_all_batches(tmp_path, monkeypatch):
    import scipy.io.wavfile

    from fixedrnn import evaluate, signals
    from throwaway_models import random_model as digit_model

    calls = []
    real = prepare.prepare_model
    monkeypatch.setattr(prepare, "prepare_model", lambda m: calls.append(m) or real(m))
    pcm = signals.generate(next(s for s in signals.STANDARD_SIGNALS if s.n >= 2000))
    paths = []
    for digit in range(10):
        paths.append(tmp_path / f"{digit}_alice_0.wav")
        scipy.io.wavfile.write(paths[-1], 8000, np.roll(pcm, 101 * digit))
    model = digit_model(cell="rnn", weights="pot", units=6, frames=10, seed=5)
    for backend in ("numba", "shift"):
        result = evaluate.evaluate_model(model, paths, split="all", backend=backend, batch_size=3)
        assert result.n == 10
    assert calls == [model]
