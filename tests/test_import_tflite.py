"""``fixedrnn import tflite``: converter-made .tflite files (tests/fixtures/tflite, made by
tools/make_tflite_fixtures.py with TensorFlow 2.21 / tf-keras) imported as lstm models, against TFLM
running the ORIGINAL file (and its committed outputs), 0 LSB, on the NumPy and numba paths; the
cell clip; TFLM's multiplier rule; the front end; the budget; ``export tflite`` of the import; the
refusals (one line, exit 2, nothing written); the firmware on the host and under QEMU (slow)."""

import contextlib
import dataclasses
import io
import json
import re
import sys
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixedrnn import budget, cli, convert, engine, overflow, tflite_export, tflite_read
from fixedrnn import model as M
from fixedrnn.errors import FixedRnnError, InputFileError
from fixedrnn.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from fixedrnn.import_tflite import (MFCC_LSB, FrontEnd, frontend_from_model, frontend_spec, import_tflite,
                                    read_norm)
from tests.test_cepstral_mean import expected_window
from throwaway_models import random_model

pytest.importorskip("tflite_micro")
from tflite_micro.python.tflite_micro import runtime  # noqa: E402
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "tflite"
UNITS = (16, 32, 64)


def fixture(units, suffix):
    return FIXTURES / f"lstm_h{units}{suffix}"


def norm_frontend(units):
    spec = frontend_spec([])
    return FrontEnd(spec, *read_norm(fixture(units, ".norm.json"), spec.n_mfcc))


@pytest.fixture(scope="module")
def imported():
    return {h: import_tflite(fixture(h, ".tflite"), norm_frontend(h)) for h in UNITS}


def tflm_logits(data, xs):
    """TFLM's int8 logits [B, C] of ``data`` (a .tflite's bytes) on int8 inputs [B, T, I]."""
    interp = runtime.Interpreter.from_bytes(bytes(data), arena_size=512 * 1024)
    out = []
    for x in xs:
        interp.reset()
        interp.set_input(np.asarray(x, np.int8)[None], 0)
        interp.invoke()
        out.append(np.asarray(interp.get_output(0)).reshape(-1).astype(np.int8))
    return np.stack(out)


