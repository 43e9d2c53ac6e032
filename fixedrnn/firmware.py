"""``fixedrnn firmware run MODEL WAV... [--target qemu|host] [--opt O2|Os]``: the generated C
firmware on recordings, compared with the engine.

The model's C99 sources (:func:`fixedrnn.c_export.export_c`) are written to a temporary folder and
built with the repository's ``tools/firmware`` (its Makefile and test ``main.c``; for QEMU also
``startup.c`` and ``link.ld``), through ``tools/firmware/runner.py``: for QEMU's Cortex-M4
(``mps2-an386``, ``arm-none-eabi-gcc``) or for the host (``gcc``). The firmware then classifies every
recording in one run (``main.c``'s input kind 4: one utterance of int16 PCM per item, through
``frnn_push_samples`` and ``frnn_end_utterance``) and its int8 logits are compared with the
engine's (the NumPy reference path) on every element.

``tools/firmware`` belongs to the repository, not to the installed package: this command needs an
install from a clone (``pip install -e .``). Exit codes: 0 equal, 1 a difference, 2 bad input
(model, WAV, missing toolchain or ``tools/firmware``, a build that fails).
"""

import importlib.util
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fixedrnn.errors import FixedRnnError

#: The repository's firmware build folder (Makefile, main.c, startup.c, link.ld, runner.py).
FIRMWARE_DIR = Path(__file__).resolve().parents[1] / "tools" / "firmware"
#: main.c's input header magic ("FRNI", little-endian int32).
INPUT_MAGIC = 0x494E5246
#: main.c's input kind: one utterance of int16 PCM per item.
KIND_PCM = 4
#: ``--target`` → the runner's build target.
TARGETS = {"qemu": "arm", "host": "host"}
#: Seconds one firmware run may take per recording (QEMU emulates about 10^8 instructions a second).
SECONDS_PER_RECORDING = 30.0


