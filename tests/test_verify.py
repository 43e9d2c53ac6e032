"""fixedrnn.verify and the golden set format (fixedrnn.golden), on throwaway models in tmp_path.

Each corruption test changes one known element of a set and checks that verify names exactly that
tensor, step and index, and exits 1; unusable input exits 2 with one line and no traceback.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from fixedrnn import fsdd, golden, signals, verify
from fixedrnn.errors import InputFileError
from throwaway_models import save_random_model

SPECS = [signals.standard_signal(n) for n in ("short_tone", "chirp_down", "speech_bursts_high")]


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "fixedrnn", "verify", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module", params=[("lstm", "int8"), ("rnn", "pot")], ids=lambda p: "_".join(p))
def golden_root(request, tmp_path_factory):
    """A golden tree ``root/models/m.npz`` + ``root/vectors/m/`` for a random model."""
    return _make_root(tmp_path_factory, *request.param)


@pytest.fixture(scope="module")
def lstm_golden_root(tmp_path_factory):
    """The LSTM tree: only the LSTM has tensors (its gates) stored as per-step digests."""
    return _make_root(tmp_path_factory, "lstm", "int8")


def _make_root(tmp_path_factory, cell, weights):
    root = tmp_path_factory.mktemp(f"golden_{cell}_{weights}")
    (root / "models").mkdir()
    model_file = save_random_model(root / "models" / "m.npz", cell=cell, weights=weights, seed=3)
    golden.write_set(root / "vectors" / "m", model_file, SPECS)
    return root


def _copy(root, tmp_path):
    dst = tmp_path / "golden"
    shutil.copytree(root, dst)
    return dst


def test_written_set_is_complete(golden_root):
    gset = golden.load_set(golden_root / "vectors" / "m")
    assert [e.name for e in gset.inputs] == [s.name for s in SPECS]
    assert gset.tensors[:2] == ("mfcc", "features") and gset.tensors[-1] == "logits"
    assert "hidden" in gset.tensors
    stored = gset.full_tensors()
    steps = gset.step_digests()
    # everything but the LSTM's [T, 4, H] gate tensors is stored in full, those as step digests
    gate_tensors = {"gate_x", "gate_h", "gate_pre", "gates"} & set(gset.tensors)
    assert sorted(stored) == sorted(f"{s.name}/{t}" for s in SPECS for t in gset.tensors
                                    if t not in gate_tensors)
    assert sorted(steps) == sorted(f"{s.name}/{t}" for s in SPECS for t in gate_tensors)
    for entry in gset.inputs:
        for tensor in gate_tensors:
            digest = entry.digests[tensor]
            assert digest["dtype"] == "int16" and len(digest["shape"]) == 3
            assert steps[f"{entry.name}/{tensor}"].shape == (digest["shape"][0],)
    for spec, entry in zip(SPECS, gset.inputs):
        assert entry.checksum == fsdd.sample_checksum(signals.generate(spec))
        assert list(entry.logits) == stored[f"{spec.name}/logits"].tolist()
        assert stored[f"{spec.name}/features"].dtype == np.int8
        assert stored[f"{spec.name}/mfcc"].dtype == np.int16
    manifest = json.loads((golden_root / "vectors" / "m" / golden.MANIFEST).read_text())
    assert manifest["model"]["file"] == "../../models/m.npz"
    assert manifest["model"]["sha256"] == golden.file_sha256(golden_root / "models" / "m.npz")


@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_verify_equal(golden_root):
    (report,) = verify.verify(golden_root, use_fsdd=False)
    assert report.equal and report.synthetic_checked == len(SPECS)
    result = _cli(golden_root, "--quiet")
    assert result.returncode == 0, result.stderr
    assert "m: OK, 3 synthetic inputs" in result.stdout


@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_corrupted_tensor_is_located(golden_root, tmp_path):
    root = _copy(golden_root, tmp_path)
    path = root / "vectors" / "m" / golden.TENSORS
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    key = "chirp_down/hidden"
    step, unit = 5, 3
    arrays[key] = arrays[key].copy()
    original = int(arrays[key][step, unit])
    arrays[key][step, unit] = original + 1 if original < 127 else original - 1
    np.savez_compressed(path, **arrays)
    (report,) = verify.verify(root, use_fsdd=False)
    assert len(report.differences) == 1
    diff = report.differences[0]
    assert (diff.input, diff.tensor, diff.step, diff.index) == ("chirp_down", "hidden", step, (unit,))
    assert diff.got == original and diff.expected == int(arrays[key][step, unit])
    result = _cli(root, "--quiet")
    assert result.returncode == 1
    assert (f"input 'chirp_down', tensor 'hidden', step {step}, index [{unit}]: expected "
            f"{diff.expected}, got {original}") in result.stdout
    assert "Traceback" not in result.stderr


def test_tensor_stored_as_digests_is_located_to_the_step(lstm_golden_root, tmp_path):
    root = _copy(lstm_golden_root, tmp_path)
    vectors = root / "vectors" / "m"
    manifest = json.loads((vectors / golden.MANIFEST).read_text())
    assert "gates" in manifest["tensors"]
    with np.load(vectors / golden.STEPS) as archive:
        steps = {k: archive[k].copy() for k in archive.files}
    steps["speech_bursts_high/gates"][6] ^= np.uint32(1 << 20)
    np.savez_compressed(vectors / golden.STEPS, **steps)
    manifest["inputs"][2]["digests"]["gates"]["sha256"] = "f" * 64
    (vectors / golden.MANIFEST).write_text(json.dumps(manifest))
    (report,) = verify.verify(root, use_fsdd=False)
    diff = report.differences[0]
    assert (diff.input, diff.tensor, diff.step, diff.index) == ("speech_bursts_high", "gates", 6, None)
    assert len(report.differences) == 1


def test_first_differing_tensor_is_reported(golden_root, tmp_path):
    # Corrupt a late tensor and an earlier one of the same input: the earlier one is reported.
    root = _copy(golden_root, tmp_path)
    path = root / "vectors" / "m" / golden.TENSORS
    with np.load(path) as archive:
        arrays = {k: archive[k].copy() for k in archive.files}
    arrays["short_tone/logits"][2] ^= 1
    arrays["short_tone/features"][-1, 4] ^= 1
    np.savez_compressed(path, **arrays)
    (report,) = verify.verify(root, use_fsdd=False)
    diff = report.differences[0]
    assert (diff.input, diff.tensor) == ("short_tone", "features")
    assert diff.step == arrays["short_tone/features"].shape[0] - 1 and diff.index == (4,)


def test_manifest_logits_and_fast_paths(golden_root, tmp_path):
    root = _copy(golden_root, tmp_path)
    path = root / "vectors" / "m" / golden.MANIFEST
    manifest = json.loads(path.read_text())
    entry = manifest["inputs"][2]
    entry["logits"][7] = entry["logits"][7] + 1 if entry["logits"][7] < 127 else -128
    path.write_text(json.dumps(manifest))
    (report,) = verify.verify(root, use_fsdd=False)
    tensors = {(d.input, d.tensor, d.note) for d in report.differences}
    assert ("speech_bursts_high", "logits", "manifest logits") in tensors
    # the fast engine paths are compared with the manifest's logits too
    assert ("speech_bursts_high", "logits", "engine path 'numba'") in tensors


def test_changed_model_is_a_difference(golden_root, tmp_path):
    root = _copy(golden_root, tmp_path)
    model_file = root / "models" / "m.npz"
    described = json.loads((root / "vectors" / "m" / golden.MANIFEST).read_text())["model"]
    save_random_model(model_file, cell=described["cell"], weights=described["weights"], seed=4)
    (report,) = verify.verify(root, use_fsdd=False)
    assert report.differences[0].input == "(model)"
    assert "not the one the vectors were made from" in report.differences[0].note
    assert len(report.differences) > 1  # and the tensors differ


def test_changed_signal_generator_is_a_difference(golden_root, tmp_path):
    root = _copy(golden_root, tmp_path)
    path = root / "vectors" / "m" / golden.MANIFEST
    manifest = json.loads(path.read_text())
    manifest["inputs"][0]["signal"]["params"]["freq"] = 441.0
    path.write_text(json.dumps(manifest))
    (report,) = verify.verify(root, use_fsdd=False)
    assert (report.differences[0].input, report.differences[0].tensor) == ("short_tone", "pcm")


@pytest.mark.parametrize("damage", ["no_manifest", "bad_json", "no_tensors", "bad_model", "bad_logits"])
@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_unusable_input_exits_2(golden_root, tmp_path, damage):
    root = _copy(golden_root, tmp_path)
    vectors = root / "vectors" / "m"
    if damage == "no_manifest":
        (vectors / golden.MANIFEST).unlink()
    elif damage == "bad_json":
        (vectors / golden.MANIFEST).write_text("{")
    elif damage == "no_tensors":
        (vectors / golden.TENSORS).unlink()
    elif damage == "bad_model":
        (root / "models" / "m.npz").write_bytes(b"not a zip")
    else:
        manifest = json.loads((vectors / golden.MANIFEST).read_text())
        manifest["inputs"][0]["logits"] = [1, 2]
        (vectors / golden.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(InputFileError):
        verify.verify(root, use_fsdd=False)
    if damage not in ("no_manifest", "bad_model"):
        return  # the CLI's handling is the same for every InputFileError: two cases suffice
    result = _cli(root, "--quiet")
    assert result.returncode == 2
    assert result.stderr.startswith("fixedrnn: error: ") and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_missing_directory_and_unknown_set(golden_root, tmp_path):
    assert _cli(tmp_path / "nope").returncode == 2
    result = _cli(golden_root, "--model", "other")
    assert result.returncode == 2 and "no golden set named 'other'" in result.stderr


@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_fsdd_inputs_skipped_without_data(tmp_path, fsdd_dir):
    root = tmp_path / "golden"
    (root / "models").mkdir(parents=True)
    model_file = save_random_model(root / "models" / "m.npz", cell="rnn", weights="int8", seed=5)
    recordings = [r for r in fsdd.list_recordings(fsdd_dir, "test") if r.index == 0][:3]
    golden.write_set(root / "vectors" / "m", model_file, SPECS[:1], recordings)
    (report,) = verify.verify(root, fsdd_dir=fsdd_dir)
    assert report.equal and report.fsdd_checked == 3
    absent = subprocess.run([sys.executable, "-m", "fixedrnn", "verify", str(root), "--quiet"], capture_output=True,
                            text=True, env=dict(os.environ, FIXEDRNN_FSDD=str(tmp_path / "absent")))
    assert absent.returncode == 0  # the default place has no FSDD: its inputs are skipped, said so
    assert "(3 FSDD inputs skipped)" in absent.stdout and "FSDD inputs skipped: FSDD not found at" in absent.stdout
    result = _cli(root, "--quiet", "--fsdd", tmp_path / "absent")  # asked for explicitly: must exist (#15)
    assert result.returncode == 2 and result.stdout == "" and result.stderr.count("\n") == 1
    assert str(tmp_path / "absent") in result.stderr and "Traceback" not in result.stderr

    # A corrupted per-step digest and whole-tensor digest: the step is located, not the index.
    steps_path = root / "vectors" / "m" / golden.STEPS
    with np.load(steps_path) as archive:
        steps = {k: archive[k].copy() for k in archive.files}
    name = recordings[1].name
    steps[f"{name}/add"][4] ^= np.uint32(1)
    np.savez_compressed(steps_path, **steps)
    manifest_path = root / "vectors" / "m" / golden.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["inputs"][2]["digests"]["add"]["sha256"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))
    (report,) = verify.verify(root, fsdd_dir=fsdd_dir)
    diff = report.differences[0]
    assert (diff.input, diff.tensor, diff.step, diff.index) == (name, "add", 4, None)

    # A recording whose samples differ from the manifest's checksum is unusable input.
    fake = tmp_path / "fake_fsdd"
    shutil.copytree(fsdd_dir / "recordings", fake / "recordings",
                    ignore=lambda d, names: [n for n in names if n not in {r.name for r in recordings}])
    with open(fake / "recordings" / recordings[0].name, "r+b") as fh:
        fh.seek(-2, 2)
        fh.write(b"\x01\x02")
    result = _cli(root, "--quiet", "--fsdd", fake)
    assert result.returncode == 2 and "checksum differs" in result.stderr
