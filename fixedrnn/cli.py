"""Command line: ``python -m fixedrnn SUBCOMMAND ...``.

Each subcommand lives in its own module, which exposes ``add_parser(subparsers)``; the parser it adds
sets ``func`` (called with the parsed namespace, returns the exit code). Errors in the input
(:class:`fixedrnn.errors.FixedRnnError`, ``OSError``) are printed as one line on stderr and give exit
code 2, never a traceback.
"""

import argparse
import importlib
import sys

from fixedrnn.errors import FixedRnnError

#: Modules that contribute subcommands, in the order ``--help`` lists them.
SUBCOMMAND_MODULES = (
    "fixedrnn.classify",
    "fixedrnn.evaluate",
    "fixedrnn.verify",
    "fixedrnn.export",
    "fixedrnn.budget",
    "fixedrnn.listen",
)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m fixedrnn",
        description="Bit-exact integer keyword-spotting reference (MFCC + RNN/LSTM).",
    )
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
    parser = build_parser()
    args = parser.parse_args(argv)
    return run(args.func, args)
