"""Fuzzing fixedrnn.model.load (issue #15): truncations at every offset of a small valid model, bit
flips, .npy header field mutations, random bytes and zip tricks.

Whatever the bytes, ``load`` either returns a model or raises ``InputFileError`` whose message is one
line starting with the path, within a bounded time; a file that loads after a single bit flip holds
exactly the arrays of the original (the zip's CRCs and the .npy headers catch every change of the
data). Hypothesis runs derandomized, with few examples (the whole fuzz suite stays near a minute).
"""

import struct
import time
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine_models import random_model
from fixedrnn import model as M
from fixedrnn.errors import InputFileError
from faults import flip_bit

pytestmark = pytest.mark.slow  # many corrupt files: left out of the quick subset

FUZZ = settings(max_examples=150, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SECONDS = 2.0  # the most one load may take, whatever the input


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    """``(arrays, {"stored": bytes, "deflated": bytes})`` of a small valid model."""
    root = tmp_path_factory.mktemp("fuzz_model")
    arrays = random_model(4, "rnn", "int8", False, 2, 2, 2, 3, False).to_arrays()
    np.savez(root / "stored.npz", **arrays)
    np.savez_compressed(root / "deflated.npz", **arrays)
    return arrays, {kind: (root / f"{kind}.npz").read_bytes() for kind in ("stored", "deflated")}


def outcome(path):
    """The loaded model, or None when refused with a one-line ``InputFileError`` naming ``path``."""
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile's duplicate-name warning
            model = M.load(path)
    except InputFileError as exc:
        message = str(exc)
        assert message.startswith(f"{path}: ") and "\n" not in message and "\r" not in message, message
        model = None
    assert time.perf_counter() - start < SECONDS
    return model


def same_arrays(model, arrays):
    got = model.to_arrays()
    return got.keys() == arrays.keys() and all(
        got[k].dtype == arrays[k].dtype and np.array_equal(got[k], arrays[k]) for k in arrays)


def test_every_truncation_is_refused(original, tmp_path):
    arrays, files = original
    path = tmp_path / "cut.npz"
    for kind, data in files.items():
        step = 1 if kind == "stored" else 3  # the deflated one: every third offset, every one at the end
        offsets = sorted(set(range(0, len(data), step)) | set(range(max(0, len(data) - 1024), len(data))))
        for n in offsets:
            path.write_bytes(data[:n])
            assert outcome(path) is None, (kind, n)
        path.write_bytes(data)
        assert same_arrays(outcome(path), arrays)


@FUZZ
@given(kind=st.sampled_from(["stored", "deflated"]), where=st.floats(0, 1, exclude_max=True),
       bit=st.integers(0, 7))
def test_a_bit_flip_is_refused_or_changes_nothing(original, tmp_path, kind, where, bit):
    arrays, files = original
    model = outcome(flip_bit(files[kind], where, bit, tmp_path / "flipped.npz"))
    assert model is None or same_arrays(model, arrays)


@FUZZ
@given(data=st.binary(max_size=3000), prefix=st.sampled_from([b"", b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY"]))
def test_random_bytes_are_refused(tmp_path, data, prefix):
    path = tmp_path / "random.npz"
    path.write_bytes(prefix + data)
    assert outcome(path) is None


def npy_member(descr, fortran, shape, body, version=(1, 0), length=None):
    """A .npy member written by hand: header text from the given field values (any Python literal
    text), padded to 64 bytes; ``length`` overrides the header length field."""
    text = f"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}"
    preamble = 10 if version == (1, 0) else 12
    text += " " * (63 - (preamble + len(text)) % 64) + "\n"
    raw = text.encode("utf-8" if version == (3, 0) else "latin1", "replace")
    size = len(raw) if length is None else length
    size_field = struct.pack("<H" if version == (1, 0) else "<I", size & (0xFFFF if version == (1, 0) else 0xFFFFFFFF))
    return b"\x93NUMPY" + bytes(version) + size_field + raw + body


DESCRS = ["'<i4'", "'<i8'", "'|i1'", "'<f4'", "'<f8'", "'|u1'", "'>i4'", "'|b1'", "'<U8'", "'|S8'", "'<c8'", "'|O'",
          "'|V4'", "'<M8[s]'", "'<U0'", "'i4,i4'", "'(2,)i4'", "'nonsense'", "[('a', '<i4')]", "None", "42",
          "'<U99999999999'"]
SHAPES = st.one_of(
    st.tuples().map(repr),
    st.lists(st.integers(-3, 2**62), max_size=4).map(lambda v: repr(tuple(v))),
    st.sampled_from(["(1099511627776,)", "(2, 'a')", "[2]", "None", "(True,)", "(2.0,)", "(" * 300 + ")" * 300]))


@FUZZ
@given(member=st.integers(0, 1000), descr=st.sampled_from(DESCRS), fortran=st.sampled_from(["False", "True", "1", "None"]),
       shape=st.one_of(st.none(), SHAPES), version=st.sampled_from([(1, 0), (2, 0), (3, 0), (9, 0), (1, 1)]),
       length=st.one_of(st.none(), st.integers(0, 70000)), extra=st.sampled_from([b"", b"\x00" * 4]))
def test_npy_header_mutations_are_refused_or_read_as_declared(original, tmp_path, member, descr, fortran, shape,
                                                              version, length, extra):
    arrays, _ = original
    keys = list(arrays)
    key = keys[member % len(keys)]
    value = arrays[key]
    body = value.tobytes() + extra
    members = {f"{k}.npy": _npy(v) for k, v in arrays.items()}
    members[f"{key}.npy"] = npy_member(descr, fortran, repr(value.shape) if shape is None else shape, body,
                                       version, length)
    path = tmp_path / "mutated.npz"
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    model = outcome(path)
    if model is not None:  # a mutation that describes a legal array: the model is whatever it declares
        again = M.Model.from_arrays(model.to_arrays())
        assert same_arrays(again, model.to_arrays())


def _npy(value):
    import io

    buf = io.BytesIO()
    np.save(buf, value)
    return buf.getvalue()


def _zip(path, members, compression=zipfile.ZIP_STORED):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(path, "w", compression) as z:
            for name, data in members:
                z.writestr(name, data)
    return path


def test_zip_tricks_are_refused(original, tmp_path):
    arrays, files = original
    members = [(f"{k}.npy", _npy(v)) for k, v in arrays.items()]
    cases = {
        "empty": [],
        "directory_entry": members + [("format.npy/", b"")],
        "control_character_name": members + [("meta.a\n.npy", _npy(np.zeros(1)))],
        "non_ascii_name": members + [("meta.\u00e9.npy", _npy(np.zeros(1)))],
        "nested_zip": [(n, files["stored"] if n == "head.bias.npy" else d) for n, d in members],
        "duplicate": members + [members[0]],
        "absolute": members + [("/etc/passwd.npy", b"")],
        "dotdot": members + [("../x.npy", b"")],
        "many_members": members + [(f"meta.m{i}.npy", _npy(np.zeros(1, np.uint8))) for i in range(400)],
    }
    for name, content in cases.items():
        path = _zip(tmp_path / f"{name}.npz", content)
        assert outcome(path) is None, name


def test_overlapping_entries_are_refused(original, tmp_path):
    """A central directory whose entries all point at the first local header (a quoted-overlap bomb)."""
    _, files = original
    data = bytearray(files["deflated"])
    entry = data.find(b"PK\x01\x02")
    while entry >= 0:
        struct.pack_into("<I", data, entry + 42, 0)  # local header offset
        entry = data.find(b"PK\x01\x02", entry + 4)
    path = tmp_path / "overlap.npz"
    path.write_bytes(bytes(data))
    assert outcome(path) is None


@pytest.mark.parametrize("declared", [2**26, 2**31, 2**32 - 2])
def test_a_huge_declared_size_is_refused_from_the_directory(original, tmp_path, declared):
    """Each central directory entry declaring up to 4 GB: refused before anything is inflated."""
    _, files = original
    data = bytearray(files["deflated"])
    entry = data.find(b"PK\x01\x02")
    while entry >= 0:
        struct.pack_into("<I", data, entry + 24, declared)  # uncompressed size
        entry = data.find(b"PK\x01\x02", entry + 4)
    path = tmp_path / "huge.npz"
    path.write_bytes(bytes(data))
    assert outcome(path) is None


def test_valid_variants_load(original, tmp_path):
    """Lenient about what is valid: zip64 entries, an archive comment, bytes before the archive."""
    arrays, files = original
    path = tmp_path / "zip64.npz"
    with zipfile.ZipFile(path, "w") as z:
        for k, v in arrays.items():
            with z.open(f"{k}.npy", "w", force_zip64=True) as fh:
                fh.write(_npy(v))
    assert same_arrays(outcome(path), arrays)
    with zipfile.ZipFile(path, "a") as z:
        z.comment = b"a comment" * 100
    assert same_arrays(outcome(path), arrays)
    prefixed = tmp_path / "prefixed.npz"
    prefixed.write_bytes(b"#!/bin/sh\nexit 0\n" + files["stored"])
    assert same_arrays(outcome(prefixed), arrays)
