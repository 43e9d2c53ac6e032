"""The filler class's training data (#13): tools/train_data.py's filler files and babble pieces, their
split, tools/train.py's --filler-dir / --filler-babble, and tools/synth_voices.py --words."""

import hashlib
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io.wavfile

TOOLS = Path(__file__).resolve().parents[1] / "tools"
sys.path.insert(0, str(TOOLS))

import synth_voices  # noqa: E402
import train  # noqa: E402
import train_data  # noqa: E402
from fixedrnn import fsdd  # noqa: E402
from fixedrnn.decision import is_keyword  # noqa: E402
from fixedrnn.errors import FixedRnnError  # noqa: E402

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


def write_wavs(folder, names, n=4000, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in names:
        scipy.io.wavfile.write(folder / name, 8000, rng.integers(-3000, 3000, n).astype(np.int16))


def test_filler_label_is_not_a_keyword_and_follows_the_digits():
    assert not is_keyword(train_data.FILLER_LABEL) and train_data.FILLER_LABEL == "_filler_"


def test_filler_split_is_a_stable_hash_of_the_file_name_about_10_10_80():
    names = [f"word{k}_voice_{k % 3}.wav" for k in range(2000)]
    splits = [train_data.filler_split(n) for n in names]
    counts = {s: splits.count(s) for s in ("test", "validation", "train")}
    assert 150 <= counts["test"] <= 250 and 150 <= counts["validation"] <= 250
    # the first 4 bytes of SHA-256, little-endian, mod 100: < 10 test, < 20 validation
    for n, s in zip(names[:50], splits[:50]):
        bucket = int.from_bytes(hashlib.sha256(n.encode()).digest()[:4], "little") % 100
        assert s == ("test" if bucket < 10 else "validation" if bucket < 20 else "train")


def test_filler_files_name_split_and_samples(tmp_path):
    write_wavs(tmp_path / "a", ["b.wav", "a.wav"])
    write_wavs(tmp_path / "c" / "sub", ["a.wav"], seed=1)
    clips = train_data.filler_files([tmp_path / "a", tmp_path / "c"])
    assert [c.name for c in clips] == ["_filler_/a/a.wav", "_filler_/a/b.wav", "_filler_/c/sub/a.wav"]
    assert [c.speaker for c in clips] == ["a", "a", "sub"]
    assert clips[0].split == clips[2].split == train_data.filler_split("a.wav")  # by the file name
    assert all(train_data.class_name(c) == "_filler_" and c.index == -1 for c in clips)
    assert clips[2].samples().dtype == np.int16 and clips[2].samples().size == 4000
    assert clips[0].cache_key() != clips[2].cache_key()


def test_filler_files_bad_folder_is_one_line(tmp_path):
    with pytest.raises(FixedRnnError, match="--filler-dir: .*nope is not a folder"):
        train_data.filler_files([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FixedRnnError, match="no .wav file in"):
        train_data.filler_files([tmp_path / "empty"])


class FakeRecording:
    """An FSDD-like recording; a test-split one must never be read."""

    def __init__(self, name, split, pcm):
        self.name, self.split, self._pcm = name, split, pcm

    def samples(self):
        assert self.split == "train", f"babble read the {self.split} recording {self.name}"
        return self._pcm


def test_babble_fillers_use_training_recordings_only():
    rng = np.random.default_rng(3)
    recs = [FakeRecording(f"r{k}", "train" if k % 3 else "test", (rng.normal(0, 100 * (k + 1), 3000)).astype(np.int16))
            for k in range(12)]
    pieces = train_data.babble_fillers(recs, 5, seed=2, level_db=(-30.0, 0.0))
    again = train_data.babble_fillers(recs, 5, seed=2, level_db=(-30.0, 0.0))
    assert len(pieces) == 5 and all(np.array_equal(p.pcm, q.pcm) for p, q in zip(pieces, again))
    train_rms = [np.sqrt(np.mean(r._pcm.astype(np.float64) ** 2)) for r in recs if r.split == "train"]
    for p in pieces:
        assert p.split == "train" and p.path is None and train_data.class_name(p) == "_filler_"
        assert 4000 <= p.pcm.size <= 12000 and p.pcm.dtype == np.int16
        db = 20 * np.log10(np.sqrt(np.mean(p.pcm.astype(np.float64) ** 2)) / np.median(train_rms))
        assert -30.2 < db < 0.2
    assert np.ptp([np.sqrt(np.mean(p.pcm.astype(np.float64) ** 2)) for p in pieces]) > 0  # levels drawn
    assert len({p.name for p in pieces}) == 5 and pieces[0].cache_key() != pieces[1].cache_key()
    flat = train_data.babble_fillers(recs, 5, seed=2)  # default: at the median RMS, the same babble
    for p, q in zip(flat, pieces):
        rms = np.sqrt(np.mean(p.pcm.astype(np.float64) ** 2))
        assert abs(rms - np.median(train_rms)) < 0.01 * np.median(train_rms) and p.pcm.size == q.pcm.size
    with pytest.raises(FixedRnnError, match="--filler-babble: needs at least 6 training recordings"):
        train_data.babble_fillers(recs[:6], 1)


def test_split_masks_fillers_follow_their_own_split():
    # two digit recordings (index 2: test, 20: fit) and three fillers (test, validation, train), each
    # with one augmented copy where the split is train
    index = np.array([2, 20, 20, -1, -1, -1, -1])
    split = np.array(["test", "train", "train", "test", "validation", "train", "train"])
    copy = np.array([0, 0, 1, 0, 0, 0, 1])
    feats = train_data.FeatureSet(mfcc=np.zeros((7, 13), np.int16), lengths=np.ones(7, int), labels=np.zeros(7, int),
                                  names=np.array(list("abbcdee")), copy=copy, index=index,
                                  speaker=np.array(["s"] * 3 + ["f"] * 4), split=split,
                                  silent=np.zeros(13, np.int16))
    args = train.parse_args(["--out", "m.npz"])
    fit, val, test = train.split_masks(feats, args)
    assert fit.tolist() == [False, True, True, False, False, True, True]
    assert val.tolist() == [False, False, False, False, True, False, False]
    assert test.tolist() == [True, False, False, True, False, False, False]


@pytest.mark.parametrize("argv, fragment", [
    (["--filler-babble", "-1"], "--filler-babble must be >= 0"),
    (["--filler-babble-db", "0", "-10"], "--filler-babble-db needs LOW <= HIGH"),
    (["--dataset", "speech_commands", "--data", ".", "--filler-babble", "3"], "FSDD only"),
])
def test_bad_filler_arguments_exit_cleanly(capsys, argv, fragment):
    with pytest.raises(SystemExit) as exc:
        train.parse_args(["--out", "m.npz", *argv])
    assert exc.value.code == 2 and fragment in capsys.readouterr().err


def test_builtin_filler_words_and_voices():
    words = synth_voices.word_list("builtin")
    assert 90 <= len(words) <= 120 and len(set(words)) == len(words)
    assert not set(words) & {*synth_voices.WORDS, "oh", "won", "to", "too", "two", "for", "ate"}
    assert not set(synth_voices.FILLER_VOICES) & set(synth_voices.VOICES)


def test_word_file_and_bad_word_file(tmp_path):
    (tmp_path / "w.txt").write_text("hello\n\n  good morning \n")
    assert synth_voices.word_list(str(tmp_path / "w.txt")) == ["hello", "good morning"]
    (tmp_path / "e.txt").write_text("\n")
    with pytest.raises(FixedRnnError, match="holds no word"):
        synth_voices.word_list(str(tmp_path / "e.txt"))
    with pytest.raises(FixedRnnError, match="--words: cannot read"):
        synth_voices.word_list(str(tmp_path / "missing.txt"))


@needs_espeak
def test_writes_filler_words_read_by_train_data(tmp_path):
    paths = synth_voices.write_words(tmp_path, ["hello", "good morning"], voices=["en-us+m1"], speeds=[150],
                                     pitches=[40])
    assert sorted(p.name for p in paths) == ["good-morning_en-us-m1_0.wav", "hello_en-us-m1_0.wav"]
    clips = train_data.filler_files([tmp_path / "_filler_"])
    assert len(clips) == 2 and all(0.2 * fsdd.SAMPLE_RATE < c.samples().size < 3 * fsdd.SAMPLE_RATE for c in clips)


@pytest.mark.slow  # training
def test_smoke_training_with_fillers(fsdd_dir, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from fixedrnn import model as model_io

    monkeypatch.setattr(train_data, "CACHE_DIR", tmp_path / "cache")
    write_wavs(tmp_path / "words", [f"w{k}.wav" for k in range(30)])
    out = tmp_path / "filler.npz"
    args = train.parse_args(["--data-dir", str(fsdd_dir), "--subset", "1", "--copies", "1", "--epochs", "1",
                             "--qat-epochs", "1", "--units", "6", "--out", str(out), "--no-progress",
                             "--filler-dir", str(tmp_path / "words"), "--filler-babble", "4"])
    train.run_training(args)
    model = model_io.load(out)
    assert tuple(model.labels) == (*train_data.FSDD_LABELS, "_filler_")
    assert model.meta["integer_test_accuracy"] is not None


def test_filler_eval_smoke(fsdd_dir, tmp_path, capsys):
    """tools/filler_eval.py: a word stream of bursts (each a segment) and a little babble alone;
    a model with all-keyword labels detects every segment it decides."""
    import filler_eval

    rng = np.random.default_rng(0)
    (tmp_path / "w").mkdir()
    for k in range(3):
        burst = (8000 * np.sin(2 * np.pi * 440 * np.arange(4000) / 8000) * rng.uniform(0.5, 1.0)).astype(np.int16)
        scipy.io.wavfile.write(tmp_path / "w" / f"b{k}.wav", 8000, burst)
    model = str(Path(__file__).resolve().parents[1] / "golden" / "models" / "tiny_lstm_int8.npz")
    assert filler_eval.main([model, "--words", str(tmp_path / "w"), "--babble-minutes", "0.2", "--limit", "8",
                             "--fsdd", str(fsdd_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and lines[0] == "tiny_lstm_int8.npz\t3 non-digit words, clean\t3 detection(s)"
    assert "babble alone at 20 dB, spread_start=0" in lines[4]
    for line in lines[3:]:
        segments, found = (int(x.split()[0]) for x in line.split("\t")[2].split(", "))
        assert segments == found  # no filler class: every decided segment is a detection
    assert filler_eval.main([model, "--words", str(tmp_path / "nope")]) == 2
