"""fixedrnn.from_torch (fixedrnn/import_torch.py): PyTorch nn.LSTM / nn.RNN + nn.Linear → Model.

Oracles: TFLM's int8 logits on the exported .tflite, committed (tests/fixtures/torch/expected_logits.npz,
made by tools/make_torch_fixtures.py) and live (tflite_micro); the float PyTorch model (argmax
agreement, hidden-state error: PyTorch's gate order and biases); exact arithmetic (fractions) for
the summed biases; the firmware under QEMU (slow).
"""

import sys
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch (the train extra) is not installed")
from torch import nn  # noqa: E402

from fixedrnn import calibrate, import_torch as ft  # noqa: E402
from fixedrnn.errors import FixedRnnError  # noqa: E402
from fixedrnn.mfcc import MfccConfig  # noqa: E402
from fixedrnn.torch_modules import modules_from_state_dict  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "torch"
GOLDEN_LSTM = REPO / "golden" / "models" / "lstm_int8.npz"
#: fixture → (state_dict file, batch_first of the module it came from)
STATE_DICTS = {"lstm16": ("lstm16.npz", True), "rnn24": ("rnn24.pt", False),
               "lstm12_nobias": ("lstm12_nobias.npz", True)}
#: least share of the test inputs on which the engine's argmax equals the float model's
#: (measured: int8 100 %, 98 %, 99 %; power-of-two 95 %, 88 %, 87 %)
MIN_AGREEMENT = {"int8": 0.95, "pot": 0.85}


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Single-threaded torch (as tools/train.py): on a shared machine its thread pool is 10-50x slower."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture(scope="module")
def data():
    with np.load(FIXTURES / "data.npz") as d:
        return {k: d[k] for k in d.files}


def normalisation(data):
    return ft.FeatureNormalisation(MfccConfig(), data["mean"], data["std"], x_scale=float(data["x_scale"]))


def float_features(data, key):
    return data[key].astype(np.float32) * np.float32(data["x_scale"])


@pytest.fixture(scope="module")
def converted(data):
    """(name, weights) → Model, converted from the committed state_dict files."""
    out = {}
    for name, (file, _) in STATE_DICTS.items():
        for weights in ("int8", "pot"):
            out[name, weights] = ft.from_torch_state_dict(FIXTURES / file, float_features(data, "calibration"),
                                                          normalisation(data), weights=weights, frames=61)
    return out


@pytest.fixture(scope="module")
def engine_logits(converted, data):
    """(name, weights) → the engine's int8 logits [100, 10] of the committed inputs (NumPy reference)."""
    return {key: model.run_features_batch(data["inputs"], backend="numpy") for key, model in converted.items()}


CASES = [(name, weights) for name in STATE_DICTS for weights in ("int8", "pot")]


@pytest.mark.parametrize("name, weights", CASES)
def test_engine_equals_committed_tflm_logits(engine_logits, name, weights):
    with np.load(FIXTURES / "expected_logits.npz") as expected:
        want = expected[f"{name}.{weights}"]
    np.testing.assert_array_equal(engine_logits[name, weights], want)


@pytest.mark.parametrize("name, weights", CASES)
def test_engine_equals_live_tflm(converted, engine_logits, data, name, weights):
    pytest.importorskip("tflite_micro")
    from fixedrnn.tflm_runner import TflmRunner

    np.testing.assert_array_equal(TflmRunner(converted[name, weights])(data["inputs"]), engine_logits[name, weights])


def float_model(name):
    file, batch_first = STATE_DICTS[name]
    recurrent, head = modules_from_state_dict(FIXTURES / file)
    recurrent.batch_first = batch_first
    return recurrent, head


def float_logits(recurrent, head, x):
    with torch.no_grad():
        x = torch.tensor(x)
        out, _ = recurrent(x if recurrent.batch_first else x.transpose(0, 1))
        return head(out[:, -1] if recurrent.batch_first else out[-1]).numpy()


