"""The model file (``.npz``, schema version 1): the :class:`Model` dataclass, :func:`load`, :func:`save`.

Every key, dtype, shape and range is specified in docs/model-format.md; :func:`load` checks all of
them and raises :class:`fixedrnn.errors.InputFileError` (path + first problem) otherwise. The
dataclasses hold the arrays exactly as stored, except that power-of-two weights are also given
decoded to int8 (``weight``) next to their packed codes (``pot``).
"""

import functools
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Optional

import numpy as np

from fixedrnn import atomicfile
from fixedrnn.errors import FixedRnnError, InputFileError

FORMAT = "fixedrnn-model"
SCHEMA_VERSION = 1
CELLS = ("rnn", "lstm")
WEIGHT_KINDS = ("int8", "pot")
WINDOWS = ("hamming", "hann")
PRECISIONS = ("q15", "q31")
GATES = ("i", "f", "g", "o")  # order of the leading axis of every LSTM gate tensor
# LSTM options TFLM has and fixedrnn does not run: a file asking for one is refused by name
UNSUPPORTED_LSTM_KEYS = {"lstm.cell_clip": "cell clip", "lstm.proj_clip": "projection clip",
                         "lstm.projection.weight": "projection", "lstm.peephole.weight": "peephole",
                         "lstm.layer_norm.weight": "layer normalisation"}
MAX_UNITS = 1024
MAX_FRAMES = 10000
MULTIPLIER_MIN = 1 << 30
SHIFT_MIN, SHIFT_MAX = -31, 30
CELL_POWER_MIN, CELL_POWER_MAX = -15, 0
RNN_HIDDEN_SCALE = 1.0 / 128.0  # int8 TANH output: scale 2**-7, zero point 0
LSTM_GATE_INPUT_SCALE = 2.0**-12  # Q3.12 gate pre-activations
LSTM_GATE_OUTPUT_SCALE = 2.0**-15  # Q0.15 gate outputs


# ----------------------------------------------------------------------------------------------
# Dataclasses


@dataclass(frozen=True)
class FrontendSpec:
    """MFCC front-end settings stored in the model (``frontend.*``)."""

    sample_rate: int
    fft_length: int
    hop: int
    n_mels: int
    n_mfcc: int
    fmin: float
    fmax: float
    window: str
    precision: str

    def mfcc_config(self):
        """The :class:`fixedrnn.mfcc.MfccConfig` of these settings (fields matched by name)."""
        from fixedrnn.mfcc import MfccConfig as config_class

        names = {f.name for f in fields(config_class)}
        values = {k: getattr(self, k) for k in (f.name for f in fields(self)) if k in names}
        return config_class(**values)


@dataclass(frozen=True, eq=False)
class InputQuant:
    """MFCC → int8 input: ``x = clamp(zero_point + MBQM(mfcc − offset, multiplier, shift))``.

    ``offset``, ``multiplier``, ``shift``: int32 ``[n_mfcc]``; ``scale`` float (float32 value),
    ``zero_point`` int; the float meaning of ``x`` is ``(x − zero_point) · scale``.
    """

    offset: np.ndarray
    multiplier: np.ndarray
    shift: np.ndarray
    scale: float
    zero_point: int


@dataclass(frozen=True, eq=False)
class FullyConnected:
    """An int8 FULLY_CONNECTED: ``y = clamp(z_out + MBQM(bias + W·(x − z_in), m, s), −128, 127)``.

    ``weight`` int8 ``[out, in]`` (decoded when power-of-two), ``pot`` uint8 packed codes or None,
    ``weight_scale`` float32 ``[1]`` (per tensor) or ``[out]`` (per channel), ``bias`` int32
    ``[out]`` or None, ``multiplier``/``shift`` int32 shaped like ``weight_scale``.
    """

    weight: np.ndarray
    weight_scale: np.ndarray
    bias: Optional[np.ndarray]
    output_scale: float
    output_zero_point: int
    multiplier: np.ndarray
    shift: np.ndarray
    pot: Optional[np.ndarray] = None

    @property
    def per_channel(self):
        return self.weight_scale.shape[0] > 1

    @property
    def out_features(self):
        return self.weight.shape[0]

    @property
    def in_features(self):
        return self.weight.shape[1]


@dataclass(frozen=True)
class AddParams:
    """TFLM int8 ADD integers (left shift 20) and its output quantization."""

    output_scale: float
    output_zero_point: int
    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int


