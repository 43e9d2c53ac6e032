"""tools/train_cnn.py and ``tools/train.py --cell dscnn``: TFLite's SAME padding in PyTorch, the
batch normalisation folded into the graph layers (the float network of fixedrnn.conv_graph equals the
PyTorch module in eval mode), the int8 graph's answers against the float module's, a two-epoch run on
an FSDD subset through export (a graph model with CMN that loads, fits the budget, and whose
evaluation is the engine's from the WAV files), and the refusals."""

import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import train  # noqa: E402
import train_cnn  # noqa: E402
import train_data  # noqa: E402
from fixedrnn import budget, conv_graph, engine, golden  # noqa: E402
from fixedrnn import model as model_io  # noqa: E402
from fixedrnn.graph import run_batch  # noqa: E402
from fixedrnn.ops.conv import SAME, output_size, padding_before  # noqa: E402


def test_same_padding_is_tflites():
    for size in range(1, 30):
        for kernel in (1, 2, 3, 4, 10):
            for stride in (1, 2, 3):
                before, after = train_cnn.same_padding(size, kernel, stride)
                out = output_size(SAME, size, kernel, stride, 1)
                assert before == padding_before(SAME, size, kernel, stride, 1)
                assert size + before + after - kernel + 1 >= (out - 1) * stride + 1  # every output has its taps
                assert (size + before + after - kernel) // stride + 1 == out


def _trained_looking(seed=0, units=6, blocks=2):
    torch.manual_seed(seed)
    net = train_cnn.DsCnnClassifier(21, 13, units, 10, blocks)
    with torch.no_grad():  # batch statistics far from the defaults, so that folding matters
        for norm in net.norms:
            norm.running_mean.uniform_(-0.5, 0.5)
            norm.running_var.uniform_(0.2, 3.0)
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.3, 0.3)
    return net.eval()


def test_folded_layers_compute_the_module():
    net = _trained_looking()
    x = torch.randn(5, 21, 13)
    with torch.no_grad():
        want = net(x).double().numpy()
    got = conv_graph.float_forward(net.graph_layers(), x.double().numpy())[-1]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)  # float32 module against float64 layers


def test_int8_graph_answers_as_the_module():
    net = _trained_looking(seed=1, units=8)
    rng = np.random.default_rng(0)
    s_in, z_in = 1 / 32, -3
    xq = rng.integers(-100, 100, (64, 21, 13)).astype(np.int8)
    xf = (xq.astype(np.float32) - z_in) * s_in
    graph, _ = train_cnn.int8_graph(net, xf, s_in, z_in)
    with torch.no_grad():
        want = net(torch.tensor(xf)).numpy().argmax(1)
    got = run_batch(graph, xq).argmax(1)
    assert np.mean(got == want) >= 0.9


