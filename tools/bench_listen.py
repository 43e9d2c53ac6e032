"""Real-time factor of the streaming detector (audio seconds per wall-clock second).

    python tools/bench_listen.py [MODEL.npz ...] [--seconds 60] [--block 1024]

Feeds a synthetic stream (seeded noise at 20 dB below speech-like tone bursts, one every ~1.5 s,
so the VAD opens segments and the cell resets as on real audio) to the stream ``listen`` opens for
the model (:func:`fixedrnn.segment_stream.open_stream`: per segment for a CMN model) in blocks of
``--block`` samples, after a one-second warm-up (numba compilation). Default models: lstm_int8,
lstm_pot, the two tiny LSTMs, rnn_int8 and lstm_int8_cmn (per segment).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fixedrnn.model import load  # noqa: E402
from fixedrnn.segment_stream import open_stream  # noqa: E402

DEFAULT = ["lstm_int8", "lstm_pot", "tiny_lstm_int8", "tiny_lstm_pot", "rnn_int8", "lstm_int8_cmn"]


def bursts(seconds, rate=8000, seed=0):
    """int16 audio: white noise (RMS 100) with a 0.5 s harmonic burst (RMS ~1000) every 1.5 s."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    x = rng.normal(0, 100, n)
    for start in np.arange(0.5, seconds - 0.5, 1.5):
        a, b = int(start * rate), int((start + 0.5) * rate)
        f0 = rng.uniform(100, 250)
        x[a:b] += sum(600 / k * np.sin(2 * np.pi * k * f0 * t[a:b]) for k in range(1, 6))
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", default=[str(REPO / "golden" / "models" / f"{m}.npz") for m in DEFAULT])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--block", type=int, default=1024)
    args = parser.parse_args(argv)
    pcm = bursts(args.seconds)
    for path in args.models:
        model = load(path)
        stream = open_stream(model)
        stream.push(bursts(1.0, seed=1))
        stream.reset()
        t0 = time.perf_counter()
        for start in range(0, pcm.size, args.block):
            stream.push(pcm[start:start + args.block])
        wall = time.perf_counter() - t0
        print(f"{Path(path).name}: {args.seconds:.0f} s of audio in {wall:.2f} s: "
              f"{args.seconds / wall:.1f}x real time ({1000 * wall / stream.frames_done:.2f} ms per frame)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