@dataclass(frozen=True)
class TanhParams:
    """TFLM int8 TANH integers: input rescale to Q4.27 and the saturation radius."""

    input_multiplier: int
    input_shift: int
    input_range_radius: int


@dataclass(frozen=True, eq=False)
class RnnCell:
    """Vanilla RNN: per step FC(x) [with bias], FC(h) [no bias], ADD, TANH; h int8 at 1/128, zp 0."""

    units: int
    input_fc: FullyConnected
    recurrent_fc: FullyConnected
    add: AddParams
    tanh: TanhParams

    hidden_scale = RNN_HIDDEN_SCALE
    hidden_zero_point = 0


@dataclass(frozen=True, eq=False)
class LstmCell:
    """TFLM 8x8→16 LSTM, gates (i, f, g, o) on the leading axis, per-tensor weights.

    ``input_weight`` int8 ``[4, H, I]``, ``recurrent_weight`` int8 ``[4, H, H]`` (decoded when
    power-of-two; ``input_pot``/``recurrent_pot`` hold the packed codes), ``bias`` int32 ``[4, H]``,
    scales float32 ``[4]``, multipliers/shifts int32 ``[4]`` (gate FCs to int16 Q3.12); hidden state
    int8 (``hidden_scale``, ``hidden_zero_point``); cell state int16 at ``2**cell_scale_power``;
    inter-gate multiplications as ``(multiplier, shift)`` int pairs.
    """

    units: int
    input_weight: np.ndarray
    input_weight_scale: np.ndarray
    bias: np.ndarray
    input_multiplier: np.ndarray
    input_shift: np.ndarray
    recurrent_weight: np.ndarray
    recurrent_weight_scale: np.ndarray
    recurrent_multiplier: np.ndarray
    recurrent_shift: np.ndarray
    hidden_scale: float
    hidden_zero_point: int
    cell_scale_power: int
    forget_mul: tuple
    input_mul: tuple
    output_mul: tuple
    input_pot: Optional[np.ndarray] = None
    recurrent_pot: Optional[np.ndarray] = None