@pytest.mark.parametrize("name, weights", CASES)
def test_engine_agrees_with_the_float_model(engine_logits, data, name, weights):
    recurrent, head = float_model(name)
    want = float_logits(recurrent, head, float_features(data, "inputs")).argmax(1)
    got = engine_logits[name, weights].argmax(1)
    agreement = float(np.mean(got == want))
    assert agreement >= MIN_AGREEMENT[weights], f"{name} {weights}: argmax agreement {agreement:.2f}"


@pytest.mark.parametrize("name", ["lstm16", "rnn24"])
def test_hidden_state_follows_pytorch(converted, data, name):
    """The engine's dequantized hidden state at every step is PyTorch's within a few int8 steps
    (a wrong gate order or a lost bias is off by far more)."""
    recurrent, _ = float_model(name)
    model = converted[name, "int8"]
    x = data["inputs"][:20]
    _, trace = model.run_features_batch(x, backend="numpy", trace=True)
    h = (trace["hidden"].astype(np.float64) - model.hidden_zero_point) * model.hidden_scale
    with torch.no_grad():
        xf = torch.tensor(float_features(data, "inputs")[:20])
        out, _ = recurrent(xf if recurrent.batch_first else xf.transpose(0, 1))
        out = out.numpy() if recurrent.batch_first else out.numpy().transpose(1, 0, 2)
    error = np.abs(h - out)
    assert np.mean(error) < 0.03 and np.max(error) < 0.5, (np.mean(error), np.max(error))


def random_lstm(batch_first=True, bias=True, units=6, seed=0):
    torch.manual_seed(seed)
    recurrent = nn.LSTM(13, units, bias=bias, batch_first=batch_first)
    head = nn.Linear(units, 10)
    return recurrent, head


def calibration_features(seed=0, n=16, frames=20):
    return np.random.default_rng(seed).normal(0, 1, (n, frames, 13)).astype(np.float32)


def same_arrays(a, b):
    x, y = a.to_arrays(), b.to_arrays()
    keys = [k for k in x if not k.startswith("meta.")]
    assert keys == [k for k in y if not k.startswith("meta.")]
    for k in keys:
        np.testing.assert_array_equal(x[k], y[k], err_msg=k)


def test_bias_is_the_exact_sum_of_bias_ih_and_bias_hh():
    """model.lstm.bias = round_half_away((b_ih + b_hh) / (s_x · s_W)) in exact rational arithmetic."""
    recurrent, head = random_lstm(units=5)
    with torch.no_grad():
        recurrent.bias_ih_l0.copy_(torch.linspace(-0.9, 0.7, 20))
        recurrent.bias_hh_l0.copy_(torch.linspace(0.3, -1.1, 20) ** 3)
    model = ft.from_torch(recurrent, head, calibration_features(), GOLDEN_LSTM)
    b_ih = recurrent.bias_ih_l0.detach().numpy().reshape(4, 5)
    b_hh = recurrent.bias_hh_l0.detach().numpy().reshape(4, 5)
    s_x = Fraction(float(np.float32(model.input.scale)))
    for k in range(4):
        s_w = Fraction(float(model.lstm.input_weight_scale[k]))
        for j in range(5):
            exact = (Fraction(float(b_ih[k, j])) + Fraction(float(b_hh[k, j]))) / (s_x * s_w)
            sign = 1 if exact >= 0 else -1
            want = sign * int(abs(exact) + Fraction(1, 2))  # half away from zero
            assert int(model.lstm.bias[k, j]) == want


def test_gate_order_is_pytorchs():
    """PyTorch's rows i, f, g, o land on fixedrnn's gates i, f, g, o: a recurrent layer whose only
    non-zero bias is the forget gate's keeps it there."""
    recurrent, head = random_lstm(units=4)
    with torch.no_grad():
        for p in (recurrent.weight_ih_l0, recurrent.weight_hh_l0, recurrent.bias_hh_l0):
            p.normal_(0, 0.1)
        recurrent.bias_ih_l0.zero_()
        recurrent.bias_ih_l0[4:8] = 3.0  # the forget gate's rows (PyTorch: i, f, g, o)
        recurrent.bias_hh_l0.zero_()
    model = ft.from_torch(recurrent, head, calibration_features(), GOLDEN_LSTM)
    assert np.all(model.lstm.bias[1] > 0) and not np.any(model.lstm.bias[[0, 2, 3]])


