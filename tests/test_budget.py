"""Tests of fixedrnn.budget and the layout it counts (fixedrnn.layout): byte counts computed
independently (from the arrays and CMSIS-DSP's table sizes), the items against arm-none-eabi-nm, the
verdict and flags, --json round trip, bad input. The overflow audit itself: tests/test_overflow.py."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from fixedrnn import budget, layout
from fixedrnn.errors import FixedRnnError

# CMSIS-DSP table lengths as declared in Include/arm_common_tables.h (the oracle for the formulas):
# twiddleCoef_<L>_q15/_q31[...] and ARMBITREVINDEXTABLE_FIXED_<L>_TABLE_LENGTH.
CMSIS_TWIDDLE_LENGTH = {16: 24, 32: 48, 64: 96, 128: 192, 256: 384, 512: 768, 1024: 1536, 2048: 3072, 4096: 6144}
CMSIS_BITREV_LENGTH = {16: 12, 32: 24, 64: 56, 128: 112, 256: 240, 512: 480, 1024: 992, 2048: 1984, 4096: 4032}
# realCoefAQ15/realCoefBQ15 (and Q31) hold 8192 numbers read with stride 8192 / N.
CMSIS_REAL_COEF_LENGTH = 8192

HIGH = 1 << 30  # a valid quantized multiplier (0.5)


def _frontend(fft_length=256, n_mels=20, n_mfcc=13, precision="q15"):
    return {
        "frontend.sample_rate": np.int32(8000),
        "frontend.fft_length": np.int32(fft_length),
        "frontend.hop": np.int32(128),
        "frontend.n_mels": np.int32(n_mels),
        "frontend.n_mfcc": np.int32(n_mfcc),
        "frontend.fmin": np.float64(20.0),
        "frontend.fmax": np.float64(4000.0),
        "frontend.window": np.array("hamming"),
        "frontend.precision": np.array(precision),
    }


def _fc(prefix, weights, bias, pot, per_channel=False):
    """FC block keys; ``weights`` int8 values (power-of-two values when ``pot``)."""
    from fixedrnn.quant import pot_encode_int8, pot_pack

    out = {}
    rows = weights.shape[-2] if weights.ndim == 3 else weights.shape[0]
    n_scales = (weights.shape[0] if weights.ndim == 3 else (rows if per_channel else 1))
    if pot:
        out[f"{prefix}.pot"] = pot_pack(pot_encode_int8(weights))
    else:
        out[f"{prefix}.weight"] = weights.astype(np.int8)
    out[f"{prefix}.weight_scale"] = np.full(n_scales, 0.01, dtype=np.float32)
    if bias is not None:
        out[f"{prefix}.bias"] = bias.astype(np.int32)
    out[f"{prefix}.multiplier"] = np.full(n_scales, HIGH, dtype=np.int32)
    out[f"{prefix}.shift"] = np.full(n_scales, -8, dtype=np.int32)
    return out


def _weights(rng, shape, pot):
    if pot:
        mag = np.where(rng.random(shape) < 0.1, 0, 2 ** rng.integers(0, 7, shape))
        return (mag * rng.choice([-1, 1], shape)).astype(np.int8)
    return rng.integers(-127, 128, shape).astype(np.int8)


def make_model(cell="rnn", pot=False, units=16, n_classes=10, frames=40, precision="q15", fft_length=256,
               n_mels=20, n_mfcc=13, seed=0, input_zero_point=-5):
    """A schema-version-1 model (docs/model-format.md) as a dict of arrays, random weights."""
    rng = np.random.default_rng(seed)
    m = {
        "format": np.array("fixedrnn-model"),
        "schema_version": np.int32(1),
        "cell": np.array(cell),
        "weights": np.array("pot" if pot else "int8"),
        "labels": np.array([str(i) for i in range(n_classes)]),
        **_frontend(fft_length, n_mels, n_mfcc, precision),
        "sequence.frames": np.int32(frames),
        "input.offset": rng.integers(-1000, 1000, n_mfcc).astype(np.int32),
        "input.multiplier": np.full(n_mfcc, HIGH, dtype=np.int32),
        "input.shift": np.full(n_mfcc, -4, dtype=np.int32),
        "input.scale": np.float32(0.05),
        "input.zero_point": np.int32(input_zero_point),
    }
    h = units
    if cell == "rnn":
        m["rnn.units"] = np.int32(h)
        m.update(_fc("rnn.input_fc", _weights(rng, (h, n_mfcc), pot), rng.integers(-5000, 5000, h), pot, True))
        m.update(_fc("rnn.recurrent_fc", _weights(rng, (h, h), pot), None, pot))
        for key in ("input_fc", "recurrent_fc"):
            m[f"rnn.{key}.output_scale"] = np.float32(0.05)
            m[f"rnn.{key}.output_zero_point"] = np.int32(0)
        m["rnn.add.output_scale"] = np.float32(0.08)
        m["rnn.add.output_zero_point"] = np.int32(0)
        for key in ("input1", "input2", "output"):
            m[f"rnn.add.{key}_multiplier"] = np.int32(HIGH)
            m[f"rnn.add.{key}_shift"] = np.int32(-1)
        m["rnn.tanh.input_multiplier"] = np.int32(HIGH)
        m["rnn.tanh.input_shift"] = np.int32(-3)
        m["rnn.tanh.input_range_radius"] = np.int32(120)
        head_zp = 0
    else:
        m["lstm.units"] = np.int32(h)
        m.update(_fc("lstm.input_fc", _weights(rng, (4, h, n_mfcc), pot), rng.integers(-5000, 5000, (4, h)), pot))
        m.update(_fc("lstm.recurrent_fc", _weights(rng, (4, h, h), pot), None, pot))
        m["lstm.hidden.scale"] = np.float32(1 / 128)
        m["lstm.hidden.zero_point"] = np.int32(3)
        m["lstm.cell.scale_power"] = np.int32(-11)
        for key in ("forget_mul", "input_mul", "output_mul"):
            m[f"lstm.{key}.multiplier"] = np.int32(HIGH)
            m[f"lstm.{key}.shift"] = np.int32(-10)
        head_zp = 3
    m.update(_fc("head", _weights(rng, (n_classes, h), pot), rng.integers(-500, 500, n_classes), pot, True))
    m["head.output_scale"] = np.float32(0.1)
    m["head.output_zero_point"] = np.int32(head_zp)
    return m


# ---- sizes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [("36864", 36864), ("36K", 36864), ("36k", 36864), ("36KB", 36864), ("36 KiB", 36864), ("1.5K", 1536),
     ("0", 0), ("2M", 2 * 1024 * 1024), ("1MiB", 1048576)],
)
def test_parse_size(text, expected):
    assert budget.parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "K", "-1", "36Q", "36 kbit", "1.1", "0.3K", "3e4"])
def test_parse_size_rejects(text):
    with pytest.raises(FixedRnnError, match="--flash"):
        budget.parse_size(text, "--flash")


@pytest.mark.parametrize("length", sorted(CMSIS_TWIDDLE_LENGTH))
def test_cmsis_table_lengths(length):
    assert layout.cfft_twiddle_count(length) == CMSIS_TWIDDLE_LENGTH[length]
    assert layout.bitrev_table_length(length) == CMSIS_BITREV_LENGTH[length]
    # the stride-1 slice of the shared real-FFT table a real FFT of 2·length reads
    n = 2 * length
    stride = CMSIS_REAL_COEF_LENGTH // n
    assert layout.rfft_coef_count(n) == len(range(0, CMSIS_REAL_COEF_LENGTH, stride))


def test_mfcc_scratch_matches_cmsis_buffer_size():
    cmsisdsp = pytest.importorskip("cmsisdsp")
    from cmsisdsp import datatype as dt

    for n in (64, 256, 512, 1024):
        for precision, code, size in (("q15", dt.Q15, 2), ("q31", dt.Q31, 4)):
            numbers = cmsisdsp.arm_mfcc_tmp_buffer_size(code, n, 1)
            assert layout.mfcc_scratch_count(n, precision) * 4 == numbers * size


# ---- byte counts, computed independently -----------------------------------------------------


def _cmsis_filter_coef_count(model):
    """Sum of the mel filter lengths by CMSIS-DSP's own table generator (cmsisdsp.mfcc)."""
    cmsis_mfcc = pytest.importorskip("cmsisdsp.mfcc")
    from cmsisdsp import datatype as dt

    lengths, _, _ = cmsis_mfcc.melFilterMatrix(
        dt.Q15, float(model["frontend.fmin"]), float(model["frontend.fmax"]), int(model["frontend.n_mels"]),
        int(model["frontend.sample_rate"]), int(model["frontend.fft_length"]))
    return int(np.sum(lengths))


