"""Time ``evaluate`` on the FSDD test split, engine path by path, side by side in one run.

    python tools/bench_evaluate.py golden/models/lstm_int8.npz [--split test] [--repeat 2]

Prints, per backend, the wall time of the whole evaluation (front end + engine), of the engine
alone on the precomputed features, and the ratio to the NumPy reference path. The best of
``--repeat`` runs is kept (the first numba call compiles; it is run once before timing).
"""

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from fixedrnn import fsdd, golden, model as model_io  # noqa: E402
from fixedrnn.cli import run  # noqa: E402


def _best(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--fsdd", default=None)
    parser.add_argument("--split", default="test", choices=fsdd.SPLITS)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")

    def job(args):
        model = model_io.load(args.model)
        recordings = fsdd.list_recordings(args.fsdd, args.split)
        pcms = [r.samples() for r in recordings]
        t_features = _best(lambda: model.features_batch(pcms), args.repeat)
        features = model.features_batch(pcms)
        backends = ("numpy",) + golden.fast_backends(model)
        reference = None
        rows = []
        for backend in backends:
            logits = model.run_features_batch(features, backend=backend)  # compile / warm up
            if reference is None:
                reference = logits
            assert np.array_equal(logits, reference), f"backend {backend} disagrees"
            t_engine = _best(lambda: model.run_features_batch(features, backend=backend), args.repeat)
            rows.append((backend, t_engine))
        print(f"model {args.model}: {model.cell}/{model.weights}, {len(pcms)} recordings ({args.split}), "
              f"T={model.frames}, H={model.units}; best of {args.repeat}")
        print(f"front end (MFCC + int8 features, all files): {t_features:.3f} s")
        print(f"{'backend':8} {'engine s':>9} {'total s':>9} {'engine x numpy':>15} {'total x numpy':>14}")
        t_np = rows[0][1]
        for backend, t_engine in rows:
            print(f"{backend:8} {t_engine:9.3f} {t_engine + t_features:9.3f} {t_np / t_engine:15.2f} "
                  f"{(t_np + t_features) / (t_engine + t_features):14.2f}")
        return 0

    return run(job, args, prog="bench_evaluate")


if __name__ == "__main__":
    sys.exit(main())
