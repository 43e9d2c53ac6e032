"""The window firmware with clip endpointing (export_c(..., endpoint=EndpointConfig), FRNN_ENDPOINT)
against the engine (model.run(pcm, endpoint=config)): every logit, the window the cell read and the
segment (fixedrnn.endpoint.segment), 0 LSB, on synthetic clips (a loud burst in quiet noise, longer
than the search, shorter than T, silent, all-zero, shorter than one frame) and FSDD words padded with
noise; host gcc, then Cortex-M4 under QEMU. The export's macros and layout, the default export
unchanged, the budget's --mode endpoint against the linker's symbol sizes (nm -S)."""

import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from fixedrnn import budget, c_export, engine, firmware, layout
from fixedrnn.endpoint import EndpointConfig, segment
from fixedrnn.errors import FixedRnnError

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "firmware"))
sys.path.insert(0, str(REPO / "tests"))

import runner  # noqa: E402
from test_c_export import nm_sizes  # noqa: E402
from test_stream import q31_model  # noqa: E402
from test_stream_firmware import MODELS  # noqa: E402  (the streaming firmware tests' random models)
from throwaway_models import random_model, save_random_model  # noqa: E402

#: The default; one that changes every macro (a short search, no pre or post frames, half the range
#: as the threshold); a long search with uneven pre / post; range_shift 0 (the threshold is at least
#: the loudest frame: never a loud frame, the segment is always all held frames).
CONFIGS = {
    "default": EndpointConfig(),
    "tight": EndpointConfig(search=40, margin=300, range_shift=1, pre=0, post=0),
    "long": EndpointConfig(search=200, margin=900, range_shift=4, pre=3, post=20),
    "flat": EndpointConfig(search=60, margin=0, range_shift=0, pre=0, post=0),
}
HOST = runner.BuildConfig("host", "-O2")
QEMU_BUILDS = [runner.BuildConfig("arm", "-O2"), runner.BuildConfig("arm", "-Os", dsp=False)]
RATE = 8000


def require(config):
    missing = runner.toolchain_missing(config.target)
    if missing:
        pytest.skip(missing)


def _noise(seconds, rng, level=30.0):
    return rng.normal(0.0, level, int(seconds * RATE))


def _tone(x, start, stop, amplitude, rng):
    """``x`` with a tone of ``amplitude`` from ``start`` to ``stop`` seconds (a random pitch)."""
    a, b = int(start * RATE), int(stop * RATE)
    t = np.arange(b - a) / RATE
    x[a:b] += amplitude * np.sin(2 * np.pi * rng.uniform(200, 1200) * t * (1 + t))
    return x


def _int16(x):
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def clips(seed=0):
    """``{name: int16 PCM}``: synthetic clips that reach every branch of the rule: a loud burst in
    the middle of quiet noise (3 s: longer than the default search), two bursts, a burst at the very
    start and at the very end (pre / post clipped to the held frames), a clipped burst, a burst
    shorter than T, quiet noise only (no loud frame), all-zero, fewer samples than one frame, none."""
    rng = np.random.default_rng(seed)
    return {
        "burst": _int16(_tone(_noise(3.0, rng), 1.2, 1.6, 3000, rng)),
        "two-bursts": _int16(_tone(_tone(_noise(2.5, rng), 0.4, 0.6, 2000, rng), 1.9, 2.1, 8000, rng)),
        "start": _int16(_tone(_noise(1.2, rng), 0.0, 0.3, 5000, rng)),
        "end": _int16(_tone(_noise(1.5, rng), 1.3, 1.5, 4000, rng)),
        "clipped": _int16(_tone(_noise(2.0, rng), 0.8, 1.1, 40000, rng)),
        "short": _int16(_tone(_noise(0.25, rng), 0.08, 0.16, 3000, rng)),
        "quiet": _int16(_noise(2.2, rng)),
        "zeros": np.zeros(RATE, np.int16),
        "tiny": _int16(_noise(0.0125, rng, 500.0)),
        "empty": np.zeros(0, np.int16),
    }


