"""tools/train_data.py's PCM augmentation: the golden models' draws unchanged, noise at the stated
SNR (white, pink, babble; over the word or over the padding too), babble from the same speaker's
training recordings only, the vocal-tract-length warp moving a tone by its factor, the tempo
perturbation framing a copy at another hop and leaving every other draw as it was."""

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"
sys.path.insert(0, str(TOOLS))

import train_data  # noqa: E402
from train_data import AugmentConfig, augment  # noqa: E402

RATE = 8000


def word(n=4000, f=440.0):
    """int16 [n]: a Gaussian-windowed tone, a stand-in for a word."""
    t = np.arange(n)
    return (8000 * np.sin(2 * np.pi * f * t / RATE) * np.exp(-((t - n / 2) / 900.0) ** 2)).astype(np.int16)


def digest(x):
    return hashlib.sha256(np.asarray(x, "<i2").tobytes()).hexdigest()


def test_default_augmentation_is_the_golden_models():
    # frozen: the copies of the augmentation the golden models were trained with (before the
    # noise kinds, VTLP and noise over the padding were added)
    frozen = {1: (4195, "63f1ecff1648657f1f89d20b40c37605b4f9cab4dcd6fbb2b025f3e8c3caa315"),
              2: (5340, "2232a12e3e7713189c3c765c223790c40f9e623a7eb01fdfdb77612b6c71dfd4"),
              3: (5045, "179e1b99dac96f9bdb3fb17bf5d5a9da7fbc8ad6e9695211e1fdc5b73d9ec078")}
    for k, (size, sha) in frozen.items():
        y = augment(word(), np.random.default_rng([7, k]), AugmentConfig())
        assert (y.size, digest(y)) == (size, sha)


def plain(**kw):
    """No speed, warp, gain or padding change; noise always, at exactly ``snr_db``."""
    base = dict(speed=(1.0, 1.0), gain_db=(0.0, 0.0), noise_prob=1.0, pad_start=0, pad_end=0)
    base.update(kw)
    return AugmentConfig(**base)


def rms(x):
    return np.sqrt(np.mean(np.asarray(x, np.float64) ** 2))


@pytest.mark.parametrize("kind", ["white", "pink", "babble"])
def test_noise_at_the_stated_snr(kind):
    x = word()
    pool = [word(3000, 300.0), word(2500, 700.0), word(3500, 1200.0)]
    for snr in (0.0, 10.0, 25.0):
        y = augment(x, np.random.default_rng(1), plain(noise_kinds=(kind,), snr_db=(snr, snr)), pool)
        got = 20 * np.log10(rms(x) / rms(y.astype(np.float64) - x))
        assert abs(got - snr) < 0.05, (kind, snr, got)  # rounding to int16 only


def test_noise_over_the_padding_covers_it():
    x = word()
    for over in (False, True):
        cfg = plain(noise_kinds=("pink",), snr_db=(10.0, 10.0), pad_end=800, noise_over_padding=over)
        y = augment(x, np.random.default_rng(3), cfg)
        post = y.size - x.size
        assert post > 100  # (this seed's draw)
        tail = np.count_nonzero(y[x.size:])
        assert tail > 0.9 * post if over else tail == 0
        # the noise level is set by the word alone, not diluted by the padding
        noise = y.astype(np.float64) - np.concatenate([x, np.zeros(post)])
        assert abs(20 * np.log10(rms(x) / rms(noise[:x.size])) - 10.0) < 0.3


def test_babble_is_made_of_the_pool_only():
    x = np.zeros(2000, np.int16)
    x[0] = 1000  # a non-zero RMS, so that the noise has a level
    pool = [word(3000, 300.0)]  # one talker: the noise is a scaled, shifted copy of it
    y = augment(x, np.random.default_rng(5), plain(noise_kinds=("babble",), snr_db=(-40.0, -40.0)), pool)
    noise = y.astype(np.float64) - x
    tiled = np.tile(pool[0].astype(np.float64), 3)
    def similarity(shift):
        ref = tiled[shift + 1:shift + 2000]
        return abs(np.dot(noise[1:], ref)) / (np.linalg.norm(noise[1:]) * np.linalg.norm(ref))

    corr = max(similarity(s) for s in range(3000))
    assert corr > 0.999
    # without a pool, babble adds nothing
    assert np.array_equal(augment(x, np.random.default_rng(5), plain(noise_kinds=("babble",)), []), x)


class FakeRecording:
    def __init__(self, name, speaker, split, f):
        self.name, self.speaker, self.split, self.index, self.label = name, speaker, split, 0, "0"
        self._pcm = word(1200, f)

    def samples(self):
        return self._pcm


