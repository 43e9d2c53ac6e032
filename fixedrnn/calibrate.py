"""Calibration: the float activation ranges :func:`fixedrnn.convert.convert` needs, observed by running
the float PyTorch model on calibration inputs.

Input: a checked recurrent layer and head (:mod:`fixedrnn.torch_modules`: one-layer ``nn.LSTM`` or
tanh ``nn.RNN``, ``nn.Linear``) and float features ``x`` ``[N, T, I]`` (batch first, whatever the
layer's ``batch_first``), computed in the layer's dtype. Output: :class:`fixedrnn.convert.RnnRanges`
or :class:`fixedrnn.convert.LstmRanges`:

- RNN: the input FC output ``W_ih x_t + b_ih + b_hh`` and the recurrent FC output ``W_hh h_{t−1}``
  (h_{−1} = 0) at the (100 − p) and p percentiles (p = ``percentile``, widened to contain 0); their
  sum (the tanh input) likewise, clipped to ±3 (int8 TANH saturates beyond).
- LSTM: the largest p-th percentile over the time steps of |cell state| (at least 1.0), which sets the
  power-of-two cell scale; the hidden state keeps its natural range [−1, 1].
- head: the logits' minimum and maximum over the calibration set (``W h_T + b``, h_T the last
  hidden state; widened to contain 0).

A tensor of more than 10**6 values is subsampled to 10**6 (a fixed seed) before its percentiles.
``tools/train.py`` and :func:`fixedrnn.import_torch.from_torch` both calibrate with
:func:`activation_ranges`. PyTorch is imported inside the function (the ``train`` extra).
"""

import numpy as np

from fixedrnn.convert import LstmRanges, RnnRanges
from fixedrnn.errors import FixedRnnError
from fixedrnn.torch_modules import inspect_head, inspect_recurrent

#: Default percentile of the activation ranges (the head uses min and max).
PERCENTILE = 99.99
#: Largest |tanh input| worth representing: int8 TANH's output saturates beyond it.
RNN_ADD_LIMIT = 3.0
#: Values a percentile is computed over at most (a seeded random subsample beyond).
MAX_SAMPLES = 1_000_000


def _range(v, percentile):
    """(lo, hi) percentiles of tensor ``v``, widened to contain 0."""
    import torch

    flat = v.flatten()
    if flat.numel() > MAX_SAMPLES:
        flat = flat[torch.randperm(flat.numel(), generator=torch.Generator().manual_seed(0))[:MAX_SAMPLES]]
    lo = float(torch.quantile(flat, 1 - percentile / 100))
    hi = float(torch.quantile(flat, percentile / 100))
    return (min(lo, 0.0), max(hi, 0.0))


def calibration_tensor(x, cell):
    """Float features ``x`` (ndarray or tensor ``[N, T, I]``, N, T ≥ 1) as a tensor in the layer's dtype."""
    import torch

    dtype = cell.module.weight_ih_l0.dtype
    if isinstance(x, torch.Tensor):
        x = x.detach().to(dtype)
    else:
        arr = np.asarray(x)
        if arr.dtype.kind not in "fiu":
            raise FixedRnnError(f"calibration: expected float features [N, T, {cell.input_size}], got {arr.dtype}")
        x = torch.tensor(arr, dtype=dtype)
    if x.ndim != 3 or x.shape[2] != cell.input_size or x.shape[0] < 1 or x.shape[1] < 1:
        raise FixedRnnError(f"calibration: expected float features [N, T, {cell.input_size}] (batch first), "
                            f"got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise FixedRnnError("calibration: the features hold NaN or inf")
    return x


def activation_ranges(recurrent, head, x, percentile=PERCENTILE):
    """The float activation ranges of ``recurrent`` → ``head`` on features ``x`` ``[N, T, I]`` (see
    the module docstring): :class:`RnnRanges` or :class:`LstmRanges`. The modules are run in eval
    mode without gradients and left in the mode they were in."""
    import torch

    cell = inspect_recurrent(recurrent)
    inspect_head(head, cell.hidden_size)
    if not 50.0 < float(percentile) <= 100.0:
        raise FixedRnnError(f"percentile: must be in (50, 100], got {percentile!r}")
    x = calibration_tensor(x, cell)
    modes = (recurrent.training, head.training)
    recurrent.eval()
    head.eval()
    try:
        with torch.no_grad():
            ranges = _ranges(cell, head, x, percentile)
    finally:
        recurrent.train(modes[0])
        head.train(modes[1])
    return ranges


def _ranges(cell, head, x, percentile):
    import torch

    c = cell.module
    out, _ = c(x if cell.batch_first else x.transpose(0, 1))
    if not cell.batch_first:
        out = out.transpose(0, 1)
    w_ih, w_hh = c.weight_ih_l0, c.weight_hh_l0

    def with_bias(v):
        return v + c.bias_ih_l0 + c.bias_hh_l0 if cell.bias else v

    if cell.kind == "rnn":
        h_prev = torch.cat([torch.zeros_like(out[:, :1]), out[:, :-1]], 1)
        a = with_bias(x @ w_ih.t())
        r = h_prev @ w_hh.t()
        lo, hi = _range(a + r, percentile)
        ranges = dict(input_fc=_range(a, percentile), recurrent_fc=_range(r, percentile),
                      add=(max(lo, -RNN_ADD_LIMIT), min(hi, RNN_ADD_LIMIT)))
    else:
        hdim = cell.hidden_size
        h = torch.zeros(x.shape[0], hdim, dtype=x.dtype)
        cs = torch.zeros(x.shape[0], hdim, dtype=x.dtype)
        peak = 0.0
        for t in range(x.shape[1]):
            z = with_bias(x[:, t] @ w_ih.t() + h @ w_hh.t())
            zi, zf, zg, zo = z.split(hdim, 1)  # PyTorch's gate order: input, forget, cell, output
            cs = torch.sigmoid(zf) * cs + torch.sigmoid(zi) * torch.tanh(zg)
            h = torch.sigmoid(zo) * torch.tanh(cs)
            peak = max(peak, float(torch.quantile(cs.abs().flatten(), percentile / 100)))
        ranges = dict(cell_abs=max(peak, 1.0))
    head_range = _range(head(out[:, -1].to(head.weight.dtype)), 100.0)
    if cell.kind == "rnn":
        return RnnRanges(head=head_range, **ranges)
    return LstmRanges(head=head_range, **ranges)
