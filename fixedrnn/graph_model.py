"""A graph model: fixedrnn's front end and input normalisation, then an imported integer graph
(:class:`fixedrnn.graph.Graph`) in place of the cell and head.

In the ``.npz`` model file (schema version 1) a graph model has ``cell = "graph"``, ``weights =
"int8"``, the common keys (``labels``, ``frontend.*``, ``sequence.frames``, ``input.*``, ``meta.*``)
and the ``graph.*`` keys of :mod:`fixedrnn.schema` (no ``head.*``: the head is part of the graph).
:func:`fixedrnn.model.load` reads it through :func:`read`, which checks every key against the
schema, the graph's structure (indices, offsets, op codes), that the graph's input is int8 ``[1,
T, I]`` and its output int8 ``[1, C]``, and that every stored integer is TFLM's derivation from the
stored scales (:func:`fixedrnn.graph.check_params`); it prepares every op and runs the graph once
on a zero input (shapes).
"""

import functools
from dataclasses import dataclass, field

import numpy as np

from fixedrnn.audio_model import AudioModel
from fixedrnn.errors import FixedRnnError
from fixedrnn.backends import check_backend
from fixedrnn.graph import OP_NAMES, TENSOR_TYPES, Graph, check_params, op_outputs, run_batch
from fixedrnn.schema import (CMN_KEY, CMSIS_BUILD_KEY, GRAPH_CELL, GRAPH_DIMS, GRAPH_MAX_RANK, META_PREFIX, SPECS,
                             keys_for, value_at)

WEIGHTS = "int8"


#: The optional keys every model may hold (read by fixedrnn.model's common keys): a graph model writes
#: them when they are not at their defaults.
COMMON_OPTIONAL_KEYS = (CMSIS_BUILD_KEY, CMN_KEY)


def graph_keys():
    """The :class:`fixedrnn.schema.KeySpec` of a graph model's file, in file order."""
    return [spec for spec in keys_for(GRAPH_CELL, WEIGHTS) if not spec.name.startswith("head.")]


@dataclass(frozen=True, eq=False)
class GraphModel(AudioModel):
    """An imported graph model: ``labels``, ``frontend`` (:class:`fixedrnn.model.FrontendSpec`),
    ``frames`` (T), ``input`` (:class:`fixedrnn.model.InputQuant`, MFCC → the graph's int8 input),
    ``graph`` and ``meta``."""

    labels: tuple
    frontend: object
    frames: int
    input: object
    graph: Graph
    meta: dict = field(default_factory=dict)

    cell = GRAPH_CELL
    weights = WEIGHTS

    @property
    def n_features(self):
        return self.frontend.n_mfcc

    @property
    def logit_quant(self):
        """(scale float, zero point int) of the int8 logits (the graph's output tensor): ``(l − z) · s``."""
        return self.graph.scale(self.graph.output), int(self.graph.zero_point[self.graph.output])

    @functools.cached_property
    def prepared(self):
        """The :class:`fixedrnn.prepare.PreparedModel`: the normalisation and, as its cell, the graph's
        prepared ops (no separate head)."""
        from fixedrnn.ops import normalise
        from fixedrnn.prepare import PreparedModel

        return PreparedModel(self, normalise.prepare(self.input), self.graph.prepared, None)

    def run_features(self, x, trace=False, backend=None):
        """int8 ``[T, I]`` (exactly the graph's T: it is unrolled) → int8 logits ``[C]`` (and the
        trace ``{tensor: value}`` if asked). ``backend``: None or ``"numpy"`` the ops' NumPy
        references (:func:`fixedrnn.graph.run`, the path that traces), ``"numba"`` the batch path."""
        backend = "numpy" if backend is None else backend
        self._check(backend, trace)
        if backend == "numpy":
            return self.graph.run(x, trace=trace)
        return run_batch(self.graph, np.asarray(x)[None])[0]

    def run_features_batch(self, xs, backend="numba", trace=False):
        """int8 ``[B, T, I]`` → int8 logits ``[B, C]``. ``backend``: ``"numba"`` the graph run once on
        the whole batch (:func:`fixedrnn.graph.run_batch`), ``"numpy"`` each sequence by the ops'
        NumPy references; the same integers. With ``trace`` (``"numpy"`` only) also ``{"ops": int8
        [B, K, W]}``, every op's int8 outputs (:func:`fixedrnn.graph.op_outputs`)."""
        self._check(backend, trace)
        xs = np.asarray(xs)
        if backend == "numba":
            return run_batch(self.graph, xs)
        if not trace:
            return np.stack([self.graph.run(x) for x in xs]) if len(xs) else np.zeros((0, len(self.labels)), np.int8)
        runs = [self.graph.run(x, trace=True) for x in xs]
        logits = np.stack([out for out, _ in runs]) if runs else np.zeros((0, len(self.labels)), np.int8)
        ops = np.stack([op_outputs(self.graph, values) for _, values in runs]) if runs else np.zeros(
            (0, self.graph.n_ops, self.graph.trace_width), np.int8)
        return logits, {"ops": ops}

    def _check(self, backend, trace):
        check_backend(backend, self.weights)
        if trace and backend != "numpy":
            raise FixedRnnError("trace=True needs backend='numpy'")

    def __repr__(self):
        labels = list(self.labels) if len(self.labels) <= 12 else [*self.labels[:10], f"... {len(self.labels)} in all"]
        return (f"GraphModel(cell={self.cell!r}, weights={self.weights!r}, ops={self.graph.n_ops}, frames={self.frames}, "
                f"labels={labels}, bytes={self.device_bytes})")

    def to_arrays(self):
        """The flat ``{key: array}`` dict of the file."""
        out = {}
        for spec in graph_keys() + [SPECS[key] for key in COMMON_OPTIONAL_KEYS]:
            value = spec.const if spec.attr is None else value_at(self, spec.attr)
            if spec.optional and value == spec.default:
                continue  # an optional key at its default is not written (as fixedrnn.model.Model does)
            if spec.dtype == "str":
                out[spec.name] = np.array(list(value), dtype=str) if spec.shape else np.array(value)
            else:
                out[spec.name] = np.asarray(value, spec.dtype)
        for key, value in self.meta.items():
            out[f"{META_PREFIX}{key}"] = np.asarray(value)
        return out


