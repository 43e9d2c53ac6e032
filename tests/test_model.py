"""Model file: save/load round trip, and one clear error per malformed variant."""

import dataclasses
import io
import re
import struct
import time
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest

from engine_models import random_model
from fixedrnn import model as M
from fixedrnn import schema
from fixedrnn.errors import FixedRnnError, InputFileError


@pytest.fixture(scope="module", params=[("rnn", "int8", True), ("lstm", "pot", False)])
def model(request):
    cell, weights, per_channel = request.param
    return random_model(1, cell, weights, per_channel, 5, 6, 3, 8, False)


def write(tmp_path, arrays, name="m.npz"):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_round_trip_keeps_every_array(model, tmp_path):
    path = M.save(model, tmp_path / "model.npz")
    again = M.load(path)
    a, b = model.to_arrays(), again.to_arrays()
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_save_refuses_an_invalid_model_and_leaves_no_file(model, tmp_path):
    bad = dataclasses.replace(model, frames=0)
    with pytest.raises(InputFileError, match="sequence.frames"):
        M.save(bad, tmp_path / "x.npz")
    assert list(tmp_path.iterdir()) == []


def mutations(arrays):
    """(description, mutated arrays, expected message fragment)."""
    cell = str(arrays["cell"])
    units_key = f"{cell}.units"
    some_weight = next(k for k in arrays if k.endswith((".weight", ".pot")) and k.startswith(cell))
    shift_key = next(k for k in arrays if k.startswith(cell) and k.endswith(".shift"))
    mult_key = shift_key[: -len("shift")] + "multiplier"
    out = []

    def variant(desc, fragment, **changes):
        new = dict(arrays)
        for k, v in changes.items():
            k = k.replace("__", ".")
            if v is None:
                del new[k]
            else:
                new[k] = v
        out.append((desc, new, fragment))

    variant("missing key", "missing key 'head.bias'", head__bias=None)
    variant("wrong format", "not a fixedrnn model", format=np.array("something-else"))
    variant("future schema", "schema_version", schema_version=np.array(2, np.int32))
    variant("bad cell", "'cell' must be one of", cell=np.array("gru"))
    variant("wrong dtype", "'sequence.frames' must have dtype int32", sequence__frames=np.array(8, np.int64))
    variant("wrong shape", "'input.offset' must have shape", input__offset=np.zeros(4, np.int32))
    new = dict(arrays)
    new[shift_key] = np.full_like(arrays[shift_key], 31)
    out.append(("shift out of range", new, f"'{shift_key}' must be <= 30"))
    new = dict(arrays)
    new[mult_key] = np.full_like(arrays[mult_key], 12345)
    out.append(("multiplier not normalised", new, f"'{mult_key}' must be 0 or in [2**30"))
    new = dict(arrays)
    new[some_weight] = arrays[some_weight][:-1]
    out.append(("truncated weights", new, f"'{some_weight}' must have shape"))
    variant("units out of range", f"'{units_key}' must be <= 1024", **{units_key.replace(".", "__"): np.array(5000, np.int32)})
    variant("zero point out of range", "'input.zero_point' must be <= 127", input__zero_point=np.array(200, np.int32))
    variant("negative scale", "'head.output_scale' must be > 0", head__output_scale=np.array(-1.0, np.float32))
    variant("nan scale", "'input.scale' must be finite", input__scale=np.array(np.nan, np.float32))
    variant("duplicate labels", "distinct", labels=np.array(["a", "a", "b"]))
    variant("unknown key", "unexpected key 'head.extra'", head__extra=np.zeros(1, np.int32))
    variant("string as number", "must have dtype int32", frontend__hop=np.array("128"))
    return out


def test_each_malformed_variant_gives_its_error(model, tmp_path):
    arrays = model.to_arrays()
    for i, (desc, mutated, fragment) in enumerate(mutations(arrays)):
        path = write(tmp_path, mutated, f"v{i}.npz")
        with pytest.raises(InputFileError) as err:
            M.load(path)
        message = str(err.value)
        assert message.startswith(str(path)), desc
        assert fragment in message, (desc, message)
        assert "\n" not in message


def test_lstm_projection_clip_is_refused(tmp_path):
    arrays = random_model(3, "lstm", "int8", False, 3, 4, 2, 5, False).to_arrays()
    path = write(tmp_path, {**arrays, "lstm.proj_clip": np.array(4.0, np.float32)}, "projection clip.npz")
    with pytest.raises(InputFileError, match=r"'lstm.proj_clip': LSTM projection clip is not supported"):
        M.load(path)


