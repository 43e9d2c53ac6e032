"""``python -m fixedrnn classify``: output format, scores equal to TFLM's, clean errors."""

import dataclasses
import subprocess
import sys

import numpy as np

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


def test_classify_prints_label_and_tflm_score(fsdd_dir, tmp_path):
    from fixedrnn import mfcc as frontend

    model = random_model(seed=7, cell="lstm", weights="int8", n_in=13, units=16, n_cls=10, frames=30)
    model = dataclasses.replace(model, labels=tuple(str(d) for d in range(10)))
    path = M.save(model, tmp_path / "m.npz")
    wavs = sorted((fsdd_dir / "recordings").glob("*_jackson_0.wav"))[:3]
    proc = run_cli(path, *wavs)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().split("\n")
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
