"""Constant tables of the MFCC, in the layout ``arm_mfcc_init_q15`` / ``arm_mfcc_init_q31`` take.

Built from their defining formulas with the same floating-point steps as CMSIS-DSP's Python helpers
(``cmsisdsp.mfcc.melFilterMatrix``, ``dctMatrix``, ``cmsisdsp.datatype.convert``), so they are equal
value for value:

- window: ``scipy.signal.windows.hamming|hann(fft_length, sym=False)``;
- mel filters: triangles on the mel scale ``mel(f) = 1127·ln(1 + f/700)``, ``n_mels + 2`` edges
  evenly spaced in mel from ``fmin`` to ``fmax``, evaluated at the bins ``k·fs/N`` (k = 1..N/2;
  bin 0 is always 0); each filter is stored sparsely as its first non-zero bin (``filter_pos``),
  its number of bins up to the first zero after it (``filter_lengths``) and the packed values;
- DCT: ``dct[i, j] = cos(i·π·(j + 1/2)/n_mels) · sqrt(2/n_mels)``, row-major ``[n_mfcc, n_mels]``;
- float → fixed point: ``round(x · 2**15)`` (resp. ``2**31``) with NumPy's round-half-to-even,
  saturated to the int16 (int32) range.
"""

from dataclasses import dataclass, field

import numpy as np
import scipy.signal

from fixedrnn.errors import FixedRnnError


def to_q15(x):
    """Float array → int16 q15: ``round(x · 2**15)`` (half to even), saturated to [−32768, 32767]."""
    return np.clip(np.round(np.asarray(x, dtype=np.float64) * (1 << 15)), -32768, 32767).astype(np.int16)


def to_q31(x):
    """Float array → int32 q31: ``round(x · 2**31)`` (half to even), saturated to the int32 range."""
    return np.clip(np.round(np.asarray(x, dtype=np.float64) * (1 << 31)), -(2**31), 2**31 - 1).astype(np.int32)


def hz_to_mel(freq):
    """Mel value of a frequency in Hz: ``1127 · ln(1 + f/700)`` (the formula CMSIS-DSP uses)."""
    return 1127.0 * np.log(1.0 + freq / 700.0)