def test_babble_pool_is_the_same_speakers_training_recordings(monkeypatch):
    recs = [FakeRecording(f"0_{s}_{i}.wav", s, split, 200.0 + 50 * i + (0 if s == "a" else 1000))
            for s in ("a", "b") for i, split in enumerate(("train", "train", "train", "test"))]
    seen = []

    def spy(pcm, rng, cfg, pool=(), sample_rate=None):
        seen.append((pcm.tobytes(), [p.tobytes() for p in pool]))
        return pcm

    monkeypatch.setattr(train_data, "augment", spy)
    monkeypatch.setattr(train_data, "class_name", lambda rec: "0")
    train_data.build_features(recs, aug=AugmentConfig(copies=1, noise_kinds=("babble",)))
    by_pcm = {r.samples().tobytes(): r for r in recs}
    assert len(seen) == 6  # one copy of each training recording
    for pcm, pool in seen:
        rec = by_pcm[pcm]
        members = [by_pcm[p] for p in pool]
        assert rec not in members and len(members) == 2
        assert all(m.speaker == rec.speaker and m.split == "train" for m in members)


def test_vtlp_source_bins_fix_the_ends_and_invert_the_warp():
    for alpha in (0.8, 0.9, 1.0, 1.1, 1.25):
        src = train_data.vtlp_source_bins(alpha, 129)
        assert src[0] == 0 and abs(src[-1] - 128) < 1e-9 and np.all(np.diff(src) > 0)
        knee = train_data.VTLP_KNEE * 128 * min(alpha, 1.0) / alpha
        low = np.arange(129) <= alpha * knee
        np.testing.assert_allclose(src[low] * alpha, np.arange(129)[low], rtol=0, atol=1e-9)


@pytest.mark.parametrize("alpha", [0.88, 0.94, 1.06, 1.12])
def test_vtlp_moves_a_tone_by_its_factor(alpha):
    t = np.arange(RATE)
    for f in (500.0, 1000.0, 2000.0):
        y = train_data.vtlp_warp(10000 * np.sin(2 * np.pi * f * t / RATE), alpha)
        assert y.size == RATE
        spectrum = np.abs(np.fft.rfft(y[1000:-1000] * np.hanning(RATE - 2000)))
        freqs = np.fft.rfftfreq(RATE - 2000, 1 / RATE)
        band = np.abs(freqs - alpha * f) < 100
        centroid = np.sum(freqs[band] * spectrum[band] ** 2) / np.sum(spectrum[band] ** 2)
        assert abs(centroid - alpha * f) < RATE / train_data.VTLP_FRAME, (f, centroid)  # one STFT bin
        assert (spectrum[band] ** 2).sum() > 0.9 * (spectrum ** 2).sum()  # the tone moved, not smeared


def test_vtlp_with_factor_one_is_the_identity():
    x = word().astype(np.float64)
    # the phase re-accumulated hop by hop: float error only, far below the int16 rounding
    np.testing.assert_allclose(train_data.vtlp_warp(x, 1.0), x, rtol=0, atol=0.05)


def test_tempo_frames_each_copy_at_its_own_hop(monkeypatch):
    # each copy's features are the MFCC of frames cut h samples apart (sliced here by hand), for one
    # h per copy in round(128 · [0.8, 1.25]); the original keeps the hop, 128
    from fixedrnn.mfcc import MfccConfig, MfccFrontEnd

    rec = FakeRecording("3_a_0.wav", "a", "train", 500.0)
    rec._pcm = word(4000, 500.0)
    monkeypatch.setattr(train_data, "augment", lambda pcm, rng, cfg, pool=(), sample_rate=None: pcm)
    monkeypatch.setattr(train_data, "class_name", lambda rec: "0")
    feats = train_data.build_features([rec], aug=AugmentConfig(copies=12, tempo=(0.8, 1.25)))
    frontend = MfccFrontEnd(MfccConfig())
    pcm = rec.samples()

    def framed(h):
        starts = range(0, pcm.size - 256 + 1, h)
        return frontend.mfcc_q15(np.stack([pcm[s:s + 256] for s in starts]))

    hops = []
    for i in range(len(feats.lengths)):
        seq = feats.sequence(i)
        match = [h for h in range(96, 168) if len(framed(h)) == len(seq) and np.array_equal(framed(h), seq)]
        assert match, f"copy {feats.copy[i]}: no hop gives its frames"
        hops.append(match[0])
    assert hops[0] == 128
    assert all(102 <= h <= 160 for h in hops[1:]) and len(set(hops[1:])) >= 4
    assert min(hops[1:]) < 128 < max(hops[1:])


def test_tempo_leaves_the_other_draws_and_the_cache_names_alone(monkeypatch):
    rec = FakeRecording("3_a_0.wav", "a", "train", 500.0)
    draws = []

    def spy(pcm, rng, cfg, pool=(), sample_rate=None):
        draws.append(rng.random())
        return pcm

    monkeypatch.setattr(train_data, "augment", spy)
    monkeypatch.setattr(train_data, "class_name", lambda rec: "0")
    off = train_data.build_features([rec], aug=AugmentConfig(copies=3))
    off_draws, draws[:] = list(draws), []
    train_data.build_features([rec], aug=AugmentConfig(copies=3, tempo=(0.8, 1.25)))
    assert draws == off_draws and len(draws) == 3
    assert np.array_equal(off.mfcc, train_data.build_features([rec], aug=AugmentConfig(copies=3, tempo=(1.0, 1.0))).mfcc)
    assert "tempo" not in train_data.augment_key(AugmentConfig())
    assert train_data.augment_key(AugmentConfig(tempo=(0.8, 1.25)))["tempo"] == (0.8, 1.25)
