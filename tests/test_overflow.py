"""Tests of fixedrnn.overflow's static audit: every bound against exact enumeration (Python ints)
over all int8 / int16 inputs of small models, the budget's verdict naming the tensor, and the
exports refusing a model that can overflow (head.shift = 30)."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixedrnn import budget, overflow
from fixedrnn.errors import FixedRnnError
from fixedrnn.fixedpoint import multiply_by_quantized_multiplier
from fixedrnn.model import Model
from test_budget import _save, make_model


def _run(capsys, *argv):
    code = budget.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---- accumulators ----------------------------------------------------------------------------



def _brute_force(weights, bias, zero_point):
    """Extremes of every running value of the accumulator (each partial sum, then + bias) over all
    int8 input vectors, enumerated; Python ints."""
    n_in = weights.shape[1]
    grid = np.stack(np.meshgrid(*[np.arange(-128, 128)] * n_in, indexing="ij"), -1).reshape(-1, n_in)
    low = high = 0
    for row, w in enumerate(weights.tolist()):
        partial = np.zeros(len(grid), dtype=object)
        for j in range(n_in):
            partial = partial + int(w[j]) * (grid[:, j].astype(object) - zero_point)
            low, high = min(low, int(partial.min())), max(high, int(partial.max()))
        b = 0 if bias is None else int(bias[row])
        low, high = min(low, int((partial + b).min())), max(high, int((partial + b).max()))
    return low, high


@settings(max_examples=25, deadline=None)
@given(
    weights=st.lists(st.integers(-127, 127), min_size=4, max_size=4),
    bias=st.one_of(st.none(), st.lists(st.integers(-(2**31), 2**31 - 1), min_size=2, max_size=2)),
    zero_point=st.integers(-128, 127),
)
def test_overflow_bounds_match_brute_force(weights, bias, zero_point):
    w = np.array(weights, dtype=np.int8).reshape(2, 2)
    b = None if bias is None else np.array(bias, dtype=np.int64)
    check = overflow.check_accumulation(overflow.Accumulation("t", w, b, zero_point))
    low, high = _brute_force(w, b, zero_point)
    assert (check.low, check.high) == (low, high)
    assert check.ok == (low >= -(2**31) and high <= 2**31 - 1)


def test_overflow_from_fan_in():
    w = np.full((1, 70000), 127, dtype=np.int8)  # 70000 · 127 · 255 > 2**31
    check = overflow.check_accumulation(overflow.Accumulation("wide", w, None, -128))
    assert not check.ok and check.high == 70000 * 127 * 255 and check.low == 0 and check.headroom_bits < 0
    safe = overflow.check_accumulation(overflow.Accumulation("wide", w[:, :60000], None, -128))
    assert safe.ok and safe.high == 60000 * 127 * 255


def test_overflow_model_fails_and_safe_model_passes(tmp_path, capsys):
    safe = make_model("rnn", False)
    assert all(c.ok for c in overflow.overflow_audit(Model.from_arrays(safe)))
    assert _run(capsys, _save(tmp_path, safe, "safe.npz"))[0] == 0
    risky = make_model("rnn", False)
    risky["head.weight"][3] = np.abs(risky["head.weight"][3])
    risky["head.bias"][3] = 2**31 - 1000  # any positive hidden state pushes row 3 past int32
    code, out, _ = _run(capsys, _save(tmp_path, risky, "risky.npz"))
    assert code == 1 and "OVERFLOW (row 3)" in out and "an accumulator can overflow" in out
    checks = {c.name: c for c in overflow.overflow_audit(Model.from_arrays(risky))}
    w = risky["head.weight"][3].astype(object)
    assert checks["head"].high == 2**31 - 1000 + int(sum(w * 127)) and not checks["head"].ok
    assert checks["rnn.input_fc"].ok and checks["rnn.recurrent_fc"].ok


def test_overflow_pot_lstm_gate(tmp_path, capsys):
    model = make_model("lstm", True, units=4, n_mfcc=3)
    model["lstm.input_fc.bias"][1, 2] = -(2**31) + 10  # forget gate, row 2
    checks = {c.name: c for c in overflow.overflow_audit(Model.from_arrays(model))}
    assert not checks["lstm.input_fc[f]"].ok and checks["lstm.input_fc[f]"].row == 2
    assert all(c.ok for name, c in checks.items() if name != "lstm.input_fc[f]")
    code, out, _ = _run(capsys, _save(tmp_path, model), "--json")
    data = json.loads(out)
    assert code == 1 and data["overflow"]["ok"] is False and data["fits"] is False


# ---- requantization, normalisation, element-wise ops: bounds against enumeration -------------

INT32 = (-(2**31), 2**31 - 1)


def _mbqm(values, multiplier, shift):
    """MBQM of Python ints (int64 arrays in range) → list of ints."""
    return [int(v) for v in multiply_by_quantized_multiplier(np.asarray(values, np.int64), multiplier, shift)]


def _grid(n_in):
    return np.stack(np.meshgrid(*[np.arange(-128, 128)] * n_in, indexing="ij"), -1).reshape(-1, n_in)


@settings(max_examples=20, deadline=None)
@given(
    weights=st.lists(st.integers(-127, 127), min_size=4, max_size=4),
    bias=st.lists(st.integers(-(2**20), 2**20), min_size=2, max_size=2),
    zero_point=st.integers(-128, 127),
    shifts=st.lists(st.integers(-12, 30), min_size=2, max_size=2),
    z_out=st.integers(-128, 127),
)
def test_fc_requantization_bounds_match_enumeration(weights, bias, zero_point, shifts, z_out):
    """acc · 2**shift and z_out + MBQM(acc) per row (per-channel shifts) over all int8 x of a 2x2 FC."""
    w = np.array(weights, dtype=np.int64).reshape(2, 2)
    acc = (_grid(2) - zero_point) @ w.T + np.array(bias)  # [65536, 2], exact int64
    shift = np.array(shifts, np.int64)
    multiplier = np.array([2**30 + 12345, 2**31 - 1], np.int64)
    checks = overflow._fc_checks(overflow.Accumulation("t", w, np.array(bias), zero_point),
                                 multiplier, shift, z_out)
    shifted = [[int(v) << max(int(s), 0) for v in acc[:, o]] for o, s in enumerate(shift)]
    lo, hi = min(min(r) for r in shifted), max(max(r) for r in shifted)
    req = checks[1]
    assert req.name == "t.requantize" and (req.low, req.high) == (lo, hi)
    assert req.ok == (lo >= INT32[0] and hi <= INT32[1])
    if req.ok:
        outs = [v + z_out for o in range(2) for v in _mbqm(acc[:, o], multiplier[o], shift[o])]
        assert checks[2].name == "t.output" and (checks[2].low, checks[2].high) == (min(outs), max(outs))
    else:
        assert len(checks) == 2


def _model(cell="rnn", **changes):
    arrays = make_model(cell, False, units=4, n_mfcc=3, n_classes=3)
    arrays.update(changes)
    return Model.from_arrays(arrays)


def test_input_normalisation_bounds_match_enumeration():
    """mfcc − offset, its · 2**shift and z + MBQM over every int16 MFCC value (q15)."""
    model = _model(**{"input.offset": np.array([-30000, 0, 30000], np.int32),
                      "input.shift": np.array([-4, 17, 2], np.int32)})
    checks = {c.name: c for c in overflow.overflow_audit(model)}
    mfcc = np.arange(-32768, 32768, dtype=np.int64)
    q = model.input
    d = [mfcc - int(off) for off in q.offset]
    norm = checks["input.normalise"]
    assert (norm.low, norm.high) == (min(int(v.min()) for v in d), max(int(v.max()) for v in d)) and norm.ok
    shifted = [v << max(int(s), 0) for v, s in zip(d, q.shift)]
    req = checks["input.requantize"]
    assert (req.low, req.high) == (min(int(v.min()) for v in shifted), max(int(v.max()) for v in shifted))
    assert not req.ok and req.row == 1  # 32767 · 2**17 > 2**31 − 1: coefficient 1
    ok_model = _model(**{"input.offset": np.array([-30000, 0, 30000], np.int32)})
    checks = {c.name: c for c in overflow.overflow_audit(ok_model)}
    outs = [v + ok_model.input.zero_point for c in range(3) for v in
            _mbqm(mfcc - int(ok_model.input.offset[c]), ok_model.input.multiplier[c], ok_model.input.shift[c])]
    assert (checks["input.output"].low, checks["input.output"].high) == (min(outs), max(outs))


def test_q31_mfcc_range_holds_the_front_end_outputs():
    """The q31 bound (DCT of log-mels in [−2**28, 2**28 − 1]) holds every MFCC of random, silent and
    full-scale frames."""
    model = _model(**{"frontend.precision": np.array("q31")})
    low, high = overflow.mfcc_range(model)
    assert all(INT32[0] <= lo <= hi <= INT32[1] for lo, hi in zip(low, high))
    rng = np.random.default_rng(1)
    frames = np.concatenate([rng.integers(-32768, 32768, (20, 256)), np.zeros((1, 256), np.int64),
                             np.full((1, 256), 32767), np.full((1, 256), -32768)]).astype(np.int16)
    out = model.front_end.mfcc_q31(frames.astype(np.int32) << 16).astype(np.int64)
    assert np.all(out >= np.array(low)) and np.all(out <= np.array(high))


def test_rnn_add_and_tanh_bounds_match_enumeration():
    model = _model(**{"rnn.input_fc.output_zero_point": np.int32(-100),
                      "rnn.recurrent_fc.output_zero_point": np.int32(50),
                      "rnn.add.output_zero_point": np.int32(7),
                      "rnn.tanh.input_shift": np.int32(23), "rnn.tanh.input_range_radius": np.int32(200)})
    checks = {c.name: c for c in overflow.overflow_audit(model)}
    add, v = model.rnn.add, np.arange(-128, 128, dtype=np.int64)
    a = (v + 100) << 20
    b = (v - 50) << 20
    assert (checks["rnn.add.input1.requantize"].low, checks["rnn.add.input1.requantize"].high) == (a.min(), a.max())
    assert (checks["rnn.add.input2.requantize"].low, checks["rnn.add.input2.requantize"].high) == (b.min(), b.max())
    u1 = np.array(_mbqm(a, add.input1_multiplier, add.input1_shift))
    u2 = np.array(_mbqm(b, add.input2_multiplier, add.input2_shift))
    sums = (u1[:, None] + u2[None, :]).ravel()  # every pair of int8 inputs
    assert (checks["rnn.add.sum"].low, checks["rnn.add.sum"].high) == (sums.min(), sums.max())
    outs = np.array(_mbqm(sums, add.output_multiplier, add.output_shift)) + 7
    assert (checks["rnn.add.output"].low, checks["rnn.add.output"].high) == (outs.min(), outs.max())
    d = v - 7
    d = d[np.abs(d) < 200] << 23  # only inputs inside the saturation radius reach the rescale
    tanh = checks["rnn.tanh.requantize"]
    assert (tanh.low, tanh.high) == (d.min(), d.max()) and tanh.ok == (d.max() < 2**31)


def test_lstm_mul_bounds_and_saturating_adds():
    """int16 · int16 products times 2**shift (their extremes are at the corners of the int16 box:
    enumerated against every int16 value of one operand at each corner of the other) and z_h + MBQM;
    the saturating adds are listed and never fail."""
    model = _model("lstm", **{"lstm.forget_mul.shift": np.int32(1), "lstm.output_mul.shift": np.int32(-20)})
    checks = {c.name: c for c in overflow.overflow_audit(model)}
    a = np.arange(-32768, 32768, dtype=np.int64)
    products = np.concatenate([a * b for b in (-32768, -1, 0, 1, 32767)])
    forget = checks["lstm.forget_mul.requantize"]
    assert (forget.low, forget.high) == (int(products.min()) * 2, int(products.max()) * 2) and not forget.ok
    out = checks["lstm.output_mul.output"]
    ends = np.array(_mbqm(products, *model.lstm.output_mul)) + model.lstm.hidden_zero_point
    assert (out.low, out.high) == (ends.min(), ends.max()) and out.ok
    for name in ("lstm.gate_pre", "lstm.cell"):
        assert checks[name].saturates and checks[name].ok
    assert [c.name for c in overflow.overflow_audit(model) if not c.ok] == ["lstm.forget_mul.requantize"]


# ---- head.shift = 30: the budget fails, the exports refuse -----------------------------------


def _shift30(cell="rnn"):
    arrays = make_model(cell, False)
    arrays["head.shift"] = np.full_like(arrays["head.shift"], 30)
    return arrays


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_head_shift_30_fails_the_budget_naming_the_head(tmp_path, capsys, cell):
    path = _save(tmp_path, _shift30(cell))
    code, out, _ = _run(capsys, path)
    verdict = out.strip().splitlines()[-1]
    assert code == 1 and verdict.startswith("verdict: FAILS") and "head.requantize" in verdict
    assert "head.requantize" in [c.name for c in overflow.overflow_audit(Model.from_arrays(_shift30(cell)))
                                 if not c.ok]
    code, out, _ = _run(capsys, path, "--json")
    data = json.loads(out)
    bad = [c for c in data["overflow"]["accumulations"] if not c["ok"]]
    assert code == 1 and [c["name"] for c in bad] == ["head.requantize"] and bad[0]["what"].startswith("requant")


def test_require_no_overflow_names_the_tensors():
    model = Model.from_arrays(_shift30())
    with pytest.raises(FixedRnnError) as err:
        overflow.require_no_overflow(model, "export c")
    message = str(err.value)
    assert message.startswith("export c: ") and "head.requantize" in message and "\n" not in message
    assert "python -m fixedrnn.budget MODEL" in message
    overflow.require_no_overflow(Model.from_arrays(make_model("rnn", False)), "export c")  # passes


@pytest.mark.parametrize("fmt", ["tflite", "c"])
@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_exports_refuse_head_shift_30(tmp_path, fmt):
    """``python -m fixedrnn export tflite|c`` exits 2 with one line naming the head and writes
    nothing; the library functions raise the same error."""
    from throwaway_models import random_model

    from fixedrnn import model as model_io
    from fixedrnn.c_export import export_c
    from fixedrnn.tflite_export import export_tflite

    model = random_model("rnn" if fmt == "tflite" else "lstm", "int8", units=6, frames=5)
    bad = dataclasses.replace(model, head=dataclasses.replace(model.head, shift=np.full_like(model.head.shift, 30)))
    path = model_io.save(bad, tmp_path / "bad.npz")
    out = tmp_path / ("bad.tflite" if fmt == "tflite" else "src")
    with pytest.raises(FixedRnnError, match="head.requantize"):
        (export_tflite if fmt == "tflite" else export_c)(bad, out)
    proc = subprocess.run([sys.executable, "-m", "fixedrnn", "export", fmt, str(path), str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "head.requantize" in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npz"]


@pytest.mark.parametrize("fmt", ["tflite", "c"])
@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_allow_overflow_writes_and_names_each_failing_row(tmp_path, fmt):
    """Issue #15: ``--allow-overflow`` writes the model the audit refuses and prints each failing
    check of the audit as one stderr line; the library takes ``allow_overflow=True``."""
    from throwaway_models import random_model

    from fixedrnn import convert
    from fixedrnn import model as model_io
    from fixedrnn.c_export import export_c
    from fixedrnn.tflite_export import export_tflite

    model = random_model("rnn" if fmt == "tflite" else "lstm", "int8", units=6, frames=5)
    head = model.head  # an output scale 2**-29 of the input scale: shift 30, as TFLM derives it
    s_out = np.float32(model.hidden_scale * float(head.weight_scale[0]) / 2**29)
    m, s = convert.fc_multiplier(model.hidden_scale, head.weight_scale, s_out)
    bad = dataclasses.replace(model, head=dataclasses.replace(
        head, output_scale=float(s_out), multiplier=np.asarray(m, np.int32), shift=np.asarray(s, np.int32)))
    path = model_io.save(bad, tmp_path / "bad.npz")
    failing = [c for c in overflow.overflow_audit(bad) if not c.ok]
    assert [c.name for c in failing] == ["head.requantize"]
    out = tmp_path / ("bad.tflite" if fmt == "tflite" else "src")
    proc = subprocess.run([sys.executable, "-m", "fixedrnn", "export", fmt, str(path), str(out), "--allow-overflow"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == len(failing) and "Traceback" not in proc.stderr
    for line, check in zip(lines, failing):
        assert line.startswith(f"export {fmt}: warning: int32 overflow possible in {check.name}: ")
        assert f"[{check.low}, {check.high}]" in line and "--allow-overflow" in line
    assert out.exists()
    again = tmp_path / ("again.tflite" if fmt == "tflite" else "again")
    (export_tflite if fmt == "tflite" else export_c)(bad, again, allow_overflow=True)
    if fmt == "tflite":
        assert again.read_bytes() == out.read_bytes()
    else:
        assert {p.name: p.read_bytes() for p in again.iterdir()} == {p.name: p.read_bytes() for p in out.iterdir()}
