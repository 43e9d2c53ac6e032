"""CMSIS-DSP's own ``arm_mfcc_q15`` / ``arm_mfcc_q31``, built from its C sources for the Cortex-M4
(ARM_MATH_DSP) and run under QEMU: the oracle of fixedrnn's ``cmsis_build="dsp"`` front end.

    python tools/firmware/cmsis_dsp_mfcc.py --cmsis-dsp DIR [--cmsis-core DIR] compare
    python tools/firmware/cmsis_dsp_mfcc.py --cmsis-dsp DIR [--cmsis-core DIR] golden   # rewrite the fixture
    python tools/firmware/cmsis_dsp_mfcc.py --cmsis-dsp DIR [--cmsis-core DIR] [--opt=-O2|--opt=-Os] count

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
import dataclasses
import hashlib
import json
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


# ---------------------------------------------------------------------------------------------
# The frames of the golden set and of ``compare``

#: Frames of uniformly random full-scale int16 samples per configuration (fixedrnn.signals.uniforms).
RANDOM_FRAMES = 64
RANDOM_SEED = 14


def golden_frames(config):
    """int16 ``[n, fft_length]``: every frame (``fixedrnn.mfcc.frames``) of every standard synthetic
    signal (``fixedrnn.signals.STANDARD_SIGNALS``, whatever the configuration's sample rate), then
    :data:`RANDOM_FRAMES` frames of uniform full-scale samples (−32768 included)."""
    from fixedrnn import mfcc, signals

    cut = [mfcc.frames(signals.generate(spec), config) for spec in signals.STANDARD_SIGNALS]
    n = RANDOM_FRAMES * config.fft_length
    noise = np.floor(signals.uniforms(RANDOM_SEED, n) * 65536.0).astype(np.int64) - 32768
    cut.append(noise.astype(np.int16).reshape(RANDOM_FRAMES, config.fft_length))
    return np.ascontiguousarray(np.concatenate(cut))


def frames_digest(frames):
    """SHA-256 of the int16 frames' little-endian bytes (the golden file pins the frames it was made of)."""
    return hashlib.sha256(np.ascontiguousarray(frames, "<i2").tobytes()).hexdigest()


def q31_frames(frames):
    """The q31 MFCC's input of int16 frames: ``frames << 16`` as int32."""
    return frames.astype(np.int32) << 16


def golden_configs():
    """``{name: MfccConfig}`` of :data:`GOLDEN_CONFIGS`, with ``cmsis_build="dsp"``."""
    from fixedrnn.mfcc import MfccConfig

    return {name: MfccConfig(**kw, cmsis_build="dsp") for name, kw in GOLDEN_CONFIGS.items()}


def make_golden(elf, workdir):
    """``{key: array}`` of the golden file: per configuration name ``<name>.q15`` (int16) and
    ``<name>.q31`` (int32) outputs of the real build, ``<name>.frames_sha256``; ``configs`` (JSON)."""
    arrays = {"configs": np.array(json.dumps(GOLDEN_CONFIGS, sort_keys=True))}
    for name, config in golden_configs().items():
        frames = golden_frames(config)
        arrays[f"{name}.frames_sha256"] = np.array(frames_digest(frames))
        arrays[f"{name}.q15"] = run_mfcc(elf, config, "q15", frames, workdir).astype(np.int16)
        arrays[f"{name}.q31"] = run_mfcc(elf, config, "q31", q31_frames(frames), workdir).astype(np.int32)
    return arrays


def _fsdd_frames(config):
    """Every frame of the FSDD test split (``$FIXEDRNN_FSDD``), or None when it is not there."""
    from fixedrnn import fsdd, mfcc

    try:
        recordings = fsdd.list_recordings(split="test")
    except FixedRnnError:
        return None
    return np.concatenate([mfcc.frames(r.samples(), config) for r in recordings])


def compare(elf, workdir):
    """Print, per configuration and precision, how many frames of the real build's MFCC differ from
    fixedrnn's dsp and portable variants and by how many LSB at most; True if dsp matched everywhere."""
    from fixedrnn.mfcc import MfccFrontEnd

    exact = True
    sets = [(name, config, golden_frames(config)) for name, config in golden_configs().items()]
    fsdd_frames = _fsdd_frames(golden_configs()["default"])
    if fsdd_frames is not None:
        sets.append(("default, FSDD test split", golden_configs()["default"], fsdd_frames))
    print("| frames | precision | n | dsp variant: frames differing | portable: frames differing | max LSB |")
    print("|---|---|---|---|---|---|")
    for name, config, frames in sets:
        for precision in ("q15", "q31"):
            data = frames if precision == "q15" else q31_frames(frames)
            real = run_mfcc(elf, config, precision, data, workdir).astype(np.int64)
            dsp = MfccFrontEnd(config).mfcc(data, precision)
            portable = MfccFrontEnd(dataclasses.replace(config, cmsis_build="portable")).mfcc(data, precision)
            bad = int(np.any(dsp != real, axis=1).sum())
            gap = np.abs(portable - real)
            exact &= bad == 0
            print(f"| {name} | {precision} | {len(frames)} | {bad} | {int(np.any(gap, axis=1).sum())} "
                  f"| {int(gap.max())} |", flush=True)
    return exact


# ---------------------------------------------------------------------------------------------
# Instruction counts

#: The frame counted: the first 256 samples of this standard signal (as count_instructions.py).
COUNT_SIGNAL = "chirp_up"
#: main.c's input header magic ("FRNI") and its kind 4 (one utterance of PCM; with "count" its
#: regions 3 and 4 are frnn_mfcc_frame and frnn_push_frame of the first frame).
MAIN_MAGIC, MAIN_KIND_PCM, MAIN_MFCC_REGION = 0x494E5246, 4, 3


def count_frame():
    """int16 ``[256]``: the frame both MFCCs are counted on."""
    from fixedrnn import signals

    return signals.generate(signals.standard_signal(COUNT_SIGNAL))[:256].astype(np.int16)


def count_fixedrnn(precision, cmsis_build, dsp_kernels, opt, workdir):
    """Executed instructions of fixedrnn's C ``frnn_mfcc_frame`` (main.c, a throwaway model whose
    front end is the default configuration at ``precision`` / ``cmsis_build``) on :func:`count_frame`;
    ``dsp_kernels`` False builds with -DFRNN_NO_DSP."""
    sys.path.insert(0, str(REPO / "tests"))
    from throwaway_models import random_model

    from fixedrnn import c_export

    model = random_model(cell="rnn", weights="int8", units=4, frames=2, seed=1)
    model = dataclasses.replace(model, frontend=dataclasses.replace(model.frontend, precision=precision,
                                                                     cmsis_build=cmsis_build))
    workdir = Path(workdir).resolve()
    c_export.export_c(model, workdir / "src", silence=np.zeros(model.n_features, np.int8))
    frame = count_frame()
    (workdir / "in.bin").write_bytes(np.array([MAIN_MAGIC, MAIN_KIND_PCM, 1, frame.size], "<i4").tobytes()
                                     + frame.astype("<i2").tobytes())
    cfg = runner.BuildConfig("arm", opt, dsp=dsp_kernels)
    elf = runner.build(cfg, workdir / cfg.name, main="main.c", src_dir=workdir / "src")
    counts = icount.count_regions(elf, [workdir / "in.bin", workdir / "out.bin", "count"], timeout=1800)
    return counts[MAIN_MFCC_REGION]


def count_cmsis(sources, precision, opt, workdir):
    """Executed instructions of CMSIS-DSP's ``arm_mfcc_q15`` / ``arm_mfcc_q31`` on :func:`count_frame`
    (default configuration, the library built at ``opt``)."""
    from fixedrnn.mfcc import MfccConfig

    elf = build(sources, Path(workdir) / f"cmsis{opt}", opt)
    frame = count_frame()[None, :]
    data = frame if precision == "q15" else q31_frames(frame)
    _, counts = run_mfcc(elf, MfccConfig(cmsis_build="dsp"), precision, data, workdir, count=True)
    return counts[0]


def count_table(sources, opt, workdir):
    """Print the Markdown table of :func:`count_cmsis` and :func:`count_fixedrnn` side by side."""
    print(f"| MFCC of one frame ({opt}; N = 256, 20 mels, 13 MFCC) | q15 | q31 |")
    print("|---|---|---|")
    row = {p: count_cmsis(sources, p, opt, workdir) for p in ("q15", "q31")}
    print(f"| CMSIS-DSP arm_mfcc_* (ARM_MATH_DSP, LOOPUNROLL) | {row['q15']:,} | {row['q31']:,} |", flush=True)
    for build, label in (("dsp", "cmsis_build dsp"), ("portable", "cmsis_build portable")):
        for kernels, kernel_label in ((True, "DSP kernels"), (False, "plain C, -DFRNN_NO_DSP")):
            row = {p: count_fixedrnn(p, build, kernels, opt, Path(workdir) / f"{p}-{build}-{kernels}")
                   for p in ("q15", "q31")}
            print(f"| fixedrnn frnn_mfcc_frame, {label}, {kernel_label} | {row['q15']:,} | {row['q31']:,} |",
                  flush=True)


def main(argv):
    parser = argparse.ArgumentParser(description="CMSIS-DSP's arm_mfcc_q15/q31 built for the Cortex-M4 "
                                     "(ARM_MATH_DSP) under QEMU, against fixedrnn's front end.")
    parser.add_argument("--cmsis-dsp", default=os.environ.get("FIXEDRNN_CMSIS_DSP"),
                        help="CMSIS-DSP's sources (Include/, PrivateInclude/, Source/); default $FIXEDRNN_CMSIS_DSP")
    parser.add_argument("--cmsis-core", default=os.environ.get("FIXEDRNN_CMSIS_CORE"),
                        help="CMSIS-Core's Include folder (cmsis_compiler.h); default $FIXEDRNN_CMSIS_CORE")
    parser.add_argument("--opt", choices=("-O2", "-Os"), default="-O2", help="optimisation level (default -O2)")
    parser.add_argument("command", choices=("compare", "golden", "count"))
    args = parser.parse_args(argv)
    try:
        if not args.cmsis_dsp or not args.cmsis_core:
            raise FixedRnnError("--cmsis-dsp and --cmsis-core (or $FIXEDRNN_CMSIS_DSP, $FIXEDRNN_CMSIS_CORE) "
                                "are needed")
        missing = runner.toolchain_missing("arm")
        if missing:
            raise FixedRnnError(missing)
        sources = Sources(args.cmsis_dsp, args.cmsis_core)
        with tempfile.TemporaryDirectory(prefix="cmsis-dsp-") as tmp:
            if args.command == "count":
                count_table(sources, args.opt, tmp)
                return 0
            elf = build(sources, Path(tmp) / "build", args.opt)
            if args.command == "golden":
                from fixedrnn import atomicfile

                arrays = make_golden(elf, tmp)
                GOLDEN.parent.mkdir(parents=True, exist_ok=True)
                atomicfile.write_file(GOLDEN, lambda f: np.savez_compressed(f, **arrays))
                print(f"wrote {GOLDEN.relative_to(REPO)}")
                return 0
            return 0 if compare(elf, tmp) else 1
    except FixedRnnError as exc:
        print(f"cmsis_dsp_mfcc: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
