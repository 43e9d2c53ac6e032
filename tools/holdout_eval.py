#!/usr/bin/env python3
"""Score kept leave-one-speaker-out models again, e.g. with endpointing, without training them again.

    python tools/holdout_eval.py DIR [DIR ...] [--endpoint] [--confusions N] [--ensemble] [--merged]
        [--noise KIND --snr DB [--noise-seed N]] [--data-dir FSDD] [--json FILE]

Each DIR is a ``tools/train_holdout.py --keep`` folder: ``SPEAKER.npz`` per held-out speaker (a
``--seeds`` run's ``seed-S/`` subfolders are read as DIRs of their own). Every model must say it
was trained without its speaker (``meta.split``, as tools/train.py writes it); it is scored by the
integer engine end to end on all of that speaker's recordings (:func:`fixedrnn.evaluate.evaluate_model`,
``--endpoint``: with :mod:`fixedrnn.endpoint`'s default configuration). Prints each DIR's figures,
then each speaker's mean over the DIRs, their mean and the worst of them (as train_holdout's
``--seeds`` summary). ``--confusions N``: each speaker's N most frequent mistakes, ``true>predicted``
counted over the DIRs (most first, ties by label). ``--ensemble``: also the DIRs' models of each
speaker as one ensemble (their int8 logits summed in int32, the first maximal class: several models,
not one that fits a device), each speaker's figure, the mean and the worst: how far averaging the
models' answers goes. ``--merged`` (graph models): each speaker's models merged into one graph model
(:mod:`fixedrnn.ensemble`, what ``fixedrnn ensemble`` writes: their logits added by int8 ADD ops, one
arena on the device) and scored by the engine: the ensemble a device runs, and its budget.
``--noise KIND --snr DB``: every figure on noisy copies of the held-out speaker's recordings
(:mod:`fixedrnn.noise`; babble: six of that speaker's other recordings at once, the other recordings
of the held-out set): a new voice in noise.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train_distill import holdout_split  # noqa: E402
from fixedrnn import fsdd  # noqa: E402
from fixedrnn.atomicfile import write_text  # noqa: E402
from fixedrnn.cli import run  # noqa: E402
from fixedrnn.endpoint import EndpointConfig  # noqa: E402
from fixedrnn.errors import FixedRnnError  # noqa: E402
from fixedrnn.evaluate import evaluate_model  # noqa: E402
from fixedrnn.model import load  # noqa: E402
from fixedrnn.noise import add_noise_arguments, noise_from_arguments  # noqa: E402


def model_folders(dirs):
    """The folders holding ``SPEAKER.npz`` files: each DIR, or its ``seed-*`` subfolders."""
    out = []
    for d in dirs:
        if not d.is_dir():
            raise FixedRnnError(f"{d}: not a folder")
        seeds = sorted(p for p in d.glob("seed-*") if p.is_dir())
        out.extend(seeds or [d])
    return out


def score_folders(folders, data_dir, endpoint=None, noise=None):
    """``{folder: {speaker: EvaluationResult}}`` over the speakers of the data that each folder has a
    model for (``noise``: a :class:`fixedrnn.noise.NoiseSpec` added to the recordings, or None)."""
    speakers = fsdd.speaker_names(fsdd.list_recordings(data_dir))
    table = {}
    for folder in folders:
        found = {s: folder / f"{s}.npz" for s in speakers if (folder / f"{s}.npz").is_file()}
        if not found:
            raise FixedRnnError(f"{folder}: no SPEAKER.npz for any speaker of {data_dir} ({', '.join(speakers)})")
        row = {}
        for speaker, path in found.items():
            model = load(path)
            if model.meta.get("split") != holdout_split(speaker):
                raise FixedRnnError(f"{path}: not trained with speaker {speaker} held out "
                                    f"(its split: {model.meta.get('split', 'not recorded')!r})")
            row[speaker] = evaluate_model(model, data_dir, split="all", speakers=[speaker], endpoint=endpoint,
                                          noise=noise)
        table[str(folder)] = row
    return table


def accuracies(results):
    """``{folder: {speaker: accuracy}}`` of :func:`score_folders`' results."""
    return {folder: {s: r.accuracy for s, r in row.items()} for folder, row in results.items()}


def top_confusions(results, n):
    """``{speaker: [("true>predicted", count), ...]}``: each speaker's ``n`` most frequent mistakes,
    summed over the folders (most first, ties in label order)."""
    out = {}
    speakers = list(dict.fromkeys(s for row in results.values() for s in row))
    for speaker in speakers:
        found = [row[speaker] for row in results.values() if speaker in row]
        total = sum(r.confusion for r in found)
        labels = found[0].labels
        pairs = [(f"{labels[i]}>{labels[j]}", int(total[i, j])) for i in range(len(labels)) for j in range(len(labels))
                 if i != j and total[i, j] > 0]
        out[speaker] = sorted(pairs, key=lambda pair: -pair[1])[:n]
    return out


def ensemble_accuracies(results):
    """``{speaker: accuracy}`` of each speaker's models over the folders as one ensemble: the sum of
    their int8 logits (int32) per recording, the first maximal class against the target."""
    out = {}
    speakers = list(dict.fromkeys(s for row in results.values() for s in row))
    for speaker in speakers:
        found = [row[speaker] for row in results.values() if speaker in row]
        if any(r.names != found[0].names for r in found):
            raise FixedRnnError(f"{speaker}: the folders' models were scored on different recordings")
        total = sum(r.logits.astype(np.int32) for r in found)
        out[speaker] = float(np.mean(np.argmax(total, axis=1) == found[0].targets))
    return out


