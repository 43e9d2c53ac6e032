"""fixedrnn: a bit-exact, integer-only reference of a keyword-spotting pipeline.

Fixed-point MFCC front end (bit-exact with CMSIS-DSP ``arm_mfcc_q15``/``_q31``), vanilla RNN and
LSTM cells with int8 or power-of-two weights (bit-exact with TensorFlow Lite Micro), and a dense head.
"""

__version__ = "0.1.0"
