"""Convolutional graph models (fixedrnn.conv_graph: CONV_2D, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D or
MEAN, FULLY_CONNECTED) on the device: the C graph executor's CONV, AVERAGE_POOL_2D and MEAN built for
the host and for QEMU's Cortex-M4, with and without cepstral mean normalisation (FRNN_CMN: the
window's front-end outputs held, the int8 window fr_graph_window), q15 and q31 front ends, against
the engine from PCM (every int8 feature of the window and every logit, 0 LSB); the per-segment
streaming firmware of a CMN conv model against SegmentStream; the budget's items against nm -S."""

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from fixedrnn import budget, c_export, conv_graph as cg, engine, layout
from fixedrnn.graph_model import GraphModel
from fixedrnn.graph_plan import in_place_scratch, plan
from fixedrnn.model import Model, load

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "firmware"))

import runner  # noqa: E402
from tests.test_c_export import nm_sizes, utterances  # noqa: E402
from tests.test_graph_firmware import _pcm_input, _run  # noqa: E402


def conv_model(cmn, precision="q15", pool="AVERAGE_POOL_2D", channels=6, seed=0, multiplier=1):
    """A random DS-CNN-shaped graph model on the front end, window and input normalisation of a
    golden model (lstm_int8_cmn with CMN, lstm_int8 without), calibrated on the windows of
    ``utterances(model, seed=3)``."""
    base = load(REPO / "golden" / "models" / ("lstm_int8_cmn.npz" if cmn else "lstm_int8.npz"))
    frontend = dataclasses.replace(base.frontend, precision=precision)
    inp = base.input
    if precision == "q31":  # the q31 window's differences span int32: offsets 0 (tests/test_cmn_firmware.py)
        inp = dataclasses.replace(inp, offset=np.zeros_like(inp.offset))
    rng = np.random.default_rng(seed)
    c = channels
    layers = [cg.Conv(rng.normal(0, .3, (c, 10, 4, 1)), rng.normal(0, .1, c), (2, 2), cg.SAME, True, (0, 1)),
              cg.DepthwiseConv(rng.normal(0, .4, (1, 3, 3, c * multiplier)), rng.normal(0, .1, c * multiplier), (1, 1),
                               cg.SAME, True, (0, 1)),
              cg.Conv(rng.normal(0, .3, (c, 1, 1, c * multiplier)), rng.normal(0, .1, c), (1, 1), cg.SAME, True, (0, 1)),
              cg.GlobalAveragePool(pool), cg.Dense(rng.normal(0, .5, (len(base.labels), c)),
                                                   rng.normal(0, .1, len(base.labels)), (0, 1))]
    x = rng.integers(-128, 128, (16, base.frames, base.n_features))
    for _ in range(2):  # calibrated on random windows, then on the windows of the test's utterances
        layers = cg.calibrated(layers, (x - inp.zero_point) * inp.scale)
        graph = cg.build_graph(layers, base.frames, base.n_features, inp.scale, inp.zero_point)
        built = GraphModel(labels=base.labels, frontend=frontend, frames=base.frames, input=inp, graph=graph,
                           meta={})
        model = Model.from_arrays(built.to_arrays(), source="test conv model")
        x = np.stack([np.asarray(engine.features(model, pcm)) for pcm in utterances(model, seed=3)]).astype(float)
    return model


CASES = [(False, "q15", "AVERAGE_POOL_2D", runner.BuildConfig("host", "-O2")),
         (False, "q15", "MULTIPLIER_2", runner.BuildConfig("host", "-O2")),  # depth multiplier 2, AVERAGE_POOL_2D
         (True, "q15", "MEAN", runner.BuildConfig("host", "-O2")),
         (True, "q31", "AVERAGE_POOL_2D", runner.BuildConfig("host", "-O2")),
         (True, "q15", "AVERAGE_POOL_2D", runner.BuildConfig("arm", "-O2")),
         (False, "q15", "MEAN", runner.BuildConfig("arm", "-Os", dsp=False))]


@pytest.mark.slow
@pytest.mark.parametrize("cmn, precision, pool, config", CASES,
                         ids=lambda v: v.name if isinstance(v, runner.BuildConfig) else str(v))
