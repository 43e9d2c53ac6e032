"""Models of one size at several densities, for counting what unstructured sparsity saves.

    python tools/sparse_models.py OUTDIR [--cell lstm] [--units 64] [--frames 8]
                                  [--sparsity 0 0.5 0.75 0.9] [--seed 1]

Random float weights (tests/throwaway_models.py: the 13-MFCC front end of the golden models, 10
labels) magnitude-pruned per matrix (:func:`fixedrnn.prune.prune_magnitude`) at each sparsity, then
converted with ``storage="sparse"`` (:mod:`fixedrnn.sparse`), and once unpruned with dense int8
storage: ``OUTDIR/<cell>_h<units>_dense.npz`` and ``OUTDIR/<cell>_h<units>_sparse<percent>.npz``
(percent = the density asked, 100 − 100 · sparsity). Prints each file with its flash, RAM and
weight density. Then, e.g.::

    python tools/firmware/count_instructions.py OUTDIR/*.npz --no-frontend

(per cell step and head instructions on QEMU's Cortex-M4: docs/compression.md). T (``--frames``)
only scales the per-inference count.
"""

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from fixedrnn import layout, model as model_io, sparse  # noqa: E402
from fixedrnn.errors import FixedRnnError  # noqa: E402
from throwaway_models import random_model  # noqa: E402


def write_models(outdir, cell="lstm", units=64, frames=8, sparsities=(0.0, 0.5, 0.75, 0.9), seed=1):
    """Write the models (module doc); returns ``[(path, model)]``."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    configs = [("dense", 0.0, "dense")] + [(f"sparse{round(100 - 100 * s)}", s, "sparse") for s in sparsities]
    out = []
    for tag, sparsity, storage in configs:
        model = random_model(cell=cell, units=units, frames=frames, seed=seed, sparsity=sparsity, storage=storage)
        path = model_io.save(model, outdir / f"{cell}_h{units}_{tag}.npz")
        out.append((path, model))
    return out


def size_parser(description):
    """The command line both model-set tools share: OUTDIR and the model's size and seed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("outdir")
    parser.add_argument("--cell", choices=("rnn", "lstm"), default="lstm")
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    return parser


def print_models(prog, write, columns):
    """Run ``write()`` (→ ``[(path, model)]``; a FixedRnnError is one line, exit 2) and print a table
    of the files: ``columns`` ``{header: model → text}``, then flash and RAM bytes."""
    try:
        models = write()
    except FixedRnnError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    print("| " + " | ".join(["model", *columns, "flash B", "RAM B"]) + " |")
    print("|" + "---|" * (len(columns) + 3))
    for path, model in models:
        arrays = model.to_arrays()
        flash = sum(item.nbytes for item in layout.flash_items(arrays))
        ram = sum(item.nbytes for item in layout.ram_items(arrays))
        print("| " + " | ".join([path.name, *(f(model) for f in columns.values()), f"{flash:,}", f"{ram:,}"]) + " |")
    return 0


def weight_density(model):
    """The model's int8 weight density (nonzeros / weights, every matrix together), in %."""
    arrays = model.to_arrays()
    return f"{100 * sparse.density([v for k, v in arrays.items() if k.endswith('.weight')]):.1f} %"


def main(argv):
    parser = size_parser("Models of one size at several weight densities (sparse storage).")
    parser.add_argument("--sparsity", type=float, nargs="+", default=[0.0, 0.5, 0.75, 0.9])
    args = parser.parse_args(argv)
    return print_models("sparse_models",
                        lambda: write_models(args.outdir, args.cell, args.units, args.frames, args.sparsity, args.seed),
                        {"storage": lambda m: m.weight_storage, "weight density": weight_density})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
