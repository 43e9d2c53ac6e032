"""The depthwise-separable CNN of ``tools/train.py --cell dscnn`` (PyTorch, float) and its int8 graph.

``DsCnnClassifier``: the window's int8 features dequantised, ``[B, T, I]``, as a one-channel image
``[B, 1, T, I]``; a CONV_2D of ``C`` filters 10 × 4 at stride 2 × 2, then ``blocks`` depthwise 3 × 3
+ pointwise 1 × 1 pairs (C channels), each convolution followed by batch normalisation and a ReLU,
all with TFLite's SAME padding (an odd total padding puts the extra row or column at the end); the
mean over the map; dropout; a dense head to the logits. The DS-CNN of Zhang et al., "Hello Edge:
Keyword Spotting on Microcontrollers" (2017), on fixedrnn's MFCC window.

:meth:`DsCnnClassifier.graph_layers` folds each batch normalisation into its convolution (eval
statistics: ``W' = W · γ / sqrt(σ² + ε)``, ``b' = (b − μ) · γ / sqrt(σ² + ε) + β``) and returns the
:mod:`fixedrnn.conv_graph` layers, which :func:`int8_graph` calibrates and quantises.
"""

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from fixedrnn import conv_graph

FIRST_KERNEL = (10, 4)
FIRST_STRIDE = (2, 2)


def same_padding(size, kernel, stride):
    """(before, after) of TFLite's SAME padding along one axis (:mod:`fixedrnn.ops.conv`'s rule)."""
    from fixedrnn.ops.conv import SAME, output_size, padding_before

    before = padding_before(SAME, size, kernel, stride, 1)
    total = max((output_size(SAME, size, kernel, stride, 1) - 1) * stride + kernel - size, 0)
    return before, total - before


class _QatStub:
    """What tools/train.py sets on a model's ``qat`` (the CNN is quantised after training)."""

    x_scale = 1.0
    x_zero_point = 0


class DsCnnClassifier(nn.Module):
    """Module doc. ``units``: C, the channels of every layer."""

    def __init__(self, frames, n_in, units, n_classes, blocks=4, dropout=0.1):
        super().__init__()
        self.frames, self.n_in, self.units = frames, n_in, units
        self.first = nn.Conv2d(1, units, FIRST_KERNEL, stride=FIRST_STRIDE)
        self.norms = nn.ModuleList([nn.BatchNorm2d(units) for _ in range(1 + 2 * blocks)])
        self.depthwise = nn.ModuleList([nn.Conv2d(units, units, 3, groups=units) for _ in range(blocks)])
        self.pointwise = nn.ModuleList([nn.Conv2d(units, units, 1) for _ in range(blocks)])
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(units, n_classes)
        self.qat = _QatStub()
        self.torch_cell = None  # (no recurrent cell)

    @staticmethod
    def _same(a, kernel, stride):
        (t0, t1), (f0, f1) = (same_padding(a.shape[2 + i], kernel[i], stride[i]) for i in (0, 1))
        return F.pad(a, (f0, f1, t0, t1))

    def forward(self, x, trace=None):
        a = x.unsqueeze(1)
        a = F.relu(self.norms[0](self.first(self._same(a, FIRST_KERNEL, FIRST_STRIDE))))
        for i, (dw, pw) in enumerate(zip(self.depthwise, self.pointwise)):
            a = F.relu(self.norms[1 + 2 * i](dw(self._same(a, (3, 3), (1, 1)))))
            a = F.relu(self.norms[2 + 2 * i](pw(a)))
        return self.head(self.drop(a.mean(dim=(2, 3))))

    def graph_layers(self):
        """The :mod:`fixedrnn.conv_graph` layers, batch normalisation folded (module doc), NHWC
        filters; ranges unset (``(0, 0)``: :func:`fixedrnn.conv_graph.calibrated` sets them)."""
        def folded(conv, norm):
            w = conv.weight.detach().double().numpy()
            b = conv.bias.detach().double().numpy()
            g = (norm.weight.detach().double() / torch.sqrt(norm.running_var.double() + norm.eps)).numpy()
            mu, beta = norm.running_mean.detach().double().numpy(), norm.bias.detach().double().numpy()
            return w * g[:, None, None, None], (b - mu) * g + beta

        w, b = folded(self.first, self.norms[0])
        layers = [conv_graph.Conv(w.transpose(0, 2, 3, 1), b, FIRST_STRIDE, conv_graph.SAME, True, (0.0, 0.0))]
        for i, (dw, pw) in enumerate(zip(self.depthwise, self.pointwise)):
            w, b = folded(dw, self.norms[1 + 2 * i])  # [C, 1, 3, 3] → [1, 3, 3, C]
            layers.append(conv_graph.DepthwiseConv(w.transpose(1, 2, 3, 0), b, (1, 1), conv_graph.SAME, True,
                                                   (0.0, 0.0)))
            w, b = folded(pw, self.norms[2 + 2 * i])
            layers.append(conv_graph.Conv(w.transpose(0, 2, 3, 1), b, (1, 1), conv_graph.SAME, True, (0.0, 0.0)))
        layers.append(conv_graph.GlobalAveragePool())
        layers.append(conv_graph.Dense(self.head.weight.detach().double().numpy(),
                                       self.head.bias.detach().double().numpy(), (0.0, 0.0)))
        return layers


def refresh_batch_norm(model, x, batch=256):
    """Recompute ``model``'s batch normalisation statistics for its current weights (e.g. weights
    averaged over epochs): each layer's running mean and variance become the means over the
    ``batch``-sized slices of ``x`` (float32 ``[N, T, I]``) of each slice's mean and unbiased
    variance (:func:`torch.optim.swa_utils.update_bn`). Leaves the model in eval mode."""
    torch.optim.swa_utils.update_bn([x[b:b + batch] for b in range(0, len(x), batch)], model)
    model.eval()


def int8_graph(model, x_calibration, input_scale, input_zero_point):
    """The int8 graph of a trained :class:`DsCnnClassifier` (:func:`fixedrnn.conv_graph.build_graph`),
    its ranges calibrated on the float inputs ``x_calibration [B, T, I]``; with the calibrated layers."""
    layers = conv_graph.calibrated(model.graph_layers(), np.asarray(x_calibration, np.float64))
    return conv_graph.build_graph(layers, model.frames, model.n_in, input_scale, input_zero_point), layers
