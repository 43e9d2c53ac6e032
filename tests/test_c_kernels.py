"""The C kernels of fixedrnn/c/frnn_kernels.c, run by tools/firmware/kernel_main.c on the host and on
QEMU's Cortex-M4 (-O2 and -Os, DSP intrinsics and portable C), against independent references:
fixedrnn.fixedpoint (primitives), exact Python integers (dot products, PoT decoded by
fixedrnn.quant), fixedrnn.gemmlowp (fixed-point tanh) and the TFLite int16 LUT rules re-derived
from the sigmoid table's formula. One run per build handles every case."""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fixedrnn import fixedpoint, gemmlowp, quant

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "firmware"))

import runner  # noqa: E402

C_DIR = REPO / "fixedrnn" / "c"
BUILDS = [
    runner.BuildConfig("host", "-O2"),
    runner.BuildConfig("arm", "-O2"),
    runner.BuildConfig("arm", "-Os"),
    runner.BuildConfig("arm", "-O2", dsp=False),
]
I32 = (-(2**31), 2**31 - 1)


def sigmoid_table():
    """A monotone sigmoid table like TFLite's sigmoid_table_uint16 (sigmoid(i/24) in 0.16). The
    kernel's interpolation rules hold for any table; the generated firmware embeds the engine's own
    table (fixedrnn.ops.lut_s16), so this one need not equal TFLite's entry for entry."""
    return [min(65535, math.floor(65536 / (1 + math.exp(-i / 24)) + 0.5)) for i in range(256)]


def ref_sigmoid16(x, mult, shift, table):
    if mult == 0:
        mult, shift = 3 << shift, 0
    rnd = (1 << (shift - 1)) if shift > 0 else 0
    v = (x * mult + rnd) >> shift
    a = abs(v)
    uh = a >> 9
    r = (0x7FFF << 10) if uh >= 255 else (table[uh] << 9) + (a & 0x1FF) * (table[uh + 1] - table[uh])
    r = r + (1 << 9) if v >= 0 else (1 << 25) - r + (1 << 9) - 1
    return ((r >> 10) + 2**15) % 2**16 - 2**15


def ref_tanh16(x, mult, shift, table):
    if mult == 0:
        mult, shift = 3 << shift, 0
    rnd = (1 << (shift - 1)) if shift > 0 else 0
    v = (x * mult + rnd) >> shift
    a = abs(v)
    uh = a >> 8
    r = (0xFFFF << 8) if uh >= 255 else (table[uh] << 8) + (a & 0xFF) * (table[uh + 1] - table[uh])
    r = r - (1 << 23) + (1 << 7) if v >= 0 else -r + (1 << 23) + (1 << 7) - 1
    return ((r >> 8) + 2**15) % 2**16 - 2**15


