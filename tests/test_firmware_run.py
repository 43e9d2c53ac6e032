"""``fixedrnn firmware run``: the generated C, built with tools/firmware, classifies WAV files with
the engine's logits (the oracle: the engine's NumPy reference path); differences exit 1, bad input 2."""

import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.io.wavfile

from fixedrnn import cli, firmware
from throwaway_models import save_random_model


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return save_random_model(tmp_path_factory.mktemp("model") / "m.npz", cell="lstm", weights="int8",
                             units=8, frames=12, seed=4)


@pytest.fixture(scope="module")
def wavs(tmp_path_factory):
    root = tmp_path_factory.mktemp("wavs")
    rng = np.random.default_rng(9)
    paths = []
    for i, n in enumerate((700, 2500, 4000)):  # shorter and longer than the 12-frame window
        pcm = (rng.normal(0, 3000 * (i + 1), n)).clip(-32768, 32767).astype(np.int16)
        scipy.io.wavfile.write(root / f"{i}.wav", 8000, pcm)
        paths.append(root / f"{i}.wav")
    return paths


def _require(target):
    missing = firmware.load_runner().toolchain_missing(firmware.TARGETS[target])
    if missing:
        pytest.skip(missing)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "fixedrnn", "firmware", "run", *map(str, args)],
                          capture_output=True, text=True)


@pytest.mark.slow  # builds the firmware for the host
def test_host_firmware_equals_the_engine(model_file, wavs):
    from fixedrnn import load

    _require("host")
    proc = _cli(model_file, *wavs, "--target", "host", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.strip().split("\n")]
    model = load(model_file)
    for row, wav in zip(rows, wavs):
        reference = model.classify(wav, backend="numpy")
        assert row["file"] == str(wav) and row["equal"] is True
        assert row["firmware"] == row["engine"] == list(reference.logits)
        assert row["label"] == reference.label
    text = _cli(model_file, wavs[0], "--target", "host")
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[0] == "file\tlabel\tlogits\tengine"
    assert text.stdout.splitlines()[1].endswith("\tequal")
    assert "all 1 recording(s) equal the engine" in text.stdout


def test_a_difference_exits_1(model_file, wavs, monkeypatch, capsys):
    _require("host")
    real = firmware.read_logits

    def off_by_one(data, model, count, endpoint=False):
        logits = real(data, model, count, endpoint).copy()
        logits[-1, 0] += 1
        return logits

    monkeypatch.setattr(firmware, "read_logits", off_by_one)
    assert cli.main(["firmware", "run", str(model_file), *map(str, wavs[:2]), "--target", "host"]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[1].endswith("\tequal") and "DIFFERENT" in lines[2]
    assert "1 of 2 recording(s) differ from the engine" in captured.err


@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_bad_input_exits_2_with_one_line(model_file, wavs, tmp_path, monkeypatch, capsys):
    proc = _cli(model_file, tmp_path / "absent.wav", "--target", "host")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "absent.wav" in proc.stderr
    monkeypatch.setattr(firmware, "FIRMWARE_DIR", tmp_path / "no-tools")
    assert cli.main(["firmware", "run", str(model_file), str(wavs[0]), "--target", "host"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tools/firmware" in err and "no-tools" in err


def test_missing_toolchain_is_one_line(model_file, wavs, monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert cli.main(["firmware", "run", str(model_file), str(wavs[0])]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot build for qemu: missing tools:" in err


@pytest.mark.slow
def test_qemu_firmware_equals_the_engine(model_file, wavs):
    _require("qemu")
    proc = _cli(model_file, *wavs, "--json", "--opt", "Os")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.strip().split("\n")]
    assert len(rows) == len(wavs) and all(r["equal"] and r["firmware"] == r["engine"] for r in rows)
