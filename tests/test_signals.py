"""fixedrnn.signals: the synthetic golden inputs, checked against independent formulas and oracles."""

import math

import numpy as np
import pytest
import scipy.signal
import scipy.stats

from fixedrnn import signals
from fixedrnn.errors import FixedRnnError


def test_uniforms_match_numpy_generator():
    # NumPy's Generator.random() documents the same construction (top 53 bits of the raw stream).
    for seed in (0, 1, 12345):
        expected = np.random.Generator(np.random.PCG64(seed)).random(1000)
        np.testing.assert_array_equal(signals.uniforms(seed, 1000), expected)


def test_gaussians_are_standard_normal():
    values = signals.gaussians(7, 20001)
    assert values.shape == (20001,)
    assert scipy.stats.kstest(values, "norm").pvalue > 0.01


def test_tone_is_the_rounded_sine():
    spec = signals.SignalSpec("t", "tone", 500, params=(("amplitude", 0.5), ("freq", 440.0)))
    expected = [max(-32768, min(32767, round(32767 * 0.5 * math.sin(2 * math.pi * 440.0 * k / 8000))))
                for k in range(500)]
    np.testing.assert_array_equal(signals.generate(spec), np.array(expected, np.int16))


def test_chirp_matches_scipy():
    spec = signals.standard_signal("chirp_up")
    t = np.arange(spec.n) / spec.sample_rate
    reference = 0.5 * scipy.signal.chirp(t, f0=100.0, t1=spec.n / spec.sample_rate, f1=3900.0,
                                         method="linear", phi=-90.0)
    got = signals.generate(spec).astype(np.int64)
    # the same formula evaluated in a different order: equal after rounding to int16
    np.testing.assert_array_equal(got, np.clip(np.rint(32767 * reference), -32768, 32767))


def test_tone_frequency_by_fft():
    spec = signals.standard_signal("tone_1khz")
    spectrum = np.abs(np.fft.rfft(signals.generate(spec).astype(np.float64)))
    assert np.argmax(spectrum) * spec.sample_rate / spec.n == 1000.0


def test_clipping_and_full_scale():
    clipped = signals.generate(signals.standard_signal("clipped_tone"))
    assert clipped.min() == -32768 and clipped.max() == 32767
    assert np.mean((clipped == 32767) | (clipped == -32768)) > 0.5
    square = signals.generate(signals.standard_signal("full_scale_square"))
    assert set(np.unique(square).tolist()) == {-32767, 32767}
    assert not signals.generate(signals.standard_signal("silence")).any()
    impulse = signals.generate(signals.standard_signal("impulse"))
    assert np.flatnonzero(impulse).tolist() == [2000] and impulse[2000] == 32767


def test_standard_set_is_deterministic_and_distinct():
    names = [s.name for s in signals.STANDARD_SIGNALS]
    assert len(set(names)) == len(names)
    for spec in signals.STANDARD_SIGNALS:
        first, second = signals.generate(spec), signals.generate(spec)
        assert first.dtype == np.int16 and first.shape == (spec.n,)
        np.testing.assert_array_equal(first, second)


def test_bad_specs():
    with pytest.raises(FixedRnnError, match="kind"):
        signals.SignalSpec("x", "whistle", 10)
    with pytest.raises(FixedRnnError, match="params"):
        signals.SignalSpec("x", "tone", 10, params=(("freq", 1.0),))
    with pytest.raises(FixedRnnError, match="n:"):
        signals.SignalSpec("x", "silence", 0)
    with pytest.raises(FixedRnnError, match="params"):
        signals.SignalSpec("x", "tone", 10, params=(("freq", float("nan")), ("amplitude", 1.0)))
    with pytest.raises(FixedRnnError, match="name"):
        signals.standard_signal("nope")