def test_lstm_cell_clip_is_an_optional_int16_bound(tmp_path):
    """``lstm.cell_clip``: the quantized clip q (int32 scalar, 1..32767) or absent (no clip)."""
    arrays = random_model(3, "lstm", "int8", False, 3, 4, 2, 5, False).to_arrays()
    assert "lstm.cell_clip" not in arrays and M.Model.from_arrays(arrays).lstm.cell_clip is None
    for value, fragment in ((np.array(4.0, np.float32), "must have dtype int32"),
                            (np.array(0, np.int32), "must be >= 1"), (np.array(32768, np.int32), "must be <= 32767")):
        with pytest.raises(InputFileError, match=fragment):
            M.load(write(tmp_path, {**arrays, "lstm.cell_clip": value}, "bad_clip.npz"))
    model = M.load(write(tmp_path, {**arrays, "lstm.cell_clip": np.array(300, np.int32)}, "clip.npz"))
    assert model.lstm.cell_clip == 300
    saved = dict(np.load(M.save(model, tmp_path / "again.npz")))
    assert int(saved["lstm.cell_clip"]) == 300
    assert list(saved) == [s.name for s in schema.keys_for("lstm", "int8", with_optional=True)
                           if s.name not in ("weights.storage", "frontend.cmsis_build", "input.cmn")]
    # file order, the clip in place; optional keys at their defaults (dense storage, the portable CMSIS build,
    # no cepstral mean normalisation) are not written


def test_pot_padding_nibble_and_invalid_code(tmp_path):
    model = random_model(2, "rnn", "pot", False, 3, 3, 2, 4, False)  # 3x3 = 9 codes: odd
    arrays = model.to_arrays()
    packed = arrays["rnn.input_fc.pot"].copy()
    packed[-1] |= 0x50
    with pytest.raises(InputFileError, match="padding nibble"):
        M.load(write(tmp_path, {**arrays, "rnn.input_fc.pot": packed}, "a.npz"))
    packed = arrays["rnn.input_fc.pot"].copy()
    packed[0] = (packed[0] & 0xF0) | 8
    with pytest.raises(InputFileError, match="rnn.input_fc.pot"):
        M.load(write(tmp_path, {**arrays, "rnn.input_fc.pot": packed}, "b.npz"))
    with pytest.raises(InputFileError, match="present but weights = 'pot'"):
        M.load(write(tmp_path, {**arrays, "head.weight": model.head.weight}, "c.npz"))


