"""The window firmware of a model with cepstral mean normalisation (input.cmn = "window", FRNN_CMN),
with and without clip endpointing, against the engine (model.run / engine.features with the endpoint,
engine.window_features on front-end outputs): every logit and every int8 feature of the window the cell
read, 0 LSB; RNN and LSTM, int8 and PoT, q15 and q31 front ends; host gcc, then Cortex-M4 under QEMU
(-O2, -Os portable C). Inputs: PCM clips (shorter and longer than T, loud, quiet, DC offsets, silence)
and front-end outputs pushed by frnn_push_mfcc (main.c kind 3: extreme values, where the mean
subtraction saturates, and sums where floor and truncation differ), FSDD words padded with noise.
The export, the layout against nm -S and the budget, the refusals (frame streaming, graph endpointing)."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fixedrnn import budget, c_export, engine, firmware, layout
from fixedrnn.endpoint import EndpointConfig
from fixedrnn.errors import FixedRnnError

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "firmware"))
sys.path.insert(0, str(REPO / "tests"))

import runner  # noqa: E402
from test_c_export import nm_sizes  # noqa: E402
from test_endpoint_firmware import (CONFIGS, HOST, QEMU_BUILDS, RATE, _int16, _tone, clips,  # noqa: E402
                                    fsdd_padded, model_of, require)
from test_stream_firmware import MODELS  # noqa: E402  (the streaming firmware tests' random models)
from throwaway_models import random_model  # noqa: E402

assert fsdd_padded  # a fixture, used by name

#: The width of a front-end output: (min, max) of int16 (q15) and int32 (q31).
WIDTH = {"q15": (-2**15, 2**15 - 1), "q31": (-2**31, 2**31 - 1)}


def with_cmn(model):
    """``model`` with ``input.cmn`` "window". A q31 model's input offsets become 0: its window's
    differences span all of int32 (the overflow audit's range), which must not overflow ``− offset``
    (with the mean removed, 0 is the natural offset)."""
    offset = np.zeros_like(model.input.offset) if model.frontend.precision == "q31" else model.input.offset
    return dataclasses.replace(model, input=dataclasses.replace(model.input, cmn="window", offset=offset))


def cmn_model(name, precision="q15"):
    """The random model ``name`` of :data:`MODELS` with a ``precision`` front end and CMN."""
    return with_cmn(model_of(name, precision))


def fine_model(precision):
    """A CMN LSTM whose int8 features are the centred front-end outputs themselves (q15: x = W'; q31:
    x = round(W' / 2); offset and zero point 0), so that a mean one LSB off or a wrapped difference
    changes the features."""
    model = cmn_model("lstm-int8", precision)
    n = model.n_features
    quant = dataclasses.replace(model.input, offset=np.zeros(n, np.int32), multiplier=np.full(n, 2**30, np.int32),
                                shift=np.full(n, 1 if precision == "q15" else 0, np.int32), zero_point=0)
    return dataclasses.replace(model, input=quant)


def cmn_clips(seed=0):
    """``{name: int16 PCM}``: the endpointing tests' clips (a burst in quiet noise, longer than the
    default search; shorter than T; silent; all-zero; under one frame; none) and loud, quiet and
    DC-offset ones: full scale then silence in one window, full-scale noise, a DC offset near each
    rail with a tone on it, one LSB of noise."""
    rng = np.random.default_rng(seed)
    square = np.tile(np.r_[np.full(20, 32767.0), np.full(20, -32768.0)], int(0.3 * RATE) // 40)
    return {
        **clips(seed),
        "loud-then-silence": _int16(np.concatenate([square, np.zeros(int(0.2 * RATE))])),
        "full-scale-noise": _int16(rng.normal(0.0, 30000.0, int(0.6 * RATE))),
        "dc-high": _int16(_tone(np.full(int(0.7 * RATE), 30000.0), 0.2, 0.4, 2500, rng)),
        "dc-low": _int16(_tone(np.full(int(0.5 * RATE), -31000.0), 0.1, 0.3, 1500, rng)),
        "one-lsb": _int16(rng.integers(-1, 2, int(0.8 * RATE))),
    }


def mfcc_items(model, seed=0):
    """Front-end output sequences ``[n, I]`` (int16 for q15, int32 for q31) for frnn_push_mfcc: each
    coefficient's values at both rails of the width (the mean subtraction saturates both ways), small
    values of mixed sign (negative sums that T does not divide), fewer frames than T, one frame."""
    rng = np.random.default_rng(seed)
    lo, hi = WIDTH[model.frontend.precision]
    dtype = np.int16 if model.frontend.precision == "q15" else np.int32
    t, n = model.frames, model.n_features
    rails = np.where(rng.random((t + 3, n)) < 0.3, lo, hi)
    rails[:, 0] = np.where(np.arange(t + 3) % 7 == 0, hi, lo)  # a few high rows among low ones
    return [np.asarray(a, dtype) for a in (
        rails,
        rng.integers(-300, 200, (t + 5, n)),
        rng.integers(-40, 30, (t // 2, n)),
        np.where(rng.random((t, n)) < 0.5, lo, rng.integers(-5, 5, (t, n))),
        rng.integers(lo // 4, hi // 4, (1, n), dtype=np.int64),
    )]


# ---- the engine's window with plain Python ints, and what a wrong one would give -----------------


def fitted_rows(model, mf):
    """The window's T rows of front-end outputs (Python ints): the last T of ``mf`` ``[n, I]``,
    left-padded with the silent frame's."""
    rows = [[int(v) for v in row] for row in np.asarray(mf)[-model.frames:]] if len(mf) else []
    return [[int(v) for v in model.prepared.silent_mfcc]] * (model.frames - len(rows)) + rows


def centred(model, rows, mean_rule, saturate=True):
    """``rows`` less their mean per coefficient by ``mean_rule(sum, T)``; saturated to the front end's
    width, or with ``saturate`` False wrapped to it as a C cast would."""
    lo, hi = WIDTH[model.frontend.precision]
    means = [mean_rule(sum(col), len(rows)) for col in zip(*rows)]
    out = []
    for row in rows:
        d = [v - m for v, m in zip(row, means)]
        out.append([min(max(v, lo), hi) if saturate else (v - lo) % (hi - lo + 1) + lo for v in d])
    return out


def floor_mean(total, t):
    return total // t


def truncated_mean(total, t):
    return -(-total // t) if total < 0 else total // t


def window_branches(model, rows):
    """(floor and truncation differ for some coefficient, the subtraction saturates for some value)."""
    differs = any(floor_mean(sum(col), len(rows)) != truncated_mean(sum(col), len(rows)) for col in zip(*rows))
    return differs, centred(model, rows, floor_mean) != centred(model, rows, floor_mean, saturate=False)


def features_of(model, rows):
    """int8 ``[T, I]``: the engine's normalisation of integer rows (any of :func:`centred`'s)."""
    dtype = np.int16 if model.frontend.precision == "q15" else np.int32
    return engine.normalise(model, np.array(rows, dtype))


def engine_of_mfcc(model, mf, endpoint):
    """The engine's (int8 window, logits) for front-end outputs ``mf`` pushed one by one: the
    endpointed segment's (``endpoint``) or all of them."""
    if endpoint is not None:
        start, stop = engine.segment_of(model, mf, endpoint)
        mf = mf[start:stop]
    window = engine.window_features(model, mf)
    return window, engine.run_features(model, window)


# ---- running the firmware on PCM and front-end outputs, one build ---------------------------------


def assert_firmware_equals_engine(model, build, endpoint, tmp_path, pcms=None, mfccs=None):
    """One build of ``model``'s firmware (``endpoint``: the endpointing one); its window, logits (and
    segment) on every PCM clip and every front-end output sequence equal the engine's."""
    pcms = list(cmn_clips().values()) if pcms is None else pcms
    mfccs = mfcc_items(model) if mfccs is None else mfccs
    built = firmware.build_firmware(model, tmp_path, build, endpoint=endpoint)
    out = None
    if pcms:
        data = firmware.run_input(*built, firmware.pcm_input(pcms), len(pcms), tmp_path)
        out = firmware.read_pcm_output(data, model, len(pcms), endpoint is not None)
    for k, pcm in enumerate(pcms):
        np.testing.assert_array_equal(out.windows[k], engine.features(model, pcm, endpoint), err_msg=f"clip {k}")
        np.testing.assert_array_equal(out.logits[k], model.run(pcm, backend="numpy", endpoint=endpoint),
                                      err_msg=f"clip {k}")
        if endpoint is not None:
            assert tuple(out.segments[k]) == firmware.firmware_segment(model, pcm, endpoint), k
    if mfccs:
        data = firmware.run_input(*built, firmware.mfcc_input(mfccs), len(mfccs), tmp_path)
        got = firmware.read_pcm_output(data, model, len(mfccs), endpoint is not None)
        for k, mf in enumerate(mfccs):
            window, logits = engine_of_mfcc(model, mf, endpoint)
            np.testing.assert_array_equal(got.windows[k], window, err_msg=f"MFCC item {k}")
            np.testing.assert_array_equal(got.logits[k], logits, err_msg=f"MFCC item {k}")
    return out


# ---- quick: the export, the layout, the budget, the refusals, the inputs ----------------------------


@pytest.mark.parametrize("precision, c_type", [("q15", "int16_t"), ("q31", "int32_t")])
def test_cmn_export_holds_front_end_outputs(precision, c_type):
    """FRNN_CMN; the silent frame's front-end output in flash (fr_silence_mfcc, the engine's
    silent_mfcc) instead of its int8 features; the window's front-end outputs in RAM (fr_window_mfcc
    [T x I], or with endpointing fr_endpoint_mfcc [S x I] and no energies); the package's C as without CMN."""
    off = model_of("rnn-int8", precision)
    model = with_cmn(off)
    files = c_export.generate(model)
    header, body = files["frnn_model.h"], files["frnn_model.c"]
    assert "#define FRNN_CMN 1" in header
    n, t = model.n_features, model.frames
    values = ", ".join(str(int(v)) for v in model.prepared.silent_mfcc)
    assert f"const {c_type} fr_silence_mfcc[{n}] = {{\n    {values},\n}};" in body
    assert f"\n{c_type} fr_window_mfcc[{t * n}];" in body
    assert "fr_silence_features" not in body and "fr_features[" not in body
    config = CONFIGS["tight"]
    ends = c_export.generate(model, endpoint=config)["frnn_model.c"]
    assert f"\n{c_type} fr_endpoint_mfcc[{config.search * n}];" in ends and "uint32_t fr_endpoint_count[1];" in ends
    assert "fr_endpoint_energy" not in ends and "fr_endpoint_features" not in ends and "fr_window_mfcc" not in ends
    plain = c_export.generate(off)
    assert "CMN" not in plain["frnn_model.h"] and "_mfcc[" not in plain["frnn_model.c"].replace("fr_mfcc", "")
    assert {k: v for k, v in files.items() if not k.startswith("frnn_model.")} == {
        k: v for k, v in plain.items() if not k.startswith("frnn_model.")}


@pytest.mark.parametrize("precision, width", [("q15", 2), ("q31", 4)])
@pytest.mark.parametrize("config_name", ["default", "long"])
def test_cmn_layout_replaces_int8_rows_with_front_end_outputs(precision, width, config_name):
    """Window firmware: fr_features [T, I] int8 -> fr_window_mfcc [T, I] of the front end's width,
    fr_silence_features [I] -> fr_silence_mfcc [I]; endpointing: fr_endpoint_features [S, I] and
    fr_endpoint_energy [S] -> fr_endpoint_mfcc [S, I]; every other item unchanged."""
    off = model_of("lstm-pot", precision)
    on = with_cmn(off)
    a_off, a_on = off.to_arrays(), on.to_arrays()
    assert layout.cmn_of(a_off) == "off" and layout.cmn_of(a_on) == "window"
    t, n = on.frames, on.n_features
    s = CONFIGS[config_name].search

    def changed(items_off, items_on):
        before, after = {i.symbol: i for i in items_off}, {i.symbol: i for i in items_on}
        for symbol in set(before) & set(after):
            assert before[symbol] == after[symbol], symbol
        return ({sym: before[sym].nbytes for sym in set(before) - set(after)},
                {sym: (after[sym].c_type, after[sym].shape, after[sym].nbytes) for sym in set(after) - set(before)})

    c_type = layout.front_end_c_type(a_on)
    assert changed(layout.flash_items(a_off), layout.flash_items(a_on)) == (
        {"fr_silence_features": n}, {"fr_silence_mfcc": (c_type, (n,), width * n)})
    assert changed(layout.ram_items(a_off), layout.ram_items(a_on)) == (
        {"fr_features": t * n}, {"fr_window_mfcc": (c_type, (t, n), width * t * n)})
    config = CONFIGS[config_name]
    assert changed(layout.ram_items(a_off, endpoint=config), layout.ram_items(a_on, endpoint=config)) == (
        {"fr_endpoint_features": s * n, "fr_endpoint_energy": 2 * s},
        {"fr_endpoint_mfcc": (c_type, (s, n), width * s * n)})
    assert layout.flash_items(a_on, endpoint=config) == layout.flash_items(a_on)


def test_budget_counts_the_cmn_firmware(tmp_path, capsys):
    """budget.audit and 'python -m fixedrnn.budget' of a CMN model file: the CMN layout, window,
    endpoint and streaming modes (the stream per segment: the ring of T + 1 front-end outputs)."""
    from fixedrnn.model import save

    model = cmn_model("lstm-int8")
    arrays = model.to_arrays()
    window, ends = budget.audit(model), budget.audit(model, mode="endpoint")
    assert window.ram == layout.ram_items(arrays) and window.flash == layout.flash_items(arrays)
    assert ends.ram == layout.ram_items(arrays, endpoint=EndpointConfig()) and ends.flash == window.flash
    plain = budget.audit(model_of("lstm-int8"))
    t, n, s = model.frames, model.n_features, EndpointConfig().search
    assert window.ram_total - plain.ram_total == t * n and window.flash_total - plain.flash_total == n
    assert ends.ram_total - budget.audit(model_of("lstm-int8"), mode="endpoint").ram_total == s * n - 2 * s
    path = save(model, tmp_path / "cmn.npz")
    for mode, symbol, total in (("window", "fr_window_mfcc", window.ram_total),
                                ("endpoint", "fr_endpoint_mfcc", ends.ram_total)):
        assert budget.main([str(path), "--mode", mode, "--budget", "1M"]) == 0
        text = capsys.readouterr().out
        assert symbol in text and "fr_silence_mfcc" in text and "ram total" in text and str(total) in text
    from fixedrnn.stream import StreamConfig

    streams = budget.audit(model, mode="streaming")
    per_segment = StreamConfig(per_segment=True)
    assert streams.ram == layout.ram_items(arrays, stream=per_segment)
    assert streams.flash == layout.flash_items(arrays, stream=per_segment) == window.flash
    assert budget.main([str(path), "--mode", "streaming", "--budget", "1M"]) == 0
    text = capsys.readouterr().out
    assert "fr_segment_mfcc" in text and "per segment" in text and str(streams.ram_total) in text


def test_frame_streaming_and_graph_endpointing_are_refused_for_cmn(tmp_path, capsys):
    """One FixedRnnError line each, nothing written: a CMN model has no frame-by-frame streaming
    firmware (export_c with a StreamConfig not per segment; 'export c --stream' exports it per
    segment), a CMN graph model no endpointing firmware (its window firmware is exported)."""
    from fixedrnn.cli import main
    from fixedrnn.model import save
    from fixedrnn.stream import StreamConfig
    from tests.test_graph import _model

    model = cmn_model("rnn-pot")
    with pytest.raises(FixedRnnError, match="streams per segment only: cepstral mean normalisation needs the "
                                            "whole window") as info:
        c_export.export_c(model, tmp_path / "s", stream=StreamConfig())
    assert "\n" not in str(info.value) and not (tmp_path / "s").exists()
    path = save(model, tmp_path / "cmn.npz")
    assert main(["export", "c", str(path), str(tmp_path / "stream"), "--stream"]) == 0
    header = (tmp_path / "stream" / "frnn_model.h").read_text()
    assert "#define FRNN_STREAM_PER_SEGMENT 1" in header and "#define FRNN_CMN 1" in header
    assert main(["export", "c", str(path), str(tmp_path / "out"), "--endpoint"]) == 0
    assert "#define FRNN_CMN 1" in (tmp_path / "out" / "frnn_model.h").read_text()
    graph = _model("keras3_rnn_h16")
    graph = dataclasses.replace(graph, input=dataclasses.replace(graph.input, cmn="window"))
    with pytest.raises(FixedRnnError, match="graph model has no endpointing firmware") as info:
        c_export.export_c(graph, tmp_path / "g", endpoint=EndpointConfig())
    assert "\n" not in str(info.value) and not (tmp_path / "g").exists()
    c_export.export_c(graph, tmp_path / "g")  # (its window firmware: tests/test_conv_firmware.py)
    assert "#define FRNN_CMN 1" in (tmp_path / "g" / "frnn_model.h").read_text()


@pytest.mark.parametrize("precision", ["q15", "q31"])
def test_inputs_reach_every_branch(precision):
    """The PCM clips: shorter and longer than T, a negative sum that T does not divide (floor and
    truncation differ), endpointed segments shorter than T; front-end outputs: the subtraction
    saturates both ways. (A PCM clip cannot saturate it: the front end's outputs span under half the
    width, e.g. q15 coefficient 0 from the silent frame's -6,736 to about +2,700 for full-scale noise.)"""
    model = cmn_model("rnn-int8", precision)
    mfs = {name: engine.mfcc(model, pcm) for name, pcm in cmn_clips().items()}
    lengths = [len(mf) for mf in mfs.values()]
    assert min(lengths) < model.frames < max(lengths)
    branches = [window_branches(model, fitted_rows(model, mf)) for mf in mfs.values()]
    assert any(differs for differs, _ in branches) and not any(sat for _, sat in branches)
    config = EndpointConfig()
    segments = [engine.segment_of(model, mf, config) for mf in mfs.values() if len(mf)]
    assert any(stop - start < model.frames for start, stop in segments)
    assert any(window_branches(model, fitted_rows(model, mf[start:stop]))[0]
               for mf, (start, stop) in zip([m for m in mfs.values() if len(m)], segments))
    lo, hi = WIDTH[precision]
    rows = fitted_rows(model, mfcc_items(model)[0])
    low, high = centred(model, rows, floor_mean, saturate=False), centred(model, rows, floor_mean)
    assert any(a != b and b == lo for ra, rb in zip(low, high) for a, b in zip(ra, rb))
    assert any(a != b and b == hi for ra, rb in zip(low, high) for a, b in zip(ra, rb))


# ---- host build, then QEMU ---------------------------------------------------------------------


@pytest.mark.slow  # host builds
@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("precision", ["q15", "q31"])
def test_host_models_equal_engine(name, precision, tmp_path):
    """RNN and LSTM, int8 and PoT, q15 and q31, window and endpointing firmware (default
    configuration): every clip's and every front-end output sequence's window and logits."""
    require(HOST)
    model = cmn_model(name, precision)
    assert_firmware_equals_engine(model, HOST, None, tmp_path / "window")
    assert_firmware_equals_engine(model, HOST, EndpointConfig(), tmp_path / "endpoint")


@pytest.mark.slow  # host builds
@pytest.mark.parametrize("precision", ["q15", "q31"])
def test_floor_and_saturation_show_in_the_features(precision, tmp_path):
    """On a model whose features are the centred front-end outputs (:func:`fine_model`), a mean by
    truncation or a wrapped difference would change the window; the firmware's equals the engine's
    (window and endpointing builds, the tight configuration), so it floors and saturates."""
    require(HOST)
    model = fine_model(precision)
    items = mfcc_items(model, seed=5)
    for mf in items[:4]:
        rows = fitted_rows(model, mf)
        want = engine.window_features(model, mf)
        np.testing.assert_array_equal(features_of(model, centred(model, rows, floor_mean)), want)
    wrong_mean = [not np.array_equal(features_of(model, centred(model, fitted_rows(model, mf), truncated_mean)),
                                     engine.window_features(model, mf)) for mf in items]
    wrapped = [not np.array_equal(features_of(model, centred(model, fitted_rows(model, mf), floor_mean, False)),
                                  engine.window_features(model, mf)) for mf in items]
    assert any(wrong_mean) and any(wrapped)
    assert_firmware_equals_engine(model, HOST, None, tmp_path / "window", pcms=[], mfccs=items)
    assert_firmware_equals_engine(model, HOST, CONFIGS["tight"], tmp_path / "endpoint", pcms=[], mfccs=items)


@pytest.mark.slow  # QEMU
@pytest.mark.parametrize("build", QEMU_BUILDS, ids=lambda c: c.name)
def test_qemu_models_equal_engine(build, tmp_path):
    """Cortex-M4 (-O2 with DSP intrinsics, -Os portable C): each cell, weight kind, precision and
    firmware once (LSTM int8 q15 and RNN PoT q31 windows, LSTM PoT q31 and RNN int8 q15 endpointing)."""
    require(build)
    for name, precision, endpoint in (("lstm-int8", "q15", None), ("rnn-pot", "q31", None),
                                      ("lstm-pot", "q31", EndpointConfig()), ("rnn-int8", "q15", CONFIGS["tight"])):
        assert_firmware_equals_engine(cmn_model(name, precision), build, endpoint, tmp_path / name)


@pytest.mark.slow  # host build and QEMU, FSDD
@pytest.mark.parametrize("build", [HOST, QEMU_BUILDS[0]], ids=lambda c: c.name)
def test_golden_lstm_int8_on_padded_fsdd_words_equals_engine(build, fsdd_padded, tmp_path):
    """golden/models/lstm_int8.npz with CMN on FSDD words padded with quiet noise: window and
    endpointing firmware equal the engine (the endpointed windows differ from the plain ones)."""
    from fixedrnn.model import load

    require(build)
    model = with_cmn(load(REPO / "golden" / "models" / "lstm_int8.npz"))
    pcms = [pcm for _, pcm in fsdd_padded]
    plain = assert_firmware_equals_engine(model, build, None, tmp_path / "window", pcms, [])
    ends = assert_firmware_equals_engine(model, build, EndpointConfig(), tmp_path / "endpoint", pcms, [])
    assert not np.array_equal(plain.windows, ends.windows)


# ---- the layout against the linker, the command line, the instruction counter ----------------------


@pytest.mark.slow  # arm builds
def test_cmn_layout_equals_linker_symbol_sizes(tmp_path):
    """Every flash and RAM item of the CMN layout has its nm -S size in the Cortex-M4 image (-Os), and
    the image has no other fr_ object: random models (q15 window, q31 endpointing) and
    golden/models/lstm_int8.npz with CMN as the budget counts it (window and endpoint modes)."""
    from fixedrnn.model import load

    build = runner.BuildConfig("arm", "-Os")
    require(build)
    golden = with_cmn(load(REPO / "golden" / "models" / "lstm_int8.npz"))
    cases = [("rnn-int8", cmn_model("rnn-int8"), None), ("lstm-pot", cmn_model("lstm-pot", "q31"), CONFIGS["long"]),
             ("golden", golden, None), ("golden-endpoint", golden, EndpointConfig())]
    for name, model, config in cases:
        _, _, exe = firmware.build_firmware(model, tmp_path / name, build, endpoint=config)
        sizes = nm_sizes(exe)
        arrays = model.to_arrays()
        audit = {i.symbol: i.nbytes for i in layout.flash_items(arrays, endpoint=config)
                 + layout.ram_items(arrays, endpoint=config)}
        assert {sym: sizes.get(sym) for sym in audit} == audit, name
        assert sorted(s for s in sizes if s.startswith(layout.SYMBOL_PREFIX)) == sorted(audit), name
        if name.startswith("golden"):
            report = budget.audit(model, mode="window" if config is None else "endpoint")
            assert {i.symbol: i.nbytes for i in report.flash + report.ram} == audit


@pytest.mark.slow  # host builds, processes
def test_firmware_run_cli_with_a_cmn_model(tmp_path):
    """'firmware run --target host' on a CMN model file equals the engine, with and without
    --endpoint; with --stream, listen (per segment: SegmentStream)."""
    import json

    import scipy.io.wavfile

    from fixedrnn.model import save

    require(HOST)
    model = cmn_model("lstm-int8")
    model_file = save(model, tmp_path / "cmn.npz")
    pcm = cmn_clips()["burst"]
    wav = tmp_path / "burst.wav"
    scipy.io.wavfile.write(wav, RATE, pcm)

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "fixedrnn", "firmware", "run", str(model_file), str(wav),
                               "--target", "host", "--json", *args], capture_output=True, text=True)

    for args, endpoint in (((), None), (("--endpoint",), EndpointConfig())):
        proc = cli(*args)
        assert proc.returncode == 0, proc.stderr
        row = json.loads(proc.stdout)
        assert row["equal"] and row["firmware"] == model.run(pcm, backend="numpy", endpoint=endpoint).tolist()
    streamed = cli("--stream")
    assert streamed.returncode == 0, streamed.stderr
    row = json.loads(streamed.stdout)
    assert row["equal"] and row["difference"] is None and row["frames"] > 100


@pytest.mark.slow  # arm builds, QEMU under the instruction counter (about 10 s)
def test_count_instructions_cmn(tmp_path):
    """count_instructions on a tiny model, DSP -O2: the build without CMN, given the window the CMN
    build read, gives its logits (checked by count_cmn); the CMN frnn_result costs the plain one plus
    about frnn_cmn_window (its means and T x I subtractions and normalisations, counted alone);
    count_model counts a CMN model (main.c kind 3) as count_cmn's CMN frnn_result."""
    import count_instructions

    build = runner.BuildConfig("arm", "-O2")
    require(build)
    model = random_model(cell="rnn", weights="int8", units=6, frames=10, seed=1)
    (row,) = count_instructions.count_cmn(model, tmp_path, "-O2", builds=count_instructions.BUILDS[:1]).values()
    t, n = model.frames, model.n_features
    assert row["cmn window"] > 20 * t * n
    assert abs(row["result cmn"] - row["result window"] - row["cmn window"]) < 10 * t
    assert abs(row["push cmn"] - row["push window"]) < 30 * n + 200  # no normalisation, twice the bytes slid
    sub = tmp_path / "model"
    sub.mkdir()
    counts, _ = count_instructions.count_model(count_instructions.with_cmn(model, "window"), sub)
    assert counts[True][0] == row["result cmn"]
