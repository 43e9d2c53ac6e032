"""Firmware infrastructure (tools/firmware): start-up, semihosting file I/O, fault and hang
reporting, and the exact instruction counter, on QEMU's Cortex-M4 (mps2-an386) and on the host."""

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds and runs firmware under QEMU: not in the quick subset (pytest -m "not slow")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "firmware"))

import runner  # noqa: E402

ARM = runner.BuildConfig("arm", "-O2")
ARM_HARD_FLOAT = runner.BuildConfig("arm", "-O2", hard_float=True)
HOST = runner.BuildConfig("host", "-O2")


def _require(target):
    missing = runner.toolchain_missing(target)
    if missing:
        pytest.skip(missing)


@pytest.fixture(scope="module")
def selftest_arm(tmp_path_factory):
    _require("arm")
    return runner.build(ARM, tmp_path_factory.mktemp("selftest-arm"), main="selftest.c")


@pytest.fixture(scope="module")
def selftest_arm_hard_float(tmp_path_factory):
    _require("arm")
    return runner.build(ARM_HARD_FLOAT, tmp_path_factory.mktemp("selftest-arm-hardfp"), main="selftest.c")


@pytest.fixture(scope="module")
def selftest_host(tmp_path_factory):
    _require("host")
    return runner.build(HOST, tmp_path_factory.mktemp("selftest-host"), main="selftest.c")


@pytest.mark.parametrize("target", ["arm", "host"])
def test_semihosting_file_copy_is_byte_exact(target, selftest_arm, selftest_host, tmp_path):
    exe, cfg = (selftest_arm, ARM) if target == "arm" else (selftest_host, HOST)
    payload = bytes(range(256)) * 50 + b"\x00tail"
    src, dst = tmp_path / "in.bin", tmp_path / "out.bin"
    src.write_bytes(payload)
    runner.run(exe, cfg, ["copy", src, dst], timeout=60)
    assert dst.read_bytes() == payload


def test_hard_float_build_enables_the_fpu(selftest_arm_hard_float, tmp_path):
    """-mfloat-abi=hard: start-up turns the FPU on before C code (else the first FP instruction
    faults with UsageFault NOCP); float arithmetic in the FP registers and file I/O work."""
    import subprocess

    dis = subprocess.run(["arm-none-eabi-objdump", "-d", str(selftest_arm_hard_float)], capture_output=True,
                         text=True, check=True).stdout
    assert "vmla.f32" in dis or "vfma.f32" in dis or "vmul.f32" in dis
    assert runner.run(selftest_arm_hard_float, ARM_HARD_FLOAT, ["float", "7"], timeout=60).output.split() == [
        "float", "10"]
    payload = bytes(range(256)) * 4
    (tmp_path / "in.bin").write_bytes(payload)
    runner.run(selftest_arm_hard_float, ARM_HARD_FLOAT, ["copy", tmp_path / "in.bin", tmp_path / "out.bin"],
               timeout=60)
    assert (tmp_path / "out.bin").read_bytes() == payload


def test_exit_status_passes_through(selftest_arm):
    result = runner.run(selftest_arm, ARM, ["exit", "7"], timeout=60, check=False)
    assert result.status == 7
    with pytest.raises(runner.FirmwareError, match="exit status 7") as err:
        runner.run(selftest_arm, ARM, ["exit", "7"], timeout=60)
    assert err.value.status == 7


@pytest.mark.parametrize("command, status, name", [("fault", 105, "BusFault"), ("udf", 106, "UsageFault")])
def test_fault_is_reported_with_its_status(selftest_arm, command, status, name):
    with pytest.raises(runner.FirmwareError) as err:
        runner.run(selftest_arm, ARM, [command], timeout=60)
    assert err.value.status == status
    assert name in str(err.value) and "CFSR=" in str(err.value) and "PC=0x" in str(err.value)


