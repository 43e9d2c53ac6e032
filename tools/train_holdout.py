#!/usr/bin/env python3
"""Speaker-independent figure: for each FSDD speaker, train without that speaker, test on all of
their recordings (integer engine, end to end from the WAV files). The second, harder number,
never a replacement for the dataset's own test split.

    python tools/train_holdout.py --cell lstm --units 64 --weights int8 [train.py options]

Extra options are passed to tools/train.py (e.g. ``--epochs 40 --qat-epochs 5`` for a quicker run;
the augmentation options ``--noise``, ``--vtlp``, ``--freq-mask`` … for a recipe). ``--speakers A B``:
only those held out (a cheap proxy, e.g. the two hardest, george and nicolas). Models go to a
temporary directory (``--keep DIR``: to DIR, as ``SPEAKER.npz``); prints one line per speaker, the
mean and the worst (integer engine; with ``--no-evaluate`` there is no integer figure: float and QAT
only), and ``--json FILE`` writes them. ``--seeds 0 1 2``: each speaker with each seed, a speaker's
figure then being its mean over the seeds (the seed moves one speaker's figure by up to 11 points;
models in ``DIR/seed-SEED/``). ``--teacher-dir DIR...``: distil each speaker's run from the models
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
    p = argparse.ArgumentParser(prog="tools/train_holdout.py", description=__doc__.split("\n")[0],
                                allow_abbrev=False)  # --seed is tools/train.py's, not an abbreviation of --seeds
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--speakers", nargs="+", default=None, help="hold out only these speakers")
    p.add_argument("--keep", type=Path, default=None, help="write the models to this folder")
    p.add_argument("--seeds", type=int, nargs="+", default=[], metavar="SEED",
                   help="run every held-out speaker with each of these seeds; the figures are then "
                        "averaged over the seeds (models kept as DIR/seed-SEED/SPEAKER.npz)")
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
    if args.seeds and any(a == "--seed" or a.startswith("--seed=") for a in rest):
        raise FixedRnnError("--seeds: give it or tools/train.py's --seed, not both")
    if len(set(args.seeds)) != len(args.seeds):
        raise FixedRnnError(f"--seeds: {args.seeds} repeats a seed")
    for folder in args.teacher_dir:
        missing = [s for s in speakers if not (folder / f"{s}.npz").is_file()]
        if missing:
            raise FixedRnnError(f"--teacher-dir: {folder} has no model for {', '.join(missing)} (SPEAKER.npz)")
    seeds = args.seeds or [None]  # None: tools/train.py's --seed (in the passed options, or its default)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for seed in seeds:
            folder = root if len(seeds) == 1 else root / f"seed-{seed}"
            for speaker in speakers:
                extra = ["--data-dir", str(args.data_dir)] if args.data_dir else []
                if seed is not None:
                    extra += ["--seed", str(seed)]
                if args.teacher_dir:
                    extra += ["--teacher-model", *(str(d / f"{speaker}.npz") for d in args.teacher_dir)]
                targs = train.parse_args(rest + extra + ["--holdout", speaker,
                                                         "--out", str(folder / f"{speaker}.npz")])
                result = train.run_training(targs)
                rows.append({"speaker": speaker, "seed": targs.seed, **result})
                integer = f"integer {result['integer_test']:.4f}" if "integer_test" in result else "integer -"
                print(f"holdout {speaker} seed {targs.seed}: {integer} float {result['float_test']:.4f} "
                      f"qat {result['qat_test']:.4f}", flush=True)
    report = summarise(rows)
    for line in report.pop("lines"):
        print(line)
    if args.json:
        tmp = args.json.with_name(args.json.name + ".part")
        tmp.write_text(json.dumps({"argv": rest, "seeds": sorted({r["seed"] for r in rows}), "speakers": rows,
                                   **report}, indent=1) + "\n")
        tmp.replace(args.json)
    return 0


def summarise(rows):
    """The figures of held-out runs ``rows`` (dicts: speaker, seed, float_test, integer_test when
    evaluated): each speaker's accuracy averaged over the seeds; ``mean_*`` the mean of those over
    the speakers (= the mean of every run), ``worst_*`` the lowest of them (the worst speaker on
    average over the seeds); ``per_seed``: each seed's mean and worst speaker. ``lines``: the printout."""
    evaluated = all("integer_test" in r for r in rows)
    seeds = sorted({r["seed"] for r in rows})
    speakers = list(dict.fromkeys(r["speaker"] for r in rows))
    out, lines = {"per_seed": []}, []
    for key, kind in (("integer_test", "integer"), ("float_test", "float")):
        if key == "integer_test" and not evaluated:
            out.update(mean_integer=None, worst_integer=None, speaker_integer=None)
            continue
        by_speaker = {s: [r[key] for r in rows if r["speaker"] == s] for s in speakers}
        speaker_mean = {s: sum(v) / len(v) for s, v in by_speaker.items()}
        out[f"speaker_{kind}"] = speaker_mean
        out[f"mean_{kind}"] = sum(speaker_mean.values()) / len(speaker_mean)
        out[f"worst_{kind}"] = min(speaker_mean.values())
    key = "integer_test" if evaluated else "float_test"
    for seed in seeds:
        vals = [r[key] for r in rows if r["seed"] == seed]
        out["per_seed"].append({"seed": seed, "mean": sum(vals) / len(vals), "worst": min(vals)})
    integer = (f"integer {out['mean_integer']:.4f} (worst {out['worst_integer']:.4f})" if evaluated
               else "integer: not evaluated (--no-evaluate)")
    over = f"{len(speakers)} speakers" + (f" and {len(seeds)} seeds" if len(seeds) > 1 else "")
    lines.append(f"mean over {over}: {integer}, float {out['mean_float']:.4f} (worst {out['worst_float']:.4f})")
    if len(seeds) > 1:
        kind = "integer" if evaluated else "float"
        lines.append(f"{kind} per speaker, mean over the seeds: "
                     + ", ".join(f"{s} {v:.4f}" for s, v in out[f"speaker_{kind}"].items()))
        lines.append(f"{kind} per seed: " + ", ".join(f"seed {p['seed']} {p['mean']:.4f} (worst {p['worst']:.4f})"
                                                       for p in out["per_seed"]))
    out["lines"] = lines
    return out


if __name__ == "__main__":
    sys.exit(main())
