"""Write the golden vectors of the shipped models: ``python tools/make_golden.py [MODEL.npz ...]``.

For each model (default: every ``golden/models/*.npz``) a set ``golden/vectors/<model>/`` is
written (format: docs/golden.md) with

- the synthetic signals of :data:`fixedrnn.signals.STANDARD_SIGNALS` (full tensors), and
- the FSDD recordings of :func:`golden_recordings` (index 0 of every digit and speaker of the test
  split: 60 files, stored only as file name + sample checksum, logits and digests),
- the float model's logits for every input and the float/integer agreement (also over the whole
  300-recording test split), when the trainer's float model is available (see
  :func:`float_logits_source`).

The output is deterministic: the same models and data give byte-identical manifests.
"""

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fixedrnn import fsdd, golden, signals  # noqa: E402
from fixedrnn.cli import run  # noqa: E402
from fixedrnn.errors import FixedRnnError  # noqa: E402

#: File index of the FSDD recordings each golden set holds (every digit, every speaker).
GOLDEN_FSDD_INDEX = 0


def golden_recordings(data_dir):
    """The FSDD recordings a golden set holds: test split, index 0, every speaker and digit."""
    return [r for r in fsdd.list_recordings(data_dir, "test") if r.index == GOLDEN_FSDD_INDEX]


def float_logits_source(model_file):
    """``(function, description)`` computing the float model's logits for int16 PCM, or None.

    The trainer (tools/train.py) saves the float model beside the quantized one; its
    ``float_logits(model_file, pcms)`` returns float ``[B, C]``.
    """
    try:
        import train  # tools/train.py, on sys.path when this tool runs from tools/
    except ImportError:
        return None
    finder = getattr(train, "float_logits", None)
    if finder is None:
        return None
    return (lambda pcms: finder(model_file, pcms)), "tools/train.py float_logits (PyTorch float model)"


def make_set(model_file, out_dir, data_dir, use_fsdd, quiet):
    specs = list(signals.STANDARD_SIGNALS)
    recordings = []
    if use_fsdd:
        if not (Path(data_dir) / "recordings").is_dir():
            raise FixedRnnError(f"fsdd: {data_dir} is not an FSDD directory (use --no-fsdd to write "
                                "synthetic inputs only)")
        recordings = golden_recordings(data_dir)
    float_logits, float_source, extra = None, None, None
    source = float_logits_source(model_file)
    if source is not None:
        compute, float_source = source
        names = [s.name for s in specs] + [r.name for r in recordings]
        pcms = [signals.generate(s) for s in specs] + [r.samples() for r in recordings]
        float_logits = dict(zip(names, compute(pcms)))
        if use_fsdd:
            extra = {"test_split": _test_split_agreement(model_file, data_dir, compute)}
    progress = None if quiet else (lambda name: print(f"  {name}", file=sys.stderr))
    gset = golden.write_set(out_dir, model_file, specs, recordings, float_logits=float_logits,
                            float_source=float_source, extra_agreement=extra,
                            progress=progress)
    return gset


def _test_split_agreement(model_file, data_dir, compute):
    import numpy as np

    from fixedrnn.evaluate import evaluate_model

    result = evaluate_model(model_file, data_dir, split="test")
    recordings = fsdd.list_recordings(data_dir, "test")
    float_pred = np.argmax(np.asarray(compute([r.samples() for r in recordings])), axis=1)
    agree = int(np.sum(float_pred == result.predictions))
    return {"agree": agree, "n": result.n, "rate": agree / result.n,
            "float_accuracy": float(np.mean(float_pred == result.targets)),
            "integer_accuracy": result.accuracy}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", help="model files (default: golden/models/*.npz)")
    parser.add_argument("--out", default=str(REPO / "golden" / "vectors"),
                        help="folder of the sets (default: golden/vectors)")
    parser.add_argument("--fsdd", default=None, help="FSDD directory (default: ../shared/data/fsdd)")
    parser.add_argument("--no-fsdd", action="store_true", help="synthetic inputs only")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    def job(args):
        models = [Path(m) for m in args.models] or sorted((REPO / "golden" / "models").glob("*.npz"))
        if not models:
            raise FixedRnnError("models: none given and golden/models holds no .npz")
        data_dir = Path(args.fsdd) if args.fsdd else fsdd.default_data_dir()
        for model_file in models:
            out_dir = Path(args.out) / model_file.stem
            print(f"{model_file} -> {out_dir}", file=sys.stderr)
            gset = make_set(model_file, out_dir, data_dir, not args.no_fsdd, args.quiet)
            agreement = ", ".join(f"{k} {v['agree']}/{v['n']}" for k, v in gset.agreement.items())
            print(f"{gset.name}: {len(gset.inputs)} inputs, tensors {', '.join(gset.tensors)}"
                  + (f"; float/integer agreement: {agreement}" if agreement else "; no float model"))
        return 0

    return run(job, args, prog="make_golden")


if __name__ == "__main__":
    sys.exit(main())
