"""Test helpers: small .tflite graphs built with the schema code generated for tflite_micro, run in
TFLM (the oracle), and edits of converter-made files (an op code replaced, a tensor type changed)."""

import flatbuffers
import numpy as np

from fixedrnn.tflite_export import _Graph, _schema


def tflm_run(data, inputs):
    """TFLM's output 0 of ``.tflite`` bytes on ``inputs`` (a list of arrays, one per graph input)."""
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(bytes(data), arena_size=256 * 1024)
    interpreter.reset()
    for i, x in enumerate(inputs):
        interpreter.set_input(x, i)
    interpreter.invoke()
    return np.array(interpreter.get_output(0))


def float_tensor(graph, name, shape):
    """A float32 tensor (no quantisation) added to a :class:`fixedrnn.tflite_export._Graph`."""
    s = graph.s
    t = s.TensorT()
    t.name, t.shape, t.type, t.buffer = name, np.array(shape, np.int32), s.TensorType.FLOAT32, 0
    graph.tensors.append(t)
    return len(graph.tensors) - 1


def new_graph():
    return _Graph(_schema())


def edit(data, change):
    """``.tflite`` bytes after ``change(model)`` on the schema's object tree (``ModelT``)."""
    schema = _schema()
    model = schema.ModelT.InitFromPackedBuf(bytes(data), 0)
    change(model, schema)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
