"""tools/train_distill.py: the teachers' soft targets against the frozen golden logits (exact
fractions), the refusals of a teacher that reads other inputs or has heard the held-out speaker, and
the command-line checks of tools/train.py --teacher-model and tools/train_holdout.py --teacher-dir."""

import sys
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import train_distill  # noqa: E402
from fixedrnn import golden, model as model_io  # noqa: E402
from fixedrnn.errors import FixedRnnError  # noqa: E402
from fixedrnn.frontend.config import MfccConfig  # noqa: E402

MODELS = ROOT / "golden" / "models"
TEACHERS = ("lstm_int8", "lstm_pot")  # one float model, two weight forms: the same front end and inputs


def golden_inputs(name):
    """(input names, int8 features [N, T, I], frozen int8 logits [N, C]) of a golden set."""
    tensors = golden.load_set(ROOT / "golden" / "vectors" / name).full_tensors()
    inputs = sorted(k[:-len("/features")] for k in tensors if k.endswith("/features"))
    return (inputs, np.stack([tensors[f"{i}/features"] for i in inputs]),
            np.stack([tensors[f"{i}/logits"] for i in inputs]))


def frontend_of(model):
    f = model.frontend
    return MfccConfig(sample_rate=f.sample_rate, fft_length=f.fft_length, hop=f.hop, n_mels=f.n_mels,
                      n_mfcc=f.n_mfcc, fmin=f.fmin, fmax=f.fmax)


def test_soft_targets_are_the_mean_of_the_frozen_dequantized_logits():
    models = [model_io.load(MODELS / f"{t}.npz") for t in TEACHERS]
    names, x, _ = golden_inputs(TEACHERS[0])
    frozen = []
    for t in TEACHERS:
        other_names, other_x, logits = golden_inputs(t)
        assert other_names == names and np.array_equal(other_x, x)  # the same int8 inputs
        frozen.append(logits)
    got = train_distill.ensemble_logits([MODELS / f"{t}.npz" for t in TEACHERS], x, models[0].input,
                                        models[0].labels, frontend_of(models[0]))
    assert got.dtype == np.float32 and got.shape == frozen[0].shape
    for n in range(len(names)):
        for c in range(got.shape[1]):
            exact = sum((int(f[n, c]) - m.head.output_zero_point) * Fraction(float(np.float32(m.head.output_scale)))
                        for f, m in zip(frozen, models)) / len(models)
            assert got[n, c] == np.float32(float(exact)), (names[n], c)


def test_a_graph_teachers_soft_targets_are_its_frozen_dequantized_logits():
    # the shipped DS-CNN (an int8 graph, window mean removal in its input): its logits' scale and zero
    # point are the graph's output tensor's
    path = MODELS / "dscnn_int8_cmn.npz"
    m = model_io.load(path)
    names, x, frozen = golden_inputs("dscnn_int8_cmn")
    got = train_distill.ensemble_logits([path], x, m.input, m.labels, frontend_of(m))
    out = m.graph.output
    scale, zero_point = Fraction(float(np.float32(m.graph.scales[m.graph.scale_start[out]]))), int(m.graph.zero_point[out])
    for n in range(len(names)):
        for c in range(got.shape[1]):
            assert got[n, c] == np.float32(float((int(frozen[n, c]) - zero_point) * scale)), (names[n], c)


def test_a_teacher_with_other_window_normalisation_is_refused():
    m = model_io.load(MODELS / "dscnn_int8_cmn.npz")
    with pytest.raises(FixedRnnError, match="input normalisation"):
        train_distill.check_teacher("t.npz", m, replace(m.input, cmn="off"), m.labels, frontend_of(m), None)


def test_a_dscnn_with_the_engines_window_mean_takes_teachers(capsys):
    pytest.importorskip("torch", reason="the train extra (PyTorch) is not installed")
    import train

    args = train.parse_args(["--out", "m.npz", "--cell", "dscnn", "--cmn", "window",
                             "--teacher-model", str(MODELS / "dscnn_int8_cmn.npz")])
    assert args.teacher_model == [MODELS / "dscnn_int8_cmn.npz"]


def test_a_single_teacher_keeps_the_argmax_of_its_logits():
    names, x, logits = golden_inputs("lstm_int8")
    m = model_io.load(MODELS / "lstm_int8.npz")
    got = train_distill.ensemble_logits([MODELS / "lstm_int8.npz"], x, m.input, m.labels, frontend_of(m))
    assert np.array_equal(np.argmax(got, 1), np.argmax(logits, 1))


