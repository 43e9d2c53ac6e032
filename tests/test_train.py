"""tools/train.py: the training smoke test (two epochs on a small subset, through export and
budget), and the fake quantization checked against fixedrnn's own quantizers and converter."""

import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # training: not in the quick subset (pytest -m "not slow")

torch = pytest.importorskip("torch", reason="the train extra (PyTorch) is not installed")

TOOLS = Path(__file__).resolve().parents[1] / "tools"
sys.path.insert(0, str(TOOLS))

import train  # noqa: E402
import train_data  # noqa: E402
import train_qat  # noqa: E402
from fixedrnn import budget, convert, fsdd, model as model_io, quant  # noqa: E402
from fixedrnn.weight_forms import WeightForm  # noqa: E402


#: Every weight form: int8, power of two, k = 2..8, every minifloat (e, m).
FORMS = ([WeightForm("int8"), WeightForm("pot")] + [WeightForm("intk", bits=k) for k in range(2, 9)]
         + [WeightForm("minifloat", exponent_bits=e, mantissa_bits=m)
            for e in (1, 2, 3) for m in range(0, 8 - (1 << e) + 1)])


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.label)
def test_fake_quant_weight_equals_converter(form):
    rng = np.random.default_rng(1)
    w = rng.normal(0, 0.3, (16, 13))
    got = train_qat.fake_quant_weight(torch.tensor(w), form).numpy()
    options = convert.ConvertOptions(weights=form.kind, bits=form.bits, exponent_bits=form.exponent_bits,
                                     mantissa_bits=form.mantissa_bits)
    q, scale = convert.quantize_weight(w, options, per_channel=False)
    np.testing.assert_array_equal(got, q.astype(np.float64) * float(scale[0]))


def form_levels(form):
    """The non-negative levels of ``form`` (int8 units) from its definition: k-bit 0..2**(k-1)-1,
    power of two 0 and 2**j (j = 0..6), minifloat every decoded code."""
    if form.kind in ("int8", "intk"):
        return list(range(0, (1 << ((form.bits or 8) - 1)) - 1 + 1))
    if form.kind == "pot":
        return [0] + [1 << j for j in range(7)]
    return [int(v) for v in quant.minifloat_magnitudes(form.exponent_bits, form.mantissa_bits)]


@pytest.mark.parametrize("form", FORMS, ids=lambda f: f.label)
def test_fake_quant_weight_on_every_level_and_midpoint(form):
    """With max|w| = top · 2**-4 the scale is 2**-4 exactly, so w / scale is exact in float32: every
    level maps to itself and every midpoint between two levels to the larger one (k-bit: half away
    from zero; pot and minifloat: ties to the larger magnitude), both signs, with a straight-through
    gradient of 1 everywhere."""
    levels = form_levels(form)
    assert max(levels) == form.top
    mids = [(a + b) / 2 for a, b in zip(levels, levels[1:])]
    units = np.array(levels + mids + [-v for v in levels + mids], np.float64)
    want = np.array(levels + levels[1:] + [-v for v in levels + levels[1:]], np.float64)
    w = torch.tensor(units * 2.0**-4, dtype=torch.float32, requires_grad=True)
    got = train_qat.fake_quant_weight(w, form)
    assert train_qat.weight_scale(w, form) == 2.0**-4
    np.testing.assert_array_equal(got.detach().numpy().astype(np.float64) * 16, want)
    got.sum().backward()
    assert w.grad.tolist() == [1.0] * len(units)


def test_fake_quant_activation_equals_quant():
    params = quant.activation_params(-2.3, 5.1)
    x = np.linspace(-4, 7, 2001)
    got = train_qat.fake_quant(torch.tensor(x), params.scale, params.zero_point).numpy()
    np.testing.assert_array_equal(got, quant.fake_quant_activation(x, params))


def test_fake_quant_straight_through_gradient():
    x = torch.tensor([-10.0, 0.26, 3.0], requires_grad=True)
    train_qat.fake_quant(x, 0.1, 0, -20, 20).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]  # clamped outside [-2.0, 2.0]


def test_fit_length_pads_left_and_keeps_last():
    x = np.arange(6, dtype=np.int8).reshape(3, 2)
    np.testing.assert_array_equal(train_data.fit_length(x, 2, [9, 9]), [[2, 3], [4, 5]])
    np.testing.assert_array_equal(train_data.fit_length(x, 4, [9, 8]), [[9, 8], [0, 1], [2, 3], [4, 5]])


