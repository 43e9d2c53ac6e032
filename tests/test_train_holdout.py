"""tools/train_holdout.py: which runs it makes (every speaker held out once per seed, the seed and
teachers passed on) and its figures against Python fractions, with tools/train.py's training
replaced by a stand-in that returns chosen accuracies (multiples of 1/8: every float sum exact)."""

import json
import sys
from fractions import Fraction
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

SPEAKERS = ("ann", "bob", "cy")
ACC = {("ann", 0): Fraction(5, 8), ("bob", 0): Fraction(7, 8), ("cy", 0): Fraction(6, 8),
       ("ann", 1): Fraction(7, 8), ("bob", 1): Fraction(4, 8), ("cy", 1): Fraction(1)}


@pytest.fixture
def holdout(tmp_path, monkeypatch):
    """(train_holdout module, data dir, list of the runs' parsed options)."""
    pytest.importorskip("torch", reason="the train extra (PyTorch) is not installed")
    import train
    import train_holdout

    rec = tmp_path / "data" / "recordings"
    rec.mkdir(parents=True)
    for s in SPEAKERS:
        (rec / f"3_{s}_7.wav").write_bytes(b"")  # only the names are read
    runs = []

    def fake_training(args):
        runs.append(args)
        acc = ACC[(args.holdout, args.seed)]
        return {"float_test": float(acc - Fraction(1, 8)), "qat_test": float(acc), "integer_test": float(acc),
                "budget_total": 1}

    monkeypatch.setattr(train, "run_training", fake_training)
    return train_holdout, tmp_path / "data", runs


def test_one_seed_reports_the_mean_and_worst_speaker(holdout, tmp_path, capsys):
    module, data, runs = holdout
    out = tmp_path / "h.json"
    assert module.main(["--data-dir", str(data), "--units", "8", "--json", str(out)]) == 0
    assert [(a.holdout, a.seed, a.units) for a in runs] == [(s, 0, 8) for s in SPEAKERS]
    report = json.loads(out.read_text())
    assert report["mean_integer"] == float(sum(ACC[(s, 0)] for s in SPEAKERS) / 3)
    assert report["worst_integer"] == float(Fraction(5, 8))
    assert report["mean_float"] == float(sum(ACC[(s, 0)] - Fraction(1, 8) for s in SPEAKERS) / 3)
    assert "mean over 3 speakers: integer 0.7500 (worst 0.6250)" in capsys.readouterr().out


def test_seeds_average_each_speaker_over_the_seeds(holdout, tmp_path, capsys):
    module, data, runs = holdout
    out = tmp_path / "h.json"
    keep = tmp_path / "keep"
    assert module.main(["--data-dir", str(data), "--seeds", "0", "1", "--keep", str(keep), "--json", str(out)]) == 0
    assert sorted((a.holdout, a.seed) for a in runs) == sorted(ACC)
    assert {a.out for a in runs} == {keep / f"seed-{seed}" / f"{s}.npz" for s, seed in ACC}
    report = json.loads(out.read_text())
    per_speaker = {s: (ACC[(s, 0)] + ACC[(s, 1)]) / 2 for s in SPEAKERS}  # 3/4, 11/16, 7/8
    assert report["speaker_integer"] == {s: float(v) for s, v in per_speaker.items()}
    assert report["mean_integer"] == float(sum(per_speaker.values()) / 3)
    assert report["worst_integer"] == float(Fraction(11, 16))  # bob on average, not the worst single run
    assert report["per_seed"] == [{"seed": 0, "mean": 0.75, "worst": 0.625},
                                  {"seed": 1, "mean": float(sum(ACC[(s, 1)] for s in SPEAKERS) / 3), "worst": 0.5}]
    assert report["seeds"] == [0, 1]
    assert "mean over 3 speakers and 2 seeds" in capsys.readouterr().out


def test_teacher_dirs_are_passed_per_speaker(holdout, tmp_path):
    module, data, runs = holdout
    teachers = [tmp_path / "t0", tmp_path / "t1"]
    for d in teachers:
        d.mkdir()
        for s in SPEAKERS:
            (d / f"{s}.npz").write_bytes(b"x")
    assert module.main(["--data-dir", str(data), "--teacher-dir", *map(str, teachers)]) == 0
    assert [a.teacher_model for a in runs] == [[d / f"{s}.npz" for d in teachers] for s in SPEAKERS]


@pytest.mark.parametrize("argv, fragment", [
    (["--seeds", "0", "1", "--seed", "3"], "--seeds: give it or tools/train.py's --seed"),
    (["--seeds", "2", "2"], "repeats a seed"),
    (["--speakers", "zed"], "no speaker zed"),
])
def test_bad_options_are_one_line(holdout, capsys, argv, fragment):
    module, data, runs = holdout
    assert module.main(["--data-dir", str(data), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0] and runs == []
