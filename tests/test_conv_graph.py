"""fixedrnn.conv_graph: DS-CNN-shaped graphs built from random float layers (both global pools,
SAME and VALID, strides, with and without ReLU) run by the graph engine equal TFLM on the same graph
written as a .tflite (0 LSB, every input); the file read back by the .tflite import is the same
graph; the graph model file keeps it; the quantisation rules; bad layer lists are refused."""

import dataclasses
import types

import numpy as np
import pytest

from fixedrnn import conv_graph as cg
from fixedrnn.errors import FixedRnnError
from fixedrnn.graph import check_params, run, run_batch
from fixedrnn.tflite_export import graph_tflite_bytes
from tests.tflite_graphs import tflm_run

T, I = 21, 13


def _layers(rng, channels=6, pool="AVERAGE_POOL_2D"):
    return [cg.Conv(rng.normal(0, .3, (channels, 5, 4, 1)), rng.normal(0, .1, channels), (2, 2), cg.SAME, True, (0, 1)),
            cg.DepthwiseConv(rng.normal(0, .4, (1, 3, 3, channels)), rng.normal(0, .1, channels), (1, 1), cg.SAME, True,
                             (0, 1)),
            cg.Conv(rng.normal(0, .3, (channels, 1, 1, channels)), rng.normal(0, .1, channels), (1, 1), cg.VALID, True,
                    (0, 1)),
            cg.DepthwiseConv(rng.normal(0, .4, (1, 3, 2, channels)), rng.normal(0, .1, channels), (2, 1), cg.VALID,
                             False, (0, 1)),
            cg.GlobalAveragePool(pool), cg.Dense(rng.normal(0, .3, (10, channels)), rng.normal(0, .1, 10), (0, 1))]


def _graph(seed, pool):
    rng = np.random.default_rng(seed)
    s_in, z_in = 1 / 32, int(rng.integers(-10, 10))
    x = rng.integers(-128, 128, (12, T, I)).astype(np.int8)
    layers = cg.calibrated(_layers(rng, pool=pool), (x.astype(np.float64) - z_in) * s_in)
    return cg.build_graph(layers, T, I, s_in, z_in), layers, x, s_in, z_in


def _tflm(data, xs):
    return np.stack([tflm_run(data, [x[None]]).reshape(-1) for x in xs]).astype(np.int8)


@pytest.mark.parametrize("pool", ["AVERAGE_POOL_2D", "MEAN"])
@pytest.mark.parametrize("seed", range(3))
def test_engine_equals_tflm(seed, pool):
    pytest.importorskip("tflite_micro")
    graph, _, x, _, _ = _graph(seed, pool)
    edges = np.stack([np.full((T, I), -128), np.full((T, I), 127)]).astype(np.int8)
    xs = np.concatenate([x, edges])
    ours = run_batch(graph, xs)
    np.testing.assert_array_equal(ours, np.stack([run(graph, v) for v in xs]))
    np.testing.assert_array_equal(ours, _tflm(graph_tflite_bytes(types.SimpleNamespace(graph=graph)), xs))


def test_int8_graph_follows_the_float_network():
    graph, layers, x, s_in, z_in = _graph(5, "AVERAGE_POOL_2D")
    logits = cg.float_forward(layers, (x.astype(np.float64) - z_in) * s_in)[-1]
    out = run_batch(graph, x).astype(np.float64)
    s_out, z_out = graph.scale(graph.output), int(graph.zero_point[graph.output])
    # int8 logits within a few output steps of the float ones: the quantisation, not another network
    assert np.abs((out - z_out) * s_out - logits).max() < 8 * s_out


def test_tflite_import_reads_the_same_graph(tmp_path):
    pytest.importorskip("tflite_micro")
    from fixedrnn.graph_import import graph_from_tflite
    from fixedrnn.tflite_read import read_tflite

    graph, _, x, _, _ = _graph(1, "MEAN")
    path = tmp_path / "dscnn.tflite"
    path.write_bytes(graph_tflite_bytes(types.SimpleNamespace(graph=graph)))
    back = graph_from_tflite(read_tflite(path))
    check_params(back)
    np.testing.assert_array_equal(run_batch(back, x), run_batch(graph, x))
    assert [back.op_name(k) for k in range(back.n_ops)] == [graph.op_name(k) for k in range(graph.n_ops)]


def test_graph_model_file_keeps_the_graph(tmp_path):
    from fixedrnn.convert import make_input_quant
    from fixedrnn.graph_model import GraphModel
    from fixedrnn.model import FrontendSpec, Model, load, save

    graph, _, x, s_in, z_in = _graph(2, "AVERAGE_POOL_2D")
    inp = make_input_quant(np.zeros(I), np.ones(I), s_in, z_in, cmn="window")
    inp = dataclasses.replace(inp, scale=graph.scale(graph.input))
    spec = FrontendSpec(sample_rate=8000, fft_length=256, hop=128, n_mels=20, n_mfcc=I, fmin=20.0, fmax=4000.0,
                        window="hann", precision="q15")
    built = GraphModel(labels=tuple("0123456789"), frontend=spec, frames=T, input=inp, graph=graph, meta={})
    model = Model.from_arrays(built.to_arrays(), source="test")
    save(model, tmp_path / "m.npz")
    back = load(tmp_path / "m.npz")
    np.testing.assert_array_equal(back.run_features_batch(x), run_batch(graph, x))
    np.testing.assert_array_equal(back.run_features_batch(x[:2], backend="numpy"), run_batch(graph, x[:2]))


def test_quantisation_rules():
    assert cg.activation_quant(0.0, 2.55) == (pytest.approx(0.01), -128)
    scale, zp = cg.activation_quant(-1.28, 1.27)
    assert np.float32(scale) == np.float32(0.01) and zp == 0
    assert cg.activation_quant(0.5, 2.55)[1] == -128  # the range widened to hold 0
    q, s = cg.weight_quant(np.array([[0.5, -1.0], [0.0, 0.0], [0.3, 0.1]]))
    assert q.tolist() == [[64, -127], [0, 0], [127, 42]] and s.tolist() == [np.float32(1 / 127), 1.0,
                                                                         np.float32(0.3 / 127)]


def test_bad_layer_lists_are_refused():
    rng = np.random.default_rng(0)
    layers = _layers(rng)
    with pytest.raises(FixedRnnError, match="layers must be"):
        cg.build_graph(layers[:-2] + [layers[-1]], T, I, 0.1, 0)
    with pytest.raises(FixedRnnError, match="layers must be"):
        cg.build_graph([layers[-2], layers[-1]], T, I, 0.1, 0)
    bad = [dataclasses.replace(layers[0], weight=rng.normal(size=(6, 5, 4, 2)))] + layers[1:]
    with pytest.raises(FixedRnnError, match="reads 2 channels"):
        cg.build_graph(bad, T, I, 0.1, 0)
    with pytest.raises(FixedRnnError, match="GlobalAveragePool op"):
        cg.build_graph(layers[:-2] + [cg.GlobalAveragePool("MAX"), layers[-1]], T, I, 0.1, 0)
