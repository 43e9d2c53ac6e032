"""Executed-instruction counts of the generated firmware on QEMU's Cortex-M4 (mps2-an386).

    python tools/firmware/count_instructions.py [MODEL.npz ...]

Two Markdown tables, each build with -O2 twice (DSP intrinsics; portable C with -DFRNN_NO_DSP), run
under the exact instruction counter (icount.py: one trace line per executed instruction):

1. Front end, per frame: ``frnn_mfcc_frame`` (the MFCC of one int16 frame) and ``frnn_push_frame``
   (MFCC + int8 normalisation + window slide), q15 and q31, 8 kHz, fft_length 256, 20 mels,
   13 coefficients, on the first 256 samples of the standard "chirp_up" synthetic signal (a tiny
   throwaway model: the front end does not depend on the cell).
2. Model: per inference (``frnn_result``: T cell steps + head), per cell step, head; models given on
   the command line, else every golden model (golden/models/*.npz), else throwaway random models
   (H = 32, T = 49). Input: random int8 features.

These are instruction counts, not cycles.
"""

import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import icount  # noqa: E402
import runner  # noqa: E402
from fixedrnn import c_export, model as model_module, signals  # noqa: E402

MAGIC = 0x494E5246
BUILDS = ((True, "DSP"), (False, "plain C"))
FRONT_SIGNAL = "chirp_up"


def throwaway_models():
    from throwaway_models import random_model

    return {f"{cell} {weights}": random_model(cell=cell, weights=weights, units=32, frames=49, seed=1)
            for cell in ("rnn", "lstm") for weights in ("int8", "pot")}


def _build_and_count(model, tmp, blob):
    (tmp / "in.bin").write_bytes(blob)
    c_export.export_c(model, tmp / "src", silence=np.zeros(model.n_features, np.int8))
    rows = {}
    for dsp, _ in BUILDS:
        cfg = runner.BuildConfig("arm", "-O2", dsp=dsp)
        exe = runner.build(cfg, tmp / cfg.name, main="main.c", src_dir=tmp / "src")
        rows[dsp] = icount.count_regions(exe, [tmp / "in.bin", tmp / "out.bin", "count"], timeout=1800)
    return rows


def count_model(model, tmp):
    """{dsp: (per inference, per cell step, head)} on random int8 features (main.c kind 2)."""
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (model.frames, model.n_features)).astype(np.int8)
    blob = np.array([MAGIC, 2, 1, model.frames], "<i4").tobytes() + x.tobytes()
    return {dsp: tuple(c[:3]) for dsp, c in _build_and_count(model, tmp, blob).items()}


def count_frontend(precision, tmp):
    """{dsp: (MFCC of one frame, push of one frame)} (main.c kind 4, one frame of PCM)."""
    import dataclasses

    from throwaway_models import random_model

    model = random_model(cell="rnn", weights="int8", units=4, frames=2, seed=1)
    model = dataclasses.replace(model, frontend=dataclasses.replace(model.frontend, precision=precision))
    n = model.frontend.fft_length
    pcm = signals.generate(signals.standard_signal(FRONT_SIGNAL))[:n].astype("<i2")
    blob = np.array([MAGIC, 4, 1, n], "<i4").tobytes() + pcm.tobytes()
    return {dsp: tuple(c[3:5]) for dsp, c in _build_and_count(model, tmp, blob).items()}


def main(argv):
    import argparse

    parser = argparse.ArgumentParser(description="Executed-instruction counts of the generated firmware "
                                     "on the emulated Cortex-M4 (instructions, not cycles).")
    parser.add_argument("models", nargs="*", metavar="MODEL.npz",
                        help="models to count (default: every golden model)")
    parser.add_argument("--no-frontend", action="store_true", help="skip the per-frame front-end counts")
    args = parser.parse_args(argv)
    try:
        if args.models:
            models = {Path(p).stem: model_module.load(p) for p in args.models}
        else:
            golden = sorted((REPO / "golden" / "models").glob("*.npz"))
            models = {p.stem: model_module.load(p) for p in golden} if golden else throwaway_models()
    except ValueError as exc:
        print(f"count_instructions: error: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="fw-count-") as tmp:
        if not args.no_frontend:
            print("| front end | build | MFCC per frame | push frame (MFCC + normalise + window) |")
            print("|---|---|---|---|")
        for precision in () if args.no_frontend else ("q15", "q31"):
            sub = Path(tmp) / f"front_{precision}"
            sub.mkdir()
            rows = count_frontend(precision, sub)
            for dsp, label in BUILDS:
                mfcc, push = rows[dsp]
                print(f"| {precision}, N = 256, 20 mels, 13 MFCC | {label} | {mfcc:,} | {push:,} |", flush=True)
        if not args.no_frontend:
            print()
        print("| model | cell | weights | H | T | build | per inference | per cell step | head |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, model in models.items():
            sub = Path(tmp) / name.replace(" ", "_")
            sub.mkdir()
            rows = count_model(model, sub)
            for dsp, label in BUILDS:
                total, step, head = rows[dsp]
                print(f"| {name} | {model.cell} | {model.weights} | {model.units} | {model.frames} | {label} "
                      f"| {total:,} | {step:,} | {head:,} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
