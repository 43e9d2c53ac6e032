"""fixedrnn: a bit-exact, integer-only reference of a keyword-spotting pipeline.

Fixed-point MFCC front end (bit-exact with CMSIS-DSP ``arm_mfcc_q15``/``_q31``), vanilla RNN and
LSTM cells with int8 or power-of-two weights (bit-exact with TensorFlow Lite Micro), and a dense head.

    import fixedrnn
    model = fixedrnn.load("golden/models/lstm_int8.npz")
    result = model.classify("recording.wav")     # a Classification: label, logits, score, ...
"""

__version__ = "0.1.0"

from fixedrnn.classify import Classification  # noqa: E402
from fixedrnn.errors import FixedRnnError, InputFileError  # noqa: E402
from fixedrnn.model import Model, load, save  # noqa: E402

__all__ = ["Classification", "FixedRnnError", "InputFileError", "Model", "__version__", "load", "save"]
