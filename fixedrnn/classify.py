"""Classify recordings: :func:`classify` (one recording → :class:`Classification`, also
``Model.classify``) and the command ``fixedrnn classify MODEL WAV...``.

The whole integer pipeline runs: WAV → MFCC → int8 features → cell → head; the label is the one of
the first maximal int8 logit, as on the device. A recording longer than the model's window of T
frames is classified on its last T frames (docs/CONTRACT.md), and the result says so.
"""

import json
import os
import sys
from dataclasses import asdict, dataclass

from typing import Optional

import numpy as np

from fixedrnn.endpoint import QUIET_HINT_FRAMES
from fixedrnn.errors import FixedRnnError

#: The engine path :func:`classify` takes by default: the NumPy reference (bit-identical to numba),
#: which needs no compilation and classifies one recording in 7-60 ms.
DEFAULT_BACKEND = "numpy"


@dataclass(frozen=True)
class Classification:
    """The model's answer for one recording.

    ``label``: the label of the first maximal logit, ``index`` its class index; ``logits``: the int8
    logits ``[C]`` as Python ints; ``frames``: the MFCC frames of the recording; ``window``: the
    frames the model reads (T). When ``frames > window`` only the last ``window`` frames were used.
    ``segment``: with endpointing, the frames ``(start, stop)`` of the clip it kept (the model read
    the last ``window`` of them); None without. ``quiet_after``: frames of the clip after the word
    (after the segment that endpointing, with the given or the default configuration, keeps).
    """

    label: str
    index: int
    logits: tuple
    frames: int
    window: int
    segment: Optional[tuple] = None
    quiet_after: int = 0

    @property
    def score(self):
        """The winning int8 logit."""
        return self.logits[self.index]

    @property
    def truncated(self):
        """True when the recording (with endpointing: its segment) is longer than the window (its
        start was not classified)."""
        kept = self.frames if self.segment is None else self.segment[1] - self.segment[0]
        return kept > self.window

    def to_dict(self):
        """A JSON-ready dict: every field, ``score`` and ``truncated``."""
        segment = None if self.segment is None else list(self.segment)
        return {**asdict(self), "logits": list(self.logits), "segment": segment, "score": self.score,
                "truncated": self.truncated}


def classify(model, source, backend=DEFAULT_BACKEND, endpoint=None):
    """Classify one recording with ``model`` (a :class:`fixedrnn.model.Model`).

    ``source``: a WAV file path (16-bit mono PCM at the model's sample rate) or int16 PCM ``[n]``.
    ``backend``: the engine path (``"numpy"``, ``"numba"``, or ``"shift"`` for a power-of-two model;
    all give the same integers; numba compiles its kernels on first use). ``endpoint``: a
    :class:`fixedrnn.endpoint.EndpointConfig` (None: the whole clip's last T frames). Returns a
    :class:`Classification`; a bad file raises :class:`fixedrnn.errors.InputFileError`.
    """
    from fixedrnn import engine
    from fixedrnn.mfcc import frame_count, read_wav

    config = model.frontend.mfcc_config()
    pcm = read_wav(source, config) if isinstance(source, (str, os.PathLike)) else source
    clip = engine.clip_features(model, pcm, endpoint)
    logits = model.run_features(clip.features, backend=backend)
    index = int(np.argmax(logits))  # first maximum, as the device
    return Classification(label=model.labels[index], index=index, logits=tuple(int(v) for v in logits),
                          frames=frame_count(len(pcm), model.front_end.config), window=model.frames,
                          segment=None if endpoint is None else tuple(clip.segment),
                          quiet_after=clip.frames - clip.segment.stop)


def _window_warning(path, result, sample_rate, hop):
    seconds = result.window * hop / sample_rate
    if result.segment is not None:
        return (f"fixedrnn: warning: {path}: the word found spans {result.segment[1] - result.segment[0]} "
                f"frames, longer than the model's window of {result.window} frames (about {seconds:.2f} s); "
                f"only its end was classified")
    return (f"fixedrnn: warning: {path}: {result.frames} frames, longer than the model's window of "
            f"{result.window} frames (about {seconds:.2f} s); only its end was classified (a clip with "
            f"silence around the word: --endpoint)")


def _run(args):
    from fixedrnn.model import load

    model = load(args.model)
    failed = printed = 0
    for path in args.wavs:
        try:
            result = classify(model, path, backend=args.backend, endpoint=args.endpoint)
        except (FixedRnnError, OSError) as exc:
            print(f"fixedrnn: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        if result.truncated:
            print(_window_warning(path, result, model.frontend.sample_rate, model.frontend.hop),
                  file=sys.stderr)
        elif result.segment is None and result.quiet_after >= QUIET_HINT_FRAMES:
            seconds = result.quiet_after * model.frontend.hop / model.frontend.sample_rate
            print(f"fixedrnn: warning: {path}: about {seconds:.2f} s of quiet after the word; the models "
                  f"were trained on words that end the window: --endpoint classifies the word", file=sys.stderr)
        if args.json:
            print(json.dumps({"file": str(path), **result.to_dict()}))
        else:
            if not printed:  # the header above the first result (nothing on stdout if none)
                print("file\tlabel\tscore")
            print(f"{path}\t{result.label}\t{result.score}")
        printed += 1
    if failed:
        if len(args.wavs) > 1:  # one file: its own line says it all (one line, exit 2)
            print(f"fixedrnn: {failed} of {len(args.wavs)} file(s) could not be classified", file=sys.stderr)
        return 2
    return 0


def add_parser(subparsers):
    from fixedrnn.backends import BACKENDS

    parser = subparsers.add_parser(
        "classify", help="classify WAV recordings with a model",
        description="Classify each WAV recording with the integer pipeline (MFCC, cell, head) and "
                    "print, under a header line, one tab-separated line per file: the file, the "
                    "predicted label and its score (the winning int8 logit). A file that cannot be "
                    "read is reported on stderr and skipped; the exit status is then 2. A recording "
                    "longer than the model's window is classified on its end, with a warning.")
    parser.add_argument("model", help="model file (.npz)")
    parser.add_argument("wavs", nargs="+", metavar="WAV", help="16-bit mono WAV files")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per file instead (file, label, index, score, logits, "
                             "frames, window, truncated)")
    parser.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND,
                        help="engine path; all give the same integers (default numpy: no compilation; "
                             "numba compiles once, then is faster on many files; shift: power-of-two "
                             "models)")
    add_endpoint_argument(parser)
    parser.set_defaults(func=_run)
    return parser


def add_endpoint_argument(parser):
    """``--endpoint``: ``args.endpoint`` the default :class:`fixedrnn.endpoint.EndpointConfig`, or None."""
    from fixedrnn.endpoint import EndpointConfig

    parser.add_argument("--endpoint", action="store_const", const=EndpointConfig(), default=None,
                        help="find the word in the clip's last 2 s (energy above its quietest frames) and "
                             "classify it, as the models were trained: for recordings with silence or "
                             "background before or after the word (docs/CONTRACT.md; the firmware: "
                             "export c --endpoint)")
