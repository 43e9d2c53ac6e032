"""Executed-instruction counts of the generated firmware on QEMU's Cortex-M4 (mps2-an386).

    python tools/firmware/count_instructions.py [MODEL.npz ...] [--opt=-O2|--opt=-Os] [--no-frontend]
                                                [--breakdown] [--pot-shift-only] [--endpoint] [--cmn]
                                                [--cmsis-nn DIR [--cmsis-core DIR]]

Two Markdown tables, each build (at --opt, default -O2) twice (DSP intrinsics; portable C with
-DFRNN_NO_DSP), run under the exact instruction counter (icount.py: one trace line per executed
instruction); ``--pot-shift-only`` builds the multiply-free power-of-two FC (-DFRNN_POT_SHIFT_ONLY)
instead of the pair-table one:

1. Front end, per frame: ``frnn_mfcc_frame`` (the MFCC of one int16 frame) and ``frnn_push_frame``
   (MFCC + int8 normalisation + window slide), q15 and q31, 8 kHz, fft_length 256, 20 mels,
   13 coefficients, on the first 256 samples of the standard "chirp_up" synthetic signal (a tiny
   throwaway model: the front end does not depend on the cell).
2. Model: per inference (``frnn_result``: T cell steps + head; a graph model: its graph), per cell
   step, head (a graph model has neither: "–"); models given on
   the command line, else every golden model (golden/models/*.npz), else throwaway random models
   (H = 32, T = 49). Input: random int8 features; for a model with cepstral mean normalisation
   (``input.cmn`` "window", FRNN_CMN, whose window holds front-end outputs) the front-end outputs
   of :func:`cmn_clip`'s last T frames (main.c kind 3), and per inference then includes the window's
   means, subtraction and normalisation.

With ``--breakdown``, a third table: the instructions of one cell step by stage, from the same
run's profile of the step (icount.py: executions per address, each address given to the innermost
function ``addr2line -i`` names, the image built with -g, which does not change the code): MAC loops,
requantization (of the FCs and of the element-wise ops), activations, element-wise ops, and
overhead (everything else: calls, loops over rows, parameter set-up, the cell's own code).

With ``--cmsis-nn DIR`` (a checkout of the public ARM-software/CMSIS-NN repository; ``--cmsis-core``:
CMSIS-Core's ``Include`` folder with ``cmsis_compiler.h``, from ARM-software/CMSIS_6, by default
``DIR/../CMSIS_6/CMSIS/Core/Include``), a last table: for each int8 LSTM or RNN model, CMSIS-NN's
kernels at the same I and H (tools/firmware/cmsis_nn_main.c: ``arm_lstm_unidirectional_s8`` for one
time step; for the RNN ``arm_fully_connected_s8`` x 2 + ``arm_elementwise_add_s8``, CMSIS-NN having
no int8 TANH), built from CMSIS-NN's sources with the same flags, startup and link script (DSP build,
at --opt) and counted the same way, beside fixedrnn's DSP cell step.

With ``--endpoint``, each build also as the window firmware with clip endpointing
(``export_c(..., endpoint=EndpointConfig())``, the default configuration, FRNN_ENDPOINT; main.c's
count mode on kind 4), beside the window firmware, in two more tables:

1. Front end, per frame: ``frnn_push_frame`` of the endpointing build (MFCC + int8 normalisation +
   energy + the held frames' slide: ``search`` x (I + 2) bytes) beside the window build's (the
   window's slide: T x I bytes), on the same frame (the first 256 samples of "chirp_up"), pushed
   when the ``search`` frames held are full (the signal repeated to ``search`` frames).
2. Model, per model given: ``frnn_push_frame`` per frame and ``frnn_result`` per inference, window
   and endpointing builds, and their differences. The input is a clip with quiet around a loud part
   (:func:`endpoint_clip`: ``search`` + 10 frames of faint Gaussian noise with the standard
   "speech_bursts_high" signal added 40 % in), so that the ``search`` frames held are full and the
   segment is a part of them. The push is of the clip's first frame (counted after the inference,
   held frames full); the window build's ``frnn_result`` runs on the window the endpointing
   build's cell read (main.c kind 2: the same cell inputs, the same logits, checked), so the
   difference is the endpointing alone: the segment scan (``frnn_endpoint_segment``, also counted
   alone) and the choice of each row. The window build's ``frnn_result`` on the clip's own last T
   frames (kind 4) is given too. (A model with cepstral mean normalisation: its window build is
   its copy without it, which reads int8 windows; the differences then include the normalisation.)

With ``--cmn``, each model also with cepstral mean normalisation (``input.cmn`` "window", FRNN_CMN:
the window holds front-end outputs and ``frnn_result`` removes their mean before it normalises each
row) beside it without (``input.cmn`` "off"), in one more table, on :func:`cmn_clip` (T + 10
frames): ``frnn_push_frame`` per frame (CMN: MFCC + the slide of T x I front-end outputs, no
normalisation) and ``frnn_result`` per inference; the build without CMN runs it on the window the
CMN build's cell read (kind 2: the same cell inputs, the same logits, checked), so the difference is
the normalisation alone, which ``frnn_cmn_window`` (the means, then the T rows' subtraction and
int8 normalisation, counted alone) costs.

These are instruction counts, not cycles.
"""

