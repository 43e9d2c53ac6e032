"""fixedrnn.speech_commands on a small synthetic tree in the dataset's layout (no copy of the dataset
is reachable here): splits by the lists, the task's classes (keywords, _unknown_, _silence_), the
samples against the PCM the test wrote, `evaluate` (library and command) against the engine on that
PCM, and tools/train.py on the tree (slow)."""

import json
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from fixedrnn import convert, evaluate, speech_commands as sc
from fixedrnn.cli import main as cli_main
from fixedrnn.errors import FixedRnnError, InputFileError
from fixedrnn.mfcc import frames
from fixedrnn.model import FrontendSpec, save

OTHER_WORDS = ("bed", "cat")
SPEAKERS = ("0a7c2a8d", "1b2c3d4e", "ffee0011")
NOISE_SECONDS = 12.5


def write_wav(path, pcm, rate=sc.SAMPLE_RATE):
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(pcm, "<i2").tobytes())


def make_tree(root, words=sc.KEYWORDS + OTHER_WORDS, noise=True):
    """Three clips per word (speakers 0, 1, 2): speaker 0's in testing_list, speaker 1's in
    validation_list. Returns {name: pcm}."""
    rng = np.random.default_rng(0)
    pcms, test, validation = {}, [], []
    for w, word in enumerate(words):
        for s, speaker in enumerate(SPEAKERS):
            n = int(rng.integers(6000, 16001))
            t = np.arange(n) / sc.SAMPLE_RATE
            pcm = (3000 * np.sin(2 * np.pi * (200 + 60 * w + 20 * s) * t) + rng.normal(0, 300, n)).astype(np.int16)
            name = f"{word}/{speaker}_nohash_{s}.wav"
            write_wav(root / name, pcm)
            pcms[name] = pcm
            (test if s == 0 else validation if s == 1 else []).append(name)
    (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    (root / "validation_list.txt").write_text("\n".join(validation) + "\n")
    if noise:
        pcm = rng.normal(0, 800, int(NOISE_SECONDS * sc.SAMPLE_RATE)).astype(np.int16)
        write_wav(root / sc.BACKGROUND / "white_noise.wav", pcm)
        pcms[f"{sc.BACKGROUND}/white_noise.wav"] = pcm
    (root / "README.md").write_text("not a clip\n")
    return pcms


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("speech_commands")
    return root, make_tree(root)


def test_splits_follow_the_lists(tree):
    root, _ = tree
    clips = sc.scan(root, labels=sc.KEYWORDS)
    assert len(clips) == 3 * len(sc.KEYWORDS)
    for clip in clips:
        index = SPEAKERS.index(clip.speaker)
        assert clip.split == ("test", "validation", "train")[index]
        assert clip.label == clip.word and clip.name == f"{clip.word}/{clip.path.name}"
    assert [c.name for c in sc.scan(root, "validation", labels=sc.KEYWORDS)] == sorted(
        f"{w}/{SPEAKERS[1]}_nohash_1.wav" for w in sc.KEYWORDS)


def test_twelve_classes_add_unknown_words_and_silence_segments(tree):
    root, pcms = tree
    clips = sc.scan(root, labels=sc.LABELS_12, balance=None)
    unknown = [c for c in clips if c.label == sc.UNKNOWN]
    assert sorted(c.word for c in unknown) == sorted(OTHER_WORDS * 3)
    silence = [c for c in clips if c.label == sc.SILENCE]
    assert len(silence) == int(NOISE_SECONDS)  # whole seconds only
    noise = pcms[f"{sc.BACKGROUND}/white_noise.wav"]
    for k, clip in enumerate(sorted(silence, key=lambda c: c.offset)):
        assert clip.split == ("test" if k % 10 == 0 else "validation" if k % 10 == 1 else "train")
        np.testing.assert_array_equal(clip.samples(), noise[k * 16000:(k + 1) * 16000])


def test_unknown_and_silence_are_balanced_per_split(tree):
    """10 % of each split's 10 keyword clips, rounded up: one unknown and one silence clip per split,
    the ones whose names' SHA-256 sort first."""
    import hashlib

    root, _ = tree
    everything = sc.scan(root, labels=sc.LABELS_12, balance=None)
    for split in ("train", "validation", "test"):
        clips = sc.scan(root, split, labels=sc.LABELS_12)
        assert sum(c.label in sc.KEYWORDS for c in clips) == 10
        for label in (sc.UNKNOWN, sc.SILENCE):
            pool = [c.name for c in everything if c.split == split and c.label == label]
            first = min(pool, key=lambda name: hashlib.sha256(name.encode()).hexdigest())
            assert [c.name for c in clips if c.label == label] == [first]
    assert len(sc.scan(root, "test", labels=sc.LABELS_12, balance=100)) == 10 + 2 + 2
    with pytest.raises(FixedRnnError) as exc:
        sc.scan(root, labels=sc.LABELS_12, balance=150)
    assert "balance" in one_line(exc)


def test_samples_are_the_written_pcm(tree):
    root, pcms = tree
    for clip in sc.scan(root, "test", labels=sc.KEYWORDS):
        np.testing.assert_array_equal(clip.samples(), pcms[clip.name])


def test_front_end_preset_gives_49_frames_a_second():
    assert sc.FRAMES == 49 == len(frames(np.zeros(sc.SAMPLE_RATE, np.int16), sc.FRONTEND))
    assert sc.FRONTEND.sample_rate == 16000


def test_layout_detection(tree, tmp_path):
    root, _ = tree
    assert sc.is_layout(root) and evaluate.detect_dataset(root) == "speech_commands"
    assert not sc.is_layout(tmp_path) and evaluate.detect_dataset(tmp_path) == "fsdd"


def one_line(exc_info):
    message = str(exc_info.value)
    assert "\n" not in message
    return message


def test_bad_trees_and_arguments_are_refused(tmp_path):
    with pytest.raises(InputFileError) as exc:
        sc.scan(tmp_path)
    assert "not a Speech Commands directory" in one_line(exc)
    make_tree(tmp_path, words=("yes",), noise=False)
    with pytest.raises(InputFileError) as exc:
        sc.scan(tmp_path, labels=sc.LABELS_12)
    assert sc.BACKGROUND in one_line(exc)
    with pytest.raises(FixedRnnError) as exc:
        sc.scan(tmp_path, split="dev")
    assert "split" in one_line(exc)
    with pytest.raises(InputFileError) as exc:
        sc.scan(tmp_path, labels=("no",))
    assert "holds no clip" in one_line(exc)
    (tmp_path / "testing_list.txt").write_text("yes_0a7c2a8d.wav\n")
    with pytest.raises(InputFileError) as exc:
        sc.scan(tmp_path, labels=("yes",))
    assert "testing_list.txt" in one_line(exc) and "line 1" in str(exc.value)


def test_a_clip_at_another_rate_is_refused_by_name(tmp_path):
    make_tree(tmp_path, words=("yes",), noise=False)
    write_wav(tmp_path / "yes" / "abc_nohash_0.wav", np.zeros(800, np.int16), rate=8000)
    clip = [c for c in sc.scan(tmp_path, labels=("yes",)) if c.speaker == "abc"][0]
    with pytest.raises(InputFileError) as exc:
        clip.samples()
    assert "abc_nohash_0.wav" in one_line(exc)


def speech_model(labels, seed=0):
    """A small random LSTM for the 16 kHz front end (convert from float weights)."""
    rng = np.random.default_rng(seed)
    c, units, n_in = sc.FRONTEND, 6, sc.FRONTEND.n_mfcc
    spec = FrontendSpec(sample_rate=c.sample_rate, fft_length=c.fft_length, hop=c.hop, n_mels=c.n_mels,
                        n_mfcc=c.n_mfcc, fmin=c.fmin, fmax=c.fmax, window=c.window, precision="q15")
    input_quant = convert.make_input_quant(rng.normal(0, 5, n_in), rng.uniform(10, 60, n_in), 1 / 32)
    params = convert.FloatLstm(w_x=rng.normal(0, 0.4, (4, units, n_in)), w_h=rng.normal(0, 0.3, (4, units, units)),
                               b=rng.normal(0, 0.2, (4, units)))
    head = convert.FloatHead(w=rng.normal(0, 0.5, (len(labels), units)), b=rng.normal(0, 0.1, len(labels)))
    return convert.convert(params, head, convert.LstmRanges(head=(-8.0, 8.0)), input_quant, spec, sc.FRAMES,
                           labels, convert.ConvertOptions(cell="lstm"))


@pytest.mark.parametrize("labels, split", [(sc.KEYWORDS, "test"), (sc.LABELS_12, "validation")])
def test_evaluate_equals_the_engine_on_the_written_pcm(tree, labels, split):
    root, pcms = tree
    model = speech_model(labels)
    result = evaluate.evaluate_model(model, root, split=split, backend="numpy")
    assert evaluate.evaluate_model(model, root, split=split, dataset="speech_commands").names == result.names
    want_names = sorted(c.name for c in sc.scan(root, split, labels=labels))
    assert sorted(result.names) == want_names
    for name, target, logits in zip(result.names, result.targets, result.logits):
        word = name.split("/")[0]
        label = word if word in labels else sc.SILENCE if word == sc.BACKGROUND else sc.UNKNOWN
        assert model.labels[target] == label
        if "@" in name:
            offset = int(name.split("@")[1])
            pcm = pcms[name.split("@")[0]][offset:offset + sc.SAMPLE_RATE]
        else:
            pcm = pcms[name]
        np.testing.assert_array_equal(logits, model.run_features(model.features(pcm), backend="numpy"))


def test_evaluate_command_detects_the_layout(tree, tmp_path, capsys):
    root, _ = tree
    path = tmp_path / "kws.npz"
    save(speech_model(sc.KEYWORDS), path)
    assert cli_main(["evaluate", str(path), str(root), "--split", "validation", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == len(sc.KEYWORDS) and out["labels"] == list(sc.KEYWORDS)
    assert cli_main(["evaluate", str(path), str(root), "--dataset", "fsdd"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "of FSDD" in err[0]


@pytest.mark.slow
@pytest.mark.parametrize("task", ["10", "12"])
def test_train_on_the_tree(tree, tmp_path, monkeypatch, task):
    pytest.importorskip("torch", reason="the train extra (PyTorch) is not installed")
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    import train
    import train_data

    root, _ = tree
    monkeypatch.setattr(train_data, "CACHE_DIR", tmp_path / "cache")
    out = tmp_path / "sc.npz"
    args = train.parse_args(["--data", str(root), "--task", task, "--copies", "1", "--epochs", "1",
                             "--qat-epochs", "1", "--units", "4", "--out", str(out), "--no-progress"])
    assert args.dataset == "speech_commands" and args.frames == sc.FRAMES
    result = train.run_training(args)
    from fixedrnn.model import load

    model = load(out)
    assert model.labels == (sc.KEYWORDS if task == "10" else sc.LABELS_12)
    assert model.frontend.sample_rate == 16000 and model.frames == sc.FRAMES
    want = evaluate.evaluate_model(model, root, split="test").accuracy
    assert result["integer_test"] == want == model.meta["integer_test_accuracy"]


def test_stream_evaluation_takes_the_tree(tree, tmp_path, capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    import stream_eval

    root, _ = tree
    path = tmp_path / "kws12.npz"
    save(speech_model(sc.LABELS_12), path)
    out = tmp_path / "rows.jsonl"
    assert stream_eval.main([str(path), "--speech-commands", str(root), "--limit", "4", "--snr", "20",
                             "--noise", "white", "--json", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "kws12.npz` | white 20 dB | 4 |" in lines[2]
    assert '"words": 4' in out.read_text()


def test_front_end_preset_equals_cmsisdsp():
    """The 16 kHz preset's tables are CMSIS-DSP's own (cmsisdsp.mfcc helpers) and its MFCC equals
    arm_mfcc_q15 / arm_mfcc_q31 on random, tone and silent frames."""
    pytest.importorskip("cmsisdsp")
    import cmsisdsp.datatype as dt
    import cmsisdsp.mfcc as cmsis_mfcc
    from test_mfcc import Oracle

    from fixedrnn.mfcc import MfccFrontEnd, make_tables

    c = sc.FRONTEND
    tables = make_tables(c)
    lengths, positions, packed = cmsis_mfcc.melFilterMatrix(dt.Q15, c.fmin, c.fmax, c.n_mels, c.sample_rate,
                                                            c.fft_length)
    np.testing.assert_array_equal(tables.filter_lengths, lengths)
    np.testing.assert_array_equal(tables.filter_pos, positions)
    np.testing.assert_array_equal(tables.filter_coefs_q15, packed)
    np.testing.assert_array_equal(tables.dct_q15, cmsis_mfcc.dctMatrix(dt.Q15, c.n_mfcc, c.n_mels))
    rng = np.random.default_rng(12)
    t = np.arange(c.fft_length) / c.sample_rate
    frames16 = np.stack([rng.integers(-32768, 32768, c.fft_length), np.zeros(c.fft_length),
                         8000 * np.sin(2 * np.pi * 440 * t), 20000 * np.sin(2 * np.pi * 3100 * t),
                         rng.normal(0, 200, c.fft_length)]).astype(np.int16)
    front_end, oracle = MfccFrontEnd(c), Oracle(c)
    np.testing.assert_array_equal(front_end.mfcc_q15(frames16), oracle.mfcc_q15(frames16))
    frames31 = frames16.astype(np.int32) << 16
    np.testing.assert_array_equal(front_end.mfcc_q31(frames31), oracle.mfcc_q31(frames31))
