"""``python -m fixedrnn export tflite|c``: write a model in another form.

- ``export tflite MODEL.npz OUT.tflite [--frames T]``: a TFLite flatbuffer of the recurrent part and
  the head (int8 feature sequence in, int8 logits out) that TFLite Micro runs unmodified
  (:mod:`fixedrnn.tflite_export`).
- ``export c MODEL.npz OUTDIR [--stream | --endpoint]``: C99 sources of the whole pipeline for a
  Cortex-M4 firmware (:mod:`fixedrnn.c_export`); ``--stream``: the streaming firmware of the default
  :class:`fixedrnn.stream.StreamConfig` (docs/streaming.md; ``--per-segment``, and always for a
  model with cepstral mean normalisation: the model once per speech segment, as ``listen
  --per-segment``); ``--endpoint``: the window firmware
  that endpoints the clip first, with the default :class:`fixedrnn.endpoint.EndpointConfig`
  (as ``classify`` / ``evaluate --endpoint``).

Both refuse a model that fails the overflow audit (:func:`fixedrnn.overflow.require_no_overflow`:
exit 2, one line, nothing written); ``--allow-overflow`` writes it anyway and prints each failing
check of the audit as one warning line on stderr.
"""


def _model_for_export(args, what):
    """The model of ``args.model``; with ``--allow-overflow``, each failing row of the overflow
    audit printed as one stderr line."""
    import sys

    from fixedrnn import overflow
    from fixedrnn.model import load

    model = load(args.model)
    if args.allow_overflow:
        for check in overflow.overflow_audit(model):
            if not check.ok:
                print(f"{what}: warning: int32 overflow possible in {check.name}: {check.what} reaches "
                      f"[{check.low}, {check.high}] (row {check.row}); written anyway (--allow-overflow)",
                      file=sys.stderr)
    return model


def _tflite(args):
    from pathlib import Path

    from fixedrnn.errors import FixedRnnError
    from fixedrnn.tflite_export import export_tflite

    out = Path(args.out)
    if out.is_dir():
        raise FixedRnnError(f"out: {out} is a directory, not a .tflite file name")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise FixedRnnError(f"out: the directory of {out} does not exist")
    model = _model_for_export(args, "export tflite")
    export_tflite(model, args.out, frames=args.frames, allow_overflow=args.allow_overflow)
    print(f"wrote {args.out}")
    if model.input.cmn != "off":
        import sys

        print(f"export tflite: note: {args.model} removes the window's cepstral mean (input.cmn = "
              f"{model.input.cmn}) before the int8 input; the .tflite's input is that window "
              "(fixedrnn.engine.window_features), not the plain normalised MFCC", file=sys.stderr)
    return 0


def _c(args):
    from fixedrnn.c_export import export_c

    from fixedrnn.endpoint import EndpointConfig
    from fixedrnn.errors import FixedRnnError
    from fixedrnn.segment_stream import stream_config
    from fixedrnn.stream import StreamConfig

    if args.stream and args.endpoint:
        raise FixedRnnError("export c: --stream and --endpoint are two firmwares: give one (the stream has its own VAD)")
    if args.per_segment and not args.stream:
        raise FixedRnnError("export c: --per-segment is an option of the streaming firmware (--stream)")
    model = _model_for_export(args, "export c")
    written = export_c(model, args.outdir, allow_overflow=args.allow_overflow,
                       stream=(stream_config(model, StreamConfig(per_segment=args.per_segment)) if args.stream
                               else None),
                       endpoint=EndpointConfig() if args.endpoint else None)
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


ALLOW_OVERFLOW_HELP = ("write a model that fails the overflow audit anyway (each failing row printed on "
                       "stderr); the C kernels do not check at run time")


def add_parser(subparsers):
    parser = subparsers.add_parser("export", help="write a model as .tflite or as C sources",
                                   description="Write a model in another form: a .tflite file for "
                                               "TFLite Micro, or C99 sources for a Cortex-M4 firmware.")
    formats = parser.add_subparsers(dest="format", metavar="FORMAT")
    formats.required = True
    for name, help_text, description, target, func in (
            ("tflite", "TFLite flatbuffer of the recurrent part and head",
             "Write a TFLite flatbuffer of the recurrent part and the head (int8 feature sequence in, "
             "int8 logits out) that TFLite Micro runs unmodified.",
             ("out", "output .tflite file"), _tflite),
            ("c", "C99 sources of the whole pipeline",
             "Write the C99 sources of the whole pipeline (MFCC front end, cell, head) with the model's "
             "data, for a Cortex-M4 firmware or the host (docs/firmware.md).",
             ("outdir", "output directory (created if missing)"), _c)):
        sub = formats.add_parser(name, help=help_text, description=description)
        sub.add_argument("model", help="model file (.npz)")
        sub.add_argument(target[0], help=target[1])
        if name == "tflite":
            sub.add_argument("--frames", type=_positive_int, default=None, metavar="T",
                             help="sequence length of the graph (default: the model's sequence.frames)")
        else:
            sub.add_argument("--stream", action="store_true",
                             help="the streaming firmware (VAD, cell reset, decisions: docs/streaming.md) with "
                                  "the default configuration of 'fixedrnn listen'")
            sub.add_argument("--per-segment", action="store_true",
                             help="with --stream: the model once per speech segment, on its window (as 'fixedrnn "
                                  "listen --per-segment'; always so for a model with cepstral mean normalisation)")
            sub.add_argument("--endpoint", action="store_true",
                             help="the window firmware that first finds the word in the clip's last frames "
                                  "(as 'fixedrnn classify --endpoint'; docs/firmware.md)")
        sub.add_argument("--allow-overflow", action="store_true", help=ALLOW_OVERFLOW_HELP)
        sub.set_defaults(func=func)
