"""Fuzzing the command line (issue #15): every subcommand with good and damaged models, WAV files,
data folders, output places and option values.

For every argument list: no traceback; exit 0 only when every input is good, otherwise exit 2 with
exactly one ``fixedrnn: error: ...`` line (argparse's own usage errors: exit 2, its usage and one
error line); nothing left in the output folder after a failure, and never a temporary file. Runs
``fixedrnn.cli.main`` in-process (hypothesis, derandomized), and a few argument lists as real
processes.
"""

import contextlib
import io
import re
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io.wavfile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixedrnn import cli
from throwaway_models import random_model

pytestmark = pytest.mark.slow  # command lines as processes: left out of the quick subset

FUZZ = settings(max_examples=80, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _patch_entries(data, local_offset, central_offset, value):
    data = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", local_offset), (b"PK\x01\x02", central_offset)):
        start = data.find(signature)
        while start >= 0:
            struct.pack_into("<H", data, start + offset, value)
            start = data.find(signature, start + 4)
    return bytes(data)


def _wav(path, samples=None, rate=8000):
    scipy.io.wavfile.write(path, rate, np.arange(-400, 400, dtype=np.int16) * 37 if samples is None else samples)
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """``{kind: {name: path}}``: good and damaged models, WAV files and data folders."""
    root = tmp_path_factory.mktemp("fuzz_cli")
    arrays = random_model("rnn", units=4, frames=3).to_arrays()
    good = root / "good.npz"
    np.savez(good, **arrays)
    data = good.read_bytes()
    models = {"good": good}

    def model(name, content):
        models[name] = root / f"{name}.npz"
        models[name].write_bytes(content)

    model("truncated", data[: len(data) // 2])
    model("encrypted", _patch_entries(data, 6, 8, 1))
    model("method99", _patch_entries(data, 8, 10, 99))
    model("text", b"not a model at all\n")
    model("empty", b"")
    huge = dict(arrays)
    for name, value in (("newline_label", np.array(["a\nb"] + [str(d) for d in range(1, 10)])),
                        ("bad_fft", np.array(300, np.int32))):
        changed = dict(arrays, **{"labels" if name == "newline_label" else "frontend.fft_length": value})
        np.savez(root / f"{name}.npz", **changed)
        models[name] = root / f"{name}.npz"
    with zipfile.ZipFile(root / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as z:
        for key, value in huge.items():
            buf = io.BytesIO()
            np.save(buf, value)
            z.writestr(f"{key}.npy", buf.getvalue())
        z.writestr("meta.blob.npy", b"\x93NUMPY\x01\x00" + bytes(100_000_000))
    models["bomb"] = root / "bomb.npz"
    models["directory"] = root
    models["missing"] = root / "missing.npz"

    wav_dir = root / "wavs"
    wav_dir.mkdir()
    wavs = {"good": _wav(wav_dir / "good.wav")}
    raw = wavs["good"].read_bytes()
    for name, content in (("truncated", raw[:-100]), ("odd", raw[:-1]), ("empty", b""), ("text", b"hello"),
                          ("chunk7fff", raw[:40] + struct.pack("<I", 0x7FFFFFFF) + raw[44:])):
        wavs[name] = wav_dir / f"{name}.wav"
        wavs[name].write_bytes(content)
    wavs["float"] = _wav(wav_dir / "float.wav", np.zeros(100, np.float32))
    wavs["rate"] = _wav(wav_dir / "rate.wav", rate=16000)
    wavs["missing"] = wav_dir / "missing.wav"
    wavs["directory"] = wav_dir

    data_dirs = {}
    for name, damage in (("good", None), ("truncated", "truncated"), ("empty", "empty")):
        folder = root / f"data_{name}" / "recordings"
        folder.mkdir(parents=True)
        for digit, speaker, index in ((0, "ann", 0), (1, "bo2", 1), (2, "ann", 3)):
            _wav(folder / f"{digit}_{speaker}_{index}.wav")
        if damage:
            shutil.copy(wavs[damage], folder / "0_ann_0.wav")  # in every split and speaker choice
        data_dirs[name] = folder.parent
    data_dirs["no_recordings"] = wav_dir
    data_dirs["missing"] = root / "nowhere"
    return {"model": models, "wav": wavs, "data": data_dirs}


OPTION_VALUES = {
    "--frames": ["1", "3", "0", "-2", "abc", "99999999999999999999"],
    "--split": ["test", "all", "dev", ""],
    "--speakers": ["ann", "carol", "", ",,,"],
    "--backend": ["numpy", "gpu", "shift"],
    "--budget": ["64K", "1", "1x", "-5", "99999999999999999999999"],
}


def _mostly_good(draw, names, good="good"):
    """``good`` half of the time, else any of ``names``: so that whole good command lines occur."""
    return good if draw(st.booleans()) else draw(st.sampled_from(sorted(names)))


@st.composite
def command_lines(draw, inputs):
    """``(argv, output path or None, the exit code when every input is good: 0, or 1 for a model over
    the budget; None when some input is bad)``."""
    models, wavs, data = inputs["model"], inputs["wav"], inputs["data"]
    command = draw(st.sampled_from(["classify", "evaluate", "export c", "export tflite", "budget"]))
    model = _mostly_good(draw, models)
    good = model == "good"
    argv = command.split() + [str(models[model])]
    out = None
    if command == "classify":
        names = [_mostly_good(draw, wavs) for _ in range(draw(st.integers(1, 3)))]
        argv += [str(wavs[n]) for n in names]
        good &= all(n == "good" for n in names)
        options = ["--backend"]
    elif command == "evaluate":
        name = _mostly_good(draw, data)
        argv.append(str(data[name]))
        good &= name == "good"
        options = ["--backend", "--split", "--speakers"]
    elif command.startswith("export"):
        out_kind = _mostly_good(draw, ["new", "nested", "existing_file", "existing_dir"], "new")
        out = {"new": "out/target", "nested": "out/a/b/target", "existing_file": "out/file",
               "existing_dir": "out/dir"}[out_kind]
        argv.append(out)
        # export tflite: a new file or one it overwrites, in an existing directory; export c: a new or
        # existing directory (created with its parents)
        good &= out_kind in (("new", "existing_file") if command == "export tflite" else ("new", "nested", "existing_dir"))
        options = ["--frames"] if command == "export tflite" else []
    else:
        options = ["--budget"]
    for option in draw(st.lists(st.sampled_from(options), max_size=2, unique=True)) if options else []:
        value = _mostly_good(draw, OPTION_VALUES[option], OPTION_VALUES[option][0])
        argv += [option, value]
        good &= value in {"--frames": ("1", "3"), "--split": ("test", "all"), "--speakers": ("ann",),
                          "--backend": ("numpy",), "--budget": ("64K", "1", "99999999999999999999999")}[option]
    if command in ("classify", "evaluate") and "--backend" not in argv:
        argv += ["--backend", "numpy"]  # the NumPy path: no numba compilation in a fuzz test
    over_budget = argv[-2:] == ["--budget", "1"] or argv[-4:-2] == ["--budget", "1"]
    return argv, out, (1 if over_budget else 0) if good else None


def run_in_process(argv):
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = cli.main(argv)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
    return code, stdout.getvalue(), stderr.getvalue()


def check(code, stderr, expected, argv):
    """``expected``: the exit code of good inputs, None for bad ones (2, one line; ``classify`` of
    several WAVs goes on past a bad one: one line per bad file, then one summary line)."""
    assert "Traceback" not in stderr, argv
    if expected is not None:
        assert code == expected, (argv, stderr)
        return
    assert code == 2, (argv, code, stderr)
    lines = [line for line in stderr.splitlines() if not line.startswith("fixedrnn: warning: ")]
    if lines and lines[0].startswith("usage:"):
        assert ": error: " in lines[-1], (argv, stderr)
    else:
        wavs = argv[2:argv.index("--backend")] if argv[0] == "classify" and "--backend" in argv else argv[2:]
        wavs = wavs if argv[0] == "classify" else []
        if len(wavs) > 1 and len(lines) > 1:
            summary = re.fullmatch(r"fixedrnn: (\d+) of (\d+) file\(s\) could not be classified", lines[-1])
            assert summary and int(summary.group(2)) == len(wavs), (argv, stderr)
            lines = lines[:-1]
            assert len(lines) == int(summary.group(1)), (argv, stderr)
            assert all(line.startswith("fixedrnn: error: ") for line in lines), (argv, stderr)
        else:
            assert len(lines) == 1 and lines[0].startswith("fixedrnn: error: "), (argv, stderr)


def leftovers(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@FUZZ
@given(data=st.data())
def test_every_command_line_exits_0_or_2_with_one_line_and_leaves_nothing(inputs, tmp_path_factory, data):
    argv, out, expected = data.draw(command_lines(inputs))
    work = tmp_path_factory.mktemp("run")
    (work / "out").mkdir()
    (work / "out" / "file").write_text("a file")
    (work / "out" / "dir").mkdir()
    before = leftovers(work)
    argv = [str(work / a) if a.startswith("out/") else a for a in argv]
    code, _, stderr = run_in_process(argv)
    check(code, stderr, expected, argv)
    after = leftovers(work)
    assert not [p for p in after if p.rsplit("/", 1)[-1].startswith(".") or p.endswith(".tmp")], after
    if code != 0:
        assert after == before, (argv, after)
    elif out is not None:
        assert Path(work / out).exists()


@pytest.mark.parametrize("args", [
    ["budget", "{model[encrypted]}"],
    ["classify", "{model[good]}", "{wav[chunk7fff]}"],
    ["export", "c", "{model[bomb]}", "{out}"],
    ["export", "tflite", "{model[method99]}", "{out}"],
    ["evaluate", "{model[good]}", "{data[truncated]}"],
    ["verify", "--fsdd", "{data[missing]}"],
])
def test_as_a_process(inputs, tmp_path, args):
    values = {kind: {name: str(path) for name, path in paths.items()} for kind, paths in inputs.items()}
    argv = [a.format(out=tmp_path / "out", **values) for a in args]
    proc = subprocess.run([sys.executable, "-m", "fixedrnn", *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    check(proc.returncode, proc.stderr, None, argv)
    assert list(tmp_path.iterdir()) == []
