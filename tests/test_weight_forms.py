"""The k-bit and minifloat weight forms (fixedrnn.weight_forms, fixedrnn.quant): levels against exact
arithmetic, power-of-two as the minifloat e = 3, m = 0, refusals, the model file, the budget's packed
flash, the engine against TFLM (int8 containers of k-bit and minifloat levels), and the C decoder
of frnn_packed.h against the Python rule on every code."""

import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine_models import random_model, random_sequences
from fixedrnn import convert, layout, quant
from fixedrnn import model as M
from fixedrnn.errors import FixedRnnError, InputFileError
from fixedrnn.weight_forms import WeightForm

REPO = Path(__file__).resolve().parents[1]
#: Every (e, m) the minifloat rule allows: e >= 1, m >= 0, 2**e - 1 + m <= 7.
MINIFLOATS = [(e, m) for e in (1, 2, 3) for m in range(7) if (1 << e) - 1 + m <= 7]
FORMS = ([WeightForm("intk", bits=k) for k in range(2, 9)]
         + [WeightForm("minifloat", exponent_bits=e, mantissa_bits=m) for e, m in MINIFLOATS])


def exact_minifloat(code, e, m):
    """The value of a minifloat code, as a Fraction, from the format's definition: sign bit, octave E
    counted down from 2**6 (E = 1: [64, 128)), mantissa M as the fraction M / 2**m; E = 0 continues
    the last octave's step below it (subnormal)."""
    sign = -1 if code >> (e + m) & 1 else 1
    octave, mantissa = (code >> m) & ((1 << e) - 1), Fraction(code & ((1 << m) - 1), 1 << m)
    if octave:
        return sign * (1 + mantissa) * Fraction(2) ** (7 - octave)
    return sign * mantissa * Fraction(2) ** (7 - ((1 << e) - 1))


# --- the rules -------------------------------------------------------------------------------


@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False, width=32), min_size=1, max_size=30),
       st.floats(1e-4, 10.0), st.integers(2, 8))
def test_k_bit_levels_are_exact_rounding(values, scale, bits):
    q = quant.quantize_symmetric(np.array(values), scale, bits=bits)
    top = 2 ** (bits - 1) - 1
    for v, level in zip(values, q.tolist()):
        x = Fraction(float(v) / float(scale))  # the rule divides in float64 (IEEE, correctly rounded), then rounds exactly
        rounded = int(abs(x) + Fraction(1, 2)) * (1 if x >= 0 else -1)
        assert level == max(-top, min(top, rounded))


@pytest.mark.parametrize("e, m", MINIFLOATS)
def test_minifloat_decode_equals_its_definition(e, m):
    codes = [c for c in range(2 << (e + m)) if c != 1 << (e + m)]
    got = quant.minifloat_decode(codes, e, m).tolist()
    assert got == [exact_minifloat(c, e, m) for c in codes]  # every level an integer of int8
    assert len(set(got)) == len(codes)  # distinct: no code wasted but the negative zero
    assert max(got) == quant.minifloat_top(e, m) == 128 - 2 ** (6 - m)
    assert np.array_equal(quant.minifloat_encode_int8(got, e, m), codes)
    with pytest.raises(FixedRnnError, match="negative zero"):
        quant.minifloat_decode([1 << (e + m)], e, m)


def test_power_of_two_is_the_minifloat_e3_m0():
    codes = [c for c in range(16) if c != 8]
    assert quant.pot_decode(codes).tolist() == [exact_minifloat(c, 3, 0) for c in codes]
    w = np.random.default_rng(0).normal(0, 1, (9, 7))
    pot = WeightForm("pot")
    assert np.array_equal(pot.quantize(w, 0.02), quant.quantize_minifloat(w, 0.02, 3, 0))


@pytest.mark.parametrize("e, m", MINIFLOATS)
def test_minifloat_quantizer_takes_the_nearest_level(e, m):
    rng = np.random.default_rng(e * 10 + m)
    levels = quant.minifloat_magnitudes(e, m)
    w = np.concatenate([rng.normal(0, 60, 400), (levels[:-1] + levels[1:]) / 2, -levels * 1.0, [500.0]])
    q = quant.quantize_minifloat(w, 1.0, e, m).astype(np.int64)
    for v, level in zip(w.tolist(), q.tolist()):
        best = min(abs(abs(Fraction(v)) - L) for L in levels.tolist())
        assert abs(abs(Fraction(v)) - abs(level)) == best  # nearest
        if best == abs(abs(Fraction(v)) - abs(level)) and level:
            assert (level > 0) == (v > 0)
    ties = quant.quantize_minifloat((levels[:-1] + levels[1:]) / 2, 1.0, e, m)
    assert np.array_equal(ties, levels[1:])  # a tie goes to the larger magnitude


