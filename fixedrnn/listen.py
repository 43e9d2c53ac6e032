"""``python -m fixedrnn listen MODEL [WAV | -]``: continuous keyword spotting on a long recording or
live audio (:class:`fixedrnn.stream.KeywordStream`, the cell stepping frame by frame; with
``--per-segment``, and always for a model that cannot step so — cepstral mean normalisation, an
imported graph — :class:`fixedrnn.segment_stream.SegmentStream`, the model classifying each speech
segment's window once; docs/streaming.md).

``WAV``: a 16-bit PCM mono WAV at the model's sample rate. ``-`` (the default): raw signed 16-bit
little-endian mono PCM at the model's sample rate on standard input, read in blocks as it arrives,
e.g. ``arecord -r 8000 -f S16_LE -t raw | python -m fixedrnn listen MODEL -``.
Prints one line per detection: ``LABEL<TAB>START<TAB>END<TAB>SCORE`` (seconds from the start of the
stream, the speech segment's first and last sample; SCORE the averaged int8 score), or with
``--json`` one JSON object per line (``label``, ``start``, ``end``, ``decided``, ``score``).
"""

import json
import os
import sys

import numpy as np

from fixedrnn.errors import FixedRnnError

#: Bytes read from standard input at a time (at most; a pipe gives what it has).
READ_BYTES = 4096


def format_detection(stream, model, d, as_json):
    """One detection ``d`` as a line: ``LABEL<TAB>START<TAB>END<TAB>SCORE`` or, ``as_json``, a JSON
    object; times in seconds from the stream's frame times (a :class:`fixedrnn.stream.KeywordStream`)."""
    start, end = stream.frame_start_seconds(d.start), stream.frame_end_seconds(d.end)
    if as_json:
        return json.dumps({"label": model.labels[d.label], "start": round(start, 4), "end": round(end, 4),
                           "decided": round(stream.frame_end_seconds(d.decided), 4), "score": d.score})
    return f"{model.labels[d.label]}\t{start:.3f}\t{end:.3f}\t{d.score}"


def _stdin_blocks(sample_rate):
    """int16 blocks from standard input as they arrive; refuses a WAV header and a half sample."""
    fd = sys.stdin.buffer.fileno()
    carry, first = b"", True
    while True:
        data = os.read(fd, READ_BYTES)
        if not data:
            break
        if first and data[:4] == b"RIFF":
            raise FixedRnnError(f"stdin: this is a WAV file; '-' reads raw S16_LE mono PCM at {sample_rate} Hz "
                                "(give the file's name instead, or record with 'arecord -t raw')")
        first = False
        data = carry + data
        whole = len(data) & ~1
        carry = data[whole:]
        if whole:
            yield np.frombuffer(data[:whole], "<i2").astype(np.int16)
    if carry:
        raise FixedRnnError("stdin: the input ended inside a sample (an odd number of bytes is not S16_LE PCM)")


def _file_blocks(path, config, block):
    from fixedrnn.mfcc import read_wav

    pcm = read_wav(path, config)
    for start in range(0, pcm.size, block):
        yield pcm[start:start + block]


def _listen(args):
    from fixedrnn.decision import DecisionConfig
    from fixedrnn.model import load
    from fixedrnn.segment_stream import SegmentStream, open_stream
    from fixedrnn.stream import StreamConfig, steps_per_frame

    if args.block < 1:
        raise FixedRnnError(f"--block: must be at least 1 sample, got {args.block}")
    if not -128 <= args.threshold <= 127:
        raise FixedRnnError(f"--threshold: must be an int8 score, -128..127, got {args.threshold}")
    model = load(args.model)
    config = StreamConfig(decision=DecisionConfig(threshold=args.threshold), reset=not args.no_reset,
                          per_segment=args.per_segment)
    if args.no_reset and (args.per_segment or not steps_per_frame(model)):
        why = "--per-segment" if args.per_segment else f"{args.model} cannot step frame by frame"
        raise FixedRnnError(f"--no-reset: {why}: the model runs once per speech segment, on its window, "
                            "with no state carried across segments")
    stream = open_stream(model, config)
    rate = model.frontend.sample_rate
    if args.wav == "-":
        how = "once per speech segment" if isinstance(stream, SegmentStream) else "frame by frame"
        print(f"listening: {args.model} ({model.cell}, {how}; {rate} Hz S16_LE mono on standard input); "
              "Ctrl-C stops", file=sys.stderr, flush=True)
        blocks = _stdin_blocks(rate)
    else:
        blocks = _file_blocks(args.wav, model.frontend.mfcc_config(), args.block)
    try:
        for block in blocks:
            for d in stream.push(block)[1]:
                print(format_detection(stream, model, d, args.json), flush=True)
        for d in stream.finish():
            print(format_detection(stream, model, d, args.json), flush=True)
    except BrokenPipeError:
        # Nobody reads our output any more: say so once, and keep Python from failing at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print("fixedrnn: error: standard output was closed (broken pipe)", file=sys.stderr)
        return 2
    return 0


def add_parser(subparsers):
    parser = subparsers.add_parser("listen", help="spot keywords in a long recording or live audio",
                                   description="Continuous keyword spotting: read a long WAV file, or raw "
                                               "16-bit mono PCM at the model's sample rate on standard "
                                               "input ('-'), and print one line per detected keyword "
                                               "(label, start and end time, score).")
    parser.add_argument("model", help="model file (.npz)")
    parser.add_argument("wav", nargs="?", default="-", metavar="WAV | -",
                        help="16-bit mono WAV file, or '-' for raw S16_LE PCM on standard input (default)")
    parser.add_argument("--json", action="store_true", help="one JSON object per detection")
    parser.add_argument("--threshold", type=int, default=-128,
                        help="smallest int8 score of a detection: averaged over the segment's last frames, or "
                             "per segment the window's logit (default -128: every segment)")
    parser.add_argument("--no-reset", action="store_true",
                        help="carry the cell state across speech segments (no reset; much worse on these models)")
    parser.add_argument("--per-segment", action="store_true",
                        help="run the model once per speech segment, on its window, as classify runs a clip "
                             "(always so for a model with cepstral mean normalisation or an imported graph)")
    parser.add_argument("--block", type=int, default=1024, help="samples per block when reading a WAV file")
    parser.set_defaults(func=_listen)
