"""Run an exported model in TFLite Micro's interpreter (the oracle), one utterance per invoke.

Needs the ``tflite-micro`` package. The LSTM's hidden/cell variable tensors persist across
``invoke()``, so the interpreter is reset before every sequence.
"""

import numpy as np

from fixedrnn.errors import FixedRnnError
from fixedrnn.tflite_export import tflite_bytes


class TflmRunner:
    """``TflmRunner(model, frames)(xs)``: int8 ``[B, T, I]`` → int8 logits ``[B, C]`` via TFLM."""

    def __init__(self, model, frames=None, arena_size=None):
        from tflite_micro.python.tflite_micro import runtime

        self.frames = model.frames if frames is None else int(frames)
        self.data = tflite_bytes(model, self.frames)
        size = arena_size or max(64 * 1024, 4 * len(self.data) + 64 * 1024)
        self.interpreter = runtime.Interpreter.from_bytes(self.data, arena_size=size)

    def run_one(self, x):
        x = np.asarray(x, np.int8)
        if x.shape[0] != self.frames:
            raise FixedRnnError(f"x has {x.shape[0]} steps, the exported graph {self.frames}")
        self.interpreter.reset()
        self.interpreter.set_input(x[None], 0)
        self.interpreter.invoke()
        return np.array(self.interpreter.get_output(0)).reshape(-1).astype(np.int8)

    def __call__(self, xs):
        return np.stack([self.run_one(x) for x in xs])
