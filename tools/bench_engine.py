"""Throughput of the batch engine (numba) against TFLite Micro's interpreter and the NumPy path.

    python tools/bench_engine.py [--model MODEL.npz ...] [--cell lstm|rnn] [--weights int8|pot]
                                 [--synthetic] [--scaling]

Same model, same int8 feature sequences, one run: utterances per second of
- TFLM: the exported .tflite in ``tflite_micro``'s interpreter, one invoke (and reset) per utterance;
- numpy: the engine's NumPy reference path, whole batch at once;
- numba: the engine's fused batch kernel (and ``shift`` for a power-of-two model), the whole batch
  on 1 thread and on every numba thread (``NUMBA_NUM_THREADS``, default all cores), with the
  scaling efficiency ``rate(N) / (N · rate(1))`` (issue #16 asks >= 0.6);
- B = 1: the median time of one utterance per call (1 thread) against TFLM's time per utterance.
Every path's logits are checked equal (0 LSB) before timing is reported. Without ``--model`` a
random converted model with I=13, H=64, T=61 is used; several ``--model`` files are benchmarked one
after the other. Features come from the FSDD test split (index 0-4, 300 files) through the model's
front end, or are random int8 with ``--synthetic``. ``--scaling`` also prints numba time against T,
H and batch size.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fixedrnn import fsdd as fsdd_data  # noqa: E402
from fixedrnn.cli import run  # noqa: E402


def build_model(cell, weights, n_in=13, units=64, frames=61, seed=0):
    from engine_models import random_model

    return random_model(seed=seed, cell=cell, weights=weights, n_in=n_in, units=units, n_cls=10,
                        frames=frames)


def fsdd_features(model, fsdd):
    from fixedrnn.mfcc import read_wav

    config = model.frontend.mfcc_config()
    files = [r.path for r in fsdd_data.list_recordings(fsdd, "test")]
    return np.stack([model.features(read_wav(p, config)) for p in files])


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", nargs="+")
    parser.add_argument("--cell", choices=("lstm", "rnn"), default="lstm")
    parser.add_argument("--weights", choices=("int8", "pot"), default="int8")
    parser.add_argument("--synthetic", action="store_true")
    parser.add_argument("--fsdd", default=None, help="FSDD folder (default ../shared/data/fsdd or $FIXEDRNN_FSDD)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scaling", action="store_true")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    return run(bench_all, args, prog="bench_engine")


def bench_all(args):
    from fixedrnn.model import load

    models = [load(path) for path in args.model] if args.model else [build_model(args.cell, args.weights)]
    for k, model in enumerate(models):
        if k:
            print()
        if bench(args, model):
            return 1
    return 0


def bench(args, model):
    import numba

    from fixedrnn.tflm_runner import TflmRunner
    from engine_models import random_sequences

    if args.synthetic:
        xs = random_sequences(seed=0, batch=300, frames=model.frames, n_in=model.n_features)
        source = "random int8"
    else:
        xs = fsdd_features(model, args.fsdd)
        source = f"FSDD test split ({len(xs)} files)"
    print(f"model: {model.cell} {model.weights} I={model.n_features} H={model.units} "
          f"T={model.frames} C={len(model.labels)}; features: {source}")
    runner = TflmRunner(model)
    threads = numba.config.NUMBA_NUM_THREADS
    model.run_features_batch(xs[:2], backend="numba")  # compile
    t_tflm, ref = best_of(lambda: runner(xs), min(args.repeat, 3))
    t_np, out_np = best_of(lambda: model.run_features_batch(xs, backend="numpy"), 1)
    backends = ("numba", "shift") if model.weights == "pot" else ("numba",)
    rows = [("TFLM interpreter", t_tflm, ref), ("engine numpy", t_np, out_np)]
    single = {}
    for backend in backends:
        model.run_features_batch(xs[:2], backend=backend)
        for n_threads in sorted({1, threads}):
            numba.set_num_threads(n_threads)
            t, out = best_of(lambda: model.run_features_batch(xs, backend=backend), args.repeat)
            rows.append((f"engine {backend} {n_threads}T", t, out))
            single.setdefault(backend, t)
    numba.set_num_threads(1)
    per_utt = {}
    for backend in backends:
        times = [best_of(lambda: model.run_features_batch(x[None], backend=backend), 1)[0] for x in xs[:100]]
        per_utt[backend] = float(np.median(times))
    numba.set_num_threads(threads)
    for name, _, out in rows:
        if not np.array_equal(out, ref):
            print(f"MISMATCH: {name} differs from TFLM", file=sys.stderr)
            return 1
    n = len(xs)
    print(f"{'path (B = ' + str(n) + ')':24s} {'utt/s':>10s} {'x TFLM':>8s}")
    for name, t, _ in rows:
        print(f"{name:24s} {n / t:10.0f} {t_tflm / t:8.2f}")
    if threads > 1:
        for backend in backends:
            t_multi = [t for name, t, _ in rows if name == f"engine {backend} {threads}T"][0]
            print(f"{backend} scaling {threads} threads: {single[backend] / t_multi:.2f}x the 1-thread rate "
                  f"(efficiency {single[backend] / t_multi / threads:.2f})")
    for backend in backends:
        print(f"B = 1 {backend} (1 thread): {per_utt[backend] * 1e3:.3f} ms per utterance, TFLM "
              f"{t_tflm / n * 1e3:.3f} ms (TFLM time / engine time: {t_tflm / n / per_utt[backend]:.1f})")
    print(f"numba / numpy: {t_np / single['numba']:.1f}x; all logits equal to TFLM (0 LSB)")

    if args.scaling:
        print("\nnumba seconds per call (B utterances):")
        for frames in (31, 61, 122):
            m = build_model(model.cell, model.weights, frames=frames)
            x = random_sequences(seed=1, batch=300, frames=frames, n_in=13)
            m.run_features_batch(x[:2])
            print(f"  T={frames:4d} H=64  B=300: {best_of(lambda: m.run_features_batch(x), 3)[0]:.4f}")
        for units in (32, 64, 128):
            m = build_model(model.cell, model.weights, units=units)
            x = random_sequences(seed=1, batch=300, frames=61, n_in=13)
            m.run_features_batch(x[:2])
            print(f"  T=  61 H={units:3d} B=300: {best_of(lambda: m.run_features_batch(x), 3)[0]:.4f}")
        m = build_model(model.cell, model.weights)
        for batch in (1, 10, 100, 300, 1000):
            x = random_sequences(seed=2, batch=batch, frames=61, n_in=13)
            m.run_features_batch(x[:1])
            print(f"  T=  61 H= 64 B={batch:4d}: {best_of(lambda: m.run_features_batch(x), 3)[0]:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
