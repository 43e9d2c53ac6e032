"""Build a quantized :class:`fixedrnn.model.Model` from float weights and float activation ranges.

Every integer the kernels use is derived here exactly as TensorFlow Lite Micro's ``Prepare``
derives it from the float32 scales (``QuantizeMultiplier`` of a double-precision effective scale,
see docs/model-format.md), so that the model's stored integers are what TFLM computes from the
exported ``.tflite``.

Float inputs (float64 or float32 arrays):
- :class:`FloatRnn`: ``w_x [H, I]``, ``w_h [H, H]``, ``b [H]`` — h_t = tanh(w_x x_t + w_h h_{t−1} + b).
- :class:`FloatLstm`: ``w_x [4, H, I]``, ``w_h [4, H, H]``, ``b [4, H]``, gates in order i, f, g, o.
- :class:`FloatHead`: ``w [C, H]``, ``b [C]``.
- :class:`RnnRanges` / :class:`LstmRanges`: float ranges (min, max) of the quantized activations,
  as observed in training (or fake-quant ranges).

Scale choice: weights ``max|w| / top`` per tensor (or per output channel, RNN and head only), top
the weight form's largest level (:attr:`fixedrnn.weight_forms.WeightForm.top`): 127 (int8),
2**(k−1) − 1 (k-bit), 64 (power-of-two), 128 − 2**(6 − m) (minifloat); activations by
TensorFlow's FakeQuant rule (:func:`fixedrnn.quant.activation_params`). Input and weight scales are
rounded to 12 significant bits so that ``float32(s_in · s_W)`` is exact: any TFLM build, whether it
multiplies in float32 or in double, then derives the same integers. Power-of-two cell-state scale
2**P with the smallest P for which the cell range fits int16.
"""

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from fixedrnn import quant, sparse
from fixedrnn.cepstral_mean import CMN_MODES
from fixedrnn.errors import FixedRnnError
from fixedrnn.fixedpoint import quantize_multiplier
from fixedrnn.model import (AddParams, FrontendSpec, FullyConnected, InputQuant, LstmCell, Model, RnnCell,
                            TanhParams)
from fixedrnn.schema import (CELL_POWER_MAX, CELL_POWER_MIN, LSTM_GATE_INPUT_SCALE, LSTM_GATE_OUTPUT_SCALE,
                             RNN_HIDDEN_SCALE)
from fixedrnn.weight_forms import WeightForm

SCALE_BITS = 12  # significant bits kept in input and weight scales
ADD_LEFT_SHIFT = 20


@dataclass(frozen=True)
class ConvertOptions:
    """``cell`` "rnn"|"lstm"; ``weights`` "int8"|"pot"|"intk"|"minifloat" with ``bits`` (intk: k in
    2..8) or ``exponent_bits``, ``mantissa_bits`` (minifloat; :mod:`fixedrnn.weight_forms`);
    ``per_channel`` (RNN FCs and head only: TFLM's int8 LSTM takes per-tensor weights);
    ``pot_levels`` 1..7 (power-of-two levels used); ``storage`` "dense", "sparse" (compressed rows of
    the nonzero weights, :mod:`fixedrnn.sparse`) or "auto": sparse when the converted int8 weights'
    density (nonzeros / weights, every matrix together: pruned float weights and those rounding to
    0) is below ``sparse_density``."""

    cell: str = "lstm"
    weights: str = "int8"
    per_channel: bool = False
    pot_levels: int = quant.POT_MAX_LEVELS
    bits: Optional[int] = None
    exponent_bits: Optional[int] = None
    mantissa_bits: Optional[int] = None
    storage: str = "dense"
    sparse_density: float = 0.5

    @property
    def form(self):
        """The :class:`fixedrnn.weight_forms.WeightForm` asked for (``FixedRnnError`` if invalid; "auto"
        storage is checked as "sparse")."""
        if self.storage == "auto" and not 0 < self.sparse_density <= 1:
            raise FixedRnnError(f"options.sparse_density must be in (0, 1], got {self.sparse_density!r}")
        storage = "sparse" if self.storage == "auto" else self.storage
        return WeightForm(self.weights, self.bits, self.exponent_bits, self.mantissa_bits, storage)

    def storage_for(self, weights):
        """The storage of a model whose int8 weight matrices are ``weights`` ("auto" resolved)."""
        if self.storage != "auto":
            return self.storage
        return "sparse" if sparse.density(weights) < self.sparse_density else "dense"


