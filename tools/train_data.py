"""Training data for tools/train.py: FSDD or Speech Commands through fixedrnn's own fixed-point front end.

- PCM augmentation (before the integer front end, so training sees what the device would see):
  speed perturbation (polyphase resampling), vocal-tract-length perturbation (a warp of the
  spectrum's frequency axis), gain (saturated to int16), white, pink or babble noise at a random
  SNR (over the word only, or also over the padding, as in a stream), and a time shift (zeros
  prepended / appended). Deterministic per (seed, file, copy).
- Tempo perturbation (after the PCM augmentation): a copy framed at another hop, its frames'
  content unchanged.
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
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import scipy.signal

from fixedrnn import endpoint, fsdd, noise, speech_commands
from fixedrnn.cepstral_mean import remove_window_mean
from fixedrnn.errors import FixedRnnError
from fixedrnn.fixedpoint import multiply_by_quantized_multiplier
from fixedrnn.mfcc import MfccConfig, MfccFrontEnd, frames
from fixedrnn.vad import frame_energy

#: The class names of FSDD's task: the digits.
FSDD_LABELS = tuple(str(d) for d in range(10))
#: The class of non-digit audio (other words, babble): not a keyword (fixedrnn.decision.is_keyword).
FILLER_LABEL = "_filler_"
#: Filler files' split by a stable hash of the file name: the first value in 0..99 of its
#: SHA-256 below ``test`` → "test", below ``validation`` → "validation", else "train".
FILLER_SPLIT = {"test": 10, "validation": 20}
#: Babble filler pieces: length range (s).
BABBLE_FILLER_SECONDS = (0.5, 1.5)
#: Where feature caches go (override with $FIXEDRNN_TRAIN_CACHE).
CACHE_DIR = Path(os.environ.get("FIXEDRNN_TRAIN_CACHE", Path(tempfile.gettempdir()) / "fixedrnn-train-cache"))


@dataclass(frozen=True)
class AugmentConfig:
    """PCM augmentation of training recordings; ``copies`` augmented versions per file (0: none).

    ``speed``: range of the speed factor (resampled by ``1/speed``); ``vtlp``: range of the
    vocal-tract-length warp factor (:func:`vtlp_warp`; ``(1.0, 1.0)``: off); ``gain_db``: range of
    the gain; ``noise_prob``: chance of adding noise at an SNR in ``snr_db``, of a kind drawn
    uniformly from ``noise_kinds`` (:data:`fixedrnn.noise.KINDS`; babble: other training
    recordings of the same speaker, so that no other voice — in particular no held-out speaker's —
    reaches a copy); ``noise_over_padding``: the noise also covers the padding (a word in a noisy
    stream) instead of the word only; ``pad_start`` / ``pad_end``: most zero samples prepended /
    appended (uniform from 0); ``reverb_prob``: chance of reverberation (:func:`reverberate`) with a
    reverberation time drawn in ``rt60`` (seconds) and a direct-to-reverberant ratio in ``drr_db``
    (0: off, and nothing is drawn for it); ``eq_prob``: chance of a random channel response
    (:func:`random_equalise`, cosine terms of up to ``eq_db`` dB each; 0: off, nothing drawn);
    ``untrimmed_prob``: chance of making the copy an untrimmed clip (:func:`untrimmed_clip`: quiet
    of ``untrimmed_seconds`` before and after the word, white noise at ``untrimmed_snr_db`` below
    the word over all of it; 0: off, nothing drawn), whose features are then endpointed
    (:mod:`fixedrnn.endpoint`, as ``--endpoint`` reads a clip; :func:`build_features`).
    ``tempo``: range of the tempo factor τ (log-uniform; ``(1.0, 1.0)``: off, nothing drawn): the
    copy's frames are cut ``round(hop · τ)`` samples apart instead of ``hop`` (:func:`build_features`),
    so that its words last 1/τ as many frames with each frame's pitch and formants unchanged (a
    faster or slower speaker; ``speed`` changes both). The defaults are the golden models'
    augmentation.
    """

    copies: int = 8
    speed: tuple = (0.88, 1.12)
    gain_db: tuple = (-12.0, 6.0)
    noise_prob: float = 0.6
    snr_db: tuple = (15.0, 45.0)
    pad_start: int = 1600
    pad_end: int = 384
    noise_kinds: tuple = ("white",)
    noise_over_padding: bool = False
    vtlp: tuple = (1.0, 1.0)
    reverb_prob: float = 0.0
    rt60: tuple = (0.1, 0.6)
    drr_db: tuple = (0.0, 12.0)
    eq_prob: float = 0.0
    eq_db: float = 3.0
    untrimmed_prob: float = 0.0
    untrimmed_seconds: tuple = (0.0, 1.0)
    untrimmed_snr_db: tuple = (20.0, 60.0)
    tempo: tuple = (1.0, 1.0)

    @property
    def tempo_on(self):
        """Whether copies get a tempo factor (``tempo`` other than ``(1.0, 1.0)``)."""
        return tuple(self.tempo) != (1.0, 1.0)


#: AugmentConfig fields that enter a cache key only when their switch (the first) is on, so that the
#: caches of every earlier configuration keep their names.
OPTIONAL_FIELDS = (("reverb_prob", "rt60", "drr_db"), ("eq_prob", "eq_db"),
                   ("untrimmed_prob", "untrimmed_seconds", "untrimmed_snr_db"))


def augment_key(aug):
    """The fields of ``aug`` that name its caches (a dict): all, less each group of
    :data:`OPTIONAL_FIELDS` whose switch is 0."""
    fields = asdict(aug)
    for group in OPTIONAL_FIELDS:
        if not fields[group[0]]:
            for name in group:
                del fields[name]
    if not aug.tempo_on:
        del fields["tempo"]
    return fields


#: VTLP: the warp is linear up to this fraction of the Nyquist frequency (scaled by min(α, 1) / α),
#: then piecewise linear so that the Nyquist frequency stays in place (Jaitly & Hinton, 2013).
VTLP_KNEE = 0.8
#: VTLP's STFT: frame length and hop (samples), Hann window.
VTLP_FRAME, VTLP_HOP = 256, 64


def vtlp_warp_bins(alpha, bins, n_bins):
    """The warp of frequencies ``bins`` (float, in bins of a one-sided spectrum of ``n_bins`` bins;
    bin ``n_bins − 1`` = Nyquist): ``f → α·f`` up to the knee, then linear to the Nyquist bin."""
    nyq = n_bins - 1.0
    knee = VTLP_KNEE * nyq * min(alpha, 1.0) / alpha
    f = np.asarray(bins, np.float64)
    return np.where(f <= knee, alpha * f, alpha * knee + (f - knee) * (nyq - alpha * knee) / (nyq - knee))


def vtlp_source_bins(alpha, n_bins):
    """float ``[n_bins]``: for each output bin, the source frequency (bins) that
    :func:`vtlp_warp_bins` moves there (its inverse)."""
    nyq = n_bins - 1.0
    knee = VTLP_KNEE * nyq * min(alpha, 1.0) / alpha
    g = np.arange(n_bins, dtype=np.float64)
    return np.where(g <= alpha * knee, g / alpha, knee + (g - alpha * knee) * (nyq - knee) / (nyq - alpha * knee))


def vtlp_warp(x, alpha):
    """float64 ``[n]``: ``x`` with its frequency axis warped by ``alpha`` (> 1 moves formants up,
    as a shorter vocal tract), a phase vocoder: per STFT frame, each output bin takes the magnitude
    and the instantaneous frequency of its source frequency (:func:`vtlp_source_bins`, linear
    interpolation), the frequency is warped (:func:`vtlp_warp_bins`) and the output phase
    accumulates it hop by hop; overlap-added back to the same length."""
    n = x.size
    if n < VTLP_FRAME:
        return x
    _, _, spec = scipy.signal.stft(x, nperseg=VTLP_FRAME, noverlap=VTLP_FRAME - VTLP_HOP)
    n_bins = spec.shape[0]
    k = np.arange(n_bins, dtype=np.float64)[:, None]
    advance = 2 * np.pi * k * VTLP_HOP / VTLP_FRAME  # a bin-centred sinusoid's phase step per hop
    phase = np.angle(spec)
    step = np.diff(phase, axis=1, prepend=phase[:, :1] - advance)
    deviation = np.mod(step - advance + np.pi, 2 * np.pi) - np.pi
    inst = k + deviation * VTLP_FRAME / (2 * np.pi * VTLP_HOP)  # instantaneous frequency, bins
    src = vtlp_source_bins(alpha, n_bins)
    lo = np.minimum(np.floor(src).astype(np.int64), n_bins - 2)
    frac = (src - lo)[:, None]
    mag = np.abs(spec[lo]) * (1.0 - frac) + np.abs(spec[lo + 1]) * frac
    freq = vtlp_warp_bins(alpha, inst[lo] * (1.0 - frac) + inst[lo + 1] * frac, n_bins)
    steps = 2 * np.pi * freq * VTLP_HOP / VTLP_FRAME
    out_phase = phase[lo, :1] + np.cumsum(steps, axis=1) - steps[:, :1]
    _, y = scipy.signal.istft(mag * np.exp(1j * out_phase), nperseg=VTLP_FRAME, noverlap=VTLP_FRAME - VTLP_HOP)
    return y[:n] if y.size >= n else np.concatenate([y, np.zeros(n - y.size)])


def exponential_impulse_response(rt60, drr_db, sample_rate, rng):
    """float64 ``[n]``, n = ``rt60 · sample_rate`` (≥ 2): a synthetic room impulse response — a
    direct path 1.0 at sample 0, then Gaussian noise drawn with ``rng`` under the envelope
    ``10^(−3 t / rt60)`` (60 dB of decay in ``rt60`` seconds), scaled so that the direct path's
    energy over the tail's is ``drr_db`` dB."""
    n = max(2, int(round(rt60 * sample_rate)))
    t = np.arange(1, n) / sample_rate
    tail = rng.normal(0.0, 1.0, n - 1) * 10.0 ** (-3.0 * t / rt60)
    tail *= 10.0 ** (-drr_db / 20.0) / np.sqrt(np.sum(tail * tail))
    return np.concatenate([[1.0], tail])


