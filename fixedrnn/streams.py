"""Long test streams with ground truth: recordings placed between stretches of silence and noise.

:func:`build_stream` lays recordings end to end with a gap before each one (and one after the last),
each recording scaled to the median RMS of all of them (FSDD's speakers differ by more than 20 dB;
so every word has the stated SNR), then adds noise of constant power over the whole stream at an SNR
relative to that common speech power (``None``: no noise, the gaps are digital silence). Noise kinds
(:data:`NOISE_KINDS`): ``white`` Gaussian, ``pink`` (1/f, :func:`fixedrnn.noise.pink`), ``babble``
(consecutive :data:`BABBLE_PIECE_S` s pieces, each :func:`fixedrnn.noise.babble` of
:data:`fixedrnn.noise.BABBLE_TALKERS` of the stream's recordings drawn at random: other voices
saying digits in the background). Every random choice comes from
``numpy.random.default_rng(seed)`` (babble: ``default_rng([seed, 1])``): the same arguments give
the same stream. The ground truth of each word is its recording's place in the stream (samples
``[start, end)``), whatever silence the recording holds at its edges.

This is evaluation data, built in float64 and rounded half to even (``numpy.rint``) with saturation
to int16; nothing on the streaming path itself uses float.
"""

from dataclasses import dataclass

import numpy as np

from fixedrnn import noise
from fixedrnn.errors import FixedRnnError

#: Noise kinds :func:`build_stream` adds (those of :mod:`fixedrnn.noise`).
NOISE_KINDS = noise.KINDS
#: Seconds of each babble piece (a new set of talkers every piece).
BABBLE_PIECE_S = 2.0


@dataclass(frozen=True)
class Word:
    """One recording in a stream: its ``label`` (index into the model's labels), samples
    ``[start, end)`` of the stream, and ``name`` (the recording's file name)."""

    label: int
    start: int
    end: int
    name: str


@dataclass(frozen=True, eq=False)
class TestStream:
    """``pcm`` int16 ``[n]`` at ``sample_rate``; ``words`` in time order; ``snr_db`` (None: clean)."""

    pcm: np.ndarray
    words: tuple
    sample_rate: int
    snr_db: object

    @property
    def seconds(self):
        return self.pcm.size / self.sample_rate

    @property
    def word_seconds(self):
        """Seconds of the stream that lie inside a word."""
        return sum(w.end - w.start for w in self.words) / self.sample_rate


def build_stream(items, seed, snr_db=None, gap_s=(0.6, 1.6), sample_rate=8000, noise_kind="white"):
    """A :class:`TestStream` of ``items`` (``(label, name, int16 pcm)`` triples, in the order given).

    Before each recording and after the last: a gap drawn uniformly in ``gap_s`` seconds.
    Each recording is multiplied by ``median_rms / its_rms`` (RMS of its samples). ``snr_db``: the
    noise (``noise_kind`` in :data:`NOISE_KINDS`) has the RMS ``median_rms / 10**(snr_db / 20)``.
    """
    lo, hi = gap_s
    if not 0 <= lo <= hi:
        raise FixedRnnError(f"gap_s: expected 0 <= low <= high seconds, got {gap_s}")
    if not items:
        raise FixedRnnError("items: a stream needs at least one recording")
    if noise_kind not in NOISE_KINDS:
        raise FixedRnnError(f"noise_kind: {noise_kind!r} is not one of {', '.join(NOISE_KINDS)}")
    rng = np.random.default_rng(seed)
    gaps = np.rint(rng.uniform(lo, hi, len(items) + 1) * sample_rate).astype(np.int64)
    rms = [np.sqrt(np.mean(np.asarray(pcm, np.float64) ** 2)) for _, _, pcm in items]
    level = float(np.median(rms))
    parts, words, pos = [], [], 0
    for (label, name, pcm), gap, r in zip(items, gaps, rms):
        gain = level / r if r > 0 else 1.0
        pcm = np.clip(np.rint(np.asarray(pcm, np.float64) * gain), -32768, 32767).astype(np.int16)
        parts += [np.zeros(gap, np.int16), pcm]
        words.append(Word(int(label), int(pos + gap), int(pos + gap + pcm.size), str(name)))
        pos += gap + pcm.size
    parts.append(np.zeros(gaps[-1], np.int16))
    clean = np.concatenate(parts)
    if snr_db is None:
        return TestStream(clean, tuple(words), sample_rate, None)
    noise_rms = level / 10 ** (snr_db / 20)
    if noise_kind == "white":
        added = rng.normal(0.0, noise_rms, clean.size)
    elif noise_kind == "pink":
        added = noise_rms * noise.pink(clean.size, rng)
    else:
        added = noise_rms * babble_noise(clean.size, [pcm for _, _, pcm in items],
                                         np.random.default_rng([seed, 1]), sample_rate)
    pcm = np.clip(np.rint(clean + added), -32768, 32767).astype(np.int16)
    return TestStream(pcm, tuple(words), sample_rate, float(snr_db))


def babble_noise(n, recordings, rng, sample_rate=8000):
    """float64 ``[n]``: consecutive :data:`BABBLE_PIECE_S` s pieces, each
    :func:`fixedrnn.noise.babble` (unit RMS) of ``BABBLE_TALKERS`` (at most all) of ``recordings``
    (int16 arrays) drawn without replacement by ``rng``."""
    piece = int(BABBLE_PIECE_S * sample_rate)
    parts = []
    for start in range(0, n, piece):
        talkers = rng.choice(len(recordings), size=min(noise.BABBLE_TALKERS, len(recordings)), replace=False)
        parts.append(noise.babble(min(piece, n - start), rng, [recordings[i] for i in talkers]))
    return np.concatenate(parts) if parts else np.zeros(0)


@dataclass(frozen=True)
class StreamScore:
    """Detections scored against a stream's words: ``words``, ``detected`` (right label in time),
    ``substitutions`` (detections inside a word's time with a wrong label), ``false_alarms``
    (detections outside every word's time), ``non_word_seconds``, ``latencies`` (s after each
    detected word's end, of its first right detection)."""

    words: int
    detected: int
    substitutions: int
    false_alarms: int
    non_word_seconds: float
    latencies: tuple

    @property
    def detection_rate(self):
        return self.detected / self.words if self.words else 0.0

    @property
    def false_alarms_per_hour(self):
        return 3600.0 * self.false_alarms / self.non_word_seconds if self.non_word_seconds else 0.0

    @property
    def median_latency(self):
        return float(np.median(self.latencies)) if self.latencies else float("nan")


def score_detections(stream, detections, tolerance_s=0.5):
    """Score ``detections`` (``(label, seconds)`` pairs: the label index and when it was decided)
    against ``stream.words``: a detection belongs to a word when its time lies in ``[start −
    tolerance_s, end + tolerance_s]`` (the nearest such word if two qualify)."""
    sr = stream.sample_rate
    spans = [((w.start / sr) - tolerance_s, (w.end / sr) + tolerance_s) for w in stream.words]
    first_hit = {}
    substitutions = false_alarms = 0
    for label, seconds in detections:
        near = [i for i, (a, b) in enumerate(spans) if a <= seconds <= b]
        if not near:
            false_alarms += 1
            continue
        i = min(near, key=lambda j: abs(seconds - (stream.words[j].end / sr)))
        if label == stream.words[i].label:
            first_hit.setdefault(i, seconds - stream.words[i].end / sr)
        else:
            substitutions += 1
    return StreamScore(len(stream.words), len(first_hit), substitutions, false_alarms,
                       stream.seconds - stream.word_seconds, tuple(first_hit.values()))