def test_pcm_through_the_firmware_equals_the_engine(cmn, precision, pool, config, tmp_path):
    missing = runner.toolchain_missing(config.target)
    if missing:
        pytest.skip(missing)
    if pool == "MULTIPLIER_2":  # the executor's general path: no op in place (the depthwise one widens)
        model = conv_model(cmn, precision, multiplier=2)
        assert plan(model.graph).in_place == 0
    else:
        model = conv_model(cmn, precision, pool)
        assert plan(model.graph).in_place == 2  # the in-place path of the executor is the one compared
    c_export.export_c(model, tmp_path / "src")
    pcms = utterances(model, seed=3)
    windows, logits = _run(model, tmp_path / "src", _pcm_input(pcms), len(pcms), config, tmp_path)
    features = np.stack([np.asarray(engine.features(model, pcm)) for pcm in pcms])
    np.testing.assert_array_equal(windows, features)
    want = np.stack([model.run_features(x) for x in features])
    np.testing.assert_array_equal(logits, want)
    assert len({tuple(v) for v in want}) > 3  # the logits move with the input: a real comparison


def test_plan_of_a_conv_graph():
    """The program holds each conv's filter once in the int8 pool; the depthwise and pointwise
    convolutions (same shape in and out, their input's only reader) run in place, so the arena holds
    one feature map, the first convolution's output, and the scratch the depthwise filter's row above
    plus one output row; a convolution whose input is read again does not run in place."""
    model = conv_model(True)
    graph = model.graph
    p = plan(graph)
    pool = p.s8.tobytes()
    for k in range(graph.n_ops):
        if graph.op_name(k) in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            assert graph.constant(graph.inputs(k)[1]).tobytes() in pool
    one_map = int(np.prod(graph.shape(graph.outputs(1)[0])))  # [1, 31, 7, 6]
    # (the first convolution's 10 x 4 patch: its pixels run as a FULLY_CONNECTED of it)
    assert p.in_place == 2 and p.arena_bytes < one_map + 64
    assert p.patch_bytes == 10 * 4 * 1 and p.scratch_bytes == 2 * 7 * 6 + p.patch_bytes  # ring + row, patch
    conv1 = [k for k in range(graph.n_ops) if graph.op_name(k) == "CONV_2D"][0]
    assert in_place_scratch(graph, conv1) is None  # stride 2, one channel in: not in place


def test_an_input_read_twice_is_not_overwritten():
    """A depthwise convolution whose input another op reads later keeps its own output buffer."""
    from fixedrnn.graph_plan import _overwritable

    graph = conv_model(False).graph
    k = [k for k in range(graph.n_ops) if graph.op_name(k) == "DEPTHWISE_CONV_2D"][0]
    t = graph.inputs(k)[0]
    root = {t: ("ARENA", t, 0)}
    assert _overwritable(graph, k, t, root, {t: [k]})
    assert not _overwritable(graph, k, t, root, {t: [k, k + 2]})
    assert not _overwritable(graph, k, t, root, {t: [k, -1]})  # a view of it is read elsewhere
    assert not _overwritable(graph, k, t, {t: ("INPUT", t, 0)}, {t: [k]})


@pytest.mark.slow
def test_budget_items_equal_linker_symbol_sizes(tmp_path):
    config = runner.BuildConfig("arm", "-O2")
    missing = runner.toolchain_missing("arm")
    if missing:
        pytest.skip(missing)
    model = conv_model(True, pool="MEAN")
    c_export.export_c(model, tmp_path / "src")
    sizes = nm_sizes(runner.build(config, tmp_path / "b", main="main.c", src_dir=tmp_path / "src"))
    report = budget.audit(model, name="conv")
    audit = {item.symbol: item.nbytes for item in report.flash + report.ram}
    assert {symbol: sizes.get(symbol) for symbol in audit} == audit
    assert sorted(s for s in sizes if s.startswith(layout.SYMBOL_PREFIX)) == sorted(audit)
    assert f"{layout.SYMBOL_PREFIX}graph_window" in audit


@pytest.mark.slow  # host and QEMU builds
@pytest.mark.parametrize("config", [runner.BuildConfig("host", "-O2"), runner.BuildConfig("arm", "-O2")],
                         ids=lambda c: c.name)
def test_per_segment_stream_equals_segment_stream(config, tmp_path):
    """A CMN conv model streams per segment: each decided segment's window, less its mean, normalised
    into fr_segment_window, through the graph; every record and detection equals SegmentStream's."""
    from dataclasses import replace

    sys.path.insert(0, str(REPO / "tests"))
    from test_stream import synthetic
    from test_stream_firmware import BLOCKS, assert_firmware_equals_python, require

    from fixedrnn.decision import DecisionConfig
    from fixedrnn.stream import StreamConfig

    require(config)
    model = conv_model(True, channels=4)
    stream = StreamConfig(per_segment=True, decision=DecisionConfig(min_loud=1, max_frames=30))
    outputs = assert_firmware_equals_python(model, [(synthetic(8.0, seed=11), BLOCKS["mixed"])], config, stream,
                                            tmp_path)
    assert len(outputs[0].detections) >= 3
