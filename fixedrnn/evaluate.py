"""``fixedrnn evaluate MODEL.npz [DATA_DIR]``: accuracy of the integer engine on FSDD or Speech Commands.

Every recording is read from its WAV file and run end to end by the integer engine (front end,
int8 normalisation, cell, head); the prediction is the first maximal int8 logit. Reported: the
accuracy, the accuracy per class, the confusion matrix (rows: true label, columns: predicted) and
the misclassified files. DATA_DIR defaults to the FSDD folder ``verify`` uses
(:func:`fixedrnn.fsdd.default_data_dir`: ``$FIXEDRNN_FSDD``, else ``../shared/data/fsdd``). The split is the dataset's own (index 0-4 test, 5-49 train; see :mod:`fixedrnn.fsdd`).
A directory in the Speech Commands layout (:mod:`fixedrnn.speech_commands`: ``validation_list.txt``
and ``testing_list.txt``) is read as that dataset, split by its lists, with the model's labels as the
task's classes (keywords, ``_unknown_``, ``_silence_``).

:func:`evaluate_model` is the library entry point (used by tools/train.py and the tests).
"""

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fixedrnn import fsdd, speech_commands
from fixedrnn.classify import add_endpoint_argument
from fixedrnn import engine
from fixedrnn.endpoint import QUIET_HINT_FRAMES, describe as describe_endpoint
from fixedrnn.errors import FixedRnnError, InputFileError
from fixedrnn.noise import add_noise, add_noise_arguments, noise_from_arguments

#: Engine backends :func:`evaluate_model` accepts.
BACKENDS = ("numba", "numpy", "shift")
#: Datasets :func:`evaluate_model` reads (None there: detected from the directory's layout).
DATASETS = ("fsdd", "speech_commands")
#: Every split name of the datasets (each dataset refuses the ones it does not have).
SPLITS = ("test", "train", "validation", "all")


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """Outcome of one evaluation.

    ``names``: file names ``[N]``; ``targets``, ``predictions``: int64 class indices ``[N]``
    (indices into ``labels``); ``logits``: int8 ``[N, C]``, the engine's output per recording;
    ``skipped``: names of the data directory's WAV files not scored because they are not named
    ``{digit}_{speaker}_{index}.wav`` (:mod:`fixedrnn.fsdd`); ``noise``: the noise added before
    scoring (e.g. ``"babble 10 dB, seed 0"``; ``"none"``: the recordings as they are);
    ``endpoint``: the :class:`fixedrnn.endpoint.EndpointConfig` the clips were endpointed with, as
    text (``"off"``: the whole clip's last T frames); ``quiet_after``: how many recordings have at
    least :data:`fixedrnn.endpoint.QUIET_HINT_FRAMES` frames of quiet after the word.
    """

    model: str
    split: str
    labels: tuple
    names: tuple
    targets: np.ndarray
    predictions: np.ndarray
    logits: np.ndarray
    skipped: tuple = ()
    noise: str = "none"
    endpoint: str = "off"
    quiet_after: int = 0

    @property
    def n(self):
        return len(self.names)

    @property
    def correct(self):
        return int(np.sum(self.targets == self.predictions))

    @property
    def accuracy(self):
        """Fraction of recordings classified correctly (0.0 for an empty set)."""
        return self.correct / self.n if self.n else 0.0

    @property
    def confusion(self):
        """int64 ``[C, C]``: ``confusion[i, j]`` = recordings of class i predicted as class j."""
        c = len(self.labels)
        out = np.zeros((c, c), np.int64)
        np.add.at(out, (self.targets, self.predictions), 1)
        return out

    @property
    def per_class_accuracy(self):
        """float64 ``[C]``: diagonal over row sums (NaN for a class with no recording)."""
        confusion = self.confusion
        totals = confusion.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(totals > 0, np.diag(confusion) / np.maximum(totals, 1), np.nan)

    def to_dict(self):
        """A JSON-ready summary (no per-file logits)."""
        confusion = self.confusion
        return {
            "model": self.model,
            "split": self.split,
            "noise": self.noise,
            "endpoint": self.endpoint,
            "quiet_after": self.quiet_after,
            "n": self.n,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "labels": list(self.labels),
            "per_class": {
                label: {"n": int(confusion[i].sum()), "correct": int(confusion[i, i]),
                        "accuracy": (float(confusion[i, i] / confusion[i].sum())
                                     if confusion[i].sum() else None)}
                for i, label in enumerate(self.labels)
            },
            "confusion": confusion.tolist(),
            "skipped": list(self.skipped),
            "misclassified": [{"name": name, "true": true, "predicted": predicted}
                              for name, true, predicted in self.misclassified],
        }

    @property
    def misclassified(self):
        """``(name, true label, predicted label)`` of every misclassified recording, in order."""
        return [(name, self.labels[t], self.labels[p])
                for name, t, p in zip(self.names, self.targets, self.predictions) if t != p]

    def report(self):
        """The human-readable report: accuracy, per-class accuracy, confusion matrix, misclassified
        files."""
        confusion = self.confusion
        width = max(4, max(len(str(label)) for label in self.labels) + 1,
                    len(str(int(confusion.max(initial=0)))) + 1)
        lines = [
            f"model: {self.model}",
            f"split: {self.split} ({self.n} recordings)",
            *([f"noise: {self.noise}"] if self.noise != "none" else []),
            *([f"endpoint: {self.endpoint}"] if self.endpoint != "off" else []),
            f"accuracy: {100.0 * self.accuracy:.2f} % ({self.correct}/{self.n})",
            "per-class accuracy:",
        ]
        for i, label in enumerate(self.labels):
            total = int(confusion[i].sum())
            if total:
                lines.append(f"  {label:>{width - 1}}: {100.0 * confusion[i, i] / total:6.2f} % "
                             f"({int(confusion[i, i])}/{total})")
            else:
                lines.append(f"  {label:>{width - 1}}:      - (0 recordings)")
        lines.append("confusion matrix (rows: true label, columns: predicted label):")
        lines.append(" " * (width + 1) + "".join(f"{label:>{width}}" for label in self.labels))
        for i, label in enumerate(self.labels):
            lines.append(f"{label:>{width}} " + "".join(f"{int(v):>{width}}" for v in confusion[i]))
        wrong = self.misclassified
        lines.append(f"misclassified ({len(wrong)}):" + ("" if wrong else " none"))
        lines.extend(f"  {name}: {true} predicted as {predicted}" for name, true, predicted in wrong)
        return "\n".join(lines)


