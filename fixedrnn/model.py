"""The model file (``.npz``, schema version 1): the :class:`Model` dataclass, :func:`load`, :func:`save`.

Every key, dtype, shape and range is declared once in :mod:`fixedrnn.schema` (docs/model-format.md);
:func:`load` checks all of them and raises :class:`fixedrnn.errors.InputFileError` (path + first problem) otherwise. The
dataclasses hold the arrays exactly as stored, except that power-of-two weights are also given
decoded to int8 (``weight``) next to their packed codes (``pot``).
"""

import functools
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Optional

import numpy as np

from fixedrnn import atomicfile
from fixedrnn.errors import FixedRnnError, InputFileError, require_regular_file

from fixedrnn import npzfile, sparse
from fixedrnn.audio_model import AudioModel
from fixedrnn.weight_forms import FORM_KEYS, STORAGE_KEY, WeightForm
from fixedrnn.cepstral_mean import CMN_MODES
from fixedrnn.schema import (CELLS, CMN_KEY, CMSIS_BUILD_KEY, CMSIS_BUILDS, FORMAT, GRAPH_CELL, MAX_LABEL_LENGTH,
                             MAX_LABELS, MAX_META_BYTES, MAX_META_KEYS, META_PREFIX, MULTIPLIER_MIN, PRECISIONS,
                             RNN_HIDDEN_SCALE, RNN_HIDDEN_ZERO_POINT, SCHEMA_VERSION, SPECS, UNSUPPORTED_LSTM_KEYS,
                             WEIGHT_KINDS, WINDOWS, fc_blocks,
                             keys_for, max_data_bytes, max_elements, shape_dims, value_at)


# ----------------------------------------------------------------------------------------------
# Dataclasses


@dataclass(frozen=True)
class FrontendSpec:
    """MFCC front-end settings stored in the model (``frontend.*``; ``cmsis_build`` is the optional
    ``frontend.cmsis_build``: the CMSIS-DSP build, "portable" or "dsp", whose arithmetic the MFCC follows)."""

    sample_rate: int
    fft_length: int
    hop: int
    n_mels: int
    n_mfcc: int
    fmin: float
    fmax: float
    window: str
    precision: str
    cmsis_build: str = "portable"

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
    ``zero_point`` int; the float meaning of ``x`` is ``(x − zero_point) · scale``. ``cmn``: the
    cepstral mean normalisation of the window before it, "off" or "window" (:mod:`fixedrnn.cepstral_mean`).
    """

    offset: np.ndarray
    multiplier: np.ndarray
    shift: np.ndarray
    scale: float
    zero_point: int
    cmn: str = "off"

    def same_as(self, other):
        """True when ``other`` turns the same MFCC into the same int8 input (every field equal;
        ``scale`` as float32)."""
        return (self.cmn == other.cmn and self.zero_point == other.zero_point
                and np.float32(self.scale) == np.float32(other.scale)
                and all(np.array_equal(np.asarray(getattr(self, f)), np.asarray(getattr(other, f)))
                        for f in ("offset", "multiplier", "shift")))


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
    hidden_zero_point = RNN_HIDDEN_ZERO_POINT


@dataclass(frozen=True, eq=False)
class LstmCell:
    """TFLM 8x8→16 LSTM, gates (i, f, g, o) on the leading axis, per-tensor weights.

    ``input_weight`` int8 ``[4, H, I]``, ``recurrent_weight`` int8 ``[4, H, H]`` (decoded when
    power-of-two; ``input_pot``/``recurrent_pot`` hold the packed codes), ``bias`` int32 ``[4, H]``,
    scales float32 ``[4]``, multipliers/shifts int32 ``[4]`` (gate FCs to int16 Q3.12); hidden state
    int8 (``hidden_scale``, ``hidden_zero_point``); cell state int16 at ``2**cell_scale_power``;
    inter-gate multiplications as ``(multiplier, shift)`` int pairs; ``cell_clip``: the quantized
    cell clip q (the cell state is clamped to [−q, q] after each update), None for no clip.
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
    cell_clip: Optional[int] = None


