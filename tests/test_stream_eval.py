"""tools/stream_eval.py: a CI-sized smoke run (a few test-split recordings, one condition)."""

import sys

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "tools"))

import stream_eval  # noqa: E402


def test_smoke(fsdd_dir, capsys, tmp_path):
    model = str(REPO / "golden" / "models" / "tiny_lstm_pot.npz")
    out = tmp_path / "rows.jsonl"
    assert stream_eval.main([model, "--fsdd", str(fsdd_dir), "--limit", "4", "--snr", "20",
                             "--json", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "tiny_lstm_pot.npz` | 20 dB | 4 |" in lines[2]
    assert '"words": 4' in out.read_text()
