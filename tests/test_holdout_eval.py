"""tools/holdout_eval.py: kept leave-one-speaker-out models scored again (with and without
endpointing), each figure against a count of the models' own classifications of the files
(fixedrnn.classify, the NumPy reference path; the tool runs evaluate's numba batches), averaged
in Python fractions."""

import dataclasses
import json
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import scipy.io.wavfile

from fixedrnn.endpoint import EndpointConfig
from fixedrnn.model import load, save
from tests.throwaway_models import random_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import holdout_eval  # noqa: E402

SPEAKERS = ("ann", "bob")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """An FSDD-layout folder: two speakers, the ten digits twice, quiet noise around a tone burst."""
    root = tmp_path_factory.mktemp("fsdd")
    (root / "recordings").mkdir()
    rng = np.random.default_rng(5)
    for s in SPEAKERS:
        for digit in range(10):
            for index in (0, 7):
                x = rng.normal(0, 40, 9000)
                start = int(rng.integers(500, 4000))
                t = np.arange(2500) / 8000
                x[start:start + 2500] += 6000 * np.sin(2 * np.pi * (300 + 150 * digit) * t)
                scipy.io.wavfile.write(root / "recordings" / f"{digit}_{s}_{index}.wav", 8000,
                                       np.clip(np.round(x), -32768, 32767).astype(np.int16))
    return root


def keep_folder(folder, seed):
    folder.mkdir(parents=True)
    for k, s in enumerate(SPEAKERS):
        model = random_model(frames=24, seed=10 * seed + k)
        save(dataclasses.replace(model, meta={**model.meta, "split": f"holdout speaker {s}"}), folder / f"{s}.npz")


def counted(path, data, speaker, endpoint):
    model = load(path)
    files = sorted((data / "recordings").glob(f"*_{speaker}_*.wav"))
    right = sum(model.classify(f, endpoint=endpoint).label == f.name.split("_")[0] for f in files)
    return Fraction(right, len(files))


@pytest.mark.parametrize("endpoint", [False, True])
def test_seed_folders_average_each_speaker(data, tmp_path, endpoint, capsys):
    for seed in (0, 1):
        keep_folder(tmp_path / "keep" / f"seed-{seed}", seed)
    out = tmp_path / "h.json"
    argv = [str(tmp_path / "keep"), "--data-dir", str(data), "--json", str(out)] + (["--endpoint"] if endpoint else [])
    assert holdout_eval.main(argv) == 0
    cfg = EndpointConfig() if endpoint else None
    want = {s: sum(counted(tmp_path / "keep" / f"seed-{k}" / f"{s}.npz", data, s, cfg) for k in (0, 1)) / 2
            for s in SPEAKERS}
    report = json.loads(out.read_text())
    assert report["speaker"] == {s: float(v) for s, v in want.items()}
    assert report["mean"] == float(sum(want.values()) / 2) and report["worst"] == float(min(want.values()))
    assert f"(endpoint {'on' if endpoint else 'off'})" in capsys.readouterr().out