@pytest.mark.parametrize("bits", [2, 4])
def test_pack_codes_puts_element_i_at_its_bits(bits):
    rng = np.random.default_rng(bits)
    for count in range(0, 11):
        codes = rng.integers(0, 1 << bits, count)
        packed = quant.pack_codes(codes, bits)
        per = 8 // bits
        assert packed.size == -(-count // per)
        for i, c in enumerate(codes.tolist()):
            assert (int(packed[i // per]) >> (bits * (i % per))) & ((1 << bits) - 1) == c
        assert np.array_equal(quant.unpack_codes(packed, count, bits), codes)
        if count % per:  # the last byte's top slot is padding: a bit set there is refused
            packed[-1] |= 0x80
            with pytest.raises(FixedRnnError, match="padding"):
                quant.unpack_codes(packed, count, bits)


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, problem", [
    (dict(kind="intk", bits=1), "bits must be an integer in 2..8"),
    (dict(kind="intk", bits=9), "bits must be an integer in 2..8"),
    (dict(kind="intk", bits=True), "bits must be an integer in 2..8"),
    (dict(kind="intk"), "needs bits"),
    (dict(kind="int8", bits=4), "takes no bits"),
    (dict(kind="minifloat", exponent_bits=0, mantissa_bits=2), "e >= 1"),
    (dict(kind="minifloat", exponent_bits=2, mantissa_bits=5), "2\\*\\*e - 1 \\+ m <= 7"),
    (dict(kind="minifloat", exponent_bits=3, mantissa_bits=1), "e 3: m = 0"),
    (dict(kind="minifloat", exponent_bits=4, mantissa_bits=0), "e >= 1"),
    (dict(kind="minifloat", exponent_bits=1, mantissa_bits=-1), "m >= 0"),
    (dict(kind="int4"), "weights must be one of"),
])
def test_forms_out_of_range_are_refused_in_one_line(kwargs, problem):
    with pytest.raises(FixedRnnError, match=problem) as info:
        WeightForm(**kwargs)
    assert "\n" not in str(info.value)
    kind = kwargs.pop("kind")
    with pytest.raises(FixedRnnError, match=problem):
        random_model(0, "rnn", kind, **{k: v for k, v in kwargs.items()})


def _arrays(form_kwargs, cell="rnn"):
    return random_model(1, cell, **form_kwargs).to_arrays()


@pytest.mark.parametrize("change, problem", [
    (lambda a: a.update({"weights.bits": np.int32(9)}), "'weights.bits' must be <= 8"),
    (lambda a: a.pop("weights.bits"), "missing key 'weights.bits'"),
    (lambda a: a.update({"head.weight": np.full_like(a["head.weight"], -8)}),
     "'head.weight' must hold int4 levels in \\[-7, 7\\], got -8"),
    (lambda a: a.update({"weights": np.array("int8")}), "unexpected key 'weights.bits'"),
])
def test_model_file_refuses_bad_k_bit_keys(change, problem):
    arrays = _arrays(dict(weights="intk", bits=4))
    change(arrays)
    with pytest.raises(InputFileError, match=problem):
        M.Model.from_arrays(arrays)


def test_model_file_refuses_a_value_that_is_no_minifloat_level(tmp_path):
    arrays = _arrays(dict(weights="minifloat", exponent_bits=2, mantissa_bits=1))
    arrays["rnn.input_fc.weight"] = arrays["rnn.input_fc.weight"].copy()
    arrays["rnn.input_fc.weight"][0, 0] = 7
    with pytest.raises(InputFileError, match="'rnn.input_fc.weight': values must be minifloat \\(e=2, m=1\\) levels, got 7"):
        M.Model.from_arrays(arrays)
    arrays["weights.mantissa_bits"] = np.int32(5)
    with pytest.raises(InputFileError, match="mantissa_bits m = 5"):
        M.Model.from_arrays(arrays)


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.label.replace(" ", "-"))
def test_converted_model_holds_levels_and_round_trips(form, tmp_path):
    params = {k: getattr(form, k) for k in ("bits", "exponent_bits", "mantissa_bits") if getattr(form, k) is not None}
    model = random_model(3, "rnn", form.kind, per_channel=True, units=9, **params)
    assert model.weight_form == form
    for fc in (model.rnn.input_fc, model.rnn.recurrent_fc, model.head):
        form.check_levels(fc.weight)
        assert np.max(np.abs(fc.weight)) == form.top  # the peak of the tensor is the top level
    loaded = M.load(M.save(model, tmp_path / "m.npz"))
    assert loaded.weight_form == form and repr(loaded).startswith(f"Model(cell='rnn', weights='{form.label}'")
    for a, b in zip(M.Model.to_arrays(model).items(), loaded.to_arrays().items()):
        assert a[0] == b[0] and np.array_equal(a[1], b[1])


# --- the budget's flash --------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_packed_weights_take_ceil_n_b_over_8_bytes(cell):
    int8 = random_model(2, cell, "int8", units=10, n_in=5)
    int8_items = {i.symbol: i for i in layout.model_flash_items(int8.to_arrays())}
    for form in FORMS:
        params = {k: getattr(form, k) for k in ("bits", "exponent_bits", "mantissa_bits") if getattr(form, k) is not None}
        model = random_model(2, cell, form.kind, units=10, n_in=5, **params)
        items = {i.symbol: i for i in layout.model_flash_items(model.to_arrays())}
        assert items.keys() == int8_items.keys()
        for symbol, item in items.items():
            if item.kind != "weights":
                assert item == int8_items[symbol]
                continue
            n = int8_items[symbol].count
            bits = 2 if form.code_bits <= 2 else 4 if form.code_bits <= 4 else 8
            assert item.nbytes == -(-n * bits // 8)
            assert item.c_type == ("int8_t" if bits == 8 else "uint8_t")


# --- the engine against TFLM ---------------------------------------------------------------------


@pytest.mark.slow  # 60 cases, 120 models through TFLM: about 14 s
@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.label.replace(" ", "-"))
@pytest.mark.parametrize("cell, per_channel", [("rnn", False), ("rnn", True), ("lstm", False)])
def test_engine_equals_tflm(form, cell, per_channel):
    pytest.importorskip("tflite_micro")
    from fixedrnn.tflm_runner import TflmRunner

    params = {k: getattr(form, k) for k in ("bits", "exponent_bits", "mantissa_bits") if getattr(form, k) is not None}
    for seed in (5, 6):
        model = random_model(seed, cell, form.kind, per_channel, n_in=5, units=7, n_cls=4, frames=9,
                             wide=seed == 6, **params)
        xs = random_sequences(seed, 3, 9, 5)
        expected = model.run_features_batch(xs, backend="numpy")
        np.testing.assert_array_equal(model.run_features_batch(xs, backend="numba"), expected)
        np.testing.assert_array_equal(TflmRunner(model)(xs), expected)


# --- the C decoder -------------------------------------------------------------------------------

DECODE_MAIN = r"""
#include <stdio.h>
#include "frnn_packed.h"
int main(void)
{
    static const frnn_packed_format formats[] = {FORMATS};
    for (unsigned f = 0; f < sizeof formats / sizeof formats[0]; ++f) {
        for (uint32_t code = 0; code < (1u << formats[f].code_bits); ++code) {
            printf("%d ", (int)frnn_packed_decode(code, &formats[f]));
        }
        printf("\n");
    }
    return 0;
}
"""


def test_c_decoder_equals_the_python_rule_on_every_code(tmp_path):
    """frnn_packed_decode (host gcc) on every code of every packed form equals fixedrnn.quant's
    decode (k-bit: the two's complement in 2 or 4 bits; minifloat: minifloat_decode)."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc not found")
    packed = [f for f in FORMS if f.packed]
    init = ", ".join(f"{{{f.flash_code_bits}, {int(f.kind == 'minifloat')}, {f.exponent_bits or 0}, "
                     f"{f.mantissa_bits or 0}}}" for f in packed)
    (tmp_path / "main.c").write_text(DECODE_MAIN.replace("FORMATS", init))
    exe = tmp_path / "decode"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", f"-I{REPO / 'fixedrnn' / 'c'}",
                    str(tmp_path / "main.c"), "-o", str(exe)], check=True, capture_output=True)
    rows = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines()
    assert len(rows) == len(packed)
    for form, row in zip(packed, rows):
        got = [int(v) for v in row.split()]
        b = form.flash_code_bits
        if form.kind == "intk":
            want = [c - (1 << b) if c >> (b - 1) else c for c in range(1 << b)]
        else:
            e, m = form.exponent_bits, form.mantissa_bits
            want = [int(exact_minifloat(c, e, m)) for c in range(1 << b)]  # negative zero decodes to 0
        assert got == want, form.label
        valid = [c for c in range(1 << b) if form.kind == "intk" and abs(want[c]) <= form.top
                 or form.kind == "minifloat" and c < 1 << form.code_bits and c != 1 << (form.code_bits - 1)]
        assert np.array_equal(form.flash_codes(np.array([want[c] for c in valid])), valid)