def reverberate(x, rng, cfg, sample_rate):
    """float64: ``x`` convolved with :func:`exponential_impulse_response` (RT60 and DRR drawn from
    ``cfg``), the reverberant tail kept (``len(x) + n − 1`` samples), rescaled to ``x``'s energy."""
    h = exponential_impulse_response(rng.uniform(*cfg.rt60), rng.uniform(*cfg.drr_db), sample_rate, rng)
    y = scipy.signal.fftconvolve(x, h)
    return y * np.sqrt(np.sum(x * x) / (np.sum(y * y) + 1e-12))


#: Random channel response: the number of cosine terms of its dB curve, and the zeros padded on each
#: side before the FFT filtering (the response is smooth, so its impulse response is short).
EQ_TERMS, EQ_PAD = 3, 256


def random_equalise(x, rng, eq_db):
    """float64, ``x``'s length: ``x`` through a random zero-phase channel response (a microphone's
    and room's colouring) whose gain in dB is ``Σ_k a_k cos(π k f / f_Nyquist)``, k = 1..
    :data:`EQ_TERMS`, ``a_k`` uniform in ``[−eq_db, eq_db]`` drawn with ``rng``; FFT filtering of
    ``x`` padded with :data:`EQ_PAD` zeros on each side."""
    a = rng.uniform(-eq_db, eq_db, EQ_TERMS)
    padded = np.concatenate([np.zeros(EQ_PAD), x, np.zeros(EQ_PAD)])
    spec = np.fft.rfft(padded)
    f = np.arange(spec.size) / (spec.size - 1)  # 0 … 1 = Nyquist
    gain_db = np.cos(np.pi * np.outer(f, np.arange(1, EQ_TERMS + 1))) @ a
    y = np.fft.irfft(spec * 10.0 ** (gain_db / 20.0), padded.size)
    return y[EQ_PAD:EQ_PAD + x.size]