@dataclass(frozen=True)
class FloatRnn:
    """Float vanilla RNN (float64 or float32 arrays): ``w_x [H, I]``, ``w_h [H, H]``, ``b [H]``;
    h_t = tanh(w_x x_t + w_h h_{t−1} + b)."""

    w_x: np.ndarray
    w_h: np.ndarray
    b: np.ndarray


@dataclass(frozen=True)
class FloatLstm:
    """Float LSTM (float64 or float32 arrays): ``w_x [4, H, I]``, ``w_h [4, H, H]``, ``b [4, H]``, gates in
    order i, f, g, o."""

    w_x: np.ndarray
    w_h: np.ndarray
    b: np.ndarray


@dataclass(frozen=True)
class FloatHead:
    """Float dense head (float64 or float32 arrays): ``w [C, H]``, ``b [C]``; logits = w h_T + b."""

    w: np.ndarray
    b: np.ndarray


@dataclass(frozen=True)
class RnnRanges:
    """Float (min, max) of: the input FC output, the recurrent FC output, their sum (the tanh
    input), and the head output (logits)."""

    input_fc: Sequence[float]
    recurrent_fc: Sequence[float]
    add: Sequence[float]
    head: Sequence[float]


@dataclass(frozen=True)
class LstmRanges:
    """Float (min, max) of the hidden state (default [−1, 1]) and of the head output; ``cell_abs``
    the largest |cell state| to represent (sets the power-of-two cell scale)."""

    head: Sequence[float]
    cell_abs: float = 8.0
    hidden: Sequence[float] = (-1.0, 1.0)


def short_scale(scale, bits=SCALE_BITS):
    """``scale`` (> 0, scalar or array) rounded to ``bits`` significant bits, as float32."""
    s = quant.check_scale(scale)
    mant, exp = np.frexp(s)
    return (np.round(mant * 2.0**bits) * 2.0 ** (exp - bits)).astype(np.float32)


def tflm_fc_multiplier(input_scale, weight_scale, output_scale):
    """TFLM's FC requantization (``GetQuantizedConvolutionMultipler`` per tensor,
    ``PopulateConvolutionQuantizationParams`` per channel, the LSTM's gate FCs too):
    ``QuantizeMultiplier(double(s_in) · double(s_W) / double(s_out))`` of the float32 scales, per
    element of ``weight_scale``; returns int32 arrays (multiplier, shift). Older TFLite builds
    multiplied ``s_in · s_W`` in float32: :func:`fc_multiplier` refuses scales where that matters."""
    s_in = float(np.float32(input_scale))
    s_out = float(np.float32(output_scale))
    pairs = [quantize_multiplier(s_in * float(s_w) / s_out) for s_w in np.asarray(weight_scale, np.float32).ravel()]
    return np.array([p[0] for p in pairs], np.int32), np.array([p[1] for p in pairs], np.int32)


def fc_multiplier(input_scale, weight_scale, output_scale):
    """:func:`tflm_fc_multiplier`, raising if a float32 product of ``s_in · s_W`` would give a
    different result (never for scales from :func:`short_scale`): the integers of the models this
    module makes are the same in every TFLite build."""
    s_in = float(np.float32(input_scale))
    s_out = float(np.float32(output_scale))
    for s_w in np.asarray(weight_scale, np.float32).ravel():
        single = quantize_multiplier(float(np.float32(s_in) * np.float32(s_w)) / s_out)
        if quantize_multiplier(s_in * float(s_w) / s_out) != single:
            raise FixedRnnError(
                f"scales {s_in!r} · {float(s_w)!r} differ in float32 and double: round them with short_scale")
    return tflm_fc_multiplier(input_scale, weight_scale, output_scale)


