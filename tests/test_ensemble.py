"""fixedrnn.ensemble: two or three DS-CNN-shaped graphs on one int8 input merged into one graph (their
programs side by side, their logits added by int8 ADD ops) run by the graph engine equal TFLM on the
merged graph written as a .tflite (0 LSB, every input, also the input's extremes); each member's
logits inside the merged graph are the member's own; the sums never saturate (worst-case ranges);
the merged model file loads (its stored integers TFLM's derivation) and its budget shares one arena;
the firmware (host and QEMU's Cortex-M4) runs it as the engine does from PCM; the refusals."""

import dataclasses
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from fixedrnn import budget, c_export, conv_graph as cg, engine
from fixedrnn.ensemble import ensemble_model, merge_graphs, sum_range
from fixedrnn.errors import FixedRnnError
from fixedrnn.graph import check_params, run, run_batch
from fixedrnn.model import Model, load
from fixedrnn.tflite_export import graph_tflite_bytes
from tests.tflite_graphs import tflm_run

REPO = Path(__file__).resolve().parents[1]
T, I = 21, 13


def _member(seed, s_in, z_in, x, channels):
    rng = np.random.default_rng(seed)
    c = channels
    layers = [cg.Conv(rng.normal(0, .3, (c, 5, 4, 1)), rng.normal(0, .1, c), (2, 2), cg.SAME, True, (0, 1)),
              cg.DepthwiseConv(rng.normal(0, .4, (1, 3, 3, c)), rng.normal(0, .1, c), (1, 1), cg.SAME, True, (0, 1)),
              cg.Conv(rng.normal(0, .3, (c, 1, 1, c)), rng.normal(0, .1, c), (1, 1), cg.SAME, True, (0, 1)),
              cg.GlobalAveragePool(), cg.Dense(rng.normal(0, .5, (10, c)), rng.normal(0, .2, 10), (0, 1))]
    layers = cg.calibrated(layers, (x.astype(np.float64) - z_in) * s_in)
    return cg.build_graph(layers, T, I, s_in, z_in)


def _members(n, seed=0):
    rng = np.random.default_rng(100 + seed)
    s_in, z_in = 1 / 32, int(rng.integers(-10, 10))
    x = rng.integers(-128, 128, (12, T, I)).astype(np.int8)
    return [_member(seed * 10 + j, s_in, z_in, x, channels=4 + 2 * j) for j in range(n)], x


def _inputs(x):
    edges = np.stack([np.full((T, I), -128), np.full((T, I), 127)]).astype(np.int8)
    return np.concatenate([x, edges])


@pytest.mark.parametrize("n", [2, 3])
def test_merged_graph_equals_tflm(n):
    pytest.importorskip("tflite_micro")
    graphs, x = _members(n, seed=n)
    merged = merge_graphs(graphs)
    check_params(merged)
    xs = _inputs(x)
    ours = run_batch(merged, xs)
    np.testing.assert_array_equal(ours, np.stack([run(merged, v) for v in xs]))
    data = graph_tflite_bytes(types.SimpleNamespace(graph=merged))
    theirs = np.stack([tflm_run(data, [v[None]]).reshape(-1) for v in xs]).astype(np.int8)
    np.testing.assert_array_equal(ours, theirs)
    assert len({tuple(v) for v in ours}) > 3  # the logits move with the input: a real comparison
    assert [merged.op_name(k) for k in range(merged.n_ops)].count("ADD") == n - 1


def test_members_are_kept_whole():
    """Every member's logits tensor inside the merged graph is that member's output, op for op."""
    graphs, x = _members(2)
    merged = merge_graphs(graphs)
    adds = [k for k in range(merged.n_ops) if merged.op_name(k) == "ADD"]
    a, b = merged.inputs(adds[0])
    for v in _inputs(x):
        _, values = run(merged, v, trace=True)
        np.testing.assert_array_equal(np.asarray(values[a]).reshape(-1), run(graphs[0], v))
        np.testing.assert_array_equal(np.asarray(values[b]).reshape(-1), run(graphs[1], v))
    assert merged.n_ops == graphs[0].n_ops + graphs[1].n_ops + 1
    assert merged.input == graphs[0].input


def test_sum_range_holds_every_sum():
    """The sum's range is the members' int8 extremes added (exact, in fractions of their float32
    scales): every member at its extreme at once lands inside the output's int8 range, to within the
    half step the output zero point's rounding leaves."""
    from fractions import Fraction

    quants = [(float(np.float32(0.05)), -7), (float(np.float32(0.11)), 20)]
    lo, hi = sum_range(quants)
    exact_lo = sum(Fraction(s) * (-128 - z) for s, z in quants)
    exact_hi = sum(Fraction(s) * (127 - z) for s, z in quants)
    assert Fraction(lo) == exact_lo and Fraction(hi) == exact_hi
    s_out, z_out = cg.activation_quant(lo, hi)
    assert -128.5 <= z_out + exact_lo / Fraction(s_out) and z_out + exact_hi / Fraction(s_out) <= 127.5


