"""Sparse storage (fixedrnn.sparse, ``weights.storage = "sparse"``): the compressed rows against
Python loops, the sparse accumulator against exact integer sums, a sparse model against the same
weights stored dense (every backend), the file, the converter's choice, the budget's items, the C
export's files, the refusals, and (slow) TFLM running the dense int8 equivalent."""

import numpy as np
import pytest

from fixedrnn import c_export, layout, sparse
from fixedrnn.convert import ConvertOptions
from fixedrnn.errors import FixedRnnError, InputFileError
from fixedrnn.model import Model, load, save
from fixedrnn.ops import fully_connected
from fixedrnn.weight_forms import WeightForm
from throwaway_models import random_model


def random_matrix(rng, rows, cols, density):
    w = rng.integers(-127, 128, (rows, cols)) * (rng.random((rows, cols)) < density)
    w[rows // 2] = 0  # an empty row
    return w.astype(np.int8)


def test_compressed_rows_against_python_loops():
    rng = np.random.default_rng(0)
    for rows, cols, density in ((7, 5, 0.5), (12, 256, 0.1), (1, 1, 1.0), (9, 40, 0.95)):
        w = random_matrix(rng, rows, cols, density)
        w[0, -1] = 3  # at least one nonzero, in the last column
        values, columns, starts = [], [], [0]
        for r in range(rows):
            for c in range(cols):
                if int(w[r, c]) != 0:
                    values.append(int(w[r, c]))
                    columns.append(c)
            starts.append(len(values))
        m = sparse.from_dense(w)
        assert m.values.dtype == np.int8 and m.columns.dtype == np.uint8 and m.row_start.dtype == np.uint16
        assert m.values.tolist() == values and m.columns.tolist() == columns and m.row_start.tolist() == starts
        np.testing.assert_array_equal(m.to_dense(), w)
        assert sparse.flash_bytes(w) == 2 * len(values) + 2 * (rows + 1)
    gates = random_matrix(rng, 4 * 3, 6, 0.5).reshape(4, 3, 6)  # an LSTM's [4, H, in]: 4H rows
    assert sparse.from_dense(gates).rows == 12


def test_sparse_accumulator_equals_exact_sums():
    rng = np.random.default_rng(1)
    w = random_matrix(rng, 9, 31, 0.3)
    w[1] = 127
    w[2] = -127
    x = rng.integers(-128, 128, (6, 31)).astype(np.int8)
    x[0], x[1] = -128, 127
    bias = rng.integers(-1000, 1000, 9)
    m = sparse.from_dense(w)
    for z in (-128, 0, 5, 127):
        got = fully_connected.fc_accumulate_sparse(x, m.values, m.columns, m.row_start, z, bias)
        exact = [[int(bias[r]) + sum(int(w[r, j]) * (int(x[b, j]) - z) for j in range(31)) for r in range(9)]
                 for b in range(6)]
        assert got.tolist() == exact
        np.testing.assert_array_equal(got, fully_connected.fc_accumulate(x, w, z, bias))


def dense_twin(model):
    """The same weights with dense storage (the file without ``weights.storage``)."""
    arrays = model.to_arrays()
    del arrays["weights.storage"]
    return Model.from_arrays(arrays)


def with_empty_row(model):
    arrays = model.to_arrays()
    key = f"{model.cell}.recurrent_fc.weight"
    weight = arrays[key].copy()
    weight.reshape(-1, weight.shape[-1])[-1] = 0
    return Model.from_arrays({**arrays, key: weight})


@pytest.mark.parametrize("cell, per_channel", [("rnn", True), ("rnn", False), ("lstm", False)])
def test_sparse_model_equals_dense_model_on_every_backend(cell, per_channel):
    model = with_empty_row(random_model(cell=cell, units=10, frames=6, seed=4, per_channel=per_channel,
                                        sparsity=0.7, storage="sparse"))
    assert model.weight_form.sparse and model.prepared.head.fc.sparse
    dense = dense_twin(model)
    assert not dense.weight_form.sparse and not dense.prepared.head.fc.sparse
    rng = np.random.default_rng(2)
    xs = rng.integers(-128, 128, (5, 6, model.n_features)).astype(np.int8)
    expected, trace = dense.run_features_batch(xs, backend="numpy", trace=True)
    got, sparse_trace = model.run_features_batch(xs, backend="numpy", trace=True)
    np.testing.assert_array_equal(got, expected)
    for key in trace:
        np.testing.assert_array_equal(sparse_trace[key], trace[key])
    np.testing.assert_array_equal(model.run_features_batch(xs, backend="numba"), expected)
    np.testing.assert_array_equal(model.run_features_batch(xs[:1], backend="numba"), expected[:1])


def test_file_round_trip_and_dense_files_unchanged(tmp_path):
    model = random_model(cell="rnn", units=6, frames=4, seed=1, sparsity=0.5, storage="sparse")
    loaded = load(save(model, tmp_path / "m.npz"))
    assert loaded.weight_storage == "sparse" and str(np.load(tmp_path / "m.npz")["weights.storage"]) == "sparse"
    assert repr(loaded).startswith("Model(cell='rnn', weights='int8 sparse'")
    dense = random_model(cell="rnn", units=6, frames=4, seed=1)
    assert dense.weight_storage == "dense" and "weights.storage" not in dense.to_arrays()
    arrays = dense.to_arrays()
    assert Model.from_arrays({**arrays, "weights.storage": np.array("dense")}).weight_storage == "dense"


def test_convert_auto_storage_follows_the_density():
    for sparsity, expected in ((0.0, "dense"), (0.3, "dense"), (0.6, "sparse"), (0.9, "sparse")):
        model = random_model(cell="lstm", units=8, frames=4, seed=2, sparsity=sparsity, storage="auto")
        arrays = model.to_arrays()
        density = sparse.density([v for k, v in arrays.items() if k.endswith(".weight")])
        assert (density < 0.5) == (expected == "sparse") and model.weight_storage == expected
    with pytest.raises(FixedRnnError, match="sparse_density must be in"):
        ConvertOptions(storage="auto", sparse_density=0).form


def test_budget_counts_the_compressed_rows_exactly():
    model = random_model(cell="lstm", units=16, frames=4, seed=3, sparsity=0.9, storage="sparse")
    arrays = model.to_arrays()
    items = {item.symbol: item for item in layout.flash_items(arrays) + layout.ram_items(arrays)}
    for key in ("lstm.input_fc.weight", "lstm.recurrent_fc.weight", "head.weight"):
        w = arrays[key]
        nnz, rows = int(np.count_nonzero(w)), w.size // w.shape[-1]
        prefix = "fr_" + key[:-len(".weight")].replace(".", "_")
        assert (items[prefix + "_values"].c_type, items[prefix + "_values"].nbytes) == ("int8_t", nnz)
        assert (items[prefix + "_columns"].c_type, items[prefix + "_columns"].nbytes) == ("uint8_t", nnz)
        assert (items[prefix + "_row_start"].c_type, items[prefix + "_row_start"].nbytes) == ("uint16_t",
                                                                                            2 * (rows + 1))
        assert "fr_" + key.replace(".", "_") not in items
    assert items["fr_sparse_input"].nbytes == 2 * 16
    dense = dense_twin(model)
    saved = sum(np.asarray(v).size for k, v in arrays.items() if k.endswith(".weight")) - sum(
        sparse.flash_bytes(v) for k, v in arrays.items() if k.endswith(".weight"))
    assert dense.device_bytes - model.device_bytes == saved - 2 * 16 > 0


def test_c_export_copies_the_sparse_kernels_only_for_sparse_models():
    model = random_model(cell="rnn", units=5, frames=3, seed=5, sparsity=0.5, storage="sparse")
    silence = np.zeros(model.n_features, np.int8)
    files = c_export.generate(model, silence)
    assert {"frnn_sparse.c", "frnn_sparse.h"} <= set(files)
    assert "#define FRNN_WEIGHTS_SPARSE 1" in files["frnn_model.h"]
    assert ("#define FRNN_HEAD_WEIGHTS (&(const frnn_sparse_matrix){fr_head_values, fr_head_columns, "
            "fr_head_row_start})") in files["frnn_model.h"]
    values = sparse.from_dense(model.head.weight).values
    assert "const int8_t fr_head_values[%d] = {\n    %s," % (values.size, ", ".join(map(str, values[:16]))) \
        in files["frnn_model.c"]
    dense = c_export.generate(dense_twin(model), silence)
    assert "frnn_sparse.c" not in dense and "#define FRNN_WEIGHTS_INT8 1" in dense["frnn_model.h"]


def test_refusals_name_the_tensor_in_one_line(tmp_path):
    cases = [(np.ones((3, 257), np.int8), "w: sparse storage holds at most 256 columns (uint8 indices), got 257"),
             (np.zeros((3, 4), np.int8), "w: every weight is 0; sparse storage needs at least one nonzero weight"),
             (np.ones((300, 256), np.int8), "w: 76800 nonzero weights; sparse storage holds at most 65535")]
    for weight, message in cases:
        with pytest.raises(FixedRnnError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
            sparse.from_dense(weight, "w")
    with pytest.raises(FixedRnnError, match="^weights.storage 'sparse': the sparse kernels take int8 levels"):
        WeightForm("pot", storage="sparse")
    with pytest.raises(FixedRnnError, match="^weights.storage must be one of dense, sparse, got 'csr'"):
        WeightForm("int8", storage="csr")
    arrays = random_model(cell="rnn", units=6, frames=4, seed=1, sparsity=0.5, storage="sparse").to_arrays()
    arrays["rnn.recurrent_fc.weight"] = np.zeros_like(arrays["rnn.recurrent_fc.weight"])
    path = tmp_path / "zero.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputFileError) as info:
        load(path)
    assert str(info.value) == (f"{path}: 'rnn.recurrent_fc.weight': every weight is 0; sparse storage needs at "
                               "least one nonzero weight")
    pot = random_model(cell="rnn", weights="pot", units=6, frames=4, seed=1).to_arrays()
    with pytest.raises(InputFileError, match="the sparse kernels take int8 levels"):
        Model.from_arrays({**pot, "weights.storage": np.array("sparse")})


@pytest.mark.slow  # TFLM interpreter runs
@pytest.mark.parametrize("cell, per_channel", [("rnn", True), ("lstm", False)])
def test_tflite_export_of_a_sparse_model_equals_the_engine(cell, per_channel):
    """TFLM has no sparse FULLY_CONNECTED for these: the .tflite holds the dense int8 equivalent and
    TFLM's integers equal the engine's on the compressed rows."""
    pytest.importorskip("tflite_micro")
    from fixedrnn.tflm_runner import TflmRunner

    model = random_model(cell=cell, units=7, frames=5, seed=8, per_channel=per_channel, sparsity=0.8,
                         storage="sparse")
    xs = np.random.default_rng(4).integers(-128, 128, (4, 5, model.n_features)).astype(np.int8)
    np.testing.assert_array_equal(TflmRunner(model)(xs), model.run_features_batch(xs, backend="numba"))
