"""Every op of fixedrnn.ops.OPS: its numba implementation equals its reference (0 LSB) on random and
edge inputs (tests/op_cases.py: all int8 inputs for TANH s8 and ADD s8, all int16 inputs for the
LUTs), and its C function exists."""

from pathlib import Path

import numpy as np
import pytest

from fixedrnn import ops
from fixedrnn.errors import FixedRnnError
from op_cases import cases

C_DIR = Path(__file__).resolve().parents[1] / "fixedrnn"


@pytest.mark.parametrize("op", ops.OPS, ids=lambda o: o.name)
@pytest.mark.parametrize("seed", range(4))
def test_numba_equals_reference(op, seed):
    for params, inputs in cases(op.name, seed):
        if op.params is not None:
            assert isinstance(params, op.params)
        want = op.reference(params, *inputs)
        got = op.numba(params, *inputs)
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want, err_msg=op.name)


def test_registry_names_and_c_functions():
    names = [o.name for o in ops.OPS]
    assert len(set(names)) == len(names)
    assert ops.op("tanh_s8").c_function == "frnn_tanh_s8"
    with pytest.raises(FixedRnnError, match="op must be one of"):
        ops.op("relu")
    c_text = "".join(p.read_text() for p in (C_DIR / "c").rglob("*.[ch]"))
    for o in ops.OPS:
        assert f"{o.c_function}(" in c_text, o.c_function
