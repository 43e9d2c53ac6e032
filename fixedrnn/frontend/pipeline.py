"""The MFCC of a batch of frames, bit-exact with CMSIS-DSP ``arm_mfcc_q15`` / ``arm_mfcc_q31``.

Stage by stage, for one frame ``x`` of N = fft_length samples (this is the spec the C firmware
follows; "wrap" = keep the low bits as C's cast does, "sat" = ``__SSAT``):

q15 (``arm_mfcc_q15``), input int16 q15, output int16 q8.7:

1. Normalise: ``m = max |x|`` (``|−32768|`` = 32767). If ``m ∉ {0, 32767}``:
   ``t = (32767 << 15) // m``; ``s = 17 − clz32(t)``, if ``s > 0`` then ``t >>= s`` else ``s = 0``;
   ``x = sat16((x · t) >> (15 − s))`` (``arm_divide_q15`` + ``arm_scale_q15``).
2. Window: ``x = sat16((x · w) >> 15)`` (``arm_mult_q15``).
3. ``arm_rfft_q15`` (see :mod:`fixedrnn.frontend.cmsis_fft`): bins 0..N/2, scaled by 1/N; its complex
   FFT as the configuration's ``cmsis_build`` computes it (portable C, or ARM_MATH_DSP's SIMD
   butterflies: the only stage of either MFCC where the two builds differ).
4. Magnitude (``arm_cmplx_mag_q15``): ``mag = sqrt_q31(((uint32)(re²) + (uint32)(im²)) >> 1) >> 16``.
5. Mel filter i: ``acc = Σ_j mag[pos_i + j] · coef[c_i + j]`` (int64), ``acc = (acc + 537) >> 10``,
   ``mel_i = sat31(wrap32(acc))`` (``arm_dot_prod_q15``; 537 = MICRO_Q15 avoids log(0) mostly).
6. Undo the normalisation if it was applied: ``mel_i = sat32(((mel_i · (m << 16)) >> 32) << 1)``
   (``arm_scale_q31`` with shift 0).
7. ``mel_i = log_q31(mel_i)`` (q5.26, see :func:`fixedrnn.frontend.cmsis_math.log_q31`);
   ``mel_i = sat32(mel_i + (log2(N) + 12) · 0x02C5C860)``; ``mel_i >>= 19``;
   ``logmel_i = wrap16(mel_i)`` (C's ``(q15_t)`` cast before a no-op ``__SSAT(., 16)``) — q8.7.
8. DCT: ``out_k = sat16(wrap32(Σ_i dct[k, i] · logmel_i) >> 15)`` (``arm_mat_vec_mult_q15``).

q31 (``arm_mfcc_q31``), input int32 q31, output int32 (q8.23 for the log-mel, see docs):

1. ``m = max |x|`` (``|−2**31|`` = 2**31 − 1). If ``m ∉ {0, 2**31 − 1}``:
   ``t = ((2**31 − 1) << 31) // m``; ``s = 32 − clz32(t >> 31)``, if ``s > 0`` then ``t >>= s``;
   ``x = sat32(((x · wrap32(t)) >> 32) << (s + 1))`` (``arm_divide_q31`` + ``arm_scale_q31``).
2. ``x = clamp((x · w) >> 32, −2**30, 2**30 − 1) << 1`` (``arm_mult_q31``).
3. ``arm_rfft_q31``.
4. ``mag = sqrt_q31(wrap32((re² >> 33) + (im² >> 33)))`` (``arm_cmplx_mag_q31``).
5. ``acc = Σ_j (mag · coef) >> 14`` (each product floored, ``arm_dot_prod_q31``);
   ``acc = (acc + 0x08637BD0) >> 28``; ``mel_i = sat31(wrap32(acc))``.
6. If normalised: ``mel_i = sat32(((mel_i · m) >> 32) << 1)``.
7. ``mel_i = sat32(log_q31(mel_i) + (log2(N) + 12) · 0x02C5C860) >> 3``.
8. ``out_k = wrap32(Σ_i dct[k, i] · mel_i >> 31)`` (``arm_mat_vec_mult_q31``).
"""

import numba
import numpy as np

from fixedrnn.errors import FixedRnnError
from fixedrnn.frontend.cmsis_fft import RfftTables, rfft_q15, rfft_q31
from fixedrnn.frontend.cmsis_int import clz32, ssat, ssat_of_q63, wrap16, wrap32
from fixedrnn.frontend.cmsis_math import (
    LOG2_TO_LOG_Q26,
    divide_q15,
    divide_q31,
    log_q31_many,
    sqrt_initial_lut_q31,
    sqrt_q31_many,
)
from fixedrnn.frontend.config import MfccConfig
from fixedrnn.frontend.tables import make_tables

