"""The prepare stage (TFLM's Prepare): every op's parameters of a model, built once.

:func:`prepare_model` turns a stored :class:`fixedrnn.model.Model` into a :class:`PreparedModel`:
the input normalisation, the cell's typed parameter blocks (:class:`fixedrnn.rnn.RnnParams` or
:class:`fixedrnn.lstm.LstmParams`: weight forms, PoT shift tables, sparse models' compressed rows,
LUT and TANH tables), the head, the product-headroom checks (``FixedRnnError`` naming the tensor),
and, on first use, the silent-frame features. ``Model.prepared`` caches it: every inference call of the model uses that one object.
"""

import functools
from dataclasses import dataclass
from typing import Union

import numpy as np

from fixedrnn import dense, lstm, rnn
from fixedrnn.ops import normalise
from fixedrnn.ops.normalise import NormaliseParams
from fixedrnn.ops.requantize import frozen


@dataclass(frozen=True, eq=False)
class PreparedModel:
    """``model`` (the stored model it was built from), ``normalise``, ``cell``, ``head``."""

    model: object
    normalise: NormaliseParams
    cell: Union[rnn.RnnParams, lstm.LstmParams]
    head: dense.HeadParams

    @property
    def front_end(self):
        """The model's :class:`fixedrnn.mfcc.MfccFrontEnd` (its tables built once)."""
        return self.model.front_end

    @functools.cached_property
    def silent_mfcc(self):
        """The front-end output ``[I]`` of an all-zero frame (int16 q8.7 or int32 q8.23, read-only)."""
        from fixedrnn.engine import mfcc_frames

        zero = np.zeros((1, self.model.frontend.fft_length), np.int16)
        out = mfcc_frames(self.model, zero)[0]
        return frozen(out, out.dtype)

    @functools.cached_property
    def silent_features(self):
        """int8 ``[I]`` (read-only): the features of an all-zero frame, which left-pad a short
        utterance (a model without cepstral mean normalisation)."""
        return frozen(normalise.reference(self.normalise, self.silent_mfcc[None])[0], np.int8)


def prepare_model(model):
    """The :class:`PreparedModel` of ``model`` (use ``model.prepared``, which builds it once)."""
    pot_weights = model.weights == "pot"
    sparse_weights = model.weight_form.sparse
    z = model.input.zero_point
    if model.cell == "rnn":
        cell = rnn.prepare(model.rnn, z, pot_weights, sparse_weights)
    else:
        cell = lstm.prepare(model.lstm, z, pot_weights, sparse_weights)
    head = dense.prepare(model.head, model.hidden_zero_point, pot_weights, sparse_weights)
    return PreparedModel(model, normalise.prepare(model.input), cell, head)