def augment(pcm, rng, cfg, babble_pool=(), sample_rate=8000):
    """One augmented copy of int16 ``pcm`` (int16 out, saturated), drawn with ``rng``;
    ``babble_pool``: int16 recordings the babble is made of (none: babble adds nothing). The
    default configuration draws exactly what it always drew (the golden models' features);
    ``sample_rate``: the recording's, for the reverberation time."""
    x = pcm.astype(np.float64)
    speed = rng.uniform(*cfg.speed)
    if abs(speed - 1.0) > 0.01:
        x = scipy.signal.resample_poly(x, 100, int(round(100 * speed)))
    if tuple(cfg.vtlp) != (1.0, 1.0):
        x = vtlp_warp(x, rng.uniform(*cfg.vtlp))
    if cfg.reverb_prob > 0 and rng.random() < cfg.reverb_prob:
        x = reverberate(x, rng, cfg, sample_rate)
    if cfg.eq_prob > 0 and rng.random() < cfg.eq_prob:
        x = random_equalise(x, rng, cfg.eq_db)
    x = x * 10.0 ** (rng.uniform(*cfg.gain_db) / 20.0)
    noisy = rng.random() < cfg.noise_prob
    rms = np.sqrt(np.mean(x * x)) + 1e-9
    if noisy and not cfg.noise_over_padding:
        x = x + _noise(x.size, rms, rng, cfg, babble_pool)
    pre = int(rng.integers(0, cfg.pad_start + 1))
    post = int(rng.integers(0, cfg.pad_end + 1))
    x = np.concatenate([np.zeros(pre), x, np.zeros(post)])
    if noisy and cfg.noise_over_padding:
        x = x + _noise(x.size, rms, rng, cfg, babble_pool)
    if cfg.untrimmed_prob > 0 and rng.random() < cfg.untrimmed_prob:
        x = untrimmed_clip(x, rms, rng, cfg, sample_rate)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def untrimmed_clip(x, rms, rng, cfg, sample_rate):
    """float64: ``x`` with quiet before and after it (each ``untrimmed_seconds``, uniform) and white
    noise over all of it at ``rms`` (the word's RMS) lowered by ``untrimmed_snr_db`` (uniform): a
    recording as a user makes it, not trimmed to the word."""
    lead, trail = (int(rng.uniform(*cfg.untrimmed_seconds) * sample_rate) for _ in range(2))
    y = np.concatenate([np.zeros(lead), x, np.zeros(trail)])
    return y + rng.normal(0.0, rms * 10.0 ** (-rng.uniform(*cfg.untrimmed_snr_db) / 20.0), y.size)


