"""fixedrnn.atomicfile: whole files or nothing, the umask's mode, one clear error."""

import os
import signal
import stat

import pytest

from fixedrnn import atomicfile
from fixedrnn.errors import FixedRnnError, InputFileError
from faults import fail_on_call, refuse_temporary_files


def current_umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_written_file_has_open_w_mode_and_content(tmp_path):
    reference = tmp_path / "by_open.bin"
    with open(reference, "wb") as fh:  # the mode a plain open(..., "w") gives a new file
        fh.write(b"x")
    path = atomicfile.write_bytes(tmp_path / "out.bin", b"\x00\x01fixed")
    assert path.read_bytes() == b"\x00\x01fixed"
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(reference.stat().st_mode)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~current_umask()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["by_open.bin", "out.bin"]


def test_failing_writer_leaves_targets_and_no_temporary_file(tmp_path):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("old a")

    def fail(fh):
        fh.write(b"half")
        raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError, match="writer failed"):
        atomicfile.write_files({first: lambda fh: fh.write(b"new a"), second: fail})
    assert first.read_text() == "old a"  # nothing renamed until every writer succeeded
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_replaces_existing_file_and_writes_text_as_utf8(tmp_path):
    path = tmp_path / "t.c"
    path.write_text("old")
    atomicfile.write_text(path, "/* µ */\n")
    assert path.read_bytes() == "/* µ */\n".encode("utf-8")


def test_missing_directory_names_the_target(tmp_path):
    target = tmp_path / "no" / "such" / "m.npz"
    with pytest.raises(FixedRnnError, match=rf"^{target}: directory .* does not exist$"):
        atomicfile.write_bytes(target, b"")


# ----------------------------------------------------------------------------------------------
# Issue #15: modes kept, the target named, nothing left behind on errors and signals.


