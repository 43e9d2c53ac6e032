"""The front end's ``cmsis_build="dsp"`` variant: CMSIS-DSP's arm_mfcc_q15/q31 as built for a
Cortex-M4 (ARM_MATH_DSP), 0 LSB.

Oracles: the frozen outputs of the real library built from CMSIS-DSP's sources and run under QEMU
(tests/fixtures/cmsis_dsp_m4/mfcc_dsp.npz, made by ``tools/firmware/cmsis_dsp_mfcc.py golden``), and,
when ``$FIXEDRNN_CMSIS_DSP`` / ``$FIXEDRNN_CMSIS_CORE`` name the sources, that build itself.
"""

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from fixedrnn import c_export, mfcc
from fixedrnn import model as model_module
from fixedrnn.errors import FixedRnnError, InputFileError
from fixedrnn.model import Model

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools" / "firmware"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cmsis_dsp_mfcc as oracle  # noqa: E402
import runner  # noqa: E402
from throwaway_models import random_model  # noqa: E402

CONFIGS = oracle.golden_configs()


@pytest.fixture(scope="module")
def golden():
    with np.load(oracle.GOLDEN) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def frames():
    return {name: oracle.golden_frames(config) for name, config in CONFIGS.items()}


def test_golden_file_is_of_these_configurations_and_frames(golden, frames):
    import json

    assert json.loads(str(golden["configs"])) == oracle.GOLDEN_CONFIGS
    for name in CONFIGS:
        assert str(golden[f"{name}.frames_sha256"]) == oracle.frames_digest(frames[name])
        assert golden[f"{name}.q15"].shape == (len(frames[name]), CONFIGS[name].n_mfcc)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_dsp_variant_equals_the_real_cortex_m4_build(name, golden, frames):
    front_end = mfcc.MfccFrontEnd(CONFIGS[name])
    np.testing.assert_array_equal(front_end.mfcc_q15(frames[name]), golden[f"{name}.q15"])
    np.testing.assert_array_equal(front_end.mfcc_q31(oracle.q31_frames(frames[name])), golden[f"{name}.q31"])


@pytest.mark.parametrize("name", list(CONFIGS))
def test_dsp_variant_parallel_path_is_the_same(name, golden, frames):
    front_end = mfcc.MfccFrontEnd(CONFIGS[name])
    np.testing.assert_array_equal(front_end.mfcc_q15(frames[name], parallel=True), golden[f"{name}.q15"])


@pytest.mark.parametrize("name", list(CONFIGS))
def test_builds_differ_in_q15_only(name, golden, frames):
    """The real M4 build is not the portable one in q15 (the variant is needed), and is in q31."""
    portable = mfcc.MfccFrontEnd(dataclasses.replace(CONFIGS[name], cmsis_build="portable"))
    assert np.any(portable.mfcc_q15(frames[name]) != golden[f"{name}.q15"])
    np.testing.assert_array_equal(portable.mfcc_q31(oracle.q31_frames(frames[name])), golden[f"{name}.q31"])


def test_config_rejects_an_unknown_build():
    with pytest.raises(FixedRnnError, match=r"^cmsis_build: must be one of portable, dsp, got 'neon'$"):
        mfcc.MfccConfig(cmsis_build="neon")


def _model(cmsis_build, **frontend):
    model = random_model(cell="rnn", weights="int8", units=4, frames=2, seed=1)
    return dataclasses.replace(model, frontend=dataclasses.replace(model.frontend, cmsis_build=cmsis_build,
                                                                   **frontend))


def test_model_file_records_the_build(tmp_path):
    portable, dsp = _model("portable"), _model("dsp")
    assert "frontend.cmsis_build" not in portable.to_arrays()  # the default is not written: old files unchanged
    assert str(dsp.to_arrays()["frontend.cmsis_build"]) == "dsp"
    path = tmp_path / "m.npz"
    model_module.save(dsp, path)
    loaded = model_module.load(path)
    assert loaded.frontend.cmsis_build == "dsp"
    assert loaded.frontend.mfcc_config().cmsis_build == "dsp"
    assert Model.from_arrays(portable.to_arrays()).frontend.cmsis_build == "portable"


def test_model_file_with_an_unknown_build_is_refused():
    arrays = _model("dsp").to_arrays()
    arrays["frontend.cmsis_build"] = np.array("mve")
    with pytest.raises(InputFileError, match="'frontend.cmsis_build' must be one of portable, dsp, got 'mve'"):
        Model.from_arrays(arrays)


def test_model_front_end_follows_the_build(golden, frames):
    features = _model("dsp").front_end.mfcc_q15(frames["default"])
    np.testing.assert_array_equal(features, golden["default.q15"])