def build_cases(rng):
    """(records as int32 arrays, expected outputs) for every op."""
    records, expected = [], []

    def add(op, n, p0, p1, payload, want):
        records.append(np.concatenate([[op, n, p0, p1], *payload]).astype(np.int64))
        expected.append(np.asarray(want, dtype=np.int64))

    n = 2000
    edges = np.array([I32[0], I32[0] + 1, -1, 0, 1, 2**30, I32[1]], dtype=np.int64)
    a = np.concatenate([rng.integers(*I32, n, endpoint=True), np.repeat(edges, len(edges))])
    b = np.concatenate([rng.integers(*I32, n, endpoint=True), np.tile(edges, len(edges))])
    add(1, a.size, 0, 0, [a, b], fixedpoint.saturating_rounding_doubling_high_mul(a, b))
    e = rng.integers(0, 31, a.size, endpoint=True)
    add(2, a.size, 0, 0, [a, e], fixedpoint.rounding_divide_by_pot(a, e))
    m = rng.integers(2**30, 2**31 - 1, n, endpoint=True)
    s = rng.integers(-31, 8, n, endpoint=True)
    x = rng.integers(-(2**15), 2**15, n)
    x = np.where(s > 0, x, rng.integers(*I32, n, endpoint=True))
    add(3, n, 0, 0, [x, m, s], fixedpoint.multiply_by_quantized_multiplier(x, m, s))
    q4 = np.concatenate([rng.integers(*I32, n, endpoint=True), edges, np.arange(-3000, 3000) << 16])
    exp_multipliers = [gemmlowp.constant(math.exp(-(2.0**k)), 0) for k in range(-2, 5)]
    add(4, q4.size, 0, 0, [exp_multipliers, q4], [gemmlowp.tanh(int(v), 4) for v in q4])
    for length in (1, 3, 4, 7, 13, 64, 203):
        for offset in (-128, -5, 0, 127, 128):
            w = rng.integers(-128, 128, length)
            xv = rng.integers(-128, 128, length)
            add(5, length, offset, 0, [w, xv], [sum(int(p) * (int(q) + offset) for p, q in zip(w, xv))])
            start = int(rng.integers(0, 3))
            codes = rng.integers(0, 16, start + length)
            codes[codes == 8] = 0  # code 8 is invalid
            packed = quant.pot_pack(codes.astype(np.uint8))
            weights = quant.pot_decode(codes[start:].astype(np.uint8))
            add(6, length, offset, start, [packed.astype(np.int64), xv],
                [sum(int(p) * (int(q) + offset) for p, q in zip(weights, xv))])
    table = sigmoid_table()
    x16 = np.concatenate([np.arange(-32768, 32768, 7), [-32768, 32767, 0, -1, 1]])
    for mult, shift in ((0, 0), (0, 2), (3, 1), (1518500250 >> 16, 15)):
        add(7, x16.size, mult, shift, [table, x16], [ref_sigmoid16(int(v), mult, shift, table) for v in x16])
        add(8, x16.size, mult, shift, [table, x16], [ref_tanh16(int(v), mult, shift, table) for v in x16])
    return records, expected


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    records, expected = build_cases(np.random.default_rng(7))
    path = tmp_path_factory.mktemp("kernels") / "in.bin"
    path.write_bytes(b"".join(r.astype("<i4").tobytes() for r in records))
    return path, expected


@pytest.mark.parametrize("config", BUILDS, ids=lambda c: c.name)
def test_kernels_equal_references(config, cases, tmp_path):
    missing = runner.toolchain_missing(config.target)
    if missing:
        pytest.skip(missing)
    exe = runner.build(config, tmp_path / "build", main="kernel_main.c", src_dir=C_DIR)
    in_path, expected = cases
    out_path = tmp_path / "out.bin"
    runner.run(exe, config, [in_path, out_path], timeout=300)
    got = np.frombuffer(out_path.read_bytes(), dtype="<i4").astype(np.int64)
    want = np.concatenate(expected)
    assert got.size == want.size
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, f"{bad.size} mismatches, first at {bad[:5]}: got {got[bad[:5]]} want {want[bad[:5]]}"


def _function_disassembly(elf, name):
    dis = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True, text=True,
                         check=True).stdout
    start = dis.index(f"<{name}>:\n")
    return dis[start:dis.index("\n\n", start)]


MULTIPLY = ("mul", "mla", "mls", "smul", "smla", "smls", "umul", "umla", "smmul", "smmla", "smuad",
            "smlad", "smusd", "smlsd", "sdiv", "udiv")


@pytest.mark.parametrize("opt", ["-O2", "-Os"])
def test_pot_dot_product_has_no_multiply_and_int8_uses_smlad(opt, tmp_path):
    missing = runner.toolchain_missing("arm")
    if missing:
        pytest.skip(missing)
    exe = runner.build(runner.BuildConfig("arm", opt), tmp_path, main="kernel_main.c", src_dir=C_DIR)
    pot = _function_disassembly(exe, "frnn_dot_pot")
    mnemonics = [line.split("\t")[2].split()[0] if len(line.split("\t")) > 2 else ""
                 for line in pot.splitlines()[1:]]
    assert mnemonics and not [m for m in mnemonics if m.startswith(MULTIPLY)], pot
    assert "smlad" in _function_disassembly(exe, "frnn_dot_s8")
    assert "sxtab16" in _function_disassembly(exe, "frnn_dot_s8")
