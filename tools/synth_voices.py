"""Spoken digits in voices that are in no dataset: synthetic voices, FSDD's layout.

    python tools/synth_voices.py OUT_DIR [--voices en-us en-gb+f2 ...] [--speeds 130 175]
        [--pitches 30 70]
    python tools/synth_voices.py OUT_DIR --natural [--stretches 0.85 1 1.2] [--f0-factors 0.8 1 1.25]
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

A voice is ``ENGINE:NAME`` or, for espeak-ng, its plain name (:data:`ENGINES`). ``--natural``
speaks :data:`NATURAL_VOICES`: voices built from recordings of real speakers (flite's and
festival's diphone, clustergen and HTS voices: five people) and one human's recorded digits
(asterisk's US English prompts), each variant ``index`` a duration stretch × f0 factor
(``--stretches``, ``--f0-factors``; f0 only where :data:`VOICE_F0` knows the voice's own mean).
Their output keeps the silence the engines put around a word: it is trimmed (:func:`trim_silence`)
to FSDD's tight cut. Needs ``flite``, ``festival`` with ``festvox-kallpc16k``,
``festvox-kdlpc16k``, ``festvox-us-slt-hts``, and ``asterisk-core-sounds-en-wav`` (Debian).
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
#: Voices built from real speakers' recordings (kal, ked: diphone; awb, rms, slt: flite's
#: clustergen; slt again as festival's HTS voice) and a human's recorded digits (asterisk:en).
NATURAL_VOICES = ("flite:kal", "flite:kal16", "flite:awb", "flite:rms", "flite:slt", "festival:kal_diphone",
                  "festival:ked_diphone", "festival:cmu_us_slt_arctic_hts", "asterisk:en")
STRETCHES = (0.85, 1.0, 1.2)  # duration stretch of flite and festival (1: the voice's own rate)
F0_FACTORS = (1.0,)  # factors on VOICE_F0 (1: the voice's own pitch, left as the engine has it)
#: The voice's own mean f0 (Hz: median autocorrelation pitch of its "four" and "nine", measured
#: once with flite 2.2 and festival 2.5); a factor ≠ 1 sets the engine's target mean to factor × this.
VOICE_F0 = {"flite:kal": 104, "flite:kal16": 105, "flite:awb": 133, "flite:rms": 82, "flite:slt": 188,
            "festival:kal_diphone": 107, "festival:ked_diphone": 109}
#: The engines of ``ENGINE:NAME`` voices (a voice without a prefix is espeak-ng's).
ENGINES = ("espeak", "flite", "festival", "asterisk")
#: Where Debian's asterisk-core-sounds-en-wav keeps the digits (``{digit}.wav``, 8 kHz).
ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds")
SAMPLE_RATE = 8000
PEAK = 16384  # peak sample of every recording (half of full scale)
TRIM_DB = -40.0  # trim_silence: a 10 ms frame is sound when its energy is within this of the loudest


def voice_name(voice):
    """The FSDD speaker name of a voice: ``en-us+f2`` → ``en-us-f2``."""
    return re.sub(r"[^A-Za-z0-9]", "-", voice)


def split_voice(voice):
    """``(engine, name)`` of a voice: ``flite:awb`` → ``("flite", "awb")``, ``en-us+f2`` →
    ``("espeak", "en-us+f2")`` (``FixedRnnError`` for an unknown engine)."""
    engine, sep, name = voice.partition(":")
    if not sep:
        return "espeak", voice
    if engine not in ENGINES or not name:
        raise FixedRnnError(f"--voices: {voice!r} is not ENGINE:NAME with ENGINE one of {', '.join(ENGINES)}")
    return engine, name


def read_8k(path):
    """float64 ``[n]``: a WAV file's samples (channels averaged) resampled to 8 kHz."""
    rate, x = scipy.io.wavfile.read(path)
    x = x.astype(np.float64)
    if x.ndim > 1:
        x = x.mean(axis=1)
    if rate != SAMPLE_RATE:
        g = np.gcd(rate, SAMPLE_RATE)
        x = scipy.signal.resample_poly(x, SAMPLE_RATE // g, rate // g)
    return x


def trim_silence(x):
    """``x`` from two 10 ms frames before its first sound frame to two after its last; a frame is
    sound when its mean power is within :data:`TRIM_DB` of the loudest frame's."""
    frame = SAMPLE_RATE // 100
    n = x.size // frame
    if n == 0:
        return x
    power = np.mean(np.reshape(x[:n * frame], (n, frame)) ** 2, axis=1) + 1e-9
    sound = np.nonzero(10 * np.log10(power / power.max()) > TRIM_DB)[0]
    return x[max(0, sound[0] - 2) * frame:min(x.size, (sound[-1] + 3) * frame)]


def run_engine(argv, voice, path, stdin=None):
    """Run a synthesiser writing ``path``; ``FixedRnnError`` naming the voice if it fails."""
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True)
    except FileNotFoundError:
        raise FixedRnnError(f"--voices: {argv[0]} not found, needed for voice {voice!r} "
                            "(see tools/synth_voices.py)") from None
    if done.returncode != 0 or not path.exists() or path.stat().st_size <= 44:
        raise FixedRnnError(f"--voices: {argv[0]} could not speak with voice {voice!r}: "
                            f"{done.stderr.strip() or 'no output'}")


