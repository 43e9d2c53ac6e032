"""fixedrnn.stream: the streaming pipeline equals the batch path (engine) bit for bit, whatever the
block sizes; with the cell reset, it equals the batch path run from each reset (pre-roll included)."""

import dataclasses

import numpy as np
import pytest

from fixedrnn import convert, dense, engine, fsdd
from fixedrnn.decision import DecisionConfig
from fixedrnn.model import load
from fixedrnn.stream import KeywordStream, StreamConfig
from tests.conftest import REPO
from tests.throwaway_models import random_model

NO_RESET = StreamConfig(reset=False)


def q31_model(model, seed=0):
    """``model`` with a q31 front end and an input normalisation for its q8.23 MFCC."""
    rng = np.random.default_rng(seed)
    n = model.n_features
    iq = convert.make_input_quant(rng.normal(0.0, 5.0, n), rng.uniform(10.0, 60.0, n), 4.0 / 128,
                                  mfcc_lsb=2.0 ** -23)
    return dataclasses.replace(model, frontend=dataclasses.replace(model.frontend, precision="q31"),
                               input=iq)


def synthetic(seconds, seed):
    """int16 audio: silence, tone sweeps and bursts of noise at several levels, a few clipped."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 8000)
    t = np.arange(n) / 8000
    out = rng.normal(0, 30, n)
    for start in rng.uniform(0, seconds - 0.4, 6):
        a, b = int(start * 8000), int((start + rng.uniform(0.1, 0.4)) * 8000)
        f = rng.uniform(150, 1500)
        out[a:b] += rng.choice([300, 3000, 40000]) * np.sin(2 * np.pi * f * t[a:b] * (1 + t[a:b]))
    out[int(0.3 * n):int(0.35 * n)] = 0
    return np.clip(np.rint(out), -32768, 32767).astype(np.int16)


def push_blocks(stream, pcm, sizes):
    """Push ``pcm`` in blocks of the given sizes (cycled); concatenate the per-frame outputs."""
    parts, detections, pos, k = [], [], 0, 0
    while pos < pcm.size:
        size = int(sizes[k % len(sizes)])
        frames, found = stream.push(pcm[pos:pos + size])
        parts.append(frames)
        detections += found
        pos += size
        k += 1
    joined = {f: (np.concatenate([getattr(p, f) for p in parts]) if getattr(parts[0], f) is not None else None)
              for f in parts[0]._fields}
    return joined, detections


def batch_reference(model, pcm):
    """Features, trace and scores of the batch path over every frame of ``pcm``."""
    x = engine.normalise(model, engine.mfcc(model, pcm))
    _, trace = engine.run_features(model, x, trace=True)
    return x, trace, dense.run_head(model.prepared.head, trace["hidden"])


def assert_equal_to_batch(model, pcm, out):
    x, trace, scores = batch_reference(model, pcm)
    np.testing.assert_array_equal(out["mfcc"], engine.mfcc(model, pcm))
    np.testing.assert_array_equal(out["features"], x)
    np.testing.assert_array_equal(out["hidden"], trace["hidden"])
    if model.cell == "lstm":
        np.testing.assert_array_equal(out["cell"], trace["cell"])
    np.testing.assert_array_equal(out["scores"], scores)
    np.testing.assert_array_equal(out["index"], np.arange(len(x)))


MODELS = [("rnn", "int8", "q15"), ("rnn", "pot", "q31"), ("lstm", "int8", "q15"), ("lstm", "pot", "q15"),
          ("lstm", "int8", "q31")]


@pytest.mark.parametrize("cell,weights,precision", MODELS)
def test_random_blocks_equal_batch(cell, weights, precision):
    model = random_model(cell=cell, weights=weights, units=10, seed=3)
    if precision == "q31":
        model = q31_model(model)
    pcm = synthetic(3.0, seed=len(cell) + len(weights))
    sizes = np.random.default_rng(7).integers(1, 700, 40).tolist() + [1, 1, 5000]
    out, _ = push_blocks(KeywordStream(model, NO_RESET), pcm, sizes)
    assert_equal_to_batch(model, pcm, out)


@pytest.mark.parametrize("size", [1, 127, 128, 256, None])
def test_block_sizes_from_one_sample_to_the_whole_file(size):
    model = random_model(cell="lstm", weights="int8", units=8, seed=5)
    pcm = synthetic(0.6 if size == 1 else 2.0, seed=2)
    out, _ = push_blocks(KeywordStream(model, NO_RESET), pcm, [size or pcm.size])
    assert_equal_to_batch(model, pcm, out)


def test_fewer_samples_than_a_frame_give_no_frame():
    model = random_model(cell="rnn", units=6)
    frames, found = KeywordStream(model).push(np.zeros(255, np.int16))
    assert len(frames.index) == 0 and frames.hidden.shape == (0, 6) and found == []


@pytest.mark.parametrize("silence", [0, 3])
def test_with_reset_each_segment_equals_batch_from_its_preroll(silence):
    """With the reset, each segment's states are the batch path's on ``silence`` silent frames (the
    window's padding, engine.silent_features) followed by the frames from the segment's pre-roll."""
    model = random_model(cell="lstm", weights="pot", units=10, seed=1)
    pcm = synthetic(4.0, seed=9)
    config = StreamConfig(preroll=5, silence=silence)
    out, _ = push_blocks(KeywordStream(model, config), pcm, [333, 1, 4000])
    starts = np.flatnonzero(out["reset"])
    assert len(starts) >= 2
    bounds = list(starts) + [len(out["index"])]
    pad = np.repeat(engine.silent_features(model)[None], silence, axis=0)
    for a, b in zip(bounds[:-1], bounds[1:]):
        first = max(0, a - config.preroll)
        _, trace = engine.run_features(model, np.concatenate([pad, out["features"][first:b]]), trace=True)
        np.testing.assert_array_equal(out["hidden"][a:b], trace["hidden"][silence + a - first:])
        np.testing.assert_array_equal(out["cell"][a:b], trace["cell"][silence + a - first:])
    # before the first reset: the batch path from the start of the stream
    _, trace = engine.run_features(model, out["features"][:starts[0] + 1], trace=True)
    np.testing.assert_array_equal(out["hidden"][:starts[0]], trace["hidden"][:starts[0]])


def test_detections_do_not_depend_on_block_sizes():
    model = random_model(cell="lstm", units=10, seed=4)
    pcm = synthetic(4.0, seed=11)
    config = StreamConfig(decision=DecisionConfig(min_loud=1))
    _, whole = push_blocks(KeywordStream(model, config), pcm, [pcm.size])
    _, pieces = push_blocks(KeywordStream(model, config), pcm, [1, 77, 129, 1000])
    assert whole == pieces and len(whole) >= 1


def _fsdd_audio(fsdd_dir, names):
    gap = np.zeros(6000, np.int16)
    parts = [gap]
    for name in names:
        parts += [fsdd.read_samples(fsdd_dir / "recordings" / name), gap]
    return np.concatenate(parts)


@pytest.mark.parametrize("name", ["lstm_int8", "tiny_lstm_pot"])
def test_golden_model_on_fsdd_audio(fsdd_dir, name):
    """Three test-split digits with 0.75 s of silence between them: stream == batch, and with the
    default configuration (reset, VAD, decision) each digit is detected once, in order."""
    model = load(REPO / "golden" / "models" / f"{name}.npz")
    pcm = _fsdd_audio(fsdd_dir, ["3_theo_0.wav", "7_jackson_1.wav", "0_george_2.wav"])
    sizes = np.random.default_rng(0).integers(1, 2000, 30).tolist()
    out, _ = push_blocks(KeywordStream(model, NO_RESET), pcm, sizes)
    assert_equal_to_batch(model, pcm, out)
    _, found = push_blocks(KeywordStream(model), pcm, sizes)
    assert [model.labels[d.label] for d in found] == ["3", "7", "0"]
