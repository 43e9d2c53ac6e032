"""Integer FULLY_CONNECTED and ADD as TFLM computes them, batched (NumPy), and the overflow checks.

Conventions: activations int8 (or int16 for LSTM gate pre-activations) with a batch axis first;
weights int8 ``[out, in]``, zero point 0; the accumulator is TFLM's ``int32_t``:
``acc = Σ_j W[o, j] · (x[j] − z)``, then ``acc += bias[o]``. Requantization is TFLite's
``MultiplyByQuantizedMultiplier`` (MBQM, double rounding) with per-tensor or per-channel
multiplier/shift, then ``+ zero point`` and saturation.

No silent overflow: C's int32 arithmetic would wrap (formally undefined) where these kernels raise
:class:`fixedrnn.errors.FixedRnnError` naming the tensor:
- the products' running sum is bounded by ``255 · max_o Σ_j |W[o, j]|``; :func:`check_product_headroom`
  refuses a weight matrix for which that bound exceeds int32 (it would need about 66,000 inputs);
- the sum plus the bias is computed exactly in int64 and refused outside int32
  (:func:`check_accumulator`) — a model that passes ``python -m fixedrnn.budget``'s overflow audit
  never gets there;
- MBQM's ``x · 2**shift`` for a positive shift is refused outside int32 (:func:`requantize`).

Three ways to form the accumulator, all equal bit for bit:
- :func:`fc_accumulate` — int64 NumPy matrix product (the reference);
- :func:`fc_accumulate_exact_float` — float64 BLAS product: every partial sum is an integer below
  2**53, so it is exact;
- :func:`fc_accumulate_pot_shift` / :func:`pot_shift_accumulate_nb` — power-of-two weights, shifts
  and adds only: ``acc += ±((x − z) << (7 − m))`` for code m ≠ 0.
"""

import numba
import numpy as np

from fixedrnn.errors import FixedRnnError
from fixedrnn.fixedpoint import multiply_by_quantized_multiplier
from fixedrnn.overflow import check_accumulator, check_requantize_input

ADD_LEFT_SHIFT = 20
BACKENDS = ("numpy", "numba", "shift")


def check_backend(backend, weights=None):
    """Raise unless ``backend`` is one of :data:`BACKENDS` and fits the model's ``weights`` kind
    (``None``: not checked)."""
    if backend not in BACKENDS:
        raise FixedRnnError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "shift" and weights not in (None, "pot"):
        raise FixedRnnError("backend 'shift' needs a power-of-two model (weights = 'pot')")


def _add_bias(acc, bias, name):
    if bias is not None:
        acc = acc + np.asarray(bias, np.int64)
    return check_accumulator(acc, name)


def fc_accumulate(x, weight, input_zero_point, bias=None, name="fully_connected"):
    """``bias + (x − z) · Wᵀ``: int8 ``x [B, in]``, int8 ``weight [out, in]`` → int64 ``[B, out]``
    (exact; raises if it leaves int32)."""
    acc = (np.asarray(x, np.int64) - int(input_zero_point)) @ np.asarray(weight, np.int64).T
    return _add_bias(acc, bias, name)


def fc_accumulate_exact_float(x, weight_t_f64, input_zero_point, bias=None, name="fully_connected"):
    """As :func:`fc_accumulate` with ``weight_t_f64 = weight.T`` as float64 (exact BLAS product)."""
    xs = np.asarray(x, np.float64) - float(input_zero_point)
    return _add_bias((xs @ weight_t_f64).astype(np.int64), bias, name)


def pot_shift_tables(weight):
    """Power-of-two int8 ``weight [out, in]`` → (left shift 7 − m as int64, sign ±1/0 as int64)."""
    w = np.asarray(weight, np.int64)
    mag = np.abs(w)
    if np.any((mag & (mag - 1)) != 0) or np.any(mag > 64):
        raise FixedRnnError("weight is not a power-of-two weight (0 or ±2**e, e in 0..6)")
    shift = np.where(mag > 0, np.log2(np.maximum(mag, 1)).astype(np.int64), 0)
    return shift, np.sign(w)


def fc_accumulate_pot_shift(x, shift, sign, input_zero_point, bias=None, name="fully_connected"):
    """Shift-only accumulation: ``Σ_j sign[o, j] · ((x[b, j] − z) << shift[o, j])`` (NumPy)."""
    xs = np.asarray(x, np.int64) - int(input_zero_point)
    terms = np.left_shift(xs[:, None, :], shift[None, :, :])
    acc = np.where(sign[None] > 0, terms, np.where(sign[None] < 0, -terms, 0)).sum(axis=-1)
    return _add_bias(acc, bias, name)


def requantize(acc, multiplier, shift, zero_point, lo, hi, name="requantization"):
    """``clamp(zero_point + MBQM(acc, multiplier, shift), lo, hi)``, int64; per-channel
    multiplier/shift broadcast along the last axis. Raises if ``acc · 2**max(shift, 0)`` leaves int32."""
    acc = np.asarray(acc, np.int64)
    check_requantize_input(acc, shift, name)
    scaled = multiply_by_quantized_multiplier(acc, multiplier, shift).astype(np.int64)
    return np.clip(scaled + int(zero_point), lo, hi)


def fully_connected(x, fc, input_zero_point, name="fully_connected"):
    """TFLM int8 FULLY_CONNECTED of ``x [B, in]`` with a :class:`fixedrnn.model.FullyConnected`."""
    acc = fc_accumulate(x, fc.weight, input_zero_point, fc.bias, name)
    return requantize(acc, fc.multiplier, fc.shift, fc.output_zero_point, -128, 127,
                      name).astype(np.int8)


def add_int8(a, a_zero_point, b, b_zero_point, add):
    """TFLM int8 ADD (left shift 20) with :class:`fixedrnn.model.AddParams` → int8.

    ``u = MBQM((v − z) · 2**20, m_in, s_in)`` per input, ``clamp(z_out + MBQM(u1 + u2, m_out,
    s_out), −128, 127)``. The model file holds every ADD shift ≤ 0, so ``|u| < 255 · 2**20`` and
    the int32 sum ``u1 + u2`` cannot overflow."""
    ua = multiply_by_quantized_multiplier((np.asarray(a, np.int64) - a_zero_point) << ADD_LEFT_SHIFT,
                                          add.input1_multiplier, add.input1_shift).astype(np.int64)
    ub = multiply_by_quantized_multiplier((np.asarray(b, np.int64) - b_zero_point) << ADD_LEFT_SHIFT,
                                          add.input2_multiplier, add.input2_shift).astype(np.int64)
    out = multiply_by_quantized_multiplier(ua + ub, add.output_multiplier,
                                           add.output_shift).astype(np.int64)
    return np.clip(out + add.output_zero_point, -128, 127).astype(np.int8)


@numba.njit(cache=True)
def pot_shift_accumulate_nb(x, zero_point, shift, sign, bias, has_bias, acc):
    """Shift-only MACs (numba): ``acc[b, o] = bias[o] + Σ_j ±((x[b, j] − z) << shift[o, j])``,
    exact in int64 (the caller checks the int32 range)."""
    batch, n_in = x.shape
    n_out = shift.shape[0]
    for b in range(batch):
        for o in range(n_out):
            total = np.int64(bias[o]) if has_bias else np.int64(0)
            for j in range(n_in):
                s = sign[o, j]
                if s != 0:
                    term = (np.int64(x[b, j]) - zero_point) << shift[o, j]
                    if s > 0:
                        total += term
                    else:
                        total -= term
            acc[b, o] = total