def mul_multiplier(scale1, scale2, output_scale):
    """TFLM's elementwise MUL requantization ``QuantizeMultiplier(s1 · s2 / s_out)`` → (m, s)."""
    return quantize_multiplier(float(np.float32(scale1)) * float(np.float32(scale2))
                               / float(np.float32(output_scale)))


def add_params(scale1, scale2, output_scale, output_zero_point):
    """TFLM int8 ADD integers for input scales ``scale1``, ``scale2`` (left shift 20)."""
    s1, s2, so = (float(np.float32(v)) for v in (scale1, scale2, output_scale))
    twice_max = 2.0 * max(s1, s2)
    real_out = twice_max / ((1 << ADD_LEFT_SHIFT) * so)
    if not real_out < 1.0:
        raise FixedRnnError(f"ADD output scale {so} too small for input scales {s1}, {s2}: "
                            f"need > 2·max / 2**{ADD_LEFT_SHIFT}")
    m1, e1 = quantize_multiplier(s1 / twice_max)
    m2, e2 = quantize_multiplier(s2 / twice_max)
    mo, eo = quantize_multiplier(real_out)
    return AddParams(float(np.float32(so)), int(output_zero_point), m1, e1, m2, e2, mo, eo)


def tanh_params(input_scale):
    """TFLM int8 TANH integers for input scale ``s``: ``frexp(s · 2**27)`` mantissa rounded to 31
    bits, and the radius ``floor(15 · 2**27 / 2**shift)`` beyond which the output saturates."""
    real = float(np.float32(input_scale)) * float(1 << 27)
    q, shift = math.frexp(real)
    multiplier = int(math.floor(q * 2.0**31 + 0.5))
    if multiplier >= 2**31:  # cannot happen for a float32 scale (24-bit mantissa); C would overflow
        raise FixedRnnError(f"tanh input scale {input_scale} rounds its multiplier to 2**31")
    radius = math.floor(15.0 * float(1 << 27) / float(1 << shift) if shift >= 0
                        else 15.0 * float(1 << 27) * float(1 << -shift))
    if not -31 <= shift <= 30:
        raise FixedRnnError(f"tanh input scale {input_scale} is out of the supported range")
    return TanhParams(multiplier, shift, int(min(radius, 2**31 - 1)))


def _activation(rng, name):
    if rng is None or len(rng) != 2:
        raise FixedRnnError(f"{name} must be a (min, max) pair, got {rng!r}")
    aq = quant.activation_params(rng[0], rng[1])
    return float(np.float32(aq.scale)), int(aq.zero_point)