def test_stack_is_in_the_linker_scripts_sram(selftest_arm):
    """main runs on the stack at the top of link.ld's RAM region (0x20000000, 4 MiB), not where
    semihosting HEAPINFO would put it (QEMU: the top of the board's PSRAM)."""
    import re

    out = runner.run(selftest_arm, ARM, ["stack"], timeout=60).output
    address = int(re.search(r"stack (0x[0-9a-f]+)", out).group(1), 16)
    assert 0x20400000 - 0x10000 <= address < 0x20400000


def test_hang_is_reported_not_passed(selftest_arm):
    with pytest.raises(runner.FirmwareError, match="hang") as err:
        runner.run(selftest_arm, ARM, ["hang"], timeout=3)
    assert err.value.status == runner.TIMEOUT_STATUS


def test_missing_input_file_fails(selftest_arm, tmp_path):
    with pytest.raises(runner.FirmwareError, match="exit status 2"):
        runner.run(selftest_arm, ARM, ["copy", tmp_path / "absent.bin", tmp_path / "o.bin"], timeout=60)


def test_instruction_counter_is_exact(selftest_arm):
    import icount

    # selftest's region is hand-written assembly: exactly 1000 NOPs between the markers.
    assert icount.count_regions(selftest_arm, ["nops"], timeout=60) == [1000]


def test_build_error_is_reported(tmp_path):
    _require("host")
    (tmp_path / "broken.c").write_text("int broken(void) { return undeclared; }\n")
    with pytest.raises(runner.FirmwareError, match="build failed"):
        runner.build(HOST, tmp_path / "b", main="selftest.c", src_dir=tmp_path)


@pytest.mark.parametrize("how", ["-C", "-f"])
def test_relative_src_dir_and_build_are_the_callers(how, tmp_path):
    """`make -C tools/firmware SRC_DIR=src BUILD=out` (and `make -f tools/firmware/Makefile ...`)
    take relative paths from the directory make was invoked in, not from tools/firmware."""
    import os
    import subprocess

    _require("host")
    caller = tmp_path / "caller"
    (caller / "src").mkdir(parents=True)
    (caller / "src" / "marker.c").write_text("int caller_dir_marker(void) { return 7; }\n")
    makefile_dir = Path(runner.__file__).resolve().parent
    where = ["-C", str(makefile_dir)] if how == "-C" else ["-f", str(makefile_dir / "Makefile")]
    # -C: the shell's PWD names the caller; -f: make's own directory does (a stale PWD is ignored)
    env = dict(os.environ, PWD=str(caller) if how == "-C" else str(tmp_path))
    subprocess.run(["make", "--no-print-directory", *where, "TARGET=host", "MAIN=selftest.c", "SRC_DIR=src",
                    "BUILD=out"], cwd=caller, env=env, check=True, capture_output=True)
    exe = caller / "out" / "fw"
    symbols = subprocess.run(["nm", str(exe)], capture_output=True, text=True, check=True).stdout
    assert "caller_dir_marker" in symbols
    assert not (makefile_dir / "out").exists() and not (makefile_dir / "src").exists()


@pytest.mark.parametrize("what", ["no checkout", "no core headers"])
def test_count_instructions_refuses_a_missing_cmsis_tree(what, tmp_path, capsys):
    """count_instructions --cmsis-nn: a folder that is not a CMSIS-NN checkout, or one without CMSIS-Core's
    cmsis_compiler.h next to it, is bad input: exit status 2, one line naming the option, nothing built."""
    import count_instructions

    nn = tmp_path / "CMSIS-NN"
    if what == "no core headers":
        (nn / "Include").mkdir(parents=True)
        (nn / "Include" / "arm_nnfunctions.h").write_text("")
        (nn / "Source").mkdir()
    model = Path(__file__).resolve().parents[1] / "golden" / "models" / "tiny_lstm_int8.npz"
    assert count_instructions.main([str(model), "--no-frontend", "--cmsis-nn", str(nn)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    option = "--cmsis-nn" if what == "no checkout" else "--cmsis-core"
    assert len(err) == 1 and err[0].startswith(f"count_instructions: error: {option} "), err
