"""fixedrnn.noise: noise kinds checked by their defining properties (power, spectrum, talkers),
determinism per file name, and the evaluate plumbing (a negligible noise leaves every logit as it
was; the CLI refuses half a noise specification)."""

import numpy as np
import pytest
import scipy.signal

from fixedrnn import noise
from fixedrnn.errors import FixedRnnError


def _speech(n, seed):
    rng = np.random.default_rng(seed)
    return np.clip(np.rint(3000 * np.sin(np.arange(n) * 0.05) * rng.uniform(0.5, 1.5, n)),
                   -32768, 32767).astype(np.int16)


@pytest.mark.parametrize("snr", [30.0, 20.0, 10.0, 5.0, 0.0])
@pytest.mark.parametrize("kind", ["white", "pink"])
def test_added_noise_has_the_stated_power(kind, snr):
    speech = _speech(8000, 1)
    out = noise.add_noise([speech], ["1_a_0.wav"], ["a"], noise.NoiseSpec(kind, snr))[0]
    added = out.astype(np.float64) - speech
    p_speech = np.mean(speech.astype(np.float64) ** 2)
    p_target = p_speech / 10 ** (snr / 10)
    # rounding to integers moves each sample by at most 1/2: |rms(added) - rms(target)| <= 1/2
    assert abs(np.sqrt(np.mean(added ** 2)) - np.sqrt(p_target)) <= 0.5


def _octave_slope_db(x, fs=8000):
    f, p = scipy.signal.welch(x, fs=fs, nperseg=1024)
    keep = (f >= 62.5) & (f <= 2000)
    return np.polyfit(np.log2(f[keep]), 10 * np.log10(p[keep]), 1)[0]


def test_pink_falls_3_db_per_octave_and_white_is_flat():
    rng = np.random.default_rng(0)
    assert -3.5 < _octave_slope_db(noise.pink(1 << 18, rng)) < -2.5
    assert -0.5 < _octave_slope_db(noise.white(1 << 18, rng)) < 0.5


@pytest.mark.parametrize("kind", noise.KINDS)
def test_unit_rms(kind):
    rng = np.random.default_rng(3)
    x = noise.babble(5000, rng, [_speech(900, 2), _speech(7000, 3)]) if kind == "babble" \
        else getattr(noise, kind)(5000, rng)
    assert np.sqrt(np.mean(x * x)) == pytest.approx(1.0, rel=1e-12)


def _set(n=12):
    names = [f"{i % 10}_{'abc'[i % 3]}_{i}.wav" for i in range(n)]
    speakers = ["abc"[i % 3] for i in range(n)]
    samples = [_speech(2000 + 37 * i, i) for i in range(n)]
    return samples, names, speakers


def test_babble_talkers_are_others_by_other_speakers():
    _, names, speakers = _set()
    for i in range(len(names)):
        chosen = noise.babble_talkers(names, speakers, i, np.random.default_rng(i))
        assert i not in chosen and len(set(chosen)) == len(chosen) == noise.BABBLE_TALKERS
        assert all(speakers[j] != speakers[i] for j in chosen)


def test_babble_falls_back_to_the_same_speaker_and_refuses_a_single_file():
    names, speakers = ["1_a_0.wav", "2_a_1.wav", "3_b_0.wav"], ["a", "a", "b"]
    assert sorted(noise.babble_talkers(names, speakers, 0, np.random.default_rng(0))) == [1, 2]
    with pytest.raises(FixedRnnError, match="at least two recordings"):
        noise.babble_talkers(["1_a_0.wav"], ["a"], 0, np.random.default_rng(0))


@pytest.mark.parametrize("kind", noise.KINDS)
def test_a_file_gets_the_same_noise_whatever_the_order_of_the_set(kind):
    samples, names, speakers = _set()
    spec = noise.NoiseSpec(kind, 10.0, seed=5)
    out = noise.add_noise(samples, names, speakers, spec)
    order = np.random.default_rng(1).permutation(len(names))
    shuffled = noise.add_noise([samples[i] for i in order], [names[i] for i in order],
                               [speakers[i] for i in order], spec)
    for k, i in enumerate(order):
        np.testing.assert_array_equal(shuffled[k], out[i])
    other_seed = noise.add_noise(samples, names, speakers, noise.NoiseSpec(kind, 10.0, seed=6))
    assert not np.array_equal(other_seed[0], out[0])


def test_saturates_and_keeps_silence():
    loud = np.full(100, 32767, np.int16)
    out = noise.mix(loud, np.ones(100), 0.0)
    np.testing.assert_array_equal(out, loud)
    np.testing.assert_array_equal(noise.mix(np.zeros(50, np.int16), np.ones(50), 10.0), np.zeros(50))


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "brown", "snr_db": 10.0}, "noise: 'brown' is not one of"),
    ({"kind": "white", "snr_db": float("nan")}, "snr: expected a finite number"),
    ({"kind": "white", "snr_db": None}, "snr: expected a finite number"),
    ({"kind": "white", "snr_db": 10.0, "seed": -1}, "noise seed"),
])
def test_spec_refuses_bad_values(kwargs, message):
    with pytest.raises(FixedRnnError, match=message):
        noise.NoiseSpec(**kwargs)
