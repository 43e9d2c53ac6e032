"""fixedrnn.cli: the subcommand table, and the error contract every command shares (bad input: one
stderr line, exit 2, no traceback; Ctrl-C: exit 130)."""

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from fixedrnn import cli
from fixedrnn.errors import FixedRnnError, InputFileError


def test_every_subcommand_module_adds_its_command():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == {"classify", "evaluate", "verify", "export", "budget", "listen", "firmware"}
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