def flite_voices():
    """The voice names ``flite -lv`` lists (flite speaks an unknown name in its default voice, so
    :func:`check_voices` checks names against these)."""
    try:
        listed = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout
    except FileNotFoundError:
        raise FixedRnnError("--voices: flite not found (Debian: apt-get install flite)") from None
    return tuple(listed.partition(":")[2].split())


def engine_samples(word, digit, voice, variant, tmp):
    """float64 ``[n]`` at 8 kHz: ``word`` in ``voice``; ``variant`` is ``(speed, pitch)`` for
    espeak-ng, ``(stretch, f0_factor)`` for flite and festival, unused for asterisk (which reads
    the recorded ``digit``). The non-espeak outputs are trimmed (:func:`trim_silence`)."""
    engine, name = split_voice(voice)
    path = Path(tmp) / "word.wav"
    path.unlink(missing_ok=True)
    if engine == "espeak":
        speed, pitch = variant
        run_engine(["espeak-ng", "-v", name, "-s", str(speed), "-p", str(pitch), "-w", str(path), word], voice, path)
        return read_8k(path)
    if engine == "asterisk":
        if digit is None:
            raise FixedRnnError(f"--voices: {voice!r} has recorded digits only, not {word!r}")
        path = ASTERISK_SOUNDS / name / "digits" / f"{digit}.wav"
        if not path.exists():
            raise FixedRnnError(f"--voices: {voice!r}: no {path} (Debian: apt-get install asterisk-core-sounds-en-wav)")
        return trim_silence(read_8k(path))
    stretch, factor = variant
    if engine == "flite":
        argv = ["flite", "-voice", name, "--setf", f"duration_stretch={stretch}"]
        if factor != 1.0:
            argv += ["--setf", f"int_f0_target_mean={VOICE_F0[voice] * factor:.0f}"]
        run_engine(argv + ["-t", word, "-o", str(path)], voice, path)
    else:
        pitch = ""
        if factor != 1.0:
            pitch = (f"(set! int_lr_params '((target_f0_mean {VOICE_F0[voice] * factor:.0f}) (target_f0_std 10) "
                     "(model_f0_mean 170) (model_f0_std 34)))")
        run_engine(["text2wave", "-eval", f"(begin (voice_{name}) (Parameter.set 'Duration_Stretch {stretch}) {pitch})",
                    "-o", str(path)], voice, path, stdin=word)
    return trim_silence(read_8k(path))


def synthesize(word, voice, variant, tmp, digit=None):
    """int16 ``[n]`` at 8 kHz: ``word`` in ``voice`` (:func:`engine_samples`), peak sample :data:`PEAK`."""
    x = engine_samples(word, digit, voice, variant, tmp)
    peak = np.max(np.abs(x)) if x.size else 0
    if peak == 0:
        raise FixedRnnError(f"--voices: {split_voice(voice)[0]} produced silence for {word!r} in voice {voice!r}")
    return np.clip(np.rint(x * (PEAK / peak)), -32768, 32767).astype(np.int16)