def merged_results(folders, data_dir, endpoint=None, noise=None):
    """``{speaker: (EvaluationResult, budget bytes)}``: each speaker's models over the folders merged
    into one graph model (:func:`fixedrnn.ensemble.ensemble_model`: their programs side by side, their
    logits added by int8 ADD ops, the deployable ensemble) and scored by the integer engine end to end
    on that speaker's recordings; the speakers every folder has a model for."""
    from fixedrnn import budget
    from fixedrnn.ensemble import ensemble_model

    speakers = fsdd.speaker_names(fsdd.list_recordings(data_dir))
    out = {}
    for speaker in speakers:
        paths = [folder / f"{speaker}.npz" for folder in folders]
        if not all(p.is_file() for p in paths):
            continue
        try:
            model = ensemble_model([load(p) for p in paths])
        except FixedRnnError as exc:
            raise FixedRnnError(f"{' + '.join(map(str, paths))}: {exc}") from None
        out[speaker] = (evaluate_model(model, data_dir, split="all", speakers=[speaker], endpoint=endpoint,
                                       noise=noise),
                        budget.audit(model, name=speaker).total)
    if not out:
        raise FixedRnnError("--merged: no speaker has a model in every folder")
    return out


def summary(table):
    """Each speaker's mean over the folders that have it, the mean of those and the worst."""
    speakers = list(dict.fromkeys(s for row in table.values() for s in row))
    per_speaker = {s: sum(row[s] for row in table.values() if s in row) / sum(s in row for row in table.values())
                   for s in speakers}
    return {"speaker": per_speaker, "mean": sum(per_speaker.values()) / len(per_speaker),
            "worst": min(per_speaker.values())}


def main(argv=None):
    p = argparse.ArgumentParser(prog="tools/holdout_eval.py", description=__doc__.split("\n")[0])
    p.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="train_holdout.py --keep folders")
    p.add_argument("--endpoint", action="store_true", help="endpoint each recording first (fixedrnn.endpoint)")
    p.add_argument("--data-dir", type=Path, default=None, help="FSDD directory (default: as verify)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    p.add_argument("--ensemble", action="store_true",
                   help="also score each speaker's models over the DIRs as one ensemble (summed logits)")
    p.add_argument("--merged", action="store_true",
                   help="also merge each speaker's models over the DIRs into one graph model (fixedrnn ensemble: "
                        "int8 ADD of their logits, one arena) and score that deployable model; prints its budget")
    p.add_argument("--confusions", type=int, default=0, metavar="N",
                   help="print each speaker's N most frequent mistakes (true>predicted, over the DIRs)")
    add_noise_arguments(p)
    args = p.parse_args(argv)
    if args.confusions < 0:
        p.error(f"--confusions must be >= 0, got {args.confusions}")
    return run(_run, args, prog="holdout_eval")


def _run(args):
    data_dir = args.data_dir or fsdd.default_data_dir()
    noise = noise_from_arguments(args)
    endpoint = EndpointConfig() if args.endpoint else None
    condition = f"endpoint {'on' if args.endpoint else 'off'}" + (f", {noise.describe()}" if noise else "")
    folders = model_folders(args.dirs)
    results = score_folders(folders, data_dir, endpoint, noise)
    table = accuracies(results)
    for folder, row in table.items():
        print(f"{folder}: " + ", ".join(f"{s} {100 * v:.1f}" for s, v in row.items())
              + f"; mean {100 * sum(row.values()) / len(row):.1f}, worst {100 * min(row.values()):.1f}")
    out = summary(table)
    print("per speaker, mean over the folders: " + ", ".join(f"{s} {100 * v:.1f}" for s, v in out["speaker"].items()))
    print(f"mean {100 * out['mean']:.2f} %, worst speaker {100 * out['worst']:.2f} % ({condition})")
    extra = {}
    if args.ensemble:
        together = ensemble_accuracies(results)
        worst = min(together.values())
        extra["ensemble"] = {"speaker": together, "mean": sum(together.values()) / len(together), "worst": worst}
        print(f"ensemble of {len(results)} folder(s), summed logits: "
              + ", ".join(f"{s} {100 * v:.1f}" for s, v in together.items())
              + f"; mean {100 * extra['ensemble']['mean']:.2f} %, worst speaker {100 * worst:.2f} %")
    if args.merged:
        merged = merged_results(folders, data_dir, endpoint, noise)
        scores = {s: r.accuracy for s, (r, _) in merged.items()}
        largest = max(size for _, size in merged.values())
        extra["merged"] = {"speaker": scores, "mean": sum(scores.values()) / len(scores), "worst": min(scores.values()),
                           "budget_bytes": {s: size for s, (_, size) in merged.items()}}
        print(f"merged into one graph model per speaker ({len(folders)} members, at most {largest} "
              "bytes): " + ", ".join(f"{s} {100 * v:.1f}" for s, v in scores.items())
              + f"; mean {100 * extra['merged']['mean']:.2f} %, worst speaker {100 * extra['merged']['worst']:.2f} %")
    confusions = top_confusions(results, args.confusions) if args.confusions else {}
    for speaker, pairs in confusions.items():
        print(f"{speaker} mistakes: " + (", ".join(f"{pair} {count}" for pair, count in pairs) or "none"))
    if args.json:
        if args.confusions:
            extra["confusions"] = confusions
        write_text(args.json, json.dumps({"endpoint": args.endpoint, "noise": noise.describe() if noise else "none",
                                          "folders": table, **out, **extra}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
