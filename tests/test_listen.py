"""``python -m fixedrnn listen``: detections from a WAV file and from raw PCM on standard input, one
line for a wrong format, a closed pipe or Ctrl-C (no traceback)."""

import json
import os
import signal
import struct
import subprocess
import sys
import wave

import numpy as np
import pytest

from fixedrnn import cli, fsdd
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # the listen command as processes: left out of the quick subset

MODEL = str(REPO / "golden" / "models" / "lstm_int8.npz")
EXPECTED = ["3", "7", "0"]


@pytest.fixture(scope="module")
def three_digits(fsdd_dir):
    gap = np.zeros(6000, np.int16)
    parts = [gap]
    for name in ["3_theo_0.wav", "7_jackson_1.wav", "0_george_2.wav"]:
        parts += [fsdd.read_samples(fsdd_dir / "recordings" / name), gap]
    return np.concatenate(parts)


def write_wav(path, pcm, rate=8000, channels=1):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(pcm, "<i2").tobytes())
    return str(path)


def listen(*args, stdin=None):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "fixedrnn", "listen", MODEL, *args], input=stdin,
                          capture_output=True, env=env, timeout=300)


def test_wav_file(tmp_path, three_digits):
    done = listen(write_wav(tmp_path / "a.wav", three_digits))
    assert done.returncode == 0, done.stderr
    rows = [line.split("\t") for line in done.stdout.decode().splitlines()]
    assert [r[0] for r in rows] == EXPECTED
    starts = [float(r[1]) for r in rows]
    assert starts == sorted(starts) and all(float(r[2]) > float(r[1]) for r in rows)


def test_raw_stdin_json_same_detections(three_digits):
    done = listen("-", "--json", stdin=three_digits.astype("<i2").tobytes())
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [r["label"] for r in rows] == EXPECTED
    assert all(r["start"] < r["end"] <= r["decided"] for r in rows)


def test_wrong_formats_one_line(tmp_path, capsys):
    pcm = np.zeros(4000, np.int16)
    cases = {
        "16000 Hz": write_wav(tmp_path / "rate.wav", pcm, rate=16000),
        "2 channels": write_wav(tmp_path / "stereo.wav", np.zeros(8000, np.int16), channels=2),
    }
    fmt = struct.pack("<HHIIHH", 3, 1, 8000, 32000, 4, 32)
    data = np.zeros(100, "<f4").tobytes()
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data)) + data
    (tmp_path / "float.wav").write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    cases["IEEE float"] = str(tmp_path / "float.wav")
    for needle, path in cases.items():
        assert cli.main(["listen", MODEL, path]) == 2
        err = capsys.readouterr().err
        assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_wav_on_stdin_and_half_sample_refused(tmp_path):
    wav = (tmp_path / "a.wav")
    write_wav(wav, np.zeros(4000, np.int16))
    for data, needle in ((wav.read_bytes(), b"WAV file"), (b"\x00" * 1001, b"odd number of bytes")):
        done = listen("-", stdin=data)
        assert done.returncode == 2 and needle in done.stderr and b"Traceback" not in done.stderr


def test_closed_output_pipe(three_digits):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "fixedrnn", "listen", MODEL, "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()
    _, err = proc.communicate(np.tile(three_digits, 2).astype("<i2").tobytes(), timeout=300)
    assert proc.returncode == 2 and b"broken pipe" in err and b"Traceback" not in err


def test_ctrl_c_exits_130_without_traceback():
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "fixedrnn", "listen", MODEL, "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert b"listening" in proc.stderr.readline()
    proc.stdin.write(np.zeros(8000, "<i2").tobytes())
    proc.stdin.flush()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and b"Traceback" not in err


CMN_MODEL = str(REPO / "golden" / "models" / "lstm_int8_cmn.npz")


@pytest.mark.parametrize("args", [[CMN_MODEL], [MODEL, "--per-segment"]], ids=["cmn", "per-segment"])
def test_per_segment(tmp_path, capsys, three_digits, args):
    """A CMN model listens once per speech segment (it cannot step frame by frame); any model does
    with --per-segment."""
    assert cli.main(["listen", args[0], write_wav(tmp_path / "a.wav", three_digits), *args[1:]]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [r[0] for r in rows] == EXPECTED


def test_per_segment_on_stdin_says_so(three_digits):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "fixedrnn", "listen", CMN_MODEL, "-"], env=env, timeout=300,
                          input=three_digits.astype("<i2").tobytes(), capture_output=True)
    assert done.returncode == 0 and b"once per speech segment" in done.stderr
    assert [line.split("\t")[0] for line in done.stdout.decode().splitlines()] == EXPECTED


def test_no_reset_per_segment_refused(tmp_path, capsys):
    wav = write_wav(tmp_path / "a.wav", np.zeros(4000, np.int16))
    for args in ([CMN_MODEL, wav, "--no-reset"], [MODEL, wav, "--no-reset", "--per-segment"]):
        assert cli.main(["listen", *args]) == 2
        err = capsys.readouterr().err
        assert "--no-reset" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bad_block_and_threshold_one_line(tmp_path, capsys):
    """--block under 1 (range() would raise, or read nothing) and a threshold outside int8: one line
    naming the option, exit 2."""
    wav = write_wav(tmp_path / "a.wav", np.zeros(4000, np.int16))
    for args, needle in ((["--block", "0"], "--block"), (["--block", "-5"], "--block"),
                         (["--threshold", "500"], "--threshold"), (["--threshold", "-129"], "--threshold")):
        assert cli.main(["listen", MODEL, wav, *args]) == 2
        err = capsys.readouterr().err
        assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