def _length(reader, key, limit):
    if key not in reader.arrays:
        reader.fail(f"missing key '{key}'")
    shape = reader.arrays.header(key).shape
    if len(shape) != 1 or not 0 <= shape[0] <= limit:
        reader.fail(f"'{key}' must be 1-d with at most {limit} entries, got shape {tuple(shape)}")
    return shape[0]


def _starts(reader, key, values, total):
    if values[0] != 0 or values[-1] != total or np.any(np.diff(values) < 0):
        reader.fail(f"'{key}' must rise from 0 to {total}")


def read(reader):
    """The :class:`GraphModel` of a file whose ``cell`` is ``"graph"`` (``reader``: the
    :class:`fixedrnn.model._Reader`; every failure is its ``InputFileError``)."""
    reader.choice("weights", (WEIGHTS,))
    labels, frontend, frames, inp = reader.common()
    d = reader.dims
    d["N"] = _length(reader, "graph.tensor_type", GRAPH_DIMS["N"])
    d["K"] = _length(reader, "graph.op_code", GRAPH_DIMS["K"])
    d["N1"], d["K1"], d["R"] = d["N"] + 1, d["K"] + 1, GRAPH_MAX_RANK
    for symbol, key in (("G", "graph.scales"), ("B", "graph.constants"), ("E", "graph.io"), ("Q", "graph.params")):
        d[symbol] = _length(reader, key, GRAPH_DIMS[symbol])
    values = {spec.attr[1]: reader.get(spec.name) for spec in graph_keys() if spec.name.startswith("graph.")}
    n = d["N"]
    _starts(reader, "graph.scale_start", values["scale_start"], d["G"])
    _starts(reader, "graph.io_start", values["io_start"], d["E"])
    _starts(reader, "graph.param_start", values["param_start"], d["Q"])
    if not set(values["tensor_type"].tolist()) <= set(TENSOR_TYPES):
        reader.fail(f"'graph.tensor_type' must be one of {sorted(TENSOR_TYPES)}")
    if not set(values["op_code"].tolist()) <= set(OP_NAMES):
        bad = sorted(set(values["op_code"].tolist()) - set(OP_NAMES))[0]
        reader.fail(f"'graph.op_code': operator {bad} is not run by the graph engine")
    if np.any(values["io"] >= n) or np.any(values["input_count"] > np.diff(values["io_start"])):
        reader.fail("'graph.io' must index the tensors, with 'graph.input_count' within each op's entries")
    for k in range(d["K"]):
        outs = values["io"][values["io_start"][k] + values["input_count"][k]:values["io_start"][k + 1]]
        if np.any(outs < 0):
            reader.fail(f"'graph.io': op {k} has an omitted output")
    for t in range(n):
        rank = int(values["tensor_rank"][t])
        if np.any(values["tensor_shape"][t, :rank] < 1) or np.any(values["tensor_shape"][t, rank:] != 0):
            reader.fail(f"'graph.tensor_shape': tensor {t} must have {rank} dims >= 1, then zeros")
        offset = int(values["data_offset"][t])
        size = int(np.prod(values["tensor_shape"][t, :rank], dtype=np.int64)) * np.dtype(
            TENSOR_TYPES[int(values["tensor_type"][t])]).itemsize
        if offset >= 0 and offset + size > d["B"]:
            reader.fail(f"'graph.data_offset': tensor {t}'s data runs past the end of 'graph.constants'")
    for key in ("input", "output"):
        if values[key] >= n:
            reader.fail(f"'graph.{key}' must be a tensor index below {n}")
    graph = Graph(**{name: (int(v) if name in ("input", "output") else v) for name, v in values.items()})
    if graph.shape(graph.input) != (1, frames, frontend.n_mfcc) or graph.tensor_type[graph.input] != 9:
        reader.fail(f"the graph's input must be int8 [1, {frames}, {frontend.n_mfcc}] (sequence.frames, n_mfcc), "
                    f"got {list(graph.shape(graph.input))}")
    if graph.shape(graph.output) != (1, len(labels)) or graph.tensor_type[graph.output] != 9:
        reader.fail(f"the graph's output must be int8 [1, {len(labels)}] (one logit per label), "
                    f"got {list(graph.shape(graph.output))}")
    if abs(graph.scale(graph.input) - inp.scale) > 0 or int(graph.zero_point[graph.input]) != inp.zero_point:
        reader.fail("'input.scale' / 'input.zero_point' must be the graph input's quantisation")
    try:
        check_params(graph)
        graph.prepared  # every op's Prepare: tables, headroom checks, the constants it needs
        graph.run(np.zeros((frames, frontend.n_mfcc), np.int8))  # every op's shapes, once
    except FixedRnnError as exc:
        reader.fail(f"graph: {exc}")
    except (IndexError, ValueError, TypeError) as exc:
        reader.fail(f"graph: malformed op list ({type(exc).__name__}: {exc})")
    meta = reader.meta()
    reader.no_extra_keys()
    return GraphModel(labels=labels, frontend=frontend, frames=frames, input=inp, graph=graph, meta=meta)


