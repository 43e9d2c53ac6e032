"""Model file: save/load round trip, and one clear error per malformed variant."""

import dataclasses
import zipfile

import numpy as np
import pytest

from engine_models import random_model
from fixedrnn import model as M
from fixedrnn.errors import InputFileError


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


def test_lstm_cell_clip_is_refused(tmp_path):
    arrays = random_model(3, "lstm", "int8", False, 3, 4, 2, 5, False).to_arrays()
    for key, what in (("lstm.cell_clip", "cell clip"), ("lstm.proj_clip", "projection clip")):
        path = write(tmp_path, {**arrays, key: np.array(4.0, np.float32)}, f"{what}.npz")
        with pytest.raises(InputFileError, match=rf"'{key}': LSTM {what} is not supported"):
            M.load(path)


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
    specs = schema.keys_for(cell, weights)
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