def _label_index(model):
    """Map an FSDD digit to the model's class index; the model's labels must name the digits."""
    index = {}
    for i, label in enumerate(model.labels):
        try:
            digit = int(str(label))
        except ValueError:
            continue
        index[digit] = i
    missing = [d for d in range(10) if d not in index]
    if missing:
        raise FixedRnnError(
            f"model: its labels {list(model.labels)} do not name the digits "
            f"{', '.join(map(str, missing))} of FSDD")
    return index


def _recordings(data, split, speakers):
    """``(recordings, skipped names)``: FSDD recordings from a directory (and the names of its files
    skipped for their names) or from an iterable of WAV paths (each must be named as FSDD's),
    filtered by split."""
    if split not in fsdd.SPLITS:
        raise FixedRnnError(f"split: {split!r} is not one of {', '.join(fsdd.SPLITS)}")
    if isinstance(data, (str, Path)):
        listing = fsdd.scan(data, split, speakers=speakers)
        return listing.recordings, listing.skipped
    recordings = sorted(fsdd.recording_from_path(p) for p in data)
    if split != "all":
        recordings = [r for r in recordings if r.split == split]
    if speakers is not None:
        wanted = set(speakers)
        recordings = [r for r in recordings if r.speaker in wanted]
    return recordings, ()


def _read_all(recordings):
    """The int16 samples of every recording (:func:`fixedrnn.fsdd.read_samples`, the package's one
    WAV reader), read before anything is scored: an unreadable file (truncated, odd-length, empty,
    not 16-bit PCM mono at 8 kHz) is an error naming it and how many others are unreadable, never
    scored or dropped silently."""
    samples, problems = [], []
    for recording in recordings:
        try:
            samples.append(recording.samples())
        except InputFileError as exc:
            problems.append(exc)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more unreadable: {', '.join(p.path for p in problems[1:4])}" \
               f"{', ...' if len(problems) > 4 else ''})" if len(problems) > 1 else ""
        raise InputFileError(first.path, f"{first.problem}; nothing scored{more}")
    return samples


