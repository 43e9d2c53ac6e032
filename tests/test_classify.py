"""Classifying recordings: ``Model.classify`` / ``fixedrnn.classify.classify`` and the ``classify``
command (labelled columns, ``--json``, bad files skipped and reported, the window warning); scores
equal to TFLM's, clean errors."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.io.wavfile

from engine_models import random_model
from fixedrnn import model as M


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "fixedrnn", "classify", *map(str, args)],
                          capture_output=True, text=True)


def test_missing_model_is_one_line_exit_2(tmp_path):
    proc = run_cli(tmp_path / "nope.npz", tmp_path / "a.wav")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "nope.npz: no such model file" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_classify_prints_label_and_tflm_score(fsdd_dir, tmp_path):
    from fixedrnn import mfcc as frontend

    model = random_model(seed=7, cell="lstm", weights="int8", n_in=13, units=16, n_cls=10, frames=30)
    model = dataclasses.replace(model, labels=tuple(str(d) for d in range(10)))
    path = M.save(model, tmp_path / "m.npz")
    wavs = sorted((fsdd_dir / "recordings").glob("*_jackson_0.wav"))[:3]
    proc = run_cli(path, *wavs)
    assert proc.returncode == 0, proc.stderr
    header, *lines = proc.stdout.strip().split("\n")
    assert header.split("\t") == ["file", "label", "score"]
    assert len(lines) == len(wavs)
    from fixedrnn.tflm_runner import TflmRunner

    runner = TflmRunner(model)
    for wav, line in zip(wavs, lines):
        name, label, score = line.split("\t")
        x = model.features(frontend.read_wav(wav, model.frontend.mfcc_config()))
        oracle = runner(x[None])[0]
        assert name == str(wav)
        assert label == model.labels[int(np.argmax(oracle))]
        assert int(score) == int(oracle.max())


@pytest.fixture(scope="module")
def digit_model(tmp_path_factory):
    model = random_model(seed=3, cell="rnn", weights="int8", n_in=13, units=8, n_cls=10, frames=20)
    model = dataclasses.replace(model, labels=tuple(str(d) for d in range(10)))
    return model, M.save(model, tmp_path_factory.mktemp("model") / "m.npz")


def _wav(path, n_samples, seed=0):
    pcm = np.random.default_rng(seed).integers(-3000, 3000, n_samples).astype(np.int16)
    scipy.io.wavfile.write(path, 8000, pcm)
    return path, pcm


def test_classify_from_path_and_pcm_agree_with_the_engine(digit_model, tmp_path):
    from fixedrnn.classify import Classification

    model, _ = digit_model
    path, pcm = _wav(tmp_path / "a.wav", 4000)
    by_path, by_pcm = model.classify(path), model.classify(pcm)
    assert isinstance(by_path, Classification) and by_path == by_pcm
    logits = model.run(pcm, backend="numpy")
    assert by_path.logits == tuple(int(v) for v in logits)
    assert all(isinstance(v, int) for v in by_path.logits)
    first_max = max(range(10), key=lambda i: (int(logits[i]), -i))
    assert by_path.index == first_max and by_path.label == model.labels[first_max]
    assert by_path.score == int(logits.max())
    for backend in ("numba", "numpy"):
        assert model.classify(str(path), backend=backend) == by_path
    # 4000 samples, 256-sample frames every 128: 30 frames > the 20-frame window
    assert (by_path.frames, by_path.window, by_path.truncated) == (30, 20, True)
    short = model.classify(pcm[:1000])
    assert (short.frames, short.truncated) == (6, False)


def test_classify_bad_source_raises_a_fixedrnn_error(digit_model, tmp_path):
    from fixedrnn.errors import FixedRnnError, InputFileError

    model, _ = digit_model
    (tmp_path / "bad.wav").write_bytes(b"RIFF nonsense")
    with pytest.raises(InputFileError, match="bad.wav"):
        model.classify(tmp_path / "bad.wav")
    with pytest.raises(FixedRnnError, match="int16"):
        model.classify(np.zeros(1000, np.float32))


@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_cli_json_one_object_per_file(digit_model, tmp_path):
    model, path = digit_model
    wavs = [_wav(tmp_path / f"{i}.wav", 2000 + 500 * i, seed=i)[0] for i in range(3)]
    proc = run_cli(path, *wavs, "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.strip().split("\n")]
    assert [r["file"] for r in rows] == [str(w) for w in wavs]
    for row, wav in zip(rows, wavs):
        expected = model.classify(wav)
        assert row["label"] == expected.label and row["score"] == expected.score
        assert row["logits"] == list(expected.logits) and row["index"] == expected.index
        assert row["frames"] == expected.frames and row["truncated"] == expected.truncated


@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_cli_keeps_going_past_a_bad_file(digit_model, tmp_path):
    model, path = digit_model
    good1 = _wav(tmp_path / "good1.wav", 2000, seed=1)[0]
    good2 = _wav(tmp_path / "good2.wav", 2000, seed=2)[0]
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav at all")
    proc = run_cli(path, good1, bad, tmp_path / "missing.wav", good2)
    assert proc.returncode == 2
    header, *lines = proc.stdout.strip().split("\n")
    assert [line.split("\t")[0] for line in lines] == [str(good1), str(good2)]
    assert [line.split("\t")[1] for line in lines] == [model.classify(good1).label, model.classify(good2).label]
    errors = proc.stderr.strip().split("\n")
    assert any("bad.wav" in e for e in errors) and any("missing.wav" in e for e in errors)
    assert "2 of 4 file(s) could not be classified" in errors[-1]
    assert "Traceback" not in proc.stderr


@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_cli_warns_once_per_file_longer_than_the_window(digit_model, tmp_path):
    _, path = digit_model
    long1 = _wav(tmp_path / "long1.wav", 8000, seed=1)[0]   # 61 frames > 20
    long2 = _wav(tmp_path / "long2.wav", 6000, seed=2)[0]
    short = _wav(tmp_path / "short.wav", 2000, seed=3)[0]    # 14 frames
    proc = run_cli(path, long1, short, long2)
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 2
    assert "long1.wav: 61 frames" in warnings[0] and "window of 20 frames" in warnings[0]
    assert "long2.wav" in warnings[1]
    assert "short.wav" not in proc.stderr