def expected_flash(model):
    """Flash bytes by hand from the model's dimensions and CMSIS-DSP's table sizes."""
    cell = str(model["cell"])
    pot = str(model["weights"]) == "pot"
    h = int(model[f"{cell}.units"])
    i = int(model["frontend.n_mfcc"])
    c = len(model["labels"])
    n = int(model["frontend.fft_length"])
    mels = int(model["frontend.n_mels"])
    q = 2 if str(model["frontend.precision"]) == "q15" else 4

    def weights(count):
        return math.ceil(count / 2) if pot else count

    total = 3 * 4 * i  # input offset, multiplier, shift: int32 [I]
    if cell == "rnn":
        total += weights(h * i) + 4 * h + 2 * 4 * h  # input FC, per channel
        total += weights(h * h) + 2 * 4  # recurrent FC, per tensor, no bias
        total += 256  # int8 TANH tabulated on the 256 int8 inputs
    else:
        total += weights(4 * h * i) + 4 * 4 * h + 2 * 4 * 4  # per gate: W, bias [4, H], multiplier/shift [4]
        total += weights(4 * h * h) + 2 * 4 * 4
        total += 256 * 2  # sigmoid_table_uint16[256]
    total += weights(c * h) + 4 * c + 2 * 4 * c  # head, per channel
    total += (15 * 15 + 1) * 2 if pot else 0  # PoT pair table: int16, every pair of the 15 valid codes as neighbours
    total += i  # int8 silent-frame features
    # front end: window, mel filters (positions, lengths uint32; coefficients), DCT
    total += q * n + 2 * 4 * mels + q * _cmsis_filter_coef_count(model) + q * i * mels
    # real FFT of N: realCoefA/B read with stride 8192/N, a complex FFT of N/2
    total += 2 * q * (CMSIS_REAL_COEF_LENGTH // (CMSIS_REAL_COEF_LENGTH // n))
    total += q * CMSIS_TWIDDLE_LENGTH[n // 2] + 2 * CMSIS_BITREV_LENGTH[n // 2]
    total += 32 * 4  # sqrt_initial_lut_q31[32] (arm_sqrt_q31, both precisions)
    total += 16 + 56  # arm_cfft_instance, arm_mfcc_instance (Cortex-M, 4-byte pointers)
    return total


def expected_ram(model):
    cmsisdsp = pytest.importorskip("cmsisdsp")
    from cmsisdsp import datatype as dt

    cell = str(model["cell"])
    h = int(model[f"{cell}.units"])
    i = int(model["frontend.n_mfcc"])
    c = len(model["labels"])
    n = int(model["frontend.fft_length"])
    t = int(model["sequence.frames"])
    q15 = str(model["frontend.precision"]) == "q15"
    q = 2 if q15 else 4
    total = 2 * n + 4 + q * n  # int16 audio frame, uint32 sample count, arm_mfcc input copy
    total += q * cmsisdsp.arm_mfcc_tmp_buffer_size(dt.Q15 if q15 else dt.Q31, n, 1)  # pTmp
    total += q * i  # MFCC output
    total += t * i + h + c  # the feature window [T, I], hidden, logits
    total += 2 * h + 4 * 2 * h if cell == "lstm" else 2 * h  # cell state + 4 int16 gates | 2 int8 FC outputs
    return total


CASES = [
    dict(cell="rnn", pot=False),
    dict(cell="rnn", pot=True),
    dict(cell="lstm", pot=False),
    dict(cell="lstm", pot=True, units=13, n_mfcc=11),  # odd element counts: packed nibbles round up
    dict(cell="rnn", pot=True, precision="q31", fft_length=512, n_mels=32, units=9, n_classes=3),
    dict(cell="lstm", pot=False, precision="q31", fft_length=128, n_mels=16, n_mfcc=10, frames=7),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_byte_counts_match_independent_count(case):
    model = make_model(**case)
    report = budget.audit(model)
    assert report.flash_total == expected_flash(model)
    assert report.ram_total == expected_ram(model)
    assert report.total == report.flash_total + report.ram_total


def test_items_are_c_arrays():
    model = make_model("lstm", True)
    items = layout.flash_items(model) + layout.ram_items(model)
    symbols = [item.symbol for item in items]
    assert len(set(symbols)) == len(symbols)
    for item in items:
        assert item.symbol.isidentifier() and item.symbol.startswith("fr_")
        assert item.nbytes == item.count * layout.C_TYPE_BYTES[item.c_type]
        assert item.region in ("flash", "ram")
        assert int(np.prod(item.shape)) == item.count
    declarations = {item.symbol: item.c_declaration() for item in items}
    assert declarations["fr_lstm_input_fc_pot"] == "const uint8_t fr_lstm_input_fc_pot[416]"  # ceil(4·16·13 / 2)
    assert declarations["fr_cell_state"] == "int16_t fr_cell_state[16]"
    assert declarations["fr_mfcc_instance"] == "const arm_mfcc_instance_q15 fr_mfcc_instance"


def test_stored_arrays_are_counted_as_stored():
    model = make_model("rnn", True, units=7, n_mfcc=5)
    items = {item.source: item for item in layout.flash_items(model)}
    for key in ("rnn.input_fc.pot", "rnn.recurrent_fc.pot", "head.pot", "head.bias", "input.offset"):
        assert items[key].nbytes == model[key].nbytes
    assert items["rnn.input_fc.pot"].nbytes == 18  # ceil(35 / 2)
    assert not any("weight_scale" in source for source in items)  # float scales stay on the host


# ---- the command line ------------------------------------------------------------------------


def _save(tmp_path, model, name="model.npz"):
    path = tmp_path / name
    np.savez(path, **model)
    return path


def _run(capsys, *argv):
    code = budget.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_fits_and_over_budget(tmp_path, capsys):
    path = _save(tmp_path, make_model("lstm", False))
    code, out, err = _run(capsys, path)
    assert code == 0 and err == "" and "verdict: FITS" in out
    total = budget.audit_file(str(path)).total
    code, out, _ = _run(capsys, path, "--budget", total)
    assert code == 0  # exactly at the budget fits
    code, out, _ = _run(capsys, path, "--budget", total - 1)
    assert code == 1 and "OVER by 1 bytes" in out and "over the total budget" in out


def test_big_model_is_over_default_budget(tmp_path, capsys):
    path = _save(tmp_path, make_model("lstm", False, units=96))  # 4·96·(13 + 96) int8 weights alone: 40.9 KiB
    code, out, _ = _run(capsys, path)
    assert code == 1 and "verdict: FAILS: over the total budget" in out
    code, _, _ = _run(capsys, path, "--budget", "64K")
    assert code == 0


def test_flash_and_ram_flags(tmp_path, capsys):
    path = _save(tmp_path, make_model("rnn", True))
    report = budget.audit_file(str(path))
    for flag, used in (("--flash", report.flash_total), ("--ram", report.ram_total)):
        assert _run(capsys, path, flag, used)[0] == 0
        code, out, _ = _run(capsys, path, flag, used - 1)
        assert code == 1 and f"over the {flag[2:]} budget" in out
    # suffixes: 1 K = 1024 bytes
    assert _run(capsys, path, "--ram", "2K")[0] == (0 if report.ram_total <= 2048 else 1)
    code, out, err = _run(capsys, path, "--flash", "5 parsecs")
    assert code == 2 and out == "" and err.startswith("fixedrnn.budget: error: --flash:") and err.count("\n") == 1


def test_feature_window_is_t_frames_and_streaming_mode_has_none(tmp_path, capsys):
    """The default layout is the window firmware's: the T x I int8 feature window and the
    silent-frame features. --mode streaming is the streaming firmware's: no window, the silent
    frame (its cell reset steps on it), a pre-roll ring of P x I int8 features and the decision's
    W x C int8 scores (the default StreamConfig: P = 4, 16 silent steps, W = 4); an unknown mode is
    refused."""
    path = _save(tmp_path, make_model("rnn", False, frames=100, n_mfcc=13))
    report = budget.audit_file(str(path))
    items = {item.symbol: item for item in report.flash + report.ram}
    assert items["fr_features"].nbytes == 100 * 13 and items["fr_silence_features"].nbytes == 13
    stream = budget.audit_file(str(path), mode="streaming")
    stream_items = {item.symbol: item for item in stream.flash + stream.ram}
    assert "fr_features" not in stream_items and stream_items["fr_silence_features"].nbytes == 13
    assert stream_items["fr_preroll"].nbytes == 4 * 13
    assert stream_items["fr_decision_scores"].nbytes == 4 * 10  # C = 10 classes
    assert stream.flash_total == report.flash_total
    code, out, _ = _run(capsys, path, "--mode", "streaming", "--json")
    assert code == 0 and json.loads(out)["ram"]["total"] == stream.ram_total
    with pytest.raises(SystemExit) as exc:
        budget.main([str(path), "--mode", "sideways"])
    assert exc.value.code == 2 and "--mode" in capsys.readouterr().err


def test_json_round_trip(tmp_path, capsys):
    path = _save(tmp_path, make_model("lstm", True))
    code, out, _ = _run(capsys, path, "--json", "--ram", "3KiB")
    data = json.loads(out)
    report = budget.BudgetReport.from_dict(data)
    assert report.to_dict() == data
    assert data["exit_code"] == code == 0
    assert data["budget"] == {"total": 36864, "flash": None, "ram": 3072}
    assert data["total"] == data["flash"]["total"] + data["ram"]["total"]
    assert data["flash"]["total"] == sum(item["nbytes"] for item in data["flash"]["items"])
    assert report == budget.audit_file(str(path), limits=budget.Limits(ram=3072))


def test_cost(tmp_path):
    model = make_model("lstm", True, units=8, n_mfcc=5, n_classes=4, frames=10)
    cost = budget.model_cost(model)
    assert (cost.macs_per_frame, cost.shift_accs_per_frame) == (0, 4 * 8 * 5 + 4 * 8 * 8)
    assert (cost.head_macs, cost.head_shift_accs) == (0, 4 * 8)
    assert cost.per_inference == 10 * (4 * 8 * 13) + 32
    assert cost.frames_per_second == 8000 / 128 and cost.per_second == 62.5 * 4 * 8 * 13
    assert cost.parameters == 4 * 8 * 13 + 4 * 8 + 4 * 8 + 4
    rnn = budget.model_cost(make_model("rnn", False, units=8, n_mfcc=5, n_classes=4))
    assert (rnn.macs_per_frame, rnn.shift_accs_per_frame, rnn.head_macs) == (8 * 5 + 8 * 8, 0, 32)


# ---- bad input -------------------------------------------------------------------------------


def _bad_models(tmp_path):
    """(path, expected words of the message) for each kind of unusable input."""
    cases = [(tmp_path / "absent.npz", "no such")]
    not_zip = tmp_path / "notzip.npz"
    not_zip.write_bytes(b"this is not a zip archive\n")
    cases.append((not_zip, "not"))
    pickled = make_model("rnn", False)
    pickled["labels"] = np.array([object(), "b"], dtype=object)
    pickled_path = tmp_path / "pickled.npz"
    np.savez(pickled_path, **pickled)
    cases.append((pickled_path, "labels"))
    missing = make_model("rnn", False)
    del missing["head.bias"]
    cases.append((_save(tmp_path, missing, "missing.npz"), "head.bias"))
    dtype = make_model("rnn", False)
    dtype["rnn.input_fc.weight"] = dtype["rnn.input_fc.weight"].astype(np.float32)
    cases.append((_save(tmp_path, dtype, "dtype.npz"), "rnn.input_fc.weight"))
    shape = make_model("lstm", False)
    shape["lstm.input_fc.bias"] = shape["lstm.input_fc.bias"][:3]
    cases.append((_save(tmp_path, shape, "shape.npz"), "lstm.input_fc.bias"))
    version = make_model("rnn", True)
    version["schema_version"] = np.int32(99)
    cases.append((_save(tmp_path, version, "version.npz"), "schema"))
    return cases


def test_bad_input_exits_2_with_one_line(tmp_path, capsys):
    for path, words in _bad_models(tmp_path):
        code, out, err = _run(capsys, path)
        assert code == 2, path
        assert out == ""
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert err.startswith("fixedrnn.budget: error: ") and str(path) in err and words in err, err


@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_bad_input_cli_no_traceback(tmp_path):
    bad = _bad_models(tmp_path)
    for path, words in (bad[1], bad[2]):  # not a zip; pickled objects
        proc = subprocess.run([sys.executable, "-m", "fixedrnn.budget", str(path)], capture_output=True, text=True)
        assert proc.returncode == 2 and proc.stdout == ""
        assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1 and str(path) in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "fixedrnn.budget", str(bad[0][0]), "--budget", "lots"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "--budget" in proc.stderr and "Traceback" not in proc.stderr


# ---- the items as the compiler lays them out -------------------------------------------------


@pytest.mark.parametrize("cell, precision", [("rnn", "q31"), ("lstm", "q15")])
def test_item_sizes_match_arm_gcc_nm(tmp_path, cell, precision):
    """Every array item, declared as c_declaration() says, has its byte count as `nm -S` reports it
    for a Cortex-M4 object file (CMSIS instances need CMSIS-DSP's headers and are left out)."""
    import shutil

    gcc, nm = shutil.which("arm-none-eabi-gcc"), shutil.which("arm-none-eabi-nm")
    if not gcc or not nm:
        pytest.skip("arm-none-eabi-gcc / arm-none-eabi-nm not installed")
    model = make_model(cell, True, units=11, n_mfcc=9, precision=precision)
    items = [i for i in layout.flash_items(model) + layout.ram_items(model) if not i.is_instance]
    lines = ["#include <stdint.h>", "typedef int16_t q15_t;", "typedef int32_t q31_t;"]
    lines += [item.c_declaration() + (" = {0};" if item.region == "flash" else ";") for item in items]
    (tmp_path / "items.c").write_text("\n".join(lines) + "\n")
    subprocess.run([gcc, "-mcpu=cortex-m4", "-mthumb", "-O2", "-fdata-sections", "-c", "items.c", "-o", "items.o"],
                   cwd=tmp_path, check=True)
    listing = subprocess.run([nm, "-S", "items.o"], cwd=tmp_path, check=True, capture_output=True, text=True).stdout
    sizes = {}
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) == 4:
            sizes[parts[3]] = (int(parts[1], 16), parts[2])
    for item in items:
        size, section = sizes[item.symbol]
        assert size == item.nbytes, item.symbol
        assert section in (("R",) if item.region == "flash" else ("B", "C")), (item.symbol, section)
