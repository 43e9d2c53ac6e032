"""Command line: ``fixedrnn SUBCOMMAND ...`` (the console script) or ``python -m fixedrnn SUBCOMMAND ...``.

Each subcommand lives in its own module, which exposes ``add_parser(subparsers)``; the parser it adds
sets ``func`` (called with the parsed namespace, returns the exit code). Errors in the input
(:class:`fixedrnn.errors.FixedRnnError`, ``OSError``) are printed as one line on stderr and give exit
code 2, never a traceback. A first run that compiles numba kernels says so on stderr
(:mod:`fixedrnn.compile_notice`).
"""

import argparse
import importlib
import sys

from fixedrnn import __version__
from fixedrnn.errors import FixedRnnError

#: Modules that contribute subcommands, in the order ``--help`` lists them.
SUBCOMMAND_MODULES = (
    "fixedrnn.classify",
    "fixedrnn.evaluate",
    "fixedrnn.verify",
    "fixedrnn.export",
    "fixedrnn.budget",
    "fixedrnn.listen",
    "fixedrnn.firmware",
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


def run(func, args, prog="fixedrnn"):
    """Call ``func(args)``; turn bad input into one stderr line and exit code 2."""
    try:
        return int(func(args) or 0)
    except (FixedRnnError, OSError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def main(argv=None):
    """The ``fixedrnn`` console script and ``python -m fixedrnn``: returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from fixedrnn.compile_notice import compile_notice

    with compile_notice():
        return run(args.func, args)
