"""``fixedrnn warmup [MODEL...]``: compile the numba kernels ahead of time, as the last install step.

numba compiles a kernel on its first call and caches the machine code (``__pycache__`` beside the
modules, or ``$NUMBA_CACHE_DIR``; :mod:`fixedrnn.compile_notice`). ``warmup`` makes those first calls
for each model, on a one-second synthetic recording, through every path the commands take: the
front end, the traced NumPy path (``verify``), the batch paths (``evaluate``: numba, and shift for
power-of-two weights) and ``classify``. Later commands on models of the same kinds (cell, weight
form, front end) then load every kernel from the cache and never pause to compile.

Without MODEL, the models of the repository's golden sets (the shipped models, what ``verify``
checks). The models are spread over ``--jobs`` processes (default: one per CPU); each prints one line
when it is done.
"""

import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np

from fixedrnn.errors import FixedRnnError


def golden_model_files(root=None):
    """The model file of every golden set under ``root`` (default: :func:`fixedrnn.verify.default_golden_dir`)."""
    from fixedrnn import golden, verify

    root = verify.default_golden_dir() if root is None else Path(root)
    return [golden.load_set(path).model_file for path in golden.find_sets(root)]


#: Recordings per batch in :func:`warm_model` (lengths 1/8 … 8/8 s).
BATCH = 8


def synthetic_recording(sample_rate, seconds=1.0):
    """int16 PCM ``[sample_rate · seconds]``: a 440 Hz tone at −10 dBFS in white noise (seed 0)."""
    t = np.arange(int(sample_rate * seconds)) / sample_rate
    noise = np.random.default_rng(0).normal(0.0, 0.05, t.size)
    return np.round((0.3 * np.sin(2 * np.pi * 440.0 * t) + noise) * 32767).astype(np.int16)


def warm_model(path):
    """Run ``path``'s model through every engine path once (compiling what is not cached yet);
    returns ``(path, seconds, error)``: ``error`` the one-line message of a bad model file, else None
    (a message, not the exception, so that it crosses from a worker process as it is)."""
    from fixedrnn import golden
    from fixedrnn.model import load

    start = time.perf_counter()
    try:
        model = load(path)
    except FixedRnnError as exc:
        return str(path), 0.0, str(exc)
    pcm = synthetic_recording(model.frontend.sample_rate)
    # a batch of BATCH: the batch kernels run utterances in lockstep blocks from 4 on (fixedrnn.fused)
    pcms = [pcm[: pcm.size * (i + 1) // BATCH] for i in range(BATCH)]
    golden.compute_tensors_batch(model, pcms)
    features = model.features_batch(pcms)
    for backend in golden.fast_backends(model):
        model.run_features_batch(features, backend=backend)
        model.run_features_batch(features[:1], backend=backend)  # one at a time (B < 4)
    model.classify(pcm)
    return str(path), time.perf_counter() - start, None


def warm_models(paths, jobs=None, report=None):
    """:func:`warm_model` of every path, over ``jobs`` processes (default: one per CPU, at most one
    per model); ``report(path, seconds)`` is called as each finishes. Returns the wall seconds.
    A model file that does not load raises :class:`fixedrnn.errors.FixedRnnError` with its one-line
    message (the first such file's; the others are still warmed up)."""
    paths = [str(p) for p in paths]
    if jobs is not None and jobs < 1:
        raise FixedRnnError(f"jobs: must be at least 1, got {jobs}")
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(paths)))
    start = time.perf_counter()
    errors = []

    def finished(path, seconds, error):
        if error is not None:
            errors.append(error)
        elif report:
            report(path, seconds)

    if jobs == 1:
        for path in paths:
            finished(*warm_model(path))
        return _raise_first(errors, time.perf_counter() - start)
    # spawn: a fresh interpreter per worker (numba's threading layer does not survive a fork)
    pool = multiprocessing.get_context("spawn").Pool(jobs)
    try:
        for done in pool.imap_unordered(warm_model, paths):
            finished(*done)
        pool.close()
    finally:
        pool.terminate()  # also on Ctrl-C / SIGTERM: no worker outlives the command
        pool.join()
    return _raise_first(errors, time.perf_counter() - start)


def _raise_first(errors, seconds):
    if errors:
        raise FixedRnnError(errors[0])
    return seconds


def _run(args):
    if args.jobs is not None and args.jobs < 1:
        raise FixedRnnError(f"--jobs: must be at least 1, got {args.jobs}")
    paths = args.models or golden_model_files()
    if not args.quiet:
        print(f"fixedrnn warmup: compiling the kernels of {len(paths)} model(s) "
              f"(once; later runs load them from numba's cache)...", file=sys.stderr, flush=True)

    def report(path, seconds):
        if not args.quiet:
            print(f"  {Path(path).stem}: ready ({seconds:.1f} s)", file=sys.stderr, flush=True)

    total = warm_models(paths, jobs=args.jobs, report=report)
    if not args.quiet:
        print(f"fixedrnn warmup: done in {total:.1f} s", file=sys.stderr)
    return 0


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "warmup", help="compile the numba kernels once, after installing",
        description="Compile and cache the numba kernels that classify, evaluate and verify use, "
                    "for the given models (default: the shipped golden models), so that no later "
                    "command pauses to compile. Run it once after installing; it takes about a "
                    "minute on two cores.")
    parser.add_argument("models", nargs="*", metavar="MODEL", help="model files (.npz)")
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help="processes (default: one per CPU)")
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    parser.set_defaults(func=_run)
    return parser