def test_non_model_files(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(InputFileError, match="not an .npz archive"):
        M.load(text)
    with pytest.raises(InputFileError, match="no such model file"):
        M.load(tmp_path / "missing.npz")
    npy = tmp_path / "a.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(InputFileError, match="not an .npz archive"):
        M.load(npy)
    obj = tmp_path / "obj.npz"
    np.savez(obj, format=np.array([{"a": 1}], dtype=object))
    with pytest.raises(InputFileError, match="object"):
        M.load(obj)
    broken = tmp_path / "broken.npz"
    with zipfile.ZipFile(broken, "w") as z:
        z.writestr("format.npy", b"garbage")
    with pytest.raises(InputFileError):
        M.load(broken)
    empty = write(tmp_path, {"x": np.zeros(1)}, "empty.npz")
    with pytest.raises(InputFileError, match="no 'format' key"):
        M.load(empty)


@pytest.mark.parametrize("cell, weights, per_channel", [("rnn", "int8", True), ("rnn", "pot", False),
                                                         ("lstm", "int8", False), ("lstm", "pot", False)])
def test_schema_declares_exactly_the_saved_keys(tmp_path, cell, weights, per_channel):
    """fixedrnn.schema lists every key a saved file holds, in file order, with its dtype and shape;
    every device key is an integer array with a C symbol, and nothing else is."""
    from fixedrnn import schema

    model = random_model(5, cell, weights, per_channel, 3, 5, 4, 6, False)
    arrays = dict(np.load(M.save(model, tmp_path / "m.npz")))
    specs = [s for s in schema.keys_for(cell, weights) if not s.optional]  # optional keys: left out
    assert [s.name for s in specs] == list(arrays)
    dims = {"I": 3, "H": 5, "C": 4}
    for spec in specs:
        arr = arrays[spec.name]
        assert arr.dtype.kind == "U" if spec.dtype == "str" else arr.dtype == np.dtype(spec.dtype), spec.name
        if "P" not in spec.shape:
            scales = arr.shape[0] if "S" in spec.shape else 1
            assert arr.shape == spec.resolve(dict(dims, S=scales)), spec.name
        assert spec.device == (arr.dtype.kind in "iu" and arr.ndim >= 1), spec.name
        if spec.device:
            assert spec.symbol == "fr_" + spec.name.replace(".", "_") and spec.c_type == f"{arr.dtype}_t"


# ----------------------------------------------------------------------------------------------
# Issue #15: nothing is inflated before the zip directory and the .npy headers are checked.


def small_model_file(tmp_path, name="small.npz", compressed=False):
    """A valid small model written by NumPy itself (stored, or deflated with ``compressed``)."""
    arrays = random_model(4, "rnn", "int8", False, 2, 2, 2, 3, False).to_arrays()
    path = tmp_path / name
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path, arrays


def npy_bytes(array):
    """An array as a .npy file, written by NumPy."""
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def npy_header(descr, shape):
    """A version 1.0 .npy header written by hand (magic, version, uint16 length, the dict padded
    with spaces and a newline to a multiple of 64 bytes)."""
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
    text += " " * (63 - (10 + len(text)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")


def zip_of(path, members, compression=zipfile.ZIP_STORED):
    """Write ``members`` ({member name: bytes}) as a zip archive at ``path``."""
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def members_of(arrays):
    return {f"{key}.npy": npy_bytes(value) for key, value in arrays.items()}


def patch_entries(data, local_offset, central_offset, value, fmt="<H"):
    """Set a field in every local header (``PK\\3\\4``) and central directory entry (``PK\\1\\2``)."""
    data = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", local_offset), (b"PK\x01\x02", central_offset)):
        start = data.find(signature)
        while start >= 0:
            struct.pack_into(fmt, data, start + offset, value)
            start = data.find(signature, start + 4)
    return bytes(data)


def refused(path, *fragments):
    """load(path) raises one line naming the file and every fragment; returns the message."""
    with pytest.raises(InputFileError) as err:
        M.load(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def test_encrypted_member_is_refused(tmp_path):
    path, _ = small_model_file(tmp_path)
    path.write_bytes(patch_entries(path.read_bytes(), 6, 8, 0x1))  # general purpose flag bit 0
    refused(path, "is encrypted")


@pytest.mark.parametrize("method, name", [(zipfile.ZIP_BZIP2, "bzip2"), (zipfile.ZIP_LZMA, "lzma")])
def test_unsupported_compression_is_refused(tmp_path, method, name):
    _, arrays = small_model_file(tmp_path)
    path = zip_of(tmp_path / f"{name}.npz", members_of(arrays), method)
    refused(path, "unsupported compression", name)
    other = tmp_path / "method99.npz"
    other.write_bytes(patch_entries(small_model_file(tmp_path)[0].read_bytes(), 8, 10, 99))
    refused(other, "unsupported compression", "method 99")


def test_corrupt_deflate_stream_is_refused(tmp_path):
    path, _ = small_model_file(tmp_path, compressed=True)
    data = bytearray(path.read_bytes())
    first = data.find(b"PK\x03\x04")
    name_length, extra_length = struct.unpack_from("<HH", data, first + 26)
    data[first + 30 + name_length + extra_length] = 0x07  # deflate block type 3: reserved, invalid
    path.write_bytes(bytes(data))
    refused(path, "corrupt", "deflate")


def test_a_4_terabyte_header_is_refused_fast_without_allocating(tmp_path):
    _, arrays = small_model_file(tmp_path)
    members = members_of(arrays)
    huge = npy_bytes(np.zeros(3, np.int32)).replace(b"(3,)", b"(1099511627776,)")
    members["input.offset.npy"] = huge
    path = zip_of(tmp_path / "huge_header.npz", members)
    tracemalloc.start()
    start = time.perf_counter()
    refused(path, "'input.offset'")
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 2.0 and peak < 16 << 20


def refused_fast_in_bounded_memory(path, *fragments):
    """:func:`refused` within 2 s and 16 MiB of Python allocations."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        refused(path, *fragments)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 2.0 and peak < 16 << 20


def test_a_huge_meta_member_is_refused_from_the_directory(tmp_path):
    """A member declaring more than any legal key holds (zip bomb: 200 MB of zeros deflated to a
    few hundred KB) is refused before a byte of it is inflated."""
    _, arrays = small_model_file(tmp_path)
    path = zip_of(tmp_path / "bomb.npz", members_of(arrays), zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z:
        with z.open("meta.blob.npy", "w", force_zip64=True) as fh:
            fh.write(npy_bytes(np.zeros(0, np.uint8)).replace(b"(0,)", b"(200000000,)"))
            zeros = bytes(1 << 20)
            for _ in range(200_000_000 >> 20):
                fh.write(zeros)
            fh.write(bytes(200_000_000 % (1 << 20)))
    assert path.stat().st_size < 2_000_000
    refused_fast_in_bounded_memory(path, "'meta.blob.npy' declares", "more than any legal")


def test_a_member_inflating_past_its_declared_size_is_never_read_past_it(tmp_path):
    """A bomb whose directory lies (declares 60,000 bytes; its deflate stream inflates to 50 MB):
    reading stops at the declared size and the member is refused as corrupt (CRC)."""
    _, arrays = small_model_file(tmp_path)
    members = members_of(arrays)
    declared = 60_000
    size = len(npy_header("|u1", (declared,)))
    head = npy_header("|u1", (declared - size,))
    assert len(head) == size
    members["meta.blob.npy"] = head + bytes(50_000_000)
    path = zip_of(tmp_path / "liar.npz", members, zipfile.ZIP_DEFLATED)
    data = bytearray(path.read_bytes())
    entry = data.find(b"PK\x01\x02")
    while entry >= 0:  # the central directory entry of meta.blob.npy declares 60,000 bytes
        name_length = struct.unpack_from("<H", data, entry + 28)[0]
        if data[entry + 46:entry + 46 + name_length] == b"meta.blob.npy":
            assert struct.unpack_from("<I", data, entry + 20)[0] < declared  # compressed size fits
            struct.pack_into("<I", data, entry + 24, declared)
        entry = data.find(b"PK\x01\x02", entry + 4)
    path.write_bytes(bytes(data))
    refused_fast_in_bounded_memory(path, "'meta.blob.npy' is corrupt", "CRC")


def test_truncated_and_future_npy_members_are_named_for_what_they_are(tmp_path):
    _, arrays = small_model_file(tmp_path)
    members = members_of(arrays)
    members["input.offset.npy"] = members["input.offset.npy"][:-3]
    message = refused(zip_of(tmp_path / "truncated.npz", members), "'input.offset' is truncated")
    assert "pickled" not in message
    members = members_of(arrays)
    version9 = bytearray(members["head.bias.npy"])
    version9[6:8] = b"\x09\x00"
    members["head.bias.npy"] = bytes(version9)
    message = refused(zip_of(tmp_path / "v9.npz", members), "unsupported .npy version 9.0")
    assert "pickled" not in message
    for version in (b"\x02\x00", b"\x03\x00"):  # the other versions NumPy writes are read
        members = members_of(arrays)
        body = members["head.bias.npy"]
        header_length = struct.unpack_from("<H", body, 8)[0]
        members["head.bias.npy"] = (body[:6] + version + struct.pack("<I", header_length - 2)
                                    + body[10:10 + header_length - 2] + body[10 + header_length:])
        again = M.load(zip_of(tmp_path / "v2.npz", members))
        np.testing.assert_array_equal(again.head.bias, arrays["head.bias"])


@pytest.mark.parametrize("descr, fragment", [("|O", "object (pickled)"), ("[('a', '<i4')]", "structured"),
                                             ("<M8[s]", "unsupported dtype"), ("<U0", "unsupported dtype"),
                                             ("'nonsense'", "unreadable .npy dtype")])
def test_npy_header_dtypes_outside_plain_arrays_are_refused(tmp_path, descr, fragment):
    _, arrays = small_model_file(tmp_path)
    members = members_of(arrays)
    body = members["head.bias.npy"]
    header_length = struct.unpack_from("<H", body, 8)[0]
    header = body[10:10 + header_length].decode("latin1")
    new = re.sub(r"'descr': '[^']*'", f"'descr': {descr if descr.startswith(('[', chr(39))) else repr(descr)}",
                 header).rstrip()
    new = new + " " * (header_length - len(new) - 1) + "\n" if len(new) < header_length else new + "\n"
    members["head.bias.npy"] = (body[:8] + struct.pack("<H", len(new)) + new.encode("latin1")
                                + body[10 + header_length:])
    refused(zip_of(tmp_path / "dtype.npz", members), "'head.bias'", fragment)


def test_zip_directory_tricks_are_refused(tmp_path):
    _, arrays = small_model_file(tmp_path)
    members = members_of(arrays)
    refused(zip_of(tmp_path / "slash.npz", {**members, "sub/x.npy": b""}), "not a '<key>.npy' array")
    refused(zip_of(tmp_path / "notnpy.npz", {**members, "readme.txt": b"hi"}), "not a '<key>.npy' array")
    twice = tmp_path / "twice.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        zip_of(twice, members)
        with zipfile.ZipFile(twice, "a") as z:
            z.writestr("head.bias.npy", members["head.bias.npy"])
    refused(twice, "appears more than once")
    many = {f"meta.k{i}.npy": npy_bytes(np.zeros(1, np.uint8)) for i in range(M.FILE_LIMITS.max_members)}
    refused(zip_of(tmp_path / "many.npz", {**members, **many}), "members, more than")
    trailing = dict(members, **{"head.bias.npy": members["head.bias.npy"] + b"\0\0\0\0"})
    refused(zip_of(tmp_path / "trailing.npz", trailing), "'head.bias'", "bytes after the array data")


def test_paths_that_are_not_model_files(tmp_path):
    with pytest.raises(FixedRnnError, match=r"^path: expected a model file path, got NoneType None$"):
        M.load(None)
    refused(tmp_path, "is a directory")
    refused(tmp_path / "absent.npz", "no such model file")
    with pytest.raises(InputFileError, match=r"^/dev/zero: not a regular file"):
        M.load("/dev/zero")
    with pytest.raises(InputFileError, match="cannot be read"):
        M.load(str(tmp_path / "a\0b.npz"))


def test_meta_bounds(tmp_path):
    model = random_model(4, "rnn", "int8", False, 2, 2, 2, 3, False)
    arrays = model.to_arrays()
    too_many = {f"meta.k{i}": np.zeros(1, np.uint8) for i in range(schema.MAX_META_KEYS + 1)}
    refused(write(tmp_path, {**arrays, **too_many}, "keys.npz"), "'meta.*' keys, more than")
    with pytest.raises(InputFileError, match="must be a plain"):
        M.Model.from_arrays({**arrays, "meta.obj": np.array([{}], dtype=object)})


@pytest.mark.parametrize("label", ["a\nb", "tab\there", "nul\x00inside", "esc\x1b[31m", "del\x7f"])
def test_labels_with_control_characters_are_refused(tmp_path, label):
    arrays = random_model(4, "rnn", "int8", False, 2, 2, 2, 3, False).to_arrays()
    refused(write(tmp_path, {**arrays, "labels": np.array(["ok", label])}), "'labels' must be printable")


def test_labels_bounded(tmp_path):
    arrays = random_model(4, "rnn", "int8", False, 2, 2, 2, 3, False).to_arrays()
    refused(write(tmp_path, {**arrays, "labels": np.array(["a", "b" * (schema.MAX_LABEL_LENGTH + 1)])}, "long.npz"),
            f"at most {schema.MAX_LABEL_LENGTH} characters")
    many = np.array([f"l{i}" for i in range(schema.MAX_LABELS + 1)])
    refused(write(tmp_path, {**arrays, "labels": many}, "many.npz"), f"'labels' must hold 2 to {schema.MAX_LABELS}")


@pytest.mark.parametrize("key, value, fragment", [
    ("frontend.fft_length", 300, "fft_length: must be one of"),
    ("frontend.hop", 1000, "hop: must be in"),
    ("frontend.n_mels", 200, "n_mels: must be in"),
])
def test_a_bad_front_end_is_refused_at_load_naming_the_file(tmp_path, key, value, fragment):
    arrays = random_model(4, "rnn", "int8", False, 2, 2, 2, 3, False).to_arrays()
    refused(write(tmp_path, {**arrays, key: np.array(value, np.int32)}), "frontend: ", fragment)


def test_largest_legal_shapes_bound_every_schema_key():
    """Every key's bound is its largest legal shape: the dimensions' maxima (schema) in its dtype."""
    for spec in schema.KEYS:
        shape = [4 if s == "4" else schema.MAX_DIMS[s] for s in spec.shape]
        assert schema.max_elements(spec) == int(np.prod(shape, dtype=object)), spec.name
    assert schema.MAX_DIMS["I"] == 512 and schema.MAX_DIMS["H"] == schema.MAX_UNITS
    pot = schema.SPECS["lstm.recurrent_fc.pot"]
    assert schema.max_data_bytes(pot) == 4 * 1024 * 1024 // 2