def speechlike(seed, n=6000):
    """int16 PCM: chirps and noise bursts at varied loudness (a realistic MFCC range)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 8000.0
    f0 = rng.uniform(150, 400)
    x = np.sin(2 * np.pi * (f0 * t + rng.uniform(200, 900) * t * t)) * rng.uniform(500, 12000)
    x += rng.normal(0, rng.uniform(20, 800), n) * (np.sin(2 * np.pi * rng.uniform(1, 5) * t) > 0)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize("units", UNITS)
def test_fixture_equals_committed_tflm_outputs(imported, units):
    model = imported[units]
    with np.load(fixture(units, ".tflm.npz")) as data:
        xs, want = data["x"], data["logits"]
    got, trace = model.run_features_batch(xs, backend="numpy", trace=True)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(model.run_features_batch(xs, backend="numba"), want)
    # the converter's cell clip 10.0 at 2**-11 is 20480, and these inputs reach it
    assert model.lstm.cell_clip == 20480 and model.lstm.cell_scale_power == -11
    assert np.abs(trace["cell"].astype(np.int64)).max() == 20480


@pytest.mark.parametrize("units", UNITS)
def test_import_equals_tflm_running_the_original_file(imported, units):
    """The imported model's own front end on PCM, and extreme int8 sequences, through TFLM on the
    original .tflite."""
    model = imported[units]
    xs = np.stack([model.features(speechlike(seed)) for seed in range(3)])
    extremes = np.stack([np.full(xs.shape[1:], v, np.int8) for v in (-128, 127)])
    xs = np.concatenate([xs, extremes])
    want = tflm_logits(fixture(units, ".tflite").read_bytes(), xs)
    np.testing.assert_array_equal(model.run_features_batch(xs, backend="numpy"), want)
    np.testing.assert_array_equal(model.run_features_batch(xs, backend="numba"), want)


def test_imported_integers_are_tflms(imported):
    """The file's scales, zero points and constants are carried over as they are, and the integers
    derived from them are the ones the .tflite implies (checked by the exporter's TFLM rules)."""
    model = imported[16]
    graph = tflite_read.read_tflite(fixture(16, ".tflite")).main
    x = graph.tensors[graph.inputs[0]]
    assert np.float32(model.input.scale) == x.quantization.scale[0]
    assert model.input.zero_point == x.quantization.zero_point[0]
    lstm = graph.operators[0]
    for k in range(4):
        np.testing.assert_array_equal(model.lstm.input_weight[k], graph.tensor(lstm.inputs[1 + k]).data)
        np.testing.assert_array_equal(model.lstm.recurrent_weight[k], graph.tensor(lstm.inputs[5 + k]).data)
        np.testing.assert_array_equal(model.lstm.bias[k], graph.tensor(lstm.inputs[12 + k]).data)
    head = graph.operators[2]
    assert model.head.per_channel
    np.testing.assert_array_equal(model.head.weight_scale, graph.tensor(head.inputs[1]).quantization.scale)
    tflite_export.check_integers(model)
    assert model.meta["source"] == "lstm_h16.tflite"


def test_tflm_derives_fc_multipliers_from_the_double_product():
    """The rule import uses (convert.tflm_fc_multiplier): the installed TFLM multiplies the float32
    scales in double. Scales where a float32 product gives another multiplier, and biases placed on
    the accumulator values where the two multipliers round differently: TFLM follows the double."""
    rng = np.random.default_rng(1)
    while True:
        s_in, s_w = np.float32(rng.uniform(0.01, 0.1)), np.float32(rng.uniform(0.001, 0.01))
        s_out = np.float32(rng.uniform(50, 500))
        double = convert.tflm_fc_multiplier(s_in, [s_w], s_out)
        single = quantize_multiplier(float(np.float32(s_in * s_w)) / float(s_out))
        if abs(int(double[0][0]) - single[0]) > 30 and int(double[1][0]) == single[1]:
            break
    with pytest.raises(FixedRnnError, match="differ in float32 and double"):
        convert.fc_multiplier(s_in, [s_w], s_out)
    real = float(s_in) * float(s_w) / float(s_out)
    accs = []
    for k in range(-120, 120):
        acc = np.arange(int(round((k + 0.5) / real)) - 5000, int(round((k + 0.5) / real)) + 5000, dtype=np.int64)
        differ = (multiply_by_quantized_multiplier(acc, int(double[0][0]), int(double[1][0]))
                  != multiply_by_quantized_multiplier(acc, *single))
        accs += acc[differ].tolist()
    bias = np.array(accs[:48], np.int32)
    assert len(bias) == 48
    fc = M.FullyConnected(weight=np.ones((48, 4), np.int8), weight_scale=np.array([s_w], np.float32), bias=bias,
                          output_scale=float(s_out), output_zero_point=0, multiplier=double[0], shift=double[1])
    g = tflite_export._Graph(tflite_export._schema())
    x = g.tensor("x", (1, 4), np.int8, float(s_in), -2)
    y = g.fully_connected("y", x, fc, float(s_in), (1, 48))
    got = tflm_logits(g.finish([x], [y], "multiplier rule"), np.full((1, 4), -2, np.int8))[0]  # x − z = 0: acc = bias
    acc = bias.astype(np.int64)
    np.testing.assert_array_equal(got, np.clip(multiply_by_quantized_multiplier(acc, int(double[0][0]),
                                                                               int(double[1][0])), -128, 127))
    assert not np.array_equal(got, np.clip(multiply_by_quantized_multiplier(acc, *single), -128, 127))


def test_cell_clip_in_the_engine_equals_tflm():
    """A random LSTM with a tight clip: NumPy, numba and TFLM (the exported cellClip) agree, and the
    clip changes the result."""
    model = random_model("lstm", units=10, frames=12, seed=3)
    power = model.lstm.cell_scale_power
    clipped = dataclasses.replace(model, lstm=dataclasses.replace(model.lstm, cell_clip=int(0.3 / 2.0**power)))
    clipped = M.Model.from_arrays(clipped.to_arrays())
    xs = np.random.default_rng(0).integers(-128, 128, (6, 12, model.n_features)).astype(np.int8)
    data = tflite_export.tflite_bytes(clipped)
    lstm_op = tflite_read.parse_tflite(data).main.operators[0]
    assert lstm_op.options["cell_clip"] == pytest.approx(clipped.lstm.cell_clip * 2.0**power)
    want = tflm_logits(data, xs)
    np.testing.assert_array_equal(clipped.run_features_batch(xs, backend="numpy"), want)
    np.testing.assert_array_equal(clipped.run_features_batch(xs, backend="numba"), want)
    assert not np.array_equal(model.run_features_batch(xs, backend="numpy"), want)


def test_export_tflite_of_the_import_gives_tflms_outputs(imported, tmp_path):
    model = imported[32]
    out = tflite_export.export_tflite(model, tmp_path / "again.tflite")
    with np.load(fixture(32, ".tflm.npz")) as data:
        np.testing.assert_array_equal(tflm_logits(out.read_bytes(), data["x"]), data["logits"])
    op = tflite_read.read_tflite(out).main.operators[0]
    assert op.options["cell_clip"] == 10.0


def test_budget_audits_the_import(imported, tmp_path):
    for units, model in imported.items():
        report = budget.audit(model)
        assert report.overflow_ok, units
        overflow.require_no_overflow(model, "import")
    path = M.save(imported[64], tmp_path / "h64.npz")
    assert _cli(["budget", str(path)])[0] == 0  # 29 KB: fits the default 36 KB budget


def test_norm_front_end_means_mean_and_std(imported):
    """The int8 features of the --norm front end are (mfcc · lsb − mean) / std quantized at the file's
    input scale and zero point, within the one LSB of the integer requantization."""
    model = imported[16]
    norm = json.loads(fixture(16, ".norm.json").read_text())
    mfcc = np.asarray(engine.mfcc(model, speechlike(7)), np.float64)
    real = (mfcc * MFCC_LSB["q15"] - np.array(norm["mean"])) / np.array(norm["std"])
    want = np.clip(np.round(real / model.input.scale) + model.input.zero_point, -128, 127)
    got = engine.normalise(model, np.asarray(engine.mfcc(model, speechlike(7)))).astype(np.int64)
    assert np.abs(got - want).max() <= 1


def test_frontend_from_another_model_rederives_the_normalisation(imported):
    golden = M.load(REPO / "golden" / "models" / "tiny_lstm_int8.npz")
    front = frontend_from_model(golden)
    assert front.spec == golden.frontend
    again = front.input_quant(golden.input.scale, golden.input.zero_point)
    np.testing.assert_array_equal(again.offset, golden.input.offset)
    np.testing.assert_array_equal(again.multiplier, golden.input.multiplier)
    np.testing.assert_array_equal(again.shift, golden.input.shift)
    model = import_tflite(fixture(16, ".tflite"), front)
    assert model.input.scale == imported[16].input.scale and model.frontend == golden.frontend
    # the same float normalisation at the .tflite's input scale: a ratio of the two scales
    ratio = golden.input.scale / model.input.scale
    for m0, s0, m1, s1 in zip(golden.input.multiplier, golden.input.shift, model.input.multiplier, model.input.shift):
        assert int(m1) * 2.0 ** int(s1) == pytest.approx(int(m0) * 2.0 ** int(s0) * ratio, rel=2**-29)


def test_frontend_from_a_cmn_model_keeps_its_mean_removal(tmp_path):
    """A .tflite trained on a CMN model's features: the import removes the window's mean too (the
    window built with Python ints from the front end's outputs), and TFLM on that window agrees."""
    golden = M.load(REPO / "golden" / "models" / "lstm_int8_cmn.npz")
    front = frontend_from_model(golden)
    assert golden.input.cmn == "window" and front.cmn == "window"
    model = import_tflite(fixture(16, ".tflite"), front)
    assert model.input.cmn == "window"
    M.save(model, tmp_path / "m.npz")
    assert M.load(tmp_path / "m.npz").input.cmn == "window"
    xs = []
    for seed in range(3):
        pcm = speechlike(seed)
        want = expected_window(model, engine.mfcc(model, pcm))
        got = model.features(pcm)
        assert np.array_equal(got, want)
        xs.append(got)
    np.testing.assert_array_equal(model.run_features_batch(np.stack(xs), backend="numpy"),
                                  tflm_logits(fixture(16, ".tflite").read_bytes(), xs))
    # the same import without the mean removal reads another window
    plain = import_tflite(fixture(16, ".tflite"), dataclasses.replace(front, cmn="off"))
    assert plain.input.cmn == "off" and not np.array_equal(plain.features(speechlike(0)), xs[0])


def test_cli_cmn_goes_with_norm(tmp_path):
    out = tmp_path / "m.npz"
    code, err = _cli(["import", "tflite", str(fixture(16, ".tflite")), str(out),
                      "--norm", str(fixture(16, ".norm.json")), "--cmn", "window"])
    assert code == 0, err
    model = M.load(out)
    assert model.input.cmn == "window" and "--cmn window" in str(model.meta["command"])
    # the window's features: the rule on the front end's outputs, then --norm's normalisation
    pcm = speechlike(4)
    assert np.array_equal(model.features(pcm), expected_window(model, engine.mfcc(model, pcm)))
    code, err = _cli(["import", "tflite", str(fixture(16, ".tflite")), str(tmp_path / "x.npz"),
                      "--frontend-from", str(out), "--cmn", "off"])
    assert code == 2 and "--frontend-from replaces --mfcc, --norm and --cmn" in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "x.npz").exists()
    with pytest.raises(FixedRnnError, match="cmn: must be one of off, window, got 'utterance'"):
        import_tflite(fixture(16, ".tflite"), FrontEnd(frontend_spec([]), np.zeros(13), np.ones(13), "utterance"))