def from_tflite(model, frontend, labels=None, meta=None):
    """The :class:`GraphModel` of a :class:`fixedrnn.tflite_read.TfliteModel` whose recurrent layer
    is unrolled (:func:`fixedrnn.graph_import.graph_from_tflite`) with the front end it was trained
    on, ``frontend`` (:class:`fixedrnn.import_tflite.FrontEnd`: MFCC settings, per-coefficient mean
    and std, the integer normalisation to the graph's exact input quantisation). ``labels``: one per
    output (default ``"0"``, ``"1"``, ...). Checked as :func:`fixedrnn.model.load` checks a file; the
    ``import tflite`` command comes here for every graph without a fused LSTM."""
    from fixedrnn.graph_import import graph_from_tflite
    from fixedrnn.model import Model

    graph = graph_from_tflite(model)
    if graph.n_features != frontend.spec.n_mfcc:
        raise FixedRnnError(f"front end: {frontend.spec.n_mfcc} MFCC coefficients, but {model.path} takes "
                            f"{graph.n_features} features per frame")
    labels = tuple(str(v) for v in range(graph.n_outputs)) if labels is None else tuple(labels)
    if len(labels) != graph.n_outputs:
        raise FixedRnnError(f"labels: {len(labels)} given, {model.path} has {graph.n_outputs} outputs")
    inp = frontend.input_quant(graph.scale(graph.input), int(graph.zero_point[graph.input]))
    built = GraphModel(labels=labels, frontend=frontend.spec, frames=graph.frames, input=inp, graph=graph,
                       meta=dict(meta or {}))
    return Model.from_arrays(built.to_arrays(), source=f"{model.path} (imported)")
