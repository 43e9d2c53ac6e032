"""fixedrnn.evaluate: scores against an independent per-file count, the CLI and its JSON.

The data is a fake FSDD folder of synthetic WAV files in tmp_path (FSDD naming, so the dataset's
split rules apply), and a throwaway random model; the oracle is a plain loop over the files running
the engine's NumPy reference path one file at a time and counting by hand.
"""

import dataclasses
import json
import shutil
import struct
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
import scipy.io.wavfile

from fixedrnn import evaluate, signals
from fixedrnn.errors import FixedRnnError, InputFileError
from throwaway_models import random_model, save_random_model

SPEAKERS = ("alice", "bob")
INDICES = (0, 3, 7)  # 0 and 3: test split; 7: train split


@pytest.fixture(scope="module")
def fake_fsdd(tmp_path_factory):
    root = tmp_path_factory.mktemp("fake_fsdd")
    (root / "recordings").mkdir()
    kinds = [s for s in signals.STANDARD_SIGNALS if s.n >= 2000]
    k = 0
    for digit in range(10):
        for speaker in SPEAKERS:
            for index in INDICES:
                spec = kinds[k % len(kinds)]
                pcm = signals.generate(spec)
                pcm = np.roll(pcm, 97 * k)  # distinct files
                scipy.io.wavfile.write(root / "recordings" / f"{digit}_{speaker}_{index}.wav", 8000, pcm)
                k += 1
    (root / "recordings" / "README.txt").write_text("not a recording")
    return root


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return save_random_model(tmp_path_factory.mktemp("model") / "m.npz", cell="rnn", weights="pot",
                             seed=11)


def _oracle(model, root, split):
    """(names, targets, predictions) by a plain loop: one file, one NumPy-path run at a time."""
    names, targets, predictions = [], [], []
    for path in sorted((root / "recordings").glob("*.wav")):
        digit, speaker, index = path.stem.split("_")
        if split == "test" and int(index) >= 5 or split == "train" and int(index) < 5:
            continue
        _, pcm = scipy.io.wavfile.read(path)
        logits = model.run(pcm, backend="numpy")
        best = max(range(len(logits)), key=lambda i: (int(logits[i]), -i))  # first maximum
        names.append(path.name)
        targets.append(model.labels.index(digit))
        predictions.append(best)
    return names, targets, predictions


@pytest.mark.parametrize("split", ["test", "train", "all"])
def test_scores_match_independent_count(fake_fsdd, model_file, split):
    from fixedrnn import model as model_io

    model = model_io.load(model_file)
    result = evaluate.evaluate_model(model_file, fake_fsdd, split=split, batch_size=7)
    names, targets, predictions = _oracle(model, fake_fsdd, split)
    assert sorted(result.names) == sorted(names)
    order = [names.index(n) for n in result.names]
    assert result.targets.tolist() == [targets[i] for i in order]
    assert result.predictions.tolist() == [predictions[i] for i in order]
    correct = sum(t == p for t, p in zip(targets, predictions))
    assert Fraction(result.correct, result.n) == Fraction(correct, len(names))
    assert result.accuracy == correct / len(names)
    for i in range(10):
        for j in range(10):
            assert result.confusion[i, j] == sum(t == i and p == j for t, p in zip(targets, predictions))
        in_class = [p for t, p in zip(targets, predictions) if t == i]
        assert result.per_class_accuracy[i] == sum(p == i for p in in_class) / len(in_class)


def test_backends_and_inputs_agree(fake_fsdd, model_file):
    by_dir = evaluate.evaluate_model(model_file, fake_fsdd, "test")
    paths = sorted((fake_fsdd / "recordings").glob("*.wav"))
    by_paths = evaluate.evaluate_model(model_file, paths, "test")
    assert by_dir.names == by_paths.names
    np.testing.assert_array_equal(by_dir.logits, by_paths.logits)
    for backend in ("numpy", "shift"):
        other = evaluate.evaluate_model(model_file, fake_fsdd, "test", backend=backend)
        np.testing.assert_array_equal(other.logits, by_dir.logits)
    only_bob = evaluate.evaluate_model(model_file, fake_fsdd, "test", speakers=["bob"])
    assert only_bob.n == 20 and all("_bob_" in n for n in only_bob.names)


