"""tools/train.py's levers for speakers never heard (issue #17): per-utterance cepstral mean (and
variance) normalisation against Python integers, the synthetic reverberation's impulse response
against its definition, extra training folders (only ever fitted, never validation or test, no
speaker shared with the data), and the training voices disjoint from the evaluation voices."""

import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io.wavfile

TOOLS = Path(__file__).resolve().parents[1] / "tools"
sys.path.insert(0, str(TOOLS))

import synth_voices  # noqa: E402
import train_data  # noqa: E402
from fixedrnn import fsdd, model as model_io  # noqa: E402
from fixedrnn.errors import FixedRnnError  # noqa: E402

RATE = 8000


def feature_set(seqs, silent):
    """A :class:`train_data.FeatureSet` of int16 sequences ``seqs`` (lists of frames)."""
    n = len(seqs)
    return train_data.FeatureSet(
        mfcc=np.concatenate([np.array(s, np.int16) for s in seqs]), lengths=np.array([len(s) for s in seqs]),
        labels=np.zeros(n, int), names=np.array([f"{i}_x_{i}.wav" for i in range(n)]), copy=np.zeros(n, int),
        index=np.arange(n), speaker=np.array(["x"] * n), split=np.array(["train"] * n),
        silent=np.array(silent, np.int16))


SEQS = [[[100, -7], [-3, 5], [40, 9]],  # 3 frames: padded to 4
        [[1, 2], [3, -4], [-5, 6], [7, -8], [9, 10], [-11, 30001]]]  # 6 frames: the last 4 kept
SILENT = [-300, 17]


def window_of(seq, frames):
    """The fitted window (Python lists) and the number of the recording's own frames in it."""
    own = seq[-frames:]
    return [list(SILENT)] * (frames - len(own)) + [list(f) for f in own], len(own)


def half_away(v):
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


@pytest.mark.parametrize("mode", ["utterance", "window"])
@pytest.mark.parametrize("variance", [False, True])
def test_cepstral_normalisation_equals_python_integers(mode, variance):
    got, own = train_data.cepstral_normalised_windows(feature_set(SEQS, SILENT), 4, mode, variance)
    assert got.dtype == np.int16 and got.shape == (2, 4, 2)
    for i, seq in enumerate(SEQS):
        window, k = window_of(seq, 4)
        assert own[i].tolist() == [False] * (4 - k) + [True] * k
        sel = window[4 - k:] if mode == "utterance" else window
        for c in range(2):
            column = [f[c] for f in sel]
            mean = sum(column) // len(column)  # floor division, as the device would
            want = [f[c] - mean for f in window]
            if variance:
                mu = sum(column) / len(column)
                std = max(math.sqrt(sum((v - mu) ** 2 for v in column) / len(column)), 1.0)
                want = [half_away(v * 128 / std) for v in want]
            want = [min(max(v, -32768), 32767) for v in want]
            assert got[i, :, c].tolist() == want, (i, c)


def test_cepstral_normalisation_saturates_and_refuses_unknown_mode():
    got, _ = train_data.cepstral_normalised_windows(feature_set([[[32767], [-32768]]], [0]), 2, "utterance")
    assert got[0, :, 0].tolist() == [32767, -32767]  # mean floor(-1 / 2) = -1: 32768 saturates
    with pytest.raises(ValueError, match="mode"):
        train_data.cepstral_normalised_windows(feature_set(SEQS, SILENT), 4, "off")


def test_impulse_response_direct_path_ratio_and_decay():
    rt60, drr = 0.4, 6.0
    h = train_data.exponential_impulse_response(rt60, drr, RATE, np.random.default_rng(3))
    assert h.size == round(rt60 * RATE) and h[0] == 1.0
    assert 10 * np.log10(1.0 / np.sum(h[1:] ** 2)) == pytest.approx(drr, abs=1e-9)
    # the tail's energy falls by 60 dB per rt60: a line fitted to the log energy of 16 chunks
    chunks = np.array_split(h[1:], 16)
    centres = np.array([np.mean(np.arange(1, h.size)[sum(map(len, chunks[:j])):][:len(c)]) for j, c in
                        enumerate(chunks)]) / RATE
    db = np.array([10 * np.log10(np.mean(c * c)) for c in chunks])
    slope = np.polyfit(centres, db, 1)[0]
    assert slope == pytest.approx(-60.0 / rt60, rel=0.1)


def test_reverberate_keeps_the_tail_and_the_energy():
    x = np.random.default_rng(0).normal(0, 1000, 3000)
    cfg = train_data.AugmentConfig(rt60=(0.25, 0.25), drr_db=(3.0, 3.0))
    y = train_data.reverberate(x, np.random.default_rng(1), cfg, RATE)
    assert y.size == x.size + 2000 - 1
    assert np.sum(y * y) == pytest.approx(np.sum(x * x), rel=1e-9)
    dry = train_data.reverberate(x, np.random.default_rng(1), train_data.AugmentConfig(rt60=(0.25, 0.25),
                                                                                     drr_db=(300.0, 300.0)), RATE)
    np.testing.assert_allclose(dry[:x.size], x, atol=1e-6)  # no tail: the word itself


