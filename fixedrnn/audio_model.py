"""What every model kind does with audio, written once: int16 PCM → features → logits → label.

:class:`AudioModel` is the base of :class:`fixedrnn.model.Model` (RNN / LSTM cells) and
:class:`fixedrnn.graph_model.GraphModel` (imported graphs). A model kind supplies ``frontend``
(:class:`fixedrnn.model.FrontendSpec`), ``frames`` (T), ``n_features``, ``labels``,
``logit_quant`` (scale, zero point of the int8 logits), ``run_features(x, trace, backend)`` and
``run_features_batch(xs, backend)``; everything here is built on those.
"""

import functools

import numpy as np


class AudioModel:
    """The audio-facing methods shared by every model kind (a mixin of the model dataclasses)."""

    @functools.cached_property
    def device_bytes(self):
        """Flash + RAM bytes of the generated window firmware for this model, front end included (the
        total of ``python -m fixedrnn.budget``, :mod:`fixedrnn.layout`)."""
        from fixedrnn import layout

        arrays = self.to_arrays()
        return sum(item.nbytes for item in layout.flash_items(arrays) + layout.ram_items(arrays))

    @functools.cached_property
    def front_end(self):
        """The :class:`fixedrnn.mfcc.MfccFrontEnd` of ``frontend.*`` (its tables built once)."""
        from fixedrnn.mfcc import MfccFrontEnd

        return MfccFrontEnd(self.frontend.mfcc_config())

    def features(self, pcm, endpoint=None):
        """int16 PCM ``[n]`` → int8 input sequence ``[T, I]`` (front end, normalisation, fit to T:
        docs/CONTRACT.md steps 1–4; ``endpoint``: a :class:`fixedrnn.endpoint.EndpointConfig`, the
        clip's endpointed segment fitted instead)."""
        from fixedrnn import engine

        return engine.features(self, pcm, endpoint)

    def run(self, pcm, trace=False, backend=None, endpoint=None):
        """int16 PCM ``[n]`` → int8 logits ``[C]`` (and a trace dict if asked); ``backend`` as in
        ``run_features``, ``endpoint`` as in :meth:`features`."""
        return self.run_features(self.features(pcm, endpoint), trace=trace, backend=backend)

    def classify(self, source, backend=None, endpoint=None):
        """Classify a WAV file path or int16 PCM ``[n]``: a :class:`fixedrnn.classify.Classification`
        (``label``, ``index``, int8 ``logits``, ``score``, ``frames``, ``truncated``).

        ``backend`` None: :data:`fixedrnn.classify.DEFAULT_BACKEND` (the NumPy reference path, which
        needs no compilation for one recording); ``endpoint`` as in :meth:`features`; see
        :func:`fixedrnn.classify.classify`."""
        from fixedrnn import classify

        return classify.classify(self, source, backend=backend or classify.DEFAULT_BACKEND, endpoint=endpoint)

    def features_batch(self, pcms, endpoint=None):
        """A list of int16 PCM arrays → int8 sequences ``[B, T, I]`` (``endpoint`` as in :meth:`features`)."""
        return np.stack([self.features(p, endpoint) for p in pcms]) if len(pcms) else np.zeros(
            (0, self.frames, self.n_features), np.int8)

    def run_batch(self, pcms, backend="numba", endpoint=None):
        """A list of int16 PCM arrays → int8 logits ``[B, C]`` (``endpoint`` as in :meth:`features`)."""
        return self.run_features_batch(self.features_batch(pcms, endpoint), backend=backend)

    def predict(self, logits):
        """Label of the first maximal logit (``logits`` int8 ``[C]``)."""
        return self.labels[int(np.argmax(logits))]
