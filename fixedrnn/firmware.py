"""``fixedrnn firmware run MODEL WAV... [--target qemu|host] [--opt O2|Os]``: the generated C
firmware on recordings, compared with the engine.

The model's C99 sources (:func:`fixedrnn.c_export.export_c`) are written to a temporary folder and
built with the repository's ``tools/firmware`` (its Makefile and test ``main.c``; for QEMU also
``startup.c`` and ``link.ld``), through ``tools/firmware/runner.py``: for QEMU's Cortex-M4
(``mps2-an386``, ``arm-none-eabi-gcc``) or for the host (``gcc``). The firmware then classifies every
recording in one run (``main.c``'s input kind 4: one utterance of int16 PCM per item, through
``frnn_push_samples`` and ``frnn_end_utterance``) and its int8 logits are compared with the
engine's (the NumPy reference path) on every element.

With ``--endpoint`` the window firmware with clip endpointing (``export_c(..., endpoint=EndpointConfig())``,
docs/firmware.md) classifies each recording's endpointed segment and is compared with
``model.run(pcm, endpoint=EndpointConfig())``. A model with cepstral mean normalisation
(``input.cmn`` "window") builds its own window firmware (FRNN_CMN), with or without ``--endpoint``,
and streams per segment.

With ``--stream`` the streaming firmware (:func:`fixedrnn.c_export.export_c` with a
:class:`fixedrnn.stream.StreamConfig`, ``tools/firmware/stream_main.c``, input kind 6) listens to each
WAV as one long stream, in blocks of ``--block`` samples, and its per-frame records (energy, VAD
flags, reset, features, hidden and cell state, scores) and detections are compared with
:class:`fixedrnn.stream.KeywordStream`'s (what ``fixedrnn listen`` runs) on every frame. With
``--per-segment``, and always for a model with cepstral mean normalisation, the per-segment
streaming firmware (FRNN_STREAM_PER_SEGMENT): its records (energy, VAD flags, front-end output)
and detections against :class:`fixedrnn.segment_stream.SegmentStream`'s.

``tools/firmware`` belongs to the repository, not to the installed package: this command needs an
install from a clone (``pip install -e .``). Exit codes: 0 equal, 1 a difference, 2 bad input
(model, WAV, missing toolchain or ``tools/firmware``, a build that fails).
"""

import importlib.util
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from fixedrnn.errors import FixedRnnError

#: The repository's firmware build folder (Makefile, main.c, startup.c, link.ld, runner.py).
FIRMWARE_DIR = Path(__file__).resolve().parents[1] / "tools" / "firmware"
#: main.c's input header magic ("FRNI", little-endian int32).
INPUT_MAGIC = 0x494E5246
#: main.c's input kind: the int32 front-end outputs (MFCC) of a sequence of frames per item.
KIND_MFCC = 3
#: main.c's input kind: one utterance of int16 PCM per item.
KIND_PCM = 4
#: stream_main.c's input kind: one long stream of int16 PCM per item, with its block sizes.
KIND_STREAM = 6
#: stream_main.c's limits: samples per block, block sizes per stream.
MAX_BLOCK, MAX_SIZES = 8192, 4096
#: Seconds one streaming firmware run may take per second of audio (QEMU, the larger models).
SECONDS_PER_STREAM_SECOND = 2.0
#: ``--target`` → the runner's build target.
TARGETS = {"qemu": "arm", "host": "host"}
#: Seconds one firmware run may take per recording (QEMU emulates about 10^8 instructions a second).
SECONDS_PER_RECORDING = 30.0


