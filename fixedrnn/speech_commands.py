"""The Speech Commands dataset (Warden 2018): its layout, its splits, the keyword task and its front end.

Layout (versions 0.01 and 0.02 alike)::

    DIR/<word>/<speaker>_nohash_<n>.wav      16 kHz, 16-bit PCM mono, about 1 s
    DIR/validation_list.txt                  one "<word>/<file>.wav" per line: the validation split
    DIR/testing_list.txt                     likewise: the test split (every other file: training)
    DIR/_background_noise_/*.wav             long noise recordings (no word)

The task is defined by the class labels (a model's ``labels``): each label that is a word of the
dataset is a keyword class; ``_unknown_`` collects every other word; ``_silence_`` is the one-second
segments of the ``_background_noise_`` recordings (segment k of a file is test for k mod 10 = 0,
validation for 1, training otherwise). :data:`KEYWORDS` is the 10-word task of the seed work (Hello
Edge), :data:`LABELS_12` the same with ``_unknown_`` and ``_silence_``. Words that are no class (and
no ``_unknown_`` class) are left out. As in the seed work (TensorFlow's speech_commands example:
10 % silence, 10 % unknown), each split keeps ``_unknown_`` and ``_silence_`` clips up to
:data:`BALANCE_PERCENT` % of its keyword clips each (rounded up): those whose names' SHA-256 come
first, so the choice is the same on every machine (``balance=None`` keeps them all). A file named in a list that is not there is not an error: the
dataset is the files present.

A clip is referred to by its :attr:`Clip.name` (``"<word>/<file>.wav"``, ``@<offset>`` appended for
a silence segment). :data:`FRONTEND` is the front end for 16 kHz: 32 ms frames (FFT 512) every 20 ms,
40 mel filters from 20 Hz to 7.6 kHz, 13 coefficients; a one-second clip gives :data:`FRAMES` = 49
frames.
"""

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from fixedrnn.errors import FixedRnnError, InputFileError
from fixedrnn.fsdd import select_speakers
from fixedrnn.frontend.config import MfccConfig

#: Sample rate of every recording, in Hz.
SAMPLE_RATE = 16000
#: The ten keywords of the seed work's task.
KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
UNKNOWN = "_unknown_"
SILENCE = "_silence_"
#: The 12-class task: the ten keywords, unknown words, silence.
LABELS_12 = KEYWORDS + (UNKNOWN, SILENCE)
#: The splits :func:`scan` accepts.
SPLITS = ("train", "validation", "test", "all")
BACKGROUND = "_background_noise_"
LISTS = {"validation": "validation_list.txt", "test": "testing_list.txt"}
#: The front end for 16 kHz speech: 512-sample (32 ms) frames every 320 samples (20 ms).
FRONTEND = MfccConfig(sample_rate=SAMPLE_RATE, fft_length=512, hop=320, n_mels=40, n_mfcc=13, fmin=20.0,
                      fmax=7600.0)
#: Frames of a one-second clip with :data:`FRONTEND`: 1 + (16000 − 512) // 320.
FRAMES = 1 + (SAMPLE_RATE - FRONTEND.fft_length) // FRONTEND.hop
#: Silence segments: one second each; segment k is test for k % 10 == 0, validation for 1.
SILENCE_SECONDS = 1
#: ``_unknown_`` and ``_silence_`` clips kept per split, each in % of the split's keyword clips.
BALANCE_PERCENT = 10


@dataclass(frozen=True, order=True)
class Clip:
    """One utterance of the task: ``label`` (its class name), ``word`` (its folder), ``split``,
    ``speaker`` (the file name before ``_nohash_``), ``path``; for a silence segment, ``offset``
    and ``length`` in samples (None: the whole file)."""

    label: str
    word: str
    split: str
    speaker: str
    path: Path
    offset: Optional[int] = None
    length: Optional[int] = None

    @property
    def name(self):
        """``"<word>/<file>.wav"``, with ``@<offset>`` for a silence segment."""
        base = f"{self.word}/{self.path.name}"
        return base if self.offset is None else f"{base}@{self.offset}"

    def samples(self):
        """The int16 PCM ``[n]`` of the clip (:func:`fixedrnn.frontend.wav.read_wav` at 16 kHz)."""
        pcm = read_samples(self.path)
        if self.offset is None:
            return pcm
        return pcm[self.offset:self.offset + self.length].copy()


def read_samples(path):
    """int16 ``[n]`` samples of a mono 16-bit PCM WAV file at 16 kHz."""
    from fixedrnn.frontend.wav import read_wav

    return read_wav(path, FRONTEND)


