"""A trained PyTorch model as a fixedrnn model: :func:`from_torch` and :func:`from_torch_state_dict`
(also ``fixedrnn.from_torch``, ``fixedrnn.from_torch_state_dict``; the module is not called
``from_torch`` so that the package attribute stays the function).

    import fixedrnn
    model = fixedrnn.from_torch(net.lstm, net.fc, calibration_features,
                                frontend="golden/models/lstm_int8.npz", weights="int8")
    fixedrnn.save(model, "mine.npz")

The float model: one ``nn.LSTM`` or tanh ``nn.RNN`` layer run over the T feature frames, and an
``nn.Linear`` head on the last hidden state (what :mod:`fixedrnn.torch_modules` accepts). Its input
is the normalised MFCC ``(mfcc − mean) / std`` per coefficient, ``mfcc`` the front end's output in real
units (q15: the int16 q8.7 value / 2**7; q31: the int32 q8.23 value / 2**23).

The front end (``frontend``) is either an existing fixedrnn model (a :class:`fixedrnn.model.Model`
or its file): its MFCC settings, its integer input normalisation (so the features are bit for bit the
ones that model computes), its T and, when the class count matches, its labels; or a
:class:`FeatureNormalisation`: MFCC settings and the per-coefficient mean and std the float model
was trained with, from which the integer normalisation is derived
(:func:`fixedrnn.convert.make_input_quant`: int8 features at ``x_scale`` std units per LSB).

Calibration (:func:`fixedrnn.calibrate.activation_ranges`) runs the float model on ``calibration``:
float features ``[N, T, I]`` (batch first, as the front end and normalisation produce them), or
recordings (WAV paths or int16 PCM arrays), which go through the integer front end and normalisation
(:func:`fixedrnn.engine.features`), the int8 features dequantized to ``(x − z_x) · s_x``. The
ranges, the float weights (PyTorch's gate order i, f, g, o is fixedrnn's; ``bias_ih + bias_hh``
summed in float64) and the front end go through :func:`fixedrnn.convert.convert`: int8 or
power-of-two weights, every integer derived as TFLM derives it.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fixedrnn.calibrate import PERCENTILE, activation_ranges
from fixedrnn.convert import ConvertOptions, LstmRanges, RnnRanges, convert, make_input_quant
from fixedrnn.errors import FixedRnnError
from fixedrnn.model import FrontendSpec, Model
from fixedrnn.quant import POT_MAX_LEVELS
from fixedrnn.torch_modules import describe, inspect_head, inspect_recurrent, modules_from_state_dict

#: Real value of one LSB of the front end's output, per precision (q8.7 and q8.23).
MFCC_LSB = {"q15": 2.0**-7, "q31": 2.0**-23}
#: Default int8 input scale of :class:`FeatureNormalisation`: 1/32 std per LSB (±4 std).
DEFAULT_X_SCALE = 1.0 / 32
#: Ranges of the model that only computes calibration features from recordings (its cell and head
#: are never run; the features depend on the front end, the normalisation and T alone).
_FEATURE_ONLY_RANGES = {"lstm": LstmRanges(head=(-8.0, 8.0)),
                        "rnn": RnnRanges(input_fc=(-4.0, 4.0), recurrent_fc=(-4.0, 4.0), add=(-3.0, 3.0),
                                         head=(-8.0, 8.0))}


@dataclass(frozen=True, eq=False)
class FeatureNormalisation:
    """The front end a float model was trained on, when no fixedrnn model carries it.

    ``config``: the :class:`fixedrnn.mfcc.MfccConfig` (framing defaults: ``pad_end`` False,
    ``too_short`` "pad", what the model file stores); ``precision`` "q15"|"q31"; ``mean``, ``std``:
    float ``[n_mfcc]``, the per-coefficient mean and standard deviation (std > 0) of the MFCC in real
    units (see the module docstring); ``x_scale``: the int8 feature scale in std units; ``cmn``: the
    window's cepstral mean normalisation before the normalisation, "off" or "window"
    (:mod:`fixedrnn.cepstral_mean`; mean and std are then those of the mean-removed MFCC).
    """

    config: object
    mean: object
    std: object
    precision: str = "q15"
    x_scale: float = DEFAULT_X_SCALE
    cmn: str = "off"

    def spec(self):
        """The model file's :class:`fixedrnn.model.FrontendSpec`."""
        from fixedrnn.mfcc import MfccConfig

        c = self.config
        if not isinstance(c, MfccConfig):
            raise FixedRnnError(f"frontend.config: expected an MfccConfig, got {type(c).__name__}")
        default = MfccConfig()
        if c.pad_end != default.pad_end or c.too_short != default.too_short:
            raise FixedRnnError(f"frontend.config: pad_end={c.pad_end}, too_short={c.too_short!r}: a model "
                                f"file stores the default framing only (pad_end=False, too_short='pad')")
        if self.precision not in MFCC_LSB:
            raise FixedRnnError(f"frontend.precision: must be one of {', '.join(MFCC_LSB)}, got {self.precision!r}")
        return FrontendSpec(sample_rate=c.sample_rate, fft_length=c.fft_length, hop=c.hop, n_mels=c.n_mels,
                            n_mfcc=c.n_mfcc, fmin=float(c.fmin), fmax=float(c.fmax), window=c.window,
                            precision=self.precision)

    def input_quant(self):
        """The integer normalisation (:class:`fixedrnn.model.InputQuant`) of mean, std and x_scale."""
        n = self.config.n_mfcc
        mean, std = np.asarray(self.mean, np.float64), np.asarray(self.std, np.float64)
        if mean.shape != (n,) or std.shape != (n,):
            raise FixedRnnError(f"frontend: mean and std must have shape ({n},) (n_mfcc), "
                                f"got {mean.shape} and {std.shape}")
        return make_input_quant(mean, std, self.x_scale, mfcc_lsb=MFCC_LSB[self.precision], cmn=self.cmn)