@dataclass(frozen=True, eq=False)
class Model:
    """A quantized keyword-spotting model: front end, input quantization, cell, head, labels."""

    cell: str
    weights: str
    labels: tuple
    frontend: FrontendSpec
    frames: int
    input: InputQuant
    head: FullyConnected
    rnn: Optional[RnnCell] = None
    lstm: Optional[LstmCell] = None
    meta: dict = field(default_factory=dict)

    @property
    def n_features(self):
        return self.frontend.n_mfcc

    @property
    def units(self):
        return self.cell_params.units

    @property
    def cell_params(self):
        return self.rnn if self.cell == "rnn" else self.lstm

    @property
    def hidden_scale(self):
        return float(self.cell_params.hidden_scale)

    @property
    def hidden_zero_point(self):
        return int(self.cell_params.hidden_zero_point)

    # -- inference (implemented in fixedrnn.engine) --------------------------------------------

    @functools.cached_property
    def front_end(self):
        """The :class:`fixedrnn.mfcc.MfccFrontEnd` of ``frontend.*`` (its tables built once)."""
        from fixedrnn.mfcc import MfccFrontEnd

        return MfccFrontEnd(self.frontend.mfcc_config())

    @functools.cached_property
    def prepared(self):
        """The :class:`fixedrnn.prepare.PreparedModel` of this model: every op's parameters, built
        once (on first use) and used by every inference call."""
        from fixedrnn import prepare

        return prepare.prepare_model(self)

    def features(self, pcm):
        """int16 PCM ``[n]`` → int8 input sequence ``[T, I]`` (front end, normalisation, fit to T)."""
        from fixedrnn import engine

        return engine.features(self, pcm)

    def run_features(self, x, trace=False, backend="numpy"):
        """int8 sequence ``[T', I]`` (any T' ≥ 1) → int8 logits ``[C]`` (and a trace dict if asked)."""
        from fixedrnn import engine

        return engine.run_features(self, x, trace=trace, backend=backend)

    def run(self, pcm, trace=False, backend="numpy"):
        """int16 PCM → int8 logits ``[C]`` (and a trace dict if asked)."""
        return self.run_features(self.features(pcm), trace=trace, backend=backend)

    def run_features_batch(self, xs, backend="numba", trace=False):
        """int8 sequences ``[B, T', I]`` → int8 logits ``[B, C]`` (and a trace dict if asked:
        ``backend="numpy"`` only)."""
        from fixedrnn import engine

        return engine.run_features_batch(self, xs, backend=backend, trace=trace)

    def features_batch(self, pcms):
        """A list of int16 PCM arrays → int8 sequences ``[B, T, I]``."""
        return np.stack([self.features(p) for p in pcms]) if len(pcms) else np.zeros(
            (0, self.frames, self.n_features), np.int8)

    def run_batch(self, pcms, backend="numba"):
        """A list of int16 PCM arrays → int8 logits ``[B, C]``."""
        return self.run_features_batch(self.features_batch(pcms), backend=backend)

    def predict(self, logits):
        """Label of the first maximal logit (``logits`` int8 ``[C]``)."""
        return self.labels[int(np.argmax(logits))]

    # -- arrays ----------------------------------------------------------------------------------

    def to_arrays(self):
        """The flat ``{key: array}`` dict of the file (docs/model-format.md)."""
        out = {
            "format": np.array(FORMAT),
            "schema_version": np.array(SCHEMA_VERSION, np.int32),
            "cell": np.array(self.cell),
            "weights": np.array(self.weights),
            "labels": np.array(list(self.labels), dtype=str),
            "sequence.frames": np.array(self.frames, np.int32),
            "input.offset": np.asarray(self.input.offset, np.int32),
            "input.multiplier": np.asarray(self.input.multiplier, np.int32),
            "input.shift": np.asarray(self.input.shift, np.int32),
            "input.scale": np.array(self.input.scale, np.float32),
            "input.zero_point": np.array(self.input.zero_point, np.int32),
        }
        fe = self.frontend
        for name in ("sample_rate", "fft_length", "hop", "n_mels", "n_mfcc"):
            out[f"frontend.{name}"] = np.array(getattr(fe, name), np.int32)
        for name in ("fmin", "fmax"):
            out[f"frontend.{name}"] = np.array(getattr(fe, name), np.float64)
        out["frontend.window"] = np.array(fe.window)
        out["frontend.precision"] = np.array(fe.precision)
        pot = self.weights == "pot"
        if self.cell == "rnn":
            c = self.rnn
            out["rnn.units"] = np.array(c.units, np.int32)
            _fc_arrays(out, "rnn.input_fc", c.input_fc, pot)
            _fc_arrays(out, "rnn.recurrent_fc", c.recurrent_fc, pot)
            for f in fields(AddParams):
                dtype = np.float32 if f.name == "output_scale" else np.int32
                out[f"rnn.add.{f.name}"] = np.array(getattr(c.add, f.name), dtype)
            for f in fields(TanhParams):
                out[f"rnn.tanh.{f.name}"] = np.array(getattr(c.tanh, f.name), np.int32)
        else:
            c = self.lstm
            out["lstm.units"] = np.array(c.units, np.int32)
            for side, w, pk in (("input", c.input_weight, c.input_pot),
                                ("recurrent", c.recurrent_weight, c.recurrent_pot)):
                key = f"lstm.{side}_fc"
                if pot:
                    out[f"{key}.pot"] = np.asarray(pk if pk is not None else _pack(w), np.uint8)
                else:
                    out[f"{key}.weight"] = np.asarray(w, np.int8)
                out[f"{key}.weight_scale"] = np.asarray(getattr(c, f"{side}_weight_scale"), np.float32)
                out[f"{key}.multiplier"] = np.asarray(getattr(c, f"{side}_multiplier"), np.int32)
                out[f"{key}.shift"] = np.asarray(getattr(c, f"{side}_shift"), np.int32)
            out["lstm.input_fc.bias"] = np.asarray(c.bias, np.int32)
            out["lstm.hidden.scale"] = np.array(c.hidden_scale, np.float32)
            out["lstm.hidden.zero_point"] = np.array(c.hidden_zero_point, np.int32)
            out["lstm.cell.scale_power"] = np.array(c.cell_scale_power, np.int32)
            for name in ("forget_mul", "input_mul", "output_mul"):
                m, s = getattr(c, name)
                out[f"lstm.{name}.multiplier"] = np.array(m, np.int32)
                out[f"lstm.{name}.shift"] = np.array(s, np.int32)
        _fc_arrays(out, "head", self.head, pot)
        for key, value in self.meta.items():
            out[f"meta.{key}"] = np.asarray(value)
        return out

    @classmethod
    def from_arrays(cls, arrays, source="model"):
        """Validate a ``{key: array}`` dict and build the model; ``InputFileError(source, ...)``."""
        return _Reader(arrays, source).model()