def test_a_model_not_trained_without_its_speaker_is_refused(data, tmp_path, capsys):
    folder = tmp_path / "keep"
    keep_folder(folder, 0)
    model = random_model(frames=24)
    save(dataclasses.replace(model, meta={**model.meta, "split": "test = index 0-4"}), folder / "bob.npz")
    assert holdout_eval.main([str(folder), "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bob.npz: not trained with speaker bob held out" in err[0]


def test_a_folder_without_models_is_one_line(data, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert holdout_eval.main([str(tmp_path / "empty"), "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no SPEAKER.npz for any speaker" in err[0]


def test_confusions_count_each_speakers_mistakes_over_the_folders(data, tmp_path, capsys):
    for seed in (0, 1):
        keep_folder(tmp_path / "keep" / f"seed-{seed}", seed)
    out = tmp_path / "h.json"
    assert holdout_eval.main([str(tmp_path / "keep"), "--data-dir", str(data), "--json", str(out),
                              "--confusions", "3"]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    for s in SPEAKERS:
        mistakes = {}
        for k in (0, 1):
            model = load(tmp_path / "keep" / f"seed-{k}" / f"{s}.npz")
            for f in sorted((data / "recordings").glob(f"*_{s}_*.wav")):
                label, true = model.classify(f).label, f.name.split("_")[0]
                if label != true:
                    mistakes[f"{true}>{label}"] = mistakes.get(f"{true}>{label}", 0) + 1
        got = [tuple(pair) for pair in report["confusions"][s]]
        assert len(got) == min(3, len(mistakes))
        assert all(mistakes[pair] == count for pair, count in got)
        assert [count for _, count in got] == sorted(mistakes.values(), reverse=True)[:len(got)]
        assert f"{s} mistakes: " + (", ".join(f"{pair} {count}" for pair, count in got) or "none") in printed


def test_ensemble_sums_each_speakers_models_logits(data, tmp_path, capsys):
    """--ensemble: per speaker, the first maximal class of the sum of the folders' models' logits,
    each model's logits from its own classification (the NumPy path), counted in fractions."""
    for seed in (0, 1, 2):
        keep_folder(tmp_path / "keep" / f"seed-{seed}", seed)
    out = tmp_path / "h.json"
    assert holdout_eval.main([str(tmp_path / "keep"), "--data-dir", str(data), "--json", str(out), "--ensemble"]) == 0
    report = json.loads(out.read_text())["ensemble"]
    want = {}
    for s in SPEAKERS:
        models = [load(tmp_path / "keep" / f"seed-{k}" / f"{s}.npz") for k in (0, 1, 2)]
        files = sorted((data / "recordings").glob(f"*_{s}_*.wav"))
        right = 0
        for f in files:
            total = sum(np.asarray(m.classify(f).logits, np.int64) for m in models)
            right += int(np.argmax(total)) == int(f.name.split("_")[0])
        want[s] = Fraction(right, len(files))
    assert report["speaker"] == {s: float(v) for s, v in want.items()}
    assert report["worst"] == float(min(want.values())) and report["mean"] == float(sum(want.values()) / len(want))
    assert "ensemble of 3 folder(s), summed logits:" in capsys.readouterr().out


def test_merged_scores_each_speakers_deployable_ensemble(data, tmp_path, capsys):
    """--merged: per speaker, the folders' graph models merged into one (fixedrnn.ensemble), its
    figure against a count of that model's own classifications of the files (the NumPy path), and
    its budget."""
    from fixedrnn import budget
    from fixedrnn.ensemble import ensemble_model
    from tests.test_conv_firmware import conv_model

    for seed in (0, 1):
        folder = tmp_path / "keep" / f"seed-{seed}"
        folder.mkdir(parents=True)
        for k, s in enumerate(SPEAKERS):
            model = conv_model(True, seed=10 * seed + k)
            save(dataclasses.replace(model, meta={"split": f"holdout speaker {s}"}), folder / f"{s}.npz")
    out = tmp_path / "h.json"
    assert holdout_eval.main([str(tmp_path / "keep"), "--data-dir", str(data), "--json", str(out), "--merged"]) == 0
    report = json.loads(out.read_text())["merged"]
    for s in SPEAKERS:
        merged = ensemble_model([load(tmp_path / "keep" / f"seed-{k}" / f"{s}.npz") for k in (0, 1)])
        files = sorted((data / "recordings").glob(f"*_{s}_*.wav"))
        right = sum(merged.classify(f).label == f.name.split("_")[0] for f in files)
        assert report["speaker"][s] == float(Fraction(right, len(files)))
        assert report["budget_bytes"][s] == budget.audit(merged, name=s).total
    assert "merged into one graph model per speaker (2 members" in capsys.readouterr().out


def test_noise_scores_each_speaker_in_babble_of_his_own_recordings(data, tmp_path, capsys):
    """--noise babble --snr 0: each held-out speaker's recordings with babble of six of his other
    recordings (the held-out set), against counts of model.classify on the noisy copies made here by
    fixedrnn.noise.add_noise over that speaker's files alone."""
    from fixedrnn.mfcc import read_wav
    from fixedrnn.noise import NoiseSpec, add_noise

    keep_folder(tmp_path / "keep", 0)
    out = tmp_path / "h.json"
    assert holdout_eval.main([str(tmp_path / "keep"), "--data-dir", str(data), "--json", str(out),
                              "--noise", "babble", "--snr", "0", "--noise-seed", "3"]) == 0
    report = json.loads(out.read_text())
    spec = NoiseSpec("babble", 0.0, 3)
    assert report["noise"] == spec.describe()
    changed = 0
    for s in SPEAKERS:
        model = load(tmp_path / "keep" / f"{s}.npz")
        files = sorted((data / "recordings").glob(f"*_{s}_*.wav"))
        clean = [read_wav(f, model.frontend.mfcc_config()) for f in files]
        noisy = add_noise(clean, [f.name for f in files], [s] * len(files), spec)
        changed += sum(not np.array_equal(a, b) for a, b in zip(clean, noisy))
        right = sum(model.classify(x).label == f.name.split("_")[0] for x, f in zip(noisy, files))
        assert report["speaker"][s] == float(Fraction(right, len(files)))
    assert changed == len(SPEAKERS) * 20
    assert "babble at 0 dB SNR, seed 3" in capsys.readouterr().out


def test_noise_without_snr_is_one_line(data, tmp_path, capsys):
    keep_folder(tmp_path / "keep", 0)
    assert holdout_eval.main([str(tmp_path / "keep"), "--data-dir", str(data), "--noise", "pink"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--noise pink: give --snr DB too" in err[0]
