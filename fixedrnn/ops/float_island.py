"""DEQUANTIZE int8 → float32 and QUANTIZE float32 → int8, TFLM's reference kernels: the float
"island" Keras 3's unrolled LSTM leaves at step 0 (DEQUANTIZE → float SPLIT → QUANTIZE).

- DEQUANTIZE (``reference_ops::Dequantize``): ``y = float32(double(s) · (x − z))`` — the float32
  scale widened to double, the product rounded once to float32.
- QUANTIZE (``reference_ops::AffineQuantize``): ``y = clamp(round(x / float32(s)) + z, −128, 127)``
  with the division in float32 and ``round`` half away from zero (``TfLiteRound``); the float32
  quotient of an integer times a scale is never NaN here.
Each is exact IEEE arithmetic, so NumPy computes the same floats as the C kernels.
"""

import numpy as np


def dequantize_reference(scale, zero_point, x):
    """int8 ``x`` → float32 ``(x − zero_point) · scale`` (double product, rounded to float32)."""
    d = np.asarray(x, np.int64) - int(zero_point)
    return (np.float64(np.float32(scale)) * d.astype(np.float64)).astype(np.float32)


def quantize_reference(scale, zero_point, x):
    """float32 ``x`` → int8 ``clamp(round_half_away(x / scale) + zero_point, −128, 127)``."""
    q = (np.asarray(x, np.float32) / np.float32(scale)).astype(np.float64)  # exact widening
    rounded = np.sign(q) * np.floor(np.abs(q) + 0.5)  # exact in double for a float32 |q| < 2**52
    return np.clip(rounded.astype(np.int64) + int(zero_point), -128, 127).astype(np.int8)