@dataclass(frozen=True, eq=False)
class Model(AudioModel):
    """A quantized keyword-spotting model: front end, input quantization, cell, head, labels.

    ``meta``: free-form provenance (``meta.*`` keys of the file) — 0-d values as plain Python
    ``str``/``int``/``float``/``bool``, arrays of one or more dimensions as NumPy arrays.
    ``weight_bits`` (``weights`` "intk") and ``exponent_bits``/``mantissa_bits`` ("minifloat"):
    the parameters of the weight form (:attr:`weight_form`), None for the other kinds;
    ``weight_storage``: the firmware's storage of the weight matrices, "dense" or "sparse"
    (:mod:`fixedrnn.sparse`; the file's optional ``weights.storage``).
    """

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
    weight_bits: Optional[int] = None
    exponent_bits: Optional[int] = None
    mantissa_bits: Optional[int] = None
    weight_storage: str = "dense"

    @property
    def weight_form(self):
        """The :class:`fixedrnn.weight_forms.WeightForm` of ``weights``, its parameters and storage."""
        return WeightForm(self.weights, self.weight_bits, self.exponent_bits, self.mantissa_bits,
                          self.weight_storage)

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
    def logit_quant(self):
        """(scale float, zero point int) of the int8 logits: logit value ``(l − z) · s``."""
        return float(np.float32(self.head.output_scale)), int(self.head.output_zero_point)

    @property
    def hidden_scale(self):
        return float(self.cell_params.hidden_scale)

    @property
    def hidden_zero_point(self):
        return int(self.cell_params.hidden_zero_point)

    # -- inference (implemented in fixedrnn.engine) --------------------------------------------

    @functools.cached_property
    def prepared(self):
        """The :class:`fixedrnn.prepare.PreparedModel` of this model: every op's parameters, built
        once (on first use) and used by every inference call."""
        from fixedrnn import prepare

        return prepare.prepare_model(self)

    def run_features(self, x, trace=False, backend=None):
        """int8 sequence ``[T', I]`` (any T' ≥ 1) → int8 logits ``[C]`` (and a trace dict if asked).

        ``backend`` None: ``"numba"``, or ``"numpy"`` with ``trace`` (the one path that records a
        trace); every backend gives the same integers."""
        from fixedrnn import engine

        if backend is None:
            backend = "numpy" if trace else "numba"
        return engine.run_features(self, x, trace=trace, backend=backend)

    def run_features_batch(self, xs, backend="numba", trace=False):
        """int8 sequences ``[B, T', I]`` → int8 logits ``[B, C]`` (and a trace dict if asked:
        ``backend="numpy"`` only)."""
        from fixedrnn import engine

        return engine.run_features_batch(self, xs, backend=backend, trace=trace)

    def __repr__(self):
        labels = list(self.labels) if len(self.labels) <= 12 else [*self.labels[:10], f"... {len(self.labels)} in all"]
        return (f"Model(cell={self.cell!r}, weights={self.weight_form.label!r}, units={self.units}, "
                f"labels={labels}, bytes={self.device_bytes})")

    # -- arrays ----------------------------------------------------------------------------------

    def to_arrays(self):
        """The flat ``{key: array}`` dict of the file (the keys of :mod:`fixedrnn.schema`, in order)."""
        out = {}
        for spec in keys_for(self.cell, self.weights, with_optional=True):
            value = spec.const if spec.attr is None else value_at(self, spec.attr)
            if spec.default is not None and value == spec.default:
                continue  # an optional key at its default is not written
            if value is None and spec.packs is not None:
                value = _pack(value_at(self, spec.packs))
            if value is None:
                continue  # an optional key left out, or a block without that key: load() names what is missing
            if spec.dtype == "str":
                out[spec.name] = np.array(list(value), dtype=str) if spec.shape else np.array(value)
            else:
                out[spec.name] = np.asarray(value, spec.dtype)
        for key, value in self.meta.items():
            out[f"{META_PREFIX}{key}"] = np.asarray(value)
        return out

    @classmethod
    def from_arrays(cls, arrays, source="model"):
        """Validate a ``{key: array}`` dict and build the model; ``InputFileError(source, ...)``."""
        return _Reader(_InMemory(arrays), source).model()