def _noise(n, rms, rng, cfg, babble_pool):
    """float64 ``[n]``: noise at RMS ``rms / 10**(snr/20)``, SNR and kind drawn with ``rng``."""
    kind = cfg.noise_kinds[int(rng.integers(len(cfg.noise_kinds)))] if len(cfg.noise_kinds) > 1 \
        else cfg.noise_kinds[0]
    if kind == "white":  # the golden models' draw, unchanged
        return rng.normal(0.0, rms * 10.0 ** (-rng.uniform(*cfg.snr_db) / 20.0), n)
    level = rms * 10.0 ** (-rng.uniform(*cfg.snr_db) / 20.0)
    if kind == "pink":
        return level * noise.pink(n, rng)
    count = min(noise.BABBLE_TALKERS, len(babble_pool))
    talkers = [babble_pool[i] for i in rng.choice(len(babble_pool), size=count, replace=False)] if count else []
    return level * noise.babble(n, rng, talkers)


#: The tempo factor's random stream: ``(seed, file, copy, TEMPO_STREAM)``, apart from the PCM
#: augmentation's ``(seed, file, copy)``, so that turning it on leaves every other draw as it was.
TEMPO_STREAM = 1


def tempo_hop(hop, tempo, rng):
    """The hop (samples) of a copy with a tempo factor drawn log-uniformly from the range ``tempo``
    with ``rng``: ``round(hop · τ)``, at least 1."""
    lo, hi = (float(t) for t in tempo)
    return max(1, int(round(hop * float(np.exp(rng.uniform(np.log(lo), np.log(hi)))))))


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