def test_overwriting_keeps_the_file_mode(tmp_path):
    path = tmp_path / "secret.bin"
    path.write_bytes(b"old")
    os.chmod(path, 0o600)
    atomicfile.write_bytes(path, b"new")
    assert path.read_bytes() == b"new" and stat.S_IMODE(path.stat().st_mode) == 0o600
    os.chmod(path, 0o640)
    atomicfile.write_directory(tmp_path, {"secret.bin": b"newer"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_an_unwritable_place_names_the_target_not_the_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "model.tflite"
    refuse_temporary_files(monkeypatch)
    with pytest.raises(FixedRnnError) as err:
        atomicfile.write_bytes(target, b"x")
    assert str(err.value) == f"{target}: cannot be written (Permission denied)"
    assert ".tmp" not in str(err.value) and list(tmp_path.iterdir()) == []


def test_a_directory_as_target_is_named(tmp_path):
    (tmp_path / "out.bin").mkdir()
    with pytest.raises(FixedRnnError, match=r"out.bin: is a directory$"):
        atomicfile.write_bytes(tmp_path / "out.bin", b"x")
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_writing_leaves_no_temporary_file(tmp_path, signum):
    """SIGTERM is turned into an exception by the CLI's handler; the writer's ``finally`` removes
    every temporary file and the targets stay as they were."""
    from fixedrnn import cli

    old = tmp_path / "a.bin"
    old.write_bytes(b"old")

    def killed(fh):
        fh.write(b"half")
        os.kill(os.getpid(), signum)
        for _ in range(1000):  # the handler runs at the next bytecode
            pass
        raise AssertionError("the signal was not delivered")

    previous = signal.signal(signal.SIGTERM, cli._raise_terminated)
    try:
        with pytest.raises(KeyboardInterrupt):
            atomicfile.write_files({old: lambda fh: fh.write(b"new"), tmp_path / "b.bin": killed})
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"] and old.read_bytes() == b"old"


def test_signals_are_held_back_while_renaming(tmp_path):
    """A signal arriving during the renames is delivered after the last one: never half a set (also
    with other threads alive, which could take a process-directed signal)."""
    import threading

    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        real_replace = os.replace
        calls = []

        def replace_and_signal(src, dst):
            calls.append(dst)
            if len(calls) == 1:
                os.kill(os.getpid(), signal.SIGINT)
            assert not received  # held back until every file is in place
            return real_replace(src, dst)

        atomicfile.os.replace = replace_and_signal
        try:
            atomicfile.write_files({tmp_path / f"{i}.txt": (lambda fh: fh.write(b"x")) for i in range(3)})
        finally:
            atomicfile.os.replace = real_replace
    finally:
        signal.signal(signal.SIGINT, previous)
        stop.set()
        other.join()
    assert received == [signal.SIGINT] and len(calls) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.txt", "1.txt", "2.txt"]


def snapshot(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_write_directory_creates_a_new_directory_in_one_step(tmp_path):
    out = tmp_path / "out"
    written = atomicfile.write_directory(out, {"a.c": b"A", "b.h": b"B"})
    assert written == [out / "a.c", out / "b.h"] and snapshot(out) == {"a.c": b"A", "b.h": b"B"}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_write_directory_replaces_its_set_keeps_other_files_removes_owned_ones(tmp_path):
    out = tmp_path / "out"
    atomicfile.write_directory(out, {"a.c": b"A1", "rnn.c": b"R1"})
    (out / "main.c").write_bytes(b"user")
    atomicfile.write_directory(out, {"a.c": b"A2", "lstm.c": b"L2"}, owned=("a.c", "rnn.c", "lstm.c"))
    assert snapshot(out) == {"a.c": b"A2", "lstm.c": b"L2", "main.c": b"user"}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("fail_at", [1, 2, 4, 5])
def test_write_directory_failing_move_puts_everything_back(tmp_path, monkeypatch, fail_at):
    """A move failing part-way (aside or in) restores the previous set: never a mix of two."""
    out = tmp_path / "out"
    atomicfile.write_directory(out, {"a.c": b"A1", "b.c": b"B1", "c.c": b"C1"})
    before = snapshot(out)
    real_replace = os.replace
    calls = []

    def failing(src, dst):
        calls.append(dst)
        if len(calls) == fail_at:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(atomicfile.os, "replace", failing)
    with pytest.raises(InputFileError, match=r"out: cannot be written \(No space left on device\); left as it was"):
        atomicfile.write_directory(out, {"a.c": b"A2", "b.c": b"B2", "c.c": b"C2"})
    assert snapshot(out) == before and [p.name for p in tmp_path.iterdir()] == ["out"]


def test_write_directory_failing_writer_leaves_nothing(tmp_path, monkeypatch):
    out = tmp_path / "out"
    atomicfile.write_directory(out, {"a.c": b"A1"})
    calls = fail_on_call(monkeypatch, atomicfile, "_stage", 2, KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        atomicfile.write_directory(out, {"a.c": b"A2", "b.c": b"B2"})
    with pytest.raises(KeyboardInterrupt):
        calls.clear()
        atomicfile.write_directory(tmp_path / "new", {"a.c": b"A2", "b.c": b"B2"})
    assert snapshot(out) == {"a.c": b"A1"} and [p.name for p in tmp_path.iterdir()] == ["out"]


def test_write_directory_refuses_a_directory_under_a_file_name(tmp_path):
    out = tmp_path / "out"
    (out / "a.c").mkdir(parents=True)
    (out / "a.c" / "keep").write_bytes(b"k")
    with pytest.raises(InputFileError, match=r"a.c: is a directory$"):
        atomicfile.write_directory(out, {"a.c": b"A"})
    assert (out / "a.c" / "keep").read_bytes() == b"k"
    (tmp_path / "file").write_bytes(b"f")
    with pytest.raises(FixedRnnError, match="exists and is not a directory"):
        atomicfile.write_directory(tmp_path / "file", {"a.c": b"A"})
