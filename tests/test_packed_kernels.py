"""The packed and sparse FULLY_CONNECTED kernels of the firmware (fixedrnn/c/frnn_packed.c,
frnn_sparse.c), driven by tools/firmware/packed_kernel_main.c on QEMU's Cortex-M4 (-O2 and -Os with
the DSP extension, -Os plain C) and on the host, against the FC computed in Python integers: the
weights decoded by fixedrnn.quant (k-bit two's complement, ``minifloat_decode``), the accumulator an
exact sum, the requantization ``fixedpoint.multiply_by_quantized_multiplier``. Every packed form, rows
and columns of odd lengths, every start phase inside a byte, several chunks of the lane method, the
extreme weights and inputs; sparse rows of every length (empty ones too) and unrolled remainders."""

import sys
from pathlib import Path

import numpy as np
import pytest

from fixedrnn import fixedpoint, quant, sparse
from fixedrnn.weight_forms import WeightForm

REPO = Path(__file__).resolve().parents[1]
C_DIR = REPO / "fixedrnn" / "c"
sys.path.insert(0, str(REPO / "tools" / "firmware"))

import runner  # noqa: E402

PACKED_FORMS = [f for f in ([WeightForm("intk", bits=k) for k in (2, 3, 4)]
                            + [WeightForm("minifloat", exponent_bits=e, mantissa_bits=m)
                               for e in (1, 2, 3) for m in range(7) if (1 << e) - 1 + m <= 7])
                if f.packed]
BUILDS = [pytest.param(runner.BuildConfig("arm", "-O2"), marks=pytest.mark.slow, id="arm-O2-dsp"),
          pytest.param(runner.BuildConfig("arm", "-Os"), marks=pytest.mark.slow, id="arm-Os-dsp"),
          pytest.param(runner.BuildConfig("arm", "-Os", dsp=False), marks=pytest.mark.slow, id="arm-Os-plain"),
          pytest.param(runner.BuildConfig("host", "-O2"), marks=pytest.mark.slow, id="host-O2")]
N_IN = (1, 2, 3, 4, 5, 7, 8, 9, 10, 13, 15, 16, 17, 31, 32, 33, 42, 63, 64, 65)
N_OUT = (1, 2, 3, 4, 5, 7, 9, 10, 16)


def levels_of(form):
    """Every int8 level of a packed form (ascending)."""
    if form.kind == "intk":
        top = (1 << (form.bits - 1)) - 1
        return np.arange(-top, top + 1)
    e, m = form.exponent_bits, form.mantissa_bits
    codes = [c for c in range(2 << (e + m)) if c != 1 << (e + m)]  # no negative zero
    return np.unique(quant.minifloat_decode(np.array(codes), e, m).astype(np.int64))


