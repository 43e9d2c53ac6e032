"""The multi-threaded path of :class:`fixedrnn.frontend.pipeline.MfccFrontEnd` against cmsisdsp.

The single-threaded kernels are checked in tests/test_mfcc.py; here ``parallel=True`` (several
chunks of ``PARALLEL_CHUNK`` frames, a partial last chunk) must give the same bits as
``arm_mfcc_q15`` / ``arm_mfcc_q31`` called frame by frame.
"""

import numpy as np
import pytest

from fixedrnn import mfcc as M
from fixedrnn.frontend.pipeline import PARALLEL_CHUNK

cmsisdsp = pytest.importorskip("cmsisdsp")
import cmsisdsp.datatype as dt  # noqa: E402


def _frames(n_frames, n, seed):
    """Speech-like int16 frames: random amplitudes per frame (some silent, some clipped)."""
    rng = np.random.default_rng(seed)
    gain = rng.choice([0.0, 0.001, 0.05, 0.5, 4.0], size=(n_frames, 1))
    noise = rng.standard_normal((n_frames, n)) * 8000.0 * gain
    return np.clip(np.round(noise), -32768, 32767).astype(np.int16)


@pytest.mark.slow  # compiles numba's parallel kernels
@pytest.mark.parametrize("precision", ["q15", "q31"])
def test_parallel_path_matches_arm_mfcc(precision):
    config = M.MfccConfig()
    n = config.fft_length
    front_end = M.MfccFrontEnd(config)
    frames16 = _frames(2 * PARALLEL_CHUNK + 37, n, seed=7)
    t = front_end.tables
    if precision == "q15":
        frames = frames16
        inst = cmsisdsp.arm_mfcc_instance_q15()
        cmsisdsp.arm_mfcc_init_q15(inst, n, config.n_mels, config.n_mfcc, t.dct_q15, t.filter_pos,
                                   t.filter_lengths, t.filter_coefs_q15, t.window_q15)
        tmp = np.zeros(cmsisdsp.arm_mfcc_tmp_buffer_size(dt.Q15, n, 1), dtype=np.int32)
        expected = np.array([cmsisdsp.arm_mfcc_q15(inst, f.copy(), tmp)[1] for f in frames])
    else:
        frames = frames16.astype(np.int32) << 16
        inst = cmsisdsp.arm_mfcc_instance_q31()
        cmsisdsp.arm_mfcc_init_q31(inst, n, config.n_mels, config.n_mfcc, t.dct_q31, t.filter_pos,
                                   t.filter_lengths, t.filter_coefs_q31, t.window_q31)
        tmp = np.zeros(cmsisdsp.arm_mfcc_tmp_buffer_size(dt.Q31, n, 1), dtype=np.int32)
        expected = np.array([cmsisdsp.arm_mfcc_q31(inst, f.copy(), tmp)[1] for f in frames])
    got = front_end.mfcc(frames, precision, parallel=True)
    np.testing.assert_array_equal(got, expected)
    assert len(np.unique(got[:, 0])) > 50  # the frames are varied, not one repeated vector