def detect_dataset(data):
    """``"speech_commands"`` for a directory in that layout, else ``"fsdd"``."""
    if isinstance(data, (str, Path)) and speech_commands.is_layout(data):
        return "speech_commands"
    return "fsdd"


def _labelled(model, data, split, speakers, dataset):
    """``(recordings, target class indices, skipped names)`` of ``data`` in ``dataset``."""
    if dataset == "speech_commands":
        if isinstance(data, (str, Path)):
            clips = speech_commands.scan(data, split, labels=model.labels, speakers=speakers)
        else:
            clips = [c for c in data if (split == "all" or c.split == split)
                     and (speakers is None or c.speaker in set(speakers))]
            if not all(isinstance(c, speech_commands.Clip) for c in clips):
                raise FixedRnnError("data: expected a Speech Commands directory or fixedrnn.speech_commands.Clip items")
            missing = sorted({c.label for c in clips} - set(model.labels))
            if missing:
                raise FixedRnnError(f"model: its labels {list(model.labels)} lack the classes {missing}")
        return clips, [model.labels.index(c.label) for c in clips], ()
    digit_to_class = _label_index(model)
    recordings, skipped = _recordings(data, split, speakers)
    return recordings, [digit_to_class[r.digit] for r in recordings], skipped


def evaluate_model(model, data, split="test", speakers=None, backend="numba", batch_size=64,
                   progress=False, dataset=None, noise=None, endpoint=None):
    """Run the integer engine on FSDD (or Speech Commands) recordings and score it.

    ``model``: a :class:`fixedrnn.model.Model` or a model file path. ``data``: the FSDD directory
    (with ``recordings/``) or an iterable of WAV paths named ``{digit}_{speaker}_{index}.wav``.
    ``split``: "test" (index 0-4), "train" (5-49) or "all". ``speakers``: keep only these speakers
    (None: all). ``backend``: "numba", "numpy" or, for power-of-two models,
    "shift" (all bit-identical; numba is the fastest). ``progress``:
    show a tqdm bar on stderr. ``dataset``: "fsdd", "speech_commands" (``data`` its directory, or
    :class:`fixedrnn.speech_commands.Clip` items; ``split`` also "validation"; the model's labels are
    the task's classes) or None (detected: :func:`detect_dataset`). ``noise``: a
    :class:`fixedrnn.noise.NoiseSpec` to score noisy copies of the recordings (None: as recorded).
    ``endpoint``: a :class:`fixedrnn.endpoint.EndpointConfig` to classify the word found in each clip
    (:mod:`fixedrnn.endpoint`; None: the clip's last T frames). Returns an :class:`EvaluationResult`.
    """
    from fixedrnn import model as model_io

    if backend not in BACKENDS:
        raise FixedRnnError(f"backend: {backend!r} is not one of {', '.join(BACKENDS)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise FixedRnnError(f"batch_size: expected a positive integer, got {batch_size!r}")
    name = str(model) if isinstance(model, (str, Path)) else str(model.meta.get("name", "model"))
    if isinstance(model, (str, Path)):
        model = model_io.load(model)
    dataset = detect_dataset(data) if dataset is None else dataset
    if dataset not in DATASETS:
        raise FixedRnnError(f"dataset: {dataset!r} is not one of {', '.join(DATASETS)}")
    recordings, targets, skipped = _labelled(model, data, split, speakers, dataset)
    if not recordings:
        raise FixedRnnError(f"data: no recordings in split {split!r}")
    samples = _read_all(recordings)
    if noise is not None:
        samples = add_noise(samples, [r.name for r in recordings], [r.speaker for r in recordings], noise)

    logits = np.zeros((len(recordings), len(model.labels)), np.int8)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(recordings), desc="evaluate", unit="file", file=sys.stderr)
    quiet_after = 0
    try:
        for start in range(0, len(recordings), batch_size):
            chunk = recordings[start:start + batch_size]
            features = np.empty((len(chunk), model.frames, model.n_features), np.int8)
            for k, pcm in enumerate(samples[start:start + batch_size]):
                clip = engine.clip_features(model, pcm, endpoint)
                features[k] = clip.features
                quiet_after += clip.frames - clip.segment.stop >= QUIET_HINT_FRAMES
            logits[start:start + len(chunk)] = model.run_features_batch(features, backend=backend)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    targets = np.array(targets, np.int64)
    predictions = np.argmax(logits, axis=1).astype(np.int64)  # first maximum, as the device
    return EvaluationResult(model=name, split=split, labels=tuple(str(l) for l in model.labels),
                            names=tuple(r.name for r in recordings), targets=targets,
                            predictions=predictions, logits=logits, skipped=skipped,
                            noise="none" if noise is None else noise.describe(),
                            endpoint="off" if endpoint is None else describe_endpoint(endpoint),
                            quiet_after=int(quiet_after))


