"""tools/make_golden.py: deterministic output, the FSDD selection, the float model's logits."""

import dataclasses
import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fixedrnn import fsdd, golden, model as model_io, signals
from throwaway_models import random_model, save_random_model

REPO = Path(__file__).resolve().parents[1]
TOOL = REPO / "tools" / "make_golden.py"
sys.path.insert(0, str(REPO / "tools"))


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow  # makes a whole golden set twice
def test_output_is_deterministic(tmp_path):
    model_file = save_random_model(tmp_path / "m.npz", cell="rnn", weights="int8", seed=8)
    for out in ("a", "b"):
        result = subprocess.run([sys.executable, str(TOOL), str(model_file), "--no-fsdd", "--quiet",
                                 "--out", str(tmp_path / out)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert "m: 18 inputs" in result.stdout and "no float model" in result.stdout
    for name in (golden.MANIFEST, golden.TENSORS, golden.STEPS):
        assert _digest(tmp_path / "a" / "m" / name) == _digest(tmp_path / "b" / "m" / name)
    gset = golden.load_set(tmp_path / "a" / "m")
    assert [e.name for e in gset.inputs] == [s.name for s in signals.STANDARD_SIGNALS]


def test_bad_input_exits_2(tmp_path):
    result = subprocess.run([sys.executable, str(TOOL), str(tmp_path / "none.npz"), "--no-fsdd"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "none.npz: no such model file" in result.stderr
    assert "Traceback" not in result.stderr


def test_golden_recordings(fsdd_dir):
    import make_golden

    chosen = make_golden.golden_recordings(fsdd_dir)
    assert len(chosen) == 60
    assert {(r.digit, r.speaker) for r in chosen} == {(d, s) for d in range(10)
                                                      for s in fsdd.speaker_names(chosen)}
    assert all(r.index == 0 and r.split == "test" for r in chosen)


def _float_reference(state, cell, x):
    """Float logits by the textbook equations (float64), independent of PyTorch's modules."""
    w_ih, w_hh = state["torch_cell.weight_ih_l0"], state["torch_cell.weight_hh_l0"]
    b = state["torch_cell.bias_ih_l0"] + state["torch_cell.bias_hh_l0"]
    units = w_hh.shape[1]
    h = np.zeros(units)
    c = np.zeros(units)
    for x_t in x:
        z = w_ih @ x_t + w_hh @ h + b
        if cell == "rnn":
            h = np.tanh(z)
            continue
        i, f, g, o = np.split(z, 4)
        sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
    return state["head.weight"] @ h + state["head.bias"]


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_float_logits_from_meta(tmp_path, cell):
    torch = pytest.importorskip("torch")
    import make_golden
    import train_qat

    torch.manual_seed(0)
    base = random_model(cell, "int8", units=8, seed=1)
    net = train_qat.RecurrentClassifier(cell, base.n_features, base.units, len(base.labels))
    state = {k: v.detach().numpy().astype(np.float32) for k, v in net.state_dict().items()}
    meta = dict(base.meta, **{f"float.{k}": v for k, v in state.items()})
    model_file = model_io.save(dataclasses.replace(base, meta=meta), tmp_path / "m.npz")

    compute, description = make_golden.float_logits_source(model_file)
    assert "RecurrentClassifier" in description
    pcms = [signals.generate(s) for s in signals.STANDARD_SIGNALS[:4]]
    got = compute(pcms)
    model = model_io.load(model_file)
    for pcm, logits in zip(pcms, got):
        x = (model.features(pcm).astype(np.float64) - model.input.zero_point) * model.input.scale
        expected = _float_reference({k: v.astype(np.float64) for k, v in state.items()}, cell, x)
        np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)  # float32 vs float64 model

    assert make_golden.float_logits_source(save_random_model(tmp_path / "plain.npz")) is None
