"""The Free Spoken Digit Dataset: listing, the dataset's own split, speakers, sample checksums.

Files are ``recordings/{digit}_{speaker}_{index}.wav`` (8 kHz, 16-bit PCM, mono): ``digit`` one
character 0-9, ``index`` decimal digits after the last underscore, ``speaker`` everything between
(one or more ASCII letters, digits, ``-`` or ``_``: ``3_theo2_12.wav`` is speaker ``theo2``,
``3_anne_marie_0.wav`` speaker ``anne_marie``); ``.wav`` in lower case. A WAV file of
``recordings/`` named otherwise (any ``*.wav`` or ``*.WAV``) is listed as skipped (:class:`Listing`),
never silently dropped; files that are not WAV files (a README) are not recordings. The dataset's
split: index 0-4 is the test set (300 files), index 5-49 the training set (2,700 files). A validation
set is carved from the training recordings only (:func:`validation_split`), never from test.

A recording is referred to by its file name and :func:`sample_checksum` of its samples (SHA-256 of
the int16 samples as little-endian bytes), so that nothing cut from the dataset is ever committed.
"""

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fixedrnn.errors import FixedRnnError, InputFileError

#: Sample rate of every FSDD recording, in Hz.
SAMPLE_RATE = 8000
#: Recordings with an index below this number form the test split.
TEST_INDEX_LIMIT = 5
#: The splits :func:`list_recordings` accepts.
SPLITS = ("test", "train", "all")

_NAME = re.compile(r"^(?P<digit>[0-9])_(?P<speaker>[A-Za-z0-9_-]+)_(?P<index>[0-9]+)\.wav$")


@dataclass(frozen=True, order=True)
class Recording:
    """One FSDD file: its label (``digit`` 0-9), ``speaker``, ``index`` (0-49) and ``path``."""

    speaker: str
    digit: int
    index: int
    path: Path

    @property
    def name(self):
        """The file name, e.g. ``"3_theo_12.wav"``."""
        return self.path.name

    @property
    def split(self):
        """``"test"`` for index 0-4, else ``"train"``."""
        return "test" if self.index < TEST_INDEX_LIMIT else "train"

    def samples(self):
        """The PCM samples: int16 ``[n]``."""
        return read_samples(self.path)


def default_data_dir():
    """``$FIXEDRNN_FSDD``, else ``../shared/data/fsdd`` beside the repository root."""
    env = os.environ.get("FIXEDRNN_FSDD")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fsdd"


def parse_name(name):
    """``(digit, speaker, index)`` of a file name ``{digit}_{speaker}_{index}.wav``."""
    match = _NAME.match(Path(name).name)
    if match is None:
        raise FixedRnnError(f"name: {name!r} is not an FSDD file name ({{digit}}_{{speaker}}_{{index}}.wav, "
                            f"see fixedrnn.fsdd)")
    return int(match["digit"]), match["speaker"], int(match["index"])


def recording_from_path(path):
    """The :class:`Recording` for one file path (the name gives its label, speaker and index)."""
    path = Path(path)
    digit, speaker, index = parse_name(path.name)
    return Recording(speaker=speaker, digit=digit, index=index, path=path)


@dataclass(frozen=True)
class Listing:
    """What :func:`scan` found: the ``recordings`` (sorted) and the names of the WAV files of
    ``recordings/`` it ``skipped`` because they are not named ``{digit}_{speaker}_{index}.wav``
    (sorted)."""

    recordings: list
    skipped: tuple


def list_recordings(data_dir=None, split="all", speakers=None):
    """Recordings of ``data_dir/recordings`` in ``split`` ("test", "train" or "all").

    ``speakers``: keep only these speakers (an iterable of names), or all when None. Sorted by
    (speaker, digit, index), so the order does not depend on the file system. :func:`scan` also
    gives the files skipped for their names.
    """
    return scan(data_dir, split, speakers).recordings


def scan(data_dir=None, split="all", speakers=None):
    """The :class:`Listing` of ``data_dir/recordings``: :func:`list_recordings` and the skipped names."""
    if split not in SPLITS:
        raise FixedRnnError(f"split: {split!r} is not one of {', '.join(SPLITS)}")
    data_dir = default_data_dir() if data_dir is None else Path(data_dir)
    folder = data_dir / "recordings"
    if not folder.is_dir():
        raise InputFileError(data_dir, "no 'recordings' folder: not an FSDD directory")
    recordings, skipped = [], []
    for path in folder.iterdir():
        if _NAME.match(path.name) is None:
            if path.name.lower().endswith(".wav"):
                skipped.append(path.name)
            continue
        recording = recording_from_path(path)
        if split != "all" and recording.split != split:
            continue
        recordings.append(recording)
    if not recordings:
        raise InputFileError(folder, "contains no FSDD recordings ({digit}_{speaker}_{index}.wav)")
    return Listing(sorted(select_speakers(recordings, speakers)), tuple(sorted(skipped)))


def select_speakers(items, speakers):
    """The ``items`` (anything with a ``speaker``) of the given ``speakers`` (None: all of them);
    ``FixedRnnError`` naming any speaker none of the items has."""
    if speakers is None:
        return list(items)
    wanted = set(speakers)
    unknown = wanted - {item.speaker for item in items}
    if unknown:
        raise FixedRnnError(f"speakers: unknown speaker(s) {', '.join(sorted(unknown))}")
    return [item for item in items if item.speaker in wanted]


def speaker_names(recordings):
    """The sorted speaker names occurring in ``recordings``."""
    return sorted({r.speaker for r in recordings})


def validation_split(recordings, indices=range(5, 10)):
    """Split training recordings into ``(train, validation)``: validation = the given file indices.

    The default (index 5-9 of every speaker and digit: 300 files) keeps the validation set inside
    the dataset's training split and balanced over speakers and digits. Test recordings are refused.
    """
    indices = set(indices)
    if any(r.split == "test" for r in recordings):
        raise FixedRnnError("recordings: validation must be carved from training recordings only")
    if any(i < TEST_INDEX_LIMIT for i in indices):
        raise FixedRnnError(f"indices: validation indices must be >= {TEST_INDEX_LIMIT} (0-4 are test)")
    train = [r for r in recordings if r.index not in indices]
    validation = [r for r in recordings if r.index in indices]
    return train, validation


def read_samples(path):
    """int16 ``[n]`` samples of a mono 16-bit PCM WAV file at 8 kHz (:func:`fixedrnn.frontend.wav.read_wav`)."""
    from fixedrnn.frontend.config import MfccConfig
    from fixedrnn.frontend.wav import read_wav

    return read_wav(path, MfccConfig(sample_rate=SAMPLE_RATE))


def sample_checksum(samples):
    """SHA-256 (hex) of the samples as little-endian int16 bytes: names a recording's content."""
    samples = np.asarray(samples)
    if samples.dtype != np.int16 or samples.ndim != 1:
        raise FixedRnnError(f"samples: expected a 1-d int16 array, got {samples.dtype} {samples.shape}")
    return hashlib.sha256(samples.astype("<i2").tobytes()).hexdigest()
