"""PyTorch models for tools/train.py: float cells, and their quantization-aware (fake-quant) twins.

The fake quantization rounds at exactly the points where the integer engine rounds
(docs/model-format.md), with the scales :mod:`fixedrnn.convert` will choose; every rounding is
half away from zero, with a straight-through gradient. Shapes: input ``x`` float ``[B, T, I]``
holding the dequantized int8 features ``(q − z_x) · s_x``; logits ``[B, C]``.

LSTM (TFLM 8x8→16), per gate k in i, f, g, o: ``gx = q16(W_k x + b_k)`` and ``gh = q16(U_k h)`` at
2^−12 (int16), ``z = sat16(gx + gh)``; sigmoid/tanh outputs at 2^−15; cell products and cell state
at 2^P (int16); ``h = q8(o · q15(tanh c))`` at (s_h, z_h). Weights per tensor (one scale per gate
matrix), of any weight form (:mod:`fixedrnn.weight_forms`: int8 max/127, power-of-two max/64, k-bit
max/(2**(k−1) − 1), minifloat max/(128 − 2**(6 − m))), scales rounded to 12 significant bits;
biases at s_x · s_W.

Vanilla RNN (TFLM FC, FC, ADD, TANH): ``a = q8(W x + b)``, ``r = q8(U h)``, ``p = q8(a + r)``,
``h = q8(tanh p)`` at (1/128, 0); activation scales/zero points from fixed ranges by TensorFlow's
FakeQuant rule (:func:`fixedrnn.quant.activation_params`).

Head: ``logits = q8(V h + c)`` at the calibrated logit range.
"""

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from fixedrnn import quant
from fixedrnn.convert import LstmRanges, cell_scale_power, short_scale
from fixedrnn.schema import LSTM_GATE_INPUT_SCALE, LSTM_GATE_OUTPUT_SCALE, RNN_HIDDEN_SCALE


def round_half_away(v):
    return torch.sign(v) * torch.floor(torch.abs(v) + 0.5)


def fake_quant(v, scale, zero_point=0, qmin=-128, qmax=127):
    """``(clamp(round(v / scale) + z, qmin, qmax) − z) · scale`` with a straight-through gradient
    (zero outside the clamp range)."""
    q = torch.clamp(round_half_away(v / scale) + zero_point, qmin, qmax)
    out = (q - zero_point) * scale
    inside = ((v / scale + zero_point) >= qmin - 0.5) & ((v / scale + zero_point) <= qmax + 0.5)
    return torch.where(inside, v + (out - v).detach(), out.detach())


def weight_scale(w, form):
    """The converter's per-tensor weight scale: short_scale(max|w| / top), top the largest level of
    ``form`` (a :class:`fixedrnn.weight_forms.WeightForm`: 127 int8, 64 pot, 2**(k−1) − 1 k-bit,
    128 − 2**(6 − m) minifloat)."""
    mag = max(float(w.detach().abs().max()), 1e-12)
    return float(short_scale(mag / form.top))


def pot_values(mag_units, levels=quant.POT_MAX_LEVELS):
    """Nearest power-of-two int8 magnitude (0 or 2^(7−m), m ≤ levels) of ``mag_units`` (|w|/scale),
    with the thresholds of :func:`fixedrnn.quant.quantize_pot`."""
    out = torch.zeros_like(mag_units)
    for level in range(levels, 0, -1):
        value = 2.0 ** (7 - level)
        lower = value / 2.0 if level == levels else value * 0.75
        out = torch.where(mag_units >= lower, torch.full_like(out, value), out)
    return out


def fake_quant_weight(w, form):
    """Fake-quantized weight tensor (per tensor, straight-through gradient) of weight form ``form``
    (a :class:`fixedrnn.weight_forms.WeightForm`; None: float). int8 and power-of-two: torch ports of
    the converter's rounding; k-bit and minifloat: the converter's own rule,
    :meth:`fixedrnn.weight_forms.WeightForm.quantize` of the float64 weights."""
    if form is None:
        return w
    s = weight_scale(w, form)
    if form.kind == "pot":
        q = torch.sign(w) * pot_values(torch.abs(w) / s)
    elif form.kind == "int8":
        q = torch.clamp(round_half_away(w / s), -127, 127)
    else:
        q = torch.as_tensor(form.quantize(w.detach().double().cpu().numpy(), s), dtype=w.dtype)
    return w + (q * s - w).detach()


