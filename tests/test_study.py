"""fixedrnn study (fixedrnn/study.py): the configurations, their cache keys and tools/train.py command
lines, refusals; (slow, needs ray, matplotlib, torch and FSDD) each study end to end on two
configurations of a tiny model (H = 8, a subset of FSDD, one epoch), its accuracies equal to
evaluate_model on the written models, its bytes to the budget, and a second run that trains nothing."""

import csv
import json
import shutil
import sys

import numpy as np
import pytest

from fixedrnn import budget, cli, model as model_io, study
from fixedrnn.errors import FixedRnnError
from fixedrnn.evaluate import evaluate_model
from throwaway_models import random_model

sys.path.insert(0, str(study.TOOLS))
import train  # noqa: E402
import train_data  # noqa: E402

TINY = study.TrainingBase(units=8, epochs=1, qat_epochs=1, copies=1, subset=1)


def test_bitwidth_configurations_every_bits_and_method():
    configs = study.bitwidth_configurations(TINY, bits=(2, 5, 8), methods=("ptq", "qat"))
    assert [(c["method"], c["bits"]) for c in configs] == [(m, k) for m in ("ptq", "qat") for k in (2, 5, 8)]
    assert all(c["weights"] == "intk" and c["units"] == 8 for c in configs)
    assert [c["qat_epochs"] for c in configs] == [0] * 3 + [1] * 3  # PTQ: no quantization-aware epochs
    assert len({study.configuration_key(c) for c in configs}) == 6


def test_prune_configurations_and_kept_units():
    configs = study.prune_configurations(TINY, sparsities=(0.5, 0.9), methods=("magnitude-global", "units-l1"),
                                         finetune_epochs=(0, 3))
    assert configs[0]["method"] == "none" and configs[0]["sparsity"] == 0.0
    assert len(configs) == 1 + 2 * 2 * 2
    assert {c["series"] for c in configs} == {"unpruned", "magnitude-global", "magnitude-global + fine-tune",
                                              "units-l1", "units-l1 + fine-tune"}
    # keep = max(1, round(H (1 - s))), half away from zero
    assert [study.kept_units(8, s) for s in (0.3, 0.5, 0.9, 0.95)] == [6, 4, 1, 1]
    assert study.kept_units(24, 0.3) == 17  # 16.8


def test_key_is_a_hash_of_every_setting():
    config = study.bitwidth_configurations(TINY, bits=(4,), methods=("qat",))[0]
    key = study.configuration_key(config)
    assert key == study.configuration_key(dict(reversed(list(config.items()))))  # order does not matter
    for name, value in (("bits", 3), ("seed", 1), ("epochs", 2), ("subset", 0), ("units", 9)):
        assert study.configuration_key({**config, name: value}) != key


def test_train_arguments_are_what_tools_train_parses(tmp_path):
    bw = study.bitwidth_configurations(TINY, bits=(3,), methods=("ptq",))[0]
    pr = study.prune_configurations(TINY, sparsities=(0.7,), methods=("magnitude-layer", "units-linf"),
                                    finetune_epochs=(2,))
    out = tmp_path / "m.npz"
    args = train.parse_args(study.train_arguments(bw, tmp_path, out))
    assert (args.weights, args.bits, args.qat_epochs, args.units, args.epochs) == ("intk", 3, 0, 8, 1)
    assert args.prune_sparsity is None and args.prune_units is None and args.out == out
    args = train.parse_args(study.train_arguments(pr[0], tmp_path, out))
    assert args.prune_sparsity is None and args.prune_units is None and args.weights == "int8"
    assert args.storage == "dense"
    args = train.parse_args(study.train_arguments(pr[1], tmp_path, out))
    assert (args.prune_sparsity, args.prune_scope, args.finetune_epochs) == (0.7, "layer", 2)
    assert args.storage == "auto"  # unstructured: stored sparse where that is smaller
    args = train.parse_args(study.train_arguments(pr[2], tmp_path, out))
    assert (args.prune_units, args.prune_norm, args.prune_sparsity) == (study.kept_units(8, 0.7), "linf", None)
    assert args.storage == "dense"  # structured: a smaller dense model


def test_nonzero_cost_counts_nonzero_weights():
    model = random_model(cell="rnn", units=6, frames=5)
    w = model.rnn.recurrent_fc.weight.copy()
    w[:3] = 0
    model = model.__class__.from_arrays({**model.to_arrays(), "rnn.recurrent_fc.weight": w}, source="test")
    fcs = (model.rnn.input_fc, model.rnn.recurrent_fc)
    nz = [int(np.count_nonzero(fc.weight)) for fc in fcs]
    head = int(np.count_nonzero(model.head.weight))
    biases = model.rnn.input_fc.bias.size + model.head.bias.size
    assert study.nonzero_cost(model) == (sum(nz) + head + biases, 5 * sum(nz) + head)
    assert study.nonzero_cost(model)[0] < budget.model_cost(model).parameters


@pytest.mark.parametrize("argv, named", [
    (["bitwidth", "--bits", "9"], "--bits"),
    (["bitwidth", "--bits", "4,x"], "comma-separated integers"),
    (["bitwidth", "--methods", "qat,best"], "--methods"),
    (["prune", "--sparsities", "0.5,1.0"], "--sparsities"),
    (["prune", "--methods", "units-l3"], "--methods"),
    (["prune", "--units", "0"], "--units"),
    (["bitwidth", "--workers", "0"], "--workers"),
])
def test_bad_study_arguments_are_one_line_exit_2(tmp_path, capsys, argv, named):
    code = cli.main(["study", argv[0], str(tmp_path / "out"), *argv[1:]])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and named in err[0]
    assert not (tmp_path / "out").exists()


