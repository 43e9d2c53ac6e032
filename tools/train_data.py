"""Training data for tools/train.py: FSDD or Speech Commands through fixedrnn's own fixed-point front end.

- PCM augmentation (before the integer front end, so training sees what the device would see):
  speed perturbation (polyphase resampling), gain (saturated to int16), white noise at a random
  SNR, and a time shift (zeros prepended / appended). Deterministic per (seed, file, copy).
- Raw features: int16 q8.7 MFCC ``[n, n_mfcc]`` per utterance (``arm_mfcc_q15`` bit-exact) of
  the front end's own framing (:func:`fixedrnn.mfcc.frames`: from sample 0 every ``hop``).
- int8 input: ``clamp(z_x + MBQM(mfcc − offset, multiplier, shift), −128, 127)`` per coefficient
  (TFLite requantization, docs/CONTRACT.md), then fitted to T frames (left-pad with the silent
  frame's vector, keep the last T).

Feature caches are written to a temporary directory (never committed); a cache's file name is a
hash of everything that determines its content.
"""

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.signal

from fixedrnn import fsdd, speech_commands
from fixedrnn.fixedpoint import multiply_by_quantized_multiplier
from fixedrnn.mfcc import MfccConfig, MfccFrontEnd, frames

#: The class names of FSDD's task: the digits.
FSDD_LABELS = tuple(str(d) for d in range(10))
#: Where feature caches go (override with $FIXEDRNN_TRAIN_CACHE).
CACHE_DIR = Path(os.environ.get("FIXEDRNN_TRAIN_CACHE", Path(tempfile.gettempdir()) / "fixedrnn-train-cache"))


@dataclass(frozen=True)
class AugmentConfig:
    """PCM augmentation of training recordings; ``copies`` augmented versions per file (0: none).

    ``speed``: range of the speed factor (resampled by ``1/speed``); ``gain_db``: range of the gain;
    ``noise_prob``: chance of adding white noise at an SNR in ``snr_db``; ``pad_start`` /
    ``pad_end``: most zero samples prepended / appended (uniform from 0).
    """

    copies: int = 8
    speed: tuple = (0.88, 1.12)
    gain_db: tuple = (-12.0, 6.0)
    noise_prob: float = 0.6
    snr_db: tuple = (15.0, 45.0)
    pad_start: int = 1600
    pad_end: int = 384


def augment(pcm, rng, cfg):
    """One augmented copy of int16 ``pcm`` (int16 out, saturated), drawn with ``rng``."""
    x = pcm.astype(np.float64)
    speed = rng.uniform(*cfg.speed)
    if abs(speed - 1.0) > 0.01:
        x = scipy.signal.resample_poly(x, 100, int(round(100 * speed)))
    x = x * 10.0 ** (rng.uniform(*cfg.gain_db) / 20.0)
    if rng.random() < cfg.noise_prob:
        rms = np.sqrt(np.mean(x * x)) + 1e-9
        x = x + rng.normal(0.0, rms * 10.0 ** (-rng.uniform(*cfg.snr_db) / 20.0), x.shape)
    pre = int(rng.integers(0, cfg.pad_start + 1))
    post = int(rng.integers(0, cfg.pad_end + 1))
    x = np.concatenate([np.zeros(pre), x, np.zeros(post)])
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def frame_signal(pcm, config):
    """int16 frames ``[n, fft_length]`` of the front end's framing (:func:`fixedrnn.mfcc.frames`)."""
    return frames(pcm, config)


def mfcc_sequence(frontend, pcm):
    """int16 q8.7 MFCC ``[n, n_mfcc]`` of int16 ``pcm`` (fixedrnn's ``arm_mfcc_q15``)."""
    return frontend.mfcc_q15(frame_signal(pcm, frontend.config))


def silent_mfcc(frontend):
    """int16 ``[n_mfcc]``: the MFCC of an all-zero frame (the left padding)."""
    return frontend.mfcc_q15(np.zeros((1, frontend.config.fft_length), np.int16))[0]


@dataclass
class FeatureSet:
    """Ragged raw features: ``mfcc`` int16 ``[sum(lengths), n_mfcc]``, ``lengths`` int ``[N]``,
    ``labels`` int ``[N]`` (class index: the digit for FSDD), ``names`` str ``[N]`` (file name;
    Speech Commands: ``word/file.wav``), ``copy`` int ``[N]`` (0 = original recording, k ≥ 1 = k-th
    augmented copy), ``index`` int ``[N]`` (FSDD index, −1 for Speech Commands), ``speaker`` str
    ``[N]``, ``split`` str ``[N]`` (the recording's split: FSDD "train"/"test", Speech Commands
    "train"/"validation"/"test"), ``silent`` int16 ``[n_mfcc]``."""

    mfcc: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray
    names: np.ndarray
    copy: np.ndarray
    index: np.ndarray
    speaker: np.ndarray
    split: np.ndarray
    silent: np.ndarray

    def __post_init__(self):
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)

    def sequence(self, i):
        return self.mfcc[self.starts[i]:self.starts[i + 1]]

    def save(self, path):
        path = Path(path)
        tmp = path.with_name(path.name + ".part.npz")
        np.savez(tmp, **{k: getattr(self, k) for k in
                         ("mfcc", "lengths", "labels", "names", "copy", "index", "speaker", "split", "silent")})
        os.replace(tmp, path)

    @classmethod
    def load(cls, path):
        with np.load(path, allow_pickle=False) as data:
            return cls(**{k: data[k] for k in data.files})


def class_name(rec):
    """The class name of a recording: an FSDD digit as "0".."9", a Speech Commands clip's label."""
    return rec.label if isinstance(rec, speech_commands.Clip) else str(rec.digit)


