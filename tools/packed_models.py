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

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tools"))

from fixedrnn import model as model_io  # noqa: E402
from fixedrnn.errors import FixedRnnError  # noqa: E402
from sparse_models import print_models, size_parser  # noqa: E402
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
    parser = size_parser("Models of one size at each packed weight form.")
    parser.add_argument("--forms", nargs="+", default=list(FORMS))
    args = parser.parse_args(argv)
    return print_models("packed_models",
                        lambda: write_models(args.outdir, args.cell, args.units, args.frames, args.forms, args.seed),
                        {"weights": lambda m: m.weight_form.label})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
