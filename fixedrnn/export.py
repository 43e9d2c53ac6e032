"""``python -m fixedrnn export tflite|c``: write a model in another form.

- ``export tflite MODEL.npz OUT.tflite [--frames T]``: a TFLite flatbuffer of the recurrent part and
  the head (int8 feature sequence in, int8 logits out) that TFLite Micro runs unmodified
  (:mod:`fixedrnn.tflite_export`).
- ``export c MODEL.npz OUTDIR``: C99 sources of the whole pipeline for a Cortex-M4 firmware
  (:mod:`fixedrnn.c_export`).
"""


def _tflite(args):
    from pathlib import Path

    from fixedrnn.errors import FixedRnnError
    from fixedrnn.tflite_export import export_tflite

    out = Path(args.out)
    if out.is_dir():
        raise FixedRnnError(f"out: {out} is a directory, not a .tflite file name")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise FixedRnnError(f"out: the directory of {out} does not exist")
    export_tflite(args.model, args.out, frames=args.frames)
    print(f"wrote {args.out}")
    return 0


def _c(args):
    from fixedrnn.c_export import export_c

    written = export_c(args.model, args.outdir)
    for path in written or ():
        print(f"wrote {path}")
    return 0


def _positive_int(text):
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def add_parser(subparsers):
    parser = subparsers.add_parser("export", help="write a model as .tflite or as C sources",
                                   description="Write a model in another form: a .tflite file for "
                                               "TFLite Micro, or C99 sources for a Cortex-M4 firmware.")
    formats = parser.add_subparsers(dest="format", metavar="FORMAT")
    formats.required = True
    tflite = formats.add_parser(
        "tflite", help="TFLite flatbuffer of the recurrent part and head",
        description="Write a TFLite flatbuffer of the recurrent part and the head (int8 feature "
                    "sequence in, int8 logits out) that TFLite Micro runs unmodified.")
    tflite.add_argument("model", help="model file (.npz)")
    tflite.add_argument("out", help="output .tflite file")
    tflite.add_argument("--frames", type=_positive_int, default=None, metavar="T",
                        help="sequence length of the graph (default: the model's sequence.frames)")
    tflite.set_defaults(func=_tflite)
    c = formats.add_parser(
        "c", help="C99 sources of the whole pipeline",
        description="Write the C99 sources of the whole pipeline (MFCC front end, cell, head) with "
                    "the model's data, for a Cortex-M4 firmware or the host (docs/firmware.md).")
    c.add_argument("model", help="model file (.npz)")
    c.add_argument("outdir", help="output directory (created if missing)")
    c.set_defaults(func=_c)
