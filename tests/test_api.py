"""The Python API a user meets first: ``fixedrnn.load``, ``Model.classify``, a short ``repr``, plain
``meta`` values that save back to the same file, numba as the default engine path, the compile
notice, and the README's example (run as written)."""

import ast
import glob
import hashlib
import io
import re

import numba
import numpy as np
import pytest

import fixedrnn
from fixedrnn import budget, signals
from fixedrnn.compile_notice import NOTICE, compile_notice
from conftest import REPO

MODELS = sorted(glob.glob(str(REPO / "golden" / "models" / "*.npz")))
#: A cell model (LSTM) of the shipped ones: what the tests of one model's API use.
LSTM_INT8 = str(REPO / "golden" / "models" / "lstm_int8.npz")


def test_package_exports_the_api():
    assert fixedrnn.load is fixedrnn.model.load and fixedrnn.save is fixedrnn.model.save
    assert fixedrnn.Model is fixedrnn.model.Model
    assert fixedrnn.Classification is fixedrnn.classify.Classification
    assert fixedrnn.EndpointConfig is fixedrnn.endpoint.EndpointConfig
    assert set(fixedrnn.__all__) <= set(dir(fixedrnn))


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.rsplit("/", 1)[-1])
def test_repr_is_short_and_names_the_model(path):
    model = fixedrnn.load(path)
    text = repr(model)
    assert len(text) < 200
    if model.cell == "graph":  # a graph model: its ops instead of units
        assert "cell='graph'" in text and "weights='int8'" in text and f"ops={model.graph.n_ops}" in text
    else:
        assert f"cell={model.cell!r}" in text and f"weights={model.weight_form.label!r}" in text
        assert f"units={model.units}" in text
    assert "'9'" in text and f"bytes={budget.audit(model).total}" in text  # the budget's flash + RAM total


@pytest.mark.parametrize("name", ["tiny_lstm_int8", "import_keras3_gru_h24"])
def test_classify_of_every_model_kind_gives_the_frozen_logits(name):
    """``classify`` is one method of both model kinds (cell and imported graph): on a synthetic input
    of the golden set it returns the golden vectors' frozen logits."""
    path = next(p for p in glob.glob(str(REPO / "golden" / "**" / f"{name}.npz"), recursive=True))
    model = fixedrnn.load(path)
    frozen = np.load(REPO / "golden" / "vectors" / name / "tensors.npz")
    pcm = signals.generate(signals.standard_signal("chirp_up"))
    result = model.classify(pcm)
    assert result.logits == tuple(int(v) for v in frozen["chirp_up/logits"])
    assert result.label == model.labels[int(np.argmax(frozen["chirp_up/logits"]))]


def test_repr_shortens_many_labels():
    import dataclasses

    model = fixedrnn.load(LSTM_INT8)
    many = dataclasses.replace(model, labels=tuple(f"word{i}" for i in range(10)))
    assert "word9" in repr(many)
    text = repr(dataclasses.replace(model, labels=tuple(f"w{i}" for i in range(40))))
    assert "... 40 in all" in text and "w39" not in text


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.rsplit("/", 1)[-1])
def test_meta_values_are_plain_and_save_writes_the_same_arrays(path, tmp_path):
    model = fixedrnn.load(path)
    assert model.meta
    for key, value in model.meta.items():
        if isinstance(value, np.ndarray):
            assert value.ndim >= 1, key
        else:
            assert type(value) in (str, int, float, bool), (key, type(value))
    assert isinstance(model.meta["command"], str)
    assert "ensemble_of" in model.meta or isinstance(model.meta["seed"], int)  # an ensemble: its members' seeds
    saved = fixedrnn.save(model, tmp_path / "again.npz")
    with np.load(path) as before, np.load(saved) as after:
        assert before.files == after.files
        for key in before.files:
            assert before[key].dtype == after[key].dtype and before[key].shape == after[key].shape, key
            np.testing.assert_array_equal(before[key], after[key], err_msg=key)
    assert hashlib.sha256(saved.read_bytes()).digest() == hashlib.sha256(open(path, "rb").read()).digest()


def test_run_defaults_to_numba_and_gives_the_reference_integers(monkeypatch):
    from fixedrnn import engine

    model = fixedrnn.load(LSTM_INT8)
    pcm = (np.sin(np.arange(6000) * 0.05) * 9000).astype(np.int16)
    seen = []
    real = engine.run_features_batch

    def spy(model, xs, backend="numba", trace=False):
        seen.append(backend)
        return real(model, xs, backend=backend, trace=trace)

    monkeypatch.setattr(engine, "run_features_batch", spy)
    fast = model.run(pcm)
    features = model.features(pcm)
    fast_features = model.run_features(features)
    reference, trace = model.run(pcm, trace=True)
    assert seen == ["numba", "numba", "numpy"]
    np.testing.assert_array_equal(fast, reference)
    np.testing.assert_array_equal(fast_features, reference)
    np.testing.assert_array_equal(trace["logits"], reference)


def test_compile_notice_once_when_compiling_never_when_compiled():
    @numba.njit
    def add_one(x):
        return x + 1

    first = io.StringIO()
    with compile_notice(first):
        add_one(1)
        add_one(2.0)  # a second compilation: no second notice
    assert first.getvalue() == NOTICE + "\n"
    again = io.StringIO()
    with compile_notice(again):
        add_one(3)  # compiled already
    assert again.getvalue() == ""
    outside = io.StringIO()
    add_one(np.int8(1))  # compiles, but outside the block: nothing to anyone
    assert outside.getvalue() == ""


def _readme_example():
    """The first ```python block under the README's "## Python API" heading."""
    text = (REPO / "README.md").read_text()
    section = text.split("\n## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_runs_as_written(monkeypatch, capsys):
    code = _readme_example()
    assert len(code.strip().splitlines()) <= 12
    ast.parse(code)
    monkeypatch.chdir(REPO)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    model = fixedrnn.load(REPO / "golden" / "models" / "lstm_int8.npz")
    assert repr(model) in out