def mel_filter_bank(config):
    """The mel filters as floats: ``(positions int[n_mels], lengths int[n_mels], packed float64)``.

    Raises :class:`FixedRnnError` naming ``n_mels`` when a filter covers no FFT bin (too many
    filters for the FFT resolution) or ``fmax`` when a filter does not end inside the spectrum.
    """
    n_fft = config.fft_length
    mels = np.linspace(hz_to_mel(config.fmin), hz_to_mel(config.fmax), num=config.n_mels + 2)
    bin_mels = hz_to_mel(np.linspace(0, config.sample_rate / 2.0, n_fft // 2 + 1))[1:]
    upper = (bin_mels[None, :] - mels[:-2, None]) / (mels[1:-1] - mels[:-2])[:, None]
    lower = (mels[2:, None] - bin_mels[None, :]) / (mels[2:] - mels[1:-1])[:, None]
    values = np.maximum(0.0, np.minimum(upper, lower))
    values = np.hstack([np.zeros((config.n_mels, 1)), values])
    positions, lengths, packed = [], [], []
    for n, row in enumerate(values):
        nonzero = np.flatnonzero(row != 0.0)
        if nonzero.size == 0:
            raise FixedRnnError(
                f"n_mels: mel filter {n} of {config.n_mels} covers no FFT bin between fmin={config.fmin} "
                f"and fmax={config.fmax} Hz at fft_length {n_fft}; use fewer filters or a longer FFT")
        start = int(nonzero[0])
        zeros_after = np.flatnonzero(row[start:] == 0.0)
        if zeros_after.size == 0:
            raise FixedRnnError(
                f"fmax: mel filter {n} does not fall back to zero before the Nyquist bin; "
                f"lower fmax below sample_rate/2 = {config.sample_rate / 2}")
        length = int(zeros_after[0])
        positions.append(start)
        lengths.append(length)
        packed.append(row[start:start + length])
    return np.array(positions), np.array(lengths), np.concatenate(packed)


def dct_matrix(n_mfcc, n_mels):
    """DCT-II matrix as float64 ``[n_mfcc, n_mels]``: ``cos(i·π·s_j) · sqrt(2/n_mels)``, s_j = (j+½)/n_mels."""
    s = (np.linspace(1, n_mels, n_mels) - 0.5) / n_mels
    rows = [np.cos(i * np.pi * s) * np.sqrt(2.0 / n_mels) for i in range(n_mfcc)]
    return np.array(rows)


def window(config):
    """The periodic analysis window as float64 ``[fft_length]``."""
    shape = {"hamming": scipy.signal.windows.hamming, "hann": scipy.signal.windows.hann}[config.window]
    return shape(config.fft_length, sym=False)


@dataclass(frozen=True)
class MfccTables:
    """The arrays a firmware holds for ``arm_mfcc_init_q15`` / ``_q31`` (all read-only, flash).

    ``window_q15`` int16 ``[fft_length]`` / ``window_q31`` int32; ``filter_pos`` and
    ``filter_lengths`` uint32 ``[n_mels]`` (bin index of each filter's first coefficient, and its
    number of coefficients); ``filter_coefs_q15`` int16 / ``filter_coefs_q31`` int32
    ``[sum(filter_lengths)]`` (filters packed one after another); ``dct_q15`` int16 / ``dct_q31``
    int32 ``[n_mfcc * n_mels]`` (row-major ``[n_mfcc, n_mels]``). The FFT's own tables are
    CMSIS-internal (see docs/frontend.md).
    """

    config: object
    window_q15: np.ndarray = field(repr=False)
    window_q31: np.ndarray = field(repr=False)
    filter_pos: np.ndarray = field(repr=False)
    filter_lengths: np.ndarray = field(repr=False)
    filter_coefs_q15: np.ndarray = field(repr=False)
    filter_coefs_q31: np.ndarray = field(repr=False)
    dct_q15: np.ndarray = field(repr=False)
    dct_q31: np.ndarray = field(repr=False)

    def arrays(self, precision):
        """The firmware's tables for ``precision`` ("q15" or "q31"): ``{name: array}``, dtypes as stored."""
        if precision not in ("q15", "q31"):
            raise FixedRnnError(f"precision: must be 'q15' or 'q31', got {precision!r}")
        return {
            "window": getattr(self, f"window_{precision}"),
            "filter_pos": self.filter_pos,
            "filter_lengths": self.filter_lengths,
            "filter_coefs": getattr(self, f"filter_coefs_{precision}"),
            "dct": getattr(self, f"dct_{precision}"),
        }

    def nbytes(self, precision):
        """Total bytes of :meth:`arrays` for ``precision`` (FFT tables not included)."""
        return sum(a.nbytes for a in self.arrays(precision).values())


def make_tables(config):
    """All :class:`MfccTables` for ``config`` (a :class:`~fixedrnn.frontend.config.MfccConfig`)."""
    positions, lengths, packed = mel_filter_bank(config)
    win = window(config)
    dct = dct_matrix(config.n_mfcc, config.n_mels).reshape(-1)
    tables = MfccTables(
        config=config,
        window_q15=to_q15(win),
        window_q31=to_q31(win),
        filter_pos=positions.astype(np.uint32),
        filter_lengths=lengths.astype(np.uint32),
        filter_coefs_q15=to_q15(packed),
        filter_coefs_q31=to_q31(packed),
        dct_q15=to_q15(dct),
        dct_q31=to_q31(dct),
    )
    for name in ("window_q15", "window_q31", "filter_pos", "filter_lengths", "filter_coefs_q15",
                 "filter_coefs_q31", "dct_q15", "dct_q31"):
        getattr(tables, name).setflags(write=False)
    return tables