def _pack(weight_int8):
    from fixedrnn import quant

    return quant.pot_pack(quant.pot_encode_int8(weight_int8))


def _fc_arrays(out, key, fc, pot):
    if pot:
        out[f"{key}.pot"] = np.asarray(fc.pot if fc.pot is not None else _pack(fc.weight), np.uint8)
    else:
        out[f"{key}.weight"] = np.asarray(fc.weight, np.int8)
    out[f"{key}.weight_scale"] = np.asarray(fc.weight_scale, np.float32)
    if fc.bias is not None:
        out[f"{key}.bias"] = np.asarray(fc.bias, np.int32)
    out[f"{key}.output_scale"] = np.array(fc.output_scale, np.float32)
    out[f"{key}.output_zero_point"] = np.array(fc.output_zero_point, np.int32)
    out[f"{key}.multiplier"] = np.asarray(fc.multiplier, np.int32)
    out[f"{key}.shift"] = np.asarray(fc.shift, np.int32)


# ----------------------------------------------------------------------------------------------
# Validation


class _Reader:
    """Reads and checks keys of one archive; every failure is ``InputFileError(source, ...)``."""

    def __init__(self, arrays, source):
        self.arrays = dict(arrays)
        self.source = source
        self.used = set()

    def fail(self, problem):
        raise InputFileError(self.source, problem)

    def get(self, key, dtype, shape=(), lo=None, hi=None):
        """The array at ``key``, checked for exact dtype, shape and integer/float range."""
        if key not in self.arrays:
            self.fail(f"missing key '{key}'")
        self.used.add(key)
        arr = self.arrays[key]
        if not isinstance(arr, np.ndarray):
            arr = np.asarray(arr)
        if dtype == "str":
            if arr.dtype.kind != "U":
                self.fail(f"'{key}' must be a unicode string array, got dtype {arr.dtype}")
        elif arr.dtype != np.dtype(dtype):
            self.fail(f"'{key}' must have dtype {np.dtype(dtype)}, got {arr.dtype}")
        if tuple(arr.shape) != tuple(shape):
            self.fail(f"'{key}' must have shape {tuple(shape)}, got {tuple(arr.shape)}")
        if dtype != "str" and arr.size:
            if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
                self.fail(f"'{key}' must be finite")
            if lo is not None and arr.min() < lo:
                self.fail(f"'{key}' must be >= {lo}, got {arr.min()}")
            if hi is not None and arr.max() > hi:
                self.fail(f"'{key}' must be <= {hi}, got {arr.max()}")
        return arr

    def scalar(self, key, dtype, lo=None, hi=None):
        arr = self.get(key, dtype, (), lo, hi)
        return str(arr[()]) if dtype == "str" else arr[()].item()

    def choice(self, key, options):
        value = self.scalar(key, "str")
        if value not in options:
            self.fail(f"'{key}' must be one of {', '.join(options)}, got '{value}'")
        return value

    def scale(self, key, shape=()):
        arr = self.get(key, np.float32, shape)
        if arr.size and not np.all(arr > 0):
            self.fail(f"'{key}' must be > 0")
        return arr

    def mult_shift(self, key_m, key_s, shape=(), shift_lo=SHIFT_MIN, shift_hi=SHIFT_MAX):
        """A multiplier/shift pair: multiplier in [2**30, 2**31) (or 0 with shift 0)."""
        m = self.get(key_m, np.int32, shape, 0)
        s = self.get(key_s, np.int32, shape, shift_lo, shift_hi)
        bad = (m != 0) & (m < MULTIPLIER_MIN)
        if np.any(bad):
            self.fail(f"'{key_m}' must be 0 or in [2**30, 2**31), got {int(m[bad].ravel()[0])}")
        if np.any((m == 0) & (s != 0)):
            self.fail(f"'{key_s}' must be 0 where '{key_m}' is 0")
        return m, s

    def weight(self, key, shape, pot):
        """int8 weights ``[*shape]`` from ``key.weight`` or decoded from ``key.pot``."""
        if not pot:
            if f"{key}.pot" in self.arrays:
                self.fail(f"'{key}.pot' present but weights = 'int8'")
            return self.get(f"{key}.weight", np.int8, shape, -127, 127), None
        if f"{key}.weight" in self.arrays:
            self.fail(f"'{key}.weight' present but weights = 'pot' (store '{key}.pot')")
        from fixedrnn import quant

        count = int(np.prod(shape))
        packed = self.get(f"{key}.pot", np.uint8, ((count + 1) // 2,))
        try:
            codes = quant.pot_unpack(packed, count)
        except FixedRnnError as exc:
            self.fail(f"'{key}.pot': {exc}")
        return quant.pot_decode(codes).reshape(shape), packed

    def fc(self, key, out, inp, pot, bias=True, per_channel_ok=True):
        weight, packed = self.weight(key, (out, inp), pot)
        ws = self.arrays.get(f"{key}.weight_scale")
        n = out if per_channel_ok and getattr(ws, "shape", None) == (out,) else 1
        weight_scale = self.scale(f"{key}.weight_scale", (n,))
        b = self.get(f"{key}.bias", np.int32, (out,)) if bias else None
        if not bias and f"{key}.bias" in self.arrays:
            self.fail(f"unexpected key '{key}.bias' (this block has no bias)")
        m, s = self.mult_shift(f"{key}.multiplier", f"{key}.shift", (n,))
        return FullyConnected(
            weight=weight, weight_scale=weight_scale, bias=b,
            output_scale=float(self.scale(f"{key}.output_scale")),
            output_zero_point=self.scalar(f"{key}.output_zero_point", np.int32, -128, 127),
            multiplier=m, shift=s, pot=packed)

    def model(self):
        if self.arrays.get("format") is None:
            self.fail("not a fixedrnn model (no 'format' key)")
        fmt = self.scalar("format", "str")
        if fmt != FORMAT:
            self.fail(f"not a fixedrnn model ('format' is '{fmt}', expected '{FORMAT}')")
        version = self.scalar("schema_version", np.int32)
        if version != SCHEMA_VERSION:
            self.fail(f"unsupported schema_version {version} (this fixedrnn reads {SCHEMA_VERSION})")
        cell = self.choice("cell", CELLS)
        weights = self.choice("weights", WEIGHT_KINDS)
        pot = weights == "pot"
        labels_arr = self.arrays.get("labels")
        n_labels = labels_arr.shape[0] if isinstance(labels_arr, np.ndarray) and labels_arr.ndim == 1 else -1
        if n_labels < 2:
            self.get("labels", "str", (max(n_labels, 2),))  # reports missing / wrong dtype / shape
            self.fail("'labels' must hold at least 2 labels")
        labels = tuple(str(v) for v in self.get("labels", "str", (n_labels,)))
        if any(not lab for lab in labels) or len(set(labels)) != len(labels):
            self.fail("'labels' must be distinct non-empty strings")

        ints = {n: self.scalar(f"frontend.{n}", np.int32, 1) for n in
                ("sample_rate", "fft_length", "hop", "n_mels", "n_mfcc")}
        fmin = self.scalar("frontend.fmin", np.float64, 0.0)
        fmax = self.scalar("frontend.fmax", np.float64, 0.0)
        if not fmin < fmax <= ints["sample_rate"] / 2:
            self.fail(f"need 0 <= frontend.fmin < frontend.fmax <= sample_rate/2, got {fmin}, {fmax}")
        if ints["n_mfcc"] > ints["n_mels"]:
            self.fail("'frontend.n_mfcc' must be <= 'frontend.n_mels'")
        frontend = FrontendSpec(**ints, fmin=fmin, fmax=fmax,
                                window=self.choice("frontend.window", WINDOWS),
                                precision=self.choice("frontend.precision", PRECISIONS))
        n_in = frontend.n_mfcc
        frames = self.scalar("sequence.frames", np.int32, 1, MAX_FRAMES)
        mult, shift = self.mult_shift("input.multiplier", "input.shift", (n_in,))
        inp = InputQuant(offset=self.get("input.offset", np.int32, (n_in,)), multiplier=mult,
                         shift=shift, scale=float(self.scale("input.scale")),
                         zero_point=self.scalar("input.zero_point", np.int32, -128, 127))

        rnn = lstm = None
        if cell == "rnn":
            self._forbid_prefix("lstm.")
            units = self.scalar("rnn.units", np.int32, 1, MAX_UNITS)
            add = {}
            for f in fields(AddParams):
                key = f"rnn.add.{f.name}"
                if f.name == "output_scale":
                    add[f.name] = float(self.scale(key))
                elif f.name == "output_zero_point":
                    add[f.name] = self.scalar(key, np.int32, -128, 127)
            for which in ("input1", "input2", "output"):
                m, s = self.mult_shift(f"rnn.add.{which}_multiplier", f"rnn.add.{which}_shift",
                                       (), SHIFT_MIN, 0)
                add[f"{which}_multiplier"], add[f"{which}_shift"] = int(m), int(s)
            m, s = self.mult_shift("rnn.tanh.input_multiplier", "rnn.tanh.input_shift")
            tanh = TanhParams(int(m), int(s),
                              self.scalar("rnn.tanh.input_range_radius", np.int32, 0))
            rnn = RnnCell(units=units,
                          input_fc=self.fc("rnn.input_fc", units, n_in, pot),
                          recurrent_fc=self.fc("rnn.recurrent_fc", units, units, pot, bias=False),
                          add=AddParams(**add), tanh=tanh)
        else:
            self._forbid_prefix("rnn.")
            for key in UNSUPPORTED_LSTM_KEYS:
                if key in self.arrays:
                    self.fail(f"'{key}': LSTM {UNSUPPORTED_LSTM_KEYS[key]} is not supported (the engine "
                              f"and the exported .tflite run TFLM's LSTM without it)")
            units = self.scalar("lstm.units", np.int32, 1, MAX_UNITS)
            w_in, p_in = self.weight("lstm.input_fc", (4, units, n_in), pot)
            w_rec, p_rec = self.weight("lstm.recurrent_fc", (4, units, units), pot)
            mi, si = self.mult_shift("lstm.input_fc.multiplier", "lstm.input_fc.shift", (4,))
            mr, sr = self.mult_shift("lstm.recurrent_fc.multiplier", "lstm.recurrent_fc.shift", (4,))
            muls = {}
            for name in ("forget_mul", "input_mul", "output_mul"):
                m, s = self.mult_shift(f"lstm.{name}.multiplier", f"lstm.{name}.shift")
                muls[name] = (int(m), int(s))
            lstm = LstmCell(
                units=units, input_weight=w_in,
                input_weight_scale=self.scale("lstm.input_fc.weight_scale", (4,)),
                bias=self.get("lstm.input_fc.bias", np.int32, (4, units)),
                input_multiplier=mi, input_shift=si,
                recurrent_weight=w_rec,
                recurrent_weight_scale=self.scale("lstm.recurrent_fc.weight_scale", (4,)),
                recurrent_multiplier=mr, recurrent_shift=sr,
                hidden_scale=float(self.scale("lstm.hidden.scale")),
                hidden_zero_point=self.scalar("lstm.hidden.zero_point", np.int32, -128, 127),
                cell_scale_power=self.scalar("lstm.cell.scale_power", np.int32,
                                             CELL_POWER_MIN, CELL_POWER_MAX),
                input_pot=p_in, recurrent_pot=p_rec, **muls)
        head = self.fc("head", len(labels), units, pot)

        meta = {}
        for key in self.arrays:
            if key.startswith("meta."):
                self.used.add(key)
                value = self.arrays[key]
                if not isinstance(value, np.ndarray) or value.dtype.kind == "O":
                    self.fail(f"'{key}' must be a plain (non-object) array")
                meta[key[len("meta."):]] = value
        extra = sorted(set(self.arrays) - self.used)
        if extra:
            self.fail(f"unexpected key '{extra[0]}'" + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""))
        return Model(cell=cell, weights=weights, labels=labels, frontend=frontend, frames=frames,
                     input=inp, head=head, rnn=rnn, lstm=lstm, meta=meta)

    def _forbid_prefix(self, prefix):
        for key in self.arrays:
            if key.startswith(prefix):
                self.fail(f"unexpected key '{key}' for cell '{self.arrays['cell'][()]}'")


# ----------------------------------------------------------------------------------------------
# Files


def load(path):
    """Read and fully validate a model file; ``InputFileError`` naming ``path`` on any problem."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such model file")
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile):
        raise InputFileError(path, "not a fixedrnn model (not an .npz archive)") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise InputFileError(path, "not a fixedrnn model (not an .npz archive)")
    with archive:
        arrays = {}
        for key in archive.files:
            try:
                arrays[key] = archive[key]
            except ValueError:
                raise InputFileError(path, f"'{key}' holds object (pickled) data") from None
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                raise InputFileError(path, f"'{key}' is unreadable ({exc})") from None
    return Model.from_arrays(arrays, source=path)


def save(model, path):
    """Validate ``model`` and write it to ``path`` atomically (temporary file, then rename)."""
    path = Path(path)
    arrays = model.to_arrays()
    Model.from_arrays(arrays, source=path)  # never write a file load() would refuse
    atomicfile.write_file(path, lambda fh: np.savez(fh, **arrays))
    return path