import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import icount  # noqa: E402
import runner  # noqa: E402
from fixedrnn import c_export, firmware, model as model_module, signals  # noqa: E402
from fixedrnn.endpoint import EndpointConfig  # noqa: E402

MAGIC = 0x494E5246
BUILDS = ((True, "DSP"), (False, "plain C"))
FRONT_SIGNAL = "chirp_up"
#: The loud part of :func:`endpoint_clip` (0.5 s, one voiced burst) and the noise around it.
ENDPOINT_BURST = "speech_bursts_high"
ENDPOINT_NOISE = signals.SignalSpec("endpoint_noise", "gaussian_noise", 1, seed=11, params=(("sigma", 0.002),))
#: Stage of each kernel function (fixedrnn/c/frnn_kernels.[ch], frnn_packed.c, frnn_sparse.c; inlined ones
#: by their own name); any other function of a step is overhead.
STAGES = {
    "MAC loops": ("extend_input", "pair_input", "pair_word", "lanes", "dot_lanes", "dot_rows4", "dot_row1",
                  "dot_scalar", "frnn_dot_s8", "frnn_dot_pot", "pot_rows",
                  # packed k-bit / minifloat codes (frnn_packed.c) and sparse rows (frnn_sparse.c)
                  "mac_lanes", "load_word", "load_tail", "lane_codes", "top_mask", "lane_chunk", "lane_tail",
                  "lane_rows", "table_pair", "table_rows", "offset_input", "lane_input", "geometry_of", "row_total",
                  "packed_acc", "frnn_dot_sparse", "offset_inputs", "sparse_acc"),
    "requantization": ("requantize_dispatch", "requantize_rows", "requant_apply", "requant_right", "requant_left",
                       "requant_of", "clamp_out", "store", "frnn_srdhm_unsaturated", "frnn_srdhm", "frnn_rdbypot",
                       "frnn_mbqm", "frnn_clamp"),
    "activations": ("lut_s16", "pot_case", "frnn_sigmoid_s16", "frnn_tanh_s16", "frnn_tanh_s8", "frnn_tanh_q4",
                    "frnn_logistic_q4", "exp_on_negative_values", "exp_quarter_interval", "two_over_one_plus_x",
                    "sat_shift_left", "rounding_half_sum", "wrap_add", "wrap_sub", "srdhm"),
    "element-wise": ("frnn_add_s8", "frnn_add_s16_sat", "saturate_s16", "frnn_mul_s16_s16", "frnn_mul_s16_s8",
                     "mul_s16", "mul_s16_dispatch"),
}
STAGE_OF = {name: stage for stage, names in STAGES.items() for name in names}
OVERHEAD = "overhead"
#: CMSIS-NN's source folders the cell kernels need (compiled with -ffunction-sections, linked with
#: --gc-sections).
CMSIS_NN_SOURCES = ("ActivationFunctions", "BasicMathFunctions", "FullyConnectedFunctions", "LSTMFunctions",
                    "NNSupportFunctions")


def with_cmn(model, cmn):
    """``model`` with ``input.cmn`` set to ``cmn`` ("off" or "window")."""
    import dataclasses

    return dataclasses.replace(model, input=dataclasses.replace(model.input, cmn=cmn))


def cmn_clip(model, extra=10):
    """int16 PCM of ``T + extra`` frames: the standard "speech_bursts_high" signal, repeated to length."""
    front = model.frontend
    n = front.fft_length + (model.frames + extra - 1) * front.hop
    return np.resize(signals.generate(signals.standard_signal(ENDPOINT_BURST)), n).astype(np.int16)


