#!/usr/bin/env python3
"""False alarms with babble between the words: the stream evaluation of tools/stream_eval.py with
several talkers in the background instead of white noise.

    python tools/babble_stream_eval.py MODEL.npz [MODEL.npz ...] [--snr 20 10] [--limit N] [--json FILE]

The stream is stream_eval's (the FSDD test split in its seeded order, each word scaled to the median
RMS, 0.6-1.6 s gaps; :func:`fixedrnn.streams.build_stream`, seed 13), clean; over all of it lies
babble (:func:`fixedrnn.noise.babble`): consecutive 2 s pieces, each the sum of
:data:`fixedrnn.noise.BABBLE_TALKERS` (at most all) of the stream's recordings drawn at random
(seed 13), brought to the
median RMS / 10**(snr/20) — other voices saying digits in the background, quieter than the speaker.
Scored as stream_eval scores (:func:`fixedrnn.streams.score_detections`): a detection outside every
word is a false alarm, per hour of the audio between the words.
"""

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import stream_eval  # noqa: E402
from fixedrnn import fsdd, noise  # noqa: E402
from fixedrnn.atomicfile import write_text  # noqa: E402
from fixedrnn.cli import run  # noqa: E402
from fixedrnn.model import load  # noqa: E402
from fixedrnn.stream import StreamConfig  # noqa: E402
from fixedrnn.streams import build_stream, score_detections  # noqa: E402

PIECE_S = 2.0


def babble_stream(items, snr_db, sample_rate=fsdd.SAMPLE_RATE, seed=stream_eval.SEED):
    """stream_eval's clean stream with babble at ``snr_db`` below the words' median RMS over all of it."""
    clean = build_stream(items, seed=seed, snr_db=None, sample_rate=sample_rate)
    rng = np.random.default_rng([seed, 1])
    level = float(np.median([np.sqrt(np.mean(np.asarray(p, np.float64) ** 2)) for _, _, p in items]))
    piece = int(PIECE_S * sample_rate)
    parts = []
    for start in range(0, clean.pcm.size, piece):
        talkers = rng.choice(len(items), size=min(noise.BABBLE_TALKERS, len(items)), replace=False)
        n = min(piece, clean.pcm.size - start)
        parts.append(noise.babble(n, rng, [items[i][2] for i in talkers]))
    pcm = clean.pcm + level / 10 ** (snr_db / 20) * np.concatenate(parts)
    return replace(clean, pcm=np.clip(np.rint(pcm), -32768, 32767).astype(np.int16), snr_db=float(snr_db))


def main(argv=None):
    p = argparse.ArgumentParser(prog="tools/babble_stream_eval.py", description=__doc__.split("\n")[0])
    p.add_argument("models", nargs="+", type=Path)
    p.add_argument("--fsdd", default=None, help="FSDD folder (default: $FIXEDRNN_FSDD or ../shared/data/fsdd)")
    p.add_argument("--snr", nargs="+", type=float, default=[20.0, 10.0], metavar="DB")
    p.add_argument("--limit", type=int, default=None, help="use only the first N recordings (smoke runs)")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    return run(_run, args, prog="babble_stream_eval")


def _run(args):
    items = stream_eval.test_items(args.fsdd, args.limit)
    streams = {snr: babble_stream(items, snr) for snr in args.snr}
    print("| model | babble | words | detected | substitutions | false alarms (/h) | median latency |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    for path in args.models:
        model = load(path)
        for snr, st in streams.items():
            stream, _, found = stream_eval.run_stream(model, st.pcm, StreamConfig())
            score = score_detections(st, [(d.label, stream.frame_end_seconds(d.decided)) for d in found])
            rows.append(dict(model=path.name, babble_snr_db=snr, words=score.words,
                             detection_rate=score.detection_rate, substitutions=score.substitutions,
                             false_alarms=score.false_alarms, non_word_seconds=score.non_word_seconds,
                             false_alarms_per_hour=score.false_alarms_per_hour,
                             median_latency_s=score.median_latency))
            print(f"| `{path.name}` | {snr:g} dB | {score.words} | {100 * score.detection_rate:.1f} % | "
                  f"{score.substitutions} | {score.false_alarms} ({score.false_alarms_per_hour:.1f}) | "
                  f"{1000 * score.median_latency:.0f} ms |", flush=True)
    if args.json:
        write_text(args.json, "".join(json.dumps(r) + "\n" for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