def test_augment_reverberates_only_when_asked():
    x = (8000 * np.sin(np.arange(4000) * 0.3)).astype(np.int16)
    plain = dict(speed=(1.0, 1.0), gain_db=(0.0, 0.0), noise_prob=0.0, pad_start=0, pad_end=0)
    same = train_data.augment(x, np.random.default_rng(5), train_data.AugmentConfig(**plain))
    np.testing.assert_array_equal(same, x)
    wet = train_data.augment(x, np.random.default_rng(5), train_data.AugmentConfig(
        **plain, reverb_prob=1.0, rt60=(0.2, 0.2)), sample_rate=RATE)
    assert wet.size == x.size + 1600 - 1


def test_cache_key_of_a_configuration_without_reverberation_is_unchanged():
    # the fields (and their order) that named the caches before reverberation existed
    old = {"copies": 8, "speed": [0.88, 1.12], "gain_db": [-12.0, 6.0], "noise_prob": 0.6, "snr_db": [15.0, 45.0],
           "pad_start": 1600, "pad_end": 384, "noise_kinds": ["white"], "noise_over_padding": False,
           "vtlp": [1.0, 1.0]}
    assert json.dumps(train_data.augment_key(train_data.AugmentConfig())) == json.dumps(old)
    assert train_data.augment_key(train_data.AugmentConfig(reverb_prob=0.5))["rt60"] == (0.1, 0.6)
    assert train_data.augment_key(train_data.AugmentConfig(eq_prob=0.5))["eq_db"] == 3.0


def write_fsdd(folder, speakers, indices):
    rec = Path(folder) / "recordings"
    rec.mkdir(parents=True)
    t = np.arange(2400)
    for s, speaker in enumerate(speakers):
        for digit in range(10):
            for i in indices:
                x = (3000 * np.sin(2 * np.pi * (200 + 40 * digit + 7 * s + i) * t / RATE)).astype(np.int16)
                scipy.io.wavfile.write(rec / f"{digit}_{speaker}_{i}.wav", RATE, x)


def test_extra_recordings_are_only_fitted(tmp_path):
    torch = pytest.importorskip("torch", reason="the train extra (PyTorch) is not installed")
    del torch
    import train

    write_fsdd(tmp_path / "main", ["alice", "bob"], range(0, 12))
    write_fsdd(tmp_path / "extra", ["synth"], range(0, 3))  # index 0-4 would be FSDD's test split
    aug = train_data.AugmentConfig(copies=1, speed=(1.0, 1.0), noise_prob=0.0)
    main = fsdd.list_recordings(tmp_path / "main")
    extra = train_data.extra_training_recordings([tmp_path / "extra"], {r.speaker for r in main})
    assert len(extra) == 30 and {r.split for r in extra} == {"train"}
    feats = train_data.concatenate(train_data.build_features(main, aug=aug), train_data.build_features(extra, aug=aug))
    is_extra = feats.speaker == "synth"
    assert is_extra.sum() == 60 and (feats.copy[is_extra] == 1).sum() == 30  # copies of every extra recording
    for holdout in (None, "alice"):
        args = train.parse_args(["--out", "m.npz", "--dataset", "fsdd"] + (["--holdout", holdout] if holdout else []))
        fit, val, test = train.split_masks(feats, args, is_extra)
        assert fit[is_extra].all() and not val[is_extra].any() and not test[is_extra].any()
        base = train.split_masks(feats, args)  # the FSDD recordings' masks are unchanged
        for got, want in zip((fit, val, test), base):
            np.testing.assert_array_equal(got[~is_extra], want[~is_extra])
        if holdout:
            assert set(feats.speaker[test]) == {"alice"} and not fit[feats.speaker == "alice"].any()
    with pytest.raises(FixedRnnError, match="--extra-train: speakers alice are also in the training data"):
        train_data.extra_training_recordings([tmp_path / "main"], {"alice", "carol"})


def base_and_variant(voice):
    base, _, variant = voice.partition("+")
    return base, variant