def throwaway_models():
    from throwaway_models import random_model

    return {f"{cell} {weights}": random_model(cell=cell, weights=weights, units=32, frames=49, seed=1)
            for cell in ("rnn", "lstm") for weights in ("int8", "pot")}


def _build_and_count(model, tmp, blob, opt="-O2", breakdown=False, pot_shift_only=False):
    """{dsp: region counts} and, with ``breakdown``, {dsp: {stage: instructions}} of region 1."""
    (tmp / "in.bin").write_bytes(blob)
    c_export.export_c(model, tmp / "src", silence=np.zeros(model.n_features, np.int8))
    rows, stages = {}, {}
    for dsp, _ in BUILDS:
        cfg = runner.BuildConfig("arm", opt, dsp=dsp, pot_shift_only=pot_shift_only)
        exe = runner.build(cfg, tmp / cfg.name, main="main.c", src_dir=tmp / "src",
                           extra_cflags="-g" if breakdown else "")
        args = [tmp / "in.bin", tmp / "out.bin", "count"]
        if breakdown:
            rows[dsp], profiles = icount.count_regions(exe, args, timeout=1800, profile={1})
            stages[dsp] = stage_totals(icount.attribute(exe, profiles[1]))
        else:
            rows[dsp] = icount.count_regions(exe, args, timeout=1800)
    return rows, stages


def stage_totals(functions):
    """{stage: instructions} of a {function: instructions} profile (:data:`STAGES`)."""
    totals = dict.fromkeys([*STAGES, OVERHEAD], 0)
    for name, count in functions.items():
        totals[STAGE_OF.get(name, OVERHEAD)] += count
    return totals


def count_model(model, tmp, opt="-O2", breakdown=False, pot_shift_only=False):
    """({dsp: (per inference, per cell step, head)}, {dsp: {stage: step instructions}}) on random int8
    features (main.c kind 2), or for a model with cepstral mean normalisation on the front-end
    outputs of :func:`cmn_clip`'s last T frames (kind 3)."""
    if model.input.cmn == "off":
        rng = np.random.default_rng(0)
        x = rng.integers(-128, 128, (model.frames, model.n_features)).astype(np.int8)
        blob = np.array([MAGIC, 2, 1, model.frames], "<i4").tobytes() + x.tobytes()
    else:
        from fixedrnn import engine

        blob = firmware.mfcc_input([engine.mfcc(model, cmn_clip(model))[-model.frames:]])
    rows, stages = _build_and_count(model, tmp, blob, opt, breakdown, pot_shift_only)
    return {dsp: tuple(c[:3]) for dsp, c in rows.items()}, stages


def count_frontend(precision, tmp, opt="-O2"):
    """{dsp: (MFCC of one frame, push of one frame)} (main.c kind 4, one frame of PCM)."""
    import dataclasses

    from throwaway_models import random_model

    model = random_model(cell="rnn", weights="int8", units=4, frames=2, seed=1)
    model = dataclasses.replace(model, frontend=dataclasses.replace(model.frontend, precision=precision))
    n = model.frontend.fft_length
    pcm = signals.generate(signals.standard_signal(FRONT_SIGNAL))[:n].astype("<i2")
    blob = np.array([MAGIC, 4, 1, n], "<i4").tobytes() + pcm.tobytes()
    rows, _ = _build_and_count(model, tmp, blob, opt)
    return {dsp: tuple(c[3:5]) for dsp, c in rows.items()}


def pcm_blob(pcm):
    """main.c's input (kind 4) of one int16 utterance."""
    return np.array([MAGIC, 4, 1, len(pcm)], "<i4").tobytes() + np.asarray(pcm, "<i2").tobytes()


