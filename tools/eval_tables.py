"""What the accuracy-table tools (tools/noise_eval.py, clip_eval.py, channel_eval.py) share: their
common arguments and inputs (models, default every model of golden/models/; ``--data-dir``, default FSDD found
as ``fixedrnn verify`` finds it; ``--split``; ``--json``) and the JSON file they write."""

import json
from pathlib import Path

import numpy as np

from fixedrnn import fsdd
from fixedrnn.atomicfile import write_text
from fixedrnn.errors import FixedRnnError

GOLDEN_MODELS = Path(__file__).resolve().parents[1] / "golden" / "models"


def add_table_arguments(parser):
    """The shared arguments, on an ``argparse`` parser."""
    parser.add_argument("models", nargs="*", type=Path, help="model files (default: golden/models/*.npz)")
    parser.add_argument("--data-dir", type=Path, default=None, help="FSDD directory (default: as verify)")
    parser.add_argument("--split", choices=fsdd.SPLITS, default="test")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")


def table_models(args):
    """The model paths to score: the arguments, or every golden model."""
    return args.models or sorted(GOLDEN_MODELS.glob("*.npz"))


def table_data_dir(args):
    """The FSDD folder: ``--data-dir``, or the default one."""
    return args.data_dir or fsdd.default_data_dir()


def write_json(args, **fields):
    """With ``--json``: ``fields`` (the split, the settings, the rows) as one JSON file, atomically."""
    if args.json:
        write_text(args.json, json.dumps({"split": args.split, **fields}, indent=1) + "\n")


def split_recordings(data_dir, split):
    """``(recordings, samples)``: the FSDD recordings of ``split`` and their int16 samples;
    ``FixedRnnError`` naming ``--data-dir`` when there are none."""
    recordings = fsdd.list_recordings(data_dir, split)
    if not recordings:
        raise FixedRnnError(f"--data-dir: no FSDD recordings of split {split!r} in {data_dir}")
    return recordings, [r.samples() for r in recordings]


def targets(model, recordings):
    """int ``[n]``: each recording's class index in ``model.labels`` (its digit)."""
    return np.array([model.labels.index(str(r.digit)) for r in recordings])


def accuracy(model, pcms, targets, endpoint=None):
    """Fraction of ``pcms`` (int16 arrays) whose first maximal int8 logit is the target class
    (``endpoint``: an :class:`fixedrnn.endpoint.EndpointConfig`, or None)."""
    logits = model.run_batch(pcms, endpoint=endpoint)
    return float(np.mean(np.argmax(logits, axis=1) == np.asarray(targets)))
