"""CMSIS-DSP's own ``arm_mfcc_q15`` / ``arm_mfcc_q31``, built from its C sources for the Cortex-M4
(ARM_MATH_DSP) and run under QEMU: the oracle of fixedrnn's ``cmsis_build="dsp"`` front end.

    python tools/firmware/cmsis_dsp_mfcc.py --cmsis-dsp DIR [--cmsis-core DIR] compare
    python tools/firmware/cmsis_dsp_mfcc.py --cmsis-dsp DIR [--cmsis-core DIR] golden   # rewrite the fixture
    python tools/firmware/cmsis_dsp_mfcc.py --cmsis-dsp DIR [--cmsis-core DIR] count [--opt -O2|-Os]

``--cmsis-dsp``: CMSIS-DSP's sources, e.g. the ``cmsisdsp`` source distribution unpacked
(``pip download --no-binary :all: --no-deps --no-build-isolation cmsisdsp==1.10.3``; the folder
holding ``Include/``, ``PrivateInclude/`` and ``Source/``), or ``$FIXEDRNN_CMSIS_DSP``.
``--cmsis-core``: CMSIS-Core's ``Include`` folder (``cmsis_compiler.h``; e.g. ARM-software/CMSIS_6's
``CMSIS/Core/Include``), or ``$FIXEDRNN_CMSIS_CORE``. Neither is part of this repository.

The build: ``arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=soft`` (the compiler defines
``__ARM_FEATURE_DSP``, so ``arm_math_types.h`` defines ``ARM_MATH_DSP``, as on every Cortex-M4 build)
with ``-DARM_MATH_LOOPUNROLL`` (CMSIS-DSP's CMake default), the CMSIS-DSP files :data:`SOURCES`,
``cmsis_dsp_main.c`` and tools/firmware's ``startup.c`` / ``link.ld``; run with ``runner.run``.

- ``compare``: the MFCC of every frame of the standard synthetic signals (and of the FSDD test split
  when ``$FIXEDRNN_FSDD`` is there), q15 and q31, against ``fixedrnn.mfcc`` with
  ``cmsis_build="dsp"`` and with the portable build: prints mismatching frames (0 for the dsp variant
  when it is exact) and how far the two builds differ (LSB), exit status 1 on a dsp mismatch.
- ``golden``: writes :data:`GOLDEN` (the frames and this build's outputs, see :func:`golden_frames`),
  which tests/test_frontend_dsp.py checks fixedrnn against without the sources.
- ``count``: executed instructions per frame (tools/firmware/icount.py) of ``arm_mfcc_q15`` /
  ``arm_mfcc_q31`` and of fixedrnn's C MFCC (``frnn_mfcc_frame`` of count_instructions.py, portable
  and dsp variants, DSP and plain-C kernel builds) on the same frame (the first 256 samples of
  "chirp_up", default configuration).
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import icount  # noqa: E402
import runner  # noqa: E402
from fixedrnn.errors import FixedRnnError  # noqa: E402

#: The CMSIS-DSP files arm_mfcc_q15/q31 and arm_mfcc_init_q15/q31 need (under ``Source/``).
SOURCES = tuple(f"{group}/{name}.c" for group, names in {
    "TransformFunctions": ("arm_mfcc_q15", "arm_mfcc_q31", "arm_mfcc_init_q15", "arm_mfcc_init_q31",
                           "arm_rfft_q15", "arm_rfft_q31", "arm_rfft_init_q15", "arm_rfft_init_q31",
                           "arm_cfft_q15", "arm_cfft_q31", "arm_cfft_init_q15", "arm_cfft_init_q31",
                           "arm_cfft_radix4_q15", "arm_cfft_radix4_q31", "arm_bitreversal2"),
    "CommonTables": ("arm_common_tables", "arm_const_structs"),
    "StatisticsFunctions": ("arm_absmax_q15", "arm_absmax_q31"),
    "FastMathFunctions": ("arm_divide_q15", "arm_divide_q31", "arm_vlog_q31", "arm_sqrt_q31"),
    "BasicMathFunctions": ("arm_scale_q15", "arm_scale_q31", "arm_mult_q15", "arm_mult_q31",
                           "arm_dot_prod_q15", "arm_dot_prod_q31", "arm_offset_q31", "arm_shift_q31",
                           "arm_shift_q15", "arm_abs_q15", "arm_abs_q31"),
    "ComplexMathFunctions": ("arm_cmplx_mag_q15", "arm_cmplx_mag_q31"),
    "MatrixFunctions": ("arm_mat_vec_mult_q15", "arm_mat_vec_mult_q31"),
}.items() for name in names)
#: Header magic of cmsis_dsp_main.c's input ("FMSC").
MAGIC = 0x43534D46
#: The frozen outputs of the real build (see :func:`golden_frames`).
GOLDEN = REPO / "tests" / "fixtures" / "cmsis_dsp_m4" / "mfcc_dsp.npz"
#: Configurations of the golden set: name -> MfccConfig keyword arguments (every FFT length; the
#: radix-4-by-2 lengths 256 and 1024 are the ones whose arithmetic differs between the builds).
GOLDEN_CONFIGS = {
    "default": {},
    "fft128_hann": {"fft_length": 128, "hop": 64, "n_mels": 16, "n_mfcc": 10, "window": "hann"},
    "fft512": {"fft_length": 512, "hop": 256, "n_mels": 32, "n_mfcc": 13},
    "fft1024_40mels": {"fft_length": 1024, "hop": 512, "n_mels": 40, "n_mfcc": 20, "sample_rate": 16000,
                       "fmax": 8000.0},
}


class Sources:
    """Where CMSIS-DSP's sources (``dsp``: holds Include/, PrivateInclude/, Source/) and CMSIS-Core's
    headers (``core``: holds cmsis_compiler.h) are."""

    def __init__(self, dsp, core):
        self.dsp = Path(dsp)
        self.core = Path(core)
        missing = [str(p) for p in (self.dsp / "Include" / "arm_math.h", self.core / "cmsis_compiler.h",
                                    *(self.dsp / "Source" / s for s in SOURCES)) if not p.is_file()]
        if missing:
            raise FixedRnnError(f"CMSIS sources: missing {missing[0]}"
                                + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""))


def sources_from_environment():
    """:class:`Sources` of ``$FIXEDRNN_CMSIS_DSP`` / ``$FIXEDRNN_CMSIS_CORE``, or a sentence saying
    what is missing (for a test's skip reason)."""
    dsp, core = os.environ.get("FIXEDRNN_CMSIS_DSP"), os.environ.get("FIXEDRNN_CMSIS_CORE")
    if not dsp or not core:
        return ("set FIXEDRNN_CMSIS_DSP (CMSIS-DSP's sources, e.g. the cmsisdsp sdist unpacked) and "
                "FIXEDRNN_CMSIS_CORE (CMSIS-Core's Include folder)")
    try:
        return Sources(dsp, core)
    except FixedRnnError as exc:
        return str(exc)


def build(sources, build_dir, opt="-O2"):
    """Compile the CMSIS-DSP firmware (arm_mfcc_* + cmsis_dsp_main.c) into ``build_dir/fw.elf``."""
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    elf = build_dir / "fw.elf"
    arch = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft"]
    cmd = [runner.ARM_GCC, *arch, opt, "-DARM_MATH_LOOPUNROLL",
           f"-I{sources.dsp / 'Include'}", f"-I{sources.dsp / 'PrivateInclude'}", f"-I{sources.core}", f"-I{HERE}",
           "-ffunction-sections", "-fdata-sections", "-T", str(HERE / "link.ld"), "--specs=rdimon.specs",
           "-Wl,--gc-sections", str(HERE / "startup.c"), str(HERE / "cmsis_dsp_main.c"),
           *(str(sources.dsp / "Source" / s) for s in SOURCES), "-lrdimon", "-lm", "-o", str(elf)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise runner.FirmwareError(f"CMSIS-DSP build failed: {proc.stderr.strip()[-2000:]}", proc.returncode,
                                   proc.stdout + proc.stderr)
    return elf


def input_blob(config, precision, frames):
    """cmsis_dsp_main.c's input: header, the tables of ``make_tables(config)``, ``frames``."""
    from fixedrnn.frontend.tables import make_tables

    tables = make_tables(config).arrays(precision)
    dtype = "<i2" if precision == "q15" else "<i4"
    frames = np.asarray(frames)
    header = [MAGIC, 15 if precision == "q15" else 31, config.fft_length, config.n_mels, config.n_mfcc,
              tables["filter_coefs"].size, frames.shape[0]]
    parts = [np.array(header, "<i4"), tables["window"].astype(dtype), tables["filter_pos"].astype("<u4"),
             tables["filter_lengths"].astype("<u4"), tables["filter_coefs"].astype(dtype),
             tables["dct"].astype(dtype), frames.astype(dtype)]
    return b"".join(p.tobytes() for p in parts)


def run_mfcc(elf, config, precision, frames, workdir, count=False):
    """The MFCC of ``frames`` (int16 q15 / int32 q31 ``[n, fft_length]``) by the CMSIS-DSP firmware:
    int16 / int32 ``[n, n_mfcc]``; with ``count`` also the executed instructions of each frame."""
    workdir = Path(workdir).resolve()
    (workdir / "in.bin").write_bytes(input_blob(config, precision, frames))
    args = [workdir / "in.bin", workdir / "out.bin"]
    counts = None
    if count:
        counts = icount.count_regions(elf, [*args, "count"], timeout=1800)
    else:
        runner.run(elf, runner.BuildConfig(), args, timeout=600)
    out = np.fromfile(workdir / "out.bin", "<i2" if precision == "q15" else "<i4")
    out = out.reshape(len(frames), config.n_mfcc)
    return (out, counts) if count else out