@pytest.mark.parametrize("change, fragment", [
    ("labels", "labels"), ("n_mfcc", "n_mfcc"), ("offset", "input normalisation"),
    ("scale", "input normalisation"), ("holdout", "not trained with speaker george"),
])
def test_a_teacher_with_other_inputs_or_speakers_is_refused(change, fragment):
    m = model_io.load(MODELS / "lstm_int8.npz")
    labels, frontend, quant, holdout = m.labels, frontend_of(m), m.input, None
    if change == "labels":
        labels = tuple(reversed(labels))
    elif change == "n_mfcc":
        frontend = replace(frontend, n_mfcc=12)
    elif change == "offset":
        quant = replace(quant, offset=quant.offset + np.int32(1))
    elif change == "scale":
        quant = replace(quant, scale=quant.scale * 2)
    else:
        holdout = "george"  # the golden model was trained on every speaker
    with pytest.raises(FixedRnnError, match=fragment) as exc:
        train_distill.check_teacher("t.npz", m, quant, labels, frontend, holdout)
    assert str(exc.value).startswith("t.npz: ")


def test_a_teacher_trained_without_the_speaker_is_accepted():
    m = model_io.load(MODELS / "lstm_int8.npz")
    t = replace(m, meta={**m.meta, "split": train_distill.holdout_split("george")})
    train_distill.check_teacher("t.npz", t, m.input, m.labels, frontend_of(m), "george")


@pytest.mark.parametrize("argv, fragment", [
    (["--teacher-model", "missing.npz"], "is not a file"),
    (["--teacher-model", str(MODELS / "lstm_int8.npz"), "--teacher-units", "96"], "--teacher-model"),
    (["--teacher-model", str(MODELS / "lstm_int8.npz"), "--cmn", "utterance"], "--teacher-model"),
    (["--teacher-model", str(MODELS / "lstm_int8.npz"), "--cmn", "window", "--cvn"], "--teacher-model"),
])
def test_bad_teacher_arguments_exit_cleanly(capsys, argv, fragment):
    pytest.importorskip("torch", reason="the train extra (PyTorch) is not installed")
    import train

    with pytest.raises(SystemExit) as exc:
        train.parse_args(["--out", "m.npz"] + argv)
    assert exc.value.code == 2 and fragment in capsys.readouterr().err


def test_holdout_teacher_dir_without_a_speaker_is_one_line(fsdd_dir, tmp_path, capsys):
    pytest.importorskip("torch", reason="the train extra (PyTorch) is not installed")
    import train_holdout

    (tmp_path / "george.npz").write_bytes((MODELS / "lstm_int8.npz").read_bytes())
    code = train_holdout.main(["--data-dir", str(fsdd_dir), "--teacher-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "has no model for" in err[0] and "george" not in err[0].split("for")[1]


@pytest.mark.slow
def test_a_run_distils_from_a_model_it_trained(fsdd_dir, tmp_path, monkeypatch):
    pytest.importorskip("torch", reason="the train extra (PyTorch) is not installed")
    import train
    import train_data

    monkeypatch.setattr(train_data, "CACHE_DIR", tmp_path / "cache")
    common = ["--data-dir", str(fsdd_dir), "--subset", "1", "--copies", "1", "--epochs", "1", "--qat-epochs", "0",
              "--units", "8", "--no-progress", "--holdout", "george"]
    teacher = tmp_path / "teacher.npz"
    train.run_training(train.parse_args(common + ["--out", str(teacher)]))
    student = tmp_path / "student.npz"
    result = train.run_training(train.parse_args(common + ["--out", str(student), "--teacher-model", str(teacher),
                                                           "--seed", "1"]))
    assert 0.0 <= result["integer_test"] <= 1.0
    (source,) = model_io.load(student).meta["distilled_from"]
    assert str(teacher) in source and golden.file_sha256(teacher) in source
    # a teacher of other recordings (george's run, not nicolas's) reads other int8 inputs: refused
    with pytest.raises(FixedRnnError, match=f"{teacher}: its int8 input normalisation differs"):
        train.run_training(train.parse_args(common[:-1] + ["nicolas", "--out", str(tmp_path / "x.npz"),
                                                           "--teacher-model", str(teacher)]))