@pytest.mark.slow  # training
def test_two_epochs_export_a_cmn_graph_model(fsdd_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(train_data, "CACHE_DIR", tmp_path / "cache")
    out = tmp_path / "dscnn.npz"
    args = train.parse_args(["--data-dir", str(fsdd_dir), "--subset", "1", "--copies", "1", "--epochs", "2",
                             "--cell", "dscnn", "--units", "8", "--blocks", "2", "--cmn", "window", "--out", str(out),
                             "--no-progress"])
    result = train.run_training(args)
    model = model_io.load(out)
    assert model.cell == "graph" and model.input.cmn == "window" and model.frames == args.frames
    ops = [model.graph.op_name(k) for k in range(model.graph.n_ops)]
    assert ops == ["RESHAPE", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D",
                   "AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED"]
    assert budget.audit(model, name=str(out)).total <= budget.DEFAULT_BUDGET
    # the integer figure is the engine's, from the WAV files of the test split
    from fixedrnn.evaluate import evaluate_model

    recs = [r for r in train_data.recordings_for(fsdd_dir, 1) if r.split == "test"]
    res = evaluate_model(model, [r.path for r in recs], split="all", progress=False)
    assert result["integer_test"] == res.accuracy == model.meta["integer_test_accuracy"]
    # the int8 windows training saw are the ones the engine computes from the WAV file
    rec = recs[0]
    feats = train_data.build_features([rec], train.frontend_config(args), aug=train_data.AugmentConfig(copies=0))
    windows, _ = train_data.cepstral_normalised_windows(feats, args.frames, "window", False)
    np.testing.assert_array_equal(train_data.normalise(windows, model.input)[0], engine.features(model, rec.samples()))
    # that graph model is a teacher for the next run (its logits on the same int8 windows, distilled;
    # the last epoch weight-averaged, its batch statistics recomputed)
    student = tmp_path / "student.npz"
    train.run_training(train.parse_args(["--data-dir", str(fsdd_dir), "--subset", "1", "--copies", "1", "--epochs",
                                         "2", "--cell", "dscnn", "--units", "8", "--blocks", "2", "--cmn", "window",
                                         "--out", str(student), "--no-progress", "--no-evaluate", "--seed", "1",
                                         "--teacher-model", str(out), "--swa", "0.5"]))
    (source,) = model_io.load(student).meta["distilled_from"]
    assert str(out) in source and golden.file_sha256(out) in source


@pytest.mark.slow  # training
def test_an_experiment_cmn_is_scored_on_its_own_windows(fsdd_dir, tmp_path, monkeypatch):
    """--cell dscnn --cmn utterance (not the engine's rule) is an experiment: the model says so, and
    its integer figure is its program on the utterance-normalised windows, not the engine's from
    the WAV files (which would feed it windows without that normalisation)."""
    monkeypatch.setattr(train_data, "CACHE_DIR", tmp_path / "cache")
    out = tmp_path / "dscnn.npz"
    args = train.parse_args(["--data-dir", str(fsdd_dir), "--subset", "1", "--copies", "1", "--epochs", "1",
                             "--cell", "dscnn", "--units", "8", "--blocks", "1", "--cmn", "utterance",
                             "--out", str(out), "--no-progress"])
    result = train.run_training(args)
    model = model_io.load(out)
    assert model.input.cmn == "off" and "not a deployable model" in model.meta["experiment"]
    recs = [r for r in train_data.recordings_for(fsdd_dir, 1) if r.split == "test"]
    feats = train_data.build_features(recs, train.frontend_config(args), aug=train_data.AugmentConfig(copies=0))
    windows, _ = train_data.cepstral_normalised_windows(feats, args.frames, "utterance", False)
    x = train_data.normalise(windows, model.input)
    assert not np.array_equal(x[0], engine.features(model, recs[0].samples()))  # not the engine's windows
    want = np.mean(np.argmax(model.run_features_batch(x), axis=1) == feats.labels)
    assert result["integer_test"] == want == model.meta["integer_test_accuracy"]


def test_refreshed_batch_statistics_are_those_of_the_sequences():
    torch.manual_seed(0)
    model = train_cnn.DsCnnClassifier(frames=20, n_in=13, units=6, n_classes=10, blocks=1)
    x = torch.randn(64, 20, 13) * 3 + 1
    for norm in model.norms:  # stale statistics, as after averaging weights
        norm.running_mean.fill_(5.0)
        norm.running_var.fill_(9.0)
    train_cnn.refresh_batch_norm(model, x, batch=64)
    assert not model.training
    with torch.no_grad():
        first = model.first(model._same(x.unsqueeze(1), train_cnn.FIRST_KERNEL, train_cnn.FIRST_STRIDE))
    z = first.double().transpose(0, 1).reshape(6, -1)
    np.testing.assert_allclose(model.norms[0].running_mean.numpy(), z.mean(1).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.norms[0].running_var.numpy(), z.var(1, unbiased=True).numpy(), rtol=1e-4)


@pytest.mark.parametrize("argv, named", [
    (["--weights", "pot"], "--weights"),
    (["--prune-sparsity", "0.5"], "--prune-sparsity"),
    (["--teacher-units", "16"], "--teacher-units"),
    (["--blocks", "0"], "--blocks"),
])
def test_bad_dscnn_arguments_exit_cleanly(capsys, argv, named):
    with pytest.raises(SystemExit) as exc:
        train.parse_args(["--out", "m.npz", "--cell", "dscnn"] + argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err
