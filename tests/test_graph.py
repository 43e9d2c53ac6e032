"""Unrolled Keras graphs (issue #11): every converter-made fixture of tests/fixtures/tflite_graph
(tools/make_tflite_graph_fixtures.py: Keras 3 SimpleRNN / LSTM / GRU, tf-keras SimpleRNN / GRU) runs
in the graph engine equal to TFLM's outputs on the original file (committed, and recomputed by TFLM
here), through the .npz model file too; the file's checks; refusals name the file and the op."""

from pathlib import Path

import numpy as np
import pytest

import fixedrnn
from fixedrnn import graph_model
from fixedrnn.errors import FixedRnnError, InputFileError
from fixedrnn.graph_import import graph_from_tflite
from fixedrnn.import_tflite import FrontEnd
from fixedrnn.tflite_read import parse_tflite, read_tflite
from tests.tflite_graphs import edit, tflm_run

FIXTURES = Path(__file__).parent / "fixtures" / "tflite_graph"
NAMES = sorted(p.stem for p in FIXTURES.glob("*.tflite"))
FRONTEND_MODEL = Path(__file__).parents[1] / "golden" / "models" / "lstm_int8.npz"


def fixture(name):
    return FIXTURES / f"{name}.tflite", np.load(FIXTURES / f"{name}.npz")


def test_every_kind_is_a_fixture():
    assert NAMES == ["keras3_dscnn_c12", "keras3_gru_h24", "keras3_lstm_h32", "keras3_rnn_h16", "tfkeras_dscnn_c8",
                     "tfkeras_gru_h16", "tfkeras_rnn_h64"]


@pytest.mark.parametrize("name", NAMES)
def test_graph_engine_equals_tflm(name):
    path, data = fixture(name)
    graph = graph_from_tflite(read_tflite(path))
    assert graph.frames == int(data["frames"]) and graph.n_outputs == data["y"].shape[1]
    got = np.stack([graph.run(x) for x in data["x"]])
    assert np.array_equal(got, data["y"])
    assert len({tuple(row) for row in data["y"]}) > len(data["y"]) // 2  # outputs that tell inputs apart


@pytest.mark.parametrize("name", NAMES[:2])
def test_committed_outputs_are_tflms(name):
    """The fixture's outputs are what TFLM computes on the original file (the oracle, run here)."""
    path, data = fixture(name)
    blob = path.read_bytes()
    for x, y in zip(data["x"][::5], data["y"][::5]):
        assert np.array_equal(tflm_run(blob, [x[None]]).reshape(-1), y)


def test_what_the_converter_makes_is_imported():
    """The op lists the issue describes: per-step quantisation, the float island, shared weights."""
    ops = {name: [op.op for op in read_tflite(fixture(name)[0]).main.operators] for name in NAMES}
    assert {"DEQUANTIZE", "QUANTIZE", "SPLIT", "LOGISTIC", "MUL"} <= set(ops["keras3_lstm_h32"])
    assert {"SUB", "STRIDED_SLICE", "SPLIT"} <= set(ops["keras3_gru_h24"])
    assert "SPLIT_V" in ops["tfkeras_gru_h16"]
    # the DS-CNNs: batch normalisation folded, ReLU / ReLU6 fused, the global pool as MEAN (Keras 3)
    # or AVERAGE_POOL_2D (tf-keras' full-map AveragePooling2D)
    assert ops["keras3_dscnn_c12"] == ["RESHAPE", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "MEAN", "FULLY_CONNECTED"]
    assert "AVERAGE_POOL_2D" in ops["tfkeras_dscnn_c8"]
    fused = {op.options.get("fused_activation_function") for op in read_tflite(fixture("keras3_dscnn_c12")[0]).main.operators}
    assert {"RELU", "RELU6"} <= fused
    graph = graph_from_tflite(read_tflite(fixture("keras3_rnn_h16")[0]))
    add_scales = {graph.scale(graph.outputs(k)[0]) for k in range(graph.n_ops) if graph.op_name(k) == "ADD"}
    assert len(add_scales) > 5  # a different quantisation at every step
    weight_bytes = sum(graph.constant(t).nbytes for k in range(graph.n_ops) if graph.op_name(k) == "FULLY_CONNECTED"
                       for t in graph.inputs(k)[1:2])
    assert graph.constants.nbytes < weight_bytes / 4  # each weight matrix once, not once per step


