"""The generated C (fixedrnn.c_export) built with tools/firmware: host gcc and Cortex-M4 under QEMU
(-O2, -Os, DSP intrinsics and portable C) against the NumPy engine, 0 LSB; and the budget audit's
items against the linker's symbol sizes (``nm -S``)."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fixedrnn import budget, c_export, firmware, layout

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "firmware"))
sys.path.insert(0, str(REPO / "tests"))

import runner  # noqa: E402
from faults import fail_on_call  # noqa: E402
from throwaway_models import random_model  # noqa: E402

pytestmark = pytest.mark.slow  # firmware builds (host and QEMU), FSDD-wide runs: not in the quick subset (pytest -m "not slow")

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
    from fixedrnn import engine

    return np.asarray(engine.run_features_batch(model, windows, backend="numpy"))


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


def export_feature_case(model, outdir, rng):
    """Export ``model`` to ``outdir / "src"`` with a random silence vector and write ``outdir /
    "in.bin"``: kind-2 input of :func:`sequences`. Returns ``(model, outdir, windows, logits)``: the
    expected int8 windows [B, T, I] and the engine's logits [B, C]."""
    silence = rng.integers(-128, 128, model.n_features).astype(np.int8)
    c_export.export_c(model, outdir / "src", silence=silence)
    xs = sequences(model, rng)
    windows = np.stack([expected_window(model, x, silence) for x in xs])
    blob = np.array([MAGIC, 2, len(xs)], "<i4").tobytes() + b"".join(
        np.array([len(x)], "<i4").tobytes() + x.tobytes() for x in xs)
    (outdir / "in.bin").write_bytes(blob)
    return model, outdir, windows, engine_logits(model, windows)


def run_feature_case(case, config, tmp_path):
    """Build main.c for ``case`` (:func:`export_feature_case`), run it, check every window and logit
    against the expected ones (0 LSB); returns the executable (skips without the toolchain)."""
    model, outdir, windows, logits = case
    missing = runner.toolchain_missing(config.target)
    if missing:
        pytest.skip(missing)
    exe = runner.build(config, tmp_path / "build", main="main.c", src_dir=outdir / "src")
    runner.run(exe, config, [outdir / "in.bin", tmp_path / "out.bin"], timeout=300)
    T, n_in, C = model.frames, model.n_features, len(model.labels)
    got = np.frombuffer((tmp_path / "out.bin").read_bytes(), np.int8).reshape(len(windows), T * n_in + C)
    np.testing.assert_array_equal(got[:, :T * n_in].reshape(windows.shape), windows)
    np.testing.assert_array_equal(got[:, T * n_in:], logits)
    return exe


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
    run_feature_case((model, outdir, windows, logits), config, tmp_path)


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
    items = layout.flash_items(arrays) + layout.ram_items(arrays)
    audit = {item.symbol: item.nbytes for item in items}
    linked = {sym: sizes.get(sym) for sym in audit}
    assert linked == audit
    # and no other fr_ object in the image that the audit does not know about
    assert sorted(s for s in sizes if s.startswith(layout.SYMBOL_PREFIX)) == sorted(audit)


def test_export_rejects_a_file_as_outdir(tmp_path):
    model = random_model(**MODELS["rnn-int8"])
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(c_export.FixedRnnError, match="not a directory"):
        c_export.export_c(model, target, silence=np.zeros(model.n_features, np.int8))


