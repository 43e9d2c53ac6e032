"""fixedrnn.cli: the subcommand table, and the error contract every command shares (bad input: one
stderr line, exit 2, no traceback; Ctrl-C: exit 130)."""

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import scipy.io.wavfile

from fixedrnn import cli
from fixedrnn.errors import FixedRnnError, InputFileError
from faults import refuse_temporary_files


def test_every_subcommand_module_adds_its_command():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == {"classify", "evaluate", "verify", "export", "budget", "ensemble", "listen", "firmware",
                                "import", "study", "warmup"}
    for name in cli.SUBCOMMAND_MODULES:
        __import__(name)  # each module is importable on its own


@pytest.mark.parametrize("exc", [FixedRnnError("model.npz: bad thing"),
                                 InputFileError("m.npz", "not a fixedrnn model"),
                                 FileNotFoundError(2, "No such file or directory", "x.wav")])
def test_run_turns_bad_input_into_one_line_and_exit_2(exc, capsys):
    def fail(args):
        raise exc

    assert cli.run(fail, argparse.Namespace(), prog="fixedrnn") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fixedrnn: error: ")
    assert str(exc) in err


def test_run_returns_the_command_exit_code(capsys):
    assert cli.run(lambda args: None, argparse.Namespace()) == 0
    assert cli.run(lambda args: 1, argparse.Namespace()) == 1
    assert capsys.readouterr().err == ""