def _frontend(name):
    data = fixture(name)[1]
    return FrontEnd(fixedrnn.load(FRONTEND_MODEL).frontend, data["mean"].astype(np.float64),
                    data["std"].astype(np.float64))


def _model(name):
    return graph_model.from_tflite(read_tflite(fixture(name)[0]), _frontend(name), meta={"source": name})


@pytest.mark.parametrize("name", ["keras3_gru_h24", "keras3_lstm_h32"])
@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_model_file_round_trip(tmp_path, name):
    model = _model(name)
    loaded = fixedrnn.load(fixedrnn.save(model, tmp_path / "m.npz"))
    assert isinstance(loaded, graph_model.GraphModel) and loaded.meta == {"source": name}
    data = fixture(name)[1]
    assert np.array_equal(loaded.run_features_batch(data["x"]), data["y"])
    pcm = (np.sin(np.arange(6000) * 0.05) * 6000).astype(np.int16)
    x = loaded.features(pcm)
    assert x.shape == (loaded.frames, 13) and x.dtype == np.int8
    assert np.array_equal(loaded.run(pcm), tflm_run(fixture(name)[0].read_bytes(), [x[None]]).reshape(-1))


def test_optional_common_keys_round_trip(tmp_path):
    """A graph model keeps frontend.cmsis_build and input.cmn through save and load (written only
    when not at their defaults, as an RNN/LSTM model's file does)."""
    from dataclasses import replace

    model = _model("keras3_rnn_h16")
    assert "input.cmn" not in model.to_arrays() and "frontend.cmsis_build" not in model.to_arrays()
    marked = replace(model, input=replace(model.input, cmn="window"),
                     frontend=replace(model.frontend, cmsis_build="dsp"))
    loaded = fixedrnn.load(fixedrnn.save(marked, tmp_path / "m.npz"))
    assert loaded.input.cmn == "window" and loaded.frontend.cmsis_build == "dsp"
    pcm = (np.sin(np.arange(6000) * 0.05) * 6000).astype(np.int16)
    assert np.array_equal(loaded.features(pcm), marked.features(pcm))
    assert not np.array_equal(loaded.features(pcm), model.features(pcm))