@pytest.mark.parametrize("argv, named", [
    (["--out", "model.txt"], "--out"),
    (["--out", "m.npz", "--weights", "intk"], "needs bits"),
    (["--out", "m.npz", "--weights", "intk", "--bits", "9"], "2..8"),
    (["--out", "m.npz", "--weights", "minifloat", "--exponent-bits", "2", "--mantissa-bits", "5"], "2**e - 1 + m"),
    (["--out", "m.npz", "--bits", "4"], "takes no bits"),
    (["--out", "m.npz", "--prune-sparsity", "1.0"], "--prune-sparsity"),
    (["--out", "m.npz", "--prune-units", "65"], "--prune-units"),
    (["--out", "m.npz", "--prune-units", "4", "--prune-sparsity", "0.5"], "one of them"),
    (["--out", "m.npz", "--finetune-epochs", "3"], "--finetune-epochs"),
    (["--out", "m.npz", "--fft-length", "100"], "fft_length: must be one of 128, 256, 512, 1024"),
    (["--out", "m.npz", "--n-mels", "16", "--n-mfcc", "17"], "n_mfcc: must be in 1..16"),
    (["--out", "m.npz", "--fmax", "5000"], "fmax: must be <= sample_rate/2"),
    (["--out", "m.npz", "--fmin", "3900"], "covers no FFT bin"),
    (["--out", "m.npz", "--swa", "1"], "--swa must be in [0, 1)"),
    (["--out", "m.npz", "--swa", "0.25", "--swa-lr", "0"], "--swa-lr > 0"),
    (["--out", "m.npz", "--mixup", "-0.2"], "--mixup must be >= 0"),
    (["--out", "m.npz", "--cep-scale", "1"], "--cep-scale must be in [0, 1)"),
    (["--out", "m.npz", "--speaker-adversary", "-1"], "--speaker-adversary must be >= 0"),
    (["--out", "m.npz", "--speaker-adversary", "0.1", "--mixup", "0.2"], "--speaker-adversary: not with"),
    (["--out", "m.npz", "--mixup", "0.2", "--teacher-units", "64"], "--mixup: not with"),
    (["--out", "m.npz", "--fit-all"], "--fit-all: only with --holdout"),
])
def test_bad_arguments_exit_cleanly(capsys, argv, named):
    with pytest.raises(SystemExit) as exc:
        train.parse_args(argv)
    assert exc.value.code == 2
    assert named in capsys.readouterr().err


@pytest.mark.parametrize("cell, weights, extra", [
    ("lstm", "int8", []),
    ("rnn", "pot", ["--teacher-units", "4", "--identity-mix", "0.5"]),
    ("lstm", "intk", ["--bits", "3", "--prune-sparsity", "0.5", "--prune-scope", "global",
                      "--finetune-epochs", "1"]),
    ("rnn", "minifloat", ["--exponent-bits", "2", "--mantissa-bits", "1", "--prune-units", "5",
                          "--prune-norm", "linf", "--finetune-epochs", "1"]),
    ("lstm", "intk", ["--bits", "4", "--fft-length", "128", "--hop", "64", "--n-mels", "16", "--n-mfcc", "10",
                      "--frames", "40"]),
    ("lstm", "int8", ["--fmin", "100", "--fmax", "3400", "--speaker-adversary", "0.3", "--cep-scale", "0.2"]),
])
def test_smoke_two_epochs_export_budget(fsdd_dir, tmp_path, monkeypatch, cell, weights, extra):
    monkeypatch.setattr(train_data, "CACHE_DIR", tmp_path / "cache")
    out = tmp_path / "smoke.npz"
    args = train.parse_args(["--data-dir", str(fsdd_dir), "--subset", "1", "--copies", "1", "--epochs", "2",
                             "--qat-epochs", "2", "--units", "8", "--out", str(out), "--no-progress",
                             "--no-evaluate", "--cell", cell, "--weights", weights] + extra)
    result = train.run_training(args)
    model = model_io.load(out)  # validated by the model module
    assert model.cell == cell and model.weights == weights and model.frames == args.frames
    config = train.frontend_config(args)
    assert (model.frontend.fft_length, model.frontend.hop, model.frontend.n_mels, model.frontend.n_mfcc,
            model.frontend.fmin, model.frontend.fmax) == \
        (config.fft_length, config.hop, config.n_mels, config.n_mfcc, config.fmin, config.fmax)
    if "--fmax" in extra:
        assert (model.frontend.fmin, model.frontend.fmax) == (100.0, 3400.0)
    form = WeightForm.from_arrays(model.to_arrays())
    assert form.bits == (int(extra[1]) if weights == "intk" else None)
    assert form.exponent_bits == (2 if weights == "minifloat" else None)
    assert model.units == (5 if "--prune-units" in extra else 8)
    if "--prune-sparsity" in extra:  # the pruned half stays 0 through fine-tuning and QAT
        weights = [model.lstm.input_weight, model.lstm.recurrent_weight, model.head.weight]
        zeros = sum(int(np.count_nonzero(w == 0)) for w in weights)
        assert zeros >= np.floor(0.5 * sum(w.size for w in weights) + 0.5)
    report = budget.audit(model, name=str(out))
    assert report.total == result["budget_total"] and report.total <= budget.DEFAULT_BUDGET
    # the int8 features training saw are the ones the engine computes from the WAV file
    from fixedrnn import engine

    rec = train_data.recordings_for(fsdd_dir, 1)[0]
    features = train_data.build_features([rec], config, aug=train_data.AugmentConfig(copies=0))
    mine = train_data.int8_sequences(features, model.input, model.frames)[0]
    theirs = engine.features(model, rec.samples())
    np.testing.assert_array_equal(mine, theirs)


