"""Score models on long test streams built from the FSDD test split (docs/streaming.md).

    python tools/stream_eval.py MODEL.npz [MODEL.npz ...] [--fsdd DIR] [--snr 30 20 10]
        [--noise white pink babble] [--limit N] [--webrtc] [--no-reset] [--exact]
        [--noise-minutes M] [--per-segment] [--json FILE]

Conditions: clean (digital silence between words), then every noise kind at every SNR. For each,
one stream of the test-split recordings (index 0-4, 300 files) in a seeded random order, each
scaled to the recordings' median RMS, with 0.6-1.6 s gaps, and the noise over all of it
(:func:`fixedrnn.streams.build_stream`, seed 13; babble: other test-split recordings talking at
once). The streaming detector (default :class:`fixedrnn.stream.StreamConfig`) runs over it;
detections are scored by :func:`fixedrnn.streams.score_detections` (tolerance 0.5 s).

With the cell reset (the default) the detections come from :func:`segment_detections`: the VAD and
decision rule over all frames, and the cell run (numba) only over each segment, from its reset
(silent frames, pre-roll) to its last frames — the same detections as
:class:`fixedrnn.stream.KeywordStream` (tests/test_stream_eval.py), tens of times faster. ``--exact``
(and ``--no-reset``) push the PCM through ``KeywordStream`` in blocks of 1024 samples instead.
``--per-segment`` (always so for a model that cannot step frame by frame: cepstral mean
normalisation, an imported graph): the model classifies each segment's window once
(:class:`fixedrnn.segment_stream.SegmentStream`); :func:`segment_window_detections` gives its
detections from all segments' windows in one batch (numba), ``--exact`` the stream itself.
``--webrtc``: also the frame-level agreement of the integer VAD with WebRTC's (``pip install
webrtcvad-wheels``; mode 2, 30 ms frames, a frame of ours is speech for WebRTC when the 30 ms
frame holding its centre is). ``--noise-minutes M``: also M minutes of each noise kind alone at
each SNR's level, through the front end, VAD and decision rule: the segments it would decide (an
upper bound on false alarms there, whatever the model). Prints one Markdown row per model and
condition.

``--speech-commands DIR``: the stream is built from the test clips (testing_list.txt) of a Speech
Commands folder instead, at 16 kHz, for each model the words of its task (its labels:
:mod:`fixedrnn.speech_commands`; ``_silence_`` clips are left out, the gaps are the silence).
"""

import argparse
from dataclasses import replace
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixedrnn import engine, fsdd, noise, speech_commands  # noqa: E402
from fixedrnn.decision import Decider, keyword_flags  # noqa: E402
from fixedrnn.model import load  # noqa: E402
from fixedrnn.segment_stream import open_stream, window_span  # noqa: E402
from fixedrnn.stream import StreamConfig, require_streamable, steps_per_frame  # noqa: E402
from fixedrnn.vad import Vad, frame_energy  # noqa: E402
from fixedrnn.streams import NOISE_KINDS, babble_noise, build_stream, score_detections  # noqa: E402

SEED = 13
BLOCK = 1024


def test_items(data_dir, limit=None):
    recs = fsdd.list_recordings(data_dir, split="test")
    order = np.random.default_rng(SEED).permutation(len(recs))
    if limit:
        order = order[:limit]
    return [(recs[i].digit, recs[i].name, recs[i].samples()) for i in order]


def speech_commands_items(data_dir, labels, limit=None):
    """``(class index, name, pcm)`` of the Speech Commands test clips of the task ``labels``
    (``_silence_`` left out), in a seeded random order."""
    clips = [c for c in speech_commands.scan(data_dir, "test", labels=labels) if c.label != speech_commands.SILENCE]
    order = np.random.default_rng(SEED).permutation(len(clips))
    if limit:
        order = order[:limit]
    return [(labels.index(clips[i].label), clips[i].name, clips[i].samples()) for i in order]


def run_stream(model, pcm, config):
    """All frames' VAD flags and the detections of ``pcm`` pushed in blocks of :data:`BLOCK` (into
    :func:`fixedrnn.segment_stream.open_stream`'s stream)."""
    stream = open_stream(model, config)
    active, found = [], []
    for start in range(0, pcm.size, BLOCK):
        frames, dets = stream.push(pcm[start:start + BLOCK])
        active.append(frames.active)
        found += dets
    found += stream.finish()
    return stream, np.concatenate(active), found


def vad_flags(model, mfcc, config):
    """bool ``[n]`` ``raw`` and ``active`` of the frames ``mfcc [n, I]`` (:class:`fixedrnn.vad.Vad`)."""
    vad = Vad(config.vad)
    flags = np.array([vad.update(e) for e in frame_energy(mfcc, model.frontend.precision)], bool)
    return flags.reshape(-1, 2)[:, 0], flags.reshape(-1, 2)[:, 1]


