"""tools/noise_eval.py: its table is evaluate_model's accuracy per condition (real FSDD, one model,
two conditions: CI-sized)."""

import json
import sys

import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "tools"))

import noise_eval  # noqa: E402
from fixedrnn.evaluate import evaluate_model  # noqa: E402
from fixedrnn.noise import NoiseSpec  # noqa: E402


@pytest.mark.slow
def test_table_is_evaluate_per_condition(fsdd_dir, capsys, tmp_path):
    model = REPO / "golden" / "models" / "tiny_lstm_pot.npz"
    out = tmp_path / "rows.json"
    assert noise_eval.main([str(model), "--data-dir", str(fsdd_dir), "--noise", "babble", "pink",
                            "--snr", "10", "--json", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| model | clean | babble 10 dB | pink 10 dB |" and len(lines) == 3
    row = json.loads(out.read_text())["rows"][0]
    assert row["clean"] == evaluate_model(model, fsdd_dir).accuracy
    for kind in ("babble", "pink"):
        expected = evaluate_model(model, fsdd_dir, noise=NoiseSpec(kind, 10.0)).accuracy
        assert row[f"{kind} 10"] == expected
        assert f"{100 * expected:.1f}" in lines[2]
