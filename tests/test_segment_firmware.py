"""The per-segment streaming firmware (FRNN_STREAM_PER_SEGMENT: fixedrnn/c/model/frnn_stream.c and
frnn_segment_result in frnn_pipeline.c) against fixedrnn.segment_stream.SegmentStream: every frame's
energy, VAD flags and front-end output, and every detection (the model's logits of each segment's
window), 0 LSB, for models with and without cepstral mean normalisation, q15 and q31 front ends,
and imported graphs; host gcc, then Cortex-M4 under QEMU; the layouts against the linker's symbol
sizes. (lstm_int8_cmn on FSDD streams: tests/test_stream_firmware.py's golden models.)"""

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fixedrnn import budget, c_export, firmware, layout
from fixedrnn.decision import DecisionConfig
from fixedrnn.errors import FixedRnnError
from fixedrnn.stream import StreamConfig

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "firmware"))
sys.path.insert(0, str(REPO / "tests"))

import runner  # noqa: E402
from test_c_export import nm_sizes  # noqa: E402
from test_cmn_firmware import cmn_model, model_of  # noqa: E402
from test_stream import synthetic  # noqa: E402
from test_stream_firmware import (BLOCKS, CONFIGS, HOST, QEMU_BUILDS, assert_firmware_equals_python,  # noqa: E402
                                  require)

PER_SEGMENT = StreamConfig(per_segment=True)
#: Every VAD and decision constant changed, and segments that max_frames cuts.
TUNED = replace(CONFIGS["tuned"], per_segment=True)
#: (model name of test_cmn_firmware.MODELS, precision, with CMN)
CASES = [("lstm-int8", "q15", True), ("rnn-pot", "q31", True), ("lstm-pot", "q15", False), ("rnn-int8", "q31", False)]


def case_model(name, precision, cmn):
    return cmn_model(name, precision) if cmn else model_of(name, precision)


def test_export_writes_the_per_segment_stream():
    model = cmn_model("lstm-int8")
    files = c_export.generate(model, stream=PER_SEGMENT)
    header = files["frnn_model.h"]
    assert "#define FRNN_STREAM_PER_SEGMENT 1" in header and "#define FRNN_CMN 1" in header
    t, n = model.frames, model.n_features
    assert f"fr_segment_mfcc[{(t + 1) * n}]" in header
    assert "fr_preroll" not in header and "fr_decision_scores" not in header and "fr_silence_features" not in header
    plain = c_export.generate(model_of("rnn-int8", "q31"), stream=PER_SEGMENT)["frnn_model.h"]
    assert "FRNN_STREAM_PER_SEGMENT 1" in plain and "FRNN_CMN" not in plain
    assert f"int32_t fr_segment_mfcc[{(t + 1) * n}]" in plain and "fr_silence_mfcc" in plain


def test_per_segment_layout():
    """The ring of T + 1 front-end outputs in place of the pre-roll ring and the ring of scores; the
    silent frame's front-end output in flash, for a model with or without CMN."""
    for cmn, precision, width in ((True, "q15", 2), (False, "q31", 4)):
        model = case_model("lstm-int8", precision, cmn)
        arrays = model.to_arrays()
        ram = {item.symbol: item.nbytes for item in layout.ram_items(arrays, PER_SEGMENT)}
        flash = {item.symbol: item.nbytes for item in layout.flash_items(arrays, PER_SEGMENT)}
        assert ram["fr_segment_mfcc"] == (model.frames + 1) * model.n_features * width
        assert "fr_preroll" not in ram and "fr_decision_scores" not in ram
        assert flash["fr_silence_mfcc"] == model.n_features * width and "fr_silence_features" not in flash
    with pytest.raises(FixedRnnError, match="reset=False"):
        layout.ram_items(model_of("lstm-int8").to_arrays(), StreamConfig(per_segment=True, reset=False))


@pytest.mark.slow  # host builds
@pytest.mark.parametrize("name, precision, cmn", CASES)
def test_host_streams_equal_segment_stream(name, precision, cmn, tmp_path):
    """12 s of synthetic audio in every block-size pattern, the default and the tuned configuration:
    the host build's records and detections equal SegmentStream's."""
    require(HOST)
    model = case_model(name, precision, cmn)
    pcm = synthetic(12.0, seed=len(name) + 3)
    for key, config in (("default", PER_SEGMENT), ("tuned", TUNED)):
        streams = [(pcm, sizes) for sizes in BLOCKS.values()] + [(np.zeros(100, np.int16), [1])]
        outputs = assert_firmware_equals_python(model, streams, HOST, config, tmp_path / key)
        assert sum(len(o.detections) for o in outputs) >= 4 and len(outputs[-1].records) == 0


@pytest.mark.slow  # QEMU
@pytest.mark.parametrize("build", QEMU_BUILDS, ids=lambda c: c.name)
def test_qemu_streams_equal_segment_stream(build, tmp_path):
    """Cortex-M4 (-O2 with DSP intrinsics, -Os portable C): every case, 10 s synthetic streams."""
    require(build)
    for k, case in enumerate(CASES):
        model = case_model(*case)
        pcm = synthetic(10.0, seed=30 + k)
        config = replace(PER_SEGMENT, decision=DecisionConfig(min_loud=1, max_frames=20))
        assert_firmware_equals_python(model, [(pcm, BLOCKS["mixed"])], build, config, tmp_path / case[0])