def fc_params(rng, n_out, out_bits, per_channel, has_bias, narrow):
    """Random requantization parameters (TFLM's ranges) and bias."""
    k = n_out if per_channel else 1
    lo, hi = (-(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1)
    if narrow:
        lo, hi = lo + 20, hi - 30
    return dict(per_channel=int(per_channel), has_bias=int(has_bias),
                input_offset=int(rng.integers(-127, 129)), output_offset=int(rng.integers(-20, 21)),
                act_min=lo, act_max=hi,
                multiplier=rng.integers(1 << 30, 1 << 31, k), shift=rng.integers(-14, 2, k),
                bias=rng.integers(-50_000, 50_001, n_out) if has_bias else None)


def expected(weight, x, p, out_bits):
    """The FC in Python integers: clamp(out_offset + mbqm(sum w (x + in_offset) + bias), lo, hi)."""
    acc = [sum(int(w) * (int(v) + p["input_offset"]) for w, v in zip(row, x)) for row in weight]
    if p["bias"] is not None:
        acc = [a + int(b) for a, b in zip(acc, p["bias"])]
    k = len(acc) if p["per_channel"] else 1
    mult = np.broadcast_to(p["multiplier"], (len(acc),)) if k == 1 else p["multiplier"]
    shift = np.broadcast_to(p["shift"], (len(acc),)) if k == 1 else p["shift"]
    y = fixedpoint.multiply_by_quantized_multiplier(np.array(acc, np.int64), mult, shift).astype(np.int64)
    return np.clip(y + p["output_offset"], p["act_min"], p["act_max"])


def fc_header(p):
    return [p["per_channel"], p["has_bias"], p["input_offset"], p["output_offset"], p["act_min"], p["act_max"], 0]


def fc_payload_tail(p, x):
    return ([] if p["bias"] is None else list(p["bias"])) + list(x)


class PackedCase:
    """One packed FC call: the [n_out][n_in] matrix from element ``start`` of packed codes."""

    def __init__(self, form, n_in, n_out, start, rng, out_bits=8, extreme=False, per_channel=False,
                 has_bias=True, narrow=False):
        levels = levels_of(form)
        total = start + n_in * n_out + int(rng.integers(0, 3))  # some codes after the matrix too
        if extreme:  # every product at its largest magnitude, one sign: the lane chunks' bound
            values = np.full(total, rng.choice([levels[0], levels[-1]]))
            x = np.full(n_in, rng.choice([-128, 127]))
        else:
            values = rng.choice(levels, total)
            x = rng.integers(-128, 128, n_in)
        self.form, self.n_in, self.n_out, self.start, self.out_bits = form, n_in, n_out, start, out_bits
        self.bytes = form.flash_bytes(values)
        self.weight = values[start:start + n_in * n_out].reshape(n_out, n_in)
        self.p = fc_params(rng, n_out, out_bits, per_channel, has_bias, narrow)
        if extreme:  # x + offset = +-255; outputs scaled down to stay inside int16 (no clamp to hide a sum)
            self.p["input_offset"] = -127 if x[0] < 0 else 128
            self.p["shift"] = rng.integers(-18, -12, self.p["shift"].size)
            self.p["act_min"], self.p["act_max"] = -32768, 32767
        self.x = x

    def record(self):
        f = self.form
        header = [1 if self.out_bits == 8 else 2, f.flash_code_bits, int(f.kind == "minifloat"),
                  f.exponent_bits or 0, f.mantissa_bits or 0, self.n_in, self.n_out, self.start, self.bytes.size]
        body = (fc_header(self.p) + list(self.p["multiplier"]) + list(self.p["shift"]) + list(self.bytes)
                + fc_payload_tail(self.p, self.x))
        return np.array(header + body, np.int64)

    def expected(self):
        return expected(self.weight, self.x, self.p, self.out_bits)


class SparseCase:
    """One sparse FC call: rows first_row .. first_row + n_out - 1 of a compressed-row matrix."""

    def __init__(self, n_in, n_out, first_row, density, rng, out_bits=8, per_channel=False, has_bias=True):
        rows = first_row + n_out + int(rng.integers(0, 2))
        dense = rng.integers(-127, 128, (rows, n_in)) * (rng.random((rows, n_in)) < density)
        dense[rng.integers(0, rows)] = 0  # an empty row
        dense[rng.integers(0, rows)] = rng.integers(1, 128, n_in)  # a full one
        if not dense.any():
            dense[0, 0] = 1
        self.matrix = sparse.from_dense(dense.astype(np.int8))
        self.n_in, self.n_out, self.first_row, self.out_bits = n_in, n_out, first_row, out_bits
        self.weight = dense[first_row:first_row + n_out]
        self.p = fc_params(rng, n_out, out_bits, per_channel, has_bias, narrow=False)
        self.x = rng.integers(-128, 128, n_in)

    def record(self):
        arrays = self.matrix.arrays()
        values, columns, row_start = (np.asarray(arrays[k]) for k in ("values", "columns", "row_start"))
        header = [3 if self.out_bits == 8 else 4, self.n_in, self.n_out, self.first_row, row_start.size - 1,
                  values.size]
        body = (fc_header(self.p) + list(self.p["multiplier"]) + list(self.p["shift"]) + list(row_start)
                + list(values) + list(columns) + fc_payload_tail(self.p, self.x))
        return np.array(header + body, np.int64)

    def expected(self):
        return expected(self.weight, self.x, self.p, self.out_bits)


def build_cases(rng):
    cases = []
    for form in PACKED_FORMS:
        per_byte = 8 // form.flash_code_bits
        for n_in in N_IN:  # every row length, every start phase inside a byte
            for start in range(per_byte):
                n_out = int(rng.choice(N_OUT))
                cases.append(PackedCase(form, n_in, n_out, start + per_byte * int(rng.integers(0, 3)), rng,
                                        out_bits=int(rng.choice([8, 16])), per_channel=bool(rng.integers(0, 2)),
                                        has_bias=bool(rng.integers(0, 4)), narrow=bool(rng.integers(0, 2))))
        for n_in in (255, 256, 257, 300, 520):  # one, two and three chunks of the lane method
            cases.append(PackedCase(form, n_in, 3, int(rng.integers(0, per_byte)), rng, extreme=True,
                                    out_bits=16))
        cases.append(PackedCase(form, 10, 42, 4 * 42 * 10 + 1, rng))  # an LSTM gate of the input FC
    for n_in in (1, 2, 3, 5, 8, 13, 64, 256):
        for density in (0.0, 0.1, 0.5, 1.0):
            n_out = int(rng.choice(N_OUT))
            cases.append(SparseCase(n_in, n_out, int(rng.integers(0, 3)), density, rng,
                                    out_bits=int(rng.choice([8, 16])), per_channel=bool(rng.integers(0, 2)),
                                    has_bias=bool(rng.integers(0, 4))))
    return cases


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    cases = build_cases(np.random.default_rng(12))
    path = tmp_path_factory.mktemp("packed") / "in.bin"
    path.write_bytes(b"".join(c.record().astype("<i4").tobytes() for c in cases))
    return path, cases


def test_the_cases_cover_every_form_and_phase(cases):
    _, all_cases = cases
    packed = [c for c in all_cases if isinstance(c, PackedCase)]
    assert {c.form for c in packed} == set(PACKED_FORMS) and len(PACKED_FORMS) == 9
    for form in PACKED_FORMS:
        per_byte = 8 // form.flash_code_bits
        phases = {(c.start + o * c.n_in) % per_byte for c in packed if c.form == form for o in range(c.n_out)}
        assert phases == set(range(per_byte))
    extreme = [c.expected() for c in packed if c.n_in >= 255]
    assert len(extreme) == 5 * len(PACKED_FORMS) and all(np.abs(y).max() < 32767 for y in extreme)


@pytest.mark.parametrize("config", BUILDS)
def test_kernels_equal_python_integers(config, cases, tmp_path):
    missing = runner.toolchain_missing(config.target)
    if missing:
        pytest.skip(missing)
    exe = runner.build(config, tmp_path / "build", main="packed_kernel_main.c", src_dir=C_DIR)
    in_path, all_cases = cases
    out_path = tmp_path / "out.bin"
    runner.run(exe, config, [in_path, out_path], timeout=300)
    got = np.fromfile(out_path, "<i4")
    assert got.size == sum(c.n_out for c in all_cases)
    offset = 0
    for i, case in enumerate(all_cases):
        want = case.expected()
        assert np.array_equal(got[offset:offset + case.n_out], want), (i, type(case).__name__,
                                                                       vars(case).get("form"), case.n_in)
        offset += case.n_out
