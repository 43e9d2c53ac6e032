"""The generated C (fixedrnn.c_export) built with tools/firmware: host gcc and Cortex-M4 under QEMU
(-O2, -Os, DSP intrinsics and portable C) against the NumPy engine, 0 LSB; and the budget audit's
items against the linker's symbol sizes (``nm -S``)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fixedrnn import budget, c_export, kernels

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "firmware"))
sys.path.insert(0, str(REPO / "tests"))

import runner  # noqa: E402
from throwaway_models import random_model  # noqa: E402

MAGIC = 0x494E5246
MODELS = {
    "rnn-int8": dict(cell="rnn", weights="int8", units=12, frames=24, seed=1),
    "rnn-int8-perchannel": dict(cell="rnn", weights="int8", units=9, frames=10, seed=2, per_channel=True),
    "rnn-pot": dict(cell="rnn", weights="pot", units=13, frames=24, seed=3),
    "lstm-int8": dict(cell="lstm", weights="int8", units=12, frames=24, seed=4),
    "lstm-pot": dict(cell="lstm", weights="pot", units=11, frames=16, seed=5),
}
BUILDS = [
    runner.BuildConfig("host", "-O2"),
    runner.BuildConfig("arm", "-O2"),
    runner.BuildConfig("arm", "-Os"),
    runner.BuildConfig("arm", "-O2", dsp=False),
]


def engine_logits(model, windows):
    """The engine's int8 logits [B, C] of int8 windows [B, T, I] (already fitted to T)."""
    try:
        from fixedrnn import engine
    except ImportError:
        engine = None
    if engine is not None:
        return np.asarray(engine.run_features_batch(model, windows, backend="numpy"))
    if model.cell != "rnn":
        pytest.skip("fixedrnn.engine (the LSTM engine) is not available yet")
    from fixedrnn import rnn

    h, _ = rnn.run_rnn(model.rnn, windows, model.input.zero_point)
    return kernels.fully_connected(h, model.head, 0)


def sequences(model, rng):
    """Feature sequences: full length T, shorter (left padding), longer (keep the last T), edges."""
    T, n_in = model.frames, model.n_features
    lengths = [T] * 12 + [1, 2, T - 1, T + 1, 3 * T]
    xs = [rng.integers(-128, 128, (n, n_in)).astype(np.int8) for n in lengths]
    xs.append(np.full((T, n_in), -128, np.int8))
    xs.append(np.full((T, n_in), 127, np.int8))
    return xs


def expected_window(model, x, silence):
    T = model.frames
    pad = max(0, T - len(x))
    return np.concatenate([np.tile(silence, (pad, 1)), x[-T:]]).astype(np.int8)


def test_normalization_equals_engine(tmp_path):
    """Kind-3 input: int32 MFCC frames through frnn_normalize (host build) vs engine.normalise."""
    from fixedrnn import engine

    model = random_model(**MODELS["rnn-int8"])
    missing = runner.toolchain_missing("host")
    if missing:
        pytest.skip(missing)
    c_export.export_c(model, tmp_path / "src", silence=np.zeros(model.n_features, np.int8))
    rng = np.random.default_rng(5)
    T, n_in = model.frames, model.n_features
    mfcc = rng.integers(-32768, 32768, (4, T, n_in)).astype(np.int32)
    mfcc[0] = np.tile([-32768, 32767], T * n_in)[:T * n_in].reshape(T, n_in)
    blob = np.array([MAGIC, 3, len(mfcc)], "<i4").tobytes() + b"".join(
        np.array([T], "<i4").tobytes() + m.astype("<i4").tobytes() for m in mfcc)
    (tmp_path / "in.bin").write_bytes(blob)
    exe = runner.build(runner.BuildConfig("host"), tmp_path / "b", main="main.c", src_dir=tmp_path / "src")
    runner.run(exe, runner.BuildConfig("host"), [tmp_path / "in.bin", tmp_path / "out.bin"], timeout=60)
    got = np.frombuffer((tmp_path / "out.bin").read_bytes(), np.int8).reshape(len(mfcc), -1)[:, :T * n_in]
    want = np.stack([np.asarray(engine.normalise(model, m)) for m in mfcc]).reshape(len(mfcc), -1)
    np.testing.assert_array_equal(got, want)


