"""fixedrnn.atomicfile: whole files or nothing, the umask's mode, one clear error."""

import os
import stat

import pytest

from fixedrnn import atomicfile
from fixedrnn.errors import FixedRnnError


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
