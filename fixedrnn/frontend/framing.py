"""Cutting int16 PCM into frames, in one go (:func:`frames`) or as samples arrive (:class:`StreamingMfcc`).

Frame ``t`` holds samples ``[t·hop, t·hop + fft_length)`` of the utterance; how many frames an
utterance of ``n`` samples gives is fixed by :class:`~fixedrnn.frontend.config.MfccConfig`
(``pad_end``, ``too_short``); :func:`frame_count` states it. Padding is with zeros (silence).
"""

import numpy as np

from fixedrnn.errors import FixedRnnError
from fixedrnn.frontend.config import MfccConfig


def frame_count(n_samples, config):
    """Number of frames :func:`frames` cuts from ``n_samples`` samples under ``config``."""
    n, hop = config.fft_length, config.hop
    if n_samples < n:
        if config.too_short == "error":
            raise FixedRnnError(
                f"pcm: {n_samples} samples is shorter than one frame of fft_length={n} (too_short='error')")
        return 1 if config.too_short == "pad" else 0
    if config.pad_end:
        return -(-(n_samples - n) // hop) + 1
    return (n_samples - n) // hop + 1


def _check_pcm(pcm):
    arr = np.asarray(pcm)
    if arr.dtype != np.int16:
        raise FixedRnnError(f"pcm: expected int16 samples, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise FixedRnnError(f"pcm: expected a 1-d array of samples, got shape {list(arr.shape)}")
    return arr


def frames(pcm, config=None):
    """int16 PCM ``[n]`` → int16 frames ``[frame_count(n), fft_length]`` (hop ``config.hop``).

    Samples past the end (``pad_end``, or a too-short utterance with ``too_short="pad"``) are 0.
    """
    config = MfccConfig() if config is None else config
    pcm = _check_pcm(pcm)
    count = frame_count(pcm.size, config)
    n, hop = config.fft_length, config.hop
    needed = (count - 1) * hop + n if count else 0
    if needed > pcm.size:
        pcm = np.concatenate([pcm, np.zeros(needed - pcm.size, dtype=np.int16)])
    if count == 0:
        return np.zeros((0, n), dtype=np.int16)
    view = np.lib.stride_tricks.sliding_window_view(pcm[:needed], n)[::hop]
    return np.ascontiguousarray(view)


class StreamingMfcc:
    """Streaming front end: :meth:`push` any number of samples, get the frames that completed.

    The concatenation of everything :meth:`push` and then :meth:`flush` return equals
    :func:`frames` (and its MFCC) of the whole utterance. ``precision`` "q15" gives int16 q8.7
    features, "q31" int32 features of the q15 frames shifted to q31 (``x << 16``).
    After :meth:`flush` the stream is reset for a new utterance.
    """

    def __init__(self, config=None, precision="q15", front_end=None):
        from fixedrnn.frontend.pipeline import MfccFrontEnd

        if precision not in ("q15", "q31"):
            raise FixedRnnError(f"precision: must be 'q15' or 'q31', got {precision!r}")
        self.front_end = front_end if front_end is not None else MfccFrontEnd(config)
        self.config = self.front_end.config
        self.precision = precision
        self.reset()

    def reset(self):
        """Forget the samples of the current utterance."""
        self._pending = np.zeros(0, dtype=np.int16)
        self._samples_seen = 0
        self._frames_done = 0

    def _features(self, new_frames):
        if self.precision == "q15":
            return self.front_end.mfcc_q15(new_frames)
        return self.front_end.mfcc_q31(new_frames.astype(np.int32) << 16)

    def push(self, samples):
        """Add int16 samples; return ``(frames, features)`` of the frames completed by them."""
        samples = _check_pcm(samples)
        n, hop = self.config.fft_length, self.config.hop
        self._pending = np.concatenate([self._pending, samples])
        self._samples_seen += samples.size
        count = 0 if self._pending.size < n else (self._pending.size - n) // hop + 1
        if count == 0:
            new = np.zeros((0, n), dtype=np.int16)
        else:
            new = np.ascontiguousarray(
                np.lib.stride_tricks.sliding_window_view(self._pending, n)[::hop][:count])
            self._pending = self._pending[count * hop:]
        self._frames_done += count
        return new, self._features(new)

    def flush(self):
        """End the utterance: ``(frames, features)`` of the zero-padded frames still due, then reset."""
        n, hop = self.config.fft_length, self.config.hop
        total = frame_count(self._samples_seen, self.config)
        due = total - self._frames_done
        if due > 0:
            needed = (due - 1) * hop + n
            padded = np.concatenate([self._pending, np.zeros(max(0, needed - self._pending.size), np.int16)])
            new = np.ascontiguousarray(np.lib.stride_tricks.sliding_window_view(padded, n)[::hop][:due])
        else:
            new = np.zeros((0, n), dtype=np.int16)
        result = (new, self._features(new))
        self.reset()
        return result