def model_of(name, precision="q15"):
    model = random_model(**MODELS[name])
    return q31_model(model, seed=3) if precision == "q31" else model


def assert_firmware_equals_engine(model, pcms, build, config, tmp_path):
    """The endpointing firmware's logits, window and segment on every clip of ``pcms`` equal the
    engine's (model.run / engine.features with ``config``, fixedrnn.endpoint.segment)."""
    out = firmware.run_pcm_firmware(model, list(pcms), build, endpoint=config, work_dir=tmp_path)
    for k, pcm in enumerate(pcms):
        want = model.run(pcm, backend="numpy", endpoint=config)
        np.testing.assert_array_equal(out.logits[k], want, err_msg=f"clip {k}")
        np.testing.assert_array_equal(out.windows[k], engine.features(model, pcm, config), err_msg=f"clip {k}")
        assert tuple(out.segments[k]) == firmware.firmware_segment(model, pcm, config), k
    return out


# ---- quick: the export, the layout, the budget, no compiler -------------------------------------


def test_endpoint_export_writes_the_configuration_from_python():
    """FRNN_ENDPOINT and one FRNN_ENDPOINT_<FIELD> macro per EndpointConfig field, with its value; the
    held frames in place of fr_features; the flash data as in the window export."""
    model = random_model(**MODELS["lstm-int8"])
    silence = np.zeros(model.n_features, np.int8)
    config = CONFIGS["long"]
    files = c_export.generate(model, silence=silence, endpoint=config)
    header = files["frnn_model.h"]
    macros = {name: int(value) for name, value in re.findall(r"#define (FRNN_ENDPOINT_\w+) \((-?\d+)\)", header)}
    assert macros == {f"FRNN_ENDPOINT_{f.name.upper()}": getattr(config, f.name) for f in fields(config)}
    assert macros == {"FRNN_ENDPOINT_SEARCH": 200, "FRNN_ENDPOINT_MARGIN": 900, "FRNN_ENDPOINT_RANGE_SHIFT": 4,
                      "FRNN_ENDPOINT_PRE": 3, "FRNN_ENDPOINT_POST": 20}
    assert "#define FRNN_ENDPOINT 1" in header and "FRNN_STREAM" not in header
    body = files["frnn_model.c"]
    assert "int8_t fr_endpoint_features[2600];" in body and "int16_t fr_endpoint_energy[200];" in body
    assert "uint32_t fr_endpoint_count[1];" in body and "fr_features[" not in body
    window = c_export.generate(model, silence=silence)
    flash = lambda text: text.split("/* ---- RAM")[0]  # noqa: E731
    assert flash(body) == flash(window["frnn_model.c"])
    assert {name: text for name, text in files.items() if name not in ("frnn_model.h", "frnn_model.c")} == {
        name: text for name, text in window.items() if name not in ("frnn_model.h", "frnn_model.c")}


@pytest.mark.parametrize("name", ["lstm-int8", "rnn-pot"])
def test_default_export_is_unchanged(name):
    """endpoint=None is the window firmware: the same files as with the parameter left out, with no
    endpointing macro or object (the window's fr_features instead)."""
    model = random_model(**MODELS[name])
    silence = np.zeros(model.n_features, np.int8)
    default = c_export.generate(model, silence=silence)
    assert c_export.generate(model, silence=silence, endpoint=None) == default
    assert c_export.generate(model, silence, None, None) == default
    for text in (default["frnn_model.h"], default["frnn_model.c"]):
        assert "ENDPOINT" not in text and "fr_endpoint" not in text and "fr_features[" in text
    arrays = model.to_arrays()
    assert layout.ram_items(arrays, endpoint=None) == layout.ram_items(arrays)
    assert layout.flash_items(arrays, endpoint=None) == layout.flash_items(arrays)


