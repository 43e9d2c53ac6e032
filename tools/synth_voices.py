"""Spoken digits in voices that are in no dataset: espeak-ng's synthetic voices, FSDD's layout.

    python tools/synth_voices.py OUT_DIR [--voices en-us en-gb+f2 ...] [--speeds 130 175]
        [--pitches 30 70]
    python -m fixedrnn evaluate MODEL OUT_DIR --split all
    python tools/synth_voices.py OUT_DIR --words builtin|FILE     # non-digit words: filler audio
    python tools/train.py --filler-dir OUT_DIR/_filler_ ...
    python tools/synth_voices.py --train TRAIN_DIR     # training voices, disjoint from the evaluation's
    python tools/train.py ... --extra-train TRAIN_DIR

``--words``: non-digit words (:data:`FILLER_WORDS`, or a file of one word or phrase a line)
instead of the digits, written to ``OUT_DIR/_filler_/{word}_{voice}_{index}.wav`` in the voices
:data:`FILLER_VOICES` (disjoint from :data:`VOICES`, the evaluation voices) unless ``--voices``
names others: the ``_filler_`` class of tools/train.py (``--filler-dir``).

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
#: The voices of the filler words: none of :data:`VOICES` (those evaluate the models).
FILLER_VOICES = ("en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us+m1", "en-us+f4", "en-gb+f1", "en-gb-scotland+m2")
#: Common English words that are not digits (nor sound like one: no "won", "too", "for", "ate").
FILLER_WORDS = (
    "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "hello", "okay", "please",
    "thanks", "sorry", "what", "where", "when", "why", "who", "how", "this", "that", "here", "there",
    "good", "bad", "big", "small", "hot", "cold", "new", "old", "open", "close", "light", "music",
    "play", "pause", "next", "back", "call", "home", "house", "water", "coffee", "dinner", "morning",
    "evening", "today", "tomorrow", "yesterday", "time", "money", "phone", "door", "window", "table",
    "chair", "car", "train", "street", "city", "people", "family", "friend", "mother", "father",
    "brother", "sister", "child", "dog", "cat", "bird", "tree", "flower", "apple", "bread", "milk",
    "red", "green", "blue", "yellow", "black", "white", "happy", "sad", "maybe", "always", "never",
    "because", "about", "again", "little", "very", "really", "something", "nothing", "weather",
    "computer", "garden", "hundred", "thousand", "first", "last",
)
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


def speak_all(folder, named_words, voices, speeds, pitches):
    """Write ``folder/{name}_{voice}_{index}.wav`` for every ``(name, word)`` of ``named_words``,
    voice and speed × pitch variant (``index`` numbers the variants); returns the paths."""
    if shutil.which("espeak-ng") is None:
        raise FixedRnnError("espeak-ng: not found (Debian: apt-get install espeak-ng)")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    with tempfile.TemporaryDirectory() as tmp:
        for voice in voices:
            for index, (speed, pitch) in enumerate((s, p) for s in speeds for p in pitches):
                for name, word in named_words:
                    path = folder / f"{name}_{voice_name(voice)}_{index}.wav"
                    scipy.io.wavfile.write(path, SAMPLE_RATE, synthesize(word, voice, speed, pitch, tmp))
                    paths.append(path)
    return paths


def write_set(out_dir, voices=VOICES, speeds=SPEEDS, pitches=PITCHES):
    """Write the recordings (``OUT_DIR/recordings/{digit}_{voice}_{index}.wav``); returns their paths."""
    return speak_all(Path(out_dir) / "recordings", [(str(d), w) for d, w in enumerate(WORDS)], voices, speeds,
                     pitches)


def word_list(spec):
    """The filler words of ``--words``: :data:`FILLER_WORDS` for "builtin", else the non-empty lines
    of the file ``spec`` (stripped)."""
    if spec == "builtin":
        return list(FILLER_WORDS)
    path = Path(spec)
    try:
        words = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise FixedRnnError(f"--words: cannot read {spec}: {exc}") from None
    if not words:
        raise FixedRnnError(f"--words: {spec} holds no word")
    return words


def write_words(out_dir, words, voices=FILLER_VOICES, speeds=SPEEDS, pitches=PITCHES):
    """Write ``OUT_DIR/_filler_/{word}_{voice}_{index}.wav`` (the word with every character outside
    ``[A-Za-z0-9]`` as ``-``) for every word, voice and speed × pitch variant; returns the paths."""
    return speak_all(Path(out_dir) / "_filler_", [(voice_name(w), w) for w in words], voices, speeds, pitches)


def _write(args):
    if args.words is None:
        voices = args.voices or (TRAIN_VOICES if args.train else VOICES)
        paths = write_set(args.out_dir, voices, args.speeds, args.pitches)
        print(f"{len(paths)} recordings in {args.out_dir / 'recordings'}")
    else:
        paths = write_words(args.out_dir, word_list(args.words), args.voices or FILLER_VOICES, args.speeds,
                            args.pitches)
        print(f"{len(paths)} filler recordings in {args.out_dir / '_filler_'}")


def main(argv=None):
    p = argparse.ArgumentParser(prog="tools/synth_voices.py", description=__doc__.split("\n")[0])
    p.add_argument("out_dir", type=Path)
    p.add_argument("--train", action="store_true",
                   help="default to the training voices, speeds and pitches (TRAIN_*), disjoint from the evaluation's")
    p.add_argument("--voices", nargs="+", default=None,
                   help="espeak-ng voices (default: VOICES; with --train: TRAIN_VOICES; with --words: FILLER_VOICES)")
    p.add_argument("--words", default=None, metavar="FILE|builtin",
                   help="speak these non-digit words (a file, one a line, or the builtin list) into OUT_DIR/_filler_")
    p.add_argument("--speeds", nargs="+", type=int, default=None)
    p.add_argument("--pitches", nargs="+", type=int, default=None)
    args = p.parse_args(argv)
    args.speeds = args.speeds or list(TRAIN_SPEEDS if args.train else SPEEDS)
    args.pitches = args.pitches or list(TRAIN_PITCHES if args.train else PITCHES)
    return run(_write, args, prog="synth_voices")


if __name__ == "__main__":
    sys.exit(main())