def _pack(weight_int8):
    from fixedrnn import quant

    return quant.pot_pack(quant.pot_encode_int8(weight_int8))


# ----------------------------------------------------------------------------------------------
# Validation


class _Reader:
    """Reads and checks keys of one archive against :mod:`fixedrnn.schema`; every failure is
    ``InputFileError(source, ...)``."""

    def __init__(self, arrays, source):
        self.arrays = arrays  # an npzfile.NpzArchive or an _InMemory
        self.source = source
        self.used = set()
        self.dims = {}  # shape symbols, filled as the dimensions are read

    def fail(self, problem):
        raise InputFileError(self.source, problem)

    def get(self, key, dims=None):
        """The array at ``key``, checked for the schema's exact dtype and shape (from its header,
        before its data is read), then for its range."""
        spec = SPECS[key]
        shape = spec.resolve(self.dims if dims is None else dims)
        if key not in self.arrays:
            self.fail(f"missing key '{key}'")
        self.used.add(key)
        header = self.arrays.header(key)
        if spec.dtype == "str":
            if header.dtype.kind != "U":
                self.fail(f"'{key}' must be a unicode string array, got dtype {header.dtype}")
            if header.dtype.itemsize > 4 * MAX_LABEL_LENGTH:
                self.fail(f"'{key}' must hold strings of at most {MAX_LABEL_LENGTH} characters, got "
                          f"dtype {header.dtype}")
        elif header.dtype != np.dtype(spec.dtype):
            self.fail(f"'{key}' must have dtype {np.dtype(spec.dtype)}, got {header.dtype}")
        if tuple(header.shape) != shape:
            self.fail(f"'{key}' must have shape {shape}, got {tuple(header.shape)}")
        arr = self.arrays.read(key)
        if spec.dtype != "str" and arr.size:
            if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
                self.fail(f"'{key}' must be finite")
            if spec.lo is not None and arr.min() < spec.lo:
                self.fail(f"'{key}' must be >= {spec.lo}, got {arr.min()}")
            if spec.hi is not None and arr.max() > spec.hi:
                self.fail(f"'{key}' must be <= {spec.hi}, got {arr.max()}")
            if spec.positive and not np.all(arr > 0):
                self.fail(f"'{key}' must be > 0")
        return arr

    def scalar(self, key):
        arr = self.get(key)
        return str(arr[()]) if SPECS[key].dtype == "str" else arr[()].item()

    def choice(self, key, options):
        value = self.scalar(key)
        if value not in options:
            self.fail(f"'{key}' must be one of {', '.join(options)}, got '{value}'")
        return value

    def mult_shift(self, prefix, dims=None):
        """The ``<prefix>multiplier`` / ``<prefix>shift`` pair: multiplier in [2**30, 2**31) (or 0
        with shift 0)."""
        key_m, key_s = f"{prefix}multiplier", f"{prefix}shift"
        m, s = self.get(key_m, dims), self.get(key_s, dims)
        bad = (m != 0) & (m < MULTIPLIER_MIN)
        if np.any(bad):
            self.fail(f"'{key_m}' must be 0 or in [2**30, 2**31), got {int(m[bad].ravel()[0])}")
        if np.any((m == 0) & (s != 0)):
            self.fail(f"'{key_s}' must be 0 where '{key_m}' is 0")
        return m, s

    def scalar_pair(self, prefix):
        m, s = self.mult_shift(prefix)
        return int(m), int(s)

    def weight(self, key, dims, form):
        """int8 weights from ``key.weight`` (checked to be levels of ``form``) or decoded from
        ``key.pot``, and the packed codes."""
        if form.kind != "pot":
            if f"{key}.pot" in self.arrays:
                self.fail(f"'{key}.pot' present but weights = '{form.kind}'")
            weight = self.get(f"{key}.weight", dims)
            try:
                form.check_levels(weight, f"'{key}.weight'")
            except FixedRnnError as exc:
                self.fail(str(exc))
            return weight, None
        if f"{key}.weight" in self.arrays:
            self.fail(f"'{key}.weight' present but weights = 'pot' (store '{key}.pot')")
        from fixedrnn import quant

        shape = SPECS[f"{key}.weight"].resolve(dims)
        packed = self.get(f"{key}.pot", dims)
        try:
            codes = quant.pot_unpack(packed, int(np.prod(shape)))
        except FixedRnnError as exc:
            self.fail(f"'{key}.pot': {exc}")
        return quant.pot_decode(codes).reshape(shape), packed

    def block(self, block, form):
        """The fields of the :class:`fixedrnn.schema.FcBlock` ``block`` as the keyword arguments of
        its dataclass (:class:`FullyConnected`, or the ``input_*``/``recurrent_*`` fields of
        :class:`LstmCell`)."""
        key = block.name
        n_out = SPECS[f"{key}.weight"].resolve(dict(self.dims, S=1))[0]
        ws_key = f"{key}.weight_scale"
        per_channel = block.per_channel and ws_key in self.arrays and self.arrays.header(ws_key).shape == (n_out,)
        scales = n_out if per_channel else 1
        dims = shape_dims(self.dims, block, scales)
        values = {}
        values["weight"], values["pot"] = self.weight(key, dims, form)
        values["weight_scale"] = self.get(f"{key}.weight_scale", dims)
        if block.has_bias:
            values["bias"] = self.get(f"{key}.bias", dims)
        elif f"{key}.bias" in self.arrays:
            self.fail(f"unexpected key '{key}.bias' (this block has no bias)")
        values["multiplier"], values["shift"] = self.mult_shift(f"{key}.", dims)
        if "output_scale" in block.attrs:
            values["output_scale"] = float(self.get(f"{key}.output_scale"))
            values["output_zero_point"] = self.scalar(f"{key}.output_zero_point")
        return {block.attrs[name][-1]: value for name, value in values.items()}

    def common(self):
        """The keys every model has: ``(labels, FrontendSpec, frames, InputQuant)``."""
        labels_shape = self.arrays.header("labels").shape if "labels" in self.arrays else ()
        n_labels = labels_shape[0] if len(labels_shape) == 1 else -1
        if n_labels < 2:
            self.get("labels", {"C": 2})  # reports missing / wrong dtype / shape
        if not 2 <= n_labels <= MAX_LABELS:
            self.fail(f"'labels' must hold 2 to {MAX_LABELS} labels, got {n_labels}")
        self.dims["C"] = n_labels
        labels = tuple(str(v) for v in self.get("labels"))
        if any(not lab for lab in labels) or len(set(labels)) != len(labels):
            self.fail("'labels' must be distinct non-empty strings")
        unprintable = next((lab for lab in labels if not lab.isprintable()), None)
        if unprintable is not None:
            self.fail(f"'labels' must be printable (no newline or other control character), got {unprintable!r}")

        ints = {n: self.scalar(f"frontend.{n}") for n in ("sample_rate", "fft_length", "hop", "n_mels", "n_mfcc")}
        fmin = self.scalar("frontend.fmin")
        fmax = self.scalar("frontend.fmax")
        if not fmin < fmax <= ints["sample_rate"] / 2:
            self.fail(f"need 0 <= frontend.fmin < frontend.fmax <= sample_rate/2, got {fmin}, {fmax}")
        if ints["n_mfcc"] > ints["n_mels"]:
            self.fail("'frontend.n_mfcc' must be <= 'frontend.n_mels'")
        frontend = FrontendSpec(**ints, fmin=fmin, fmax=fmax,
                                window=self.choice("frontend.window", WINDOWS),
                                precision=self.choice("frontend.precision", PRECISIONS),
                                cmsis_build=self.choice(CMSIS_BUILD_KEY, CMSIS_BUILDS) if CMSIS_BUILD_KEY in self.arrays
                                else SPECS[CMSIS_BUILD_KEY].default)
        try:
            frontend.mfcc_config()  # every front-end rule (FFT length, hop, mel filters), checked once there
        except FixedRnnError as exc:
            self.fail(f"frontend: {exc}")
        self.dims["I"] = frontend.n_mfcc
        frames = self.scalar("sequence.frames")
        mult, shift = self.mult_shift("input.")
        inp = InputQuant(offset=self.get("input.offset"), multiplier=mult, shift=shift,
                         scale=float(self.get("input.scale")), zero_point=self.scalar("input.zero_point"),
                         cmn=self.choice(CMN_KEY, CMN_MODES) if CMN_KEY in self.arrays else SPECS[CMN_KEY].default)
        return labels, frontend, frames, inp

    def meta(self):
        """The ``meta.*`` keys as a dict (0-d values as plain Python values)."""
        meta, meta_bytes = {}, 0
        for key in self.arrays:
            if key.startswith(META_PREFIX):
                self.used.add(key)
                if self.arrays.header(key).dtype.kind == "O":
                    self.fail(f"'{key}' must be a plain (non-object) array")
                value = self.arrays.read(key)
                meta_bytes += value.nbytes
                meta[key[len(META_PREFIX):]] = value.item() if value.ndim == 0 else value
        if len(meta) > MAX_META_KEYS:
            self.fail(f"{len(meta)} 'meta.*' keys, more than {MAX_META_KEYS}")
        if meta_bytes > MAX_META_BYTES:
            self.fail(f"'meta.*' keys hold {meta_bytes} bytes, more than {MAX_META_BYTES}")
        return meta

    def no_extra_keys(self):
        """Fail on a key of the file that no reader used."""
        extra = sorted(set(self.arrays) - self.used)
        if extra:
            self.fail(f"unexpected key '{extra[0]}'" + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""))

    def model(self):
        if "format" not in self.arrays:
            self.fail("not a fixedrnn model (no 'format' key)")
        fmt = self.scalar("format")
        if fmt != FORMAT:
            self.fail(f"not a fixedrnn model ('format' is '{fmt}', expected '{FORMAT}')")
        version = self.scalar("schema_version")
        if version != SCHEMA_VERSION:
            self.fail(f"unsupported schema_version {version} (this fixedrnn reads {SCHEMA_VERSION})")
        if "cell" in self.arrays and self.scalar("cell") == GRAPH_CELL:
            from fixedrnn import graph_model

            return graph_model.read(self)
        cell = self.choice("cell", CELLS)
        weights = self.choice("weights", WEIGHT_KINDS)
        form_values = {name: self.scalar(name) for name in FORM_KEYS if SPECS[name].belongs_to(None, weights)}
        storage = self.scalar(STORAGE_KEY) if STORAGE_KEY in self.arrays else SPECS[STORAGE_KEY].default
        try:
            form = WeightForm(weights, **{FORM_KEYS[name]: value for name, value in form_values.items()},
                              storage=storage)
        except FixedRnnError as exc:
            self.fail(str(exc))
        labels, frontend, frames, inp = self.common()

        rnn = lstm = None
        if cell == "rnn":
            self._forbid_prefix("lstm.", cell)
            units = self.dims["H"] = self.scalar("rnn.units")
            add = {"output_scale": float(self.get("rnn.add.output_scale")),
                   "output_zero_point": self.scalar("rnn.add.output_zero_point")}
            for which in ("input1", "input2", "output"):
                add[f"{which}_multiplier"], add[f"{which}_shift"] = self.scalar_pair(f"rnn.add.{which}_")
            tanh = TanhParams(*self.scalar_pair("rnn.tanh.input_"), self.scalar("rnn.tanh.input_range_radius"))
            in_fc, rec_fc = (FullyConnected(**{"bias": None, **self.block(b, form)}) for b in fc_blocks("rnn")[:2])
            rnn = RnnCell(units=units, input_fc=in_fc, recurrent_fc=rec_fc, add=AddParams(**add), tanh=tanh)
        else:
            self._forbid_prefix("rnn.", cell)
            for key in UNSUPPORTED_LSTM_KEYS:
                if key in self.arrays:
                    self.fail(f"'{key}': LSTM {UNSUPPORTED_LSTM_KEYS[key]} is not supported (the engine "
                              f"and the exported .tflite run TFLM's LSTM without it)")
            units = self.dims["H"] = self.scalar("lstm.units")
            gate_fcs = {}
            for b in fc_blocks("lstm")[:2]:
                gate_fcs.update(self.block(b, form))
            muls = {name: self.scalar_pair(f"lstm.{name}.") for name in ("forget_mul", "input_mul", "output_mul")}
            lstm = LstmCell(units=units, hidden_scale=float(self.get("lstm.hidden.scale")),
                            hidden_zero_point=self.scalar("lstm.hidden.zero_point"),
                            cell_scale_power=self.scalar("lstm.cell.scale_power"),
                            cell_clip=self.scalar("lstm.cell_clip") if "lstm.cell_clip" in self.arrays else None,
                            **gate_fcs, **muls)
        head = FullyConnected(**self.block(fc_blocks(cell)[-1], form))

        meta = self.meta()
        self.no_extra_keys()
        model = Model(cell=cell, weights=weights, labels=labels, frontend=frontend, frames=frames,
                      input=inp, head=head, rnn=rnn, lstm=lstm, meta=meta, weight_storage=storage,
                      **{SPECS[name].attr[0]: value for name, value in form_values.items()})
        for block in fc_blocks(cell) if form.sparse else ():
            try:
                sparse.check(value_at(model, block.attrs["weight"]), f"'{block.name}.weight'")
            except FixedRnnError as exc:
                self.fail(str(exc))
        return model

    def _forbid_prefix(self, prefix, cell):
        for key in self.arrays:
            if key.startswith(prefix):
                self.fail(f"unexpected key '{key}' for cell '{cell}'")


