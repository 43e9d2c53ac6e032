"""Each FSDD speaker's spectral balance: how bright or dark a voice and its microphone are.

    python tools/speaker_spectra.py [--data-dir DIR] [--split all] [--every 5]

Per speaker, over every ``--every``-th recording: the recording cut into frames of FRAME samples
(hop FRAME/2, Hann window; float64), each frame's power spectrum; the mean power spectrum of each
recording's loudest third of frames (the word) and of its quietest fifth (the room), each summed
into the bands of :data:`BANDS` and averaged over the recordings in dB. Prints one Markdown row per
speaker: the word's level in each band relative to its strongest band (dB), and the word over the
room in each band (dB). A speaker whose high bands sit far above the others' is what the random
channel response of the training (``tools/train.py --eq``) has to cover (docs/training.md, "Eighth
round").
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixedrnn import fsdd  # noqa: E402
from fixedrnn.cli import run  # noqa: E402
from eval_tables import split_recordings, table_data_dir  # noqa: E402

#: Samples per frame (32 ms at 8 kHz).
FRAME = 256
#: Band edges in Hz (FSDD's 8 kHz: up to Nyquist).
BANDS = (0, 250, 500, 1000, 2000, 3000, 4000)


def band_levels(samples, sample_rate):
    """``(word, room)``: float64 ``[len(BANDS) - 1]`` each, the mean power (linear) in each band of the
    loudest third and of the quietest fifth of ``samples``' frames (at least one frame each)."""
    x = np.asarray(samples, np.float64)
    if x.size < FRAME:
        x = np.concatenate([x, np.zeros(FRAME - x.size)])
    frames = np.lib.stride_tricks.sliding_window_view(x, FRAME)[::FRAME // 2] * np.hanning(FRAME)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    order = np.argsort(power.sum(axis=1))
    word = power[order[-max(1, len(order) // 3):]].mean(axis=0)
    room = power[order[:max(1, len(order) // 5)]].mean(axis=0)
    freqs = np.fft.rfftfreq(FRAME, 1.0 / sample_rate)
    edges = list(zip(BANDS[:-1], BANDS[1:]))
    last = len(edges) - 1
    masks = [(freqs >= lo) & ((freqs < hi) if i < last else (freqs <= hi)) for i, (lo, hi) in enumerate(edges)]
    return np.array([word[m].mean() for m in masks]), np.array([room[m].mean() for m in masks])


def speaker_rows(recordings, samples):
    """``{speaker: (tilt_db, snr_db)}`` of FSDD ``recordings`` and their int16 ``samples``: per band,
    the word's mean level (dB, mean over the recordings) relative to its strongest band, and the
    word over the room (dB)."""
    by_speaker = {}
    for rec, pcm in zip(recordings, samples):
        word, room = band_levels(pcm, fsdd.SAMPLE_RATE)
        by_speaker.setdefault(rec.speaker, []).append((10 * np.log10(word + 1e-9), 10 * np.log10(room + 1e-9)))
    rows = {}
    for speaker, levels in sorted(by_speaker.items()):
        word = np.mean([w for w, _ in levels], axis=0)
        room = np.mean([r for _, r in levels], axis=0)
        rows[speaker] = (word - word.max(), word - room)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(prog="tools/speaker_spectra.py", description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", type=Path, default=None, help="FSDD directory (default: as verify)")
    p.add_argument("--split", choices=fsdd.SPLITS, default="all")
    p.add_argument("--every", type=int, default=5, help="use every N-th recording of a speaker (default 5)")
    args = p.parse_args(argv)
    if args.every < 1:
        p.error(f"--every must be >= 1, got {args.every}")

    def body(args):
        recordings, samples = split_recordings(table_data_dir(args), args.split)
        rows = speaker_rows(recordings[::args.every], samples[::args.every])
        names = [f"{lo}–{hi} Hz" for lo, hi in zip(BANDS[:-1], BANDS[1:])]
        print("| speaker | " + " | ".join(f"word {n} (dB)" for n in names) + " | "
              + " | ".join(f"word/room {n} (dB)" for n in names) + " |")
        print("|---" * (1 + 2 * len(names)) + "|")
        for speaker, (tilt, snr) in rows.items():
            print(f"| {speaker} | " + " | ".join(f"{v:.1f}" for v in tilt) + " | "
                  + " | ".join(f"{v:.1f}" for v in snr) + " |")
        return 0

    return run(body, args, prog="speaker_spectra")


if __name__ == "__main__":
    sys.exit(main())
