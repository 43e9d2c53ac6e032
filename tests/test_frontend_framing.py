"""Framing and streaming: frame counts from exact arithmetic, streaming equal to batch."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixedrnn import mfcc as M
from fixedrnn.errors import FixedRnnError


def _expected_frames(pcm, config):
    """Frames by the definition: frame t = samples [t·hop, t·hop + N), zeros past the end."""
    n, hop = config.fft_length, config.hop
    if pcm.size < n:
        count = {"pad": 1, "empty": 0}[config.too_short]
    elif config.pad_end:
        count = 1
        while (count - 1) * hop + n < pcm.size:
            count += 1
    else:
        count = 1
        while count * hop + n <= pcm.size:
            count += 1
    out = np.zeros((count, n), np.int16)
    for t in range(count):
        piece = pcm[t * hop: t * hop + n]
        out[t, : piece.size] = piece
    return out


@settings(max_examples=150, deadline=None)
@given(length=st.integers(0, 1500), hop=st.sampled_from([1, 50, 64, 128, 256]),
       pad_end=st.booleans(), too_short=st.sampled_from(["pad", "empty"]))
def test_frames_follow_the_definition(length, hop, pad_end, too_short):
    config = M.MfccConfig(hop=hop, pad_end=pad_end, too_short=too_short)
    pcm = (np.arange(length) % 30000 - 15000).astype(np.int16)
    expected = _expected_frames(pcm, config)
    got = M.frames(pcm, config)
    assert got.dtype == np.int16
    np.testing.assert_array_equal(got, expected)
    assert M.frame_count(length, config) == expected.shape[0]


def test_too_short_error_and_bad_pcm():
    with pytest.raises(FixedRnnError, match="too_short"):
        M.frames(np.zeros(100, np.int16), M.MfccConfig(too_short="error"))
    with pytest.raises(FixedRnnError, match="pcm"):
        M.frames(np.zeros(1000, np.float32))
    with pytest.raises(FixedRnnError, match="pcm"):
        M.frames(np.zeros((2, 1000), np.int16))


_FRONT_END = M.MfccFrontEnd(M.MfccConfig(hop=100, pad_end=True))


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_streaming_equals_batch_for_random_chunkings(data):
    pad_end = data.draw(st.booleans())
    precision = data.draw(st.sampled_from(["q15", "q31"]))
    front_end = _FRONT_END if pad_end else M.MfccFrontEnd(M.MfccConfig(hop=100))
    length = data.draw(st.integers(0, 2500))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    pcm = rng.integers(-20000, 20000, length).astype(np.int16)
    cuts = sorted(data.draw(st.lists(st.integers(0, length), max_size=8)))
    stream = M.StreamingMfcc(front_end=front_end, precision=precision)
    got_frames, got_features = [], []
    for chunk in np.split(pcm, cuts):
        f, x = stream.push(chunk)
        got_frames.append(f)
        got_features.append(x)
    f, x = stream.flush()
    got_frames.append(f)
    got_features.append(x)
    expected_frames = M.frames(pcm, front_end.config)
    np.testing.assert_array_equal(np.concatenate(got_frames), expected_frames)
    np.testing.assert_array_equal(np.concatenate(got_features), M.mfcc(pcm, front_end, precision))


def test_streaming_a_recording_in_random_chunks_equals_batch(fsdd_dir):
    from fixedrnn.fsdd import list_recordings

    front_end = M.MfccFrontEnd()
    rng = np.random.default_rng(5)
    for recording in list_recordings(fsdd_dir, split="test")[:12]:
        pcm = M.read_wav(recording.path)
        stream = M.StreamingMfcc(front_end=front_end)
        cuts = np.sort(rng.integers(0, pcm.size, rng.integers(1, 30)))
        features = [stream.push(chunk)[1] for chunk in np.split(pcm, cuts)] + [stream.flush()[1]]
        np.testing.assert_array_equal(np.concatenate(features), front_end.mfcc_q15(M.frames(pcm)))


def test_stream_resets_after_flush_and_checks_input():
    stream = M.StreamingMfcc()
    stream.push(np.ones(1000, np.int16))
    stream.flush()
    f, x = stream.push(np.ones(256, np.int16))
    assert f.shape == (1, 256) and x.shape == (1, 13)
    with pytest.raises(FixedRnnError, match="pcm"):
        stream.push(np.ones(10, np.int32))
    with pytest.raises(FixedRnnError, match="precision"):
        M.StreamingMfcc(precision="f32")
