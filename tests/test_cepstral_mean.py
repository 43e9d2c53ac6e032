"""fixedrnn.cepstral_mean and a model's ``input.cmn``: the rule against a plain Python-int reading of
its docstring (hypothesis, and cases where floor and truncation or saturation differ), the engine's
window of a CMN model against the same reading on the front end's outputs (with and without
endpointing), the model file key, the overflow audit's range, and the stream's refusal."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, strategies as st

from fixedrnn import engine, overflow
from fixedrnn.cepstral_mean import CMN_MODES, remove_window_mean, window_mean
from fixedrnn.endpoint import EndpointConfig
from fixedrnn.errors import FixedRnnError, InputFileError
from fixedrnn.model import Model, load, save
from fixedrnn.ops import normalise as normalise_op
from fixedrnn.stream import KeywordStream
from tests.test_endpoint import burst_clip
from tests.throwaway_models import random_model

LIMITS = {"q15": (-32768, 32767), "q31": (-2**31, 2**31 - 1)}


def oracle(rows, precision):
    """The docstring read with Python ints: m_c = floor(Σ_t W[t][c] / T), W'[t][c] = sat(W[t][c] − m_c)."""
    lo, hi = LIMITS[precision]
    t, n = len(rows), len(rows[0])
    sums = [sum(int(rows[k][c]) for k in range(t)) for c in range(n)]
    means = [s // t for s in sums]  # Python's // on ints is floor division
    return [[min(hi, max(lo, int(rows[k][c]) - means[c])) for c in range(n)] for k in range(t)]


def cmn_model(cell="lstm", precision="q15", frames=24, seed=0):
    model = random_model(cell=cell, frames=frames, seed=seed)
    if precision == "q31":
        model = replace(model, frontend=replace(model.frontend, precision="q31"))
    return replace(model, input=replace(model.input, cmn="window"))


@given(st.sampled_from(["q15", "q31"]), st.integers(1, 9), st.integers(1, 4), st.data())
def test_rule_equals_its_plain_integer_reading(precision, t, n, data):
    lo, hi = LIMITS[precision]
    values = st.one_of(st.integers(lo, hi), st.sampled_from([lo, hi, lo + 1, hi - 1, 0, -1]))
    rows = data.draw(st.lists(st.lists(values, min_size=n, max_size=n), min_size=t, max_size=t))
    dtype = np.int16 if precision == "q15" else np.int32
    got = remove_window_mean(np.array(rows, dtype), precision)
    assert got.dtype == dtype and got.tolist() == oracle(rows, precision)


def test_floor_and_saturation_cases():
    # Σ = -7 over T = 2: floor -4 (truncation would give -3); 3 - (-4) = 7, -10 - (-4) = -6
    assert remove_window_mean(np.array([[3], [-10]], np.int16), "q15").tolist() == [[7], [-6]]
    assert window_mean(np.array([[3], [-10]])).tolist() == [-4]
    # the mean of -32768 and 32767 is -1 (floor of -0.5); 32767 - (-1) saturates at 32767
    w = np.array([[-32768, 32767], [32767, -32768]], np.int16)
    assert remove_window_mean(w, "q15").tolist() == [[-32767, 32767], [32767, -32767]]
    # a window of one extreme and many of the other: the differences leave int16 and saturate
    w = np.array([[32767]] + [[-32768]] * 5, np.int16)  # Σ = 32767 - 163840 = -131073, m = floor(/6) = -21846
    assert remove_window_mean(w, "q15").tolist() == [[32767]] + [[-10922]] * 5
    w = np.array([[2**31 - 1]] + [[-2**31]] * 3, np.int32)  # m = floor((2^31 - 1 - 3·2^31) / 4) = -2^30 - 1
    assert remove_window_mean(w, "q31").tolist() == [[2**31 - 1]] + [[-2**30 + 1]] * 3


def test_bad_calls_are_one_line():
    with pytest.raises(FixedRnnError, match="precision: must be q15 or q31"):
        remove_window_mean(np.zeros((2, 2), np.int16), "q7")
    with pytest.raises(FixedRnnError, match="q15 model's front-end outputs are int16, got int32"):
        remove_window_mean(np.zeros((2, 2), np.int32), "q15")
    with pytest.raises(FixedRnnError, match="T >= 1"):
        window_mean(np.zeros((0, 3), np.int16))


def expected_window(model, mfcc_rows):
    """The window a CMN model reads, built from the front end's outputs with Python ints: the last T
    rows, left-padded with the silent frame's output, the rule (oracle), then the int8 normalisation."""
    t = model.frames
    silent = engine.mfcc_frames(model, np.zeros((1, model.frontend.fft_length), np.int16))[0]
    rows = [list(map(int, r)) for r in mfcc_rows][-t:]
    rows = [list(map(int, silent))] * (t - len(rows)) + rows
    dtype = np.int16 if model.frontend.precision == "q15" else np.int32
    shifted = np.array(oracle(rows, model.frontend.precision), dtype)
    return normalise_op.reference(model.prepared.normalise, shifted)


@pytest.mark.parametrize("cell,precision", [("lstm", "q15"), ("rnn", "q15"), ("lstm", "q31")])
@pytest.mark.parametrize("seconds", [0.1, 0.5, 2.0])  # shorter than T = 24 frames (padded), longer
def test_engine_window_of_a_cmn_model(cell, precision, seconds):
    model = cmn_model(cell, precision)
    rng = np.random.default_rng(int(seconds * 10))
    n = int(8000 * seconds)
    pcm = np.clip(rng.normal(0, 3000, n) + 2000 * np.sin(np.arange(n) * 0.3), -32768, 32767).astype(np.int16)
    mf = engine.mfcc(model, pcm)
    want = expected_window(model, mf)
    got = model.features(pcm)
    assert got.dtype == np.int8 and got.shape == (24, 13) and np.array_equal(got, want)
    assert np.array_equal(model.run(pcm), model.run_features(want))
    # a different window from the model without CMN: the normalisation does something
    plain = replace(model, input=replace(model.input, cmn="off"))
    assert not np.array_equal(plain.features(pcm), got)


@pytest.mark.parametrize("precision", ["q15", "q31"])
def test_engine_window_of_an_endpointed_clip(precision):
    model = cmn_model("lstm", precision)
    pcm = burst_clip()
    cfg = EndpointConfig()
    mf = engine.mfcc(model, pcm)
    start, stop = engine.segment_of(model, mf, cfg)
    assert 0 < start and stop < len(mf)  # the segment is a proper part of the clip
    want = expected_window(model, mf[start:stop])
    assert np.array_equal(model.features(pcm, endpoint=cfg), want)
    assert np.array_equal(engine.clip_features(model, pcm, cfg).features, want)
    assert np.array_equal(model.run(pcm, endpoint=cfg), model.run_features(want))


def test_a_constant_channel_gain_cancels():
    """A per-band gain adds a constant to every cepstral coefficient of every frame; CMN removes it.
    Checked on the rule: the window plus any constant row gives the same result (no saturation)."""
    rng = np.random.default_rng(3)
    w = rng.integers(-3000, 3000, (30, 13)).astype(np.int16)
    shift = rng.integers(-2000, 2000, 13).astype(np.int16)
    assert np.array_equal(remove_window_mean(w, "q15"), remove_window_mean((w + shift).astype(np.int16), "q15"))


def test_model_file_key(tmp_path):
    plain = random_model()
    assert plain.input.cmn == "off" and "input.cmn" not in plain.to_arrays()  # files before it are unchanged
    model = cmn_model()
    arrays = model.to_arrays()
    assert str(arrays["input.cmn"]) == "window"
    save(model, tmp_path / "m.npz")
    assert load(tmp_path / "m.npz").input.cmn == "window"
    arrays["input.cmn"] = np.array("utterance")
    with pytest.raises(InputFileError, match=r"'input.cmn' must be one of off, window, got 'utterance'"):
        Model.from_arrays(arrays, source="m.npz")
    assert CMN_MODES == ("off", "window")


def test_overflow_audit_reads_the_differences_range():
    q15 = cmn_model("lstm", "q15")
    assert overflow.normalise_input_range(q15) == overflow.mfcc_range(q15)  # int16 already covers them
    q31 = cmn_model("lstm", "q31")
    lo, hi = overflow.mfcc_range(q31)
    c_lo, c_hi = overflow.normalise_input_range(q31)
    assert c_lo == [max(-2**31, a - b) for a, b in zip(lo, hi)] and c_hi == [min(2**31 - 1, b - a) for a, b in zip(lo, hi)]
    assert any(a < b for a, b in zip(c_lo, lo))  # wider than the front end's own range
    plain = replace(q31, input=replace(q31.input, cmn="off"))
    assert overflow.normalise_input_range(plain) == (lo, hi)


def test_stream_refuses_a_cmn_model():
    with pytest.raises(FixedRnnError, match=r"^model: cepstral mean normalisation \(input.cmn = window\) needs the whole"):
        KeywordStream(cmn_model())


def test_stream_evaluation_refuses_a_cmn_model():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    import stream_eval
    from fixedrnn.stream import StreamConfig

    with pytest.raises(FixedRnnError, match=r"^model: cepstral mean normalisation"):
        stream_eval.segment_detections(cmn_model(), np.zeros(8000, np.int16), StreamConfig())


def test_export_tflite_says_the_input_is_the_normalised_window(tmp_path, capsys):
    from fixedrnn.cli import main

    save(cmn_model(), tmp_path / "m.npz")
    assert main(["export", "tflite", str(tmp_path / "m.npz"), str(tmp_path / "m.tflite")]) == 0
    err = capsys.readouterr().err
    assert "input.cmn = window" in err and len(err.strip().splitlines()) == 1 and (tmp_path / "m.tflite").is_file()