@dataclass(frozen=True, eq=False)
class FillerClip:
    """One item of the filler class: a WAV file of non-digit audio (``path``), or a babble piece
    made in memory (``pcm``, ``path`` None). ``name`` (unique), ``speaker`` (the folder or
    "babble"), ``split`` ("train", "validation", "test")."""

    name: str
    speaker: str
    split: str
    path: Path = None
    pcm: np.ndarray = None
    label: str = FILLER_LABEL
    index: int = -1

    def samples(self):
        """int16 ``[n]``: the file's samples (8 kHz mono 16-bit PCM, :func:`fixedrnn.fsdd.read_samples`)."""
        return fsdd.read_samples(self.path) if self.path is not None else self.pcm

    def cache_key(self):
        """What determines the samples: the file's name, size and time, or the piece's checksum."""
        if self.path is not None:
            return f"{self.name}:{self.path.stat().st_size}:{self.path.stat().st_mtime_ns}"
        return f"{self.name}:{hashlib.sha256(self.pcm.tobytes()).hexdigest()}"


def filler_split(file_name):
    """The split of a filler file, by a stable hash of its file name (:data:`FILLER_SPLIT`)."""
    bucket = int.from_bytes(hashlib.sha256(file_name.encode("utf-8")).digest()[:4], "little") % 100
    return "test" if bucket < FILLER_SPLIT["test"] else "validation" if bucket < FILLER_SPLIT["validation"] else "train"


def filler_files(dirs):
    """:class:`FillerClip` of every ``*.wav`` under the folders ``dirs`` (recursively, in name
    order); speaker = the folder the file is in; split by :func:`filler_split` of the file name."""
    clips = []
    for folder in dirs:
        folder = Path(folder)
        if not folder.is_dir():
            raise FixedRnnError(f"--filler-dir: {folder} is not a folder")
        paths = sorted(folder.rglob("*.wav"))
        if not paths:
            raise FixedRnnError(f"--filler-dir: no .wav file in {folder}")
        clips += [FillerClip(name=f"{FILLER_LABEL}/{folder.name}/{p.relative_to(folder).as_posix()}",
                             speaker=p.parent.name, split=filler_split(p.name), path=p) for p in paths]
    return clips


def babble_fillers(recordings, count, seed=0, level=None, level_db=(0.0, 0.0)):
    """``count`` babble pieces (:class:`FillerClip`, split "train"): each of a length drawn from
    :data:`BABBLE_FILLER_SECONDS`, the sum of :data:`fixedrnn.noise.BABBLE_TALKERS` TRAINING-split
    ``recordings`` (FSDD) talking at once (:func:`fixedrnn.noise.babble`), at an RMS drawn
    uniformly in ``level_db`` (dB) relative to ``level`` (default: the median RMS of those
    recordings) — what the VAD opens in babble alone."""
    train = sorted((r for r in recordings if r.split == "train"), key=lambda r: r.name)
    if len(train) < noise.BABBLE_TALKERS:
        raise FixedRnnError(f"--filler-babble: needs at least {noise.BABBLE_TALKERS} training recordings")
    pcms = [r.samples() for r in train]
    if level is None:
        level = float(np.median([np.sqrt(np.mean(x.astype(np.float64) ** 2)) for x in pcms]))
    clips = []
    for k in range(count):
        rng = np.random.default_rng([seed, 0xBAB, k])
        n = int(rng.uniform(*BABBLE_FILLER_SECONDS) * fsdd.SAMPLE_RATE)
        talkers = [pcms[i] for i in rng.choice(len(pcms), size=noise.BABBLE_TALKERS, replace=False)]
        unit = noise.babble(n, rng, talkers)
        gain = level * 10.0 ** (rng.uniform(*level_db) / 20.0)
        pcm = np.clip(np.rint(gain * unit), -32768, 32767).astype(np.int16)
        clips.append(FillerClip(name=f"{FILLER_LABEL}/babble/{seed}-{k}", speaker="babble", split="train", pcm=pcm))
    return clips


