"""The .tflite reader against the FlatBuffers-generated schema code that ships with tflite_micro
(the oracle: every tensor, buffer, operator and option it decodes), and on malformed files:
truncations, bit flips, wrong identifiers, offsets out of range, buffers past the end of the file,
overlapping tables — always one ``InputFileError`` line naming the file, in bounded time."""

import time
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixedrnn import tflite_read
from fixedrnn.errors import InputFileError
from fixedrnn.tflite_export import tflite_bytes
from throwaway_models import random_model

pytest.importorskip("tflite_micro")
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "tflite"


def _snake(name):
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


@pytest.fixture(scope="module")
def files():
    """Flatbuffers to read: the exporter's RNN (per channel) and LSTM graphs and the
    converter-made fixtures of tests/fixtures/tflite."""
    out = {"export_rnn": tflite_bytes(random_model("rnn", units=5, frames=3, per_channel=True)),
           "export_lstm": tflite_bytes(random_model("lstm", units=5, frames=3))}
    out.update({p.name: p.read_bytes() for p in sorted(FIXTURES.glob("*.tflite"))})
    return out


def test_enum_tables_match_the_schema():
    ops = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    assert tflite_read.BUILTIN_OPERATORS == tuple(ops[k] for k in range(len(ops)))
    types = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    assert {k: v[0] for k, v in tflite_read.TENSOR_TYPES.items()} == {k: v.lower() for k, v in types.items()}
    for code, (name, fields) in tflite_read._OPTION_TABLES.items():
        assert getattr(schema.BuiltinOptions, name) == code
        obj = getattr(schema, name + "T")()
        # the generated object's fields, in schema order, are the reader's (snake case)
        assert [_snake(k) for k in vars(obj) if not k.startswith("_")][:len(fields)] == [f[0] for f in fields]
    acts = {v: k for k, v in vars(schema.ActivationFunctionType).items() if not k.startswith("_")}
    assert tflite_read.ACTIVATIONS == tuple(acts[k] for k in range(len(acts)))


def _oracle_data(m, tensor):
    buf = m.buffers[tensor.buffer]
    return None if buf.data is None or len(buf.data) == 0 else bytes(np.asarray(buf.data, np.uint8))


def test_reader_equals_generated_schema_code(files):
    for name, data in files.items():
        m = schema.ModelT.InitFromPackedBuf(data, 0)
        got = tflite_read.parse_tflite(data, name)
        assert got.version == m.version and len(got.subgraphs) == len(m.subgraphs)
        for sg, g in zip(m.subgraphs, got.subgraphs):
            assert list(g.inputs) == list(sg.inputs) and list(g.outputs) == list(sg.outputs)
            assert len(g.tensors) == len(sg.tensors)
            for t, mine in zip(sg.tensors, g.tensors):
                assert mine.name == t.name.decode()
                assert mine.shape == tuple(int(d) for d in (t.shape if t.shape is not None else []))
                assert mine.dtype == tflite_read.TENSOR_TYPES[t.type][0]
                assert mine.is_variable == bool(t.isVariable)
                raw = _oracle_data(m, t)
                assert (mine.data is None) == (raw is None), (name, mine)
                if raw is not None:
                    assert mine.data.tobytes() == raw and not mine.data.flags.writeable
                q = t.quantization
                if q is None or q.scale is None or len(q.scale) == 0:
                    assert mine.quantization is None
                else:
                    np.testing.assert_array_equal(mine.quantization.scale, np.asarray(q.scale, np.float32))
                    np.testing.assert_array_equal(mine.quantization.zero_point, np.asarray(q.zeroPoint))
                    assert mine.quantization.quantized_dimension == q.quantizedDimension
            assert len(g.operators) == len(sg.operators)
            for op, mine in zip(sg.operators, g.operators):
                code = m.operatorCodes[op.opcodeIndex]
                assert mine.op == tflite_read.BUILTIN_OPERATORS[max(code.builtinCode, code.deprecatedBuiltinCode)]
                assert list(mine.inputs) == list(op.inputs) and list(mine.outputs) == list(op.outputs)
                assert list(mine.intermediates) == list(op.intermediates if op.intermediates is not None else [])
                if op.builtinOptions is not None and op.builtinOptionsType in tflite_read._OPTION_TABLES:
                    for key, value in vars(op.builtinOptions).items():
                        if key == "quantSpec":  # a newer table the reader does not decode
                            continue
                        mine_value = mine.options[_snake(key)]
                        if _snake(key).endswith("activation_function"):
                            mine_value = tflite_read.ACTIVATIONS.index(mine_value)
                        if isinstance(value, np.ndarray) or isinstance(value, list):
                            value = tuple(int(v) for v in value)
                        assert mine_value == value, (name, mine.op, key)