def _floats(x, shape, name):
    arr = np.asarray(x, dtype=np.float64)
    if arr.shape != tuple(shape):
        raise FixedRnnError(f"{name} must have shape {tuple(shape)}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise FixedRnnError(f"{name} must be finite")
    return arr


def quantize_weight(w, options, per_channel):
    """Float ``[out, in]`` (or ``[..., in]`` per tensor) → (int8 levels of ``options.form``, float32
    scales [1|out])."""
    form = options.form
    axis = 0 if per_channel else None
    mag = np.max(np.abs(w), axis=tuple(range(1, w.ndim)) if per_channel else None)
    mag = np.maximum(np.atleast_1d(mag), 1e-12)
    scale = short_scale(mag / form.top)
    q = form.quantize(w, scale.astype(np.float64) if per_channel else float(scale[0]), axis, options.pot_levels)
    return q.astype(np.int8), scale


def make_fc(w, b, input_scale, output_range, options, per_channel):
    """A quantized FULLY_CONNECTED block (bias may be None)."""
    q, ws = quantize_weight(w, options, per_channel)
    s_out, z_out = _activation(output_range, "output range")
    bias = None
    if b is not None:
        bias_scale = np.float64(np.float32(input_scale)) * ws.astype(np.float64)
        bias = quant.quantize_bias(b, 1.0, bias_scale if per_channel else float(bias_scale[0]))
    m, s = fc_multiplier(input_scale, ws, s_out)
    return FullyConnected(weight=q, weight_scale=ws, bias=bias, output_scale=s_out,
                          output_zero_point=z_out, multiplier=m, shift=s)


def make_input_quant(mean, std, x_scale, x_zero_point=0, mfcc_lsb=2.0**-7, scale_bits=SCALE_BITS, cmn="off"):
    """Input normalisation: feature = (mfcc_real − mean) / std, quantized at (x_scale, zero point).

    ``mean``, ``std``: float ``[n_mfcc]`` in MFCC units (q8.7 output: ``mfcc_lsb`` 2**−7 per LSB).
    ``offset = round(mean / mfcc_lsb)``; ``multiplier, shift = QuantizeMultiplier(mfcc_lsb / (std ·
    s_x))``. ``x_scale`` is rounded to ``scale_bits`` significant bits (None: kept as its float32
    value, e.g. the input scale of an imported ``.tflite``). ``cmn``: the window's cepstral mean
    normalisation before it (:data:`fixedrnn.cepstral_mean.CMN_MODES`); ``mean`` and ``std`` are
    then those of the mean-removed MFCC.
    """
    if cmn not in CMN_MODES:
        raise FixedRnnError(f"cmn: must be one of {', '.join(CMN_MODES)}, got {cmn!r}")
    mean = np.atleast_1d(np.asarray(mean, np.float64))
    std = np.atleast_1d(np.asarray(std, np.float64))
    if mean.shape != std.shape or mean.ndim != 1 or not np.all(np.isfinite(mean)) or not np.all(std > 0):
        raise FixedRnnError("mean and std must be finite 1-d arrays of one length, std > 0")
    s_x = float(short_scale(x_scale, scale_bits) if scale_bits is not None
                else np.float32(quant.check_scale(x_scale, "x_scale")))
    offset = quant.round_half_away(mean / mfcc_lsb).astype(np.int32)
    pairs = [quantize_multiplier(mfcc_lsb / (sd * s_x)) for sd in std]
    return InputQuant(offset=offset, multiplier=np.array([p[0] for p in pairs], np.int32),
                      shift=np.array([p[1] for p in pairs], np.int32), scale=s_x,
                      zero_point=int(x_zero_point), cmn=cmn)


def convert_rnn(params: FloatRnn, ranges: RnnRanges, input_quant: InputQuant, options):
    """The quantized vanilla RNN cell for ``input_quant``'s input scale."""
    w_x = np.asarray(params.w_x, np.float64)
    if w_x.ndim != 2:
        raise FixedRnnError(f"w_x must be [H, I], got shape {w_x.shape}")
    h, i = w_x.shape
    w_x = _floats(w_x, (h, i), "w_x")
    w_h = _floats(params.w_h, (h, h), "w_h")
    b = _floats(params.b, (h,), "b")
    in_fc = make_fc(w_x, b, input_quant.scale, ranges.input_fc, options, options.per_channel)
    rec_fc = make_fc(w_h, None, RNN_HIDDEN_SCALE, ranges.recurrent_fc, options, options.per_channel)
    s_p, z_p = _activation(ranges.add, "ranges.add")
    floor = 2.0 * max(in_fc.output_scale, rec_fc.output_scale) / 2**ADD_LEFT_SHIFT
    s_p = float(np.float32(max(s_p, floor * 1.001)))
    add = add_params(in_fc.output_scale, rec_fc.output_scale, s_p, z_p)
    return RnnCell(units=h, input_fc=in_fc, recurrent_fc=rec_fc, add=add, tanh=tanh_params(s_p))


def cell_scale_power(cell_abs):
    """Smallest P in [−15, 0] with 32767 · 2**P >= ``cell_abs``."""
    if not (np.isfinite(cell_abs) and cell_abs > 0):
        raise FixedRnnError(f"cell_abs must be finite and > 0, got {cell_abs!r}")
    p = math.ceil(math.log2(cell_abs / 32767.0))
    return int(min(max(p, CELL_POWER_MIN), CELL_POWER_MAX))


def convert_lstm(params: FloatLstm, ranges: LstmRanges, input_quant: InputQuant, options):
    """The quantized TFLM 8x8→16 LSTM cell (per-tensor weights, one scale per gate matrix)."""
    w_x = np.asarray(params.w_x, np.float64)
    if w_x.ndim != 3 or w_x.shape[0] != 4:
        raise FixedRnnError(f"w_x must be [4, H, I], got shape {w_x.shape}")
    _, h, i = w_x.shape
    w_x = _floats(w_x, (4, h, i), "w_x")
    w_h = _floats(params.w_h, (4, h, h), "w_h")
    b = _floats(params.b, (4, h), "b")
    s_h, z_h = _activation(ranges.hidden, "ranges.hidden")
    s_h = float(short_scale(s_h))
    s_x = float(np.float32(input_quant.scale))
    qx, sx, qh, sh, bias = [], [], [], [], []
    for k in range(4):
        q, s = quantize_weight(w_x[k], options, per_channel=False)
        qx.append(q)
        sx.append(s[0])
        bias.append(quant.quantize_bias(b[k], 1.0, float(np.float64(s_x) * np.float64(s[0]))))
        q, s = quantize_weight(w_h[k], options, per_channel=False)
        qh.append(q)
        sh.append(s[0])
    sx = np.array(sx, np.float32)
    sh = np.array(sh, np.float32)
    mi, si = fc_multiplier(s_x, sx, LSTM_GATE_INPUT_SCALE)
    mr, sr = fc_multiplier(s_h, sh, LSTM_GATE_INPUT_SCALE)
    p = cell_scale_power(ranges.cell_abs)
    g = LSTM_GATE_OUTPUT_SCALE
    return LstmCell(
        units=h, input_weight=np.stack(qx), input_weight_scale=sx, bias=np.stack(bias),
        input_multiplier=mi, input_shift=si, recurrent_weight=np.stack(qh),
        recurrent_weight_scale=sh, recurrent_multiplier=mr, recurrent_shift=sr,
        hidden_scale=s_h, hidden_zero_point=z_h, cell_scale_power=p,
        forget_mul=mul_multiplier(g, 2.0**p, 2.0**p), input_mul=mul_multiplier(g, g, 2.0**p),
        output_mul=mul_multiplier(g, g, s_h))


def convert(cell_params, head_params: FloatHead, ranges, input_quant: InputQuant,
            frontend: FrontendSpec, frames: int, labels, options: ConvertOptions,
            meta: Optional[dict] = None):
    """The quantized :class:`Model` (validated as :func:`fixedrnn.model.load` would)."""
    if options.cell not in ("rnn", "lstm"):
        raise FixedRnnError(f"options: cell must be rnn|lstm, got {options.cell!r}")
    form = options.form
    if options.cell == "lstm" and options.per_channel:
        raise FixedRnnError("options.per_channel: TFLM's int8 LSTM supports per-tensor weights only")
    rnn = lstm = None
    if options.cell == "rnn":
        rnn = convert_rnn(cell_params, ranges, input_quant, options)
        cell = rnn
    else:
        lstm = convert_lstm(cell_params, ranges, input_quant, options)
        cell = lstm
    labels = tuple(str(v) for v in labels)
    w = _floats(head_params.w, (len(labels), cell.units), "head.w")
    b = _floats(head_params.b, (len(labels),), "head.b")
    head = make_fc(w, b, cell.hidden_scale, ranges.head, options, options.per_channel)
    weights = ([rnn.input_fc.weight, rnn.recurrent_fc.weight] if rnn else [lstm.input_weight, lstm.recurrent_weight])
    model = Model(cell=options.cell, weights=options.weights, labels=labels, frontend=frontend,
                  frames=int(frames), input=input_quant, head=head, rnn=rnn, lstm=lstm,
                  meta=dict(meta or {}), weight_bits=form.bits, exponent_bits=form.exponent_bits,
                  mantissa_bits=form.mantissa_bits, weight_storage=options.storage_for(weights + [head.weight]))
    return Model.from_arrays(model.to_arrays(), source="converted model")