def test_training_voices_are_disjoint_from_the_evaluation_voices():
    train_parts = [base_and_variant(v) for v in synth_voices.TRAIN_VOICES]
    eval_parts = [base_and_variant(v) for v in synth_voices.VOICES]
    assert not {b for b, _ in train_parts} & {b for b, _ in eval_parts}
    assert not ({v for _, v in train_parts} - {""}) & {v for _, v in eval_parts}
    assert not set(synth_voices.TRAIN_SPEEDS) & set(synth_voices.SPEEDS)
    assert not set(synth_voices.TRAIN_PITCHES) & set(synth_voices.PITCHES)
    names = {synth_voices.voice_name(v) for v in synth_voices.TRAIN_VOICES}
    assert len(names) == len(synth_voices.TRAIN_VOICES)
    assert not names & {synth_voices.voice_name(v) for v in synth_voices.VOICES}


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_train_option_takes_the_training_speeds_and_pitches(tmp_path):
    assert synth_voices.main(["--train", str(tmp_path), "--voices", synth_voices.TRAIN_VOICES[1]]) == 0
    listed = fsdd.list_recordings(tmp_path)
    n = len(synth_voices.TRAIN_SPEEDS) * len(synth_voices.TRAIN_PITCHES)
    assert len(listed) == 10 * n and {r.index for r in listed} == set(range(n))
    assert {r.speaker for r in listed} == {synth_voices.voice_name(synth_voices.TRAIN_VOICES[1])}


@pytest.mark.parametrize("argv, fragment", [
    (["--cvn", "--no-evaluate"], "--cvn"),
    (["--reverb", "1.5"], "--reverb"), (["--reverb", "0.5", "--rt60", "0", "1"], "--rt60"),
    (["--cmn", "mean"], "--cmn"),
    (["--untrimmed", "1.5"], "--untrimmed"), (["--untrimmed", "0.5", "--untrimmed-seconds", "1", "0.5"], "--untrimmed"),
])
def test_bad_lever_arguments_exit_cleanly(capsys, argv, fragment):
    pytest.importorskip("torch", reason="the train extra (PyTorch) is not installed")
    import train

    with pytest.raises(SystemExit) as exc:
        train.parse_args(["--out", "m.npz"] + argv)
    assert exc.value.code == 2 and fragment in capsys.readouterr().err


@pytest.mark.slow
def test_smoke_with_every_lever(fsdd_dir, tmp_path, monkeypatch):
    pytest.importorskip("torch", reason="the train extra (PyTorch) is not installed")
    import train

    monkeypatch.setattr(train_data, "CACHE_DIR", tmp_path / "cache")
    write_fsdd(tmp_path / "extra", ["synth"], range(0, 2))
    out = tmp_path / "m.npz"
    args = train.parse_args(["--data-dir", str(fsdd_dir), "--subset", "1", "--copies", "1", "--epochs", "1",
                             "--qat-epochs", "1", "--units", "8", "--out", str(out), "--no-progress",
                             "--holdout", "george", "--extra-train", str(tmp_path / "extra"), "--reverb", "0.5",
                             "--eq", "0.5", "--cmn", "utterance", "--cvn"])
    result = train.run_training(args)
    assert out.exists() and 0.0 <= result["float_test"] <= 1.0 and 0.0 <= result["integer_test"] <= 1.0
    assert "not a deployable model" in str(model_io.load(out).meta["experiment"])


@pytest.mark.slow
def test_window_cmn_trains_a_deployable_model(fsdd_dir, tmp_path, monkeypatch):
    """--cmn window writes input.cmn = window, no 'experiment' note, and its integer figure is the
    engine's evaluate on the test recordings (the WAV files read again)."""
    pytest.importorskip("torch", reason="the train extra (PyTorch) is not installed")
    import train

    from fixedrnn.evaluate import evaluate_model

    monkeypatch.setattr(train_data, "CACHE_DIR", tmp_path / "cache")
    out = tmp_path / "m.npz"
    args = train.parse_args(["--data-dir", str(fsdd_dir), "--subset", "1", "--copies", "1", "--epochs", "1",
                             "--qat-epochs", "1", "--units", "8", "--out", str(out), "--no-progress",
                             "--cmn", "window"])
    result = train.run_training(args)
    model = model_io.load(out)
    assert model.input.cmn == "window" and "experiment" not in model.meta
    test = [r.path for r in fsdd.list_recordings(fsdd_dir, "test") if r.index == 0]  # --subset 1
    assert result["integer_test"] == evaluate_model(model, test, split="all").accuracy


