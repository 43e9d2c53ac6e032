"""fixedrnn: a bit-exact, integer-only reference of a keyword-spotting pipeline.

Fixed-point MFCC front end (bit-exact with CMSIS-DSP ``arm_mfcc_q15``/``_q31``), vanilla RNN and
LSTM cells with int8 or power-of-two weights (bit-exact with TensorFlow Lite Micro), and a dense head.

    import fixedrnn
    model = fixedrnn.load("golden/models/lstm_int8.npz")
    result = model.classify("recording.wav")     # a Classification: label, logits, score, ...
"""

__version__ = "0.1.0"

#: The public names and the module each comes from: imported on first use, so that ``import fixedrnn``
#: (which ``python -m fixedrnn`` does before its command line starts) stays cheap and interruptible.
_PUBLIC = {"Classification": "fixedrnn.classify", "FixedRnnError": "fixedrnn.errors",
           "InputFileError": "fixedrnn.errors", "Model": "fixedrnn.model", "load": "fixedrnn.model",
           "save": "fixedrnn.model", "from_torch": "fixedrnn.import_torch",
           "from_torch_state_dict": "fixedrnn.import_torch", "FeatureNormalisation": "fixedrnn.import_torch",
           "EndpointConfig": "fixedrnn.endpoint"}

__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'fixedrnn' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
