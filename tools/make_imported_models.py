"""Write the imported models of the golden vectors: ``python tools/make_imported_models.py``.

Two committed converter-made fixtures go through ``fixedrnn import`` (the Python API of the
``import tflite`` command) into ``golden/imported/`` (model files, docs/model-format.md):

- ``import_lstm_h32``: ``tests/fixtures/tflite/lstm_h32.tflite``, a tf-keras LSTM(32) → the fused
  UNIDIRECTIONAL_SEQUENCE_LSTM with cell clip and arbitrary scales (an ``"lstm"`` model);
- ``import_keras3_gru_h24``: ``tests/fixtures/tflite_graph/keras3_gru_h24.tflite``, a Keras 3
  GRU(24) unrolled (a ``"graph"`` model: SPLIT, STRIDED_SLICE, LOGISTIC, SUB, MUL, per-step scales).

Both with the default MFCC settings and the per-coefficient mean and std the fixture was trained
with (``lstm_h32.norm.json``; the ``mean`` / ``std`` arrays of ``keras3_gru_h24.npz``). Then
``python tools/make_golden.py golden/imported/*.npz`` writes their golden sets into
``golden/vectors/`` (docs/golden.md). The output is deterministic.
"""

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from fixedrnn.cli import run  # noqa: E402

OUT = REPO / "golden" / "imported"
FIXTURES = REPO / "tests" / "fixtures"
#: model name → (the .tflite, where its normalisation statistics are).
IMPORTS = {
    "import_lstm_h32": (FIXTURES / "tflite" / "lstm_h32.tflite", FIXTURES / "tflite" / "lstm_h32.norm.json"),
    "import_keras3_gru_h24": (FIXTURES / "tflite_graph" / "keras3_gru_h24.tflite",
                              FIXTURES / "tflite_graph" / "keras3_gru_h24.npz"),
}


def imported_model(name):
    """The model ``name`` of :data:`IMPORTS`, imported now (meta: the source file and this tool)."""
    import dataclasses

    from fixedrnn.import_tflite import FrontEnd, frontend_spec, import_tflite, read_norm

    tflite, norm = IMPORTS[name]
    spec = frontend_spec([])
    if norm.suffix == ".json":
        mean, std = read_norm(norm, spec.n_mfcc)
    else:
        with np.load(norm) as data:
            mean, std = data["mean"].astype(np.float64), data["std"].astype(np.float64)
    model = import_tflite(tflite, FrontEnd(spec, mean, std))
    return dataclasses.replace(model, meta={**model.meta, "command": np.array(
        f"tools/make_imported_models.py ({tflite.relative_to(REPO).as_posix()}, "
        f"normalisation from {norm.relative_to(REPO).as_posix()})")})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(OUT), help="folder of the model files (default: golden/imported)")
    args = parser.parse_args(argv)

    def job(args):
        from fixedrnn import model as model_io

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name in IMPORTS:
            path = model_io.save(imported_model(name), out / f"{name}.npz")
            print(f"wrote {path}")
        return 0

    return run(job, args, prog="make_imported_models")


if __name__ == "__main__":
    sys.exit(main())
