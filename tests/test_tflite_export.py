"""The exported .tflite: runs in TFLM unmodified, refuses scales that derive other integers,
is written atomically, and the CLI glue works."""

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from engine_models import random_model, random_sequences
from fixedrnn import model as M
from fixedrnn.errors import FixedRnnError
from fixedrnn.tflite_export import check_integers, export_tflite

pytest.importorskip("tflite_micro")
from tflite_micro.python.tflite_micro import runtime  # noqa: E402


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_export_file_runs_in_tflm_with_other_frames(cell, tmp_path):
    model = random_model(4, cell, "int8", False, 3, 5, 4, 10, False)
    path = M.save(model, tmp_path / "m.npz")
    out = export_tflite(path, tmp_path / "m.tflite", frames=17)
    interp = runtime.Interpreter.from_file(str(out), arena_size=256 * 1024)
    details = interp.get_input_details(0)
    assert list(details["shape"]) == [1, 17, 3] and details["dtype"] == np.int8
    xs = random_sequences(4, 2, 17, 3)
    expected = model.run_features_batch(xs, backend="numpy")
    np.testing.assert_array_equal(model.run_features_batch(xs, backend="numba"), expected)
    for x, expect in zip(xs, expected):
        interp.reset()
        interp.set_input(x[None], 0)
        interp.invoke()
        np.testing.assert_array_equal(np.asarray(interp.get_output(0)).reshape(-1), expect)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz", "m.tflite"]


def test_export_refuses_integers_tflm_would_not_derive(tmp_path):
    model = random_model(6, "rnn", "int8", False, 3, 4, 2, 5, False)
    head = dataclasses.replace(model.head, shift=model.head.shift - 1)
    bad = dataclasses.replace(model, head=head)
    with pytest.raises(FixedRnnError, match="head.shift"):
        check_integers(bad)
    with pytest.raises(FixedRnnError):
        export_tflite(bad, tmp_path / "bad.tflite")
    assert not any(tmp_path.iterdir())


@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_export_cli(tmp_path):
    model = random_model(8, "lstm", "pot", False, 3, 4, 3, 6, False)
    path = M.save(model, tmp_path / "m.npz")
    proc = subprocess.run([sys.executable, "-m", "fixedrnn", "export", "tflite", str(path),
                           str(tmp_path / "o.tflite"), "--frames", "5"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o.tflite").read_bytes()[4:8] == b"TFL3"