@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_cli_text_and_json(fake_fsdd, model_file):
    cmd = [sys.executable, "-m", "fixedrnn", "evaluate", str(model_file), str(fake_fsdd)]
    as_json = subprocess.run(cmd + ["--json"], capture_output=True, text=True)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    result = evaluate.evaluate_model(model_file, fake_fsdd, "test")
    assert data["split"] == "test" and data["n"] == 40 and data["correct"] == result.correct
    assert data["confusion"] == result.confusion.tolist()
    assert data["labels"] == [str(d) for d in range(10)]
    assert sum(v["n"] for v in data["per_class"].values()) == 40
    assert len(data["misclassified"]) == 40 - result.correct
    assert as_json.stderr == ""  # no progress bar with --json

    text = subprocess.run(cmd + ["--split", "all"], capture_output=True, text=True)
    assert text.returncode == 0, text.stderr
    assert "split: all (60 recordings)" in text.stdout
    assert "confusion matrix (rows: true label, columns: predicted label):" in text.stdout
    assert len([l for l in text.stdout.splitlines() if l.strip().startswith("9:")]) == 1
    everything = evaluate.evaluate_model(model_file, fake_fsdd, "all")
    wrong = [n for n, t, p in zip(everything.names, everything.targets, everything.predictions) if t != p]
    assert wrong, "the throwaway model should misclassify some files"
    assert f"misclassified ({len(wrong)}):" in text.stdout
    for name in wrong:
        true = name.split("_")[0]
        assert any(l.strip().startswith(f"{name}: {true} predicted as ") for l in text.stdout.splitlines())
    assert [m["name"] for m in data["misclassified"]] == [
        n for n, t, p in zip(result.names, result.targets, result.predictions) if t != p]


@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_cli_finds_the_data_folder_as_verify_does(fake_fsdd, model_file, tmp_path):
    import os

    env = dict(os.environ, FIXEDRNN_FSDD=str(fake_fsdd))
    cmd = [sys.executable, "-m", "fixedrnn", "evaluate", str(model_file), "--json", "--quiet"]
    found = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["n"] == 40
    env["FIXEDRNN_FSDD"] = str(tmp_path / "absent")
    absent = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert absent.returncode == 2 and absent.stderr.count("\n") == 1
    assert "FSDD not found" in absent.stderr and "FIXEDRNN_FSDD" in absent.stderr