#: Rounding offset added to the q15 mel sums before ``>> 10`` (CMSIS ``MICRO_Q15``).
MICRO_Q15 = 0x00000219
#: Rounding offset added to the q31 mel sums before ``>> 28`` (CMSIS ``MICRO_Q31``).
MICRO_Q31 = 0x08637BD0
#: Right shift of the mel sums that keeps them from saturating (CMSIS ``SHIFT_MELFILTER_SATURATION``).
MEL_SHIFT = 10


@numba.njit(cache=True)
def _mfcc_q15_kernel(frames, window, filter_pos, filter_lengths, filter_coefs, dct, n_mfcc,
                     twiddle, coef_a, coef_b, modifier, bit_reversal, sqrt_lut, dsp, out):
    n_frames, n = frames.shape
    n_mels = filter_pos.shape[0]
    half = n >> 1
    log_offset = (31 - clz32(n) + 2 + MEL_SHIFT) * LOG2_TO_LOG_Q26
    # every value the FFT stores is a q15_t (wrap16 / ssat16 results), so int16 buffers are exact
    x = np.empty(n, dtype=np.int16)
    work = np.empty(n, dtype=np.int16)
    spectrum = np.empty(2 * half + 2, dtype=np.int16)
    mag = np.empty(half + 1, dtype=np.int64)
    power = np.empty(half + 1, dtype=np.int64)
    scratch_a = np.empty(half + 1, dtype=np.int64)
    scratch_b = np.empty(half + 1, dtype=np.int64)
    sqrt_numbers = np.empty(half + 1, dtype=np.int32)
    sqrt_estimates = np.empty(half + 1, dtype=np.int32)
    mels = np.empty(n_mels, dtype=np.int64)
    logs = np.empty(n_mels, dtype=np.int64)
    logmel = np.empty(n_mels, dtype=np.int64)
    for f in range(n_frames):
        m = np.int64(0)
        for i in range(n):
            v = np.int64(frames[f, i])
            x[i] = v
            a = v if v > 0 else (32767 if v == -32768 else -v)
            if a > m:
                m = a
        if m != 0 and m != 0x7FFF:
            quotient, shift = divide_q15(np.int64(0x7FFF), m)
            k_shift = 15 - shift
            for i in range(n):
                x[i] = ssat((x[i] * quotient) >> k_shift, 16)
        for i in range(n):
            x[i] = ssat((x[i] * window[i]) >> 15, 16)
        rfft_q15(x, work, spectrum, twiddle, coef_a, coef_b, modifier, bit_reversal, dsp)
        for i in range(half + 1):
            re = spectrum[2 * i]
            im = spectrum[2 * i + 1]
            power[i] = ((((re * re) & 0xFFFFFFFF) + ((im * im) & 0xFFFFFFFF)) & 0xFFFFFFFF) >> 1
        sqrt_q31_many(power, sqrt_lut, mag, sqrt_numbers, sqrt_estimates)
        for i in range(half + 1):
            mag[i] >>= 16
        c = 0
        for i in range(n_mels):
            acc = np.int64(0)
            pos = filter_pos[i]
            for j in range(filter_lengths[i]):
                acc += mag[pos + j] * filter_coefs[c + j]
            c += filter_lengths[i]
            acc = (acc + MICRO_Q15) >> MEL_SHIFT
            mel = ssat_of_q63(acc, 31)
            if m != 0 and m != 0x7FFF:
                mel = ssat((mel * (m << 16)) >> 32 << 1, 32)
            mels[i] = mel
        log_q31_many(mels, logs, scratch_a, scratch_b)
        for i in range(n_mels):
            logmel[i] = wrap16(ssat(logs[i] + log_offset, 32) >> 19)
        for k in range(n_mfcc):
            acc = np.int64(0)
            for i in range(n_mels):
                acc += dct[k * n_mels + i] * logmel[i]
            out[f, k] = ssat_of_q63(acc >> 15, 16)


