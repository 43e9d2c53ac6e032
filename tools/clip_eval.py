"""Accuracy on clips with quiet before and after the word, without and with endpointing.

    python tools/clip_eval.py [MODEL.npz ...] [--data-dir DIR] [--split test]
        [--clip LEAD:TRAIL:DBFS ...] [--seed 0] [--json FILE]

FSDD's recordings are trimmed to the word; a user's recording (a phone, a laptop, a device that
records 1-2 s after a button) is not. Each recording of the split becomes a clip: ``LEAD`` seconds
before the word, ``TRAIL`` seconds after it, and white noise at ``DBFS`` (RMS relative to full
scale 32768) over the whole clip, word included (a microphone's floor; ``off``: digital zeros
around the word, no noise). Each clip is scored by the integer engine end to end from its samples,
reading the clip's last T frames (``endpoint off``, docs/CONTRACT.md) and the word endpointed
first (``endpoint on``, :mod:`fixedrnn.endpoint` with the default configuration, as
``fixedrnn classify/evaluate --endpoint`` and the firmware of ``export c --endpoint``). Prints one
Markdown row per model: the recordings as they are, then per clip kind off / on.

Every draw comes from ``numpy.random.default_rng([seed, crc32 of the recording's name])``.
"""

import argparse
import sys
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixedrnn.cli import run  # noqa: E402
from fixedrnn.endpoint import EndpointConfig  # noqa: E402
from fixedrnn.errors import FixedRnnError  # noqa: E402
from fixedrnn.model import load  # noqa: E402
from eval_tables import (accuracy, add_table_arguments, split_recordings, table_data_dir, table_models, targets,  # noqa: E402
                         write_json)

#: The default clip kinds: (lead s, trail s, noise dBFS or None for digital zeros).
CLIPS = ((0.3, 0.5, None), (0.3, 0.5, -60.0), (0.3, 0.5, -50.0), (0.5, 1.0, -60.0), (0.2, 1.2, -50.0),
         (0.5, 0.5, -40.0))


def parse_clip(text):
    """``"LEAD:TRAIL:DBFS"`` (DBFS a number ≤ 0 or ``off``) → ``(lead, trail, dbfs or None)``."""
    parts = text.split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        lead, trail = float(parts[0]), float(parts[1])
        level = None if parts[2] == "off" else float(parts[2])
    except ValueError:
        raise FixedRnnError(f"--clip: {text!r} is not LEAD:TRAIL:DBFS (seconds, seconds, dBFS or off)") from None
    if not (0 <= lead <= 10 and 0 <= trail <= 10) or (level is not None and not -120 <= level <= 0):
        raise FixedRnnError(f"--clip: {text!r}: LEAD and TRAIL must be 0..10 s, DBFS -120..0 or off")
    return lead, trail, level


def clip_name(clip):
    lead, trail, level = clip
    return f"{lead:g}+{trail:g} s, {'zeros' if level is None else f'{level:g} dBFS'}"


def make_clip(pcm, clip, sample_rate, rng):
    """int16 ``[n]`` → the clip: ``lead`` s before, ``trail`` s after, white noise at ``level`` dBFS
    over all of it (none for ``None``), rounded half to even and saturated to int16."""
    lead, trail, level = clip
    a, b = int(round(lead * sample_rate)), int(round(trail * sample_rate))
    y = np.concatenate([np.zeros(a), np.asarray(pcm, np.float64), np.zeros(b)])
    if level is not None:
        y += rng.normal(0.0, 32768.0 * 10.0 ** (level / 20.0), len(y))
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def clip_table(models, data_dir, split="test", clips=CLIPS, seed=0):
    """``[{"model", "as recorded off", "as recorded on", "<clip> off", "<clip> on", ...}]``."""
    recordings, samples = split_recordings(data_dir, split)
    rows = []
    for path in models:
        model = load(path)
        labels = targets(model, recordings)
        rate = model.frontend.sample_rate
        row = {"model": Path(path).stem}
        for clip in (None, *clips):
            name = "as recorded" if clip is None else clip_name(clip)
            pcms = samples if clip is None else [
                make_clip(s, clip, rate, np.random.default_rng([seed, zlib.crc32(r.name.encode("utf-8"))]))
                for s, r in zip(samples, recordings)]
            row[f"{name} off"] = accuracy(model, pcms, labels, None)
            row[f"{name} on"] = accuracy(model, pcms, labels, EndpointConfig())
        rows.append(row)
        print(f"{row['model']}: done", file=sys.stderr, flush=True)
    return rows


def markdown(rows, clips):
    names = ["as recorded"] + [clip_name(c) for c in clips]
    lines = ["| model | " + " | ".join(f"{n}: off / on" for n in names) + " |", "|" + "---|" * (len(names) + 1)]
    for row in rows:
        lines.append(f"| {row['model']} | " + " | ".join(
            f"{100 * row[n + ' off']:.1f} / **{100 * row[n + ' on']:.1f}**" for n in names) + " |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="tools/clip_eval.py", description=__doc__.split("\n")[0])
    add_table_arguments(p)
    p.add_argument("--clip", nargs="+", default=None, metavar="LEAD:TRAIL:DBFS",
                   help="clip kinds (default: " + " ".join(
                       f"{c[0]:g}:{c[1]:g}:{'off' if c[2] is None else f'{c[2]:g}'}" for c in CLIPS) + ")")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    return run(_run, args, prog="clip_eval")


def _run(args):
    clips = CLIPS if args.clip is None else tuple(parse_clip(c) for c in args.clip)
    if args.seed < 0:
        raise FixedRnnError(f"--seed: expected a non-negative integer, got {args.seed}")
    rows = clip_table(table_models(args), table_data_dir(args), args.split, clips, args.seed)
    print(markdown(rows, clips))
    write_json(args, seed=args.seed, rows=rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