def class_name(rec):
    """The class name of a recording: an FSDD digit as "0".."9", a Speech Commands clip's or a
    filler's label."""
    return rec.label if isinstance(rec, (speech_commands.Clip, FillerClip)) else str(rec.digit)


def build_features(recordings, config=MfccConfig(), aug=AugmentConfig(), seed=0, progress=False,
                   labels=FSDD_LABELS, augmented_splits=("train",)):
    """A :class:`FeatureSet` of ``recordings`` (FSDD recordings or Speech Commands clips): each
    original, plus ``aug.copies`` augmented copies of each recording of ``augmented_splits`` (the
    training split; a leave-one-speaker-out run that fits every recording: the test split too;
    random streams seeded by (seed, file name, copy)); class indices into ``labels``. Babble (when
    ``aug.noise_kinds`` has it) is made of the other training-split recordings of the same speaker."""
    frontend = MfccFrontEnd(config)
    mfcc, lengths, classes, names, copies, indices, speakers, splits = [], [], [], [], [], [], [], []
    items = recordings
    if progress:
        from tqdm import tqdm

        items = tqdm(recordings, desc="features", unit="file")
    by_speaker = {}
    if "babble" in aug.noise_kinds and aug.copies:
        for rec in recordings:
            if rec.split == "train":
                by_speaker.setdefault(rec.speaker, []).append(rec)
    pools = {s: [(r.name, r.samples()) for r in sorted(rs, key=lambda r: r.name)] for s, rs in by_speaker.items()}
    for rec in items:
        pcm = rec.samples()
        n_copies = aug.copies if rec.split in augmented_splits else 0
        name_key = int.from_bytes(hashlib.sha256(rec.name.encode()).digest()[:4], "little")
        pool = [x for name, x in pools.get(rec.speaker, []) if name != rec.name]
        for k in range(n_copies + 1):
            x = pcm if k == 0 else augment(pcm, np.random.default_rng([seed, name_key, k]), aug, pool,
                                               sample_rate=config.sample_rate)
            if k and aug.tempo_on:
                hop = tempo_hop(config.hop, aug.tempo, np.random.default_rng([seed, name_key, k, TEMPO_STREAM]))
                seq = frontend.mfcc_q15(frame_signal(x, replace(config, hop=hop)))
            else:
                seq = mfcc_sequence(frontend, x)
            if k and aug.untrimmed_prob > 0:  # every copy read as --endpoint reads a clip
                seq = seq[slice(*endpoint.segment(frame_energy(seq, "q15"), endpoint.EndpointConfig()))]
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
                    labels=FSDD_LABELS, augmented_splits=("train",)):
    """:func:`build_features`, cached in :data:`CACHE_DIR` under a hash of all its inputs (the
    recordings' names, sizes and modification times, the labels, the augmented splits, the cache
    format)."""
    key = hashlib.sha256()
    fields = [asdict(config), augment_key(aug), seed, list(labels), "featureset-2"]
    if tuple(augmented_splits) != ("train",):
        fields.append(sorted(augmented_splits))
    key.update(json.dumps(fields, sort_keys=True, default=str).encode())
    for rec in recordings:
        if isinstance(rec, FillerClip):
            key.update(rec.cache_key().encode())
            continue
        key.update(rec.name.encode())
        key.update(str(rec.path.stat().st_size).encode())
        key.update(str(rec.path.stat().st_mtime_ns).encode())
    path = CACHE_DIR / f"features-{key.hexdigest()[:20]}.npz"
    if path.exists():
        return FeatureSet.load(path)
    features = build_features(recordings, config, aug, seed, progress, labels, augmented_splits)
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


