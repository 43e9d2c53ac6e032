"""The streaming firmware (fixedrnn/c/model/frnn_stream.c, tools/firmware/stream_main.c) against
fixedrnn.stream.KeywordStream: every frame's energy, VAD flags, reset, int8 features, hidden state,
LSTM cell state and scores, and every detection, 0 LSB, on long streams pushed in blocks of several
sizes; host gcc first, then Cortex-M4 under QEMU. The streaming layout (budget --mode streaming)
against the linker's symbol sizes (nm -S)."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fixedrnn import budget, c_export, firmware, layout
from fixedrnn.decision import DecisionConfig
from fixedrnn.stream import StreamConfig
from fixedrnn.vad import VadConfig

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "firmware"))
sys.path.insert(0, str(REPO / "tests"))

import runner  # noqa: E402
from test_c_export import nm_sizes  # noqa: E402
from test_stream import q31_model, synthetic  # noqa: E402
from throwaway_models import random_model, save_random_model  # noqa: E402

MODELS = {
    "lstm-int8": dict(cell="lstm", weights="int8", units=12, frames=24, seed=4),
    "lstm-pot": dict(cell="lstm", weights="pot", units=11, frames=16, seed=5),
    "rnn-int8": dict(cell="rnn", weights="int8", units=12, frames=24, seed=1),
    "rnn-pot": dict(cell="rnn", weights="pot", units=13, frames=24, seed=3),
}
#: Block sizes (cycled): irregular, one sample, a hop, large.
BLOCKS = {"mixed": [1, 77, 129, 1000, 3, 4096], "1": [1], "hop": [128], "8192": [8192]}
#: Configurations other than the default: every VAD and decision constant changed, no pre-roll, no reset.
CONFIGS = {
    "default": StreamConfig(),
    "tuned": StreamConfig(vad=VadConfig(margin=200, spread_gain=5, keep_margin=90, hangover=3, spread_shift=3,
                                        spread_start=300, rise=700, fall=300),
                          decision=DecisionConfig(window=7, threshold=-5, min_loud=2, suppression=40, max_frames=30),
                          preroll=5, silence=3),
    "no-preroll": StreamConfig(preroll=0, silence=0, decision=DecisionConfig(window=1, min_loud=0)),
    "no-reset": StreamConfig(reset=False, decision=DecisionConfig(max_frames=9)),
}
HOST = runner.BuildConfig("host", "-O2")
QEMU_BUILDS = [runner.BuildConfig("arm", "-O2"), runner.BuildConfig("arm", "-Os", dsp=False)]


def require(config):
    missing = runner.toolchain_missing(config.target)
    if missing:
        pytest.skip(missing)


def assert_firmware_equals_python(model, streams, build, config, tmp_path):
    """The firmware's output on ``streams`` equals KeywordStream's on every frame and detection.
    KeywordStream runs once per distinct PCM, in its first block sizes: its output does not depend
    on them (tests/test_stream.py checks that for every block size, 1 sample included)."""
    outputs = firmware.run_stream_firmware(model, streams, target=build, config=config, work_dir=tmp_path)
    assert len(outputs) == len(streams)
    expected = {}
    for (pcm, sizes), got in zip(streams, outputs):
        key = (pcm.size, pcm.tobytes())
        if key not in expected:
            expected[key] = firmware.python_stream(model, pcm, sizes, config)
        want = expected[key]
        assert firmware.first_difference(got, want) is None
        assert got.records.dtype == want.records.dtype and got.records.tobytes() == want.records.tobytes()
        assert got.detections == want.detections
    return outputs


# ---- quick: the export and the stream protocol, no compiler ----------------------------------


def test_stream_export_writes_the_configuration_from_python(tmp_path):
    """A streaming export adds frnn_stream.c (byte for byte the package's) and writes every VAD,
    decision and stream constant of the StreamConfig as a macro; a window export has none of them,
    and a window export over a streaming one removes frnn_stream.c."""
    model = random_model(**MODELS["lstm-int8"])
    config = CONFIGS["tuned"]
    written = c_export.export_c(model, tmp_path, stream=config)
    names = sorted(p.name for p in written)
    assert "frnn_stream.c" in names and "frnn_pipeline.c" in names
    assert (tmp_path / "frnn_stream.c").read_bytes() == (REPO / "fixedrnn/c/model/frnn_stream.c").read_bytes()
    header = (tmp_path / "frnn_model.h").read_text()
    macros = {name: int(value) for name, value in re.findall(r"#define (FRNN_(?:VAD|DECISION|STREAM)\w*) \((-?\d+)\)",
                                                               header)}
    want = {"FRNN_STREAM_RESET": 1, "FRNN_STREAM_PREROLL": 5, "FRNN_STREAM_SILENCE": 3, "FRNN_VAD_FLOOR_FRAC": 8,
            "FRNN_VAD_MARGIN": 200, "FRNN_VAD_SPREAD_GAIN": 5, "FRNN_VAD_KEEP_MARGIN": 90, "FRNN_VAD_HANGOVER": 3,
            "FRNN_VAD_SPREAD_SHIFT": 3, "FRNN_VAD_SPREAD_START": 300, "FRNN_VAD_RISE": 700, "FRNN_VAD_FALL": 300,
            "FRNN_DECISION_WINDOW": 7, "FRNN_DECISION_THRESHOLD": -5, "FRNN_DECISION_MIN_LOUD": 2,
            "FRNN_DECISION_SUPPRESSION": 40, "FRNN_DECISION_MAX_FRAMES": 30}
    assert macros == want
    assert "#define FRNN_STREAM 1" in header and "fr_features" not in header and "fr_silence_features" in header
    no_reset = c_export.generate(model, silence=np.zeros(model.n_features, np.int8), stream=CONFIGS["no-reset"])
    assert "#define FRNN_STREAM_PREROLL (0)" in no_reset["frnn_model.h"] and "fr_preroll" not in no_reset["frnn_model.c"]
    assert "#define FRNN_STREAM_SILENCE (0)" in no_reset["frnn_model.h"]
    assert "fr_silence_features" not in no_reset["frnn_model.c"]
    window = c_export.export_c(model, tmp_path, silence=np.zeros(model.n_features, np.int8))
    assert "frnn_stream.c" not in [p.name for p in window] and not (tmp_path / "frnn_stream.c").exists()
    assert "FRNN_STREAM" not in (tmp_path / "frnn_model.h").read_text()


def test_stream_layout_holds_the_state_docs_list():
    """The streaming RAM items: the window's feature buffer replaced by the pre-roll ring [P, I], the
    VAD (floor int32, hangover uint8), the decision (W x C int8 scores, segment start and loud
    count, last label and frame), the frame counter; the cell's state and scratch as in the window
    firmware."""
    model = random_model(**MODELS["rnn-pot"])
    arrays = model.to_arrays()
    window = {i.symbol: i for i in layout.ram_items(arrays)}
    stream = {i.symbol: i for i in layout.ram_items(arrays, StreamConfig(preroll=9, decision=DecisionConfig(window=3)))}
    n_in, n_classes = model.n_features, len(model.labels)
    assert set(window) - set(stream) == {"fr_features"}
    assert set(stream) - set(window) == {"fr_stream_frames", "fr_preroll", "fr_vad_floor", "fr_vad_spread",
                                         "fr_vad_hang",
                                         "fr_decision_scores", "fr_segment_start", "fr_segment_loud",
                                         "fr_last_label", "fr_last_decided"}
    assert stream["fr_preroll"].shape == (9, n_in) and stream["fr_decision_scores"].shape == (3, n_classes)
    assert stream["fr_vad_hang"].c_type == "uint8_t" and stream["fr_vad_floor"].c_type == "int32_t"
    assert stream["fr_vad_spread"].c_type == "int32_t"
    for symbol in set(window) & set(stream):
        assert stream[symbol].nbytes == window[symbol].nbytes, symbol
    no_reset = {i.symbol for i in layout.ram_items(arrays, StreamConfig(reset=False))}
    assert no_reset == set(stream) - {"fr_preroll"}
    # the silent frame's features are in flash when the reset steps on them (StreamConfig.silence)
    flash = {cfg: {i.symbol for i in layout.flash_items(arrays, cfg)} for cfg in
             (StreamConfig(), StreamConfig(silence=0), StreamConfig(reset=False))}
    assert "fr_silence_features" in flash[StreamConfig()]
    assert flash[StreamConfig(silence=0)] == flash[StreamConfig(reset=False)] == flash[StreamConfig()] - {
        "fr_silence_features"}


def test_stream_input_and_output_formats():
    """The kind-6 input file, and the record reader on bytes laid out as stream_main.c writes them."""
    model = random_model(**MODELS["rnn-int8"])
    pcm = np.arange(-3, 3, dtype=np.int16)
    blob = firmware.stream_input([(pcm, [2, 5])])
    assert np.frombuffer(blob[:28], "<i4").tolist() == [firmware.INPUT_MAGIC, 6, 1, 6, 2, 2, 5]
    assert np.frombuffer(blob[28:], "<i2").tolist() == pcm.tolist()
    with pytest.raises(firmware.FixedRnnError, match="block sizes"):
        firmware.stream_input([(pcm, [0])])
    n, hop = model.frontend.fft_length, model.frontend.hop
    assert [firmware.stream_frames(k, model) for k in (0, n - 1, n, n + hop - 1, n + hop)] == [0, 0, 1, 1, 2]
    dtype = firmware.stream_record_dtype(model)
    assert dtype.itemsize == 4 + 4 + 4 + 20 + model.n_features + model.units + len(model.labels)
    records = np.zeros(2, dtype)
    records["index"] = [0, 1]
    records["detected"] = [0, 1]
    records["detection"][1] = [3, 0, 1, 1, -7]
    data = records.tobytes() + np.array([1, 4, 1, 1, 2, 9], "<i4").tobytes()
    (out,) = firmware.read_stream_output(data, model, [n + hop])
    assert [tuple(d) for d in out.detections] == [(3, 0, 1, 1, -7), (4, 1, 1, 2, 9)]
    with pytest.raises(firmware.FixedRnnError, match="expected"):
        firmware.read_stream_output(data + b"\0", model, [n + hop])


def test_first_difference_names_the_frame_and_field():
    """The comparison the tests and 'firmware run --stream' use finds a one-LSB change of any field."""
    model = random_model(**MODELS["lstm-int8"])
    pcm = synthetic(1.5, seed=2)
    want = firmware.python_stream(model, pcm, [500], CONFIGS["no-preroll"])
    assert firmware.first_difference(want, want) is None
    for field in want.records.dtype.names:
        got = firmware.StreamOutput(want.records.copy(), list(want.detections))
        flat = got.records[field].reshape(len(got.records), -1)
        flat[40, -1] = flat[40, -1] + 1 if field not in ("raw", "active", "reset", "detected") else 1 - flat[40, -1]
        got.records[field] = flat.reshape(got.records[field].shape)
        assert firmware.first_difference(got, want).startswith(f"frame 40: {field} "), field
    assert want.detections
    assert firmware.first_difference(firmware.StreamOutput(want.records, want.detections[1:]), want).startswith(
        "detections")


# ---- host build (fast), then QEMU --------------------------------------------------------------


def stream_model(name, precision):
    model = random_model(**MODELS[name])
    return q31_model(model, seed=3) if precision == "q31" else model


@pytest.mark.slow  # host builds
@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("precision", ["q15", "q31"])
def test_host_synthetic_streams_equal_keyword_stream(name, precision, tmp_path):
    """12 s of synthetic audio (noise, sweeps, clipped bursts, silence), every block-size pattern,
    the default configuration: the host build's records and detections equal KeywordStream's."""
    require(HOST)
    model = stream_model(name, precision)
    pcm = synthetic(12.0, seed=len(name))
    outputs = assert_firmware_equals_python(model, [(pcm, sizes) for sizes in BLOCKS.values()], HOST, None, tmp_path)
    assert sum(len(o.detections) for o in outputs) >= 4 and outputs[0].records["reset"].sum() >= 2


@pytest.mark.slow  # host builds
@pytest.mark.parametrize("config_name", sorted(set(CONFIGS) - {"default"}))
def test_host_other_configurations_equal_keyword_stream(config_name, tmp_path):
    """Every VAD and decision constant changed (the exporter writes them from the StreamConfig), no
    pre-roll, no reset: the host build still equals KeywordStream with that configuration."""
    require(HOST)
    config = CONFIGS[config_name]
    streams = [(synthetic(10.0, seed=7), BLOCKS["mixed"]), (np.zeros(3000, np.int16), [256]),
               (np.zeros(100, np.int16), [1])]
    for name in ("lstm-pot", "rnn-int8"):
        outputs = assert_firmware_equals_python(random_model(**MODELS[name]), streams, HOST, config, tmp_path / name)
        assert len(outputs[2].records) == 0 and outputs[1].detections == []


#: A model with filler classes (labels that are not keywords: fixedrnn.decision.is_keyword; class 6 is
#: the one this random model's segments most often score top), the same weights with all-keyword
#: labels (random_model draws them from the seed), and a configuration that opens many segments.
FILLER_MODEL = dict(cell="lstm", weights="int8", units=12, frames=24, seed=8)
FILLER_LABELS = ("0", "1", "2", "3", "4", "5", "_filler_", "7", "8", "9", "_unknown_", "_silence_")
PLAIN_LABELS = tuple(str(c) for c in range(12))
FILLER_CONFIG = StreamConfig(vad=CONFIGS["tuned"].vad, decision=DecisionConfig(window=7, threshold=-5, min_loud=2),
                             preroll=5, silence=3)


def test_stream_export_writes_the_keyword_classes():
    """FRNN_IS_KEYWORD(c) is false exactly for the filler classes; without fillers it is (1)."""
    header = c_export.generate(random_model(**FILLER_MODEL, labels=FILLER_LABELS), stream=StreamConfig())["frnn_model.h"]
    assert "#define FRNN_IS_KEYWORD(c) ((c) != 6 && (c) != 10 && (c) != 11)" in header
    plain = c_export.generate(random_model(**FILLER_MODEL), stream=StreamConfig())["frnn_model.h"]
    assert "#define FRNN_IS_KEYWORD(c) (1)" in plain


@pytest.mark.slow  # host build, QEMU
@pytest.mark.parametrize("build", [HOST, *QEMU_BUILDS], ids=lambda c: c.name)
def test_filler_classes_give_no_detection_as_keyword_stream(build, tmp_path):
    """A model whose labels include _filler_, _unknown_ and _silence_: segments whose top class is
    one of them give no detection, in Python and in the firmware alike (host gcc, Cortex-M4 under
    QEMU: every frame and detection equal); the same weights with all-keyword labels detect those
    segments too."""
    require(build)
    model = random_model(**FILLER_MODEL, labels=FILLER_LABELS)
    streams = [(synthetic(12.0, seed=s), BLOCKS["mixed"]) for s in (3, 9, 11)]
    outputs = assert_firmware_equals_python(model, streams, build, FILLER_CONFIG, tmp_path)
    plain = random_model(**FILLER_MODEL, labels=PLAIN_LABELS)
    n_fillers = 0
    for (pcm, sizes), got in zip(streams, outputs):
        everything = firmware.python_stream(plain, pcm, sizes, FILLER_CONFIG).detections
        n_fillers += sum(d.label == 6 for d in everything)
        assert got.detections and got.detections == [d for d in everything if d.label != 6]
    assert n_fillers >= 3


@pytest.mark.slow  # QEMU
@pytest.mark.parametrize("build", QEMU_BUILDS, ids=lambda c: c.name)
def test_qemu_synthetic_streams_equal_keyword_stream(build, tmp_path):
    """Cortex-M4 (-O2 with DSP intrinsics, -Os portable C): RNN and LSTM, int8 and PoT, q15 and q31,
    10 s synthetic streams in two block-size patterns."""
    require(build)
    for k, name in enumerate(sorted(MODELS)):
        model = stream_model(name, "q31" if k % 2 else "q15")
        pcm = synthetic(10.0, seed=20 + k)
        streams = [(pcm, BLOCKS["mixed"]), (pcm, BLOCKS["1"] if k % 2 else BLOCKS["8192"])]
        assert_firmware_equals_python(model, streams, build, None, tmp_path / name)


#: lstm_int8_cmn streams per segment (cepstral mean normalisation): its firmware and listen's stream
#: are the per-segment ones (tests/test_segment_firmware.py).
GOLDEN = ["lstm_int8", "lstm_pot", "rnn_int8", "rnn_pot", "lstm_int8_cmn"]


@pytest.fixture(scope="module")
def fsdd_streams(fsdd_dir):
    """Two streams of 12 FSDD test-split recordings each (seeded choice), with 0.6-1.6 s gaps:
    clean, and white noise at 20 dB SNR (fixedrnn.streams.build_stream): about 20 s each."""
    from fixedrnn import fsdd
    from fixedrnn.streams import build_stream

    recordings = fsdd.list_recordings(fsdd_dir, split="test")
    rng = np.random.default_rng(13)
    out = []
    for seed, snr in ((1, None), (2, 20.0)):
        chosen = [recordings[i] for i in rng.choice(len(recordings), 12, replace=False)]
        items = [(r.digit, r.name, fsdd.read_samples(r.path)) for r in chosen]
        out.append(build_stream(items, seed=seed, snr_db=snr))
    return out


@pytest.mark.slow  # QEMU, FSDD
@pytest.mark.parametrize("name", GOLDEN)
def test_qemu_golden_models_on_fsdd_streams_equal_listen(name, fsdd_streams, tmp_path):
    """The shipped models on long FSDD streams (clean and 20 dB), Cortex-M4 -O2: every frame and
    every detection equal listen's stream's (KeywordStream; SegmentStream for lstm_int8_cmn); the
    firmware's detections find at least 10 of the 12 words of each stream, with no false alarm
    (streams.score_detections)."""
    from fixedrnn.model import load
    from fixedrnn.streams import score_detections

    build = QEMU_BUILDS[0]
    require(build)
    model = load(REPO / "golden" / "models" / f"{name}.npz")
    streams = [(s.pcm, BLOCKS["mixed"] if k else [1024]) for k, s in enumerate(fsdd_streams)]
    outputs = assert_firmware_equals_python(model, streams, build, None, tmp_path)
    hop, n = model.frontend.hop, model.frontend.fft_length
    for stream, out in zip(fsdd_streams, outputs):
        score = score_detections(stream, [(d.label, (d.decided * hop + n) / stream.sample_rate)
                                          for d in out.detections])
        assert score.detected >= 10 and score.false_alarms == 0, (name, score)


# ---- the layout against the linker -------------------------------------------------------------


@pytest.mark.slow  # arm builds
@pytest.mark.parametrize("name, config_name", [("lstm-int8", "default"), ("rnn-pot", "tuned"),
                                               ("lstm-pot", "no-reset")])
def test_stream_layout_equals_linker_symbol_sizes(name, config_name, tmp_path):
    """Every flash and RAM item of the streaming layout has its nm -S size in the Cortex-M4 image,
    and the image has no other fr_ object; for the default configuration the items are the budget's
    --mode streaming."""
    build = runner.BuildConfig("arm", "-Os")
    require(build)
    model = random_model(**MODELS[name])
    config = CONFIGS[config_name]
    _, _, exe = firmware.build_stream_firmware(model, tmp_path, build, config=config)
    sizes = nm_sizes(exe)
    arrays = model.to_arrays()
    items = layout.flash_items(arrays, config) + layout.ram_items(arrays, config)
    audit = {item.symbol: item.nbytes for item in items}
    assert {sym: sizes.get(sym) for sym in audit} == audit
    assert sorted(s for s in sizes if s.startswith(layout.SYMBOL_PREFIX)) == sorted(audit)
    if config_name == "default":
        report = budget.audit(model, mode="streaming")
        assert {i.symbol: i.nbytes for i in report.flash + report.ram} == audit


# ---- fixedrnn firmware run --stream ------------------------------------------------------------


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory):
    import scipy.io.wavfile

    path = tmp_path_factory.mktemp("wav") / "long.wav"
    scipy.io.wavfile.write(path, 8000, synthetic(8.0, seed=5))
    return path


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return save_random_model(tmp_path_factory.mktemp("model") / "m.npz", **MODELS["lstm-int8"])


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "fixedrnn", *map(str, args)], capture_output=True, text=True)


@pytest.mark.slow  # host build, processes
def test_firmware_run_stream_prints_listen_detections(model_file, long_wav):
    """'firmware run --stream --target host' says the stream equals listen and prints the firmware's
    detections, which are listen's lines (the same WAV, the same block size)."""
    require(HOST)
    proc = _cli("firmware", "run", model_file, long_wav, "--stream", "--target", "host", "--block", "333")
    assert proc.returncode == 0, proc.stderr
    listen = _cli("listen", model_file, long_wav, "--block", "333")
    assert listen.returncode == 0, listen.stderr
    lines = proc.stdout.splitlines()
    detections = [line.split("\t", 1)[1] for line in lines if line.startswith(str(long_wav))]
    assert detections == listen.stdout.splitlines() and detections
    assert "equal to listen" in lines[-2] and "all 1 stream(s) equal listen frame for frame" in lines[-1]


@pytest.mark.slow  # host build
def test_firmware_run_stream_difference_exits_1(model_file, long_wav, monkeypatch, capsys):
    from fixedrnn import cli

    require(HOST)
    real = firmware.read_stream_output

    def one_lsb_off(data, model, n_samples, per_segment=False):
        outputs = real(data, model, n_samples, per_segment)
        records = outputs[0].records.copy()
        records["scores"][50, 3] += 1
        return [firmware.StreamOutput(records, outputs[0].detections)]

    monkeypatch.setattr(firmware, "read_stream_output", one_lsb_off)
    assert cli.main(["firmware", "run", str(model_file), str(long_wav), "--stream", "--target", "host", "--json"]) == 1
    captured = capsys.readouterr()
    assert '"equal": false' in captured.out and "frame 50: scores" in captured.out
    assert "1 of 1 stream(s) differ from listen" in captured.err


def test_firmware_run_stream_bad_block_is_one_line(model_file, long_wav, capsys):
    from fixedrnn import cli

    assert cli.main(["firmware", "run", str(model_file), str(long_wav), "--stream", "--target", "host",
                     "--block", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--block" in err


def test_export_c_stream_option(model_file, tmp_path, capsys):
    """'fixedrnn export c MODEL OUTDIR --stream' writes the streaming firmware of the default
    StreamConfig (the files and header of c_export.generate with it)."""
    from fixedrnn import cli
    from fixedrnn.model import load

    assert cli.main(["export", "c", str(model_file), str(tmp_path / "src"), "--stream"]) == 0
    want = c_export.generate(load(model_file), stream=StreamConfig())
    assert sorted(p.name for p in (tmp_path / "src").iterdir()) == sorted(want)
    assert (tmp_path / "src" / "frnn_model.h").read_text() == want["frnn_model.h"]
    assert "frnn_stream.c" in want
