"""fixedrnn.streams: test streams are deterministic, words sit where stated, noise has the stated SNR,
and detections are scored as documented."""

import numpy as np

from fixedrnn.streams import build_stream, score_detections


def items():
    rng = np.random.default_rng(0)
    return [(d, f"{d}.wav", np.rint(rng.normal(0, 1000 * (d + 1), 2000 + 100 * d)).astype(np.int16))
            for d in range(3)]


def test_deterministic_words_in_place_and_levels_equal():
    a, b = build_stream(items(), seed=1), build_stream(items(), seed=1)
    np.testing.assert_array_equal(a.pcm, b.pcm)
    assert a.words == b.words
    rms = [np.sqrt(np.mean(a.pcm[w.start:w.end].astype(float) ** 2)) for w in a.words]
    assert max(rms) / min(rms) < 1.01
    assert not a.pcm[:a.words[0].start].any()


def test_noise_power_gives_the_snr():
    s = build_stream(items(), seed=2, snr_db=20.0, gap_s=(2.0, 2.0))
    clean = build_stream(items(), seed=2, gap_s=(2.0, 2.0))
    level = np.sqrt(np.mean(clean.pcm[s.words[0].start:s.words[0].end].astype(float) ** 2))
    gap = s.pcm[:s.words[0].start].astype(float)
    snr = 20 * np.log10(level / np.sqrt(np.mean(gap ** 2)))
    assert abs(snr - 20.0) < 0.2


def test_scoring():
    s = build_stream(items(), seed=3, gap_s=(1.0, 1.0))
    w = [(x.start / 8000, x.end / 8000) for x in s.words]
    dets = [(0, w[0][1] + 0.1), (2, w[1][1] + 0.2), (1, w[1][1] + 0.25), (1, w[2][0] - 0.5)]
    score = score_detections(s, dets, tolerance_s=0.3)
    assert (score.detected, score.substitutions, score.false_alarms) == (2, 1, 1)
    assert np.allclose(sorted(score.latencies), [0.1, 0.25])
