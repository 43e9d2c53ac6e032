"""Models of one size at every packed weight form, for counting what the packed kernels cost.

    python tools/packed_models.py OUTDIR [--cell lstm] [--units 64] [--frames 8] [--seed 1]
                                  [--forms int8 int2 int3 int4 e1m0 e1m1 e1m2 e2m0 e2m1 e3m0]

Random float weights (tests/throwaway_models.py: the 13-MFCC front end of the golden models, 10
labels) converted at each weight form: ``OUTDIR/<cell>_h<units>_<form>.npz`` (``intK``: k-bit,
``eEmM``: minifloat with E exponent and M mantissa bits; ``int8`` for comparison). Prints each
file with its flash and RAM. Then, e.g.::

    python tools/firmware/count_instructions.py OUTDIR/*.npz --no-frontend

(per cell step and head instructions on QEMU's Cortex-M4: docs/compression.md, "Packed storage").
"""

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from fixedrnn import layout, model as model_io  # noqa: E402
from fixedrnn.errors import FixedRnnError  # noqa: E402
from throwaway_models import random_model  # noqa: E402

FORMS = ("int8", "int2", "int3", "int4", "e1m0", "e1m1", "e1m2", "e2m0", "e2m1", "e3m0")


def form_options(name):
    """The converter's weight-form options of a form name (``int8``, ``intK``, ``eEmM``)."""
    if name == "int8":
        return {}
    if match := re.fullmatch(r"int([2-8])", name):
        return dict(weights="intk", bits=int(match[1]))
    if match := re.fullmatch(r"e(\d)m(\d)", name):
        return dict(weights="minifloat", exponent_bits=int(match[1]), mantissa_bits=int(match[2]))
    raise FixedRnnError(f"--forms: {name!r} is not int8, intK (K = 2..8) or eEmM (a minifloat)")


def write_models(outdir, cell="lstm", units=64, frames=8, forms=FORMS, seed=1):
    """Write the models (module doc); returns ``[(path, model)]``."""
    options = [(name, form_options(name)) for name in forms]
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    out = []
    for name, form in options:
        model = random_model(cell=cell, units=units, frames=frames, seed=seed, **form)
        out.append((model_io.save(model, outdir / f"{cell}_h{units}_{name}.npz"), model))
    return out


def main(argv):
    parser = argparse.ArgumentParser(description="Models of one size at each packed weight form.")
    parser.add_argument("outdir")
    parser.add_argument("--cell", choices=("rnn", "lstm"), default="lstm")
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--forms", nargs="+", default=list(FORMS))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        models = write_models(args.outdir, args.cell, args.units, args.frames, args.forms, args.seed)
    except FixedRnnError as exc:
        print(f"packed_models: error: {exc}", file=sys.stderr)
        return 2
    print("| model | weights | flash B | RAM B |")
    print("|---|---|---|---|")
    for path, model in models:
        arrays = model.to_arrays()
        flash = sum(item.nbytes for item in layout.flash_items(arrays))
        ram = sum(item.nbytes for item in layout.ram_items(arrays))
        print(f"| {path.name} | {model.weight_form.label} | {flash:,} | {ram:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
