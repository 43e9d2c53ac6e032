"""Command line: ``fixedrnn SUBCOMMAND ...`` (the console script) or ``python -m fixedrnn SUBCOMMAND ...``.

Each subcommand lives in its own module, which exposes ``add_parser(subparsers)``; the parser it adds
sets ``func`` (called with the parsed namespace, returns the exit code). Errors in the input
(:class:`fixedrnn.errors.FixedRnnError`, ``OSError``) are printed as one line on stderr and give exit
code 2, never a traceback (exit 1 is a command's own verdict, e.g. "over budget"). A first run that
compiles numba kernels says so on stderr (:mod:`fixedrnn.compile_notice`).

Interruptions: Ctrl-C (SIGINT) and SIGTERM (what ``kill``, ``timeout`` and CI cancellation send) both
raise ``KeyboardInterrupt`` (SIGTERM: :class:`Terminated`), so every ``finally`` runs and
:mod:`fixedrnn.atomicfile` removes its temporary files; the command prints one line
(``interrupted``) and exits 130 (SIGINT) or 143 (SIGTERM), also when the signal comes while the
subcommands are being imported.
"""

import argparse
import importlib
import signal
import sys
import threading

from fixedrnn import __version__
from fixedrnn.errors import FixedRnnError

#: Modules that contribute subcommands, in the order ``--help`` lists them.
SUBCOMMAND_MODULES = (
    "fixedrnn.classify",
    "fixedrnn.evaluate",
    "fixedrnn.verify",
    "fixedrnn.export",
    "fixedrnn.budget",
    "fixedrnn.ensemble",
    "fixedrnn.listen",
    "fixedrnn.firmware",
    "fixedrnn.import_tflite",
    "fixedrnn.study",
    "fixedrnn.warmup",
)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fixedrnn",
        description="Bit-exact integer keyword-spotting reference (MFCC + RNN/LSTM). "
                    "Also runs as python -m fixedrnn.",
    )
    parser.add_argument("--version", action="version", version=f"fixedrnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is (so that ``finally`` blocks run) like Ctrl-C's
    ``KeyboardInterrupt``."""


def _raise_terminated(signum, frame):
    raise Terminated


def _handle_sigterm():
    """Make SIGTERM raise :class:`Terminated` (only the main thread may install a handler)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


def interrupted(exc, prog):
    """Print the one line of an interruption; the exit code: 143 for SIGTERM, 130 for SIGINT."""
    print(f"{prog}: interrupted", file=sys.stderr)
    return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


def run(func, args, prog="fixedrnn"):
    """Call ``func(args)``; turn bad input into one stderr line and exit code 2, an interruption
    into one line and exit 130 (SIGINT) or 143 (SIGTERM). Installs the SIGTERM handler."""
    _handle_sigterm()
    try:
        return int(func(args) or 0)
    except (FixedRnnError, OSError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        return interrupted(exc, prog)


def main(argv=None):
    """The ``fixedrnn`` console script and ``python -m fixedrnn``: returns the exit code."""
    _handle_sigterm()
    try:
        parser = build_parser()  # imports every subcommand module (NumPy, ...)
    except KeyboardInterrupt as exc:
        return interrupted(exc, "fixedrnn")
    args = parser.parse_args(argv)
    from fixedrnn.compile_notice import compile_notice

    with compile_notice():
        return run(args.func, args)
