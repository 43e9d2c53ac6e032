"""Additive noise at a stated SNR: white, pink and babble, for robustness figures.

A noisy copy of a recording is ``round(speech + g * noise)`` saturated to int16, where ``noise`` is a
float64 signal of the recording's length with unit RMS and ``g = rms(speech) / 10**(snr_db / 20)``:
the SNR is the ratio of the recording's own mean power (every sample of the file: FSDD recordings
are trimmed to the word) to the noise power. Kinds:

- ``white``: independent Gaussian samples.
- ``pink``: Gaussian noise with a 1/f power spectrum (white noise shaped in the frequency domain by
  ``1/sqrt(f)``, the DC bin zeroed), i.e. -3 dB per octave.
- ``babble``: the sum of :data:`BABBLE_TALKERS` other recordings of the evaluated set (never the
  recording itself, and from speakers other than its own where the set has them), each brought to
  unit RMS and started at a random offset, repeated end to end to cover the length (several voices
  talking at once, from the held-out set, as the noise a spotter meets in a room).

Every draw comes from ``numpy.random.default_rng([seed, crc32 of the recording's name])``: the
noisy copy of a file depends only on the seed, the file's name, the kind, the SNR and (for babble)
the set of other recordings, not on the order or batch in which files are evaluated.
"""

import zlib
from dataclasses import dataclass

import numpy as np

from fixedrnn.errors import FixedRnnError

#: Noise kinds :class:`NoiseSpec` accepts.
KINDS = ("white", "pink", "babble")
#: Talkers summed into one babble signal.
BABBLE_TALKERS = 6
#: The SNRs (dB) of the robustness table (docs and ``tools/noise_eval.py``).
TABLE_SNRS_DB = (30.0, 20.0, 10.0, 5.0)


@dataclass(frozen=True)
class NoiseSpec:
    """Which noise and how loud: ``kind`` in :data:`KINDS`, ``snr_db`` a finite float (speech power
    over noise power, dB), ``seed`` a non-negative integer."""

    kind: str
    snr_db: float
    seed: int = 0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise FixedRnnError(f"noise: {self.kind!r} is not one of {', '.join(KINDS)}")
        if isinstance(self.snr_db, bool) or not isinstance(self.snr_db, (int, float)) \
                or not np.isfinite(self.snr_db):
            raise FixedRnnError(f"snr: expected a finite number of dB, got {self.snr_db!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise FixedRnnError(f"noise seed: expected a non-negative integer, got {self.seed!r}")

    def describe(self):
        """E.g. ``"babble at 10 dB SNR, seed 0"``."""
        return f"{self.kind} at {self.snr_db:g} dB SNR, seed {self.seed}"


def _rng(seed, name):
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


def _unit_rms(x):
    rms = np.sqrt(np.mean(x * x))
    return x / rms if rms > 0 else x


def white(n, rng):
    """float64 ``[n]``: Gaussian white noise, unit RMS."""
    return _unit_rms(rng.standard_normal(n))


def pink(n, rng):
    """float64 ``[n]``: Gaussian noise with a 1/f power spectrum (DC removed), unit RMS."""
    if n < 2:
        return np.zeros(n)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spectrum.size, dtype=np.float64)
    spectrum[0] = 0.0
    spectrum[1:] /= np.sqrt(f[1:])
    return _unit_rms(np.fft.irfft(spectrum, n))


def babble(n, rng, others):
    """float64 ``[n]``: the sum of ``len(others)`` talkers (int16 arrays), each at unit RMS from a
    random offset and repeated to cover ``n`` samples; the sum brought to unit RMS."""
    out = np.zeros(n)
    for talker in others:
        x = _unit_rms(np.asarray(talker, np.float64))
        start = int(rng.integers(0, x.size))
        reps = -(-(n + start) // x.size)
        out += np.tile(x, reps)[start:start + n]
    return _unit_rms(out)


def babble_talkers(names, speakers, index, rng, talkers=BABBLE_TALKERS):
    """Indices of the recordings that talk in the babble of recording ``index``: ``talkers`` drawn
    without replacement from the others by other speakers (from all the others when fewer than
    ``talkers`` are by other speakers), never ``index`` itself; drawn from the candidates in name
    order, so the choice does not depend on the order of the set."""
    by_name = sorted(range(len(names)), key=lambda i: names[i])
    others = [i for i in by_name if i != index and speakers[i] != speakers[index]]
    if len(others) < talkers:
        others = [i for i in by_name if i != index]
    if not others:
        raise FixedRnnError("noise: babble needs at least two recordings in the evaluated set")
    count = min(talkers, len(others))
    return [others[i] for i in rng.choice(len(others), size=count, replace=False)]


def mix(speech, noise, snr_db):
    """int16 ``[n]``: ``round(speech + rms(speech) / 10**(snr_db/20) * noise)`` (half to even, as
    ``numpy.rint``), saturated; ``noise`` float64 ``[n]`` at unit RMS. Silence stays silence."""
    x = np.asarray(speech, np.float64)
    gain = np.sqrt(np.mean(x * x)) / 10.0 ** (snr_db / 20.0) if x.size else 0.0
    return np.clip(np.rint(x + gain * noise), -32768, 32767).astype(np.int16)


def add_noise(samples, names, speakers, spec):
    """Noisy copies of a set of recordings: ``samples`` a list of int16 ``[n_i]``, ``names`` their file
    names (the seeds), ``speakers`` their speakers (babble avoids a recording's own speaker). Returns a
    list of int16 ``[n_i]`` (module doc for the rules)."""
    if not (len(samples) == len(names) == len(speakers)):
        raise FixedRnnError("noise: samples, names and speakers differ in length")
    out = []
    for i, (pcm, name) in enumerate(zip(samples, names)):
        rng = _rng(spec.seed, name)
        n = len(pcm)
        if spec.kind == "white":
            noise = white(n, rng)
        elif spec.kind == "pink":
            noise = pink(n, rng)
        else:
            chosen = babble_talkers(names, speakers, i, rng)
            noise = babble(n, rng, [samples[j] for j in chosen])
        out.append(mix(pcm, noise, spec.snr_db))
    return out


def add_noise_arguments(parser):
    """The command-line options of one noise condition: ``--noise KIND --snr DB [--noise-seed N]``
    (read back by :func:`noise_from_arguments`)."""
    parser.add_argument("--noise", choices=KINDS, default=None,
                        help="score noisy copies of the recordings (babble: other recordings of the "
                             "evaluated set); needs --snr")
    parser.add_argument("--snr", type=float, default=None, metavar="DB",
                        help="speech-to-noise power ratio of --noise, in dB")
    parser.add_argument("--noise-seed", type=int, default=0, metavar="N",
                        help="seed of the noise (default 0; the same seed gives the same noisy files)")


def noise_from_arguments(args):
    """The :class:`NoiseSpec` of :func:`add_noise_arguments`' options, or None without ``--noise``;
    ``--noise`` without ``--snr`` (or the reverse) is a :class:`FixedRnnError`."""
    if args.noise is not None:
        if args.snr is None:
            raise FixedRnnError(f"--noise {args.noise}: give --snr DB too")
        return NoiseSpec(args.noise, args.snr, args.noise_seed)
    if args.snr is not None:
        raise FixedRnnError("--snr: give --noise KIND too (white, pink or babble)")
    return None