@pytest.fixture(scope="module", params=sorted(MODELS))
def exported(request, tmp_path_factory):
    model = random_model(**MODELS[request.param])
    rng = np.random.default_rng(11)
    silence = rng.integers(-128, 128, model.n_features).astype(np.int8)
    outdir = tmp_path_factory.mktemp(request.param)
    c_export.export_c(model, outdir / "src", silence=silence)
    xs = sequences(model, rng)
    windows = np.stack([expected_window(model, x, silence) for x in xs])
    logits = engine_logits(model, windows)
    blob = np.array([MAGIC, 2, len(xs)], "<i4").tobytes() + b"".join(
        np.array([len(x)], "<i4").tobytes() + x.tobytes() for x in xs)
    (outdir / "in.bin").write_bytes(blob)
    return request.param, model, outdir, windows, logits


@pytest.mark.parametrize("config", BUILDS, ids=lambda c: c.name)
def test_firmware_equals_engine(exported, config, tmp_path):
    name, model, outdir, windows, logits = exported
    missing = runner.toolchain_missing(config.target)
    if missing:
        pytest.skip(missing)
    exe = runner.build(config, tmp_path / "build", main="main.c", src_dir=outdir / "src")
    runner.run(exe, config, [outdir / "in.bin", tmp_path / "out.bin"], timeout=300)
    T, n_in, C = model.frames, model.n_features, len(model.labels)
    got = np.frombuffer((tmp_path / "out.bin").read_bytes(), np.int8).reshape(len(windows), T * n_in + C)
    np.testing.assert_array_equal(got[:, :T * n_in].reshape(windows.shape), windows)
    np.testing.assert_array_equal(got[:, T * n_in:], logits)


def nm_sizes(elf):
    out = subprocess.run(["arm-none-eabi-nm", "-S", str(elf)], capture_output=True, text=True, check=True).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4:
            sizes[parts[3]] = int(parts[1], 16)
    return sizes


@pytest.mark.parametrize("opt", ["-O2", "-Os"])
def test_budget_items_equal_linker_symbol_sizes(exported, opt, tmp_path):
    name, model, outdir, _, _ = exported
    missing = runner.toolchain_missing("arm")
    if missing:
        pytest.skip(missing)
    exe = runner.build(runner.BuildConfig("arm", opt), tmp_path, main="main.c", src_dir=outdir / "src")
    sizes = nm_sizes(exe)
    arrays = model.to_arrays()
    items = budget.model_flash_items(arrays, "window") + budget.model_ram_items(arrays, "window")
    audit = {item.symbol: item.nbytes for item in items}
    linked = {sym: sizes.get(sym) for sym in audit}
    assert linked == audit
    # and no other fr_ object in the image that the audit does not know about
    assert sorted(s for s in sizes if s.startswith(budget.SYMBOL_PREFIX)) == sorted(audit)


def test_export_rejects_a_file_as_outdir(tmp_path):
    model = random_model(**MODELS["rnn-int8"])
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(c_export.FixedRnnError, match="not a directory"):
        c_export.export_c(model, target, silence=np.zeros(model.n_features, np.int8))