def _front_end(frontend, frames, n_in):
    """``(FrontendSpec, InputQuant, frames or None, labels or None)`` of ``frontend``."""
    from fixedrnn.model import load

    if isinstance(frontend, (str, Path)):
        frontend = load(frontend)
    if isinstance(frontend, Model):
        if frontend.n_features != n_in:
            raise FixedRnnError(f"frontend: the model's front end gives {frontend.n_features} coefficients, "
                                f"the recurrent layer's input_size is {n_in}")
        return frontend.frontend, frontend.input, frames or frontend.frames, frontend.labels
    if isinstance(frontend, FeatureNormalisation):
        spec = frontend.spec()
        if spec.n_mfcc != n_in:
            raise FixedRnnError(f"frontend: n_mfcc={spec.n_mfcc}, the recurrent layer's input_size is {n_in}")
        return spec, frontend.input_quant(), frames, None
    raise FixedRnnError(f"frontend: expected a fixedrnn Model, a model file or a FeatureNormalisation, "
                        f"got {type(frontend).__name__}")


def _labels(labels, model_labels, n_classes):
    if labels is None:
        if model_labels is not None and len(model_labels) == n_classes:
            return tuple(model_labels)
        return tuple(str(i) for i in range(n_classes))
    labels = tuple(str(v) for v in labels)
    if len(labels) != n_classes:
        raise FixedRnnError(f"labels: {len(labels)} given, the head has out_features={n_classes}")
    return labels


def _is_recordings(calibration):
    if isinstance(calibration, (str, Path)):
        return True
    if isinstance(calibration, (list, tuple)) and calibration:
        first = calibration[0]
        return isinstance(first, (str, Path)) or (isinstance(first, np.ndarray) and first.ndim == 1)
    return False


def recording_features(model, recordings):
    """float32 ``[N, T, I]``: the dequantized int8 features ``(x − z_x) · s_x`` that ``model``'s
    front end and normalisation compute of ``recordings`` (WAV paths or int16 PCM arrays)."""
    from fixedrnn.mfcc import read_wav

    if isinstance(recordings, (str, Path)):
        recordings = [recordings]
    pcms = [r if isinstance(r, np.ndarray) else read_wav(r, model.frontend.mfcc_config()) for r in recordings]
    x = model.features_batch(pcms)
    return (x.astype(np.float32) - np.float32(model.input.zero_point)) * np.float32(model.input.scale)


