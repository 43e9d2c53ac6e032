"""The MFCC front end against CMSIS-DSP (the ``cmsisdsp`` package): tables and every coefficient.

Every comparison is exact (0 LSB): ``arm_mfcc_q15`` / ``arm_mfcc_q31`` are initialised with the
tables of :func:`fixedrnn.mfcc.make_tables` and run frame by frame.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fixedrnn import mfcc as M
from fixedrnn.errors import FixedRnnError

cmsisdsp = pytest.importorskip("cmsisdsp")
import cmsisdsp.datatype as dt  # noqa: E402
import cmsisdsp.mfcc as cmsis_mfcc  # noqa: E402
import scipy.signal  # noqa: E402

#: Oracle configurations: the project default, 16 kHz / 512, other filter counts and a Hann
#: window, and the two extreme FFT lengths.
CONFIGS = {
    "8k-256": M.MfccConfig(),
    "16k-512": M.MfccConfig(sample_rate=16000, fft_length=512, hop=256, fmin=64.0, fmax=8000.0),
    "8k-256-32mel-hann": M.MfccConfig(n_mels=32, n_mfcc=20, window="hann", fmin=40.0, fmax=3800.0),
    "16k-1024-40mel": M.MfccConfig(sample_rate=16000, fft_length=1024, hop=320, n_mels=40, n_mfcc=10),
    "8k-128-12mel": M.MfccConfig(fft_length=128, hop=64, n_mels=12, n_mfcc=12, window="hann"),
}
CONFIG_IDS = list(CONFIGS)


class Oracle:
    """``arm_mfcc_q15`` / ``arm_mfcc_q31`` of cmsisdsp initialised with our tables, one frame at a time."""

    def __init__(self, config):
        t = M.make_tables(config)
        n = config.fft_length
        self.q15 = cmsisdsp.arm_mfcc_instance_q15()
        assert cmsisdsp.arm_mfcc_init_q15(self.q15, n, config.n_mels, config.n_mfcc, t.dct_q15,
                                          t.filter_pos, t.filter_lengths, t.filter_coefs_q15, t.window_q15) == 0
        self.q31 = cmsisdsp.arm_mfcc_instance_q31()
        assert cmsisdsp.arm_mfcc_init_q31(self.q31, n, config.n_mels, config.n_mfcc, t.dct_q31,
                                          t.filter_pos, t.filter_lengths, t.filter_coefs_q31, t.window_q31) == 0
        self.tmp15 = np.zeros(cmsisdsp.arm_mfcc_tmp_buffer_size(dt.Q15, n, 1), dtype=np.int32)
        self.tmp31 = np.zeros(cmsisdsp.arm_mfcc_tmp_buffer_size(dt.Q31, n, 1), dtype=np.int32)
        self.n_mfcc = config.n_mfcc

    def mfcc_q15(self, frames):
        out = [cmsisdsp.arm_mfcc_q15(self.q15, f.copy(), self.tmp15)[1] for f in frames]
        return np.array(out, dtype=np.int16).reshape(-1, self.n_mfcc)

    def mfcc_q31(self, frames):
        out = [cmsisdsp.arm_mfcc_q31(self.q31, f.copy(), self.tmp31)[1] for f in frames]
        return np.array(out, dtype=np.int32).reshape(-1, self.n_mfcc)


_FRONT_ENDS = {}


def front_end_and_oracle(name):
    if name not in _FRONT_ENDS:
        _FRONT_ENDS[name] = (M.MfccFrontEnd(CONFIGS[name]), Oracle(CONFIGS[name]))
    return _FRONT_ENDS[name]


def assert_bit_exact(name, frames16, frames31=None):
    front_end, oracle = front_end_and_oracle(name)
    frames16 = np.ascontiguousarray(frames16, dtype=np.int16)
    np.testing.assert_array_equal(front_end.mfcc_q15(frames16), oracle.mfcc_q15(frames16))
    frames31 = frames16.astype(np.int32) << 16 if frames31 is None else np.ascontiguousarray(frames31)
    np.testing.assert_array_equal(front_end.mfcc_q31(frames31), oracle.mfcc_q31(frames31))


# ---------------------------------------------------------------------------------------------
# tables


@pytest.mark.parametrize("name", CONFIG_IDS)
def test_tables_equal_cmsisdsp_helpers(name):
    config = CONFIGS[name]
    tables = M.make_tables(config)
    for fmt, suffix in ((dt.Q15, "q15"), (dt.Q31, "q31")):
        lengths, positions, packed = cmsis_mfcc.melFilterMatrix(
            fmt, config.fmin, config.fmax, config.n_mels, config.sample_rate, config.fft_length)
        np.testing.assert_array_equal(tables.filter_lengths, lengths)
        np.testing.assert_array_equal(tables.filter_pos, positions)
        np.testing.assert_array_equal(getattr(tables, f"filter_coefs_{suffix}"), packed)
        np.testing.assert_array_equal(getattr(tables, f"dct_{suffix}"),
                                      cmsis_mfcc.dctMatrix(fmt, config.n_mfcc, config.n_mels))
        shape = getattr(scipy.signal.windows, config.window)
        np.testing.assert_array_equal(getattr(tables, f"window_{suffix}"),
                                      dt.convert(shape(config.fft_length, sym=False), fmt))


def test_table_dtypes_and_sizes_are_cmsis_storage():
    config = CONFIGS["8k-256"]
    tables = M.make_tables(config)
    arrays = tables.arrays("q15")
    assert arrays["window"].dtype == np.int16 and arrays["window"].shape == (256,)
    assert arrays["filter_pos"].dtype == np.uint32 and arrays["filter_pos"].shape == (20,)
    assert arrays["filter_lengths"].dtype == np.uint32
    assert arrays["filter_coefs"].shape == (int(tables.filter_lengths.sum()),)
    assert arrays["dct"].dtype == np.int16 and arrays["dct"].shape == (13 * 20,)
    assert tables.arrays("q31")["dct"].dtype == np.int32
    assert tables.nbytes("q31") > tables.nbytes("q15")
    with pytest.raises(FixedRnnError, match="precision"):
        tables.arrays("q7")


@pytest.mark.parametrize("kwargs, message", [
    ({"fft_length": 300}, "fft_length"),
    ({"hop": 0}, "hop"),
    ({"hop": 257}, "hop"),
    ({"n_mfcc": 21}, "n_mfcc"),
    ({"fmax": 4001.0}, "fmax"),
    ({"fmin": 4000.0}, "fmin"),
    ({"fmin": -1.0}, "fmin"),
    ({"window": "blackman"}, "window"),
    ({"too_short": "drop"}, "too_short"),
    ({"pad_end": 1}, "pad_end"),
    ({"sample_rate": 8000.0}, "sample_rate"),
    ({"n_mels": 100}, "n_mels"),
])
def test_config_rejects_bad_values_naming_them(kwargs, message):
    with pytest.raises(FixedRnnError, match=message):
        M.MfccConfig(**kwargs)


# ---------------------------------------------------------------------------------------------
# bit-exact on synthetic frames, for every oracle configuration


def _synthetic_frames(config, rng):
    n, fs = config.fft_length, config.sample_rate
    t = np.arange(n)
    cases = [
        np.zeros(n),                                        # silence
        np.where(t == n // 3, 1, 0),                        # a single non-zero sample
        np.where(t == 0, -32768, 0),                        # a single full-scale negative sample
        np.where(t % 2 == 0, 32767, -32768),                # full-scale square wave at Nyquist
        np.where((t // 8) % 2 == 0, 32767, -32768),         # full-scale square wave, period 16
        np.where((t // 37) % 2 == 0, 32767, -32768),
        np.full(n, 32767), np.full(n, -32768), np.full(n, 1), np.full(n, -1), np.full(n, 1000),  # DC
    ]
    for freq in np.linspace(fs / n, fs / 2 - fs / n, 17):   # pure tones across the band
        for amplitude in (32767, 3000, 40):
            cases.append(np.round(amplitude * np.sin(2 * np.pi * freq * t / fs + 0.3)))
    chirp = np.sin(2 * np.pi * (100 + 1500 * t / n) * t / fs) * 40000   # clipped
    cases.append(np.clip(np.round(chirp), -32768, 32767))
    cases += [rng.integers(-32768, 32768, n), rng.integers(-5, 6, n), rng.normal(0, 2000, n).round()]
    return np.clip(np.array(cases), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize("name", CONFIG_IDS)
def test_bit_exact_on_synthetic_frames(name):
    rng = np.random.default_rng(7)
    assert_bit_exact(name, _synthetic_frames(CONFIGS[name], rng))


@pytest.mark.parametrize("name", CONFIG_IDS)
def test_bit_exact_on_random_int16_frames(name):
    rng = np.random.default_rng(11)
    n = CONFIGS[name].fft_length
    scales = 2.0 ** rng.uniform(0, 15, (120, 1))
    frames = np.clip(np.round(rng.standard_normal((120, n)) * scales), -32768, 32767).astype(np.int16)
    assert_bit_exact(name, frames)


@pytest.mark.parametrize("name", ["8k-256", "16k-512"])
def test_q31_bit_exact_on_full_range_int32_frames(name):
    rng = np.random.default_rng(3)
    n = CONFIGS[name].fft_length
    frames31 = rng.integers(-(2**31), 2**31, (60, n)).astype(np.int32)
    frames31[0] = np.where(np.arange(n) % 2, 2**31 - 1, -(2**31))
    frames31[1] = -(2**31)
    frames31[2] = 0
    frames31[2, 9] = 1
    front_end, oracle = front_end_and_oracle(name)
    np.testing.assert_array_equal(front_end.mfcc_q31(frames31), oracle.mfcc_q31(frames31))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_bit_exact_on_hypothesis_frames(data):
    name = data.draw(st.sampled_from(CONFIG_IDS))
    n = CONFIGS[name].fft_length
    frames = data.draw(hnp.arrays(np.int16, (data.draw(st.integers(1, 3)), n),
                                  elements=st.integers(-32768, 32767)))
    shift = data.draw(st.integers(0, 15))
    assert_bit_exact(name, frames >> shift)


@settings(max_examples=30, deadline=None)
@given(frames=hnp.arrays(np.int32, (2, 256), elements=st.integers(-(2**31), 2**31 - 1)))
def test_q31_bit_exact_on_hypothesis_frames(frames):
    front_end, oracle = front_end_and_oracle("8k-256")
    np.testing.assert_array_equal(front_end.mfcc_q31(frames), oracle.mfcc_q31(frames))


def test_silence_gives_the_log_of_the_rounding_offset():
    # all-zero frame: no normalisation, mel sums (0 + 537) >> 10 = 0, ln(0) wraps (see log_q31)
    out = M.mfcc_q15(np.zeros((1, 256), np.int16))
    assert out.dtype == np.int16 and out.shape == (1, 13)
    np.testing.assert_array_equal(out, front_end_and_oracle("8k-256")[1].mfcc_q15(np.zeros((1, 256), np.int16)))


def test_functions_accept_config_or_front_end_and_check_input():
    front_end = M.MfccFrontEnd(CONFIGS["8k-128-12mel"])
    frames = np.ones((2, 128), np.int16)
    np.testing.assert_array_equal(M.mfcc_q15(frames, front_end), M.mfcc_q15(frames, CONFIGS["8k-128-12mel"]))
    with pytest.raises(FixedRnnError, match="frames"):
        M.mfcc_q15(np.ones((2, 256), np.int32))
    with pytest.raises(FixedRnnError, match="frames"):
        M.mfcc_q15(np.ones((2, 200), np.int16))
    with pytest.raises(FixedRnnError, match="frames"):
        M.mfcc_q31(np.ones((2, 256), np.int16))
    with pytest.raises(FixedRnnError, match="precision"):
        front_end.mfcc(frames, "q7")


# ---------------------------------------------------------------------------------------------
# real speech: every frame of every FSDD test recording


def _fsdd_test_frames(fsdd_dir, config):
    from fixedrnn.fsdd import list_recordings, read_samples

    chunks = []
    for recording in list_recordings(fsdd_dir, split="test"):
        pcm = M.read_wav(recording.path, config)
        np.testing.assert_array_equal(pcm, read_samples(recording.path))
        chunks.append(M.frames(pcm, config))
    return np.concatenate(chunks)


@pytest.mark.parametrize("name", ["8k-256", "8k-256-32mel-hann"])
def test_bit_exact_on_every_fsdd_test_frame(fsdd_dir, name):
    frames = _fsdd_test_frames(fsdd_dir, CONFIGS[name])
    assert frames.shape[0] > 5000
    assert_bit_exact(name, frames)


def test_bit_exact_on_clipped_fsdd_speech(fsdd_dir):
    frames = _fsdd_test_frames(fsdd_dir, CONFIGS["8k-256"])[::4]
    clipped = np.clip(frames.astype(np.int32) * 16, -32768, 32767).astype(np.int16)
    assert np.count_nonzero(np.abs(clipped) == 32767) > 1000
    assert_bit_exact("8k-256", clipped)
