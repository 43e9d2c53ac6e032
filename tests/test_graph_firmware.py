"""Graph models (imported unrolled Keras graphs and DS-CNNs) on the device: the firmware plan
(:mod:`fixedrnn.graph_plan`), the C graph executor (``frnn_graph.c``, ``export c``) built for the
host and for QEMU's Cortex-M4 against TFLM's committed outputs and the engine (0 LSB), and the
budget's items against the linker's symbol sizes (``nm -S``)."""

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fixedrnn import budget, c_export, engine, layout
from fixedrnn.graph_plan import plan

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "firmware"))

import runner  # noqa: E402
from tests.test_c_export import nm_sizes, utterances  # noqa: E402
from tests.test_graph import NAMES, _model, fixture  # noqa: E402

MAGIC = 0x494E5246


@pytest.fixture(scope="module")
def models():
    return {}


def model_of(models, name):
    if name not in models:
        models[name] = _model(name)
    return models[name]


@pytest.mark.parametrize("name", NAMES)
def test_arena_plan_keeps_live_buffers_apart(models, name):
    """Every two arena buffers whose lifetimes meet lie in disjoint bytes (checked pairwise here,
    apart from the planner), aligned, inside the arena; the arena is at least the most bytes live
    at one op; every weight matrix the steps share is stored once in the int8 pool."""
    graph = model_of(models, name).graph
    p = plan(graph)
    buffers = p.buffers
    assert p.arena_bytes >= p.live_peak > 0
    for i, a in enumerate(buffers):
        assert a.offset % 4 == 0 and a.offset + a.nbytes <= p.arena_bytes and a.first <= a.last
        for b in buffers[i + 1:]:
            if a.first <= b.last and b.first <= a.last:
                assert a.offset + a.nbytes <= b.offset or b.offset + b.nbytes <= a.offset, (a, b)
    weights = [graph.constant(graph.inputs(k)[1]).tobytes() for k in range(graph.n_ops)
               if graph.op_name(k) in ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D")]
    pool = p.s8.tobytes()
    assert all(w in pool for w in weights)
    if "dscnn" not in name:
        assert p.s8.size < sum(len(w) for w in weights) / 4  # the steps' matrices once, not once per step


def _features_input(xs):
    return np.array([MAGIC, 2, len(xs)], "<i4").tobytes() + b"".join(
        np.array([len(x)], "<i4").tobytes() + np.asarray(x, np.int8).tobytes() for x in xs)


def _pcm_input(pcms):
    return np.array([MAGIC, 4, len(pcms)], "<i4").tobytes() + b"".join(
        np.array([len(x)], "<i4").tobytes() + np.asarray(x, "<i2").tobytes() for x in pcms)


def _run(model, src, blob, count, config, tmp_path):
    (tmp_path / "in.bin").write_bytes(blob)
    exe = runner.build(config, tmp_path / "b", main="main.c", src_dir=src)
    runner.run(exe, config, [tmp_path / "in.bin", tmp_path / "out.bin"], timeout=600)
    T, n_in, C = model.frames, model.n_features, len(model.labels)
    got = np.frombuffer((tmp_path / "out.bin").read_bytes(), np.int8).reshape(count, T * n_in + C)
    return got[:, :T * n_in].reshape(count, T, n_in), got[:, T * n_in:]


CASES = [(name, runner.BuildConfig("host", "-O2")) for name in NAMES] + [
    (name, runner.BuildConfig("arm", "-O2")) for name in NAMES] + [
    ("keras3_lstm_h32", runner.BuildConfig("arm", "-Os", dsp=False))]


@pytest.mark.slow
@pytest.mark.parametrize("name, config", CASES, ids=lambda v: v if isinstance(v, str) else v.name)
def test_firmware_equals_tflm(models, name, config, tmp_path):
    """Every fixture's sequences (test recordings' features, all -128, all 127, random) through the
    exported firmware: the logits TFLM computed on the original .tflite, 0 LSB."""
    missing = runner.toolchain_missing(config.target)
    if missing:
        pytest.skip(missing)
    model = model_of(models, name)
    _, data = fixture(name)
    c_export.export_c(model, tmp_path / "src", silence=np.zeros(model.n_features, np.int8))
    windows, logits = _run(model, tmp_path / "src", _features_input(data["x"]), len(data["x"]), config, tmp_path)
    np.testing.assert_array_equal(windows, data["x"])
    np.testing.assert_array_equal(logits, data["y"])


@pytest.mark.slow
@pytest.mark.parametrize("name, config, cmsis_build",
                         [("keras3_gru_h24", runner.BuildConfig("host", "-O2"), "portable"),
                          ("keras3_gru_h24", runner.BuildConfig("host", "-O2"), "dsp"),
                          ("keras3_lstm_h32", runner.BuildConfig("arm", "-O2"), "portable")],
                         ids=lambda v: v if isinstance(v, str) else v.name)
def test_pcm_through_the_firmware_equals_the_engine(models, name, config, cmsis_build, tmp_path):
    """Utterances of many lengths: the firmware's front end, window and graph equal the engine's
    features and logits (the default export: its silent-frame padding), also for a front end of
    CMSIS-DSP's ARM_MATH_DSP build (``frontend.cmsis_build``)."""
    missing = runner.toolchain_missing(config.target)
    if missing:
        pytest.skip(missing)
    model = model_of(models, name)
    model = replace(model, frontend=replace(model.frontend, cmsis_build=cmsis_build))
    c_export.export_c(model, tmp_path / "src")
    pcms = utterances(model, seed=7)
    windows, logits = _run(model, tmp_path / "src", _pcm_input(pcms), len(pcms), config, tmp_path)
    features = np.stack([np.asarray(engine.features(model, pcm)) for pcm in pcms])
    np.testing.assert_array_equal(windows, features)
    np.testing.assert_array_equal(logits, np.stack([model.run_features(x) for x in features]))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["keras3_lstm_h32", "keras3_rnn_h16"])