@pytest.mark.parametrize("config_name", sorted(CONFIGS))
def test_endpoint_layout_replaces_the_window_with_the_held_frames(config_name):
    """The endpointing RAM items: fr_features [T, I] replaced by the features [S, I], the int16
    energies [S] and the count of the frames held; everything else (flash included) as the window's."""
    model = random_model(**MODELS["rnn-int8"])
    arrays = model.to_arrays()
    config = CONFIGS[config_name]
    window = {i.symbol: i for i in layout.ram_items(arrays)}
    endpoint = {i.symbol: i for i in layout.ram_items(arrays, endpoint=config)}
    assert set(window) - set(endpoint) == {"fr_features"}
    assert set(endpoint) - set(window) == {"fr_endpoint_features", "fr_endpoint_energy", "fr_endpoint_count"}
    assert endpoint["fr_endpoint_features"].shape == (config.search, model.n_features)
    assert endpoint["fr_endpoint_energy"].c_type == "int16_t" and endpoint["fr_endpoint_energy"].count == config.search
    assert endpoint["fr_endpoint_count"].nbytes == 4
    for symbol in set(window) & set(endpoint):
        assert endpoint[symbol] == window[symbol], symbol
    assert layout.flash_items(arrays, endpoint=config) == layout.flash_items(arrays)
    added = sum(i.nbytes for i in endpoint.values()) - sum(i.nbytes for i in window.values())
    assert added == config.search * (model.n_features + 2) + 4 - model.frames * model.n_features


def test_endpoint_is_refused_for_a_graph_model_and_a_streaming_export(tmp_path):
    """One FixedRnnError line each: a graph model has no cell step to run a segment on; endpointing
    is an option of the window firmware, not of the streaming one."""
    from fixedrnn.stream import StreamConfig
    from tests.test_graph import _model

    graph = _model("keras3_rnn_h16")
    with pytest.raises(FixedRnnError, match="graph model has no endpointing firmware") as info:
        c_export.export_c(graph, tmp_path / "g", endpoint=EndpointConfig())
    assert "\n" not in str(info.value) and not (tmp_path / "g").exists()
    with pytest.raises(FixedRnnError, match="graph model has no endpointing"):
        budget.audit(graph, mode="endpoint")
    model = random_model(**MODELS["lstm-pot"])
    with pytest.raises(FixedRnnError, match="not of the streaming one") as info:
        c_export.generate(model, stream=StreamConfig(), endpoint=EndpointConfig())
    assert "\n" not in str(info.value)


def test_budget_endpoint_mode(tmp_path, capsys):
    """--mode endpoint counts the window firmware with the default EndpointConfig's held frames."""
    model = random_model(**MODELS["lstm-int8"])
    window = budget.audit(model, mode="window")
    report = budget.audit(model, mode="endpoint")
    arrays = model.to_arrays()
    assert report.ram == layout.ram_items(arrays, endpoint=EndpointConfig()) and report.flash == window.flash
    s = EndpointConfig().search
    assert report.ram_total - window.ram_total == s * model.n_features + 2 * s + 4 - model.frames * model.n_features
    assert budget.BudgetReport.from_dict(report.to_dict()) == report
    path = save_random_model(tmp_path / "m.npz", **MODELS["lstm-int8"])
    assert budget.main([str(path), "--mode", "endpoint", "--budget", "1M"]) == 0
    text = capsys.readouterr().out
    assert "with endpointing (default EndpointConfig)" in text and "fr_endpoint_features" in text
    assert "ram total" in text and str(report.ram_total) in text


