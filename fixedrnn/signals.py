"""Deterministic synthetic test signals: int16 PCM from a formula and a seed.

The golden vectors (see docs/golden.md) run every model on these signals, so that the regression
needs no recordings. Each signal is a :class:`SignalSpec` (name, kind, length, seed, parameters);
:func:`generate` turns it into int16 samples ``[n]``:

- the waveform is computed in float64 (full scale = 1.0), multiplied by 32767, rounded half to even
  (``numpy.rint``) and saturated to [−32768, 32767] (so an amplitude above 1 clips, like an ADC);
- noise comes from the raw 64-bit stream of ``numpy.random.PCG64(seed)`` (a stream NumPy keeps
  stable across versions), turned into uniforms in [0, 1) by taking its top 53 bits; Gaussian noise
  is Box–Muller on pairs of such uniforms.

:data:`STANDARD_SIGNALS` is the set the golden vectors use: silence, tones, chirps, white and
Gaussian noise, speech-like voiced bursts, full-scale and clipped signals, an impulse, a DC step,
and lengths from shorter than one FFT frame to longer than a model's window.
"""

from dataclasses import dataclass

import numpy as np

from fixedrnn.errors import FixedRnnError

#: The signal kinds :func:`generate` knows, each with its parameter names.
KINDS = {
    "silence": (),
    "tone": ("freq", "amplitude"),
    "chirp": ("f0", "f1", "amplitude"),
    "white_noise": ("amplitude",),
    "gaussian_noise": ("sigma",),
    "speech_bursts": ("pitch", "amplitude", "bursts"),
    "square": ("freq", "amplitude"),
    "impulse": ("position", "amplitude"),
    "dc_step": ("position", "amplitude"),
}

FULL_SCALE = 32767.0


@dataclass(frozen=True)
class SignalSpec:
    """One synthetic signal: ``name`` (unique key), ``kind`` (a key of :data:`KINDS`), ``n``
    samples at ``sample_rate`` Hz, ``seed`` for the noise stream, and ``params`` as a tuple of
    ``(name, float)`` pairs (frequencies in Hz, amplitudes relative to full scale 32767, positions
    in samples)."""

    name: str
    kind: str
    n: int
    seed: int = 0
    params: tuple = ()
    sample_rate: int = 8000

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise FixedRnnError(f"name: expected a non-empty string, got {self.name!r}")
        if self.kind not in KINDS:
            raise FixedRnnError(f"kind: {self.kind!r} is not one of {', '.join(KINDS)}")
        for attr, lo in (("n", 1), ("seed", 0), ("sample_rate", 1)):
            value = getattr(self, attr)
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                raise FixedRnnError(f"{attr}: expected an integer >= {lo}, got {value!r}")
        given = tuple(k for k, _ in self.params)
        if sorted(given) != sorted(KINDS[self.kind]):
            raise FixedRnnError(
                f"params: kind {self.kind!r} takes {', '.join(KINDS[self.kind]) or 'no parameters'}, "
                f"got {', '.join(given) or 'none'}")
        for key, value in self.params:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise FixedRnnError(f"params: {key} must be a finite number, got {value!r}")

    @property
    def param(self):
        """The parameters as a dict."""
        return dict(self.params)


def uniforms(seed, count):
    """``count`` float64 uniforms in [0, 1): the top 53 bits of PCG64(seed)'s raw 64-bit outputs."""
    raw = np.random.PCG64(seed).random_raw(count)
    return (raw >> np.uint64(11)).astype(np.float64) * 2.0**-53


def gaussians(seed, count):
    """``count`` standard normal float64 values: Box–Muller on pairs of :func:`uniforms`."""
    pairs = (count + 1) // 2
    u = uniforms(seed, 2 * pairs)
    radius = np.sqrt(-2.0 * np.log1p(-u[0::2]))  # 1 − u in (0, 1]: log is finite
    angle = 2.0 * np.pi * u[1::2]
    return np.concatenate([radius * np.cos(angle), radius * np.sin(angle)])[:count]