def variants(voice, speeds, pitches, stretches, f0_factors):
    """The variants of a voice, in ``index`` order: espeak-ng's speed × pitch; flite's and
    festival's stretch × f0 factor (f0 factors only for :data:`VOICE_F0`'s voices, else 1); one
    for asterisk."""
    engine = split_voice(voice)[0]
    if engine == "espeak":
        return [(s, p) for s in speeds for p in pitches]
    if engine == "asterisk":
        return [None]
    return [(s, f) for s in stretches for f in (f0_factors if voice in VOICE_F0 else (1.0,))]


def check_voices(voices):
    """``FixedRnnError`` before anything is written: an unknown engine, espeak-ng missing for its
    voices, a name flite does not have."""
    engines = [split_voice(v) for v in voices]
    if any(engine == "espeak" for engine, _ in engines) and shutil.which("espeak-ng") is None:
        raise FixedRnnError("espeak-ng: not found (Debian: apt-get install espeak-ng)")
    flite_names = [name for engine, name in engines if engine == "flite"]
    if flite_names:
        known = flite_voices()
        for name in flite_names:
            if name not in known:
                raise FixedRnnError(f"--voices: flite has no voice {name!r} (it has {', '.join(known)})")


def speak_all(folder, named_words, voices, speeds, pitches, stretches=STRETCHES, f0_factors=F0_FACTORS):
    """Write ``folder/{name}_{voice}_{index}.wav`` for every ``(name, word)`` of ``named_words``,
    voice and variant (:func:`variants`; ``index`` numbers them); returns the paths."""
    check_voices(voices)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    with tempfile.TemporaryDirectory() as tmp:
        for voice in voices:
            for index, variant in enumerate(variants(voice, speeds, pitches, stretches, f0_factors)):
                for name, word in named_words:
                    path = folder / f"{name}_{voice_name(voice)}_{index}.wav"
                    digit = int(name) if name.isdigit() else None
                    scipy.io.wavfile.write(path, SAMPLE_RATE, synthesize(word, voice, variant, tmp, digit))
                    paths.append(path)
    return paths


def write_set(out_dir, voices=VOICES, speeds=SPEEDS, pitches=PITCHES, stretches=STRETCHES, f0_factors=F0_FACTORS):
    """Write the recordings (``OUT_DIR/recordings/{digit}_{voice}_{index}.wav``); returns their paths."""
    return speak_all(Path(out_dir) / "recordings", [(str(d), w) for d, w in enumerate(WORDS)], voices, speeds,
                     pitches, stretches, f0_factors)


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
        voices = args.voices or (NATURAL_VOICES if args.natural else TRAIN_VOICES if args.train else VOICES)
        paths = write_set(args.out_dir, voices, args.speeds, args.pitches, args.stretches, args.f0_factors)
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
    p.add_argument("--natural", action="store_true",
                   help="default to NATURAL_VOICES: voices built from real speakers' recordings (flite, festival) "
                        "and asterisk's recorded digits")
    p.add_argument("--voices", nargs="+", default=None,
                   help="voices, ENGINE:NAME or an espeak-ng voice (default: VOICES; with --train: TRAIN_VOICES; "
                        "with --natural: NATURAL_VOICES; with --words: FILLER_VOICES)")
    p.add_argument("--words", default=None, metavar="FILE|builtin",
                   help="speak these non-digit words (a file, one a line, or the builtin list) into OUT_DIR/_filler_")
    p.add_argument("--speeds", nargs="+", type=int, default=None)
    p.add_argument("--pitches", nargs="+", type=int, default=None)
    p.add_argument("--stretches", nargs="+", type=float, default=list(STRETCHES),
                   help="flite and festival: duration stretches (default 0.85 1 1.2)")
    p.add_argument("--f0-factors", nargs="+", type=float, default=list(F0_FACTORS),
                   help="flite and festival: factors on the voice's own mean f0 (default 1)")
    args = p.parse_args(argv)
    if args.natural and (args.train or args.words is not None):
        p.error("--natural: not with --train or --words (the natural voices speak the digits)")
    if not all(0.25 <= x <= 4 for x in args.stretches + args.f0_factors):
        p.error("--stretches and --f0-factors must lie in [0.25, 4]")
    args.speeds = args.speeds or list(TRAIN_SPEEDS if args.train else SPEEDS)
    args.pitches = args.pitches or list(TRAIN_PITCHES if args.train else PITCHES)
    return run(_write, args, prog="synth_voices")


if __name__ == "__main__":
    sys.exit(main())