def test_ensemble_model_file_and_budget(tmp_path):
    """A merged model file loads (the loader re-derives and compares every op's integers) and runs
    as the merged graph; its budget holds both programs but one arena: the larger member's, and the
    first member's logits kept while the second runs."""
    from tests.test_conv_firmware import conv_model

    a, b = conv_model(True, seed=0), conv_model(True, channels=8, seed=1)
    built = ensemble_model([a, b], meta={"ensemble_of": "a, b"})
    model = Model.from_arrays(built.to_arrays(), source="test ensemble")
    x = np.stack([np.asarray(engine.features(model, pcm)) for pcm in _pcms(model)])
    np.testing.assert_array_equal(model.run_features_batch(x), run_batch(built.graph, x))
    np.testing.assert_array_equal(model.run_features_batch(x[:2], backend="numpy"), run_batch(built.graph, x[:2]))
    reports = {name: budget.audit(m, name=name) for name, m in (("a", a), ("b", b), ("e", model))}
    size = {name: {i.symbol: i.nbytes for i in r.flash + r.ram} for name, r in reports.items()}
    from fixedrnn.graph_plan import ALIGN

    arena, held = "fr_graph_arena", -(-len(a.labels) // ALIGN) * ALIGN  # member a's logits, while b runs
    assert size["e"][arena] == max(size["a"][arena], size["b"][arena]) + held
    assert size["e"]["fr_graph_s8"] == size["a"]["fr_graph_s8"] + size["b"]["fr_graph_s8"]
    assert reports["e"].total < reports["a"].total + reports["b"].total


def _pcms(model):
    from tests.test_c_export import utterances

    return utterances(model, seed=3)


@pytest.mark.slow  # host and QEMU builds
@pytest.mark.parametrize("target", ["host", "arm"])
def test_pcm_through_the_firmware_equals_the_engine(target, tmp_path):
    sys.path.insert(0, str(REPO / "tools" / "firmware"))
    import runner
    from tests.test_conv_firmware import conv_model
    from tests.test_graph_firmware import _pcm_input, _run

    config = runner.BuildConfig(target, "-O2")
    missing = runner.toolchain_missing(config.target)
    if missing:
        pytest.skip(missing)
    built = ensemble_model([conv_model(True, seed=0), conv_model(True, channels=8, seed=1)])
    model = Model.from_arrays(built.to_arrays(), source="test ensemble")
    c_export.export_c(model, tmp_path / "src")
    pcms = _pcms(model)
    windows, logits = _run(model, tmp_path / "src", _pcm_input(pcms), len(pcms), config, tmp_path)
    features = np.stack([np.asarray(engine.features(model, pcm)) for pcm in pcms])
    np.testing.assert_array_equal(windows, features)
    want = np.stack([model.run_features(x) for x in features])
    np.testing.assert_array_equal(logits, want)
    assert len({tuple(v) for v in want}) > 3


def test_refusals():
    graphs, _ = _members(2)
    with pytest.raises(FixedRnnError, match="at least two"):
        merge_graphs(graphs[:1])
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, (8, T, I)).astype(np.int8)
    other = _member(9, 1 / 16, 0, x, channels=4)  # another input scale
    with pytest.raises(FixedRnnError, match="graph 1: its int8 input"):
        merge_graphs([graphs[0], other])
    from tests.test_conv_firmware import conv_model

    a, b = conv_model(True, seed=0), conv_model(True, seed=1)
    with pytest.raises(FixedRnnError, match="model 1: its input quantisation"):
        ensemble_model([a, dataclasses.replace(b, input=dataclasses.replace(b.input, cmn="off"))])
    with pytest.raises(FixedRnnError, match="model 1: its labels"):
        ensemble_model([a, dataclasses.replace(b, labels=tuple("abcdefghij"))])
    with pytest.raises(FixedRnnError, match="graph models"):
        ensemble_model([a, load(REPO / "golden" / "models" / "lstm_int8_cmn.npz")])


def test_command_writes_the_ensemble_and_reports_its_budget(tmp_path, capsys):
    from fixedrnn import cli
    from fixedrnn.golden import file_sha256
    from fixedrnn.model import save
    from tests.test_conv_firmware import conv_model

    a, b = save(conv_model(True, seed=0), tmp_path / "a.npz"), save(conv_model(True, seed=1), tmp_path / "b.npz")
    out = tmp_path / "e.npz"
    assert cli.main(["ensemble", str(a), str(b), "--out", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    model = load(out)
    total = budget.audit(model, name="e").total
    assert line == (f"{out}: 2 graph models, logits added ({model.graph.n_ops} ops); {total} bytes of the 36864 "
                    f"budget (margin {36864 - total})")
    assert model.meta["command"] == f"fixedrnn ensemble {a} {b} --out {out}"
    assert list(model.meta["ensemble_of"]) == [f"{p} sha256:{file_sha256(p)}" for p in (a, b)]
    assert list(model.meta["member_commands"]) == ["not recorded", "not recorded"]  # the test models have none
    x = np.stack([np.asarray(engine.features(model, pcm)) for pcm in _pcms(model)])
    np.testing.assert_array_equal(model.run_features_batch(x),
                                  run_batch(merge_graphs([load(a).graph, load(b).graph]), x))
    assert cli.main(["ensemble", str(a), str(b), "--out", str(out), "--budget", "1K"]) == 1  # over: said, written
    assert "over by" in capsys.readouterr().out and out.is_file()


@pytest.mark.parametrize("case, named", [
    ("one", "at least two"),
    ("mismatch", "b.npz: model 1: its input quantisation"),
    ("unreadable", "bad.npz"),
    ("suffix", "--out"),
    ("budget", "--budget"),
])
def test_command_refusals_are_one_line(tmp_path, capsys, case, named):
    from fixedrnn import cli
    from fixedrnn.model import save
    from tests.test_conv_firmware import conv_model

    a = save(conv_model(True, seed=0), tmp_path / "a.npz")
    b = conv_model(True, seed=1)
    b = save(dataclasses.replace(b, input=dataclasses.replace(b.input, cmn="off")) if case == "mismatch" else b,
             tmp_path / "b.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a model")
    out = tmp_path / ("e.txt" if case == "suffix" else "e.npz")
    argv = {"one": [a], "unreadable": [a, tmp_path / "bad.npz"]}.get(case, [a, b])
    extra = ["--budget", "lots"] if case == "budget" else []
    assert cli.main(["ensemble", *map(str, argv), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert named in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()