@pytest.mark.parametrize("name, cell_file", [("rnn-pot", "frnn_rnn.c"), ("lstm-int8", "frnn_lstm.c")])
def test_export_writes_the_package_c_and_the_model_data(name, cell_file, tmp_path):
    """The export is the package's C files (kernels, MFCC, API, pipeline and only the model's cell),
    byte for byte, plus frnn_model.h/.c."""
    model = random_model(**MODELS[name])
    written = c_export.export_c(model, tmp_path, silence=np.zeros(model.n_features, np.int8))
    assert sorted(p.name for p in written) == sorted([
        "frnn_kernels.c", "frnn_kernels.h", "frnn_mfcc.c", "frnn_mfcc.h", "frnn_api.h", "frnn_cell.h",
        "frnn_pipeline.c", cell_file, "frnn_model.c", "frnn_model.h"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind
    package = REPO / "fixedrnn" / "c"
    for path in written:
        if not path.name.startswith("frnn_model."):
            source = package / path.name if (package / path.name).exists() else package / "model" / path.name
            assert path.read_bytes() == source.read_bytes(), path.name


def _snapshot(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_export_over_another_model_is_whole_or_nothing(tmp_path, monkeypatch):
    """Issue #15: the set is written into a temporary directory beside the target, then moved in.
    A failure or an interruption while writing leaves the previous export byte for byte; a
    successful export replaces the whole set, removes the other cell's C file of the previous
    export, and leaves the user's own files alone."""
    from fixedrnn import atomicfile

    silence = np.zeros(13, np.int8)
    lstm, rnn = random_model(**MODELS["lstm-int8"]), random_model(**MODELS["rnn-pot"])
    out = tmp_path / "src"
    c_export.export_c(lstm, out, silence=silence)
    (out / "main.c").write_text("/* the user's firmware */\n")
    before = _snapshot(out)
    for interruption in (KeyboardInterrupt, OSError(28, "No space left on device")):
        monkeypatch.undo()
        fail_on_call(monkeypatch, atomicfile, "_stage", 4, interruption)
        with pytest.raises((KeyboardInterrupt, OSError)):
            c_export.export_c(rnn, out, silence=silence)
        assert _snapshot(out) == before and [p.name for p in tmp_path.iterdir()] == ["src"]
    monkeypatch.undo()
    written = c_export.export_c(rnn, out, silence=silence)
    after = _snapshot(out)
    assert "frnn_lstm.c" not in after and after["main.c"] == before["main.c"]
    assert sorted(after) == sorted([p.name for p in written] + ["main.c"])
    assert after["frnn_model.c"] == c_export.generate(rnn, silence)["frnn_model.c"].encode()
    assert [p.name for p in tmp_path.iterdir()] == ["src"]


def _file_scope_function_bodies(text):
    """Places where a '{' follows a ')' at file scope (a function definition) in C ``text``."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"^\s*#.*$", " ", text, flags=re.M)
    found, depth = [], 0
    for match in re.finditer(r"[{}]", text):
        if match.group() == "{":
            if depth == 0 and text[:match.start()].rstrip().endswith(")"):
                found.append(text[max(0, match.start() - 60):match.start() + 1])
            depth += 1
        else:
            depth -= 1
    return found


@pytest.mark.parametrize("name", sorted(MODELS))
def test_generated_files_are_data_and_configuration_only(name, tmp_path):
    """frnn_model.h / .c define no function: no '{' after a ')' at file scope, and frnn_model.c
    compiled alone (without the pipeline and cell files) gives an object with data and no code."""
    model = random_model(**MODELS[name])
    files = c_export.generate(model, silence=np.zeros(model.n_features, np.int8))
    assert _file_scope_function_bodies("int f(void)\n{\n    return 0;\n}\n")  # the check finds one
    for generated in ("frnn_model.h", "frnn_model.c"):
        assert _file_scope_function_bodies(files[generated]) == [], generated
    missing = runner.toolchain_missing("host")
    if missing:
        pytest.skip(missing)
    for file_name in ("frnn_model.h", "frnn_model.c", "frnn_mfcc.h"):
        (tmp_path / file_name).write_text(files[file_name])
    obj = tmp_path / "frnn_model.o"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-c", str(tmp_path / "frnn_model.c"),
                    "-o", str(obj)], check=True, capture_output=True)
    symbols = [line.split() for line in subprocess.run(["nm", str(obj)], capture_output=True, text=True,
                                                       check=True).stdout.splitlines()]
    assert [s for s in symbols if s[-2] in "Tt"] == []  # no code
    arrays = model.to_arrays()
    defined = sorted(s[-1] for s in symbols if s[-2] in "RrDdBbC")
    assert defined == sorted(item.symbol for item in layout.flash_items(arrays) + layout.ram_items(arrays))


def test_gemmlowp_constants_in_the_c_equal_their_formulas():
    """Each gemmlowp constant of frnn_kernels.c is fixedrnn.gemmlowp.constant of the formula its
    comment states (value in Qm.n)."""
    import math

    from fixedrnn import gemmlowp

    formulas = {"exp(-1/8)": math.exp(-1 / 8), "1/3": 1 / 3, "48/17": 48 / 17, "-32/17": -32 / 17}
    text = (REPO / "fixedrnn" / "c" / "frnn_kernels.c").read_text()
    found = re.findall(r"#define (\w+) \(?(-?\d+)\)? /\* (\S+) in Q(\d+)\.(\d+) \*/", text)
    assert sorted(f[2] for f in found) == sorted(formulas)
    for name, literal, formula, integer_bits, fraction_bits in found:
        assert int(integer_bits) + int(fraction_bits) == 31, name
        assert int(literal) == gemmlowp.constant(formulas[formula], int(integer_bits)), name
        assert len(re.findall(rf"\b{name}\b", text)) >= 2, f"{name} is not used"


def test_package_data_ships_every_c_file():
    """setup.cfg's package_data globs match every C source the exporter copies."""
    import configparser
    import fnmatch

    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    patterns = [p.strip() for p in config["options.package_data"]["fixedrnn"].split(",")]
    package = REPO / "fixedrnn"
    for cell in c_export.CELL_FILES:
        for path in c_export.source_files(cell).values():
            relative = path.relative_to(package).as_posix()
            assert any(fnmatch.fnmatch(relative, p) and p.count("/") == relative.count("/") for p in patterns), relative


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


def run_pcm(model, src, pcms, config, tmp_path, timeout=300):
    """The firmware's int8 windows [B, T, I] and logits [B, C] for int16 utterances ``pcms``."""
    (tmp_path / "in.bin").write_bytes(firmware.pcm_input(pcms))
    exe = runner.build(config, tmp_path / "b", main="main.c", src_dir=src)
    runner.run(exe, config, [tmp_path / "in.bin", tmp_path / "out.bin"], timeout=timeout)
    T, n_in, C = model.frames, model.n_features, len(model.labels)
    got = np.frombuffer((tmp_path / "out.bin").read_bytes(), np.int8).reshape(len(pcms), T * n_in + C)
    return got[:, :T * n_in].reshape(len(pcms), T, n_in), got[:, T * n_in:]


def run_frames(src, frames, n_mfcc, config, tmp_path, timeout=300):
    """The firmware's MFCC (int32 [n, n_mfcc]) of int16 frames [n, fft_length] (kind 5)."""
    blob = np.array([MAGIC, 5, 1, len(frames)], "<i4").tobytes() + np.asarray(frames, "<i2").tobytes()
    (tmp_path / "in5.bin").write_bytes(blob)
    exe = runner.build(config, tmp_path / "b", main="main.c", src_dir=src)
    runner.run(exe, config, [tmp_path / "in5.bin", tmp_path / "out5.bin"], timeout=timeout)
    return np.frombuffer((tmp_path / "out5.bin").read_bytes(), "<i4").reshape(len(frames), n_mfcc)


def engine_pcm(model, pcms):
    """The engine's int8 features [B, T, I] and logits [B, C] of int16 utterances."""
    from fixedrnn import engine

    features = np.stack([np.asarray(engine.features(model, pcm)) for pcm in pcms])
    return features, np.asarray(model.run_features_batch(features, backend="numpy"))


def with_frontend(model, **changes):
    """``model`` with other front-end settings (the C and the engine both follow them)."""
    import dataclasses

    return dataclasses.replace(model, frontend=dataclasses.replace(model.frontend, **changes))


def random_frames(fft_length, seed):
    """int16 frames [48, fft_length]: uniform noise at every scale from full to 1 LSB, and the
    edges: silence, a single LSB, full-scale +-, alternating -32768/+32767, a DC of -32768, an
    impulse."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(-32768, 32768, (48, fft_length))
    frames = (noise >> rng.integers(0, 16, (48, 1))).astype(np.int16)
    frames[0] = 0
    frames[1] = 0
    frames[1, 7] = 1
    frames[2] = 32767
    frames[3] = -32768
    frames[4] = np.where(np.arange(fft_length) % 2, 32767, -32768)
    frames[5] = 0
    frames[5, 0] = -32768
    frames[6] = (np.sin(np.arange(fft_length) * 0.3) * 32767).astype(np.int16)
    return frames


FRONTENDS = {"q15-256": ("q15", 256), "q31-512": ("q31", 512), "q15-1024": ("q15", 1024),
             "q31-128": ("q31", 128), "q31-256": ("q31", 256), "q15-512": ("q15", 512)}
#: (front end, build): every length/precision on the host, the two main ones on every target build.
FRONTEND_CASES = [(f, BUILDS[0]) for f in FRONTENDS] + [(f, b) for f in ("q15-256", "q31-512") for b in BUILDS[1:]]


@pytest.mark.parametrize("frontend, config", FRONTEND_CASES, ids=lambda v: v if isinstance(v, str) else v.name)
def test_mfcc_of_random_frames_equals_frontend(frontend, config, tmp_path):
    """The C MFCC (kind 5: frames in, MFCC out) equals fixedrnn.mfcc (itself bit-exact with
    cmsisdsp) on random int16 frames and edge cases: radix-4 and radix-2+4 FFT lengths, q15 and q31,
    host and Cortex-M4 -O2/-Os/portable."""
    from fixedrnn import mfcc

    missing = runner.toolchain_missing(config.target)
    if missing:
        pytest.skip(missing)
    precision, fft_length = FRONTENDS[frontend]
    model = with_frontend(random_model(**MODELS["rnn-int8"]), precision=precision, fft_length=fft_length,
                          hop=fft_length // 2)
    c_export.export_c(model, tmp_path / "src", silence=np.zeros(model.n_features, np.int8))
    frames = random_frames(fft_length, seed=fft_length + len(precision))
    got = run_frames(tmp_path / "src", frames, model.n_features, config, tmp_path)
    cfg = model.frontend.mfcc_config()
    if precision == "q15":
        want = mfcc.mfcc_q15(frames, cfg)
    else:
        want = mfcc.mfcc_q31(frames.astype(np.int32) << 16, cfg)
    np.testing.assert_array_equal(got, want)


def utterances(model, seed):
    """int16 utterances of many lengths around the framing edges (0, < 1 frame, exactly 1, between
    frames, longer than the window), noise and tones."""
    n, hop, T = model.frontend.fft_length, model.frontend.hop, model.frames
    lengths = [0, 1, n - 1, n, n + 1, n + hop - 1, n + hop, 3 * n + 17, (T - 1) * hop + n, T * hop + n + 77]
    rng = np.random.default_rng(seed)
    out = []
    for i, length in enumerate(lengths):
        if i % 2:
            x = rng.integers(-32768, 32768, length) >> rng.integers(0, 12)
        else:
            x = 20000 * np.sin(np.arange(length) * (0.05 + 0.1 * i))
        out.append(x.astype(np.int16))
    return out


PCM_CASES = [("lstm-int8", "q15", 256, BUILDS[0]), ("rnn-pot", "q31", 512, BUILDS[0]),
             ("lstm-pot", "q15", 256, BUILDS[1]), ("rnn-int8", "q31", 256, BUILDS[2])]


@pytest.mark.parametrize("name, precision, fft_length, config", PCM_CASES,
                         ids=lambda v: v if isinstance(v, (str, int)) else v.name)
def test_pcm_utterances_equal_engine(name, precision, fft_length, config, tmp_path):
    """PCM in (frnn_push_samples in chunks of 100, frnn_end_utterance): the firmware's window and
    logits equal engine.features / run_features_batch, for every framing edge."""
    missing = runner.toolchain_missing(config.target)
    if missing:
        pytest.skip(missing)
    model = with_frontend(random_model(**MODELS[name]), precision=precision, fft_length=fft_length,
                          hop=fft_length // 2)
    c_export.export_c(model, tmp_path / "src")
    pcms = utterances(model, seed=fft_length)
    windows, logits = run_pcm(model, tmp_path / "src", pcms, config, tmp_path)
    want_windows, want_logits = engine_pcm(model, pcms)
    np.testing.assert_array_equal(windows, want_windows)
    np.testing.assert_array_equal(logits, want_logits)


@pytest.fixture(scope="module")
def fsdd_batch(fsdd_dir, tmp_path_factory):
    """All 300 FSDD test recordings as PCM (kind-4 input of main.c) and the engine's features and
    logits, for one LSTM PoT model exported with its own silent frame."""
    from fixedrnn import fsdd

    model = random_model(**MODELS["lstm-pot"])
    tmp = tmp_path_factory.mktemp("fsdd")
    c_export.export_c(model, tmp / "src")
    pcms = [fsdd.read_samples(rec.path) for rec in fsdd.list_recordings(fsdd_dir, split="test")]
    assert len(pcms) == 300
    features, logits = engine_pcm(model, pcms)
    return model, tmp, pcms, features, logits


@pytest.mark.parametrize("config", BUILDS[:3], ids=lambda c: c.name)
def test_fsdd_test_split_from_pcm_equals_engine(fsdd_batch, config, tmp_path):
    """All 300 FSDD test recordings through the whole C pipeline (PCM -> MFCC -> int8 window ->
    cell -> head) in one run: features and logits equal the engine's."""
    model, tmp, pcms, features, logits = fsdd_batch
    missing = runner.toolchain_missing(config.target)
    if missing:
        pytest.skip(missing)
    windows, got = run_pcm(model, tmp / "src", pcms, config, tmp_path, timeout=900)
    np.testing.assert_array_equal(windows, features)
    np.testing.assert_array_equal(got, logits)


# ---- golden models and golden vectors (picked up from golden/ as they appear) -----------------

GOLDEN = REPO / "golden"


def golden_models():
    found = sorted((GOLDEN / "models").glob("*.npz"))
    if not found:
        return [pytest.param(None, marks=pytest.mark.skip(reason="no golden models in golden/models yet"))]
    return [pytest.param(path, id=path.stem) for path in found]


def golden_sets():
    base = GOLDEN / "vectors"
    found = sorted(p for p in base.iterdir() if (p / "manifest.json").is_file()) if base.is_dir() else []
    if not found:
        return [pytest.param(None, marks=pytest.mark.skip(reason="no golden vectors in golden/vectors yet"))]
    return [pytest.param(path, id=path.name) for path in found]


def fsdd_or_none():
    from conftest import fsdd_path

    path = fsdd_path()
    return path if (path / "recordings").is_dir() else None


@pytest.fixture(scope="module", params=golden_models())
def golden_export(request, tmp_path_factory):
    from fixedrnn import model as model_io

    model = model_io.load(request.param)
    outdir = tmp_path_factory.mktemp(request.param.stem)
    c_export.export_c(model, outdir / "src")
    return request.param.stem, model, outdir / "src"


@pytest.mark.parametrize("opt", ["-O2", "-Os"])
def test_golden_model_budget_equals_linker_symbol_sizes(golden_export, opt, tmp_path):
    """For every golden model: `python -m fixedrnn.budget`'s items (flash and RAM, model and front
    end) have exactly the `nm -S` sizes of the firmware's symbols, and no other fr_ object exists."""
    name, model, src = golden_export
    missing = runner.toolchain_missing("arm")
    if missing:
        pytest.skip(missing)
    sizes = nm_sizes(runner.build(runner.BuildConfig("arm", opt), tmp_path, main="main.c", src_dir=src))
    report = budget.audit(model.to_arrays(), name=name)
    audit = {item.symbol: item.nbytes for item in report.flash + report.ram}
    assert {sym: sizes.get(sym) for sym in audit} == audit
    assert sorted(s for s in sizes if s.startswith(layout.SYMBOL_PREFIX)) == sorted(audit)


@pytest.fixture(scope="module")
def golden_pcm(golden_export):
    """The standard synthetic signals and (when the dataset is there) all 300 FSDD test
    recordings, with the engine's features and logits for the golden model."""
    from fixedrnn import fsdd, signals

    pcms = [signals.generate(spec) for spec in signals.STANDARD_SIGNALS]
    data = fsdd_or_none()
    if data is not None:
        pcms += [fsdd.read_samples(rec.path) for rec in fsdd.list_recordings(data, split="test")]
    return pcms, engine_pcm(golden_export[1], pcms)


@pytest.mark.parametrize("config", BUILDS, ids=lambda c: c.name)
def test_golden_model_pcm_equals_engine(golden_export, golden_pcm, config, tmp_path):
    """For every golden model: the standard synthetic signals and (when the dataset is there) all
    300 FSDD test recordings, PCM in, give the engine's features and logits (0 LSB)."""
    name, model, src = golden_export
    missing = runner.toolchain_missing(config.target)
    if missing:
        pytest.skip(missing)
    pcms, (want_windows, want_logits) = golden_pcm
    windows, logits = run_pcm(model, src, pcms, config, tmp_path, timeout=900)
    np.testing.assert_array_equal(windows, want_windows)
    np.testing.assert_array_equal(logits, want_logits)


@pytest.mark.parametrize("config", BUILDS[:2], ids=lambda c: c.name)
@pytest.mark.parametrize("set_dir", golden_sets())
def test_golden_vectors_equal_firmware(set_dir, config, tmp_path):
    """Every golden vector set: the firmware's MFCC frames, int8 window and logits of each input
    equal the frozen digests and logits (independent of today's engine). FSDD inputs are included
    when the dataset is there (their samples checked against the stored checksum)."""
    from fixedrnn import fsdd, golden, mfcc, model as model_io, signals

    missing = runner.toolchain_missing(config.target)
    if missing:
        pytest.skip(missing)
    gset = golden.load_set(set_dir)
    model = model_io.load(gset.model_file)
    data = fsdd_or_none()
    inputs, pcms = [], []
    for entry in gset.inputs:
        if entry.source == "synthetic":
            pcm = signals.generate(entry.signal)
        elif data is not None:
            pcm = fsdd.read_samples(data / "recordings" / entry.name)
        else:
            continue
        assert fsdd.sample_checksum(pcm) == entry.checksum, entry.name
        inputs.append(entry)
        pcms.append(pcm)
    c_export.export_c(model, tmp_path / "src")
    windows, logits = run_pcm(model, tmp_path / "src", pcms, config, tmp_path, timeout=900)
    cfg = model.frontend.mfcc_config()
    cut = [mfcc.frames(pcm, cfg) for pcm in pcms]
    dtype = np.int16 if model.frontend.precision == "q15" else np.int32
    coefs = run_frames(tmp_path / "src", np.concatenate(cut), model.n_features, config, tmp_path, timeout=900)
    bounds = np.cumsum([0] + [len(c) for c in cut])
    for k, entry in enumerate(inputs):
        frames_mfcc = coefs[bounds[k]:bounds[k + 1]].astype(dtype)
        assert golden.tensor_digest(frames_mfcc) == entry.digests["mfcc"]["sha256"], (entry.name, "mfcc")
        assert golden.tensor_digest(windows[k]) == entry.digests["features"]["sha256"], (entry.name, "features")
        assert tuple(int(v) for v in logits[k]) == entry.logits, (entry.name, "logits")
