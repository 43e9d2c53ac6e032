"""fixedrnn.warmup: ``fixedrnn warmup`` compiles what the commands later load from numba's cache."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io.wavfile

from fixedrnn import cli, warmup
from fixedrnn.compile_notice import NOTICE
from fixedrnn.errors import FixedRnnError
from conftest import REPO

LSTM_INT8 = REPO / "golden" / "models" / "lstm_int8.npz"


def _fixedrnn(arguments, cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir),
               PYTHONPATH=os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]))
    return subprocess.run([sys.executable, "-m", "fixedrnn", *map(str, arguments)], capture_output=True,
                          text=True, env=env, timeout=900)


@pytest.mark.slow
def test_classify_after_warmup_compiles_nothing(tmp_path):
    wav = tmp_path / "tone.wav"
    scipy.io.wavfile.write(wav, 8000, warmup.synthetic_recording(8000))
    installed = tmp_path / "installed"
    done = _fixedrnn(["warmup", LSTM_INT8, "--jobs", "1"], installed)
    assert done.returncode == 0, done.stderr
    assert "lstm_int8: ready" in done.stderr
    for command in (["classify", LSTM_INT8, wav], ["classify", "--backend", "numba", LSTM_INT8, wav]):
        after = _fixedrnn(command, installed)
        assert after.returncode == 0 and NOTICE not in after.stderr, after.stderr
    fresh = _fixedrnn(["classify", LSTM_INT8, wav], tmp_path / "fresh")  # the control: a cold cache
    assert fresh.returncode == 0 and NOTICE in fresh.stderr
    assert fresh.stdout == after.stdout


def test_default_models_cover_every_shipped_model():
    shipped = {p.resolve() for p in (REPO / "golden" / "models").glob("*.npz")}
    assert shipped and shipped <= {p.resolve() for p in warmup.golden_model_files(REPO / "golden")}


def test_synthetic_recording_is_one_second_of_int16():
    pcm = warmup.synthetic_recording(16000)
    assert pcm.dtype == np.int16 and pcm.shape == (16000,) and 5000 < np.abs(pcm).max() < 32767


def test_warm_models_reports_each_model_in_one_process(monkeypatch):
    monkeypatch.setattr(warmup, "warm_model", lambda path: (path, 0.5, None))
    seen = []
    warmup.warm_models(["a.npz", "b.npz"], jobs=1, report=lambda path, seconds: seen.append((path, seconds)))
    assert seen == [("a.npz", 0.5), ("b.npz", 0.5)]


def test_a_bad_model_is_one_line_and_exit_2(tmp_path, capsys):
    assert cli.main(["warmup", str(tmp_path / "missing.npz")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("fixedrnn: error: ") and "missing.npz" in err[-1]


def test_bad_models_in_worker_processes_raise_the_first_message(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(FixedRnnError, match="bad.npz|missing.npz"):
        warmup.warm_models([bad, tmp_path / "missing.npz"], jobs=2)


@pytest.mark.parametrize("jobs", ["0", "-3"])
def test_jobs_must_be_positive(jobs, capsys):
    assert cli.main(["warmup", "--jobs", jobs, str(LSTM_INT8)]) == 2
    assert "--jobs: must be at least 1" in capsys.readouterr().err


def _processes_with(text):
    """PIDs whose environment mentions ``text`` (Linux /proc; empty elsewhere)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if text.encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:
            pass
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_sigterm_stops_the_workers_too(tmp_path):
    cache = tmp_path / "cache-under-test"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache),
               PYTHONPATH=os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]))
    proc = subprocess.Popen([sys.executable, "-m", "fixedrnn", "warmup", "--jobs", "2"], env=env,
                            stderr=subprocess.PIPE, text=True)
    assert "compiling the kernels" in proc.stderr.readline()
    time.sleep(3)  # the workers are compiling
    assert len(_processes_with(str(cache))) >= 2
    proc.terminate()
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == 143
    assert rest.strip().splitlines() == ["fixedrnn: interrupted"]
    deadline = time.time() + 10
    while _processes_with(str(cache)) and time.time() < deadline:
        time.sleep(0.2)
    assert _processes_with(str(cache)) == []  # no worker outlives the command