def load_runner():
    """``tools/firmware/runner.py`` as a module; a one-line error when the folder is not there."""
    path = FIRMWARE_DIR / "runner.py"
    if not path.is_file():
        raise FixedRnnError(f"firmware: {FIRMWARE_DIR} not found: 'firmware run' needs the tools/firmware "
                            f"folder of a fixedrnn clone (install it with pip install -e from the clone)")
    spec = importlib.util.spec_from_file_location("fixedrnn_firmware_runner", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pcm_input(pcms):
    """main.c's input file (kind 4) for int16 utterances ``pcms``: bytes."""
    parts = [np.array([INPUT_MAGIC, KIND_PCM, len(pcms)], "<i4").tobytes()]
    for pcm in pcms:
        parts.append(np.array([len(pcm)], "<i4").tobytes() + np.asarray(pcm, "<i2").tobytes())
    return b"".join(parts)


def mfcc_input(items):
    """main.c's input file (kind 3) for ``items``: integer arrays ``[n, I]`` (n >= 1) of front-end
    outputs (int16 q8.7 values for a q15 model, int32 q8.23 for q31), written as int32: bytes."""
    parts = [np.array([INPUT_MAGIC, KIND_MFCC, len(items)], "<i4").tobytes()]
    for frames in items:
        frames = np.asarray(frames)
        if frames.ndim != 2 or len(frames) < 1:
            raise FixedRnnError(f"MFCC items: [n, I] with n >= 1, got shape {frames.shape}")
        parts.append(np.array([len(frames)], "<i4").tobytes() + frames.astype("<i4").tobytes())
    return b"".join(parts)


def stream_input(streams):
    """stream_main.c's input file (kind 6) for ``streams``: ``(pcm, sizes)`` pairs, int16 samples
    and the block sizes (samples per ``frnn_push_samples`` call, cycled; 1..:data:`MAX_BLOCK`)."""
    parts = [np.array([INPUT_MAGIC, KIND_STREAM, len(streams)], "<i4").tobytes()]
    for pcm, sizes in streams:
        sizes = [int(v) for v in sizes]
        if not 1 <= len(sizes) <= MAX_SIZES or not all(1 <= v <= MAX_BLOCK for v in sizes):
            raise FixedRnnError(f"block sizes: 1..{MAX_SIZES} sizes of 1..{MAX_BLOCK} samples, got {sizes[:8]}")
        parts.append(np.array([len(pcm), len(sizes), *sizes], "<i4").tobytes() + np.asarray(pcm, "<i2").tobytes())
    return b"".join(parts)


def stream_record_dtype(model, per_segment=False):
    """The NumPy dtype of one frame record of stream_main.c's output (packed, little-endian); per
    segment, the frame's front-end output (int32 ``[I]``) in place of features, states and scores."""
    fields = [("index", "<i4"), ("energy", "<i4"), ("raw", "u1"), ("active", "u1"), ("reset", "u1"),
              ("detected", "u1"), ("detection", "<i4", (5,))]
    if per_segment:
        return np.dtype(fields + [("mfcc", "<i4", (model.n_features,))])
    fields += [("features", "i1", (model.n_features,)), ("hidden", "i1", (model.units,))]
    if model.cell == "lstm":
        fields.append(("cell", "<i2", (model.units,)))
    return np.dtype(fields + [("scores", "i1", (len(model.labels),))])


def stream_frames(n_samples, model):
    """Frames a stream of ``n_samples`` gives: complete frames only (:class:`fixedrnn.mfcc.StreamingMfcc`)."""
    import dataclasses

    from fixedrnn.frontend.framing import frame_count

    config = dataclasses.replace(model.frontend.mfcc_config(), pad_end=False, too_short="empty")
    return frame_count(n_samples, config)


class StreamOutput(NamedTuple):
    """One stream's output: ``records`` (a structured array of :func:`stream_record_dtype`, one per
    frame) and ``detections`` (:class:`fixedrnn.decision.Detection` s, the frames' and the finish's)."""

    records: np.ndarray
    detections: list


def read_stream_output(data, model, n_samples, per_segment=False):
    """stream_main.c's output for streams of ``n_samples`` samples each: a :class:`StreamOutput` per
    stream (``per_segment``: of the per-segment firmware)."""
    from fixedrnn.decision import Detection

    dtype = stream_record_dtype(model, per_segment)
    out, pos = [], 0
    for n in n_samples:
        count = stream_frames(n, model)
        size = count * dtype.itemsize + 24
        if pos + size > len(data):
            raise FixedRnnError(f"firmware: wrote {len(data)} bytes, fewer than the records of {len(n_samples)} "
                                f"stream(s)")
        records = np.frombuffer(data, dtype, count, pos)
        finish = np.frombuffer(data, "<i4", 6, pos + count * dtype.itemsize)
        pos += size
        found = [Detection(*(int(v) for v in r["detection"])) for r in records if r["detected"]]
        if finish[0]:
            found.append(Detection(*(int(v) for v in finish[1:])))
        out.append(StreamOutput(records, found))
    if pos != len(data):
        raise FixedRnnError(f"firmware: wrote {len(data)} bytes, expected {pos}")
    return out


def python_stream(model, pcm, sizes, config=None):
    """The stream of :func:`fixedrnn.segment_stream.open_stream` (``listen``'s) on ``pcm`` in blocks
    of ``sizes`` (cycled): the :class:`StreamOutput` the firmware must give (records of
    :func:`stream_record_dtype`; per segment, ``reset`` 0: no cell state from frame to frame)."""
    from fixedrnn.segment_stream import open_stream

    stream = open_stream(model, config)
    per_segment = stream.config.per_segment
    records = np.zeros(stream_frames(len(pcm), model), stream_record_dtype(model, per_segment))
    names = ("index", "energy", "raw", "active") + (("mfcc",) if per_segment else
                                                     ("reset", "features", "hidden", "scores"))
    detections, pos, k = [], 0, 0
    while pos < len(pcm):
        size = int(sizes[k % len(sizes)])
        frames, found = stream.push(np.asarray(pcm[pos:pos + size], np.int16))
        rows = records[frames.index]
        for name in names:
            rows[name] = getattr(frames, name)
        if getattr(frames, "cell", None) is not None:
            rows["cell"] = frames.cell
        for d in found:
            row = np.searchsorted(frames.index, d.decided)
            rows["detected"][row] = 1
            rows["detection"][row] = tuple(d)
        records[frames.index] = rows
        detections += found
        pos += size
        k += 1
    return StreamOutput(records, detections + stream.finish())


def first_difference(got, want):
    """``None`` when two :class:`StreamOutput` s are equal, else one line naming the first frame and
    field (or the detection) that differs."""
    if len(got.records) != len(want.records):
        return f"{len(got.records)} frames, expected {len(want.records)}"
    for name in want.records.dtype.names:
        unequal = got.records[name] != want.records[name]
        differs = np.flatnonzero(unequal.reshape(len(unequal), int(np.prod(unequal.shape[1:]))).any(axis=1))
        if differs.size:
            t = int(differs[0])
            return f"frame {t}: {name} {got.records[name][t].tolist()}, expected {want.records[name][t].tolist()}"
    if list(got.detections) != list(want.detections):
        return f"detections {list(got.detections)}, expected {list(want.detections)}"
    return None


class PcmOutput(NamedTuple):
    """main.c's kind-4 output for ``B`` utterances: ``windows`` int8 ``[B, T, I]`` (the window the
    cell read), ``logits`` int8 ``[B, C]``; for an endpointing firmware ``segments`` int ``[B, 3]``
    (held, start, stop: frnn_endpoint_segment), else None."""

    windows: np.ndarray
    logits: np.ndarray
    segments: object


def read_pcm_output(data, model, count, endpoint=False):
    """The :class:`PcmOutput` of main.c's kind-4 output of ``count`` items (per item: with
    ``endpoint``, int32 held, start, stop; the int8 window ``[T, I]``; the int8 logits ``[C]``)."""
    t, n_in, n_classes = model.frames, model.n_features, len(model.labels)
    head = 12 if endpoint else 0
    per_item = head + t * n_in + n_classes
    if len(data) != count * per_item:
        raise FixedRnnError(f"firmware: wrote {len(data)} bytes, expected {count} x {per_item}")
    rows = np.frombuffer(data, np.uint8).reshape(count, per_item)
    segments = (np.ascontiguousarray(rows[:, :head]).view("<i4").astype(np.int64) if endpoint else None)
    items = rows[:, head:].view(np.int8)
    return PcmOutput(items[:, :t * n_in].reshape(count, t, n_in), items[:, t * n_in:], segments)


def read_logits(data, model, count, endpoint=False):
    """The int8 logits ``[count, C]`` of main.c's kind-4 output (:func:`read_pcm_output`)."""
    return read_pcm_output(data, model, count, endpoint).logits


def firmware_segment(model, pcm, endpoint):
    """The ``(held, start, stop)`` an endpointing firmware reports for ``pcm`` (frnn_api.h's
    frnn_segment), from :func:`fixedrnn.engine.segment_of`: the clip's n frames, ``held = min(n,
    search)`` of them held, the segment numbered from the oldest held one."""
    from fixedrnn import engine

    mf = engine.mfcc(model, pcm)
    held = min(len(mf), endpoint.search)
    start, stop = engine.segment_of(model, mf, endpoint)
    first = len(mf) - held
    return held, start - first, stop - first


def _build_config(runner, target, opt):
    """A runner ``BuildConfig`` from a ``target`` name ("qemu" or "host") and ``opt``, or ``target``
    itself when it is one; the toolchain checked."""
    name = target
    if isinstance(target, str):
        if target not in TARGETS:
            raise FixedRnnError(f"target: must be one of {', '.join(TARGETS)}, got {target!r}")
        if opt not in ("O2", "Os"):
            raise FixedRnnError(f"opt: must be O2 or Os, got {opt!r}")
        target = runner.BuildConfig(TARGETS[target], f"-{opt}")
    else:
        name = target.target
    missing = runner.toolchain_missing(target.target)
    if missing:
        raise FixedRnnError(f"firmware: cannot build for {name}: {missing}")
    return target


def build_firmware(model, work, target="host", opt="O2", endpoint=None):
    """Export ``model`` as the window firmware (with ``endpoint``, a
    :class:`fixedrnn.endpoint.EndpointConfig`: the endpointing one) into ``work/src`` and build it
    with ``main.c`` for ``target`` ("qemu" or "host", ``-O2``/``-Os``, or a runner ``BuildConfig``);
    returns ``(runner module, build config, executable)``."""
    from fixedrnn.c_export import export_c

    runner = load_runner()
    build = _build_config(runner, target, opt)
    work = Path(work)
    export_c(model, work / "src", endpoint=endpoint)
    exe = runner.build(build, work / f"build-{build.name}", main="main.c", src_dir=work / "src")
    return runner, build, exe


def run_input(runner, build, exe, blob, count, work):
    """main.c's output (bytes) of the built firmware ``exe`` (:func:`build_firmware`'s three values)
    on the input file ``blob`` of ``count`` items, through ``work/in.bin`` and ``work/out.bin``."""
    work = Path(work)
    (work / "in.bin").write_bytes(blob)
    runner.run(exe, build, [(work / "in.bin").resolve(), (work / "out.bin").resolve()],
               timeout=60.0 + SECONDS_PER_RECORDING * count)
    return (work / "out.bin").read_bytes()


def _output_bytes(model, blob, count, target, opt, endpoint, work_dir):
    """main.c's output (bytes) of the firmware :func:`build_firmware` makes, on the input file
    ``blob`` of ``count`` items."""
    with tempfile.TemporaryDirectory(prefix="fixedrnn-firmware-") as tmp:
        work = Path(work_dir) if work_dir is not None else Path(tmp)
        return run_input(*build_firmware(model, work, target, opt, endpoint), blob, count, work)


def _pcm_output_bytes(model, pcms, target, opt, endpoint, work_dir):
    """main.c's kind-4 output (bytes) of the firmware :func:`build_firmware` makes, on ``pcms``."""
    return _output_bytes(model, pcm_input(pcms), len(pcms), target, opt, endpoint, work_dir)


def run_pcm_firmware(model, pcms, target="host", opt="O2", endpoint=None, work_dir=None):
    """The window firmware of ``model`` (:func:`build_firmware`, with ``endpoint`` the endpointing
    one) on int16 utterances ``pcms`` (main.c's kind 4): a :class:`PcmOutput`."""
    data = _pcm_output_bytes(model, pcms, target, opt, endpoint, work_dir)
    return read_pcm_output(data, model, len(pcms), endpoint is not None)


def run_mfcc_firmware(model, items, target="host", opt="O2", endpoint=None, work_dir=None):
    """The window firmware of ``model`` (as :func:`run_pcm_firmware`) on sequences of front-end outputs
    ``items`` (main.c's kind 3, :func:`mfcc_input`; each frame normalised and pushed, or with
    cepstral mean normalisation pushed by frnn_push_mfcc): a :class:`PcmOutput` (an endpointing
    firmware needs cepstral mean normalisation for this input)."""
    data = _output_bytes(model, mfcc_input(items), len(items), target, opt, endpoint, work_dir)
    return read_pcm_output(data, model, len(items), endpoint is not None)


@dataclass(frozen=True)
class FirmwareResult:
    """One recording: the firmware's and the engine's int8 logits ``[C]`` (Python ints)."""

    file: str
    firmware: tuple
    engine: tuple
    labels: tuple

    @property
    def equal(self):
        return self.firmware == self.engine

    @property
    def label(self):
        """The firmware's label (first maximal logit)."""
        return self.labels[max(range(len(self.firmware)), key=lambda i: (self.firmware[i], -i))]

    def to_dict(self):
        return {"file": self.file, "label": self.label, "firmware": list(self.firmware),
                "engine": list(self.engine), "equal": self.equal}


def run_firmware(model_path, wavs, target="host", opt="O2", work_dir=None, endpoint=None):
    """Export ``model_path`` to C, build it for ``target`` ("qemu" or "host") with ``-O2``/``-Os``,
    run it on the WAV files ``wavs`` and return a :class:`FirmwareResult` per file. ``endpoint``: a
    :class:`fixedrnn.endpoint.EndpointConfig`: the endpointing window firmware, compared with
    ``model.run(pcm, endpoint=endpoint)``.

    ``work_dir``: where the sources and the build go (default: a temporary folder, removed after).
    """
    from fixedrnn.mfcc import read_wav
    from fixedrnn.model import load

    runner = load_runner()
    _build_config(runner, target, opt)  # a bad target or a missing toolchain before the model is read
    model = load(model_path)
    pcms = [read_wav(path, model.frontend.mfcc_config()) for path in wavs]
    engine = [tuple(int(v) for v in model.run(pcm, backend="numpy", endpoint=endpoint)) for pcm in pcms]
    data = _pcm_output_bytes(model, pcms, target, opt, endpoint, work_dir)
    logits = read_logits(data, model, len(pcms), endpoint is not None)
    return [FirmwareResult(str(path), tuple(int(v) for v in row), want, model.labels)
            for path, row, want in zip(wavs, logits, engine)]


def build_stream_firmware(model, work, target="host", opt="O2", config=None):
    """Export ``model`` as the streaming firmware of ``config`` (a
    :class:`fixedrnn.stream.StreamConfig`, None: the default) into ``work/src`` and build it with
    ``stream_main.c`` for ``target`` ("qemu" or "host", ``-O2``/``-Os``, or a runner
    ``BuildConfig``); returns ``(runner module, build config, executable)``."""
    from fixedrnn.c_export import export_c
    from fixedrnn.segment_stream import stream_config

    runner = load_runner()
    target = _build_config(runner, target, opt)
    work = Path(work)
    export_c(model, work / "src", stream=stream_config(model, config))
    exe = runner.build(target, work / f"build-{target.name}", main="stream_main.c", src_dir=work / "src")
    return runner, target, exe


def run_stream_firmware(model, streams, target="host", opt="O2", config=None, work_dir=None):
    """The streaming firmware of ``model`` (:func:`build_stream_firmware`) on ``streams``
    (``(pcm, block sizes)`` pairs): a :class:`StreamOutput` per stream."""
    from fixedrnn.segment_stream import stream_config

    per_segment = stream_config(model, config).per_segment
    with tempfile.TemporaryDirectory(prefix="fixedrnn-stream-") as tmp:
        work = Path(work_dir) if work_dir is not None else Path(tmp)
        runner, build, exe = build_stream_firmware(model, work, target, opt, config)
        (work / "in.bin").write_bytes(stream_input(streams))
        seconds = sum(len(pcm) for pcm, _ in streams) / model.frontend.sample_rate
        runner.run(exe, build, [(work / "in.bin").resolve(), (work / "out.bin").resolve()],
                   timeout=60.0 + SECONDS_PER_STREAM_SECOND * seconds)
        return read_stream_output((work / "out.bin").read_bytes(), model, [len(pcm) for pcm, _ in streams],
                                  per_segment)


def _run_stream(args):
    from fixedrnn.listen import format_detection
    from fixedrnn.mfcc import read_wav
    from fixedrnn.model import load
    from fixedrnn.segment_stream import open_stream
    from fixedrnn.stream import StreamConfig

    if not 1 <= args.block <= MAX_BLOCK:
        raise FixedRnnError(f"--block: must be 1..{MAX_BLOCK} samples, got {args.block}")
    model = load(args.model)
    config = StreamConfig(per_segment=args.per_segment)
    pcms = [read_wav(path, model.frontend.mfcc_config()) for path in args.wavs]
    streams = [(pcm, [args.block]) for pcm in pcms]
    outputs = run_stream_firmware(model, streams, target=args.target, opt=args.opt, config=config)
    clock = open_stream(model, config)  # for frame times only
    how = ", per segment" if clock.config.per_segment else ""
    bad = 0
    for path, (pcm, sizes), got in zip(args.wavs, streams, outputs):
        difference = first_difference(got, python_stream(model, pcm, sizes, config))
        bad += difference is not None
        if args.json:
            print(json.dumps({"file": str(path), "frames": len(got.records), "equal": difference is None,
                              "difference": difference,
                              "detections": [json.loads(format_detection(clock, model, d, True))
                                             for d in got.detections]}))
            continue
        for d in got.detections:
            print(f"{path}\t{format_detection(clock, model, d, False)}")
        verdict = "equal to listen" if difference is None else f"DIFFERENT from listen: {difference}"
        print(f"# {path}: {len(got.records)} frames, {len(got.detections)} detection(s), {verdict}")
    if bad:
        print(f"firmware: {bad} of {len(outputs)} stream(s) differ from listen", file=sys.stderr)
        return 1
    if not args.json:
        agree = "per segment, on every frame and detection" if how else "frame for frame"
        print(f"firmware ({args.target}, -{args.opt}, streaming{how}, blocks of {args.block}): all "
              f"{len(outputs)} stream(s) equal listen {agree} (0 LSB)")
    return 0


def _run(args):
    if args.stream and args.endpoint:
        raise FixedRnnError("--endpoint is an option of the window firmware, not of --stream")
    if args.per_segment and not args.stream:
        raise FixedRnnError("--per-segment is an option of the streaming firmware (--stream)")
    if args.stream:
        return _run_stream(args)
    endpoint = None
    if args.endpoint:
        from fixedrnn.endpoint import EndpointConfig

        endpoint = EndpointConfig()
    results = run_firmware(args.model, args.wavs, target=args.target, opt=args.opt, endpoint=endpoint)
    if not args.json:
        print("file\tlabel\tlogits\tengine")
    for result in results:
        if args.json:
            print(json.dumps(result.to_dict()))
        else:
            verdict = "equal" if result.equal else f"DIFFERENT (engine {list(result.engine)})"
            print(f"{result.file}\t{result.label}\t{list(result.firmware)}\t{verdict}")
    bad = sum(not r.equal for r in results)
    if bad:
        print(f"firmware: {bad} of {len(results)} recording(s) differ from the engine", file=sys.stderr)
        return 1
    if not args.json:
        print(f"firmware ({args.target}, -{args.opt}{', endpointing' if endpoint else ''}): all {len(results)} "
              f"recording(s) equal the engine (0 LSB)")
    return 0


def add_parser(subparsers):
    parser = subparsers.add_parser("firmware", help="build and run the generated C firmware",
                                   description="Build the C firmware generated for a model and run it.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    run = actions.add_parser(
        "run", help="run the firmware on WAV files and compare with the engine",
        description="Export the model as C, build it with tools/firmware for QEMU's Cortex-M4 or the "
                    "host, classify each WAV file with it and compare its int8 logits with the "
                    "engine's. Prints per file: the file, the firmware's label, its logits and "
                    "whether they equal the engine's. Exit 0 equal, 1 a difference, 2 bad input or a "
                    "missing toolchain.")
    run.add_argument("model", help="model file (.npz)")
    run.add_argument("wavs", nargs="+", metavar="WAV", help="16-bit mono WAV files")
    run.add_argument("--target", choices=tuple(TARGETS), default="qemu",
                     help="qemu: Cortex-M4 under qemu-system-arm (default); host: the system gcc")
    run.add_argument("--opt", choices=("O2", "Os"), default="O2", help="optimisation (default O2)")
    run.add_argument("--json", action="store_true", help="one JSON object per file instead")
    run.add_argument("--stream", action="store_true",
                     help="the streaming firmware: listen to each WAV as one stream and compare every "
                          "frame and detection with 'fixedrnn listen' (its default configuration); prints "
                          "the firmware's detections as listen does, after the file name")
    run.add_argument("--endpoint", action="store_true",
                     help="the window firmware with clip endpointing (the default EndpointConfig): compared with "
                          "the engine's endpointed run (model.run(pcm, endpoint=EndpointConfig()))")
    run.add_argument("--per-segment", action="store_true",
                     help="with --stream: the per-segment streaming firmware, compared with 'fixedrnn listen "
                          "--per-segment' (always so for a model with cepstral mean normalisation)")
    run.add_argument("--block", type=int, default=1024,
                     help=f"with --stream: samples per frnn_push_samples call (1..{MAX_BLOCK}, default 1024)")
    run.set_defaults(func=_run)
    return parser