def test_batch_first_either_way_gives_the_same_model():
    first, head = random_lstm(batch_first=True, seed=3)
    second = nn.LSTM(13, 6, batch_first=False)
    second.load_state_dict(first.state_dict())
    x = calibration_features(seed=3)
    same_arrays(ft.from_torch(first, head, x, GOLDEN_LSTM), ft.from_torch(second, head, x, GOLDEN_LSTM))


def test_state_dict_module_and_file_forms_agree(tmp_path):
    recurrent, head = random_lstm(seed=4)
    x = calibration_features(seed=4)
    state = {f"enc.{k}": v for k, v in recurrent.state_dict().items()}
    state.update({f"out.{k}": v for k, v in head.state_dict().items()})
    torch.save(state, tmp_path / "sd.pt")
    np.savez(tmp_path / "sd.npz", **{k: v.numpy() for k, v in state.items()})
    want = ft.from_torch(recurrent, head, x, GOLDEN_LSTM)
    for source in (state, tmp_path / "sd.pt", tmp_path / "sd.npz"):
        same_arrays(ft.from_torch_state_dict(source, x, GOLDEN_LSTM), want)


def test_float64_state_dict_keeps_its_precision():
    rng = np.random.default_rng(10)
    state = {"weight_ih_l0": rng.normal(0, 0.3, (6, 13)), "weight_hh_l0": rng.normal(0, 0.3, (6, 6)),
             "bias_ih_l0": rng.normal(0, 0.1, 6), "bias_hh_l0": rng.normal(0, 0.1, 6),
             "head.weight": rng.normal(0, 0.3, (10, 6)), "head.bias": rng.normal(0, 0.1, 10)}
    recurrent, head = modules_from_state_dict(state)
    assert recurrent.weight_ih_l0.dtype == torch.float64 and head.weight.dtype == torch.float64
    np.testing.assert_array_equal(recurrent.weight_hh_l0.detach().numpy(), state["weight_hh_l0"])
    model = ft.from_torch(recurrent, head, calibration_features(seed=10), GOLDEN_LSTM)
    assert model.cell == "rnn"


def test_per_channel_rnn_equals_live_tflm():
    pytest.importorskip("tflite_micro")
    from fixedrnn.tflm_runner import TflmRunner

    torch.manual_seed(11)
    recurrent, head = nn.RNN(13, 7, batch_first=True), nn.Linear(7, 10)
    model = ft.from_torch(recurrent, head, calibration_features(seed=11), GOLDEN_LSTM, per_channel=True)
    assert model.head.per_channel and model.rnn.input_fc.per_channel
    x = np.random.default_rng(11).integers(-128, 128, (12, model.frames, 13)).astype(np.int8)
    np.testing.assert_array_equal(TflmRunner(model)(x), model.run_features_batch(x, backend="numpy"))


def test_no_bias_gives_zero_biases():
    recurrent, head = random_lstm(bias=False, seed=5)
    model = ft.from_torch(recurrent, head, calibration_features(), GOLDEN_LSTM)
    assert not np.any(model.lstm.bias)


def test_frontend_model_gives_labels_frames_and_normalisation():
    from fixedrnn.model import load

    golden = load(GOLDEN_LSTM)
    recurrent, head = random_lstm(seed=6)
    model = ft.from_torch(recurrent, head, calibration_features(frames=7), golden)
    assert model.labels == golden.labels and model.frames == golden.frames
    for key in ("offset", "multiplier", "shift"):
        np.testing.assert_array_equal(getattr(model.input, key), getattr(golden.input, key))


def test_recordings_calibrate_on_the_engines_features():
    """Calibrating from PCM gives the model calibrated on the golden model's own int8 features of
    that PCM (same front end and normalisation), dequantized."""
    from fixedrnn.model import load

    golden = load(GOLDEN_LSTM)
    rng = np.random.default_rng(7)
    pcms = [(rng.normal(0, 1, 5000) * 3000 * np.sin(np.arange(5000) / (40 + 9 * i))).astype(np.int16)
            for i in range(6)]
    recurrent, head = random_lstm(seed=7)
    x = golden.features_batch(pcms)
    features = (x.astype(np.float32) - np.float32(golden.input.zero_point)) * np.float32(golden.input.scale)
    same_arrays(ft.from_torch(recurrent, head, pcms, golden), ft.from_torch(recurrent, head, features, golden))