def test_exported_lstm_reads_as_written():
    model = random_model("lstm", units=6, frames=4)
    g = tflite_read.parse_tflite(tflite_bytes(model)).main
    lstm, slice_, head = g.operators
    assert (lstm.op, slice_.op, head.op) == ("UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE", "FULLY_CONNECTED")
    assert lstm.options["fused_activation_function"] == "TANH" and lstm.options["cell_clip"] == 0.0
    assert len(lstm.inputs) == 24 and lstm.inputs[9] == -1
    np.testing.assert_array_equal(g.tensor(lstm.inputs[1]).data, model.lstm.input_weight[0])
    np.testing.assert_array_equal(g.tensor(head.inputs[2]).data, model.head.bias)
    assert [g.tensor(i).is_variable for i in lstm.inputs[18:20]] == [True, True]
    assert g.tensor(lstm.inputs[19]).dtype == "int16"
    assert slice_.options["shrink_axis_mask"] == 2


def _expect_refusal(data, match, path="bad.tflite"):
    start = time.perf_counter()
    with pytest.raises(InputFileError, match=match) as info:
        tflite_read.parse_tflite(data, path)
    assert time.perf_counter() - start < 5
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message


def test_refuses_short_and_foreign_files():
    _expect_refusal(b"", "too short")
    _expect_refusal(b"TFL3TFL3", None)
    _expect_refusal(b"PK\x03\x04" + bytes(100), "not a .tflite file")
    good = tflite_bytes(random_model("rnn", units=3, frames=2))
    _expect_refusal(good[:4] + b"TFL2" + good[8:], "file identifier")
    _expect_refusal(b"\xff\xff\xff\x7fTFL3" + bytes(32), "out of range")


def test_every_truncation_is_refused():
    good = tflite_bytes(random_model("lstm", units=3, frames=2))
    for n in range(0, len(good) - 1, 7):
        _expect_refusal(good[:n], None)


def _model_t(buffers=None, tensors=None):
    m = schema.ModelT()
    m.version = 3
    sg = schema.SubGraphT()
    sg.tensors = tensors or []
    sg.inputs, sg.outputs, sg.operators = [], [], []
    m.subgraphs = [sg]
    m.buffers = buffers or [schema.BufferT()]
    m.operatorCodes = []
    return m


