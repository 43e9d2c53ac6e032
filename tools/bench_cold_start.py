"""The first ``classify`` of a fresh install against a warm one, in one run.

    python tools/bench_cold_start.py [MODEL] [--wav WAV] [--warm 3]

A fresh install has an empty numba cache: the first run compiles the kernels it calls, later runs
load them. Each run here is a new process ``python -m fixedrnn classify MODEL WAV`` (this checkout
first on PYTHONPATH) with ``NUMBA_CACHE_DIR`` pointing at a new empty folder: the first run is the
cold one, the next ``--warm`` reuse its cache. Prints every wall time, whether the compile notice
appeared, and the ratio cold / median warm (the target is 3 or less). ``WAV`` defaults to a
one-second synthetic recording (a 440 Hz tone in noise) written to the temporary folder.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fixedrnn.compile_notice import NOTICE  # noqa: E402


def _synthetic_wav(path, sample_rate=8000):
    from scipy.io import wavfile

    t = np.arange(sample_rate) / sample_rate
    noise = np.random.default_rng(0).normal(0.0, 0.05, t.size)
    wavfile.write(path, sample_rate, np.round((0.3 * np.sin(2 * np.pi * 440 * t) + noise) * 32767).astype(np.int16))
    return path


def _classify(model, wav, cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir),
               PYTHONPATH=os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "fixedrnn", "classify", str(model), str(wav)],
                          capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bench_cold_start: classify failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return seconds, NOTICE in proc.stderr


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", default=str(REPO / "golden" / "models" / "lstm_int8.npz"))
    parser.add_argument("--wav", default=None, help="recording to classify (default: synthetic)")
    parser.add_argument("--warm", type=int, default=3, help="warm runs (default 3)")
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
    ratio = cold / statistics.median(warm)
    print(f"cold / warm (median of {len(warm)}): {ratio:.2f}x (target <= 3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