#: Per-utterance cepstral mean normalisation: off; the mean over the recording's own frames
#: ("utterance", a float-training experiment the engine has not); or over the whole T-frame window
#: ("window": the engine's and firmware's ``input.cmn``, fixedrnn.cepstral_mean).
CMN_MODES = ("off", "utterance", "window")


def cepstral_normalised_windows(features, frames, mode, variance=False):
    """int16 ``[N, frames, n_mfcc]`` (q8.7): each sequence fitted to ``frames`` (:func:`fit_length`,
    left-padded with the silent frame), minus its per-coefficient mean ``floor(Σ x / n)`` (integer
    floor division) over the recording's own last ``min(len, frames)`` frames (``mode``
    "utterance") or over all ``frames`` frames of the window ("window", without ``variance``:
    :func:`fixedrnn.cepstral_mean.remove_window_mean`, the engine's rule), applied to every frame of
    the window; ``variance``: then also scaled to unit standard deviation (1.0 = 2^7):
    ``round_half_away((x − mean) · 2^7 / max(std, 1))`` with that std over the same frames. Saturated
    to int16. Also returns bool ``[N, frames]``: the recording's own frames."""
    if mode not in CMN_MODES[1:]:
        raise ValueError(f"mode: {mode!r} is not one of {', '.join(CMN_MODES[1:])}")
    n = len(features.lengths)
    out = np.empty((n, frames, features.mfcc.shape[1]), np.int16)
    own = np.zeros((n, frames), bool)
    for i in range(n):
        fitted = fit_length(features.sequence(i), frames, features.silent)
        k = min(int(features.lengths[i]), frames)
        own[i, frames - k:] = True
        if mode == "window" and not variance:
            out[i] = remove_window_mean(fitted.astype(np.int16), "q15")
            continue
        x = fitted.astype(np.int64)
        sel = x[frames - k:] if mode == "utterance" else x
        y = x - sel.sum(axis=0) // len(sel)
        if variance:
            std = np.maximum(np.sqrt(np.mean((sel - sel.mean(axis=0)) ** 2, axis=0)), 1.0)
            v = y * 128.0 / std
            y = (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int64)
        out[i] = np.clip(y, -32768, 32767)
    return out, own


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


@dataclass(frozen=True)
class TrainingOnly:
    """An extra recording in FSDD's layout (e.g. one of tools/synth_voices.py's) that is only ever
    fitted: split "train" whatever its index (so it gets augmented copies), never validation or test."""

    recording: fsdd.Recording
    split = "train"

    def __getattr__(self, attribute):
        """Everything else (name, speaker, digit, path, samples ...) is the recording's."""
        if attribute.startswith("__") or attribute == "recording":  # copy / pickle protocol, unset field
            raise AttributeError(attribute)
        return getattr(self.recording, attribute)


def extra_training_recordings(folders, known_speakers):
    """:class:`TrainingOnly` recordings of FSDD-layout ``folders`` (each with ``recordings/``);
    ``FixedRnnError`` if one of their speakers is also in ``known_speakers`` (the main data's: a
    held-out speaker must never reach the fitted set through an extra folder)."""
    recs = [TrainingOnly(r) for folder in folders for r in fsdd.list_recordings(folder, "all")]
    shared = sorted({r.speaker for r in recs} & set(known_speakers))
    if shared:
        raise FixedRnnError(f"--extra-train: speakers {', '.join(shared)} are also in the training data")
    return recs


def concatenate(a, b):
    """One :class:`FeatureSet` of ``a`` then ``b`` (the same front end: ``a``'s silent frame)."""
    if not np.array_equal(a.silent, b.silent):
        raise ValueError("concatenate: feature sets of different front ends")
    fields = ("mfcc", "lengths", "labels", "names", "copy", "index", "speaker", "split")
    return FeatureSet(**{k: np.concatenate([getattr(a, k), getattr(b, k)]) for k in fields}, silent=a.silent)


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