def is_layout(data_dir):
    """True when ``data_dir`` looks like Speech Commands (both split lists are there)."""
    data_dir = Path(data_dir)
    return all((data_dir / name).is_file() for name in LISTS.values())


def _read_list(path):
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"cannot be read ({exc.__class__.__name__})") from None
    names = set()
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = line.replace("\\", "/").split("/")
        if len(parts) != 2 or not parts[1].lower().endswith(".wav"):
            raise InputFileError(path, f"line {number}: {line!r} is not '<word>/<file>.wav'")
        names.add("/".join(parts))
    return names


def _check_labels(labels):
    labels = tuple(str(v) for v in labels)
    if not labels or len(set(labels)) != len(labels):
        raise FixedRnnError(f"labels: expected distinct class names, got {list(labels)}")
    return labels


def scan(data_dir, split="all", labels=LABELS_12, speakers=None, balance=BALANCE_PERCENT):
    """The :class:`Clip` s of ``split`` ("train", "validation", "test" or "all") for the task whose
    classes are ``labels`` (see the module docstring), sorted by (label, word, file, offset).
    ``balance``: the % of ``_unknown_`` and ``_silence_`` clips kept per split (None: all).

    ``speakers``: keep only these speakers (None: all). Raises :class:`InputFileError` when
    ``data_dir`` is not the Speech Commands layout or holds no clip of the task, and
    :class:`FixedRnnError` for a bad argument.
    """
    if split not in SPLITS:
        raise FixedRnnError(f"split: {split!r} is not one of {', '.join(SPLITS)}")
    labels = _check_labels(labels)
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputFileError(data_dir, "not a directory")
    if not is_layout(data_dir):
        raise InputFileError(data_dir, f"not a Speech Commands directory (no {' and '.join(LISTS.values())})")
    listed = {name: _read_list(data_dir / file) for name, file in LISTS.items()}
    words = sorted(p.name for p in data_dir.iterdir() if p.is_dir() and p.name != BACKGROUND)
    keyword_set = set(labels) - {UNKNOWN, SILENCE}
    clips = []
    for word in words:
        if word in keyword_set:
            label = word
        elif UNKNOWN in labels:
            label = UNKNOWN
        else:
            continue
        for path in (data_dir / word).iterdir():
            if path.suffix.lower() != ".wav":
                continue
            name = f"{word}/{path.name}"
            which = "test" if name in listed["test"] else "validation" if name in listed["validation"] else "train"
            clips.append(Clip(label, word, which, path.name.split("_nohash_")[0], path))
    if SILENCE in labels:
        clips += _silence_segments(data_dir)
    if balance is not None:
        clips = _balanced(clips, balance)
    if split != "all":
        clips = [c for c in clips if c.split == split]
    clips = select_speakers(clips, speakers)
    if not clips:
        raise InputFileError(data_dir, f"holds no clip of the classes {list(labels)} in split {split!r}")
    return sorted(clips)


def _balanced(clips, percent):
    """``clips`` with, per split, at most ``ceil(percent / 100 · keyword clips)`` of each of
    ``_unknown_`` and ``_silence_`` (those whose names' SHA-256 hex digests sort first)."""
    if isinstance(percent, bool) or not isinstance(percent, (int, float)) or not 0 <= percent <= 100:
        raise FixedRnnError(f"balance: expected a percentage in 0..100 or None, got {percent!r}")
    kept = []
    for which in ("train", "validation", "test"):
        in_split = [c for c in clips if c.split == which]
        keywords = [c for c in in_split if c.label not in (UNKNOWN, SILENCE)]
        limit = math.ceil(len(keywords) * percent / 100)
        kept += keywords
        for label in (UNKNOWN, SILENCE):
            pool = sorted((c for c in in_split if c.label == label),
                          key=lambda c: hashlib.sha256(c.name.encode()).hexdigest())
            kept += pool[:limit]
    return kept


def _silence_segments(data_dir):
    """One-second segments of each background recording (a shorter last part is dropped)."""
    folder = data_dir / BACKGROUND
    if not folder.is_dir():
        raise InputFileError(data_dir, f"no {BACKGROUND} folder: the {SILENCE} class needs it")
    length = SILENCE_SECONDS * SAMPLE_RATE
    clips = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() != ".wav":
            continue
        count = len(read_samples(path)) // length
        for k in range(count):
            which = "test" if k % 10 == 0 else "validation" if k % 10 == 1 else "train"
            clips.append(Clip(SILENCE, BACKGROUND, which, path.stem, path, k * length, length))
    return clips