def test_cmn_front_ends_calibrate_on_the_mean_removed_window():
    """A front end with cepstral mean normalisation (a CMN model, or FeatureNormalisation(cmn=
    "window")): the model carries input.cmn, and recordings calibrate on the window built with
    Python ints from the front end's outputs (tests/test_cepstral_mean.expected_window)."""
    from fixedrnn import engine
    from fixedrnn.model import load
    from tests.test_cepstral_mean import expected_window

    rng = np.random.default_rng(9)
    pcms = [(rng.normal(0, 1, 5000) * 3000 * np.sin(np.arange(5000) / (40 + 9 * i)) + 800).astype(np.int16)
            for i in range(6)]
    recurrent, head = random_lstm(seed=9)
    golden = load(GOLDEN_LSTM.parent / "lstm_int8_cmn.npz")
    assert ft.from_torch(recurrent, head, calibration_features(frames=7), golden).input.cmn == "window"
    norm = ft.FeatureNormalisation(MfccConfig(), np.linspace(-1, 1, 13), np.linspace(1, 3, 13), cmn="window")
    model = ft.from_torch(recurrent, head, pcms, norm, frames=30)
    assert model.input.cmn == "window"
    x = np.stack([expected_window(model, engine.mfcc(model, pcm)) for pcm in pcms])
    features = (x.astype(np.float32) - np.float32(model.input.zero_point)) * np.float32(model.input.scale)
    same_arrays(model, ft.from_torch(recurrent, head, features, norm, frames=30))
    plain = ft.from_torch(recurrent, head, pcms, replace(norm, cmn="off"), frames=30)
    assert plain.input.cmn == "off" and not np.array_equal(plain.features(pcms[0]), x[0])
    with pytest.raises(FixedRnnError, match="cmn: must be one of off, window"):
        ft.from_torch(recurrent, head, features, replace(norm, cmn="utterance"), frames=30)


def test_calibration_ranges_widen_to_contain_zero_and_clip_the_rnn_sum():
    torch.manual_seed(8)
    recurrent, head = nn.RNN(13, 8, batch_first=True), nn.Linear(8, 3)
    with torch.no_grad():
        recurrent.weight_ih_l0.mul_(20.0)  # tanh inputs far beyond ±3
    ranges = calibrate.activation_ranges(recurrent, head, calibration_features(seed=8))
    assert ranges.add == (-calibrate.RNN_ADD_LIMIT, calibrate.RNN_ADD_LIMIT)
    for lo, hi in (ranges.input_fc, ranges.recurrent_fc, ranges.head):
        assert lo <= 0.0 <= hi
    assert recurrent.training and head.training  # modes restored