def holdout_features():
    """Two speakers × FSDD index 0-49 × (original, one copy), one digit."""
    index = np.tile(np.repeat(np.arange(50), 2), 2)
    n = index.size
    return train_data.FeatureSet(mfcc=np.zeros((n, 13), np.int16), lengths=np.ones(n, int), labels=np.zeros(n, int),
                                 names=np.array([f"0_{s}_{i}.wav" for s in ("a", "b") for i in np.repeat(np.arange(50), 2)]),
                                 copy=np.tile([0, 1], n // 2), index=index,
                                 speaker=np.repeat(["a", "b"], n // 2),
                                 split=np.where(index < 5, "test", "train"), silent=np.zeros(13, np.int16))


@pytest.mark.parametrize("option, first_fitted", [([], 10), (["--fit-validation"], 5), (["--fit-all"], 0)])
def test_holdout_split_fits_the_other_speakers_from_their_first_fitted_index(option, first_fitted):
    feats = holdout_features()
    args = train.parse_args(["--out", "m.npz", "--holdout", "b", *option])
    fit, val, test = train.split_masks(feats, args)
    for i, (speaker, index, copy) in enumerate(zip(feats.speaker, feats.index, feats.copy)):
        assert fit[i] == (speaker == "a" and index >= first_fitted), (speaker, index, copy)
        assert val[i] == (speaker == "a" and 5 <= index < 10 and copy == 0)
        assert test[i] == (speaker == "b" and copy == 0)


def test_fit_all_gives_the_test_split_augmented_copies(fsdd_dir, tmp_path, monkeypatch):
    """--fit-all's features: a test-split recording (index 0) gets its copies, as one of the
    training split does; without it, only the training split is augmented."""
    monkeypatch.setattr(train_data, "CACHE_DIR", tmp_path / "cache")
    recs = [r for r in fsdd.list_recordings(fsdd_dir, "all") if r.speaker == "theo" and r.digit == 3
            and r.index in (0, 7)]
    aug = train_data.AugmentConfig(copies=2)
    plain = train_data.cached_features(recs, aug=aug)
    every = train_data.cached_features(recs, aug=aug, augmented_splits=("train", "test"))
    assert sorted(zip(plain.index.tolist(), plain.copy.tolist())) == [(0, 0), (7, 0), (7, 1), (7, 2)]
    assert sorted(zip(every.index.tolist(), every.copy.tolist())) == [(0, 0), (0, 1), (0, 2), (7, 0), (7, 1), (7, 2)]
    # the training recording's copies are the same whichever splits are augmented (seeded by file and copy)
    seven = [np.flatnonzero(f.index == 7) for f in (plain, every)]
    for i, j in zip(*seven):
        start_i, start_j = plain.lengths[:i].sum(), every.lengths[:j].sum()
        np.testing.assert_array_equal(plain.mfcc[start_i:start_i + plain.lengths[i]],
                                      every.mfcc[start_j:start_j + every.lengths[j]])
    assert len(list((tmp_path / "cache").glob("features-*.npz"))) == 2  # two cache entries, not one


def test_swa_float_model_is_the_mean_of_the_last_epochs_weights(fsdd_dir, tmp_path, monkeypatch):
    """--swa 0.5 of 4 float epochs: the float model kept in the file is the mean (float64 here) of
    the weights at the ends of epochs 3 and 4, not the last epoch's weights."""
    monkeypatch.setattr(train_data, "CACHE_DIR", tmp_path / "cache")
    snapshots = []
    update = torch.optim.swa_utils.AveragedModel.update_parameters

    def recording_update(self, model):
        snapshots.append({k: v.detach().numpy().astype(np.float64) for k, v in model.state_dict().items()})
        return update(self, model)

    monkeypatch.setattr(torch.optim.swa_utils.AveragedModel, "update_parameters", recording_update)
    out = tmp_path / "swa.npz"
    train.run_training(train.parse_args([
        "--data-dir", str(fsdd_dir), "--subset", "1", "--copies", "1", "--epochs", "4", "--swa", "0.5",
        "--qat-epochs", "0", "--units", "8", "--out", str(out), "--no-progress", "--no-evaluate"]))
    assert len(snapshots) == 2
    with np.load(out) as arrays:
        kept = {k[len("meta.float."):]: arrays[k] for k in arrays.files if k.startswith("meta.float.")}
    assert kept and kept.keys() == snapshots[0].keys()
    for key, value in kept.items():
        mean = (snapshots[0][key] + snapshots[1][key]) / 2
        np.testing.assert_allclose(value, mean, rtol=0, atol=1e-6, err_msg=key)  # float32 rounding of the mean
    assert any(not np.allclose(kept[k], snapshots[1][k], rtol=0, atol=1e-6) for k in kept)


def test_bad_data_dir_is_one_line_exit_2(tmp_path, capsys):
    code = train.main(["--out", str(tmp_path / "m.npz"), "--data-dir", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and str(tmp_path) in err[0] and "recordings" in err[0]
    assert not (tmp_path / "m.npz").exists()


def test_spec_mask_zeroes_one_band_and_one_run():
    x = torch.ones(32, 61, 13)
    y = train.spec_mask(x, np.random.default_rng(0), 4, 10)
    assert torch.equal(x, torch.ones(32, 61, 13))  # a copy
    for b in range(32):
        zero = (y[b] == 0).numpy()
        cols = np.flatnonzero(zero.all(axis=0))  # the masked coefficients (every frame)
        rows = np.flatnonzero(zero.all(axis=1))  # the masked frames (every coefficient)
        assert len(cols) <= 4 and len(rows) <= 10
        for run in (cols, rows):
            assert len(run) == 0 or np.array_equal(run, np.arange(run[0], run[0] + len(run)))
        expected = np.zeros((61, 13), bool)
        expected[:, cols] = True
        expected[rows, :] = True
        np.testing.assert_array_equal(zero, expected)  # nothing else touched
        np.testing.assert_array_equal(y[b].numpy()[~expected], 1.0)


def test_scale_coefficients_scales_each_coefficient_of_a_sequence_by_one_factor():
    rng = np.random.default_rng(3)
    x = torch.tensor(rng.integers(-128, 128, (8, 61, 13)), dtype=torch.float64)
    y = train.scale_coefficients(x, np.random.default_rng(1), 0.2)
    assert torch.equal(x, torch.tensor(np.random.default_rng(3).integers(-128, 128, (8, 61, 13)), dtype=torch.float64))
    ratio = (y / torch.where(x == 0, 1.0, x)).numpy()
    for b in range(8):
        for c in range(13):
            nonzero = x[b, :, c].numpy() != 0
            factor = ratio[b, nonzero, c]
            assert 0.8 <= factor[0] <= 1.2 and np.allclose(factor, factor[0], rtol=0, atol=1e-12)
        assert np.all(y[b].numpy()[x[b].numpy() == 0] == 0)
    factors = ratio[:, 0, :][x[:, 0, :].numpy() != 0]
    assert factors.std() > 0.05  # each its own draw, not one factor for all


def test_speaker_adversary_reverses_the_gradient_into_the_hidden_state_only():
    """The cell side (``hidden``) gets −weight × the speaker loss's gradient, the adversary its whole
    gradient; the loss's value is the plain cross-entropy."""
    torch.manual_seed(0)
    hidden = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    speakers = torch.tensor([0, 1, 2, 0, 1, 2])
    adversary = torch.nn.Linear(5, 3).double()
    loss = train.speaker_adversary_loss(hidden, speakers, adversary, 0.3)
    loss.backward()
    plain_hidden = hidden.detach().clone().requires_grad_(True)
    plain_adversary = torch.nn.Linear(5, 3).double()
    plain_adversary.load_state_dict(adversary.state_dict())
    plain = torch.nn.functional.cross_entropy(plain_adversary(plain_hidden), speakers)
    plain.backward()
    assert float(loss.detach()) == float(plain.detach())
    np.testing.assert_allclose(hidden.grad.numpy(), -0.3 * plain_hidden.grad.numpy(), rtol=0, atol=1e-15)
    np.testing.assert_allclose(adversary.weight.grad.numpy(), plain_adversary.weight.grad.numpy(), rtol=0, atol=1e-15)
    assert train.dann_ramp(0.0) == 0.0 and abs(train.dann_ramp(1.0) - (2 / (1 + np.exp(-10)) - 1)) < 1e-15
    assert 0.46 < train.dann_ramp(0.1) < 0.47  # tanh(0.5)


def test_mix_batch_mixes_each_sequence_with_one_other_by_one_weight():
    """Every mixed sequence is lam · its own + (1 − lam) · one other sequence of the batch (float64,
    within 1e-12 of the sum computed in NumPy), the partners a permutation, lam in (0, 1)."""
    rng = np.random.default_rng(5)
    x = torch.tensor(rng.integers(-128, 128, (16, 7, 3)), dtype=torch.float64)
    y, perm, lam = train.mix_batch(x, np.random.default_rng(2), 0.4)
    assert torch.equal(x, torch.tensor(np.random.default_rng(5).integers(-128, 128, (16, 7, 3)), dtype=torch.float64))
    assert 0.0 < lam < 1.0 and sorted(perm.tolist()) == list(range(16))
    for b in range(16):
        other = int(perm[b])
        np.testing.assert_allclose(y[b].numpy(), lam * x[b].numpy() + (1 - lam) * x[other].numpy(), rtol=0, atol=1e-12)
    # Beta(0.1, 0.1): most weights near 0 or 1, their mean 1/2
    draws = np.array([train.mix_batch(x, np.random.default_rng(s), 0.1)[2] for s in range(400)])
    assert np.mean((draws < 0.1) | (draws > 0.9)) > 0.5 and abs(draws.mean() - 0.5) < 0.06


@pytest.mark.parametrize("argv, fragment", [
    (["--speed", "1.1", "0.9"], "--speed"), (["--vtlp", "0", "1"], "--vtlp"), (["--snr", "20", "5"], "--snr"),
    (["--noise-prob", "1.5"], "--noise-prob"), (["--pad-end", "-1"], "--pad-end"), (["--noise", "brown"], "--noise"),
    (["--tempo", "1.2", "0.8"], "--tempo"), (["--tempo", "0", "1"], "--tempo"),
    (["--tempo", "0.8", "2.5"], "128 × 2.5 > 256"), (["--hop", "200", "--tempo", "0.9", "1.3"], "200 × 1.3 > 256"),
])
def test_bad_augmentation_arguments_exit_cleanly(capsys, argv, fragment):
    with pytest.raises(SystemExit) as exc:
        train.parse_args(["--out", "m.npz"] + argv)
    assert exc.value.code == 2 and fragment in capsys.readouterr().err


def test_augmentation_arguments_make_the_config():
    args = train.parse_args(["--out", "m.npz", "--noise", "pink", "babble", "--snr", "0", "20", "--vtlp", "0.9",
                             "1.1", "--noise-over-padding", "--pad-end", "1280", "--copies", "3"])
    assert train.augment_config(args) == train_data.AugmentConfig(
        copies=3, noise_kinds=("pink", "babble"), snr_db=(0.0, 20.0), vtlp=(0.9, 1.1), noise_over_padding=True,
        pad_end=1280)
    assert train.augment_config(train.parse_args(["--out", "m.npz", "--tempo", "0.8", "1.25"])).tempo == (0.8, 1.25)
    assert train.augment_config(train.parse_args(["--out", "m.npz"])) == train_data.AugmentConfig()