def build_features(recordings, config=MfccConfig(), aug=AugmentConfig(), seed=0, progress=False,
                   labels=FSDD_LABELS):
    """A :class:`FeatureSet` of ``recordings`` (FSDD recordings or Speech Commands clips): each
    original, plus ``aug.copies`` augmented copies of each training-split recording (random streams
    seeded by (seed, file name, copy)); class indices into ``labels``."""
    frontend = MfccFrontEnd(config)
    mfcc, lengths, classes, names, copies, indices, speakers, splits = [], [], [], [], [], [], [], []
    items = recordings
    if progress:
        from tqdm import tqdm

        items = tqdm(recordings, desc="features", unit="file")
    for rec in items:
        pcm = rec.samples()
        n_copies = aug.copies if rec.split == "train" else 0
        name_key = int.from_bytes(hashlib.sha256(rec.name.encode()).digest()[:4], "little")
        for k in range(n_copies + 1):
            x = pcm if k == 0 else augment(pcm, np.random.default_rng([seed, name_key, k]), aug)
            seq = mfcc_sequence(frontend, x)
            mfcc.append(seq)
            lengths.append(len(seq))
            classes.append(labels.index(class_name(rec)))
            names.append(rec.name)
            copies.append(k)
            indices.append(rec.index if isinstance(rec, fsdd.Recording) else -1)
            speakers.append(rec.speaker)
            splits.append(rec.split)
    return FeatureSet(mfcc=np.concatenate(mfcc).astype(np.int16), lengths=np.array(lengths),
                      labels=np.array(classes), names=np.array(names), copy=np.array(copies),
                      index=np.array(indices), speaker=np.array(speakers), split=np.array(splits),
                      silent=silent_mfcc(frontend))


def cached_features(recordings, config=MfccConfig(), aug=AugmentConfig(), seed=0, progress=False,
                    labels=FSDD_LABELS):
    """:func:`build_features`, cached in :data:`CACHE_DIR` under a hash of all its inputs (the
    recordings' names, sizes and modification times, the labels, the cache format)."""
    key = hashlib.sha256()
    key.update(json.dumps([asdict(config), asdict(aug), seed, list(labels), "featureset-2"], sort_keys=True,
                          default=str).encode())
    for rec in recordings:
        key.update(rec.name.encode())
        key.update(str(rec.path.stat().st_size).encode())
        key.update(str(rec.path.stat().st_mtime_ns).encode())
    path = CACHE_DIR / f"features-{key.hexdigest()[:20]}.npz"
    if path.exists():
        return FeatureSet.load(path)
    features = build_features(recordings, config, aug, seed, progress, labels)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    features.save(path)
    return features


def normalise(mfcc, input_quant):
    """int8 input features: ``clamp(z_x + MBQM(mfcc − offset, multiplier, shift), −128, 127)``
    per coefficient (``mfcc`` int16 ``[..., n_mfcc]``)."""
    diff = np.asarray(mfcc, np.int64) - np.asarray(input_quant.offset, np.int64)
    y = multiply_by_quantized_multiplier(diff, input_quant.multiplier, input_quant.shift)
    return np.clip(np.asarray(y, np.int64) + int(input_quant.zero_point), -128, 127).astype(np.int8)


def fit_length(x, frames, pad_vector):
    """``x`` ``[n, I]`` fitted to ``[frames, I]``: keep the last ``frames``, or left-pad with
    ``pad_vector`` (the silent frame's features)."""
    if len(x) >= frames:
        return x[len(x) - frames:]
    pad = np.repeat(np.asarray(pad_vector, x.dtype)[None, :], frames - len(x), axis=0)
    return np.concatenate([pad, x])


def int8_sequences(features, input_quant, frames):
    """int8 ``[N, frames, n_mfcc]`` model inputs of every sequence of ``features``."""
    silent = normalise(features.silent[None, :], input_quant)[0]
    flat = normalise(features.mfcc, input_quant)
    out = np.empty((len(features.lengths), frames, flat.shape[1]), np.int8)
    for i in range(len(features.lengths)):
        out[i] = fit_length(flat[features.starts[i]:features.starts[i + 1]], frames, silent)
    return out


def mfcc_statistics(features, mask):
    """Per-coefficient mean and standard deviation (float64, MFCC integer units) of the frames of
    the sequences selected by boolean ``mask`` ``[N]``."""
    rows = np.repeat(mask, features.lengths)
    sel = features.mfcc[rows].astype(np.float64)
    return sel.mean(axis=0), np.maximum(sel.std(axis=0), 1.0)


def recordings_for(data_dir, subset=None, dataset="fsdd", labels=None):
    """All recordings of ``data_dir``: FSDD's, or (``dataset`` "speech_commands") the clips of the
    task whose classes are ``labels``. ``subset`` keeps a small deterministic subset for smoke
    tests: FSDD the first ``subset`` file indices of each split; Speech Commands the first
    ``2 · subset`` clips of each class in each split."""
    if dataset == "speech_commands":
        clips = speech_commands.scan(data_dir, "all", labels=labels)
        if subset:
            kept, seen = [], {}
            for clip in clips:
                key = (clip.label, clip.split)
                seen[key] = seen.get(key, 0) + 1
                if seen[key] <= 2 * subset:
                    kept.append(clip)
            clips = kept
        return clips
    recs = fsdd.list_recordings(data_dir, "all")
    if subset:
        recs = [r for r in recs if r.index < subset or 5 <= r.index < 5 + subset * 2
                or 10 <= r.index < 10 + subset * 2]
    return recs
