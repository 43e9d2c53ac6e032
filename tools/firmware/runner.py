"""Build the firmware (Cortex-M4 under QEMU, or the host), run it, and report failures exactly.

Python API used by the tests and tools (``sys.path`` must hold ``tools/firmware``)::

    cfg = BuildConfig(target="arm", opt="-O2", dsp=True)
    exe = build(cfg, build_dir, main="main.c", src_dir=generated_c_dir)
    result = run(exe, cfg, ["in.bin", "out.bin"], timeout=60)   # raises FirmwareError on failure

A firmware fault exits QEMU with status ``FAULT_EXIT_BASE + exception number`` (startup.c) and
prints a ``FIRMWARE FAULT ...`` line; :func:`run` turns that, any other non-zero status, and a
timeout (a hang) into :class:`FirmwareError` carrying the status and the firmware's own message.
Files are exchanged through semihosting (``target=native``): paths given to the firmware are host
paths, so pass absolute ones.
"""

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

from fixedrnn.errors import FixedRnnError

HERE = Path(__file__).resolve().parent
#: startup.c exits with this plus the exception number (3 HardFault, 4 MemManage, 5 BusFault, 6 UsageFault).
FAULT_EXIT_BASE = 100
#: The status ``timeout`` gives to a command it killed.
TIMEOUT_STATUS = 124
QEMU = "qemu-system-arm"
ARM_GCC = "arm-none-eabi-gcc"


class FirmwareError(FixedRnnError):
    """The firmware failed: non-zero exit, fault, or hang. ``status`` is the exit status (or
    ``TIMEOUT_STATUS`` for a hang), ``output`` the firmware's stdout+stderr."""

    def __init__(self, message, status, output=""):
        self.status = status
        self.output = output
        super().__init__(message)


@dataclasses.dataclass(frozen=True)
class BuildConfig:
    """How to build: ``target`` "arm" (Cortex-M4, QEMU mps2-an386) or "host" (system gcc);
    ``opt`` the optimisation flag; ``dsp`` False forces the portable-C kernels (-DFRNN_NO_DSP);
    ``hard_float`` (arm only) builds with -mfloat-abi=hard -mfpu=fpv4-sp-d16; ``pot_shift_only``
    builds the multiply-free power-of-two FC (-DFRNN_POT_SHIFT_ONLY)."""

    target: str = "arm"
    opt: str = "-O2"
    dsp: bool = True
    hard_float: bool = False
    pot_shift_only: bool = False

    def __post_init__(self):
        if self.target not in ("arm", "host"):
            raise FixedRnnError(f"target must be 'arm' or 'host', got {self.target!r}")
        if self.opt not in ("-O0", "-O1", "-O2", "-O3", "-Os"):
            raise FixedRnnError(f"opt must be one of -O0 -O1 -O2 -O3 -Os, got {self.opt!r}")
        if self.hard_float and self.target != "arm":
            raise FixedRnnError("hard_float is an arm build option")

    @property
    def name(self):
        return (f"{self.target}{self.opt}{'' if self.dsp else '-nodsp'}{'-hardfp' if self.hard_float else ''}"
                f"{'-potshift' if self.pot_shift_only else ''}")


def toolchain_missing(target="arm"):
    """A sentence naming what is missing to build and run ``target``, or None if all is there."""
    needed = ["make", "gcc"] if target == "host" else ["make", ARM_GCC, "arm-none-eabi-nm", QEMU]
    missing = [tool for tool in needed if shutil.which(tool) is None]
    return f"missing tools: {' '.join(missing)}" if missing else None


def build(config, build_dir, main="main.c", src_dir=None, extra_cflags=""):
    """Compile ``main`` (a file of this folder) with every ``*.c`` of ``src_dir``; returns the
    executable's path (``fw.elf`` for arm, ``fw`` for host). Raises FirmwareError with the compiler's
    message on failure."""
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        "make", "--no-print-directory", "-C", str(HERE),
        f"BUILD={build_dir}", f"TARGET={config.target}", f"OPT={config.opt}",
        f"DSP={1 if config.dsp else 0}", f"FLOAT={'hard' if config.hard_float else 'soft'}",
        f"POT={'shift' if config.pot_shift_only else 'table'}",
        f"MAIN={main}", f"EXTRA_CFLAGS={extra_cflags}",
    ]
    if src_dir is not None:
        cmd.append(f"SRC_DIR={Path(src_dir).resolve()}")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise FirmwareError(
            f"build failed ({config.name}, {main}): {(proc.stderr or proc.stdout).strip()}",
            proc.returncode, proc.stdout + proc.stderr)
    return build_dir / ("fw.elf" if config.target == "arm" else "fw")


def qemu_command(exe, args, extra=()):
    """The QEMU command line that runs ``exe`` on mps2-an386 with semihosting argv ``fw args...``."""
    semihost = ",".join(["enable=on", "target=native", "arg=fw"]
                        + [f"arg={_check_arg(a)}" for a in args])
    return [QEMU, "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "none",
            *extra, "-semihosting-config", semihost, "-kernel", str(exe)]


def _check_arg(arg):
    arg = str(arg)
    if "," in arg or " " in arg:
        raise FixedRnnError(f"firmware argument must not contain ',' or ' ': {arg!r}")
    return arg


@dataclasses.dataclass
class RunResult:
    status: int
    output: str


def run(exe, config, args=(), timeout=120.0, check=True):
    """Run ``exe`` (under QEMU for arm) with ``args``; returns a RunResult. With ``check``, a
    non-zero status, a fault or a timeout raises FirmwareError naming it."""
    args = [str(a) for a in args]
    if config.target == "arm":
        cmd = qemu_command(exe, args)
    else:
        cmd = [str(exe), *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = _text(exc.stdout) + _text(exc.stderr)
        raise FirmwareError(f"firmware hang: no exit within {timeout:g} s ({config.name}, {Path(exe).name})",
                            TIMEOUT_STATUS, out) from None
    result = RunResult(proc.returncode, proc.stdout + proc.stderr)
    if check and proc.returncode != 0:
        raise FirmwareError(describe_failure(result.status, result.output, config), result.status,
                            result.output)
    return result


def describe_failure(status, output, config):
    """One line saying how the firmware failed."""
    fault = re.search(r"FIRMWARE FAULT [^\n]*", output)
    if config.target == "arm" and fault and status > FAULT_EXIT_BASE:
        names = {3: "HardFault", 4: "MemManage", 5: "BusFault", 6: "UsageFault"}
        name = names.get(status - FAULT_EXIT_BASE, f"exception {status - FAULT_EXIT_BASE}")
        return f"firmware fault ({name}, exit status {status}): {fault.group(0)}"
    if status < 0:
        return f"firmware killed by signal {-status} ({config.name}): {output.strip()[-500:]}"
    return f"firmware failed with exit status {status} ({config.name}): {output.strip()[-500:]}"


def _text(data):
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data

