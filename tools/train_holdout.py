#!/usr/bin/env python3
"""Speaker-independent figure: for each FSDD speaker, train without that speaker, test on all of
their recordings (integer engine, end to end from the WAV files). The second, harder number,
never a replacement for the dataset's own test split.

    python tools/train_holdout.py --cell lstm --units 64 --weights int8 [train.py options]

Extra options are passed to tools/train.py (e.g. ``--epochs 40 --qat-epochs 5`` for a quicker run;
the augmentation options ``--noise``, ``--vtlp``, ``--freq-mask`` … for a recipe). ``--speakers A B``:
only those held out (a cheap proxy, e.g. the two hardest, george and nicolas). Models go to a
temporary directory (``--keep DIR``: to DIR, as ``SPEAKER.npz``); prints one line per speaker, the mean and the
worst (integer engine; with ``--no-evaluate`` there is no integer figure: float and QAT only), and
``--json FILE`` writes them. ``--teacher-dir DIR...``: distil each speaker's run from the models
another run kept (``DIR/SPEAKER.npz``, trained without that speaker; e.g. the same recipe with other
seeds: an ensemble distilled into one model).
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import train  # noqa: E402
from fixedrnn import fsdd  # noqa: E402
from fixedrnn.cli import run  # noqa: E402
from fixedrnn.errors import FixedRnnError  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(prog="tools/train_holdout.py", description=__doc__.split("\n")[0])
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--speakers", nargs="+", default=None, help="hold out only these speakers")
    p.add_argument("--keep", type=Path, default=None, help="write the models to this folder")
    p.add_argument("--teacher-dir", type=Path, nargs="+", default=[], metavar="DIR",
                   help="distil each held-out run from DIR/SPEAKER.npz of each DIR (another run's --keep)")
    args, rest = p.parse_known_args(argv)
    return run(lambda a: holdout(a, rest), args, prog="train_holdout")


def holdout(args, rest):
    speakers = fsdd.speaker_names(fsdd.list_recordings(args.data_dir))
    if args.speakers:
        unknown = sorted(set(args.speakers) - set(speakers))
        if unknown:
            raise FixedRnnError(f"--speakers: no speaker {', '.join(unknown)} in the data")
        speakers = [s for s in speakers if s in args.speakers]
    for folder in args.teacher_dir:
        missing = [s for s in speakers if not (folder / f"{s}.npz").is_file()]
        if missing:
            raise FixedRnnError(f"--teacher-dir: {folder} has no model for {', '.join(missing)} (SPEAKER.npz)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        for speaker in speakers:
            extra = ["--data-dir", str(args.data_dir)] if args.data_dir else []
            if args.teacher_dir:
                extra += ["--teacher-model", *(str(d / f"{speaker}.npz") for d in args.teacher_dir)]
            targs = train.parse_args(rest + extra + ["--holdout", speaker, "--out", str(folder / f"{speaker}.npz")])
            result = train.run_training(targs)
            rows.append({"speaker": speaker, **result})
            integer = f"integer {result['integer_test']:.4f}" if "integer_test" in result else "integer -"
            print(f"holdout {speaker}: {integer} float {result['float_test']:.4f} qat {result['qat_test']:.4f}",
                  flush=True)
    evaluated = all("integer_test" in r for r in rows)
    mean = sum(r["integer_test"] for r in rows) / len(rows) if evaluated else None
    worst = min(r["integer_test"] for r in rows) if evaluated else None
    float_mean = sum(r["float_test"] for r in rows) / len(rows)
    float_worst = min(r["float_test"] for r in rows)
    integer = f"integer {mean:.4f} (worst {worst:.4f})" if evaluated else "integer: not evaluated (--no-evaluate)"
    print(f"mean over {len(rows)} speakers: {integer}, float {float_mean:.4f} (worst {float_worst:.4f})")
    if args.json:
        tmp = args.json.with_name(args.json.name + ".part")
        tmp.write_text(json.dumps({"argv": rest, "speakers": rows, "mean_integer": mean, "worst_integer": worst,
                                  "mean_float": float_mean, "worst_float": float_worst}, indent=1) + "\n")
        tmp.replace(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