def _waveform(spec):
    """The float64 waveform of ``spec`` (full scale 1.0), length ``spec.n``."""
    p = spec.param
    n = spec.n
    t = np.arange(n, dtype=np.float64) / spec.sample_rate
    if spec.kind == "silence":
        return np.zeros(n)
    if spec.kind == "tone":
        return p["amplitude"] * np.sin(2.0 * np.pi * p["freq"] * t)
    if spec.kind == "chirp":
        duration = n / spec.sample_rate
        phase = 2.0 * np.pi * (p["f0"] * t + (p["f1"] - p["f0"]) * t * t / (2.0 * duration))
        return p["amplitude"] * np.sin(phase)
    if spec.kind == "white_noise":
        return p["amplitude"] * (2.0 * uniforms(spec.seed, n) - 1.0)
    if spec.kind == "gaussian_noise":
        return p["sigma"] * gaussians(spec.seed, n)
    if spec.kind == "square":
        return p["amplitude"] * np.where(np.sin(2.0 * np.pi * p["freq"] * t) >= 0.0, 1.0, -1.0)
    if spec.kind == "impulse":
        out = np.zeros(n)
        out[int(p["position"]) % n] = p["amplitude"]
        return out
    if spec.kind == "dc_step":
        return np.where(np.arange(n) >= int(p["position"]), p["amplitude"], 0.0)
    # speech_bursts: voiced syllables (harmonics of a gliding pitch under two formant-like peaks,
    # Hann envelope) separated by silence, with a little breath noise.
    bursts = max(1, int(p["bursts"]))
    out = np.zeros(n)
    slot = n // bursts
    length = max(1, (slot * 3) // 5)
    for b in range(bursts):
        start = b * slot + (slot - length) // 2
        k = np.arange(length, dtype=np.float64)
        pitch = p["pitch"] * (1.0 + 0.15 * (b % 3 - 1)) * (1.0 - 0.2 * k / length)
        phase = 2.0 * np.pi * np.cumsum(pitch) / spec.sample_rate
        formants = (500.0 + 250.0 * b, 1500.0 + 300.0 * ((b * 2) % 5))
        voice = np.zeros(length)
        for h in range(1, 16):
            f = h * pitch
            gain = sum(1.0 / (1.0 + ((f - fc) / 150.0) ** 2) for fc in formants) / h**0.5
            voice += np.where(f < spec.sample_rate / 2, gain, 0.0) * np.sin(h * phase)
        voice /= max(np.max(np.abs(voice)), 1e-12)
        envelope = 0.5 - 0.5 * np.cos(2.0 * np.pi * (k + 0.5) / length)
        breath = 0.02 * (2.0 * uniforms(spec.seed + b, length) - 1.0)
        out[start:start + length] = envelope * (voice + breath)
    return p["amplitude"] * out


def generate(spec):
    """int16 ``[spec.n]``: ``clip(rint(32767 · waveform), −32768, 32767)``."""
    if not isinstance(spec, SignalSpec):
        raise FixedRnnError(f"spec: expected a SignalSpec, got {type(spec).__name__}")
    wave = np.rint(FULL_SCALE * _waveform(spec))
    return np.clip(wave, -32768, 32767).astype(np.int16)


def _spec(name, kind, n, seed=0, **params):
    return SignalSpec(name=name, kind=kind, n=n, seed=seed, params=tuple(sorted(params.items())))


#: The signals every golden vector set contains (8 kHz). Lengths: 100 samples (shorter than one
#: 256-point frame), 2,000 and 4,000 (shorter than a typical window: left padding), 8,000 and
#: 16,000 (longer: the last frames are kept).
STANDARD_SIGNALS = (
    _spec("silence", "silence", 4000),
    _spec("short_tone", "tone", 100, freq=440.0, amplitude=0.5),
    _spec("tone_300hz", "tone", 4000, freq=300.0, amplitude=0.3),
    _spec("tone_1khz", "tone", 8000, freq=1000.0, amplitude=0.5),
    _spec("tone_3k5hz_quiet", "tone", 4000, freq=3500.0, amplitude=0.01),
    _spec("chirp_up", "chirp", 8000, f0=100.0, f1=3900.0, amplitude=0.5),
    _spec("chirp_down", "chirp", 2000, f0=3000.0, f1=200.0, amplitude=0.25),
    _spec("white_noise", "white_noise", 4000, seed=1, amplitude=0.3),
    _spec("gaussian_noise_faint", "gaussian_noise", 8000, seed=2, sigma=0.001),
    _spec("speech_bursts", "speech_bursts", 8000, seed=3, pitch=120.0, amplitude=0.6, bursts=3),
    _spec("speech_bursts_high", "speech_bursts", 4000, seed=4, pitch=220.0, amplitude=0.3, bursts=1),
    _spec("full_scale_tone", "tone", 4000, freq=500.0, amplitude=1.0),
    _spec("full_scale_square", "square", 4000, freq=250.0, amplitude=1.0),
    _spec("clipped_tone", "tone", 4000, freq=700.0, amplitude=4.0),
    _spec("clipped_noise", "gaussian_noise", 4000, seed=5, sigma=2.0),
    _spec("impulse", "impulse", 4000, position=2000, amplitude=1.0),
    _spec("dc_step", "dc_step", 4000, position=1000, amplitude=-0.5),
    _spec("long_speech_bursts", "speech_bursts", 16000, seed=6, pitch=160.0, amplitude=0.4, bursts=5),
)


def standard_signal(name):
    """The :class:`SignalSpec` of :data:`STANDARD_SIGNALS` called ``name``."""
    for spec in STANDARD_SIGNALS:
        if spec.name == name:
            return spec
    raise FixedRnnError(f"name: {name!r} is not a standard signal ({', '.join(s.name for s in STANDARD_SIGNALS)})")