@numba.njit(cache=True)
def _mfcc_q31_kernel(frames, window, filter_pos, filter_lengths, filter_coefs, dct, n_mfcc,
                     twiddle, coef_a, coef_b, modifier, bit_reversal, sqrt_lut, out):
    n_frames, n = frames.shape
    n_mels = filter_pos.shape[0]
    half = n >> 1
    log_offset = (31 - clz32(n) + 2 + MEL_SHIFT) * LOG2_TO_LOG_Q26
    # every value the FFT stores is a q31_t (wrap32 / ssat results), so int32 buffers are exact
    x = np.empty(n, dtype=np.int32)
    work = np.empty(n, dtype=np.int32)
    spectrum = np.empty(2 * half + 2, dtype=np.int32)
    mag = np.empty(half + 1, dtype=np.int64)
    power = np.empty(half + 1, dtype=np.int64)
    scratch_a = np.empty(half + 1, dtype=np.int64)
    scratch_b = np.empty(half + 1, dtype=np.int64)
    sqrt_numbers = np.empty(half + 1, dtype=np.int32)
    sqrt_estimates = np.empty(half + 1, dtype=np.int32)
    mels = np.empty(n_mels, dtype=np.int64)
    logs = np.empty(n_mels, dtype=np.int64)
    logmel = np.empty(n_mels, dtype=np.int64)
    int32_max = np.int64(0x7FFFFFFF)
    for f in range(n_frames):
        m = np.int64(0)
        for i in range(n):
            v = np.int64(frames[f, i])
            x[i] = v
            a = v if v > 0 else (int32_max if v == -2147483648 else -v)
            if a > m:
                m = a
        if m != 0 and m != int32_max:
            quotient, shift = divide_q31(int32_max, m)
            k_shift = shift + 1
            for i in range(n):
                x[i] = ssat(((x[i] * quotient) >> 32) << k_shift, 32)
        for i in range(n):
            x[i] = ssat((x[i] * window[i]) >> 32, 31) << 1
        rfft_q31(x, work, spectrum, twiddle, coef_a, coef_b, modifier, bit_reversal)
        for i in range(half + 1):
            re = spectrum[2 * i]
            im = spectrum[2 * i + 1]
            power[i] = wrap32(wrap32((re * re) >> 33) + wrap32((im * im) >> 33))
        sqrt_q31_many(power, sqrt_lut, mag, sqrt_numbers, sqrt_estimates)
        c = 0
        for i in range(n_mels):
            acc = np.int64(0)
            pos = filter_pos[i]
            for j in range(filter_lengths[i]):
                acc += (mag[pos + j] * filter_coefs[c + j]) >> 14
            c += filter_lengths[i]
            acc = (acc + MICRO_Q31) >> (MEL_SHIFT + 18)
            mel = ssat_of_q63(acc, 31)
            if m != 0 and m != int32_max:
                mel = ssat((mel * m) >> 32 << 1, 32)
            mels[i] = mel
        log_q31_many(mels, logs, scratch_a, scratch_b)
        for i in range(n_mels):
            logmel[i] = ssat(logs[i] + log_offset, 32) >> 3
        for k in range(n_mfcc):
            acc = np.int64(0)
            for i in range(n_mels):
                acc += dct[k * n_mels + i] * logmel[i]
            out[f, k] = wrap32(acc >> 31)


#: Frames per task of the multi-threaded path (each task allocates its own scratch once).
PARALLEL_CHUNK = 256


@numba.njit(cache=True, parallel=True)
def _mfcc_q15_parallel(frames, window, filter_pos, filter_lengths, filter_coefs, dct, n_mfcc,
                       twiddle, coef_a, coef_b, modifier, bit_reversal, sqrt_lut, dsp, out):
    """:func:`_mfcc_q15_kernel` on chunks of :data:`PARALLEL_CHUNK` frames across numba's threads.

    Frames are independent, so the result is the same bits whatever the thread count.
    """
    n_chunks = (frames.shape[0] + PARALLEL_CHUNK - 1) // PARALLEL_CHUNK
    for c in numba.prange(n_chunks):
        a = c * PARALLEL_CHUNK
        b = min(a + PARALLEL_CHUNK, frames.shape[0])
        _mfcc_q15_kernel(frames[a:b], window, filter_pos, filter_lengths, filter_coefs, dct, n_mfcc,
                         twiddle, coef_a, coef_b, modifier, bit_reversal, sqrt_lut, dsp, out[a:b])