@pytest.mark.parametrize("args, message", [
    (["missing.npz", "{data}"], "missing.npz: no such model file"),
    (["{model}", "{data}/nope"], "no 'recordings' folder"),
    (["{model}", "{data}", "--speakers", "carol"], "speakers: unknown speaker(s) carol"),
    (["{model}", "{data}", "--noise", "pink"], "--noise pink: give --snr DB too"),
    (["{model}", "{data}", "--snr", "10"], "--snr: give --noise KIND too"),
    (["{model}", "{data}", "--noise", "white", "--snr", "nan"], "snr: expected a finite number"),
])
@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_cli_bad_input(fake_fsdd, model_file, tmp_path, args, message):
    args = [a.format(model=model_file, data=fake_fsdd) for a in args]
    result = subprocess.run([sys.executable, "-m", "fixedrnn", "evaluate", *args], capture_output=True,
                            text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("fixedrnn: error: ") and message in result.stderr
    assert "Traceback" not in result.stderr


def test_library_bad_arguments(fake_fsdd, model_file):
    with pytest.raises(FixedRnnError, match="split"):
        evaluate.evaluate_model(model_file, fake_fsdd, split="dev")
    with pytest.raises(FixedRnnError, match="backend"):
        evaluate.evaluate_model(model_file, fake_fsdd, backend="gpu")
    with pytest.raises(FixedRnnError, match="batch_size"):
        evaluate.evaluate_model(model_file, fake_fsdd, batch_size=0)
    with pytest.raises(InputFileError):
        evaluate.evaluate_model(model_file, fake_fsdd.parent)
    model = random_model("lstm", "int8")
    renamed = dataclasses.replace(model, labels=tuple("abcdefghij"))
    with pytest.raises(FixedRnnError, match="do not name the digits"):
        evaluate.evaluate_model(renamed, fake_fsdd)


def test_real_fsdd_subset(fsdd_dir, tmp_path):
    # One speaker's test files through the numba batch path and the NumPy path: same logits.
    model_file = save_random_model(tmp_path / "m.npz", cell="lstm", weights="int8", seed=2)
    fast = evaluate.evaluate_model(model_file, fsdd_dir, "test", speakers=["theo"])
    slow = evaluate.evaluate_model(model_file, fsdd_dir, "test", speakers=["theo"], backend="numpy")
    assert fast.n == 50
    np.testing.assert_array_equal(fast.logits, slow.logits)


# ----------------------------------------------------------------------------------------------
# Issue #15: evaluate reads WAVs with the package's one reader; damaged files are named, never scored.


def _copy_of(fake_fsdd, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(fake_fsdd, root)
    return root


def _extensible(path):
    """Rewrite a PCM WAV as WAVE_FORMAT_EXTENSIBLE PCM (same samples)."""
    _, pcm = scipy.io.wavfile.read(path)
    fmt = struct.pack("<HHIIHHHHIH14s", 0xFFFE, 1, 8000, 16000, 2, 16, 22, 16, 4, 1,
                      b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71")
    data = pcm.astype("<i2").tobytes()
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def _set_data_size(path, size):
    content = bytearray(path.read_bytes())
    struct.pack_into("<I", content, content.find(b"data") + 4, size)
    path.write_bytes(bytes(content))


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(p.read_bytes()[:-1]), "truncated"),  # cut at an odd byte
    (lambda p: p.write_bytes(p.read_bytes()[:-1000]), "truncated"),
    (lambda p: _set_data_size(p, 0x7FFFFFFF), "declares 2147483647 bytes"),
    (lambda p: scipy.io.wavfile.write(p, 8000, np.zeros(0, np.int16)), "holds no samples"),
    (lambda p: scipy.io.wavfile.write(p, 8000, np.zeros(100, np.float32)), "IEEE float"),
])
@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_an_unreadable_recording_is_named_and_nothing_is_scored(fake_fsdd, model_file, tmp_path, damage, message):
    root = _copy_of(fake_fsdd, tmp_path)
    bad = root / "recordings" / "4_bob_3.wav"
    damage(bad)
    with pytest.raises(InputFileError, match=message) as err:
        evaluate.evaluate_model(model_file, root, "test")
    assert str(err.value).startswith(f"{bad}: ") and "nothing scored" in str(err.value)
    proc = subprocess.run([sys.executable, "-m", "fixedrnn", "evaluate", str(model_file), str(root)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and str(bad) in proc.stderr and message in proc.stderr


def test_several_unreadable_recordings_are_counted(fake_fsdd, model_file, tmp_path):
    root = _copy_of(fake_fsdd, tmp_path)
    names = ["1_alice_0.wav", "2_alice_0.wav", "3_bob_3.wav"]
    for name in names:
        (root / "recordings" / name).write_bytes(b"RIFF")
    with pytest.raises(InputFileError, match=r"and 2 more unreadable: .*2_alice_0.wav, .*3_bob_3.wav\)$"):
        evaluate.evaluate_model(model_file, root, "test")


def test_extensible_pcm_is_scored_like_plain_pcm(fake_fsdd, model_file, tmp_path):
    root = _copy_of(fake_fsdd, tmp_path)
    for path in sorted((root / "recordings").glob("*_alice_0.wav")):
        _extensible(path)
    again = evaluate.evaluate_model(model_file, root, "test")
    before = evaluate.evaluate_model(model_file, fake_fsdd, "test")
    assert again.names == before.names
    np.testing.assert_array_equal(again.logits, before.logits)


@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_skipped_wav_names_are_reported(fake_fsdd, model_file, tmp_path):
    root = _copy_of(fake_fsdd, tmp_path)
    recordings = root / "recordings"
    shutil.copy(recordings / "5_bob_0.wav", recordings / "5_bob2_0.wav")  # a digit in the speaker: scored
    shutil.copy(recordings / "5_bob_0.wav", recordings / "five_bob_0.wav")  # skipped, reported
    shutil.copy(recordings / "5_bob_0.wav", recordings / "5-bob-0.wav")  # skipped, reported
    result = evaluate.evaluate_model(model_file, root, "test")
    assert result.n == 41 and "5_bob2_0.wav" in result.names
    assert result.skipped == ("5-bob-0.wav", "five_bob_0.wav")
    assert result.to_dict()["skipped"] == ["5-bob-0.wav", "five_bob_0.wav"]
    proc = subprocess.run([sys.executable, "-m", "fixedrnn", "evaluate", str(model_file), str(root), "--json"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["skipped"] == ["5-bob-0.wav", "five_bob_0.wav"]
    assert proc.stderr.count("\n") == 1
    assert "skipped 2 WAV file(s)" in proc.stderr and "'5-bob-0.wav', 'five_bob_0.wav'" in proc.stderr


def test_noise_is_added_before_the_front_end(fake_fsdd, model_file):
    """A negligible noise (300 dB SNR) rounds away: every logit as without noise; a loud one (-10 dB,
    the WAVs of fixedrnn.noise.add_noise run one by one through the NumPy path) is what is scored."""
    from fixedrnn import model as model_io, noise

    clean = evaluate.evaluate_model(model_file, fake_fsdd, "test")
    quiet = evaluate.evaluate_model(model_file, fake_fsdd, "test", noise=noise.NoiseSpec("white", 300.0))
    np.testing.assert_array_equal(quiet.logits, clean.logits)
    assert clean.noise == "none" and quiet.noise == "white at 300 dB SNR, seed 0"
    spec = noise.NoiseSpec("babble", -10.0, seed=2)
    loud = evaluate.evaluate_model(model_file, fake_fsdd, "test", noise=spec)
    model = model_io.load(model_file)
    paths = sorted((fake_fsdd / "recordings").glob("*_[0-4].wav"))
    pcms = [scipy.io.wavfile.read(p)[1] for p in paths]
    noisy = noise.add_noise(pcms, [p.name for p in paths], [p.name.split("_")[1] for p in paths], spec)
    expected = {p.name: model.run(x, backend="numpy") for p, x in zip(paths, noisy)}
    assert not np.array_equal(loud.logits, clean.logits)
    for name, row in zip(loud.names, loud.logits):
        np.testing.assert_array_equal(row, expected[name])