def endpoint_clip(model, config):
    """int16 PCM of ``config.search + 10`` frames (fft_length + (search + 9) x hop samples) of faint
    Gaussian noise (sigma 0.002 of full scale) with the standard "speech_bursts_high" signal added
    from 40 % of its length: quiet around a loud part, the ``search`` frames held full."""
    import dataclasses

    front = model.frontend
    n = front.fft_length + (config.search + 9) * front.hop
    x = signals.generate(dataclasses.replace(ENDPOINT_NOISE, n=n)).astype(np.int32)
    burst = signals.generate(signals.standard_signal(ENDPOINT_BURST))[:n - 2 * n // 5]
    x[2 * n // 5:2 * n // 5 + len(burst)] += burst
    return np.clip(x, -32768, 32767).astype(np.int16)


def _build(model, tmp, name, dsp, opt, silence=None, endpoint=None):
    """The arm image of ``model`` exported once into ``tmp/src_NAME`` (``silence``, ``endpoint`` as
    for export_c), built into ``tmp/<build>_NAME``."""
    src = tmp / f"src_{name}"
    if not src.exists():
        c_export.export_c(model, src, silence=silence, endpoint=endpoint)
    cfg = runner.BuildConfig("arm", opt, dsp=dsp)
    return runner.build(cfg, tmp / f"{cfg.name}_{name}", main="main.c", src_dir=src)


def count_endpoint(model, tmp, opt="-O2", pcm=None, builds=BUILDS):
    """{dsp: {"push window", "push endpoint", "result window", "result endpoint", "segment",
    "result window clip": instructions, "held", "start", "stop": the segment}} on ``pcm`` (default
    :func:`endpoint_clip`), the default EndpointConfig. "result window" is the window build's
    frnn_result on the window the endpointing build's cell read (kind 2; its logits must equal the
    endpointing build's, else FirmwareError), "result window clip" the window build's on the clip
    itself (kind 4: its last T frames). A model with cepstral mean normalisation: the window build is
    its copy without it (kind 2 needs an int8 window)."""
    config = EndpointConfig()
    pcm = endpoint_clip(model, config) if pcm is None else pcm
    (tmp / "clip.bin").write_bytes(pcm_blob(pcm))
    silence = np.zeros(model.n_features, np.int8)  # as count_model; the endpointing build pads with the model's
    rows = {}
    for dsp, label in builds:
        window_exe = _build(with_cmn(model, "off"), tmp, "window", dsp, opt, silence=silence)
        endpoint_exe = _build(model, tmp, "endpoint", dsp, opt, endpoint=config)
        out = tmp / "out.bin"
        # regions: result, step, head, segment, [frnn_cmn_window,] MFCC, push (main.c)
        counts = icount.count_regions(endpoint_exe, [tmp / "clip.bin", out, "count"], timeout=1800)
        result_e, segment, push_e = counts[0], counts[3], counts[-1]
        got = firmware.read_pcm_output(out.read_bytes(), model, 1, endpoint=True)
        result_clip, _, _, _, push_w = icount.count_regions(window_exe, [tmp / "clip.bin", out, "count"],
                                                            timeout=1800)[:5]
        result_w = _replay(window_exe, tmp, model, got.windows[0], got.logits[0], label)
        held, start, stop = (int(v) for v in got.segments[0])
        rows[dsp] = {"push window": push_w, "push endpoint": push_e, "result window": result_w,
                     "result endpoint": result_e, "segment": segment, "result window clip": result_clip,
                     "held": held, "start": start, "stop": stop}
    return rows


def _replay(window_exe, tmp, model, window, logits, label):
    """frnn_result's instructions in the window build ``window_exe`` (main.c kind 2) on the int8
    ``window`` ``[T, I]`` another build's cell read; its logits must equal that build's ``logits``
    (else FirmwareError)."""
    out = tmp / "out.bin"
    (tmp / "window.bin").write_bytes(np.array([MAGIC, 2, 1, model.frames], "<i4").tobytes() + window.tobytes())
    result = icount.count_regions(window_exe, [tmp / "window.bin", out, "count"], timeout=1800)[0]
    got = np.frombuffer(out.read_bytes(), np.int8)[model.frames * model.n_features:]
    if not np.array_equal(got, logits):
        raise runner.FirmwareError(f"{label}: the window build's logits {got.tolist()} on the other build's "
                                   f"window differ from that build's {logits.tolist()}", 2)
    return result


def count_cmn(model, tmp, opt="-O2", pcm=None, builds=BUILDS):
    """{dsp: {"push window", "push cmn", "result window", "result cmn", "cmn window", "result window clip":
    instructions}} of ``model`` without and with cepstral mean normalisation (``input.cmn`` "off" and
    "window") on ``pcm`` (default :func:`cmn_clip`, main.c kind 4). "result window" is the build
    without CMN's frnn_result on the window the CMN build's cell read (kind 2; the logits must equal
    the CMN build's, else FirmwareError), "cmn window" the CMN build's frnn_cmn_window alone,
    "result window clip" the build without CMN's frnn_result on the clip itself."""
    off, on = with_cmn(model, "off"), with_cmn(model, "window")
    pcm = cmn_clip(model) if pcm is None else pcm
    (tmp / "cmn_clip.bin").write_bytes(pcm_blob(pcm))
    rows = {}
    for dsp, label in builds:
        window_exe = _build(off, tmp, "window", dsp, opt, silence=np.zeros(model.n_features, np.int8))
        cmn_exe = _build(on, tmp, "cmn", dsp, opt)
        out = tmp / "out.bin"
        result_c, _, _, cmn, _, push_c = icount.count_regions(cmn_exe, [tmp / "cmn_clip.bin", out, "count"],
                                                             timeout=1800)
        got = firmware.read_pcm_output(out.read_bytes(), on, 1)
        result_clip, _, _, _, push_w = icount.count_regions(window_exe, [tmp / "cmn_clip.bin", out, "count"],
                                                            timeout=1800)
        result_w = _replay(window_exe, tmp, model, got.windows[0], got.logits[0], label)
        rows[dsp] = {"push window": push_w, "push cmn": push_c, "result window": result_w, "result cmn": result_c,
                     "cmn window": cmn, "result window clip": result_clip}
    return rows


def count_frontend_endpoint(precision, tmp, opt="-O2"):
    """{dsp: (MFCC of one frame, push of one frame)} of the endpointing build (main.c kind 4): the
    frame of :func:`count_frontend`, pushed with the ``search`` frames held full."""
    import dataclasses

    from throwaway_models import random_model

    config = EndpointConfig()
    model = random_model(cell="rnn", weights="int8", units=4, frames=2, seed=1)
    model = dataclasses.replace(model, frontend=dataclasses.replace(model.frontend, precision=precision))
    front = model.frontend
    pcm = np.resize(signals.generate(signals.standard_signal(FRONT_SIGNAL)),
                    front.fft_length + (config.search - 1) * front.hop)
    (tmp / "in.bin").write_bytes(pcm_blob(pcm))
    rows = {}
    for dsp, _ in BUILDS:
        exe = _build(model, tmp, "endpoint", dsp, opt, np.zeros(model.n_features, np.int8), endpoint=config)
        rows[dsp] = tuple(icount.count_regions(exe, [tmp / "in.bin", tmp / "out.bin", "count"], timeout=1800)[4:6])
    return rows


def cmsis_nn_paths(nn_dir, core_dir=None):
    """(CMSIS-NN's root, CMSIS-Core's Include folder), checked; raises ValueError naming what is
    missing."""
    nn = Path(nn_dir)
    if not (nn / "Include" / "arm_nnfunctions.h").is_file() or not (nn / "Source").is_dir():
        raise ValueError(f"--cmsis-nn {nn_dir}: not a CMSIS-NN checkout (no Include/arm_nnfunctions.h "
                         "and Source/)")
    core = Path(core_dir) if core_dir else nn.parent / "CMSIS_6" / "CMSIS" / "Core" / "Include"
    if not (core / "cmsis_compiler.h").is_file():
        raise ValueError(f"--cmsis-core {core}: no cmsis_compiler.h (CMSIS-Core's Include folder of "
                         "ARM-software/CMSIS_6)")
    return nn, core


def count_cmsis_nn(model, nn, core, tmp, opt="-O2"):
    """Instructions of CMSIS-NN's step at ``model``'s dimensions (cmsis_nn_main.c), DSP build."""
    import shutil

    src = tmp / "cmsis_src"
    src.mkdir()
    for folder in CMSIS_NN_SOURCES:
        for path in sorted((nn / "Source" / folder).glob("*.c")):
            if not path.stem.endswith(("_f16", "_f32")):  # the float kernels need CMSIS-DSP's types
                shutil.copy(path, src / path.name)
    cell = {"lstm": 1, "rnn": 2}[model.cell]
    flags = (f"-I{nn / 'Include'} -I{core} -I{HERE} -DCNN_CELL={cell} -DCNN_I={model.n_features} "
             f"-DCNN_H={model.units} -std=gnu99 -Wno-error")
    cfg = runner.BuildConfig("arm", opt)
    exe = runner.build(cfg, tmp / "cmsis_build", main="cmsis_nn_main.c", src_dir=src, extra_cflags=flags)
    (count,) = icount.count_regions(exe, [], timeout=600)
    return count


def main(argv):
    import argparse

    parser = argparse.ArgumentParser(description="Executed-instruction counts of the generated firmware "
                                     "on the emulated Cortex-M4 (instructions, not cycles).")
    parser.add_argument("models", nargs="*", metavar="MODEL.npz",
                        help="models to count (default: every golden model)")
    parser.add_argument("--no-frontend", action="store_true", help="skip the per-frame front-end counts")
    parser.add_argument("--opt", choices=("-O2", "-Os"), default="-O2", help="optimisation level (default -O2)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also the instructions of one cell step by stage (MAC, requantization, ...)")
    parser.add_argument("--pot-shift-only", action="store_true",
                        help="build the multiply-free power-of-two FC (-DFRNN_POT_SHIFT_ONLY)")
    parser.add_argument("--endpoint", action="store_true",
                        help="also the window firmware with clip endpointing (default EndpointConfig): push per "
                             "frame and frnn_result per inference beside the window firmware's")
    parser.add_argument("--cmn", action="store_true",
                        help="also each model with and without cepstral mean normalisation (input.cmn window / "
                             "off): push per frame and frnn_result per inference")
    parser.add_argument("--cmsis-nn", metavar="DIR",
                        help="also count CMSIS-NN's kernels at each int8 model's dimensions (a checkout of "
                             "ARM-software/CMSIS-NN)")
    parser.add_argument("--cmsis-core", metavar="DIR",
                        help="CMSIS-Core's Include folder (default: DIR/../CMSIS_6/CMSIS/Core/Include)")
    args = parser.parse_args(argv)
    try:
        cmsis = cmsis_nn_paths(args.cmsis_nn, args.cmsis_core) if args.cmsis_nn else None
        if args.models:
            models = {Path(p).stem: model_module.load(p) for p in args.models}
        else:
            golden = sorted((REPO / "golden" / "models").glob("*.npz"))
            models = {p.stem: model_module.load(p) for p in golden} if golden else throwaway_models()
    except ValueError as exc:
        print(f"count_instructions: error: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="fw-count-") as tmp:
        if not args.no_frontend:
            print("| front end | build | MFCC per frame | push frame (MFCC + normalise + window) |")
            print("|---|---|---|---|")
        front_endpoint = []
        for precision in () if args.no_frontend else ("q15", "q31"):
            sub = Path(tmp) / f"front_{precision}"
            sub.mkdir()
            rows = count_frontend(precision, sub, args.opt)
            for dsp, label in BUILDS:
                mfcc, push = rows[dsp]
                print(f"| {precision}, N = 256, 20 mels, 13 MFCC | {label} | {mfcc:,} | {push:,} |", flush=True)
            if args.endpoint:
                ends = count_frontend_endpoint(precision, sub, args.opt)
                front_endpoint += [(precision, label, rows[dsp], ends[dsp]) for dsp, label in BUILDS]
        if front_endpoint:
            print()
            print(f"| front end | build ({args.opt}) | push frame, window | push frame, endpointing "
                  "(MFCC + normalise + energy + held slide) | difference |")
            print("|---|---|---|---|---|")
            for precision, label, (mfcc, push), (mfcc_e, push_e) in front_endpoint:
                same = "" if mfcc_e == mfcc else f" (MFCC {mfcc_e:,}, not {mfcc:,})"
                print(f"| {precision}, N = 256, 20 mels, 13 MFCC | {label} | {push:,} | {push_e:,}{same} "
                      f"| {push_e - push:+,} |")
        if not args.no_frontend:
            print()
        print(f"| model | cell | weights | H | T | build ({args.opt}) | per inference | per cell step | head |")
        print("|---|---|---|---|---|---|---|---|---|")
        breakdowns = []
        side_by_side = []
        endpoint_rows = []
        cmn_rows = []
        for name, model in models.items():
            sub = Path(tmp) / name.replace(" ", "_")
            sub.mkdir()
            rows, stages = count_model(model, sub, args.opt, args.breakdown, args.pot_shift_only)
            if args.endpoint and model.cell in ("rnn", "lstm"):
                ends = count_endpoint(model, sub, args.opt)
                endpoint_rows += [(name, model, label, ends[dsp]) for dsp, label in BUILDS]
            if args.cmn and model.cell in ("rnn", "lstm"):
                cmns = count_cmn(model, sub, args.opt)
                cmn_rows += [(name, model, label, cmns[dsp]) for dsp, label in BUILDS]
            if cmsis and model.weights == "int8":
                side_by_side.append((name, model, rows[True][1], count_cmsis_nn(model, *cmsis, sub, args.opt)))
            for dsp, label in BUILDS:
                label += ", shift-only PoT" if args.pot_shift_only else ""
                total, step, head = (tuple(rows[dsp]) + (None, None))[:3]
                step, head = (f"{v:,}" if v is not None and model.cell != "graph" else "–" for v in (step, head))
                units = model.units if model.cell != "graph" else f"{model.graph.n_ops} ops"
                print(f"| {name} | {model.cell} | {model.weights} | {units} | {model.frames} | {label} "
                      f"| {total:,} | {step} | {head} |", flush=True)
                if args.breakdown:
                    breakdowns.append((name, label, step, stages[dsp]))
        if breakdowns:
            names = [*STAGES, OVERHEAD]
            print()
            print(f"| model | build ({args.opt}) | cell step | " + " | ".join(names) + " |")
            print("|---|---|---|" + "---|" * len(names))
            for name, label, step, stages in breakdowns:
                # overhead: the rest of the step (the profile also holds the marker call itself)
                stages = {**stages, OVERHEAD: step - sum(stages[k] for k in STAGES)}
                print(f"| {name} | {label} | {step:,} | " + " | ".join(f"{stages[k]:,}" for k in names) + " |")
        if side_by_side:
            print()
            print(f"| model | I | H | fixedrnn cell step (DSP, {args.opt}) | CMSIS-NN (DSP, {args.opt}) "
                  "| CMSIS-NN kernels | fixedrnn / CMSIS-NN |")
            print("|---|---|---|---|---|---|---|")
            for name, model, ours, theirs in side_by_side:
                kernels = ("arm_lstm_unidirectional_s8, 1 step" if model.cell == "lstm" else
                           "arm_fully_connected_s8 x 2 + arm_elementwise_add_s8 (no TANH)")
                print(f"| {name} | {model.n_features} | {model.units} | {ours:,} | {theirs:,} | {kernels} "
                      f"| {ours / theirs:.2f} |")
        if endpoint_rows:
            config = EndpointConfig()
            print()
            print(f"Endpointing (search {config.search}): per frame frnn_push_frame, per inference frnn_result; "
                  "window build's frnn_result on the window the endpointing build read")
            print()
            print(f"| model | I | T | build ({args.opt}) | segment (held, start, stop) | push, window "
                  "| push, endpointing | difference | result, window | result, endpointing | difference "
                  "| of which frnn_endpoint_segment | result, window build on the clip's last T |")
            print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
            for name, model, label, r in endpoint_rows:
                print(f"| {name} | {model.n_features} | {model.frames} | {label} "
                      f"| {r['held']}, {r['start']}, {r['stop']} | {r['push window']:,} | {r['push endpoint']:,} "
                      f"| {r['push endpoint'] - r['push window']:+,} "
                      f"| {r['result window']:,} | {r['result endpoint']:,} "
                      f"| {r['result endpoint'] - r['result window']:+,} | {r['segment']:,} "
                      f"| {r['result window clip']:,} |")
        if cmn_rows:
            print()
            print("Cepstral mean normalisation (input.cmn window vs off): per frame frnn_push_frame, per inference "
                  "frnn_result; the build without CMN's frnn_result on the window the CMN build read")
            print()
            print(f"| model | I | T | build ({args.opt}) | push, off | push, CMN | difference | result, off "
                  "| result, CMN | difference | of which frnn_cmn_window | result, off on the clip's last T |")
            print("|---|---|---|---|---|---|---|---|---|---|---|---|")
            for name, model, label, r in cmn_rows:
                print(f"| {name} | {model.n_features} | {model.frames} | {label} | {r['push window']:,} "
                      f"| {r['push cmn']:,} | {r['push cmn'] - r['push window']:+,} | {r['result window']:,} "
                      f"| {r['result cmn']:,} | {r['result cmn'] - r['result window']:+,} | {r['cmn window']:,} "
                      f"| {r['result window clip']:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
