#!/usr/bin/env python3
"""False alarms of a stream on audio that holds no digit: non-digit words, and babble alone.

    python tools/synth_voices.py /tmp/fe --words builtin --voices en-us en-gb+f3 --speeds 160 --pitches 50
    python tools/filler_eval.py MODEL [MODEL ...] --words /tmp/fe/_filler_ --babble-minutes 180

- Words: one stream of the ``--words`` folder's WAVs (8 kHz mono 16-bit, in a seeded random
  order, gaps and levels as tools/stream_eval.py's: :func:`fixedrnn.streams.build_stream`), clean
  and at ``--snr`` dB of white noise and of babble (of those words); every detection is a false
  alarm (a model with a ``_filler_`` class should decide such segments as it: docs/streaming.md).
- Babble alone: ``--babble-minutes`` of tools/stream_eval.py's babble of FSDD test-split recordings
  at each ``--snr`` level below their median RMS; the segments the decision rule would decide (the
  bound for a model without filler classes) and the detections, with the default VAD and with
  ``spread_start = 0`` (a VAD that opens more babble segments).
Detections are listen's stream's (KeywordStream, or SegmentStream for a CMN model), computed per
segment (tools/stream_eval.py's ``detections``).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import stream_eval  # noqa: E402
from fixedrnn import fsdd  # noqa: E402
from fixedrnn.cli import run  # noqa: E402
from fixedrnn.errors import FixedRnnError  # noqa: E402
from fixedrnn.model import load  # noqa: E402
from fixedrnn.segment_stream import stream_config  # noqa: E402
from fixedrnn.stream import StreamConfig  # noqa: E402
from fixedrnn.streams import build_stream  # noqa: E402
from fixedrnn.vad import VadConfig  # noqa: E402

WORD_SEED = 21
#: The VAD configurations of the babble-alone count.
CONFIGS = {"default VAD": StreamConfig(), "spread_start=0": StreamConfig(vad=VadConfig(spread_start=0))}


def word_items(folder, limit=None):
    """``(0, name, pcm)`` of every WAV in ``folder`` (name order), in a seeded random order."""
    paths = sorted(Path(folder).glob("*.wav"))
    if not paths:
        raise FixedRnnError(f"--words: no .wav file in {folder}")
    items = [(0, p.name, fsdd.read_samples(p)) for p in paths]
    order = np.random.default_rng(WORD_SEED).permutation(len(items))[:limit]
    return [items[i] for i in order]


def evaluate(args):
    digits = stream_eval.test_items(args.fsdd, args.limit)
    level = float(np.median([np.sqrt(np.mean(p.astype(float) ** 2)) for _, _, p in digits]))
    words = word_items(args.words, args.limit) if args.words else []
    conditions = [(None, None)] + [(kind, snr) for snr in args.snr for kind in ("white", "babble")]
    word_streams = [(cond, build_stream(words, seed=WORD_SEED, snr_db=cond[1], noise_kind=cond[0] or "white"))
                    for cond in conditions] if words else []
    for path in args.models:
        model = load(path)
        name = Path(path).name
        for (kind, snr), st in word_streams:
            found = stream_eval.detections(model, st.pcm, stream_config(model))[1]
            condition = "clean" if kind is None else f"{kind} {snr:g} dB"
            print(f"{name}\t{len(words)} non-digit words, {condition}\t{len(found)} detection(s)", flush=True)
        if args.babble_minutes:
            n = int(args.babble_minutes * 60 * model.frontend.sample_rate)
            for snr in args.snr:
                alone = stream_eval.noise_alone("babble", n, level, snr, [p for _, _, p in digits])
                for vad_name, config in CONFIGS.items():
                    segments = stream_eval.noise_segments(model, config, alone)
                    found = stream_eval.detections(model, alone, stream_config(model, config))[1]
                    print(f"{name}\t{args.babble_minutes:g} min of babble alone at {snr:g} dB, {vad_name}\t"
                          f"{segments} decidable segment(s), {len(found)} detection(s)", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(prog="tools/filler_eval.py", description=__doc__.split("\n")[0])
    p.add_argument("models", nargs="+")
    p.add_argument("--words", type=Path, default=None, help="folder of non-digit word WAVs")
    p.add_argument("--babble-minutes", type=float, default=0.0)
    p.add_argument("--snr", type=float, nargs="+", default=[20.0])
    p.add_argument("--fsdd", default=None, help="FSDD folder (default: $FIXEDRNN_FSDD or ../shared/data/fsdd)")
    p.add_argument("--limit", type=int, default=None, help="first N recordings / words only (smoke runs)")
    args = p.parse_args(argv)
    return run(evaluate, args, prog="tools/filler_eval.py")


if __name__ == "__main__":
    sys.exit(main())