def test_budget_items_equal_linker_symbol_sizes(models, name, tmp_path):
    """The budget's items (layout.flash_items / ram_items of a graph model) are the firmware's fr_
    objects with nm -S's sizes, and no other fr_ object is linked."""
    config = runner.BuildConfig("arm", "-O2")
    missing = runner.toolchain_missing("arm")
    if missing:
        pytest.skip(missing)
    model = model_of(models, name)
    c_export.export_c(model, tmp_path / "src", silence=np.zeros(model.n_features, np.int8))
    sizes = nm_sizes(runner.build(config, tmp_path / "b", main="main.c", src_dir=tmp_path / "src"))
    report = budget.audit(model, name=name)
    audit = {item.symbol: item.nbytes for item in report.flash + report.ram}
    assert {symbol: sizes.get(symbol) for symbol in audit} == audit
    assert sorted(s for s in sizes if s.startswith(layout.SYMBOL_PREFIX)) == sorted(audit)


def test_gemmlowp_fixed_point_is_defined_once_in_the_c(models):
    """gemmlowp's fixed point (its constants and exp / reciprocal steps) is in frnn_kernels.c only:
    the graph header defines no constant of it and no other C file a gemmlowp step (test_c_export
    checks the constants' values)."""
    import re

    header = "\n".join(c_export.graph_macros(plan(model_of(models, "keras3_rnn_h16").graph)))
    assert not re.search(r"/\* \S+ in Q\d+\.\d+ \*/", header)
    steps = re.compile(r"\b(exp_quarter_interval|exp_on_negative_values|rounding_half_sum|one_over_one_plus_x|"
                       r"two_over_one_plus_x)\b|\bin Q\d+\.\d+ \*/")
    c_dir = REPO / "fixedrnn" / "c"
    holders = sorted(path.relative_to(c_dir).as_posix() for path in c_dir.rglob("*.[ch]")
                     if steps.search(path.read_text()))
    assert holders == ["frnn_kernels.c"]


def test_graph_export_refuses_frame_by_frame_streaming(models, tmp_path):
    """A graph runs whole windows: it streams per segment only (tests/test_segment_firmware.py)."""
    from fixedrnn.errors import FixedRnnError
    from fixedrnn.stream import StreamConfig

    with pytest.raises(FixedRnnError, match="graph model streams per segment only"):
        c_export.export_c(model_of(models, "keras3_rnn_h16"), tmp_path / "src", stream=StreamConfig())
    assert not (tmp_path / "src").exists()


@pytest.mark.slow  # builds the graph firmware for the host, runs the command as a process
def test_firmware_run_command_on_a_graph_model(models, tmp_path):
    """``fixedrnn firmware run GRAPH.npz WAV... --target host``: the firmware's logits equal the
    engine's and TFLM's on the original .tflite (the oracle) for recordings shorter and longer than the
    graph's window; ``--stream`` runs the per-segment streaming firmware, equal to listen's stream."""
    import json
    import subprocess

    import scipy.io.wavfile

    import fixedrnn
    from fixedrnn import firmware
    from tests.tflite_graphs import tflm_run

    missing = firmware.load_runner().toolchain_missing(firmware.TARGETS["host"])
    if missing:
        pytest.skip(missing)
    model = model_of(models, "keras3_rnn_h16")
    path = fixedrnn.save(model, tmp_path / "g.npz")
    rng = np.random.default_rng(21)
    wavs = []
    for i, n in enumerate((900, 4000)):  # fewer and more than the 16 frames of the graph
        pcm = (np.sin(np.arange(n) * (0.05 + 0.1 * i)) * 5000 + rng.normal(0, 800, n)).astype(np.int16)
        scipy.io.wavfile.write(tmp_path / f"{i}.wav", 8000, pcm)
        wavs.append(tmp_path / f"{i}.wav")

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "fixedrnn", "firmware", "run", str(path), *map(str, wavs),
                               *args], capture_output=True, text=True)

    proc = cli("--target", "host", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    blob = fixture("keras3_rnn_h16")[0].read_bytes()
    for row, wav in zip(rows, wavs):
        x = model.features(fixedrnn.mfcc.read_wav(wav, model.frontend.mfcc_config()))
        oracle = tflm_run(blob, [x[None]]).reshape(-1).tolist()
        assert row["equal"] is True and row["firmware"] == row["engine"] == oracle
    stream = cli("--target", "host", "--stream")
    assert stream.returncode == 0, stream.stderr
    assert "streaming, per segment" in stream.stdout and "all 2 stream(s) equal listen per segment" in stream.stdout