def _pack(m):
    builder = flatbuffers.Builder(1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _int8_tensor(shape, buffer):
    t = schema.TensorT()
    t.name, t.shape, t.type, t.buffer = b"w", np.array(shape, np.int32), schema.TensorType.INT8, buffer
    return t


def test_buffer_past_the_end_of_the_file_is_refused():
    external = schema.BufferT()
    external.offset, external.size = 64, 1 << 40
    _expect_refusal(_pack(_model_t([schema.BufferT(), external], [_int8_tensor([4], 1)])),
                    "buffer 1: .* run past the end of the file")


def test_external_buffer_inside_the_file_is_read():
    payload = np.array([1, -2, 3, -4], np.int8).tobytes()
    m = _model_t([schema.BufferT(), schema.BufferT()], [_int8_tensor([4], 1)])
    m.buffers[1].offset, m.buffers[1].size = 1 << 20, 4
    size = len(_pack(m))
    m.buffers[1].offset = size + 16  # the packed size does not depend on the value
    packed = _pack(m)
    assert len(packed) == size
    got = tflite_read.parse_tflite(packed + bytes(16) + payload)
    np.testing.assert_array_equal(got.main.tensors[0].data, [1, -2, 3, -4])


def test_data_of_the_wrong_size_and_bad_indices_are_refused():
    buf = schema.BufferT()
    buf.data = np.arange(3, dtype=np.uint8)
    _expect_refusal(_pack(_model_t([schema.BufferT(), buf], [_int8_tensor([4], 1)])),
                    "tensor 0 'w': buffer holds 3 bytes, a int8 tensor of shape \\[4\\] needs 4")
    _expect_refusal(_pack(_model_t([schema.BufferT()], [_int8_tensor([4], 5)])), "buffer index 5 out of range")
    m = _model_t([schema.BufferT()], [_int8_tensor([4], 0)])
    m.subgraphs[0].inputs = [3]
    _expect_refusal(_pack(m), "input tensor index 3 out of range")


def test_per_channel_scales_must_match_their_dimension():
    t = _int8_tensor([4, 2], 0)
    t.quantization = schema.QuantizationParametersT()
    t.quantization.scale = np.ones(3, np.float32)
    t.quantization.zeroPoint = np.zeros(3, np.int64)
    _expect_refusal(_pack(_model_t(tensors=[t])), "3 per-channel scales do not match dimension 0")


def test_overlapping_tables_are_refused_in_bounded_time():
    """Ten thousand tensor offsets pointing at one tensor with a 10,000-long shape: 10**8 elements
    from an 80 KB file."""
    builder = flatbuffers.Builder(1 << 20)
    shape = builder.CreateNumpyVector(np.ones(10000, np.int32))
    builder.StartObject(2)
    builder.PrependUOffsetTRelativeSlot(0, shape, 0)
    tensor = builder.EndObject()
    builder.StartVector(4, 10000, 4)
    for _ in range(10000):
        builder.PrependUOffsetTRelative(tensor)
    tensors = builder.EndVector()
    builder.StartObject(1)
    builder.PrependUOffsetTRelativeSlot(0, tensors, 0)
    subgraph = builder.EndObject()
    builder.StartVector(4, 1, 4)
    builder.PrependUOffsetTRelative(subgraph)
    subgraphs = builder.EndVector()
    builder.StartObject(0)
    buffer = builder.EndObject()
    builder.StartVector(4, 1, 4)
    builder.PrependUOffsetTRelative(buffer)
    buffers = builder.EndVector()
    builder.StartObject(5)
    builder.PrependUOffsetTRelativeSlot(2, subgraphs, 0)
    builder.PrependUOffsetTRelativeSlot(4, buffers, 0)
    builder.Finish(builder.EndObject(), file_identifier=b"TFL3")
    _expect_refusal(bytes(builder.Output()), "far more data than it holds")


@settings(max_examples=150, derandomize=True, deadline=None)
@given(data=st.data())
def test_bit_flips_read_or_refuse(data):
    good = tflite_bytes(random_model("lstm", units=3, frames=2, seed=1))
    damaged = bytearray(good)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(good) - 1))
        damaged[pos] ^= 1 << data.draw(st.integers(0, 7))
    start = time.perf_counter()
    try:
        tflite_read.parse_tflite(bytes(damaged), "flipped.tflite")
    except InputFileError as exc:
        assert str(exc).startswith("flipped.tflite: ") and "\n" not in str(exc)
    assert time.perf_counter() - start < 5


def test_read_tflite_names_the_file(tmp_path):
    with pytest.raises(InputFileError, match="no such .tflite file"):
        tflite_read.read_tflite(tmp_path / "missing.tflite")
    with pytest.raises(InputFileError, match="is a directory"):
        tflite_read.read_tflite(tmp_path)
    path = tmp_path / "m.tflite"
    path.write_bytes(tflite_bytes(random_model("rnn", units=3, frames=2)))
    assert tflite_read.read_tflite(path).path == str(path)