def refusal(call):
    with pytest.raises(FixedRnnError) as exc:
        call()
    message = str(exc.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("make, needle", [
    (lambda: (nn.LSTM(13, 6, bidirectional=True), nn.Linear(12, 10)), "bidirectional=True"),
    (lambda: (nn.LSTM(13, 6, num_layers=2), nn.Linear(6, 10)), "num_layers=2"),
    (lambda: (nn.LSTM(13, 6, proj_size=3), nn.Linear(3, 10)), "proj_size=3"),
    (lambda: (nn.RNN(13, 6, nonlinearity="relu"), nn.Linear(6, 10)), "nonlinearity='relu'"),
    (lambda: (nn.GRU(13, 6), nn.Linear(6, 10)), "GRU"),
    (lambda: (nn.LSTM(13, 6), nn.Linear(7, 10)), "in_features=7"),
    (lambda: (nn.LSTM(13, 6), nn.Sequential(nn.Linear(6, 10))), "head: Sequential"),
    (lambda: (nn.LSTM(12, 6), nn.Linear(6, 10)), "input_size is 12"),
])
def test_unsupported_modules_are_refused_by_name(make, needle):
    recurrent, head = make()
    assert needle in refusal(lambda: ft.from_torch(recurrent, head, calibration_features(), GOLDEN_LSTM))


@pytest.mark.parametrize("kwargs, needle", [
    (dict(weights="int4"), "weights"),
    (dict(labels=("a", "b")), "labels"),
    (dict(per_channel=True), "per_channel"),
    (dict(frontend="nothing-here.npz"), "nothing-here.npz"),
    (dict(frontend=42), "frontend"),
    (dict(calibration=np.zeros((4, 10, 12), np.float32)), "calibration"),
    (dict(calibration=np.full((4, 10, 13), np.nan, np.float32)), "NaN"),
    (dict(percentile=10.0), "percentile"),
])
def test_bad_arguments_are_refused_by_name(kwargs, needle):
    recurrent, head = random_lstm()
    args = dict(calibration=calibration_features(), frontend=GOLDEN_LSTM)
    args.update(kwargs)
    calibration, frontend = args.pop("calibration"), args.pop("frontend")
    assert needle in refusal(lambda: ft.from_torch(recurrent, head, calibration, frontend, **args))


def test_non_finite_weights_are_refused_by_name():
    recurrent, head = random_lstm()
    with torch.no_grad():
        recurrent.weight_hh_l0[0, 0] = float("inf")
    assert "recurrent.weight_hh_l0" in refusal(
        lambda: ft.from_torch(recurrent, head, calibration_features(), GOLDEN_LSTM))


def test_recordings_without_frames_are_refused():
    recurrent, head = random_lstm()
    norm = ft.FeatureNormalisation(MfccConfig(), np.zeros(13), np.ones(13))
    assert "frames" in refusal(lambda: ft.from_torch(recurrent, head, [np.zeros(800, np.int16)], norm))


def test_feature_normalisation_checks_its_fields():
    recurrent, head = random_lstm()
    x = calibration_features()
    cases = [(ft.FeatureNormalisation(MfccConfig(), np.zeros(12), np.ones(12)), "shape (13,)"),
             (ft.FeatureNormalisation(MfccConfig(), np.zeros(13), np.zeros(13)), "std > 0"),
             (ft.FeatureNormalisation(MfccConfig(), np.zeros(13), np.ones(13), precision="q7"), "precision"),
             (ft.FeatureNormalisation(MfccConfig(pad_end=True), np.zeros(13), np.ones(13)), "pad_end"),
             (ft.FeatureNormalisation(MfccConfig(n_mfcc=10), np.zeros(10), np.ones(10)), "n_mfcc=10")]
    for norm, needle in cases:
        assert needle in refusal(lambda: ft.from_torch(recurrent, head, x, norm))


def lstm_state(**changes):
    recurrent, head = random_lstm()
    state = {f"lstm.{k}": v for k, v in recurrent.state_dict().items()}
    state.update({f"fc.{k}": v for k, v in head.state_dict().items()})
    for key, value in changes.items():
        if value is None:
            del state[key]
        else:
            state[key] = value
    return state


@pytest.mark.parametrize("changes, needle", [
    (dict(**{"lstm.bias_hh_l0": None}), "lstm.bias_hh_l0 is missing"),
    (dict(**{"lstm.bias_ih_l0": None}), "lstm.bias_ih_l0 is missing"),
    (dict(**{"lstm.weight_ih_l1": torch.zeros(24, 6)}), "lstm.weight_ih_l1: several layers"),
    (dict(**{"lstm.weight_ih_l0_reverse": torch.zeros(24, 13)}), "lstm.weight_ih_l0_reverse: bidirectional"),
    (dict(**{"lstm.weight_hr_l0": torch.zeros(3, 6)}), "lstm.weight_hr_l0: an LSTM projection"),
    (dict(**{"lstm.weight_hh_l0": torch.zeros(18, 6)}), "GRU"),
    (dict(**{"fc.weight": None}), "head"),
    (dict(**{"other.weight": torch.zeros(10, 6)}), "several head candidates"),
    (dict(**{"fc.weight": torch.zeros(10, 5)}), "in_features=5"),
])
def test_bad_state_dicts_are_refused_by_key(changes, needle):
    state = lstm_state(**changes)
    assert needle in refusal(lambda: ft.from_torch_state_dict(state, calibration_features(), GOLDEN_LSTM))


def test_state_dict_relu_and_cell_mismatch_are_refused():
    recurrent = nn.RNN(13, 6)
    state = {**recurrent.state_dict(), **{f"head.{k}": v for k, v in nn.Linear(6, 10).state_dict().items()}}
    x = calibration_features()
    assert "nonlinearity" in refusal(lambda: ft.from_torch_state_dict(state, x, GOLDEN_LSTM, nonlinearity="relu"))
    assert "cell: 'lstm'" in refusal(lambda: ft.from_torch_state_dict(state, x, GOLDEN_LSTM, cell="lstm"))


def test_bad_state_dict_files_are_refused(tmp_path):
    from fixedrnn.errors import InputFileError

    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    (tmp_path / "sd.txt").write_text("x")
    for path in (tmp_path / "junk.pt", tmp_path / "sd.txt", tmp_path / "missing.npz"):
        with pytest.raises(InputFileError) as exc:
            ft.from_torch_state_dict(path, calibration_features(), GOLDEN_LSTM)
        assert str(path) in str(exc.value) and "\n" not in str(exc.value)


def test_lazy_public_names():
    import fixedrnn

    assert fixedrnn.from_torch is ft.from_torch and fixedrnn.FeatureNormalisation is ft.FeatureNormalisation


@pytest.mark.slow
def test_firmware_under_qemu_equals_engine(converted, tmp_path):
    """The lstm16 int8 model's generated C on QEMU's Cortex-M4: PCM in, the same int8 window and
    logits as the engine."""
    sys.path.insert(0, str(REPO / "tools" / "firmware"))
    import runner

    from fixedrnn import c_export, firmware

    config = runner.BuildConfig("arm", "-O2")
    missing = runner.toolchain_missing(config.target)
    if missing:
        pytest.skip(missing)
    model = converted["lstm16", "int8"]
    rng = np.random.default_rng(9)
    pcms = [(rng.normal(0, 1, n) * 4000 * np.sin(np.arange(n) / 30.0)).astype(np.int16)
            for n in (8000, 6000, 300, 9000)]
    c_export.export_c(model, tmp_path / "src")
    (tmp_path / "in.bin").write_bytes(firmware.pcm_input(pcms))
    exe = runner.build(config, tmp_path / "b", main="main.c", src_dir=tmp_path / "src")
    runner.run(exe, config, [tmp_path / "in.bin", tmp_path / "out.bin"], timeout=300)
    got = firmware.read_logits((tmp_path / "out.bin").read_bytes(), model, len(pcms))
    want = model.run_features_batch(model.features_batch(pcms), backend="numpy")
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("kind, units, bias, batch_first, weights, gain, seed", [
    ("lstm", 5, True, False, "int8", 1.0, 20),
    ("lstm", 20, False, True, "pot", 2.0, 21),
    ("lstm", 32, True, True, "int8", 0.5, 22),
    ("rnn", 33, True, True, "pot", 1.0, 23),
    ("rnn", 9, False, False, "int8", 2.0, 24),
])
def test_random_modules_equal_live_tflm(kind, units, bias, batch_first, weights, gain, seed):
    """Modules of other sizes, seeds and weight scales than the fixtures: engine = TFLM, 0 LSB."""
    pytest.importorskip("tflite_micro")
    from fixedrnn.tflm_runner import TflmRunner

    torch.manual_seed(seed)
    recurrent = (nn.LSTM if kind == "lstm" else nn.RNN)(13, units, bias=bias, batch_first=batch_first)
    head = nn.Linear(units, 10)
    with torch.no_grad():
        for p in recurrent.parameters():
            p.mul_(gain)
    model = ft.from_torch(recurrent, head, calibration_features(seed=seed, n=32, frames=30), GOLDEN_LSTM,
                          weights=weights, frames=30)
    x = np.random.default_rng(seed).integers(-128, 128, (10, 30, 13)).astype(np.int8)
    np.testing.assert_array_equal(TflmRunner(model)(x), model.run_features_batch(x, backend="numpy"))