def test_generated_sources_are_complete_c99(tmp_path):
    model = random_model(**MODELS["rnn-pot"])
    written = c_export.export_c(model, tmp_path, silence=np.zeros(model.n_features, np.int8))
    assert sorted(p.name for p in written) == ["frnn_kernels.c", "frnn_kernels.h", "frnn_model.c", "frnn_model.h"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind


@pytest.mark.parametrize("config", [BUILDS[0], BUILDS[1]], ids=lambda c: c.name)
def test_window_fit_equals_engine_with_its_silent_frame(config, tmp_path):
    """Default export (silent-frame features from the engine's front end): sequences shorter and
    longer than T give the logits of engine.run_features on the window engine.features builds
    (left-padded with the features of silence, or the last T frames)."""
    from fixedrnn import engine

    missing = runner.toolchain_missing(config.target)
    if missing:
        pytest.skip(missing)
    model = random_model(**MODELS["lstm-int8"])
    c_export.export_c(model, tmp_path / "src")
    rng = np.random.default_rng(3)
    xs = [rng.integers(-128, 128, (n, model.n_features)).astype(np.int8) for n in (1, 5, model.frames + 7)]
    blob = np.array([MAGIC, 2, len(xs)], "<i4").tobytes() + b"".join(
        np.array([len(x)], "<i4").tobytes() + x.tobytes() for x in xs)
    (tmp_path / "in.bin").write_bytes(blob)
    exe = runner.build(config, tmp_path / "b", main="main.c", src_dir=tmp_path / "src")
    runner.run(exe, config, [tmp_path / "in.bin", tmp_path / "out.bin"], timeout=120)
    C = len(model.labels)
    got = np.frombuffer((tmp_path / "out.bin").read_bytes(), np.int8).reshape(len(xs), -1)[:, -C:]
    silent = np.asarray(engine.features(model, np.zeros(0, np.int16)))  # T silent-frame vectors
    windows = [np.concatenate([silent, x])[-model.frames:] for x in xs]
    want = np.stack([np.asarray(engine.run_features(model, w)) for w in windows])
    np.testing.assert_array_equal(got, want)


@pytest.fixture(scope="module")
def fsdd_batch(fsdd_dir, tmp_path_factory):
    """All 300 FSDD test recordings: the front end's MFCC frames (kind-3 input of main.c) and the
    engine's features and logits, for one LSTM PoT model exported with its own silent frame."""
    from fixedrnn import engine, fsdd

    model = random_model(**MODELS["lstm-pot"])
    tmp = tmp_path_factory.mktemp("fsdd")
    c_export.export_c(model, tmp / "src")
    front = engine.frontend_module()
    cfg = model.frontend.mfcc_config()
    mfcc_fn = front.mfcc_q31 if model.frontend.precision == "q31" else front.mfcc_q15
    recordings = fsdd.list_recordings(fsdd_dir, split="test")
    parts, features = [np.array([MAGIC, 3, len(recordings)], "<i4").tobytes()], []
    for rec in recordings:
        pcm = fsdd.read_samples(rec.path)
        mfcc = np.asarray(mfcc_fn(front.frames(pcm, cfg), cfg)).astype("<i4")
        parts.append(np.array([len(mfcc)], "<i4").tobytes() + mfcc.tobytes())
        features.append(np.asarray(engine.features(model, pcm)))
    (tmp / "in.bin").write_bytes(b"".join(parts))
    features = np.stack(features)
    logits = np.asarray(engine.run_features_batch(model, features, backend="numpy"))
    return model, tmp, features, logits


@pytest.mark.parametrize("config", [BUILDS[0], BUILDS[1]], ids=lambda c: c.name)
def test_fsdd_test_split_features_and_logits_equal_engine(fsdd_batch, config, tmp_path):
    model, tmp, features, logits = fsdd_batch
    missing = runner.toolchain_missing(config.target)
    if missing:
        pytest.skip(missing)
    exe = runner.build(config, tmp_path / "b", main="main.c", src_dir=tmp / "src")
    runner.run(exe, config, [tmp / "in.bin", tmp_path / "out.bin"], timeout=600)
    T, n_in, C = model.frames, model.n_features, len(model.labels)
    got = np.frombuffer((tmp_path / "out.bin").read_bytes(), np.int8).reshape(len(features), T * n_in + C)
    np.testing.assert_array_equal(got[:, :T * n_in].reshape(features.shape), features)
    np.testing.assert_array_equal(got[:, T * n_in:], logits)