def test_pcm_output_reader_and_segment_numbers():
    """The kind-4 reader with the endpointing head (int32 held, start, stop), and the firmware's
    segment numbers from fixedrnn.endpoint.segment's clip numbers."""
    model = random_model(**MODELS["rnn-int8"])
    t, n_in, c = model.frames, model.n_features, len(model.labels)
    rng = np.random.default_rng(1)
    windows = rng.integers(-128, 128, (2, t, n_in)).astype(np.int8)
    logits = rng.integers(-128, 128, (2, c)).astype(np.int8)
    segments = np.array([[125, 3, 40], [1, 0, 1]], "<i4")
    data = b"".join(segments[k].tobytes() + windows[k].tobytes() + logits[k].tobytes() for k in range(2))
    out = firmware.read_pcm_output(data, model, 2, endpoint=True)
    np.testing.assert_array_equal(out.windows, windows)
    np.testing.assert_array_equal(out.logits, logits)
    assert out.segments.tolist() == segments.tolist()
    np.testing.assert_array_equal(firmware.read_logits(data, model, 2, endpoint=True), logits)
    with pytest.raises(FixedRnnError, match="expected"):
        firmware.read_pcm_output(data, model, 2)
    config = EndpointConfig()
    assert segment(np.zeros(0, np.int32), config) == (0, 0)  # no frame: nothing (the firmware has one)
    for name, pcm in clips().items():
        held, start, stop = firmware.firmware_segment(model, pcm, config)
        n = len(engine.mfcc(model, pcm))
        assert held == min(n, config.search) and 0 <= start < stop <= held, name
        assert (n - held + start, n - held + stop) == engine.segment_of(model, engine.mfcc(model, pcm), config)


def test_clips_reach_every_branch_of_the_rule():
    """The synthetic clips: a segment inside the held frames (burst), clipped at the first and last
    held frame (start, end), no loud frame (quiet, zeros: all held frames), longer than the default
    search and shorter than T."""
    model = random_model(**MODELS["lstm-int8"])
    config = EndpointConfig()
    segs = {name: firmware.firmware_segment(model, pcm, config) for name, pcm in clips().items()}
    held, start, stop = segs["burst"]
    assert held == config.search and 0 < start and stop < held and stop - start < model.frames + 20
    assert segs["start"][1] == 0 and segs["end"][2] == segs["end"][0]
    for name in ("quiet", "zeros", "tiny", "empty"):
        assert segs[name][1:] == (0, segs[name][0]), name
    assert segs["short"][0] < model.frames and segs["tiny"] == segs["empty"] == (1, 0, 1)
    tight = firmware.firmware_segment(model, clips()["end"], CONFIGS["tight"])
    assert tight[0] == 40 and 0 < tight[1] < tight[2] < 40
    assert firmware.firmware_segment(model, clips()["burst"], CONFIGS["flat"]) == (60, 0, 60)


# ---- host build, then QEMU ---------------------------------------------------------------------


def test_host_lstm_int8_clips_equal_engine(tmp_path):
    """Host gcc, the default configuration: every clip's logits, window and segment equal the engine's."""
    require(HOST)
    model = model_of("lstm-int8")
    out = assert_firmware_equals_engine(model, clips().values(), HOST, EndpointConfig(), tmp_path)
    # endpointing changed the window of the long clip (else this test would not tell the two apart)
    assert not np.array_equal(out.windows[0], engine.features(model, clips()["burst"]))


@pytest.mark.slow  # host builds
@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("precision", ["q15", "q31"])
@pytest.mark.parametrize("config_name", sorted(CONFIGS))
def test_host_models_and_configurations_equal_engine(name, precision, config_name, tmp_path):
    """RNN and LSTM, int8 and PoT, q15 and q31 front ends, every configuration (its macros): the host
    build equals the engine on every clip."""
    require(HOST)
    model = model_of(name, precision)
    pcms = list(clips(seed=len(name)).values())
    assert_firmware_equals_engine(model, pcms, HOST, CONFIGS[config_name], tmp_path)


@pytest.mark.slow  # QEMU
@pytest.mark.parametrize("build", QEMU_BUILDS, ids=lambda c: c.name)
def test_qemu_models_equal_engine(build, tmp_path):
    """Cortex-M4 (-O2 with DSP intrinsics, -Os portable C): RNN and LSTM, int8 and PoT (the PoT ones
    with a q31 front end), the default configuration on every clip and the tight one on three."""
    require(build)
    for name in sorted(MODELS):
        model = model_of(name, "q31" if name.endswith("pot") else "q15")
        pcms = list(clips(seed=7).values())
        assert_firmware_equals_engine(model, pcms, build, EndpointConfig(), tmp_path / name)
    model = model_of("rnn-int8")
    pcms = [clips(seed=2)[k] for k in ("burst", "end", "short", "quiet")]
    assert_firmware_equals_engine(model, pcms, build, CONFIGS["tight"], tmp_path / "tight")