def _tampered(tmp_path, change):
    arrays = _model("keras3_rnn_h16").to_arrays()
    change(arrays)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputFileError) as info:
        fixedrnn.load(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    return str(info.value)


def test_load_refuses_integers_that_are_not_tflms_derivation(tmp_path):
    def change(arrays):
        first_fc = list(arrays["graph.op_code"]).index(9)
        arrays["graph.params"] = arrays["graph.params"].copy()
        arrays["graph.params"][arrays["graph.param_start"][first_fc]] += 1
    assert "TFLM's derivation" in _tampered(tmp_path, change)


def test_load_refuses_a_broken_structure(tmp_path):
    def index_out(arrays):
        arrays["graph.io"] = arrays["graph.io"].copy()
        arrays["graph.io"][-1] = 10**6
    assert "graph.io" in _tampered(tmp_path, index_out)

    def unknown_op(arrays):
        arrays["graph.op_code"] = arrays["graph.op_code"].copy()
        arrays["graph.op_code"][3] = 119
    assert "operator 119" in _tampered(tmp_path, unknown_op)

    def past_the_end(arrays):
        arrays["graph.constants"] = arrays["graph.constants"][:100]
    assert "past the end" in _tampered(tmp_path, past_the_end)


def _refusal(data, name="bad.tflite"):
    with pytest.raises(FixedRnnError) as info:
        graph_from_tflite(parse_tflite(data, name))
    assert name in str(info.value) and "\n" not in str(info.value)
    return str(info.value)


def _with_op(code):
    def change(model, schema):
        model.operatorCodes[model.subgraphs[0].operators[2].opcodeIndex].builtinCode = code
        model.operatorCodes[model.subgraphs[0].operators[2].opcodeIndex].deprecatedBuiltinCode = min(code, 127)
    return change


def test_refusals_name_the_file_and_the_op():
    blob = fixture("keras3_rnn_h16")[0].read_bytes()
    assert "WHILE: not supported (convert with unroll=True and batch_size=1)" in _refusal(edit(blob, _with_op(119)))
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in _refusal(edit(blob, _with_op(44)))
    assert "SQUARED_DIFFERENCE: not supported" in _refusal(edit(blob, _with_op(99)))

    def float_input(model, schema):
        model.subgraphs[0].tensors[model.subgraphs[0].inputs[0]].type = schema.TensorType.FLOAT32
    assert "input tensor" in _refusal(edit(blob, float_input))

    def two_inputs(model, schema):
        model.subgraphs[0].inputs = np.array([0, 1], np.int32)
    assert "2 inputs" in _refusal(edit(blob, two_inputs))
    assert "bad.tflite" in _refusal(blob[: len(blob) // 3])
    assert "bad.tflite" in _refusal(b"PK\x03\x04" + bytes(100))


def test_import_tflite_command_takes_an_unrolled_graph(tmp_path):
    """``python -m fixedrnn import tflite`` sends a graph without a fused LSTM here; the written model
    equals TFLM."""
    import json

    from fixedrnn import cli

    path, data = fixture("tfkeras_gru_h16")
    norm = tmp_path / "norm.json"
    norm.write_text(json.dumps({"mean": data["mean"].tolist(), "std": data["std"].tolist()}))
    out = tmp_path / "gru.npz"
    assert cli.main(["import", "tflite", str(path), str(out), "--mfcc", "n_mels=20", "n_mfcc=13",
                     "--norm", str(norm)]) in (0, None)
    model = fixedrnn.load(out)
    assert isinstance(model, graph_model.GraphModel) and model.meta["source"] == path.name
    assert np.array_equal(model.run_features_batch(data["x"]), data["y"])


def test_damaged_graphs_are_imported_or_refused_in_one_line():
    """Bit flips of a fixture: the import succeeds (a graph that still runs) or raises one line."""
    blob = fixture("keras3_rnn_h16")[0].read_bytes()
    rng = np.random.default_rng(11)
    refused = 0
    for _ in range(30):
        damaged = bytearray(blob)
        for pos in rng.integers(len(blob), size=3):
            damaged[pos] ^= 1 << int(rng.integers(8))
        try:
            graph_model.from_tflite(parse_tflite(bytes(damaged), "bad.tflite"), _frontend("keras3_rnn_h16"))
        except FixedRnnError as exc:
            assert "\n" not in str(exc)
            refused += 1
    assert refused > 0


@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_budget_audits_a_graph_model(tmp_path):
    """``fixedrnn budget`` reports a graph model's firmware (tests/test_graph_firmware.py checks the
    items against the linker): the executor's program, constant pools and arena, exit 0 or 1."""
    import json
    import subprocess
    import sys

    path = fixedrnn.save(_model("keras3_rnn_h16"), tmp_path / "g.npz")
    run = subprocess.run([sys.executable, "-m", "fixedrnn", "budget", str(path), "--json"], capture_output=True,
                         text=True)
    assert run.returncode in (0, 1), run.stderr
    report = json.loads(run.stdout)
    assert report["cell"] == "graph" and report["overflow"]["ok"]
    symbols = {item["symbol"] for item in report["flash"]["items"] + report["ram"]["items"]}
    assert {"fr_graph_program", "fr_graph_s8", "fr_graph_s32", "fr_graph_arena", "fr_features"} <= symbols


# -- export tflite: the graph re-emitted from the model file ---------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_export_tflite_runs_in_tflm_with_the_engines_outputs(tmp_path, name):
    """The re-emitted file gives, in TFLM, the committed outputs of the original file, and TFLM's
    outputs of the original file on random inputs (which the engine gives too)."""
    from fixedrnn.tflite_export import export_tflite

    model = _model(name)
    blob = export_tflite(model, tmp_path / "g.tflite").read_bytes()
    path, data = fixture(name)
    assert np.array_equal(np.stack([tflm_run(blob, [x[None]]).reshape(-1) for x in data["x"]]), data["y"])
    rng = np.random.default_rng(3)
    original = path.read_bytes()
    for x in rng.integers(-128, 128, size=(4,) + data["x"].shape[1:], dtype=np.int8):
        want = tflm_run(original, [x[None]]).reshape(-1)
        assert np.array_equal(tflm_run(blob, [x[None]]).reshape(-1), want)
        assert np.array_equal(model.run_features(x), want)


def _tflm_outputs(blob, x, count):
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(bytes(blob), arena_size=1 << 20)
    interpreter.reset()
    interpreter.set_input(x[None], 0)
    interpreter.invoke()
    return [np.array(interpreter.get_output(i)) for i in range(count)]


@pytest.mark.parametrize("name", ["keras3_gru_h24", "keras3_lstm_h32"])
def test_golden_trace_is_every_intermediate_tensor_of_tflm(name):
    """The golden vectors' per-op trace (``ops``, :func:`fixedrnn.graph.op_outputs`) equals TFLM's
    value of every int8 tensor the graph computes: the graph re-emitted with all of them as outputs."""
    from fixedrnn.graph import INT8, op_outputs
    from fixedrnn.tflite_export import graph_tflite_bytes

    model = _model(name)
    graph = model.graph
    computed = [t for k in range(graph.n_ops) for t in graph.outputs(k) if graph.tensor_type[t] == INT8]
    blob = graph_tflite_bytes(model, outputs=computed)
    for x in fixture(name)[1]["x"][:3]:
        values = dict(zip(computed, _tflm_outputs(blob, x, len(computed))))
        logits, trace = model.run_features_batch(x[None], backend="numpy", trace=True)
        assert np.array_equal(trace["ops"][0], op_outputs(graph, values))
        assert np.array_equal(logits[0], values[graph.output].reshape(-1))
        assert np.count_nonzero(np.any(trace["ops"][0] != 0, axis=1)) > graph.n_ops // 2


def test_export_tflite_command_on_a_graph_model(tmp_path, capsys):
    from fixedrnn import cli

    path = fixedrnn.save(_model("keras3_rnn_h16"), tmp_path / "g.npz")
    out = tmp_path / "g.tflite"
    assert cli.main(["export", "tflite", str(path), str(out)]) in (0, None)
    x = fixture("keras3_rnn_h16")[1]["x"][0]
    assert np.array_equal(tflm_run(out.read_bytes(), [x[None]]).reshape(-1), fixture("keras3_rnn_h16")[1]["y"][0])
    assert cli.main(["export", "tflite", str(path), str(tmp_path / "t5.tflite"), "--frames", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "frames: a graph model is unrolled over its 16 frames, got 5" in err and "\n" not in err
    assert not (tmp_path / "t5.tflite").exists()


# -- the batch path ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_batch_path_equals_the_numpy_path_and_tflm(name):
    """``backend="numba"`` (the graph run once over the batch, numba's FULLY_CONNECTED) gives TFLM's
    committed outputs, and on random sequences the NumPy path's integers and TFLM's on the original."""
    path, data = fixture(name)
    model = _model(name)
    assert np.array_equal(model.run_features_batch(data["x"], backend="numba"), data["y"])
    rng = np.random.default_rng(17)
    xs = rng.integers(-128, 128, size=(48,) + data["x"].shape[1:], dtype=np.int8)
    xs[:4] = np.clip(xs[:4].astype(np.int16) * 8, -128, 127)  # saturated inputs too
    fast = model.run_features_batch(xs, backend="numba")
    assert np.array_equal(fast, model.run_features_batch(xs, backend="numpy"))
    blob = path.read_bytes()
    for x, y in zip(xs[:6], fast[:6]):
        assert np.array_equal(tflm_run(blob, [x[None]]).reshape(-1), y)
    assert np.array_equal(model.run_features(xs[7], backend="numba"), fast[7])
    assert model.run_features_batch(xs[:0]).shape == (0, 10)


def test_batch_path_refusals():
    model = _model("keras3_rnn_h16")
    x = fixture("keras3_rnn_h16")[1]["x"]
    with pytest.raises(FixedRnnError, match="backend 'shift' needs a power-of-two model"):
        model.run_features_batch(x, backend="shift")
    with pytest.raises(FixedRnnError, match="trace=True needs backend='numpy'"):
        model.run_features_batch(x, backend="numba", trace=True)
    with pytest.raises(FixedRnnError, match=r"x must be int8 of shape \[B, 16, 13\]"):
        model.run_features_batch(x[:, :5], backend="numba")