@numba.njit(cache=True, parallel=True)
def _mfcc_q31_parallel(frames, window, filter_pos, filter_lengths, filter_coefs, dct, n_mfcc,
                       twiddle, coef_a, coef_b, modifier, bit_reversal, sqrt_lut, out):
    """:func:`_mfcc_q31_kernel` on chunks of frames across numba's threads (as :func:`_mfcc_q15_parallel`)."""
    n_chunks = (frames.shape[0] + PARALLEL_CHUNK - 1) // PARALLEL_CHUNK
    for c in numba.prange(n_chunks):
        a = c * PARALLEL_CHUNK
        b = min(a + PARALLEL_CHUNK, frames.shape[0])
        _mfcc_q31_kernel(frames[a:b], window, filter_pos, filter_lengths, filter_coefs, dct, n_mfcc,
                         twiddle, coef_a, coef_b, modifier, bit_reversal, sqrt_lut, out[a:b])


class MfccFrontEnd:
    """The fixed-point MFCC for one :class:`MfccConfig`, holding its tables (built once).

    ``tables`` are the :class:`~fixedrnn.frontend.tables.MfccTables` a firmware holds;
    ``rfft_tables`` the CMSIS-internal FFT tables (int64 copies for the kernels).
    """

    def __init__(self, config=None):
        self.config = MfccConfig() if config is None else config
        if not isinstance(self.config, MfccConfig):
            raise FixedRnnError(f"config: expected an MfccConfig, got {type(self.config).__name__}")
        self.tables = make_tables(self.config)
        self.rfft_tables = RfftTables(self.config.fft_length)
        self._sqrt_lut = sqrt_initial_lut_q31()
        t = self.tables
        self._args = {
            "q15": (t.window_q15.astype(np.int64), t.filter_pos.astype(np.int64),
                    t.filter_lengths.astype(np.int64), t.filter_coefs_q15.astype(np.int64),
                    t.dct_q15.astype(np.int64)),
            "q31": (t.window_q31.astype(np.int64), t.filter_pos.astype(np.int64),
                    t.filter_lengths.astype(np.int64), t.filter_coefs_q31.astype(np.int64),
                    t.dct_q31.astype(np.int64)),
        }

    def _check_frames(self, frames, dtype):
        arr = np.asarray(frames)
        n = self.config.fft_length
        if arr.dtype != dtype:
            raise FixedRnnError(f"frames: expected {np.dtype(dtype).name} samples, got dtype {arr.dtype}")
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != n:
            raise FixedRnnError(f"frames: expected shape [n_frames, {n}], got {list(np.shape(frames))}")
        return np.ascontiguousarray(arr)

    def mfcc_q15(self, frames, parallel=False):
        """int16 q15 ``[n_frames, fft_length]`` → int16 q8.7 ``[n_frames, n_mfcc]`` (``arm_mfcc_q15``).

        ``parallel=True`` spreads the frames over numba's threads (``NUMBA_NUM_THREADS``); same bits.
        """
        arr = self._check_frames(frames, np.int16)
        out = np.empty((arr.shape[0], self.config.n_mfcc), dtype=np.int16)
        r = self.rfft_tables
        kernel = _mfcc_q15_parallel if parallel else _mfcc_q15_kernel
        kernel(arr, *self._args["q15"], self.config.n_mfcc, r.twiddle_q15,
               r.split_coef_a_q15, r.split_coef_b_q15, 1, r.bit_reversal, self._sqrt_lut,
               True if self.config.cmsis_build == "dsp" else None, out)
        return out

    def mfcc_q31(self, frames, parallel=False):
        """int32 q31 ``[n_frames, fft_length]`` → int32 ``[n_frames, n_mfcc]`` (``arm_mfcc_q31``).

        ``parallel``: as in :meth:`mfcc_q15`.
        """
        arr = self._check_frames(frames, np.int32)
        out = np.empty((arr.shape[0], self.config.n_mfcc), dtype=np.int32)
        r = self.rfft_tables
        kernel = _mfcc_q31_parallel if parallel else _mfcc_q31_kernel
        kernel(arr, *self._args["q31"], self.config.n_mfcc, r.twiddle_q31,
               r.split_coef_a_q31, r.split_coef_b_q31, 1, r.bit_reversal, self._sqrt_lut, out)
        return out

    def mfcc(self, frames, precision="q15", parallel=False):
        """:meth:`mfcc_q15` or :meth:`mfcc_q31` by ``precision``."""
        if precision == "q15":
            return self.mfcc_q15(frames, parallel)
        if precision == "q31":
            return self.mfcc_q31(frames, parallel)
        raise FixedRnnError(f"precision: must be 'q15' or 'q31', got {precision!r}")