@pytest.fixture(scope="module")
def fsdd_padded(fsdd_dir):
    """Six FSDD test-split recordings (a seeded choice), each with 0.5-1.5 s of quiet noise before and
    0.3-0.9 s after (int16, 8 kHz): the word inside the last 125 frames (2 s) the default search holds.
    The noise (standard deviation 5) is below the quietest speakers' own floor: at 20, theo's
    recordings have frames quieter than the padding, which is then loud and kept whole."""
    from fixedrnn import fsdd

    recordings = fsdd.list_recordings(fsdd_dir, split="test")
    rng = np.random.default_rng(21)
    out = []
    for k in rng.choice(len(recordings), 6, replace=False):
        word = fsdd.read_samples(recordings[k].path).astype(np.float64)
        before, after = _noise(rng.uniform(0.5, 1.5), rng, 5.0), _noise(rng.uniform(0.3, 0.9), rng, 5.0)
        out.append((recordings[k].digit, _int16(np.concatenate([before, word, after]))))
    return out


@pytest.mark.slow  # host build and QEMU, FSDD
@pytest.mark.parametrize("build", [HOST, QEMU_BUILDS[0]], ids=lambda c: c.name)
def test_golden_lstm_int8_on_padded_fsdd_words_equals_engine(build, fsdd_padded, tmp_path):
    """golden/models/lstm_int8.npz on FSDD words padded with noise: the firmware equals the engine's
    endpointed run; endpointing cuts the padding (each segment shorter than the clip's frames)."""
    from fixedrnn.model import load

    require(build)
    model = load(REPO / "golden" / "models" / "lstm_int8.npz")
    pcms = [pcm for _, pcm in fsdd_padded]
    out = assert_firmware_equals_engine(model, pcms, build, EndpointConfig(), tmp_path)
    for (held, start, stop), pcm in zip(out.segments, pcms):
        assert stop - start < min(held, len(engine.mfcc(model, pcm))) - 10


# ---- the layout against the linker, and the command line ---------------------------------------


@pytest.mark.slow  # arm builds
@pytest.mark.parametrize("name, config_name", [("lstm-int8", "default"), ("rnn-pot", "tight"),
                                               ("lstm-pot", "long")])
def test_endpoint_layout_equals_linker_symbol_sizes(name, config_name, tmp_path):
    """Every flash and RAM item of the endpointing layout has its nm -S size in the Cortex-M4 image,
    and the image has no other fr_ object; for the default configuration the items are the budget's
    --mode endpoint."""
    build = runner.BuildConfig("arm", "-Os")
    require(build)
    model = random_model(**MODELS[name])
    config = CONFIGS[config_name]
    _, _, exe = firmware.build_firmware(model, tmp_path, build, endpoint=config)
    sizes = nm_sizes(exe)
    arrays = model.to_arrays()
    items = layout.flash_items(arrays, endpoint=config) + layout.ram_items(arrays, endpoint=config)
    audit = {item.symbol: item.nbytes for item in items}
    assert {sym: sizes.get(sym) for sym in audit} == audit
    assert sorted(s for s in sizes if s.startswith(layout.SYMBOL_PREFIX)) == sorted(audit)
    if config_name == "default":
        report = budget.audit(model, mode="endpoint")
        assert {i.symbol: i.nbytes for i in report.flash + report.ram} == audit


@pytest.mark.slow  # arm build
def test_golden_lstm_int8_endpoint_budget_equals_linker(tmp_path):
    """golden/models/lstm_int8.npz: budget --mode endpoint's items are the image's fr_ objects."""
    from fixedrnn.model import load

    build = runner.BuildConfig("arm", "-Os")
    require(build)
    model = load(REPO / "golden" / "models" / "lstm_int8.npz")
    _, _, exe = firmware.build_firmware(model, tmp_path, build, endpoint=EndpointConfig())
    sizes = nm_sizes(exe)
    report = budget.audit(model, mode="endpoint")
    audit = {i.symbol: i.nbytes for i in report.flash + report.ram}
    assert {sym: sizes.get(sym) for sym in audit} == audit
    assert sorted(s for s in sizes if s.startswith(layout.SYMBOL_PREFIX)) == sorted(audit)


