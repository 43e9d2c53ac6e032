"""Executed-instruction counts of the generated firmware on QEMU's Cortex-M4 (mps2-an386).

    python tools/firmware/count_instructions.py [MODEL.npz ...]

For each model (default: throwaway random models from tests/throwaway_models.py, RNN and LSTM, int8
and PoT, H = 32, T = 49, I = 13), exports the C, builds it with -O2 twice (DSP intrinsics; portable
C with -DFRNN_NO_DSP), runs tools/firmware/main.c in "count" mode under the exact instruction
counter (icount.py: one trace line per executed instruction) and prints a Markdown table of
instructions per inference (T cell steps + head), per cell step and for the head. These are
instruction counts, not cycles.
"""

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
from fixedrnn import c_export, model as model_module  # noqa: E402

MAGIC = 0x494E5246


def throwaway_models():
    sys.path.insert(0, str(REPO / "tests"))
    from throwaway_models import random_model

    return {f"{cell} {weights}": random_model(cell=cell, weights=weights, units=32, frames=49, seed=1)
            for cell in ("rnn", "lstm") for weights in ("int8", "pot")}


def count(model, tmp):
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (model.frames, model.n_features)).astype(np.int8)
    blob = np.array([MAGIC, 2, 1, model.frames], "<i4").tobytes() + x.tobytes()
    (tmp / "in.bin").write_bytes(blob)
    c_export.export_c(model, tmp / "src", silence=np.zeros(model.n_features, np.int8))
    rows = {}
    for dsp in (True, False):
        cfg = runner.BuildConfig("arm", "-O2", dsp=dsp)
        exe = runner.build(cfg, tmp / cfg.name, main="main.c", src_dir=tmp / "src")
        rows[dsp] = icount.count_regions(exe, [tmp / "in.bin", tmp / "out.bin", "count"])
    return rows


def main(argv):
    models = {Path(p).stem: model_module.load(p) for p in argv} if argv else throwaway_models()
    print("| model | H | T | build | per inference | per cell step | head |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="fw-count-") as tmp:
        for name, model in models.items():
            sub = Path(tmp) / name.replace(" ", "_")
            sub.mkdir()
            rows = count(model, sub)
            for dsp, label in ((True, "DSP (SMLAD)"), (False, "plain C")):
                total, step, head = rows[dsp]
                print(f"| {name} | {model.units} | {model.frames} | {label} | {total:,} | {step:,} | {head:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
