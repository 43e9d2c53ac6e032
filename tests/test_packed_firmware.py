"""The firmware of packed k-bit and minifloat models (frnn_packed.c): on QEMU's Cortex-M4 and on the
host it equals the NumPy engine, 0 LSB, and the budget's items (packed weights included) are the
linker's symbol sizes (``nm -S``)."""

import sys
from pathlib import Path

import numpy as np
import pytest

from fixedrnn import layout

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "firmware"))

import runner  # noqa: E402
from test_c_export import export_feature_case, nm_sizes, run_feature_case  # noqa: E402
from throwaway_models import random_model  # noqa: E402

pytestmark = pytest.mark.slow  # firmware builds and QEMU runs

FORMS = {
    "int2": dict(weights="intk", bits=2),
    "int3": dict(weights="intk", bits=3),
    "int4": dict(weights="intk", bits=4),
    "e2m1": dict(weights="minifloat", exponent_bits=2, mantissa_bits=1),  # 4-bit codes
    "e1m0": dict(weights="minifloat", exponent_bits=1, mantissa_bits=0),  # 2-bit codes: 0, ±64
}
CELLS = {"rnn": dict(cell="rnn", units=11, frames=12, per_channel=True), "lstm": dict(cell="lstm", units=9, frames=10)}


@pytest.fixture(scope="module", params=[(c, f) for c in CELLS for f in FORMS], ids=lambda p: f"{p[0]}-{p[1]}")
def exported(request, tmp_path_factory):
    cell, form = request.param
    model = random_model(seed=len(form) + 7 * len(cell), **CELLS[cell], **FORMS[form])
    assert model.weight_form.packed
    return export_feature_case(model, tmp_path_factory.mktemp(f"{cell}-{form}"), np.random.default_rng(3))


def test_qemu_firmware_equals_engine_and_budget_equals_nm(exported, tmp_path):
    exe = run_feature_case(exported, runner.BuildConfig("arm", "-O2"), tmp_path)
    model = exported[0]
    arrays = model.to_arrays()
    audit = {item.symbol: item.nbytes for item in layout.flash_items(arrays) + layout.ram_items(arrays)}
    sizes = nm_sizes(exe)
    assert {sym: sizes.get(sym) for sym in audit} == audit
    assert sorted(s for s in sizes if s.startswith(layout.SYMBOL_PREFIX)) == sorted(audit)
    n_weights = sum(np.asarray(v).size for k, v in arrays.items() if k.endswith(".weight"))
    packed = sum(item.nbytes for item in layout.flash_items(arrays) if item.kind == "weights")
    assert packed == sum(-(-np.asarray(v).size * model.weight_form.flash_code_bits // 8)
                         for k, v in arrays.items() if k.endswith(".weight")) < n_weights


def test_host_firmware_equals_engine(exported, tmp_path):
    run_feature_case(exported, runner.BuildConfig("host", "-O2"), tmp_path)
