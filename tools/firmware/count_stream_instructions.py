"""Executed instructions per frame of the streaming firmware on QEMU's Cortex-M4 (mps2-an386).

    python tools/firmware/count_stream_instructions.py [MODEL.npz ...] [--opt=-O2|--opt=-Os] [--seconds S]
        [--per-segment]

Each model (default: every golden model) is exported as the streaming firmware (default
StreamConfig), built with stream_main.c (DSP intrinsics) and run under the exact instruction counter
(icount.py, the method of count_instructions.py) on a synthetic stream of ``--seconds`` (default 3):
silence, then tone sweeps and noise bursts (speech-like segments for the VAD), pushed as one block
of fft_length samples, then blocks of hop samples, so that each ``frnn_push_samples`` call (one
measured region) completes exactly one frame: MFCC, normalisation, VAD, cell step, head, decision,
and at a segment start the cell reset and the pre-roll's re-run. The counter's regions are matched
to the frames' records (KeywordStream: which frames reset). Prints a Markdown table: instructions per
frame (median, mean, maximum), per frame with a reset (mean), and the frames-per-second load at
the model's frame rate. These are instruction counts, not cycles.

A model with cepstral mean normalisation (and any model with ``--per-segment``) builds the
per-segment streaming firmware (FRNN_STREAM_PER_SEGMENT): a frame is the MFCC and the VAD, and the
frame that decides a segment also runs the model on its window; the column of reset frames then
holds the frames with a detection (every decided segment with enough loud frames, at the default
threshold and all-keyword labels), matched to SegmentStream's.
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import icount  # noqa: E402
import runner  # noqa: E402
from fixedrnn import firmware, model as model_module  # noqa: E402


def test_signal(seconds, sample_rate, seed=0):
    """int16: low noise, with four 0.3-0.5 s bursts of a swept tone plus noise (speech-like segments)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    out = rng.normal(0, 30, n)
    for start in np.linspace(0.3, seconds - 0.6, 4):
        a, b = int(start * sample_rate), int((start + rng.uniform(0.3, 0.5)) * sample_rate)
        f = rng.uniform(200, 900)
        out[a:b] += 6000 * np.sin(2 * np.pi * f * t[a:b] * (1 + t[a:b])) + rng.normal(0, 800, b - a)
    return np.clip(np.rint(out), -32768, 32767).astype(np.int16)


def count_model(model, pcm, opt, tmp, stream=None):
    """Instructions per frame (numpy int64 [frames]) and the frames' flags: reset, or per segment
    (``stream``: a StreamConfig, None the default for the model) detected."""
    from fixedrnn.segment_stream import stream_config

    stream = stream_config(model, stream)
    config = runner.BuildConfig("arm", opt)
    _, _, exe = firmware.build_stream_firmware(model, tmp, config, config=stream)
    n, hop = model.frontend.fft_length, model.frontend.hop
    pcm = pcm[:n + (len(pcm) - n) // hop * hop]
    (tmp / "in.bin").write_bytes(firmware.stream_input([(pcm, [n] + [hop] * 4095)]))
    counts = icount.count_regions(exe, [tmp / "in.bin", tmp / "out.bin", "count"], timeout=1800)
    frames = firmware.stream_frames(len(pcm), model)
    if len(counts) < frames or len(pcm) > n + 4095 * hop:
        raise SystemExit(f"{len(counts)} regions for {frames} frames: use fewer --seconds")
    want = firmware.python_stream(model, pcm, [n] + [hop] * 4095, stream)
    got = firmware.read_stream_output((tmp / "out.bin").read_bytes(), model, [len(pcm)], stream.per_segment)[0]
    if firmware.first_difference(got, want) is not None:
        raise SystemExit(f"the firmware differs from listen's stream: {firmware.first_difference(got, want)}")
    flag = "detected" if stream.per_segment else "reset"
    return np.asarray(counts[:frames], np.int64), want.records[flag].astype(bool)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", help="model files (default: golden/models/*.npz)")
    parser.add_argument("--opt", default="-O2", choices=("-O2", "-Os"))
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--per-segment", action="store_true",
                        help="the per-segment streaming firmware for every model (always for a CMN model)")
    args = parser.parse_args(argv)
    from fixedrnn.stream import StreamConfig

    stream = StreamConfig(per_segment=args.per_segment)
    paths = [Path(p) for p in args.models] or sorted((REPO / "golden" / "models").glob("*.npz"))
    print(f"| model | frames (resets or decisions) | median / frame | mean / frame | max / frame "
          f"| mean / reset or decision frame | per second of audio |")
    print("|---|---|---|---|---|---|---|")
    for path in paths:
        model = model_module.load(path)
        pcm = test_signal(args.seconds, model.frontend.sample_rate)
        with tempfile.TemporaryDirectory(prefix="fw-stream-count-") as tmp:
            counts, reset = count_model(model, pcm, args.opt, Path(tmp), stream)
        fps = model.frontend.sample_rate / model.frontend.hop
        resets = f"{counts[reset].mean():,.0f}" if reset.any() else "-"
        print(f"| `{path.name}` | {len(counts)} ({int(reset.sum())}) | {int(np.median(counts)):,} | "
              f"{counts.mean():,.0f} | {counts.max():,} | {resets} | {counts.mean() * fps / 1e6:.2f} M |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