@pytest.mark.slow  # arm builds
@pytest.mark.parametrize("cmn", [True, False])
def test_layout_equals_linker_symbol_sizes(cmn, tmp_path):
    """Every flash and RAM item of the per-segment layout has its nm -S size in the Cortex-M4 image,
    and the image has no other fr_ object; for a CMN model they are the budget's --mode streaming."""
    build = runner.BuildConfig("arm", "-Os")
    require(build)
    model = case_model("lstm-pot", "q15", cmn)
    _, _, exe = firmware.build_stream_firmware(model, tmp_path, build, config=PER_SEGMENT)
    sizes = nm_sizes(exe)
    arrays = model.to_arrays()
    audit = {item.symbol: item.nbytes
             for item in layout.flash_items(arrays, PER_SEGMENT) + layout.ram_items(arrays, PER_SEGMENT)}
    assert {sym: sizes.get(sym) for sym in audit} == audit
    assert sorted(s for s in sizes if s.startswith(layout.SYMBOL_PREFIX)) == sorted(audit)
    if cmn:
        report = budget.audit(model, mode="streaming")
        assert {i.symbol: i.nbytes for i in report.flash + report.ram} == audit


@pytest.mark.slow  # host build, processes
def test_firmware_run_and_export_per_segment(tmp_path, capsys):
    """'firmware run --stream --per-segment' on a plain model equals listen --per-segment (exit 0);
    --per-segment without --stream is one line, exit 2, for 'firmware run' and 'export c'."""
    import scipy.io.wavfile

    from fixedrnn import cli
    from fixedrnn.model import save

    require(HOST)
    model_file = save(model_of("rnn-int8"), tmp_path / "m.npz")
    wav = tmp_path / "s.wav"
    scipy.io.wavfile.write(wav, 8000, synthetic(6.0, seed=2))
    assert cli.main(["firmware", "run", str(model_file), str(wav), "--stream", "--per-segment", "--target", "host"]) == 0
    assert "streaming, per segment" in capsys.readouterr().out
    for args in (["firmware", "run", str(model_file), str(wav), "--per-segment", "--target", "host"],
                 ["export", "c", str(model_file), str(tmp_path / "out"), "--per-segment"]):
        assert cli.main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--per-segment" in err and not (tmp_path / "out").exists()
    assert cli.main(["export", "c", str(model_file), str(tmp_path / "out"), "--stream", "--per-segment"]) == 0
    assert "#define FRNN_STREAM_PER_SEGMENT 1" in (tmp_path / "out" / "frnn_model.h").read_text()


# ---- graph models (imported unrolled graphs): per segment only ------------------------------------

def graph_model(name):
    from tests.test_graph import _model

    return _model(name)


@pytest.mark.slow  # host builds
@pytest.mark.parametrize("name", ["keras3_gru_h24", "keras3_lstm_h32", "keras3_rnn_h16"])
def test_host_graph_streams_equal_segment_stream(name, tmp_path):
    """An imported graph streams per segment: its graph runs on each decided segment's int8 window
    (fr_segment_window); records and detections equal SegmentStream's (what listen runs for it)."""
    require(HOST)
    model = graph_model(name)
    pcm = synthetic(10.0, seed=11)
    config = replace(PER_SEGMENT, decision=DecisionConfig(min_loud=1, max_frames=30))
    outputs = assert_firmware_equals_python(model, [(pcm, BLOCKS["mixed"]), (pcm, BLOCKS["8192"])], HOST, config,
                                            tmp_path)
    assert len(outputs[0].detections) >= 3


@pytest.mark.slow  # QEMU, arm builds
def test_qemu_graph_stream_and_layout(tmp_path):
    """Cortex-M4 -O2: the GRU graph's per-segment stream equals SegmentStream; every flash and RAM
    item of its layout has its nm -S size, and there is no other fr_ object."""
    build = QEMU_BUILDS[0]
    require(build)
    model = graph_model("keras3_gru_h24")
    config = replace(PER_SEGMENT, decision=DecisionConfig(min_loud=1, max_frames=30))
    assert_firmware_equals_python(model, [(synthetic(8.0, seed=12), BLOCKS["mixed"])], build, config,
                                  tmp_path / "run")
    _, _, exe = firmware.build_stream_firmware(model, tmp_path / "size", runner.BuildConfig("arm", "-Os"),
                                               config=config)
    sizes = nm_sizes(exe)
    arrays = model.to_arrays()
    audit = {item.symbol: item.nbytes for item in layout.flash_items(arrays, config) + layout.ram_items(arrays, config)}
    assert audit["fr_segment_window"] == model.frames * model.n_features
    assert {sym: sizes.get(sym) for sym in audit} == audit
    assert sorted(s for s in sizes if s.startswith(layout.SYMBOL_PREFIX)) == sorted(audit)
    report = budget.audit(model, mode="streaming")
    assert {i.symbol: i.nbytes for i in report.flash + report.ram} == {
        i.symbol: i.nbytes for i in layout.flash_items(arrays, PER_SEGMENT) + layout.ram_items(arrays, PER_SEGMENT)}