@pytest.mark.slow  # host build, processes
def test_firmware_run_endpoint_cli(tmp_path):
    """'firmware run --endpoint --target host' equals the engine's endpointed run on a WAV whose word
    is in quiet noise, and its logits differ from the window firmware's there; --endpoint with
    --stream is one line, exit 2."""
    import json

    import scipy.io.wavfile

    require(HOST)
    model_file = save_random_model(tmp_path / "m.npz", **MODELS["lstm-int8"])
    wav = tmp_path / "burst.wav"
    pcm = clips()["burst"]
    scipy.io.wavfile.write(wav, RATE, pcm)

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "fixedrnn", "firmware", "run", str(model_file), str(wav),
                               "--target", "host", *args], capture_output=True, text=True)

    proc = cli("--endpoint", "--json")
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)
    model = random_model(**MODELS["lstm-int8"])
    assert row["equal"] and row["firmware"] == model.run(pcm, backend="numpy", endpoint=EndpointConfig()).tolist()
    plain = cli("--endpoint")
    assert plain.returncode == 0 and "endpointing): all 1 recording(s) equal the engine" in plain.stdout
    bad = cli("--endpoint", "--stream")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--endpoint" in bad.stderr


def test_export_c_endpoint_cli(tmp_path, capsys):
    """``fixedrnn export c MODEL OUT --endpoint`` writes the default EndpointConfig's macros;
    with --stream too: one line, exit 2, nothing written."""
    from fixedrnn.cli import main

    model_path = tmp_path / "m.npz"
    save_random_model(model_path, **MODELS["rnn-int8"])
    assert main(["export", "c", str(model_path), str(tmp_path / "out"), "--endpoint"]) == 0
    header = (tmp_path / "out" / "frnn_model.h").read_text()
    default = EndpointConfig()
    for f in fields(default):
        assert f"#define FRNN_ENDPOINT_{f.name.upper()} ({getattr(default, f.name)})" in header
    capsys.readouterr()
    assert main(["export", "c", str(model_path), str(tmp_path / "both"), "--endpoint", "--stream"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--stream and --endpoint" in err[0] and not (tmp_path / "both").exists()


# ---- instruction counts (tools/firmware/count_instructions.py --endpoint) -------------------------


@pytest.mark.slow  # arm builds, QEMU under the instruction counter (about 30 s)
def test_count_instructions_endpoint_costs_the_segment_scan(tmp_path):
    """count_instructions --endpoint's counting path on a tiny model, DSP -O2, on its clip with quiet
    around a loud part (held frames full, the segment inside them, as fixedrnn.endpoint.segment says):
    the window build, given the window the endpointing build read, gives the same logits (checked by
    count_endpoint), and the endpointing frnn_result costs at least the window one plus the segment
    scan counted alone (which reads every held energy twice); the endpointing push slides search x
    (I + 2) bytes instead of T x I, so it costs more."""
    import count_instructions

    build = runner.BuildConfig("arm", "-O2")
    require(build)
    model = random_model(**MODELS["rnn-int8"])
    config = EndpointConfig()
    pcm = count_instructions.endpoint_clip(model, config)
    (row,) = count_instructions.count_endpoint(model, tmp_path, "-O2", builds=count_instructions.BUILDS[:1]).values()
    held, start, stop = firmware.firmware_segment(model, pcm, config)
    assert (row["held"], row["start"], row["stop"]) == (held, start, stop)
    assert held == config.search and 0 < start < stop < held
    assert row["segment"] >= 2 * held
    assert row["result endpoint"] >= row["result window"] + row["segment"]
    assert row["result endpoint"] - row["result window"] < row["segment"] + 20 * model.frames
    assert row["push endpoint"] > row["push window"]