def fake_quant_bias(b, input_scale, w_scale):
    s = float(np.float64(np.float32(input_scale)) * np.float64(w_scale))
    return b + (round_half_away(b / s) * s - b).detach()


def activation_quant(rng):
    """(scale, zero point) the converter derives from a float range (float32 scale)."""
    aq = quant.activation_params(float(rng[0]), float(rng[1]))
    return float(np.float32(aq.scale)), int(aq.zero_point)


@dataclass
class QatSettings:
    """What the fake quantization uses: ``weights`` None (float) or the
    :class:`fixedrnn.weight_forms.WeightForm` of the weights; ``x_scale`` the input scale; the
    activation ranges (set by calibration)."""

    weights: object = None
    x_scale: float = 1.0 / 32
    x_zero_point: int = 0
    hidden_range: tuple = (-1.0, 1.0)  # LSTM h
    cell_abs: float = 8.0  # LSTM |c| bound → P
    input_fc_range: tuple = (-4.0, 4.0)  # RNN a
    recurrent_fc_range: tuple = (-4.0, 4.0)  # RNN r
    add_range: tuple = (-3.0, 3.0)  # RNN p
    head_range: tuple = (-16.0, 16.0)
    active: bool = False  # fake quantization on activations


class RecurrentClassifier(nn.Module):
    """Cell (``"lstm"`` or ``"rnn"``) over T steps, then a dense head on the last hidden state.

    ``identity_mix`` g (RNN only): the recurrent matrix starts as (1 − g)·orthogonal + g·identity.
    Parameters: ``w_x`` ``[G·H, I]``, ``w_h`` ``[G·H, H]``, ``b`` ``[G·H]`` (G = 4 gates i, f, g, o
    for the LSTM, 1 for the RNN), ``head`` Linear ``[C, H]``.
    """

    def __init__(self, cell, n_in, units, n_classes, dropout=0.1, identity_mix=0.0):
        super().__init__()
        self.cell, self.units = cell, units
        gates = 4 if cell == "lstm" else 1
        self.torch_cell = (nn.LSTM if cell == "lstm" else nn.RNN)(n_in, units, batch_first=True)
        if cell == "rnn":
            nn.init.orthogonal_(self.torch_cell.weight_hh_l0)
            with torch.no_grad():  # identity-ish: (1 - g) * orthogonal + g * I
                self.torch_cell.weight_hh_l0.mul_(1.0 - identity_mix).add_(identity_mix * torch.eye(units))
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(units, n_classes)
        self.gates = gates
        self.qat = QatSettings()

    # -- parameters as the converter wants them -----------------------------------------------
    def float_params(self):
        c = self.torch_cell
        w_x = c.weight_ih_l0.detach().double().numpy()
        w_h = c.weight_hh_l0.detach().double().numpy()
        b = (c.bias_ih_l0 + c.bias_hh_l0).detach().double().numpy()
        if self.cell == "lstm":
            h = self.units
            return w_x.reshape(4, h, -1), w_h.reshape(4, h, h), b.reshape(4, h)
        return w_x, w_h, b

    def forward(self, x, trace=None):
        if self.qat.weights is None and not self.qat.active:
            out, _ = self.torch_cell(x)
            last = out[:, -1]
            if trace is not None:
                trace["h"] = out
            return self._head(self.drop(last))
        last = self._lstm_q(x, trace) if self.cell == "lstm" else self._rnn_q(x, trace)
        return self._head(self.drop(last))

    def _head(self, h):
        s = self.qat
        w = fake_quant_weight(self.head.weight, s.weights)
        b = self.head.bias
        if s.weights is not None:
            h_scale = self._hidden_quant()[0]
            b = fake_quant_bias(b, h_scale, weight_scale(self.head.weight, s.weights))
        y = h @ w.t() + b
        if s.active:
            y = fake_quant(y, *activation_quant(s.head_range))
        return y

    def _hidden_quant(self):
        if self.cell == "rnn":
            return RNN_HIDDEN_SCALE, 0
        scale, zp = activation_quant(self.qat.hidden_range)
        return float(short_scale(scale)), zp

    def _split(self):
        c = self.torch_cell
        return c.weight_ih_l0, c.weight_hh_l0, c.bias_ih_l0 + c.bias_hh_l0

    def _lstm_q(self, x, trace):
        s = self.qat
        hdim = self.units
        w_x, w_h, b = self._split()
        s_x = float(np.float32(short_scale(s.x_scale)))
        wx, wh, bb = [], [], []
        for k in range(4):
            rows = slice(k * hdim, (k + 1) * hdim)
            wx.append(fake_quant_weight(w_x[rows], s.weights))
            wh.append(fake_quant_weight(w_h[rows], s.weights))
            bk = b[rows]
            if s.weights is not None:
                bk = fake_quant_bias(bk, s_x, weight_scale(w_x[rows], s.weights))
            bb.append(bk)
        wx, wh, bb = torch.cat(wx), torch.cat(wh), torch.cat(bb)
        s_h, z_h = self._hidden_quant()
        p = cell_scale_power(s.cell_abs)
        gi, go = LSTM_GATE_INPUT_SCALE, LSTM_GATE_OUTPUT_SCALE
        q16 = dict(qmin=-32768, qmax=32767)
        batch, steps, _ = x.shape
        gx_all = fake_quant(x @ wx.t() + bb, gi, **q16)  # [B, T, 4H]: each gate FC on its own
        h = torch.zeros(batch, hdim)  # h = z_h: the float 0
        c = torch.zeros(batch, hdim)
        hs = []
        for t in range(steps):
            gh = fake_quant(h @ wh.t(), gi, **q16)
            z = torch.clamp(gx_all[:, t] + gh, -8.0, 32767 * gi)
            zi, zf, zg, zo = z.split(hdim, dim=1)
            i = fake_quant(torch.sigmoid(zi), go, **q16)
            f = fake_quant(torch.sigmoid(zf), go, **q16)
            g = fake_quant(torch.tanh(zg), go, **q16)
            o = fake_quant(torch.sigmoid(zo), go, **q16)
            c = fake_quant(f * c, 2.0**p, **q16) + fake_quant(i * g, 2.0**p, **q16)
            c = torch.clamp(c, -32768 * 2.0**p, 32767 * 2.0**p)
            h = fake_quant(o * fake_quant(torch.tanh(c), go, **q16), s_h, z_h)
            if trace is not None:
                hs.append((h, c))
        if trace is not None:
            trace["h"] = torch.stack([v[0] for v in hs], 1)
            trace["c"] = torch.stack([v[1] for v in hs], 1)
        return h

    def _rnn_q(self, x, trace):
        s = self.qat
        w_x, w_h, b = self._split()
        s_x = float(np.float32(short_scale(s.x_scale)))
        wx = fake_quant_weight(w_x, s.weights)
        wh = fake_quant_weight(w_h, s.weights)
        if s.weights is not None:
            b = fake_quant_bias(b, s_x, weight_scale(w_x, s.weights))
        qa, qr, qp = (activation_quant(r) for r in (s.input_fc_range, s.recurrent_fc_range, s.add_range))
        a_all = fake_quant(x @ wx.t() + b, *qa)
        batch, steps, _ = x.shape
        h = torch.zeros(batch, self.units)
        hs = []
        for t in range(steps):
            r = fake_quant(h @ wh.t(), *qr)
            p_ = fake_quant(a_all[:, t] + r, *qp)
            h = fake_quant(torch.tanh(p_), RNN_HIDDEN_SCALE, 0)
            if trace is not None:
                hs.append(h)
        if trace is not None:
            trace["h"] = torch.stack(hs, 1)
        return h


def qat_ranges(ranges):
    """The :class:`QatSettings` fields of calibrated ranges (:func:`fixedrnn.calibrate.activation_ranges`:
    ``RnnRanges`` or ``LstmRanges``), as a dict for ``dataclasses.replace``."""
    if isinstance(ranges, LstmRanges):
        return {"cell_abs": ranges.cell_abs, "head_range": ranges.head}
    return {"input_fc_range": ranges.input_fc, "recurrent_fc_range": ranges.recurrent_fc,
            "add_range": ranges.add, "head_range": ranges.head}