# ----------------------------------------------------------------------------------------------
# Files


def _member_bytes(key):
    """The most array data a member ``key`` may declare before the schema names what is wrong: a
    schema key at its largest legal shape in any plain dtype (16 bytes, or a longest string: its
    exact dtype is checked next), a ``meta.*`` key up to :data:`MAX_META_BYTES`."""
    if key in SPECS:
        spec = SPECS[key]
        return max_elements(spec) * (4 * MAX_LABEL_LENGTH if spec.dtype == "str" else 16)
    return MAX_META_BYTES if key.startswith(META_PREFIX) else None


#: What a model file may hold (fixedrnn.npzfile checks it before inflating anything): every schema
#: key at its largest legal shape, and the ``meta.*`` keys within their bounds.
FILE_LIMITS = npzfile.NpzLimits(
    max_members=len(SPECS) + MAX_META_KEYS, max_data_bytes=_member_bytes,
    max_total_bytes=sum(max_data_bytes(spec) for spec in SPECS.values()) + MAX_META_BYTES)


class _InMemory:
    """A ``{key: array}`` dict seen as :class:`fixedrnn.npzfile.NpzArchive` is (``header``, ``read``)."""

    def __init__(self, arrays):
        self.arrays = {key: np.asarray(value) for key, value in dict(arrays).items()}

    def __contains__(self, key):
        return key in self.arrays

    def __iter__(self):
        return iter(self.arrays)

    def header(self, key):
        return self.arrays[key]  # an array has the header's dtype and shape

    def read(self, key):
        return self.arrays[key]


def load(path):
    """Read and fully validate a model file; ``InputFileError`` naming ``path`` on any problem.

    The zip directory and every ``.npy`` header are checked (:mod:`fixedrnn.npzfile`, bounds
    :data:`FILE_LIMITS`), and each key's dtype and shape against the schema, before its data is
    inflated: memory stays within the largest legal model."""
    if not isinstance(path, (str, os.PathLike)):
        raise FixedRnnError(f"path: expected a model file path, got {type(path).__name__} {path!r}")
    path = Path(path)
    require_regular_file(path, "no such model file")
    with npzfile.NpzArchive(path, FILE_LIMITS) as archive:
        return _Reader(archive, path).model()


def save(model, path):
    """Validate ``model`` and write it to ``path`` atomically (temporary file, then rename)."""
    path = Path(path)
    arrays = model.to_arrays()
    Model.from_arrays(arrays, source=path)  # never write a file load() would refuse
    atomicfile.write_file(path, lambda fh: np.savez(fh, **arrays))
    return path
