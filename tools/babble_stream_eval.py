#!/usr/bin/env python3
"""False alarms with babble between the words: the stream evaluation of tools/stream_eval.py with
several talkers in the background instead of white noise.

    python tools/babble_stream_eval.py MODEL.npz [MODEL.npz ...] [--snr 20 10] [--limit N] [--json FILE]

The stream is stream_eval's (the FSDD test split in its seeded order, each word scaled to the median
RMS, 0.6-1.6 s gaps; :func:`fixedrnn.streams.build_stream`, seed 13), clean; over all of it lies
babble (:func:`fixedrnn.streams.build_stream` with ``noise_kind="babble"``): consecutive 2 s
pieces, each the sum of :data:`fixedrnn.noise.BABBLE_TALKERS` (at most all) of the stream's
recordings drawn at random (seed 13), brought to the median RMS / 10**(snr/20) — other voices
saying digits in the background, quieter than the speaker.
Scored as stream_eval scores (:func:`fixedrnn.streams.score_detections`): a detection outside every
word is a false alarm, per hour of the audio between the words.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import stream_eval  # noqa: E402
from fixedrnn import fsdd  # noqa: E402
from fixedrnn.atomicfile import write_text  # noqa: E402
from fixedrnn.cli import run  # noqa: E402
from fixedrnn.model import load  # noqa: E402
from fixedrnn.segment_stream import open_stream, stream_config  # noqa: E402
from fixedrnn.streams import build_stream, score_detections  # noqa: E402


def babble_stream(items, snr_db, sample_rate=fsdd.SAMPLE_RATE, seed=stream_eval.SEED):
    """stream_eval's stream with babble at ``snr_db`` below the words' median RMS over all of it
    (:func:`fixedrnn.streams.build_stream`, ``noise_kind="babble"``; also a condition of
    tools/stream_eval.py: ``--noise babble``)."""
    return build_stream(items, seed=seed, snr_db=snr_db, sample_rate=sample_rate, noise_kind="babble")


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
            config = stream_config(model)  # per segment for a model with CMN
            _, found = stream_eval.detections(model, st.pcm, config)
            stream = open_stream(model, config)
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
