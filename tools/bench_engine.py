"""Throughput of the batch engine (numba) against TFLite Micro's interpreter and the NumPy path.

    python tools/bench_engine.py [--model MODEL.npz ...] [--cell lstm|rnn] [--weights int8|pot]
                                 [--synthetic] [--scaling]

Same model, same int8 feature sequences, one run: utterances per second of
- TFLM: the exported .tflite in ``tflite_micro``'s interpreter, one invoke (and reset) per utterance;
- numpy: the engine's NumPy reference path, whole batch at once (one round);
- numba: the engine's fused batch kernel (and ``shift`` for a power-of-two model), the whole batch
  on 1, 2, 4 and 8 threads as far as numba has them, and on every numba thread
  (``NUMBA_NUM_THREADS``, default all cores), with the scaling efficiency ``rate(N) / (N · rate(1))``
  for each N (issue #16 asks >= 0.6 up to 8 cores);
- B = 1: the median time of one utterance per call (1 thread) against TFLM's time per utterance.
The timed paths run in ``--repeat`` rounds, each path once per round, side by side; every figure
is a median over the rounds, each ratio the median of the per-round ratios. Wall time, and for the
single-threaded paths also the calling thread's CPU time (steadier on a loaded machine: it leaves
out the time other processes hold the core). Every path's logits are checked equal (0 LSB) before
timing is reported. Without ``--model`` a
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


def timed(fn):
    """(wall seconds, this thread's CPU seconds, result) of one call."""
    wall, cpu = time.perf_counter(), time.thread_time()
    out = fn()
    return time.perf_counter() - wall, time.thread_time() - cpu, out


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
    parser.add_argument("--repeat", type=int, default=5, help="timing rounds (default 5)")
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
    # 1, 2, 4, 8 (issue #16's range) as far as the machine goes, and every thread numba has
    thread_counts = sorted({n for n in (1, 2, 4, 8) if n <= threads} | {threads})
    backends = ("numba", "shift") if model.weights == "pot" else ("numba",)
    for backend in backends:
        model.run_features_batch(xs[:2], backend=backend)  # compile
    _, _, ref = timed(lambda: runner(xs))
    wall_np, _, out_np = timed(lambda: model.run_features_batch(xs, backend="numpy"))
    paths = [("TFLM interpreter", 1, lambda: runner(xs))]
    for backend in backends:
        for n_threads in thread_counts:
            paths.append((f"engine {backend} {n_threads}T", n_threads,
                          lambda backend=backend: model.run_features_batch(xs, backend=backend)))
    wall = {name: [] for name, _, _ in paths}
    cpu = {name: [] for name, _, _ in paths}
    outs = {"engine numpy": out_np}
    for _ in range(args.repeat):  # rounds: every path once per round, side by side
        for name, n_threads, fn in paths:
            numba.set_num_threads(n_threads)
            w, c, outs[name] = timed(fn)
            wall[name].append(w)
            cpu[name].append(c)
    numba.set_num_threads(1)
    per_utt = {}
    for backend in backends:
        one = [timed(lambda: model.run_features_batch(x[None], backend=backend)) for x in xs[:100]]
        per_utt[backend] = (float(np.median([w for w, _, _ in one])), float(np.median([c for _, c, _ in one])))
    numba.set_num_threads(threads)
    for name, out in outs.items():
        if not np.array_equal(out, ref):
            print(f"MISMATCH: {name} differs from TFLM", file=sys.stderr)
            return 1
    n, tflm = len(xs), "TFLM interpreter"
    ratio = {name: (float(np.median(np.array(wall[tflm]) / wall[name])),
                    float(np.median(np.array(cpu[tflm]) / cpu[name]))) for name in wall}
    print(f"medians of {args.repeat} rounds (every path once per round); CPU = the calling thread's CPU time")
    print(f"{'path (B = ' + str(n) + ')':24s} {'utt/s':>9s} {'x TFLM':>7s} {'CPU utt/s':>10s} {'x TFLM':>7s}")
    print(f"{'engine numpy (1 round)':24s} {n / wall_np:9.0f}")
    for name, n_threads, _ in paths:
        cpu_cols = f"{n / np.median(cpu[name]):10.0f} {ratio[name][1]:7.2f}" if n_threads == 1 else ""
        print(f"{name:24s} {n / np.median(wall[name]):9.0f} {ratio[name][0]:7.2f} {cpu_cols}")
    for backend in backends:
        for n_threads in thread_counts[1:]:
            speedup = float(np.median(np.array(wall[f"engine {backend} 1T"]) / wall[f"engine {backend} {n_threads}T"]))
            print(f"{backend} scaling {n_threads} threads: {speedup:.2f}x the 1-thread rate (efficiency "
                  f"{speedup / n_threads:.2f})")
    t_tflm = float(np.median(wall[tflm])) / n
    c_tflm = float(np.median(cpu[tflm])) / n
    for backend in backends:
        w, c = per_utt[backend]
        print(f"B = 1 {backend} (1 thread): {w * 1e3:.3f} ms per utterance (CPU {c * 1e3:.3f}), TFLM "
              f"{t_tflm * 1e3:.3f} ms (CPU {c_tflm * 1e3:.3f}); TFLM time / engine time: {t_tflm / w:.1f} "
              f"(CPU {c_tflm / c:.1f})")
    print("all logits equal to TFLM (0 LSB)")

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
