"""The first ``classify`` of a fresh install against a warm one, in one run.

    python tools/bench_cold_start.py [MODEL] [--wav WAV] [--warm 3] [--no-warmup]

A fresh install has an empty numba cache: the first run compiles the kernels it calls, later runs
load them. Each run here is a new process ``python -m fixedrnn classify MODEL WAV`` (this checkout
first on PYTHONPATH) with ``NUMBA_CACHE_DIR`` pointing at a new empty folder: the first run is the
cold one, the next ``--warm`` reuse its cache. Then the install as the README gives it: a second
empty cache, ``fixedrnn warmup`` (the install's last step; its time is printed apart), and the first
classify after it. Prints every wall time, whether the compile notice appeared, and both ratios to
the median warm run — first classify without the warmup / after it (the target is 3 or less).
``WAV`` defaults to a one-second synthetic recording (a 440 Hz tone in noise) written to the
temporary folder.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fixedrnn.compile_notice import NOTICE  # noqa: E402
from fixedrnn.warmup import synthetic_recording  # noqa: E402


def _synthetic_wav(path, sample_rate=8000):
    from scipy.io import wavfile

    wavfile.write(path, sample_rate, synthetic_recording(sample_rate))
    return path


def _fixedrnn(arguments, cache_dir):
    """Run ``python -m fixedrnn ARGUMENTS`` with its numba cache in ``cache_dir``: (seconds, stderr)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir),
               PYTHONPATH=os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "fixedrnn", *map(str, arguments)],
                          capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bench_cold_start: fixedrnn {arguments[0]} failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return seconds, proc.stderr


def _classify(model, wav, cache_dir):
    seconds, stderr = _fixedrnn(["classify", model, wav], cache_dir)
    return seconds, NOTICE in stderr


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", default=str(REPO / "golden" / "models" / "lstm_int8.npz"))
    parser.add_argument("--wav", default=None, help="recording to classify (default: synthetic)")
    parser.add_argument("--warm", type=int, default=3, help="warm runs (default 3)")
    parser.add_argument("--no-warmup", action="store_true", help="skip the install-with-warmup case")
    args = parser.parse_args(argv)
    if args.warm < 1:
        parser.error("--warm must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        wav = args.wav or _synthetic_wav(Path(tmp) / "tone.wav")
        cache = Path(tmp) / "numba-cache"
        cache.mkdir()
        cold, cold_notice = _classify(args.model, wav, cache)
        print(f"cold (empty numba cache): {cold:6.2f} s  compile notice: {'yes' if cold_notice else 'no'}")
        warm = []
        for i in range(args.warm):
            seconds, notice = _classify(args.model, wav, cache)
            warm.append(seconds)
            print(f"warm run {i + 1}:               {seconds:6.2f} s  compile notice: {'yes' if notice else 'no'}")
        median = statistics.median(warm)
        print(f"cold / warm (median of {len(warm)}): {cold / median:.2f}x (target <= 3x)")
        if not args.no_warmup:
            installed = Path(tmp) / "numba-cache-warmup"
            installed.mkdir()
            shipped = Path(args.model).resolve().parent == REPO / "golden" / "models"
            seconds, _ = _fixedrnn(["warmup", "--quiet"] + ([] if shipped else [args.model]), installed)
            print(f"install step 'fixedrnn warmup{'' if shipped else ' MODEL'}' (empty cache): {seconds:6.1f} s")
            first, notice = _classify(args.model, wav, installed)
            print(f"first classify after it:  {first:6.2f} s  compile notice: {'yes' if notice else 'no'}")
            print(f"first after warmup / warm: {first / median:.2f}x (target <= 3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
