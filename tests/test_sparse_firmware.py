"""The firmware of sparse-storage models (frnn_sparse.c): on QEMU's Cortex-M4 and on the host it
equals the NumPy engine, 0 LSB (features and logits), at several densities, for the RNN (per
channel) and the LSTM, with an empty row; and the budget's items (the compressed rows and the input
scratch included) are the linker's symbol sizes (``nm -S``)."""

import sys
from pathlib import Path

import numpy as np
import pytest

from fixedrnn import layout, sparse
from fixedrnn.model import Model

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "firmware"))

import runner  # noqa: E402
from test_c_export import export_feature_case, nm_sizes, run_feature_case  # noqa: E402
from throwaway_models import random_model  # noqa: E402

pytestmark = pytest.mark.slow  # firmware builds and QEMU runs

CELLS = {"rnn": dict(cell="rnn", units=11, frames=12, per_channel=True), "lstm": dict(cell="lstm", units=9, frames=10)}
SPARSITIES = (0.0, 0.5, 0.9)


def with_empty_row(model):
    """``model`` with the first row of its recurrent matrix (the first gate's, for an LSTM) all 0."""
    arrays = model.to_arrays()
    key = f"{model.cell}.recurrent_fc.weight"
    weight = arrays[key].copy()
    weight.reshape(-1, weight.shape[-1])[0] = 0
    return Model.from_arrays({**arrays, key: weight})


@pytest.fixture(scope="module", params=[(c, s) for c in CELLS for s in SPARSITIES], ids=lambda p: f"{p[0]}-{p[1]}")
def exported(request, tmp_path_factory):
    cell, sparsity = request.param
    model = random_model(seed=int(10 * sparsity) + len(cell), sparsity=sparsity, storage="sparse", **CELLS[cell])
    model = with_empty_row(model)
    assert model.weight_form.sparse
    return export_feature_case(model, tmp_path_factory.mktemp(f"{cell}-{sparsity}"), np.random.default_rng(3))


def test_qemu_firmware_equals_engine_and_budget_equals_nm(exported, tmp_path):
    exe = run_feature_case(exported, runner.BuildConfig("arm", "-O2"), tmp_path)
    model = exported[0]
    arrays = model.to_arrays()
    audit = {item.symbol: item.nbytes for item in layout.flash_items(arrays) + layout.ram_items(arrays)}
    sizes = nm_sizes(exe)
    assert {sym: sizes.get(sym) for sym in audit} == audit
    assert sorted(s for s in sizes if s.startswith(layout.SYMBOL_PREFIX)) == sorted(audit)
    weights = {k: v for k, v in arrays.items() if k.endswith(".weight")}
    assert not any(f"fr_{k.replace('.', '_')}" in sizes for k in weights)  # no dense copy in flash
    stored = sum(item.nbytes for item in layout.flash_items(arrays) if item.kind == "weights")
    nnz = sum(int(np.count_nonzero(w)) for w in weights.values())
    rows = sum(sparse.as_rows(w).shape[0] for w in weights.values())
    assert stored == 2 * nnz + 2 * (rows + len(weights))
    assert sizes["fr_sparse_input"] == 2 * max(model.n_features, model.units)


def test_host_firmware_equals_engine(exported, tmp_path):
    run_feature_case(exported, runner.BuildConfig("host", "-O2"), tmp_path)