def from_torch(recurrent, head, calibration, frontend, weights="int8", labels=None, frames=None,
               percentile=PERCENTILE, pot_levels=POT_MAX_LEVELS, per_channel=False, meta=None):
    """The quantized :class:`fixedrnn.model.Model` of a trained PyTorch ``recurrent`` → ``head``.

    ``recurrent``: ``nn.LSTM`` or ``nn.RNN`` (tanh), one layer, one direction, no projection, any
    ``batch_first``, with or without biases; ``head``: ``nn.Linear`` (in_features = hidden_size).
    ``calibration``: float features ``[N, T, I]`` or recordings (see the module docstring).
    ``frontend``: a fixedrnn model (or its file) or a :class:`FeatureNormalisation`. ``weights``:
    "int8" or "pot" (power-of-two, ``pot_levels`` 1..7 levels). ``labels``: the class names
    (default: the front-end model's when the count matches, else "0", "1", ...). ``frames``: T
    (default: the front-end model's, else the calibration features' T). ``per_channel``: per-channel
    int8 weights (RNN and head; TFLM's int8 LSTM is per tensor). ``meta``: extra ``meta.*`` entries.
    Unsupported modules or arguments raise :class:`fixedrnn.errors.FixedRnnError` naming them.
    """
    cell = inspect_recurrent(recurrent)
    float_head = inspect_head(head, cell.hidden_size)
    if weights not in ("int8", "pot"):
        raise FixedRnnError(f"weights: must be 'int8' or 'pot', got {weights!r}")
    spec, input_quant, frames, model_labels = _front_end(frontend, frames, cell.input_size)
    labels = _labels(labels, model_labels, head.out_features)
    options = ConvertOptions(cell=cell.kind, weights=weights, per_channel=per_channel, pot_levels=pot_levels)
    params = cell.float_params()
    if _is_recordings(calibration):
        if frames is None:
            raise FixedRnnError("frames: give the model's sequence length T (calibrating from recordings)")
        feature_model = convert(params, float_head, _FEATURE_ONLY_RANGES[cell.kind], input_quant, spec,
                                frames, labels, options)
        calibration = recording_features(feature_model, calibration)
    elif frames is None:
        frames = int(np.shape(calibration)[1]) if np.ndim(calibration) == 3 else None
    if frames is None or isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < 1:
        raise FixedRnnError(f"frames: expected a sequence length T >= 1, got {frames!r}")
    ranges = activation_ranges(recurrent, head, calibration, percentile)
    provenance = {"source": "fixedrnn.from_torch", "torch_modules": describe(cell, head),
                  "calibration_sequences": int(np.shape(calibration)[0]), "calibration_percentile": float(percentile)}
    provenance.update(meta or {})
    return convert(params, float_head, ranges, input_quant, spec, int(frames), labels, options, meta=provenance)


def from_torch_state_dict(state_dict, calibration, frontend, cell=None, recurrent_prefix=None,
                          head_prefix=None, nonlinearity="tanh", **options):
    """:func:`from_torch` of a state_dict (a mapping, or a ``.pt``/``.pth``/``.npz`` file) holding one
    recurrent layer's parameters (``<recurrent_prefix>weight_ih_l0`` ...) and a head's
    (``<head_prefix>weight`` [, ``bias``]); prefixes and the cell kind are found when unambiguous
    (:func:`fixedrnn.torch_modules.modules_from_state_dict`, which refuses a missing bias of the two,
    several layers, reverse directions and projections by key name). ``options``: the keyword
    arguments of :func:`from_torch`."""
    recurrent, head = modules_from_state_dict(state_dict, cell=cell, recurrent_prefix=recurrent_prefix,
                                              head_prefix=head_prefix, nonlinearity=nonlinearity)
    return from_torch(recurrent, head, calibration, frontend, **options)
