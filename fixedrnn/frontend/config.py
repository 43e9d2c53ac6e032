"""The MFCC front end's configuration: sample rate, FFT, mel bank, DCT, window and framing."""

import math
from dataclasses import dataclass

from fixedrnn.errors import FixedRnnError

#: FFT lengths the front end supports (arm_rfft_q15/q31 support 32..8192; MFCC uses 128..1024).
FFT_LENGTHS = (128, 256, 512, 1024)
#: Window shapes (periodic, as ``scipy.signal.windows.*(n, sym=False)``).
WINDOWS = ("hamming", "hann")
#: What a too-short utterance (fewer samples than ``fft_length``) gives, see :class:`MfccConfig`.
TOO_SHORT = ("pad", "empty", "error")
#: Output precisions: CMSIS-DSP ``arm_mfcc_q15`` (int16 q8.7) or ``arm_mfcc_q31`` (int32).
PRECISIONS = ("q15", "q31")
#: Builds of CMSIS-DSP whose arithmetic the front end reproduces: "portable" (plain C, what the
#: ``cmsisdsp`` Python package runs) or "dsp" (``ARM_MATH_DSP``: CMSIS-DSP's default on a core with
#: the DSP extension, e.g. Cortex-M4/M7/M33; its q15 complex FFT rounds differently).
CMSIS_BUILDS = ("portable", "dsp")


@dataclass(frozen=True)
class MfccConfig:
    """Parameters of the fixed-point MFCC front end (validated on construction).

    - ``sample_rate`` (Hz, int), ``fft_length`` (one of :data:`FFT_LENGTHS`; also the frame length),
      ``hop`` (samples between frame starts, 1..fft_length).
    - ``n_mels`` mel filters between ``fmin`` and ``fmax`` Hz (0 <= fmin < fmax <= sample_rate/2),
      ``n_mfcc`` DCT outputs (1..n_mels). Each mel filter must cover at least one FFT bin.
    - ``window``: "hamming" or "hann" (periodic).
    - Framing of an utterance of ``n`` samples (see :func:`fixedrnn.frontend.framing.frames`):
      frames start at 0, hop, 2·hop, ... ; without ``pad_end`` only complete frames are cut
      (``1 + (n − fft_length) // hop``); with ``pad_end`` the last frame is completed with zeros so
      that every sample lies in some frame (``ceil((n − fft_length) / hop) + 1``).
      ``too_short`` says what an utterance with ``n < fft_length`` gives: "pad" one zero-padded
      frame (the default: every utterance gives at least one frame), "empty" no frame, "error" a
      :class:`~fixedrnn.errors.FixedRnnError`.
    - ``cmsis_build``: which build of CMSIS-DSP the arithmetic follows, one of :data:`CMSIS_BUILDS`.
      "portable" (the default) is CMSIS-DSP's plain C; "dsp" is CMSIS-DSP compiled with
      ``ARM_MATH_DSP`` (every Cortex-M4 build), whose q15 FFT uses the DSP extension's halving SIMD
      sums and rounds each twiddle product once. The q31 MFCC is the same on both builds.

    ``fmin`` defaults to 20 Hz: below the lowest voice fundamental (~85 Hz) so the first filters
    still see the pitch harmonics, and at 8 kHz / 256 points every one of the 20 filters keeps at
    least 5 FFT bins (31.25 Hz each), so no filter is degenerate.
    """

    sample_rate: int = 8000
    fft_length: int = 256
    hop: int = 128
    n_mels: int = 20
    n_mfcc: int = 13
    fmin: float = 20.0
    fmax: float = 4000.0
    window: str = "hamming"
    pad_end: bool = False
    too_short: str = "pad"
    cmsis_build: str = "portable"

    def __post_init__(self):
        def need_int(name, lo, hi=None):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise FixedRnnError(f"{name}: expected an integer, got {value!r}")
            if value < lo or (hi is not None and value > hi):
                bound = f">= {lo}" if hi is None else f"in {lo}..{hi}"
                raise FixedRnnError(f"{name}: must be {bound}, got {value}")

        need_int("sample_rate", 1)
        need_int("fft_length", 1)
        if self.fft_length not in FFT_LENGTHS:
            raise FixedRnnError(
                f"fft_length: must be one of {', '.join(map(str, FFT_LENGTHS))}, got {self.fft_length}")
        need_int("hop", 1, self.fft_length)
        need_int("n_mels", 1, self.fft_length // 2)
        need_int("n_mfcc", 1, self.n_mels)
        for name in ("fmin", "fmax"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise FixedRnnError(f"{name}: expected a finite number of Hz, got {value!r}")
        if self.fmin < 0:
            raise FixedRnnError(f"fmin: must be >= 0 Hz, got {self.fmin}")
        if self.fmax > self.sample_rate / 2:
            raise FixedRnnError(
                f"fmax: must be <= sample_rate/2 = {self.sample_rate / 2} Hz, got {self.fmax}")
        if self.fmin >= self.fmax:
            raise FixedRnnError(f"fmin: must be below fmax = {self.fmax} Hz, got {self.fmin}")
        if self.window not in WINDOWS:
            raise FixedRnnError(f"window: must be one of {', '.join(WINDOWS)}, got {self.window!r}")
        if not isinstance(self.pad_end, bool):
            raise FixedRnnError(f"pad_end: expected True or False, got {self.pad_end!r}")
        if self.too_short not in TOO_SHORT:
            raise FixedRnnError(f"too_short: must be one of {', '.join(TOO_SHORT)}, got {self.too_short!r}")
        if self.cmsis_build not in CMSIS_BUILDS:
            raise FixedRnnError(
                f"cmsis_build: must be one of {', '.join(CMSIS_BUILDS)}, got {self.cmsis_build!r}")
        # Every mel filter must cover an FFT bin; raises FixedRnnError naming n_mels otherwise.
        from fixedrnn.frontend.tables import mel_filter_bank

        mel_filter_bank(self)

    @property
    def n_bins(self):
        """Number of magnitude bins the mel filters read: ``fft_length // 2 + 1``."""
        return self.fft_length // 2 + 1
