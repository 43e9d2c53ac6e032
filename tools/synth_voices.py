"""Spoken digits in voices that are in no dataset: espeak-ng's synthetic voices, FSDD's layout.

    python tools/synth_voices.py OUT_DIR [--voices en-us en-gb+f2 ...] [--speeds 130 175]
        [--pitches 30 70]
    python -m fixedrnn evaluate MODEL OUT_DIR --split all
    python tools/synth_voices.py --train TRAIN_DIR     # training voices, disjoint from the above
    python tools/train.py ... --extra-train TRAIN_DIR

Writes ``OUT_DIR/recordings/{digit}_{voice}_{index}.wav`` (8 kHz, 16-bit mono, FSDD's naming: the
voice name with every character outside ``[A-Za-z0-9]`` as ``-``; ``index`` numbers the
speed × pitch variants), so every fixedrnn command that reads FSDD reads it. A check of the models
on speakers they never heard, not a benchmark of human speech: formant synthesis is far from a
human voice. Needs the ``espeak-ng`` program (Debian: ``apt-get install espeak-ng``).
"""

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import scipy.io.wavfile
import scipy.signal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixedrnn.cli import run  # noqa: E402
from fixedrnn.errors import FixedRnnError  # noqa: E402

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: espeak-ng voices (language + variant): accents, male and female variants, the Klatt synthesiser.
VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-029", "en-us-nyc", "en-gb-x-rp", "en-us+f2",
          "en-gb+f3", "en-us+m3", "en-gb+m7", "en-us+Annie", "en-gb+klatt2")
SPEEDS = (130, 175)  # words per minute
PITCHES = (30, 70)  # espeak-ng's 0-99 pitch scale
#: Training voices (``--train``, for tools/train.py --extra-train): disjoint from :data:`VOICES` in
#: both parts — the two English accents :data:`VOICES` does not use, with variants it does not use
#: (none, f1, f4, f5, m1, m2, m4, m5, m6, m8, klatt, klatt3, klatt4, Andy, Denis, Gene, Jacky) — and
#: spoken at speeds and pitches :data:`SPEEDS` / :data:`PITCHES` do not use.
TRAIN_BASES = ("en-gb-x-gbclan", "en-gb-x-gbcwmd")
TRAIN_VARIANTS = ("", "f1", "f4", "f5", "m1", "m2", "m4", "m5", "m6", "m8", "klatt", "klatt3", "klatt4",
                  "Andy", "Denis", "Gene", "Jacky")
TRAIN_VOICES = tuple(base + (f"+{v}" if v else "") for base in TRAIN_BASES for v in TRAIN_VARIANTS)
TRAIN_SPEEDS = (110, 150, 200)
TRAIN_PITCHES = (20, 50, 85)
SAMPLE_RATE = 8000
PEAK = 16384  # peak sample of every recording (half of full scale)


def voice_name(voice):
    """The FSDD speaker name of a voice: ``en-us+f2`` → ``en-us-f2``."""
    return re.sub(r"[^A-Za-z0-9]", "-", voice)


def synthesize(word, voice, speed, pitch, tmp):
    """int16 ``[n]`` at 8 kHz: ``word`` spoken by espeak-ng, resampled, peak sample :data:`PEAK`."""
    path = Path(tmp) / "word.wav"
    done = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path),
                           word], capture_output=True, text=True)
    if done.returncode != 0 or not path.exists():
        raise FixedRnnError(f"--voices: espeak-ng could not speak with voice {voice!r}: "
                            f"{done.stderr.strip() or 'no output'}")
    rate, x = scipy.io.wavfile.read(path)
    x = x.astype(np.float64)
    if rate != SAMPLE_RATE:
        g = np.gcd(rate, SAMPLE_RATE)
        x = scipy.signal.resample_poly(x, SAMPLE_RATE // g, rate // g)
    peak = np.max(np.abs(x))
    if peak == 0:
        raise FixedRnnError(f"--voices: espeak-ng produced silence for {word!r} in voice {voice!r}")
    return np.clip(np.rint(x * (PEAK / peak)), -32768, 32767).astype(np.int16)


def write_set(out_dir, voices=VOICES, speeds=SPEEDS, pitches=PITCHES):
    """Write the recordings; returns their paths."""
    if shutil.which("espeak-ng") is None:
        raise FixedRnnError("espeak-ng: not found (Debian: apt-get install espeak-ng)")
    folder = Path(out_dir) / "recordings"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    with tempfile.TemporaryDirectory() as tmp:
        for voice in voices:
            for index, (speed, pitch) in enumerate((s, p) for s in speeds for p in pitches):
                for digit, word in enumerate(WORDS):
                    path = folder / f"{digit}_{voice_name(voice)}_{index}.wav"
                    scipy.io.wavfile.write(path, SAMPLE_RATE, synthesize(word, voice, speed, pitch, tmp))
                    paths.append(path)
    return paths


def main(argv=None):
    p = argparse.ArgumentParser(prog="tools/synth_voices.py", description=__doc__.split("\n")[0])
    p.add_argument("out_dir", type=Path)
    p.add_argument("--train", action="store_true",
                   help="default to the training voices, speeds and pitches (TRAIN_*), disjoint from the evaluation's")
    p.add_argument("--voices", nargs="+", default=None)
    p.add_argument("--speeds", nargs="+", type=int, default=None)
    p.add_argument("--pitches", nargs="+", type=int, default=None)
    args = p.parse_args(argv)
    defaults = (TRAIN_VOICES, TRAIN_SPEEDS, TRAIN_PITCHES) if args.train else (VOICES, SPEEDS, PITCHES)
    for name, default in zip(("voices", "speeds", "pitches"), defaults):
        if getattr(args, name) is None:
            setattr(args, name, list(default))
    return run(lambda a: print(f"{len(write_set(a.out_dir, a.voices, a.speeds, a.pitches))} recordings "
                               f"in {a.out_dir / 'recordings'}"), args, prog="synth_voices")


if __name__ == "__main__":
    sys.exit(main())
