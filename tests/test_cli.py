"""fixedrnn.cli: the subcommand table, and the error contract every command shares (bad input: one
stderr line, exit 2, no traceback; Ctrl-C: exit 130)."""

import argparse
import subprocess
import sys

import pytest

from fixedrnn import cli
from fixedrnn.errors import FixedRnnError, InputFileError


def test_every_subcommand_module_adds_its_command():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == {"classify", "evaluate", "verify", "export", "budget", "listen"}
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


def test_module_entry_point_help_and_usage_errors():
    ok = subprocess.run([sys.executable, "-m", "fixedrnn", "--help"], capture_output=True, text=True)
    assert ok.returncode == 0
    for name in ("classify", "evaluate", "verify", "export", "budget"):
        assert name in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "fixedrnn"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    missing = subprocess.run([sys.executable, "-m", "fixedrnn", "budget", "/nonexistent/m.npz"],
                             capture_output=True, text=True)
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and "/nonexistent/m.npz" in missing.stderr