def test_random_equalise_applies_its_cosine_curve():
    # a tone at frequency f comes out scaled by 10^(Σ a_k cos(π k f / f_N) / 20), a_k drawn as stated
    n, eq_db = 4096, 4.0
    for bin_ in (300, 1000, 1700):
        f = bin_ / (n / 2)  # fraction of Nyquist; the tone sits on an FFT bin of the padded length too
        x = np.sin(np.pi * f * np.arange(n))
        y = train_data.random_equalise(x, np.random.default_rng(9), eq_db)
        a = np.random.default_rng(9).uniform(-eq_db, eq_db, train_data.EQ_TERMS)
        want = 10 ** (sum(a[k - 1] * np.cos(np.pi * k * f) for k in range(1, train_data.EQ_TERMS + 1)) / 20)
        mid = slice(n // 4, 3 * n // 4)  # away from the ends, where the padding's edges ring
        assert np.sqrt(np.mean(y[mid] ** 2)) / np.sqrt(np.mean(x[mid] ** 2)) == pytest.approx(want, rel=0.02)
    assert y.size == n


def test_untrimmed_clip_draws_its_quiet_and_noise_as_stated():
    x = 5000 * np.sin(np.arange(3000) * 0.2)
    rms = float(np.sqrt(np.mean(x * x)))
    cfg = train_data.AugmentConfig(untrimmed_prob=1.0, untrimmed_seconds=(0.2, 0.9), untrimmed_snr_db=(30.0, 40.0))
    y = train_data.untrimmed_clip(x, rms, np.random.default_rng(4), cfg, RATE)
    rng = np.random.default_rng(4)
    lead, trail = int(rng.uniform(0.2, 0.9) * RATE), int(rng.uniform(0.2, 0.9) * RATE)
    snr = rng.uniform(30.0, 40.0)
    assert y.size == lead + x.size + trail
    noise = np.concatenate([y[:lead], y[lead + x.size:]])
    assert np.sqrt(np.mean(noise ** 2)) == pytest.approx(rms * 10 ** (-snr / 20), rel=0.05)
    assert np.max(np.abs(y[lead:lead + x.size] - x)) < 6 * rms * 10 ** (-snr / 20)


def test_untrimmed_copies_are_endpointed_and_only_when_asked(tmp_path):
    """With --untrimmed every augmented copy's features are the endpointed segment of its clip
    (fixedrnn.endpoint on the MFCC's coefficient 0); without, nothing is drawn for it (the golden
    models' copies, and their cache names, unchanged)."""
    import hashlib

    from fixedrnn.endpoint import EndpointConfig, segment
    from fixedrnn.mfcc import MfccFrontEnd

    write_fsdd(tmp_path / "data", ["ann"], range(5, 7))
    recs = fsdd.list_recordings(tmp_path / "data", "all")[:2]
    plain = train_data.AugmentConfig(copies=2)
    assert "untrimmed_prob" not in train_data.augment_key(plain)
    cfg = train_data.AugmentConfig(copies=2, untrimmed_prob=1.0)
    assert train_data.augment_key(cfg)["untrimmed_seconds"] == (0.0, 1.0)
    feats = train_data.build_features(recs, aug=cfg)
    frontend = MfccFrontEnd(train_data.MfccConfig())
    for i in range(len(feats.lengths)):
        rec = recs[list(r.name for r in recs).index(feats.names[i])]
        k = int(feats.copy[i])
        name_key = int.from_bytes(hashlib.sha256(rec.name.encode()).digest()[:4], "little")
        pcm = rec.samples() if k == 0 else train_data.augment(rec.samples(), np.random.default_rng([0, name_key, k]), cfg)
        seq = train_data.mfcc_sequence(frontend, pcm)
        if k:
            start, stop = segment(seq[:, 0].astype(np.int32), EndpointConfig())
            assert len(seq) > stop - start  # the clip had quiet that was cut
            seq = seq[start:stop]
        np.testing.assert_array_equal(feats.sequence(i), seq)
    same = train_data.augment(recs[0].samples(), np.random.default_rng(3), plain)
    np.testing.assert_array_equal(same, train_data.augment(recs[0].samples(), np.random.default_rng(3),
                                                           train_data.AugmentConfig(copies=2, untrimmed_prob=0.0)))


def test_window_cmn_training_features_are_the_engines(tmp_path):
    """--cmn window trains on exactly the int8 windows the engine (and firmware) computes for a model
    with input.cmn = window: the tool's cached int16 features, fitted, mean removed and normalised,
    against model.features of each recording read back from its WAV file (lengths below and above T)."""
    from dataclasses import replace

    from tests.throwaway_models import random_model

    write_fsdd(tmp_path / "data", ["ann"], range(5, 7))
    model = random_model(frames=12)
    model = replace(model, input=replace(model.input, cmn="window"))
    short = np.zeros(700, np.int16)  # 4 frames: padded
    scipy.io.wavfile.write(tmp_path / "data" / "recordings" / "3_ann_9.wav", RATE, short)
    recs = fsdd.list_recordings(tmp_path / "data", "all")
    feats = train_data.build_features(recs, aug=train_data.AugmentConfig(copies=0))
    windows, _ = train_data.cepstral_normalised_windows(feats, model.frames, "window")
    x = train_data.normalise(windows, model.input)
    assert {int(n) for n in feats.lengths} >= {4} and max(feats.lengths) > model.frames
    for i, name in enumerate(feats.names):
        rec = next(r for r in recs if r.name == name)
        np.testing.assert_array_equal(x[i], model.features(rec.samples()))