def _run(args):
    progress = not args.json and not args.quiet and sys.stderr.isatty()
    speakers = None if args.speakers is None else args.speakers.split(",")
    if speakers is not None and not all(name.strip() for name in speakers):
        raise FixedRnnError(f"--speakers: {args.speakers!r}: give one or more speaker names, separated by commas")
    data_dir = args.data_dir
    if data_dir is None:
        data_dir = fsdd.default_data_dir()
        if not (data_dir / "recordings").is_dir():
            raise FixedRnnError(f"data_dir: none given and FSDD not found at {data_dir} "
                                f"(set FIXEDRNN_FSDD or give DATA_DIR)")
    noise = noise_from_arguments(args)
    result = evaluate_model(args.model, data_dir, split=args.split, speakers=speakers,
                            backend=args.backend, progress=progress, noise=noise,
                            dataset=None if args.dataset == "auto" else args.dataset, endpoint=args.endpoint)
    if result.skipped:
        names = ", ".join(repr(name) for name in result.skipped[:5]) + (", ..." if len(result.skipped) > 5 else "")
        print(f"fixedrnn evaluate: skipped {len(result.skipped)} WAV file(s) of recordings/ not named "
              f"{{digit}}_{{speaker}}_{{index}}.wav: {names}", file=sys.stderr)
    if args.endpoint is None and result.quiet_after * 10 >= result.n:
        print(f"fixedrnn evaluate: {result.quiet_after} of {result.n} recordings have quiet after the word "
              f"(at least {QUIET_HINT_FRAMES} frames); the models were trained on words that end the window: "
              f"--endpoint classifies the word", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result.report())
    return 0


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "evaluate", help="accuracy of a model on the FSDD or Speech Commands recordings",
        description="Run the integer engine end to end on FSDD (or Speech Commands) WAV files and "
                    "report the accuracy, the per-class accuracy, the confusion matrix and the "
                    "misclassified files.")
    parser.add_argument("model", help="model file (.npz)")
    parser.add_argument("data_dir", nargs="?", default=None,
                        help="FSDD directory holding recordings/, or a Speech Commands directory "
                             "(default: FSDD at $FIXEDRNN_FSDD, else ../shared/data/fsdd, as verify)")
    parser.add_argument("--split", choices=SPLITS, default="test",
                        help="the dataset's split: FSDD test = index 0-4 (default), train = 5-49, all; "
                             "Speech Commands test, validation (its lists), train, all")
    parser.add_argument("--dataset", choices=("auto",) + DATASETS, default="auto",
                        help="how DATA_DIR is laid out (default auto: Speech Commands when it has "
                             "validation_list.txt and testing_list.txt, else FSDD)")
    parser.add_argument("--speakers", metavar="NAMES", default=None,
                        help="comma-separated speakers to keep (default: all)")
    parser.add_argument("--backend", choices=BACKENDS, default="numba",
                        help="engine path (bit-identical results; default numba)")
    add_noise_arguments(parser)
    parser.add_argument("--json", action="store_true",
                        help="print a JSON object instead of text (misclassified files included)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_endpoint_argument(parser)
    parser.set_defaults(func=_run)
    return parser