def test_mfcc_options_and_norm_files(tmp_path):
    spec = frontend_spec(["n_mfcc=10", "fmax=3800", "window=hann"])
    assert (spec.n_mfcc, spec.fmax, spec.window) == (10, 3800.0, "hann")
    with pytest.raises(FixedRnnError, match="--mfcc 'bogus=1'"):
        frontend_spec(["bogus=1"])
    with pytest.raises(FixedRnnError, match="--mfcc n_mels: expected int"):
        frontend_spec(["n_mels=x"])
    bad = tmp_path / "n.json"
    for text, fragment in (("[1]", "expected a JSON object"), ('{"mean": [0], "std": [1]}', "list of 13"),
                           ("{", "not JSON"), (json.dumps({"mean": [0] * 13, "std": [0] * 13}), "'std' must be > 0")):
        bad.write_text(text)
        with pytest.raises(InputFileError, match=fragment):
            read_norm(bad, 13)
    with pytest.raises(FixedRnnError, match="front end: 10 MFCC coefficients, but .* takes 13 features"):
        import_tflite(fixture(16, ".tflite"), FrontEnd(spec, np.zeros(10), np.ones(10)))


# -- refusals ------------------------------------------------------------------------------------


def _mutated(tmp_path, name, change):
    m = schema.ModelT.InitFromPackedBuf(fixture(16, ".tflite").read_bytes(), 0)
    change(m, m.subgraphs[0])
    builder = flatbuffers.Builder(1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(bytes(builder.Output()))
    return path


def _set_opcode(index, code):
    def change(m, sg):
        m.operatorCodes[sg.operators[index].opcodeIndex].builtinCode = code
        m.operatorCodes[sg.operators[index].opcodeIndex].deprecatedBuiltinCode = min(code, 127)
    return change


def _float_input(m, sg):
    sg.tensors[sg.inputs[0]].type = schema.TensorType.FLOAT32
    sg.tensors[sg.inputs[0]].quantization = None


def _two_inputs(m, sg):
    sg.inputs = np.array([sg.inputs[0], 1], np.int32)


def _cell_scale(m, sg):
    sg.tensors[sg.operators[0].inputs[19]].quantization.scale = np.array([0.0007], np.float32)


def _peephole(m, sg):
    inputs = np.array(sg.operators[0].inputs, np.int32)
    inputs[9] = inputs[12]
    sg.operators[0].inputs = inputs


def _time_major(m, sg):
    sg.operators[0].builtinOptions.timeMajor = True


def _relu_head(m, sg):
    sg.operators[2].builtinOptions.fusedActivationFunction = schema.ActivationFunctionType.RELU


def _first_step(m, sg):
    begin = sg.tensors[sg.operators[1].inputs[1]]
    m.buffers[begin.buffer].data = np.frombuffer(np.array([0, 0, 0], "<i4").tobytes(), np.uint8)


REFUSALS = {
    "while": (_set_opcode(0, schema.BuiltinOperator.WHILE), "WHILE.*convert with unroll=True and batch_size=1"),
    "float": (_float_input, "is float32, a float model: convert with full-integer quantisation"),
    "two_inputs": (_two_inputs, "2 inputs .*one int8 input"),
    "gather": (_set_opcode(2, schema.BuiltinOperator.GATHER), r"operator 2 \(GATHER\) is not supported"),
    "softmax": (_set_opcode(2, schema.BuiltinOperator.SOFTMAX), "without the final softmax"),
    "cell_scale": (_cell_scale, "cell state .* needs 2\\*\\*P"),
    "peephole": (_peephole, "peephole tensor"),
    "time_major": (_time_major, "time major"),
    "relu_head": (_relu_head, "fused activation RELU"),
    "first_step": (_first_step, "does not take the last step"),
}


def _cli(argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(argv)
    return code, err.getvalue()


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_refusals_are_one_line_and_write_nothing(name, tmp_path):
    change, fragment = REFUSALS[name]
    path = _mutated(tmp_path, name, change)
    out = tmp_path / "out"
    out.mkdir()
    code, err = _cli(["import", "tflite", str(path), str(out / "m.npz"), "--norm",
                      str(fixture(16, ".norm.json"))])
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"fixedrnn: error: {path}: "), err
    assert re.search(fragment, lines[0]), lines[0]
    assert not any(out.iterdir())


@pytest.mark.parametrize("name, fragment", [
    ("refuse_float_lstm", "input tensor 0 .* is float32, a float model: convert with full-integer quantisation"),
    ("refuse_keras3_while", r"operator 1 \(WHILE\) of subgraph 0: .*convert with unroll=True and batch_size=1")])
def test_converter_made_files_that_are_refused(name, fragment, tmp_path):
    """Real converter output (tools/make_tflite_fixtures.py): a tf-keras float LSTM, a Keras 3 LSTM."""
    path = FIXTURES / f"{name}.tflite"
    code, err = _cli(["import", "tflite", str(path), str(tmp_path / "m.npz"), "--norm",
                      str(fixture(16, ".norm.json"))])
    assert code == 2 and len(err.strip().splitlines()) == 1 and re.search(fragment, err), err
    assert not any(tmp_path.iterdir())


def test_cli_imports_and_names_bad_arguments(tmp_path):
    out = tmp_path / "m.npz"
    code, err = _cli(["import", "tflite", str(fixture(16, ".tflite")), str(out),
                      "--frontend-from", str(REPO / "golden" / "models" / "tiny_lstm_int8.npz"),
                      "--labels", "zero,one,two,three,four,five,six,seven,eight,nine"])
    assert code == 0, err
    model = M.load(out)
    assert model.labels[9] == "nine" and "--frontend-from" in model.meta["command"]
    for argv, fragment in (([], "give --frontend-from OTHER.npz, or --norm FILE"),
                           (["--labels", "a,b", "--norm", str(fixture(16, ".norm.json"))], "labels: 2 given"),
                           (["--norm", str(tmp_path / "none.json")], "no such normalisation file"),
                           (["--frontend-from", str(out), "--norm", str(fixture(16, ".norm.json"))],
                            "give one or the other")):
        code, err = _cli(["import", "tflite", str(fixture(16, ".tflite")), str(tmp_path / "x.npz"), *argv])
        assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x.npz").exists()
    code, err = _cli(["import", "tflite", str(tmp_path / "missing.tflite"), str(tmp_path / "x.npz"),
                      "--norm", str(fixture(16, ".norm.json"))])
    assert code == 2 and "no such .tflite file" in err


@pytest.mark.slow  # a fuzz suite: left out of the quick subset
@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_files_through_the_cli(data, tmp_path):
    """Truncations and bit flips of a fixture: imported (exit 0) or refused in one line (exit 2,
    nothing written), never a traceback."""
    good = fixture(16, ".tflite").read_bytes()
    if data.draw(st.booleans()):
        damaged = good[:data.draw(st.integers(0, len(good) - 1))]
    else:
        damaged = bytearray(good)
        for _ in range(data.draw(st.integers(1, 6))):
            damaged[data.draw(st.integers(0, len(good) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    path = tmp_path / "damaged.tflite"
    path.write_bytes(bytes(damaged))
    out = tmp_path / "fuzz_out.npz"
    if out.exists():
        out.unlink()
    code, err = _cli(["import", "tflite", str(path), str(out), "--norm", str(fixture(16, ".norm.json"))])
    assert code in (0, 2), err
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and err.startswith("fixedrnn: error: "), err
        assert not out.exists()


# -- firmware --------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("target", ["host", "qemu"])
def test_firmware_of_the_import_equals_the_engine(imported, target, tmp_path):
    from fixedrnn import firmware

    sys.path.insert(0, str(REPO / "tools" / "firmware"))
    import runner

    missing = runner.toolchain_missing(firmware.TARGETS[target])
    if missing:
        pytest.skip(missing)
    import scipy.io.wavfile

    wavs = []
    for seed in range(3):
        wavs.append(tmp_path / f"u{seed}.wav")
        scipy.io.wavfile.write(wavs[-1], 8000, speechlike(seed, 4000 + 1500 * seed))
    for units in (16, 64):
        model = imported[units]
        cells = [model.run(speechlike(seed, 4000 + 1500 * seed), trace=True, backend="numpy")[1]["cell"]
                 for seed in range(3)]
        assert max(np.abs(c.astype(np.int64)).max() for c in cells) == model.lstm.cell_clip  # the C clips too
        path = M.save(model, tmp_path / f"h{units}.npz")
        results = firmware.run_firmware(path, wavs, target=target, work_dir=tmp_path / f"fw{units}")
        assert all(r.equal for r in results), [r.to_dict() for r in results]