def load_runner():
    """``tools/firmware/runner.py`` as a module; a one-line error when the folder is not there."""
    path = FIRMWARE_DIR / "runner.py"
    if not path.is_file():
        raise FixedRnnError(f"firmware: {FIRMWARE_DIR} not found: 'firmware run' needs the tools/firmware "
                            f"folder of a fixedrnn clone (install it with pip install -e from the clone)")
    spec = importlib.util.spec_from_file_location("fixedrnn_firmware_runner", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pcm_input(pcms):
    """main.c's input file (kind 4) for int16 utterances ``pcms``: bytes."""
    parts = [np.array([INPUT_MAGIC, KIND_PCM, len(pcms)], "<i4").tobytes()]
    for pcm in pcms:
        parts.append(np.array([len(pcm)], "<i4").tobytes() + np.asarray(pcm, "<i2").tobytes())
    return b"".join(parts)


def read_logits(data, model, count):
    """The int8 logits ``[count, C]`` of main.c's kind-4 output (per item: the int8 window
    ``[T, I]``, then the logits ``[C]``)."""
    per_item = model.frames * model.n_features + len(model.labels)
    if len(data) != count * per_item:
        raise FixedRnnError(f"firmware: wrote {len(data)} bytes, expected {count} x {per_item}")
    return np.frombuffer(data, np.int8).reshape(count, per_item)[:, -len(model.labels):]


@dataclass(frozen=True)
class FirmwareResult:
    """One recording: the firmware's and the engine's int8 logits ``[C]`` (Python ints)."""

    file: str
    firmware: tuple
    engine: tuple
    labels: tuple

    @property
    def equal(self):
        return self.firmware == self.engine

    @property
    def label(self):
        """The firmware's label (first maximal logit)."""
        return self.labels[max(range(len(self.firmware)), key=lambda i: (self.firmware[i], -i))]

    def to_dict(self):
        return {"file": self.file, "label": self.label, "firmware": list(self.firmware),
                "engine": list(self.engine), "equal": self.equal}


def run_firmware(model_path, wavs, target="host", opt="O2", work_dir=None):
    """Export ``model_path`` to C, build it for ``target`` ("qemu" or "host") with ``-O2``/``-Os``,
    run it on the WAV files ``wavs`` and return a :class:`FirmwareResult` per file.

    ``work_dir``: where the sources and the build go (default: a temporary folder, removed after).
    """
    from fixedrnn.c_export import export_c
    from fixedrnn.mfcc import read_wav
    from fixedrnn.model import load

    if target not in TARGETS:
        raise FixedRnnError(f"target: must be one of {', '.join(TARGETS)}, got {target!r}")
    if opt not in ("O2", "Os"):
        raise FixedRnnError(f"opt: must be O2 or Os, got {opt!r}")
    runner = load_runner()
    config = runner.BuildConfig(TARGETS[target], f"-{opt}")
    missing = runner.toolchain_missing(config.target)
    if missing:
        raise FixedRnnError(f"firmware: cannot build for {target}: {missing}")
    model = load(model_path)
    pcms = [read_wav(path, model.frontend.mfcc_config()) for path in wavs]
    engine = [tuple(int(v) for v in model.run(pcm, backend="numpy")) for pcm in pcms]
    with tempfile.TemporaryDirectory(prefix="fixedrnn-firmware-") as tmp:
        work = Path(work_dir) if work_dir is not None else Path(tmp)
        export_c(model, work / "src")
        exe = runner.build(config, work / "build", main="main.c", src_dir=work / "src")
        (work / "in.bin").write_bytes(pcm_input(pcms))
        runner.run(exe, config, [(work / "in.bin").resolve(), (work / "out.bin").resolve()],
                   timeout=60.0 + SECONDS_PER_RECORDING * len(pcms))
        logits = read_logits((work / "out.bin").read_bytes(), model, len(pcms))
    return [FirmwareResult(str(path), tuple(int(v) for v in row), want, model.labels)
            for path, row, want in zip(wavs, logits, engine)]


def _run(args):
    results = run_firmware(args.model, args.wavs, target=args.target, opt=args.opt)
    if not args.json:
        print("file\tlabel\tlogits\tengine")
    for result in results:
        if args.json:
            print(json.dumps(result.to_dict()))
        else:
            verdict = "equal" if result.equal else f"DIFFERENT (engine {list(result.engine)})"
            print(f"{result.file}\t{result.label}\t{list(result.firmware)}\t{verdict}")
    bad = sum(not r.equal for r in results)
    if bad:
        print(f"firmware: {bad} of {len(results)} recording(s) differ from the engine", file=sys.stderr)
        return 1
    if not args.json:
        print(f"firmware ({args.target}, -{args.opt}): all {len(results)} recording(s) equal the engine "
              f"(0 LSB)")
    return 0


def add_parser(subparsers):
    parser = subparsers.add_parser("firmware", help="build and run the generated C firmware",
                                   description="Build the C firmware generated for a model and run it.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    run = actions.add_parser(
        "run", help="run the firmware on WAV files and compare with the engine",
        description="Export the model as C, build it with tools/firmware for QEMU's Cortex-M4 or the "
                    "host, classify each WAV file with it and compare its int8 logits with the "
                    "engine's. Prints per file: the file, the firmware's label, its logits and "
                    "whether they equal the engine's. Exit 0 equal, 1 a difference, 2 bad input or a "
                    "missing toolchain.")
    run.add_argument("model", help="model file (.npz)")
    run.add_argument("wavs", nargs="+", metavar="WAV", help="16-bit mono WAV files")
    run.add_argument("--target", choices=tuple(TARGETS), default="qemu",
                     help="qemu: Cortex-M4 under qemu-system-arm (default); host: the system gcc")
    run.add_argument("--opt", choices=("O2", "Os"), default="O2", help="optimisation (default O2)")
    run.add_argument("--json", action="store_true", help="one JSON object per file instead")
    run.set_defaults(func=_run)
    return parser