@pytest.mark.parametrize("cmsis_build", ["portable", "dsp"])
def test_export_selects_the_c_mfcc_by_macro(cmsis_build, tmp_path):
    c_export.export_c(_model(cmsis_build), tmp_path, silence=np.zeros(13, np.int8))
    header = (tmp_path / "frnn_model.h").read_text()
    assert ("#define FRNN_MFCC_ARM_MATH_DSP 1" in header) == (cmsis_build == "dsp")


# ---------------------------------------------------------------------------------------------
# The C MFCC (frnn_mfcc.c, frnn_mfcc_q15_arm_dsp) on the device and the host

#: main.c's input: magic "FRNI", kind 5 (MFCC of int16 frames only), one item.
MAIN_MAGIC, KIND_FRAMES = 0x494E5246, 5
FIRMWARE_BUILDS = [runner.BuildConfig("arm", "-O2", dsp=True), runner.BuildConfig("arm", "-Os", dsp=False),
                   runner.BuildConfig("host", "-O2")]
#: Configurations the firmware test exports (the throwaway model has I = 13 features).
FIRMWARE_CONFIGS = {"default": {}, "fft512": {"fft_length": 512, "hop": 256, "n_mels": 32}}


@pytest.mark.slow
@pytest.mark.parametrize("cfg", FIRMWARE_BUILDS, ids=lambda c: c.name)
@pytest.mark.parametrize("name", list(FIRMWARE_CONFIGS))
def test_c_mfcc_dsp_variant_equals_the_real_build(cfg, name, golden, frames, tmp_path):
    missing = runner.toolchain_missing(cfg.target)
    if missing:
        pytest.skip(missing)
    model = _model("dsp", **FIRMWARE_CONFIGS[name])
    assert model.frontend.mfcc_config() == CONFIGS[name]
    c_export.export_c(model, tmp_path / "src", silence=np.zeros(model.n_features, np.int8))
    exe = runner.build(cfg, tmp_path / "build", main="main.c", src_dir=tmp_path / "src")
    data = frames[name]
    blob = np.array([MAIN_MAGIC, KIND_FRAMES, 1, len(data)], "<i4").tobytes() + data.astype("<i2").tobytes()
    (tmp_path / "in.bin").write_bytes(blob)
    runner.run(exe, cfg, [tmp_path / "in.bin", tmp_path / "out.bin"], timeout=600)
    got = np.fromfile(tmp_path / "out.bin", "<i4").reshape(len(data), model.n_features)
    np.testing.assert_array_equal(got, golden[f"{name}.q15"])


# ---------------------------------------------------------------------------------------------
# The real library (needs CMSIS-DSP's sources; CI has none and relies on the frozen outputs above)


@pytest.fixture(scope="module")
def cmsis_build_elf(tmp_path_factory):
    sources = oracle.sources_from_environment()
    if isinstance(sources, str):
        pytest.skip(f"CMSIS-DSP sources absent: {sources}")
    missing = runner.toolchain_missing("arm")
    if missing:
        pytest.skip(missing)
    return oracle.build(sources, tmp_path_factory.mktemp("cmsis-dsp"))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CONFIGS))
def test_real_build_reproduces_the_frozen_outputs(name, cmsis_build_elf, golden, frames, tmp_path):
    got = oracle.run_mfcc(cmsis_build_elf, CONFIGS[name], "q15", frames[name], tmp_path)
    np.testing.assert_array_equal(got, golden[f"{name}.q15"])


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["q15", "q31"])
def test_dsp_variant_equals_the_real_build_on_other_frames(precision, cmsis_build_elf, tmp_path):
    """Frames the golden set does not hold: scaled random frames (every level of normalisation) and,
    when $FIXEDRNN_FSDD is there, every frame of 60 FSDD test recordings."""
    from fixedrnn import fsdd, signals

    config = CONFIGS["default"]
    u = signals.uniforms(99, 200 * 256).reshape(200, 256)
    scale = 2.0 ** -(np.arange(200) % 16)[:, None]
    data = [np.floor((u * 65536.0 - 32768.0) * scale).astype(np.int16)]
    try:
        recordings = fsdd.list_recordings(split="test")[::5]
        data += [mfcc.frames(r.samples(), config) for r in recordings]
    except FixedRnnError:
        pass
    data = np.concatenate(data)
    if precision == "q31":
        data = oracle.q31_frames(data)
    got = oracle.run_mfcc(cmsis_build_elf, config, precision, data, tmp_path)
    np.testing.assert_array_equal(mfcc.MfccFrontEnd(config).mfcc(data, precision), got)
