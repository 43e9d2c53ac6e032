"""fixedrnn.endpoint: the rule on energies worked out by hand and against a plain-integer reading of
its docstring; the engine, classify and evaluate paths that use it."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from fixedrnn import engine
from fixedrnn.classify import classify
from fixedrnn.endpoint import EndpointConfig, Segment, describe, segment
from fixedrnn.errors import FixedRnnError
from fixedrnn.vad import frame_energy
from tests.throwaway_models import random_model


def oracle(energy, search, margin, range_shift, pre, post):
    """The rule of the module docstring, read literally with Python ints (no NumPy)."""
    e = [int(v) for v in energy]
    n = len(e)
    k = min(n, search)
    if k == 0:
        return n, n
    w = e[n - k:]
    lo, hi = min(w), max(w)
    threshold = lo + max(margin, (hi - lo) // 2 ** range_shift)
    loud = [j for j, v in enumerate(w) if v > threshold]
    if not loud:
        return n - k, n
    return n - k + max(loud[0] - pre, 0), n - k + min(loud[-1] + post, k - 1) + 1


def test_hand_worked_clips():
    cfg = EndpointConfig(search=10, margin=5, range_shift=2, pre=1, post=2)
    # lo 0, hi 100: threshold 0 + max(5, 25) = 25; loud frames 3..5 → [2, 8)
    assert segment([0, 1, 2, 30, 100, 26, 0, 0, 0, 0], cfg) == Segment(2, 8)
    # level within the margin everywhere: nothing is loud, the whole clip is kept
    assert segment([3, 4, 5, 3], cfg) == Segment(0, 4)
    # only the last 10 frames are searched: frame 0 (loud) is outside; lo 0, hi 40 → threshold 10
    assert segment([1000] + [0] * 5 + [40, 0, 0, 0, 0], cfg) == Segment(5, 9)
    # a loud first frame: pre clamps at the segment's start; a loud last frame: post at its end
    assert segment([50, 0, 0, 0, 50], cfg) == Segment(0, 5)
    # no frames at all
    assert segment(np.zeros(0, np.int32), cfg) == Segment(0, 0)
    # negative energies (q8.7 of quiet frames is negative): lo -900, hi -100, threshold -700
    assert segment([-900, -900, -100, -650, -800, -900], cfg) == Segment(1, 6)


@given(st.lists(st.integers(-32768, 32767), max_size=60), st.integers(1, 70), st.integers(0, 2000),
       st.integers(0, 16), st.integers(0, 12), st.integers(0, 12))
def test_rule_equals_its_plain_integer_reading(energy, search, margin, range_shift, pre, post):
    cfg = EndpointConfig(search=search, margin=margin, range_shift=range_shift, pre=pre, post=post)
    assert tuple(segment(np.array(energy, np.int32), cfg)) == oracle(energy, search, margin, range_shift, pre, post)


@pytest.mark.parametrize("field,value", [("search", 0), ("margin", -1), ("range_shift", 17), ("pre", 256),
                                         ("post", 1.5), ("search", True)])
def test_bad_configuration_is_one_line_naming_the_field(field, value):
    with pytest.raises(FixedRnnError, match=rf"^endpoint\.{field}: expected an integer"):
        EndpointConfig(**{field: value})


def test_energy_must_be_integers():
    with pytest.raises(FixedRnnError, match="energy must be a 1-d integer array"):
        segment(np.zeros(4, np.float32), EndpointConfig())


def burst_clip(rate=8000, lead=0.4, word=0.25, trail=0.6, seed=0):
    """Quiet noise, a loud 700 Hz burst, quiet noise: int16."""
    rng = np.random.default_rng(seed)
    n = [int(rate * s) for s in (lead, word, trail)]
    x = rng.normal(0.0, 30.0, sum(n))
    t = np.arange(n[1]) / rate
    x[n[0]:n[0] + n[1]] += 8000.0 * np.sin(2 * math.pi * 700.0 * t)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize("cell,precision", [("lstm", "q15"), ("rnn", "q15"), ("lstm", "q31")])
def test_engine_fits_the_segments_frames(cell, precision):
    from dataclasses import replace

    model = random_model(cell=cell, frames=24)
    if precision == "q31":
        model = replace(model, frontend=replace(model.frontend, precision="q31"))
    pcm = burst_clip()
    cfg = EndpointConfig()
    mf = engine.mfcc(model, pcm)
    start, stop = oracle(frame_energy(mf, precision), cfg.search, cfg.margin, cfg.range_shift, cfg.pre, cfg.post)
    # the burst: samples 3200..5200, frames of 256 every 128: the loud ones are about 23..39
    assert 10 <= start < 23 and 39 < stop <= 50 and stop < len(mf)
    x = engine.normalise(model, mf)[start:stop][-24:]
    want = np.concatenate([np.repeat(engine.silent_features(model)[None], 24 - len(x), 0), x])
    got = engine.features(model, pcm, EndpointConfig())
    assert got.dtype == np.int8 and np.array_equal(got, want)
    assert np.array_equal(model.run(pcm, endpoint=cfg), model.run_features(want))
    # without endpointing: the clip's last 24 frames (the burst is not in them)
    assert np.array_equal(engine.features(model, pcm), engine.normalise(model, mf)[-24:])


def test_classification_reports_the_segment():
    model = random_model(frames=24)
    pcm = burst_clip()
    plain, cut = classify(model, pcm), classify(model, pcm, endpoint=EndpointConfig())
    assert plain.segment is None and plain.truncated  # 74 frames > 24
    start, stop = cut.segment
    assert cut.frames == plain.frames and (stop - start > 24) == cut.truncated
    assert list(cut.logits) == list(model.run(pcm, endpoint=EndpointConfig()))
    assert cut.to_dict()["segment"] == [start, stop] and plain.to_dict()["segment"] is None
    assert describe(EndpointConfig()) == "search 125 frames, margin 560, range_shift 2, pre 8, post 8"


def test_classify_cli_endpoint(tmp_path, capsys):
    import scipy.io.wavfile

    from fixedrnn.cli import main
    from fixedrnn.model import save

    model_path = tmp_path / "m.npz"
    save(random_model(frames=24), model_path)
    wav = tmp_path / "clip.wav"
    scipy.io.wavfile.write(wav, 8000, burst_clip())
    assert main(["classify", str(model_path), str(wav), "--endpoint", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    want = classify(random_model(frames=24), burst_clip(), endpoint=EndpointConfig())
    assert out["segment"] == list(want.segment) and out["logits"] == list(want.logits)
    assert main(["classify", str(model_path), str(wav)]) == 0
    assert "--endpoint" in capsys.readouterr().err  # the long clip's warning points at it


def test_fsdd_padded_recordings_are_recovered(fsdd_dir):
    """lstm_int8 on 60 test recordings with 0.5 s before and 1.0 s after the word (white noise at
    -60 dBFS over the clip): without endpointing the word is not in the window (about 1 s); with
    it, as on the recordings as they are."""
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "tools"))
    import clip_eval
    from fixedrnn import fsdd
    from fixedrnn.model import load

    model = load(root / "golden" / "models" / "lstm_int8.npz")
    recordings = [r for r in fsdd.list_recordings(fsdd_dir, "test") if r.index in (0, 1)][:60]
    targets = [model.labels.index(str(r.digit)) for r in recordings]
    clean = [r.samples() for r in recordings]
    clips = [clip_eval.make_clip(s, (0.5, 1.0, -60.0), 8000, np.random.default_rng([0, i]))
             for i, s in enumerate(clean)]
    assert clip_eval.accuracy(model, clean, targets, None) >= 0.98
    assert clip_eval.accuracy(model, clips, targets, None) <= 0.2
    assert clip_eval.accuracy(model, clips, targets, EndpointConfig()) >= 0.95


def test_evaluate_endpoints_each_recording(fsdd_dir, tmp_path):
    """evaluate_model(..., endpoint=) scores each recording as model.run(pcm, endpoint=) does, and says so."""
    from pathlib import Path

    from fixedrnn import fsdd
    from fixedrnn.evaluate import evaluate_model
    from fixedrnn.model import load

    model = load(Path(__file__).resolve().parents[1] / "golden" / "models" / "rnn_int8.npz")
    recordings = fsdd.list_recordings(fsdd_dir, "test")[:12]
    result = evaluate_model(model, [r.path for r in recordings], split="all", endpoint=EndpointConfig())
    want = np.stack([model.run(r.samples(), endpoint=EndpointConfig()) for r in recordings])
    assert np.array_equal(result.logits, want)
    assert result.endpoint == describe(EndpointConfig()) and "endpoint: search 125" in result.report()
    assert evaluate_model(model, [r.path for r in recordings], split="all").endpoint == "off"


def test_quiet_after_the_word_is_reported_and_hinted(tmp_path, capsys):
    """A clip of 76 frames, the burst ending at about frame 39: a model reading 80 frames is not
    truncated, but the clip has quiet after the word; classify and evaluate say so."""
    import scipy.io.wavfile

    from fixedrnn.cli import main
    from fixedrnn.endpoint import QUIET_HINT_FRAMES
    from fixedrnn.evaluate import evaluate_model
    from fixedrnn.model import save

    model = random_model(frames=80)
    pcm = burst_clip()
    cfg = EndpointConfig()
    energy = frame_energy(engine.mfcc(model, pcm), "q15")
    quiet = len(energy) - oracle(energy, cfg.search, cfg.margin, cfg.range_shift, cfg.pre, cfg.post)[1]
    assert quiet >= QUIET_HINT_FRAMES
    assert classify(model, pcm).quiet_after == quiet == classify(model, pcm, endpoint=cfg).quiet_after
    save(model, tmp_path / "m.npz")
    rec = tmp_path / "data" / "recordings"
    rec.mkdir(parents=True)
    for name in ("3_zed_0.wav", "4_zed_1.wav"):
        scipy.io.wavfile.write(rec / name, 8000, pcm)
    assert main(["classify", str(tmp_path / "m.npz"), str(rec / "3_zed_0.wav")]) == 0
    err = capsys.readouterr().err
    assert "s of quiet after the word" in err and "--endpoint" in err
    assert main(["classify", str(tmp_path / "m.npz"), str(rec / "3_zed_0.wav"), "--endpoint"]) == 0
    assert capsys.readouterr().err == ""
    assert evaluate_model(model, tmp_path / "data", split="all").quiet_after == 2
    assert main(["evaluate", str(tmp_path / "m.npz"), str(tmp_path / "data"), "--split", "all", "--quiet"]) == 0
    assert "2 of 2 recordings have quiet after the word" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "m.npz"), str(tmp_path / "data"), "--split", "all", "--quiet",
                 "--endpoint"]) == 0
    assert "quiet after" not in capsys.readouterr().err
