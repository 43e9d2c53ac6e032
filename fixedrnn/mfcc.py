"""The MFCC front end's public API (see :mod:`fixedrnn.frontend` and docs/frontend.md).

``mfcc_q15(frames, config)`` / ``mfcc_q31(frames, config)`` build the tables for ``config`` on each
call; to process many batches with one configuration, make an :class:`MfccFrontEnd` once and call
its methods (or pass it as ``config``).
"""

from fixedrnn.frontend.config import FFT_LENGTHS, PRECISIONS, TOO_SHORT, WINDOWS, MfccConfig
from fixedrnn.frontend.framing import StreamingMfcc, frame_count, frames
from fixedrnn.frontend.pipeline import MfccFrontEnd
from fixedrnn.frontend.tables import MfccTables, make_tables
from fixedrnn.frontend.wav import read_wav

__all__ = [
    "FFT_LENGTHS", "PRECISIONS", "TOO_SHORT", "WINDOWS", "MfccConfig", "MfccFrontEnd", "MfccTables",
    "StreamingMfcc", "frame_count", "frames", "make_tables", "mfcc", "mfcc_q15", "mfcc_q31", "read_wav",
]


def _front_end(config):
    if isinstance(config, MfccFrontEnd):
        return config
    return MfccFrontEnd(config)


def mfcc_q15(frames, config=None):
    """int16 q15 frames ``[n_frames, fft_length]`` → int16 q8.7 MFCC ``[n_frames, n_mfcc]``.

    Bit-exact with ``arm_mfcc_q15`` initialised with :func:`make_tables` ``(config)``. ``config``:
    an :class:`MfccConfig` (default ``MfccConfig()``) or a ready :class:`MfccFrontEnd`.
    """
    return _front_end(config).mfcc_q15(frames)


def mfcc_q31(frames, config=None):
    """int32 q31 frames ``[n_frames, fft_length]`` → int32 MFCC ``[n_frames, n_mfcc]`` (``arm_mfcc_q31``)."""
    return _front_end(config).mfcc_q31(frames)


def mfcc(pcm, config=None, precision="q15"):
    """MFCC of a whole int16 utterance: :func:`frames` then :func:`mfcc_q15` (or q31 of ``pcm << 16``)."""
    front_end = _front_end(config)
    cut = frames(pcm, front_end.config)
    if precision == "q31":
        return front_end.mfcc_q31(cut.astype("int32") << 16)
    return front_end.mfcc(cut, precision)