def segments(raw, active, config):
    """``(start, end)`` frames (inclusive) of every segment the decision rule opens and closes on
    the VAD flags (:class:`fixedrnn.decision.Decider`, whose boundaries do not depend on scores)."""
    decider = Decider(config.decision)
    zeros = np.zeros(1, np.int8)
    out = []
    for t in range(len(raw)):
        before = decider.start
        decider.update(t, zeros, raw[t], active[t])
        if active[t] and decider.start is None:
            out.append((t if before is None else before, t))
        elif not active[t] and before is not None:
            out.append((before, t - 1))
    if decider.start is not None:
        out.append((decider.start, len(raw) - 1))
    return out


def segment_detections(model, pcm, config):
    """``(active, detections)`` of :class:`fixedrnn.stream.KeywordStream` with ``config`` (whose
    ``reset`` must be on) on ``pcm``, computed per segment: each segment's last ``window`` scores
    are the head on ``engine.run_features_batch`` (numba) of its ``silence`` silent frames and its
    frames from the pre-roll on; the scores of other frames never reach the decision rule."""
    require_streamable(model)
    mfcc = engine.mfcc(model, pcm)
    raw, active = vad_flags(model, mfcc, config)
    x = engine.normalise(model, mfcc)
    pad = np.repeat(engine.silent_features(model)[None], config.silence, axis=0)
    scores = {}
    for start, end in segments(raw, active, config):
        first = max(0, start - config.preroll)
        for t in range(max(start, end - config.decision.window + 1), end + 1):
            scores[t] = engine.run_features_batch(model, np.concatenate([pad, x[first:t + 1]])[None])[0]
    decider = Decider(config.decision, keyword_flags(model.labels))
    zeros = np.zeros(len(model.labels), np.int8)
    found = [d for t in range(len(raw)) if (d := decider.update(t, scores.get(t, zeros), raw[t], active[t]))]
    last = decider.update(len(raw), None, False, False)
    return active, found + ([last] if last is not None else [])


def segment_window_detections(model, pcm, config):
    """``(active, detections)`` of :class:`fixedrnn.segment_stream.SegmentStream` with ``config``
    on ``pcm``: every segment's window (:func:`fixedrnn.engine.window_features` of its frames from
    the pre-roll on, at most T) from the whole clip's front-end outputs, all run in one batch
    (numba), then the decision rule given each segment's logits."""
    mfcc = engine.mfcc(model, pcm)
    raw, active = vad_flags(model, mfcc, config)
    spans = segments(raw, active, config)
    windows = [engine.window_features(model, mfcc[slice(*window_span(start, end, config.preroll, model.frames))])
               for start, end in spans]
    logits = model.run_features_batch(np.stack(windows)) if windows else []
    by_span = {span: logits[k][None] for k, span in enumerate(spans)}
    decider = Decider(config.decision, keyword_flags(model.labels), segment_scores=lambda s, e: by_span[(s, e)])
    found = [d for t in range(len(raw)) if (d := decider.update(t, None, raw[t], active[t]))]
    last = decider.update(len(raw), None, False, False)
    return active, found + ([last] if last is not None else [])


def detections(model, pcm, config, exact=False):
    """``(active, detections)`` of the stream ``config`` gives ``model`` (per segment when
    ``config.per_segment``): the stream itself when ``exact`` or without the cell reset, else its
    per-segment evaluation."""
    if exact or not config.reset:
        return run_stream(model, pcm, config)[1:]
    if config.per_segment:
        return segment_window_detections(model, pcm, config)
    return segment_detections(model, pcm, config)


def noise_alone(kind, n, level, snr_db, recordings, seed=SEED):
    """int16 ``[n]``: noise ``kind`` alone at RMS ``level / 10**(snr_db / 20)`` (babble of
    ``recordings``, as in the streams)."""
    rng = np.random.default_rng([seed, 2])
    unit = {"white": lambda: noise.white(n, rng), "pink": lambda: noise.pink(n, rng),
            "babble": lambda: babble_noise(n, recordings, rng)}[kind]()
    return np.clip(np.rint(level / 10 ** (snr_db / 20) * unit), -32768, 32767).astype(np.int16)


def noise_segments(model, config, pcm):
    """Speech segments that could become false alarms in ``pcm`` (noise alone): those the decision
    rule would decide (enough loud frames) — an upper bound on the false alarms, whatever the
    model's scores."""
    raw, active = vad_flags(model, engine.mfcc(model, pcm), config)
    decider = Decider(config.decision)
    zeros = np.zeros(len(model.labels), np.int8)
    return sum(decider.update(t, zeros, raw[t], active[t]) is not None for t in range(len(raw)))


