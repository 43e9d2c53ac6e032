"""Accuracy through other microphones and channels: each recording of the split filtered by a fixed
channel, then scored by the integer engine end to end.

    python tools/channel_eval.py [MODEL.npz ...] [--data-dir DIR] [--split test] [--channel NAME ...]
        [--endpoint] [--json FILE]

FSDD was recorded on one microphone; a user's recording is not. Each channel is a fixed linear
filter (``scipy.signal``, applied causally to the float samples; :data:`CHANNELS`), the result
rounded half to even and saturated to int16:

- ``quiet``: −20 dB gain; ``loud``: +12 dB (peaks saturate);
- ``telephone``: 4th-order Butterworth band-pass 300–3400 Hz (the narrow-band telephone channel);
- ``bright``: first-order pre-emphasis ``y[n] = x[n] − 0.9·x[n−1]`` (a thin, close microphone:
  −20 dB at DC to +5.6 dB at 4 kHz, +6 dB/octave above ~130 Hz);
- ``muffled``: 2nd-order Butterworth low-pass at 1500 Hz (a covered or distant microphone);
- ``resonant``: +10 dB at 1 kHz (a 2nd-order band-pass ``iirpeak(1000, Q=2)`` added 2.16 times:
  a small enclosure's resonance).

A gain or a fixed spectral shape adds a constant to each cepstral coefficient of every frame: what
cepstral mean normalisation (``input.cmn = window``, :mod:`fixedrnn.cepstral_mean`) removes.
``--endpoint``: every recording endpointed first (as ``evaluate --endpoint``). Prints one Markdown
row per model.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import scipy.signal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixedrnn.cli import run  # noqa: E402
from fixedrnn.endpoint import EndpointConfig  # noqa: E402
from fixedrnn.errors import FixedRnnError  # noqa: E402
from fixedrnn.model import load  # noqa: E402
from eval_tables import (accuracy, add_table_arguments, split_recordings, table_data_dir, table_models, targets,  # noqa: E402
                         write_json)


#: Peak gain of the ``resonant`` channel, dB.
RESONANCE_DB = 10.0


def channel_filter(name, sample_rate):
    """The channel ``name`` (:data:`CHANNELS`) at ``sample_rate``: a function float64 ``[n]`` → ``[n]``."""
    nyquist = sample_rate / 2
    if name == "as recorded":
        return lambda x: x
    if name == "quiet":
        return lambda x: x * 10 ** (-20 / 20)
    if name == "loud":
        return lambda x: x * 10 ** (12 / 20)
    if name == "telephone":
        sos = scipy.signal.butter(4, [300, min(3400, 0.95 * nyquist)], btype="bandpass", fs=sample_rate, output="sos")
        return lambda x: scipy.signal.sosfilt(sos, x)
    if name == "bright":
        return lambda x: scipy.signal.lfilter([1.0, -0.9], [1.0], x)
    if name == "muffled":
        sos = scipy.signal.butter(2, 1500, btype="lowpass", fs=sample_rate, output="sos")
        return lambda x: scipy.signal.sosfilt(sos, x)
    if name == "resonant":
        b, a = scipy.signal.iirpeak(1000, 2.0, fs=sample_rate)
        extra = 10 ** (RESONANCE_DB / 20) - 1  # the band-pass has unit gain at its centre
        return lambda x: x + extra * scipy.signal.lfilter(b, a, x)
    raise FixedRnnError(f"--channel: {name!r} is not one of {', '.join(CHANNELS)}")


#: The channels, in table order.
CHANNELS = ("as recorded", "quiet", "loud", "telephone", "bright", "muffled", "resonant")


def through(pcm, name, sample_rate):
    """int16 ``[n]`` through the channel ``name``: rounded half to even, saturated to int16."""
    y = channel_filter(name, sample_rate)(np.asarray(pcm, np.float64))
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def channel_table(models, data_dir, split="test", channels=CHANNELS, endpoint=None):
    """``[{"model": stem, "<channel>": accuracy, ...}]``: each model on the split's recordings
    through each channel (``endpoint`` an :class:`EndpointConfig` or None)."""
    recordings, samples = split_recordings(data_dir, split)
    rows = []
    for path in models:
        model = load(path)
        labels = targets(model, recordings)
        rate = model.frontend.sample_rate
        row = {"model": Path(path).stem, "cmn": model.input.cmn}
        for name in channels:
            row[name] = accuracy(model, [through(s, name, rate) for s in samples], labels, endpoint)
        rows.append(row)
        print(f"{row['model']}: done", file=sys.stderr, flush=True)
    return rows


def markdown(rows, channels):
    lines = ["| model | input.cmn | " + " | ".join(channels) + " | worst |", "|" + "---|" * (len(channels) + 3)]
    for row in rows:
        worst = min(row[n] for n in channels)
        lines.append(f"| {row['model']} | {row['cmn']} | " + " | ".join(f"{100 * row[n]:.1f}" for n in channels)
                     + f" | **{100 * worst:.1f}** |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="tools/channel_eval.py", description=__doc__.split("\n")[0])
    add_table_arguments(p)
    p.add_argument("--channel", nargs="+", default=None, metavar="NAME",
                   help=f"channels (default: all: {', '.join(CHANNELS)})")
    p.add_argument("--endpoint", action="store_true", help="endpoint every recording first")
    args = p.parse_args(argv)
    return run(_run, args, prog="channel_eval")


def _run(args):
    channels = CHANNELS if args.channel is None else tuple(args.channel)
    for name in channels:
        channel_filter(name, 8000)  # an unknown name: one line before any work
    rows = channel_table(table_models(args), table_data_dir(args), args.split, channels,
                         EndpointConfig() if args.endpoint else None)
    print(markdown(rows, channels))
    write_json(args, endpoint=args.endpoint, rows=rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