def test_run_interrupted_exits_130_without_traceback(capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    assert cli.run(interrupted, argparse.Namespace(), prog="p") == 130
    assert capsys.readouterr().err == "p: interrupted\n"


def test_other_errors_are_not_swallowed():
    def broken(args):
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        cli.run(broken, argparse.Namespace())


@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_module_entry_point_help_and_usage_errors():
    ok = subprocess.run([sys.executable, "-m", "fixedrnn", "--help"], capture_output=True, text=True)
    assert ok.returncode == 0
    for name in ("classify", "evaluate", "verify", "export", "budget", "firmware"):
        assert name in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "fixedrnn"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    missing = subprocess.run([sys.executable, "-m", "fixedrnn", "budget", "/nonexistent/m.npz"],
                             capture_output=True, text=True)
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and "/nonexistent/m.npz" in missing.stderr


def _all_parsers(parser, path=()):
    """(command path, parser) of the parser and every subcommand under it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _all_parsers(sub, path + (name,))


def test_every_subcommand_says_what_it_does_without_markup():
    parsers = list(_all_parsers(cli.build_parser()))
    assert {" ".join(p) for p, _ in parsers} >= {"classify", "evaluate", "verify", "export", "export tflite",
                                                "export c", "budget", "firmware", "firmware run"}
    for path, parser in parsers:
        assert parser.description and len(parser.description) > 30, path
        text = parser.format_help()
        assert "``" not in text and ":func:" not in text and ":mod:" not in text, path


@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_version_and_console_script():
    import configparser

    from fixedrnn import __version__

    proc = subprocess.run([sys.executable, "-m", "fixedrnn", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == f"fixedrnn {__version__}"
    setup = configparser.ConfigParser()
    setup.read(Path(__file__).resolve().parents[1] / "setup.cfg")
    assert setup["metadata"]["version"] == "attr: fixedrnn.__version__"
    scripts = [line.split("=") for line in setup["options.entry_points"]["console_scripts"].split("\n") if line]
    assert [(name.strip(), target.strip()) for name, target in scripts] == [("fixedrnn", "fixedrnn.cli:main")]
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0


def test_quiet_is_the_one_spelling_of_no_progress():
    for path, parser in _all_parsers(cli.build_parser()):
        options = {o for a in parser._actions for o in a.option_strings}
        assert not {"--no-progress", "--progress"} & options, path
    for command in ("evaluate", "verify"):
        parser = dict((" ".join(p), q) for p, q in _all_parsers(cli.build_parser()))[command]
        assert "--quiet" in {o for a in parser._actions for o in a.option_strings}


# ----------------------------------------------------------------------------------------------
# Issue #15: SIGTERM like Ctrl-C (finally blocks run, one line, 143); Ctrl-C while importing.

REPO = Path(__file__).resolve().parents[1]


def _python(program, *args, **kwargs):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", program, *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=120, **kwargs)


def test_run_turns_sigterm_into_one_line_and_exit_143(capsys):
    previous = signal.getsignal(signal.SIGTERM)
    try:
        def terminated(args):
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):
                pass
            raise AssertionError("SIGTERM was not delivered")

        assert cli.run(terminated, argparse.Namespace(), prog="p") == 143
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert capsys.readouterr().err == "p: interrupted\n"


SIGNAL_DURING_EXPORT = """
import os, signal, sys
from fixedrnn import atomicfile, cli
real_stage = atomicfile._stage
staged = []
def stage_then_signal(tmp, path, write):
    staged.append(path)
    if len(staged) == 3:
        os.kill(os.getpid(), getattr(signal, sys.argv[3]))
    return real_stage(tmp, path, write)
atomicfile._stage = stage_then_signal
sys.exit(cli.main(["export", "c", sys.argv[1], sys.argv[2]]))
"""


@pytest.mark.parametrize("name, code", [("SIGTERM", 143), ("SIGINT", 130)])
@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_a_signal_during_export_leaves_nothing_behind(tmp_path, name, code):
    from throwaway_models import save_random_model

    model = save_random_model(tmp_path / "m.npz", cell="rnn", units=4, frames=3)
    out = tmp_path / "out"
    proc = _python(SIGNAL_DURING_EXPORT, model, out, name)
    assert proc.returncode == code and proc.stdout == "", proc.stderr
    assert proc.stderr == "fixedrnn: interrupted\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]  # no directory, no temporary


CTRL_C_WHILE_IMPORTING = """
import builtins, os, runpy, signal, sys
real_import = builtins.__import__
target = sys.argv[1]
def interrupting_import(name, *args, **kwargs):
    if name == target:
        builtins.__import__ = real_import
        os.kill(os.getpid(), signal.SIGINT)
    return real_import(name, *args, **kwargs)
builtins.__import__ = interrupting_import
sys.argv = ["fixedrnn", "budget", "--help"]
runpy.run_module("fixedrnn", run_name="__main__")
"""


@pytest.mark.parametrize("module", ["fixedrnn.cli", "fixedrnn.errors", "numpy"])  # __main__, cli, parser
def test_ctrl_c_during_start_up_prints_one_line(module):
    proc = _python(CTRL_C_WHILE_IMPORTING, module)
    assert proc.returncode == 130 and proc.stdout == ""
    assert proc.stderr == "fixedrnn: interrupted\n"


@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_verify_with_a_missing_fsdd_directory_exits_2():
    proc = subprocess.run([sys.executable, "-m", "fixedrnn", "verify", "--fsdd", "/nonexistent"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == "fixedrnn: error: /nonexistent: no 'recordings' folder: not an FSDD directory (--fsdd)\n"


@pytest.mark.slow  # 12 processes
@pytest.mark.parametrize("key, value", [("frontend.fft_length", 300), ("frontend.hop", 1000),
                                        ("frontend.n_mels", 200)])
@pytest.mark.parametrize("command", ["classify", "export c", "export tflite", "budget"])
def test_a_bad_front_end_is_named_with_the_file(tmp_path, key, value, command):
    import numpy as np

    from throwaway_models import random_model

    arrays = random_model("rnn", units=4, frames=3).to_arrays()
    arrays[key] = np.array(value, np.int32)
    model = tmp_path / "bad.npz"
    np.savez(model, **arrays)
    wav = tmp_path / "x.wav"
    scipy.io.wavfile.write(wav, 8000, np.zeros(800, np.int16))
    target = {"classify": [wav], "export c": [tmp_path / "src"], "export tflite": [tmp_path / "o.tflite"],
              "budget": []}[command]
    proc = subprocess.run([sys.executable, "-m", "fixedrnn", *command.split(), str(model), *map(str, target)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == "" and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"fixedrnn: error: {model}: frontend: {key.split('.')[1]}: "), proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npz", "x.wav"]


@pytest.mark.slow  # over a second (processes, TFLM, many files): out of the quick subset
def test_a_label_with_a_newline_never_reaches_classify_output(tmp_path):
    import numpy as np

    from throwaway_models import random_model

    arrays = random_model("rnn", units=4, frames=3).to_arrays()
    arrays["labels"] = np.array(["zero\nfake\tline"] + [str(d) for d in range(1, 10)])
    model = tmp_path / "m.npz"
    np.savez(model, **arrays)
    wav = tmp_path / "x.wav"
    scipy.io.wavfile.write(wav, 8000, np.zeros(800, np.int16))
    proc = subprocess.run([sys.executable, "-m", "fixedrnn", "classify", str(model), str(wav)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == "" and proc.stderr.count("\n") == 1
    assert "'labels' must be printable" in proc.stderr


def test_export_tflite_into_an_unwritable_place_names_the_target(tmp_path, monkeypatch, capsys):
    """The temporary file cannot be created (EACCES): the error names the .tflite, not the
    temporary name beside it (root ignores file modes, so the refusal is simulated)."""
    from throwaway_models import save_random_model

    model = save_random_model(tmp_path / "m.npz", cell="rnn", units=4, frames=3)
    target = tmp_path / "m.tflite"
    refuse_temporary_files(monkeypatch)
    assert cli.main(["export", "tflite", str(model), str(target)]) == 2
    err = capsys.readouterr().err
    assert err == f"fixedrnn: error: {target}: cannot be written (Permission denied)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