def webrtc_agreement(pcm, active, hop=128, fft_length=256, rate=8000, mode=2):
    """Fraction of our frames whose VAD flag equals WebRTC's at the frame's centre sample."""
    import webrtcvad

    vad = webrtcvad.Vad(mode)
    size = rate * 30 // 1000
    flags = np.array([vad.is_speech(pcm[i:i + size].astype("<i2").tobytes(), rate)
                      for i in range(0, pcm.size - size + 1, size)])
    centre = (np.arange(active.size) * hop + fft_length // 2) // size
    keep = centre < flags.size
    return float(np.mean(flags[centre[keep]] == active[keep]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--fsdd", default=None, help="FSDD folder (default: $FIXEDRNN_FSDD or ../shared/data/fsdd)")
    parser.add_argument("--speech-commands", default=None, metavar="DIR",
                        help="build the streams from this Speech Commands folder's test clips instead of FSDD")
    parser.add_argument("--snr", nargs="+", default=["clean", "30", "20", "10"],
                        help="'clean' and/or SNRs in dB (each with every --noise kind)")
    parser.add_argument("--noise", nargs="+", default=list(NOISE_KINDS), choices=NOISE_KINDS)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N recordings (smoke runs)")
    parser.add_argument("--webrtc", action="store_true", help="also report agreement with WebRTC's VAD")
    parser.add_argument("--no-reset", action="store_true", help="carry the cell state across segments")
    parser.add_argument("--exact", action="store_true", help="push the PCM through the stream itself (slow) instead of the per-segment evaluation")
    parser.add_argument("--noise-minutes", type=float, default=0.0,
                        help="also count the segments the VAD opens, and the detections, in this many minutes "
                             "of each noise alone")
    parser.add_argument("--per-segment", action="store_true",
                        help="run each model once per speech segment, on its window (always so for a model that "
                             "cannot step frame by frame)")
    parser.add_argument("--json", default=None, help="also write the results as JSON lines to FILE")
    args = parser.parse_args(argv)
    base_config = StreamConfig(reset=not args.no_reset)
    conditions = [(None, None)] if "clean" in args.snr else []
    conditions += [(kind, float(snr)) for kind in args.noise for snr in args.snr if snr != "clean"]

    def make_streams(items, sample_rate):
        return {cond: build_stream(items, seed=SEED, snr_db=cond[1], sample_rate=sample_rate,
                                   noise_kind=cond[0] or "white") for cond in conditions}

    if args.speech_commands is None:
        items = test_items(args.fsdd, args.limit)
        fsdd_streams = make_streams(items, fsdd.SAMPLE_RATE)
    print("| model | condition | words | detected | substitutions | false alarms (/h) | median latency | "
          "VAD = WebRTC | real time × |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for path in args.models:
        model = load(path)
        per_segment = args.per_segment or not steps_per_frame(model)
        if per_segment and args.no_reset:
            raise SystemExit(f"--no-reset: {path} runs once per speech segment (no state carried across segments)")
        config = replace(base_config, per_segment=per_segment)
        if args.speech_commands is None:
            streams = fsdd_streams
        else:
            items = speech_commands_items(args.speech_commands, model.labels, args.limit)
            streams = make_streams(items, speech_commands.SAMPLE_RATE)
        level = float(np.median([np.sqrt(np.mean(p.astype(float) ** 2)) for _, _, p in items]))
        for (kind, snr), st in streams.items():
            t0 = time.perf_counter()
            active, found = detections(model, st.pcm, config, args.exact)
            stream = open_stream(model, config)  # for its frame times
            speed = st.seconds / (time.perf_counter() - t0)
            score = score_detections(st, [(d.label, stream.frame_end_seconds(d.decided)) for d in found])
            fe = model.frontend
            agree = (webrtc_agreement(st.pcm, active, fe.hop, fe.fft_length, fe.sample_rate) if args.webrtc
                     else None)
            condition = "clean" if kind is None else f"{kind} {snr:g} dB"
            row = dict(model=Path(path).name + (" per segment" if per_segment else ""), condition=condition, words=score.words,
                       detection_rate=score.detection_rate, substitutions=score.substitutions,
                       false_alarms=score.false_alarms, non_word_seconds=score.non_word_seconds,
                       false_alarms_per_hour=score.false_alarms_per_hour,
                       median_latency_s=score.median_latency, vad_webrtc_agreement=agree, real_time=speed)
            if args.noise_minutes and kind is not None:
                n = int(args.noise_minutes * 60 * fe.sample_rate)
                alone = noise_alone(kind, n, level, snr, [p for _, _, p in items])
                row["noise_only_segments"] = noise_segments(model, config, alone)
                # the false alarms themselves: fewer than the segments when the model has filler classes
                row["noise_only_detections"] = len(detections(model, alone, config, args.exact)[1])
                print(f"  {args.noise_minutes:g} min of {kind} alone at the {snr:g} dB level: "
                      f"{row['noise_only_segments']} decidable segment(s), {row['noise_only_detections']} "
                      "detection(s)", flush=True)
            rows.append(row)
            agree_text = "–" if agree is None else f"{100 * agree:.1f} %"
            print(f"| `{row['model']}` | {condition} | {score.words} | {100 * score.detection_rate:.1f} % | "
                  f"{score.substitutions} | {score.false_alarms} ({score.false_alarms_per_hour:.1f}) | "
                  f"{1000 * score.median_latency:.0f} ms | {agree_text} | {speed:.0f} |", flush=True)
    if args.json:
        Path(args.json).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