def test_missing_dependency_is_one_line():
    with pytest.raises(FixedRnnError, match=r"needs no_such_module_xyz: python -m pip install -e '\.\[study\]'"):
        study.require("no_such_module_xyz", "study")


# --- end to end (slow) ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """One local Ray for the module; its workers train with a fresh tools/train.py cache."""
    for name in ("ray", "matplotlib", "torch"):
        pytest.importorskip(name, reason=f"{name} is not installed (the study and train extras)")
    import os

    import ray

    cache = tmp_path_factory.mktemp("train-cache")
    saved = os.environ.get("FIXEDRNN_TRAIN_CACHE")
    os.environ["FIXEDRNN_TRAIN_CACHE"] = str(cache)  # inherited by the Ray workers
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        yield ray
    finally:
        ray.shutdown()
        if saved is None:
            del os.environ["FIXEDRNN_TRAIN_CACHE"]
        else:
            os.environ["FIXEDRNN_TRAIN_CACHE"] = saved


def check_outputs(out, configs, fsdd_dir, plots):
    """The CSV, table and plots exist; every row's accuracy is evaluate_model's on its written model
    (the subset's test files, WAV to logits), its bytes the budget's total."""
    with open(out / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["key"] for r in rows] == [study.configuration_key(c) for c in configs]
    table = (out / "results.md").read_text().splitlines()
    assert len(table) == 2 + len(configs)
    for name in plots:
        assert (out / f"accuracy_vs_{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    tests = [r.path for r in train_data.recordings_for(fsdd_dir, TINY.subset) if r.split == "test"]
    assert len(tests) == 60
    models = []
    for row in rows:
        model = model_io.load(out / row["model"])
        assert float(row["accuracy"]) == evaluate_model(model, tests, split="test").accuracy
        assert int(row["bytes"]) == budget.audit(model).total
        assert int(row["units"]) == model.units
        models.append(model)
    return rows, models


@pytest.mark.slow
def test_bitwidth_study_end_to_end(local_ray, fsdd_dir, tmp_path):
    configs = study.bitwidth_configurations(TINY, bits=(3,), methods=("ptq", "qat"))
    out = tmp_path / "bitwidth"
    study.run_study(configs, out, fsdd_dir, mcu=False)
    rows, models = check_outputs(out, configs, fsdd_dir, ("bits", "bytes", "params_nonzero", "host_us"))
    assert [r["series"] for r in rows] == ["PTQ", "QAT"]
    assert all(m.weights == "intk" and m.weight_bits == 3 for m in models)
    assert all(r["mcu_instructions"] == "" for r in rows)


@pytest.mark.slow
def test_prune_study_end_to_end_then_resumes_without_training(local_ray, fsdd_dir, tmp_path, monkeypatch, capsys):
    mcu = bool(shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm"))
    configs = study.prune_configurations(TINY, sparsities=(0.5,), methods=("units-l2",), finetune_epochs=(0,))
    configs += study.prune_configurations(TINY, sparsities=(0.9,), methods=("magnitude-global",),
                                          finetune_epochs=(0,))[1:]
    out = tmp_path / "prune"
    study.run_study(configs, out, fsdd_dir, mcu=mcu)
    rows, models = check_outputs(out, configs, fsdd_dir, ("bytes", "macs_nonzero") + (("mcu_instructions",) * mcu))
    assert [m.units for m in models] == [8, 4, 8]  # structured pruning: a genuinely smaller model
    assert int(rows[1]["bytes"]) < int(rows[0]["bytes"]) and int(rows[1]["macs"]) < int(rows[0]["macs"])
    # unstructured 90 %: the model is stored sparse, and its bytes are the sparse firmware's
    assert [m.weight_storage for m in models] == ["dense", "dense", "sparse"]
    assert [r["storage"] for r in rows] == ["dense", "dense", "sparse"]
    assert int(rows[2]["bytes"]) < int(rows[0]["bytes"])
    if mcu:  # fewer units, fewer instructions on the Cortex-M4
        assert 0 < int(rows[1]["mcu_instructions"]) < int(rows[0]["mcu_instructions"])
    # a second run, from the command line: every configuration is done, nothing is trained again
    done = {p.name: p.read_bytes() for p in (out / "runs").glob("*.json")}

    def no_training(*args):
        raise AssertionError("a finished configuration ran again")

    monkeypatch.setattr(study, "_run_pending", no_training)
    argv = ["study", "prune", str(out), "--sparsities", "0.5", "--methods", "units-l2", "--finetune-epochs", "0",
            "--units", "8", "--epochs", "1", "--qat-epochs", "1", "--copies", "1", "--subset", "1",
            "--data-dir", str(fsdd_dir)] + ([] if mcu else ["--no-mcu"])
    assert cli.main(argv) == 0
    assert "units-l2" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in (out / "runs").glob("*.json")} == done
    again = [json.loads((out / "runs" / f"{r['key']}.json").read_text())["accuracy"] for r in rows]
    assert again == [float(r["accuracy"]) for r in rows]
