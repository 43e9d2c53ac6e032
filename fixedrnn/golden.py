"""Golden vectors: what every integer of a model's inference must be, frozen (format: docs/golden.md).

One set per model, in a directory ``golden/vectors/<model>/``:

- ``manifest.json``: the model file (path relative to the set's directory, SHA-256 of its bytes),
  the ordered tensor names, and one entry per input: its source (``"synthetic"``: a
  :class:`fixedrnn.signals.SignalSpec` regenerated at check time, or ``"fsdd"``: a recording named
  by file name), the number of samples and :func:`fixedrnn.fsdd.sample_checksum` of the samples,
  the int8 logits, the float model's logits when known, and the shape, dtype and SHA-256 of every
  tensor; plus the float/integer agreement.
- ``tensors.npz``: the tensors of the synthetic inputs with at most two dimensions (all but the
  LSTM's per-gate ``[T, 4, H]`` tensors), in full, under ``"<input>/<tensor>"``.
- ``steps.npz``: for every tensor not stored in full, under ``"<input>/<tensor>"``, a uint32
  ``[rows]`` array: the first 4 bytes (little-endian) of the SHA-256 of each row (step) of the
  tensor, so that a difference is located to the step (FSDD inputs: nothing cut from a recording is
  stored, only digests and logits).

The tensors of one input (:func:`compute_tensors`), in order: ``mfcc`` (front-end output, int16
q8.7 or int32 ``[frames, n_mfcc]``), ``features`` (int8 ``[T, I]``), the engine's per-step trace
(every step's intermediate tensors, the hidden state ``hidden`` int8 ``[T, H]`` and, for the LSTM,
the cell state ``cell`` int16 ``[T, H]``; for a graph model ``ops``, int8 ``[K, W]``, every op's
int8 outputs: :func:`fixedrnn.graph.op_outputs`), and ``logits`` (int8 ``[C]``).
"""

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from fixedrnn import atomicfile, fsdd, signals
from fixedrnn.errors import FixedRnnError, InputFileError

FORMAT = "fixedrnn-golden"
VERSION = 1
MANIFEST = "manifest.json"
TENSORS = "tensors.npz"
STEPS = "steps.npz"
#: Synthetic tensors with at most this many dimensions are stored in full (the rest as digests).
FULL_MAX_DIMS = 2
SOURCES = ("synthetic", "fsdd")
#: dtypes a golden tensor may have (all integer: the engine is integer-only).
TENSOR_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")


# ----------------------------------------------------------------------------------------------
# Tensors of one input


def frontend_output(model, pcm):
    """The front end's output for int16 ``pcm [n]``: int16 q8.7 ``[frames, n_mfcc]`` (int32 for
    q31 models), every frame of the utterance (before the fit to T frames), computed by the same
    engine functions :meth:`fixedrnn.model.Model.features` uses."""
    from fixedrnn import engine

    return np.asarray(engine.mfcc(model, pcm))


def compute_tensors(model, pcm):
    """Every tensor of the integer inference of int16 ``pcm [n]``, in order, as a dict.

    ``mfcc``, ``features``, the engine's trace (NumPy reference path; per-step arrays, axis 0 =
    step; a graph model's per-op ``ops``), ``logits``.
    """
    return compute_tensors_batch(model, [pcm])[0]


def compute_tensors_batch(model, pcms):
    """:func:`compute_tensors` of several utterances, the cell traced in one batched NumPy run.

    The NumPy path computes every batch row independently, so a row equals its one-utterance run.
    """
    for i, pcm in enumerate(pcms):
        pcm = np.asarray(pcm)
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise FixedRnnError(f"pcm[{i}]: expected a 1-d int16 array, got {pcm.dtype} {pcm.shape}")
    if not len(pcms):
        return []
    features = np.stack([np.asarray(model.features(p)) for p in pcms])
    logits, trace = model.run_features_batch(features, backend="numpy", trace=True)
    out = []
    for i, pcm in enumerate(pcms):
        tensors = {"mfcc": frontend_output(model, pcm), "features": features[i]}
        for name, value in trace.items():
            if name not in ("mfcc", "features", "logits"):
                tensors[name] = np.asarray(value[i])
        tensors["logits"] = np.asarray(logits[i])
        for name, value in tensors.items():
            if value.dtype.name not in TENSOR_DTYPES:
                raise FixedRnnError(f"tensor '{name}': the engine returned dtype {value.dtype}, not an integer type")
        out.append(tensors)
    return out


def fast_backends(model):
    """The engine's untraced paths for ``model``: "numba", and "shift" for power-of-two weights.

    They give only logits; the golden logits must come out of each of them too.
    """
    return ("numba", "shift") if model.weights == "pot" else ("numba",)


def tensor_digest(tensor):
    """SHA-256 (hex) of the tensor's elements as little-endian bytes, row-major."""
    tensor = np.ascontiguousarray(tensor)
    return hashlib.sha256(tensor.astype(tensor.dtype.newbyteorder("<")).tobytes()).hexdigest()


def row_digests(tensor):
    """uint32 ``[rows]``: first 4 bytes (little-endian) of the SHA-256 of each row (axis 0).

    A 0-d or 1-d tensor counts as one row. They only locate a difference; equality is decided by
    :func:`tensor_digest` or the full tensor.
    """
    tensor = np.ascontiguousarray(tensor)
    rows = tensor.reshape(1, -1) if tensor.ndim < 2 else tensor.reshape(tensor.shape[0], -1)
    rows = rows.astype(rows.dtype.newbyteorder("<"))
    return np.array([int.from_bytes(hashlib.sha256(r.tobytes()).digest()[:4], "little") for r in rows],
                    np.uint32)


def file_sha256(path):
    """SHA-256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------------
# The set


@dataclass(frozen=True, eq=False)
class GoldenInput:
    """One input of a golden set (see the module docstring)."""

    name: str
    source: str
    samples: int
    checksum: str
    logits: tuple
    signal: Optional[signals.SignalSpec] = None
    float_logits: Optional[tuple] = None
    digests: dict = field(default_factory=dict)  # tensor -> {"shape", "dtype", "sha256"}

    @property
    def prediction(self):
        return int(np.argmax(self.logits))

    @property
    def float_prediction(self):
        return None if self.float_logits is None else int(np.argmax(self.float_logits))


@dataclass(frozen=True, eq=False)
class GoldenSet:
    """A loaded golden vector set (the manifest; the arrays are read by the methods)."""

    directory: Path
    model_file: Path
    model_sha256: str
    labels: tuple
    tensors: tuple
    inputs: tuple
    agreement: dict
    float_source: Optional[str]

    @property
    def name(self):
        return self.directory.name

    def full_tensors(self):
        """``{"<input>/<tensor>": array}`` from ``tensors.npz``."""
        return _load_npz(self.directory / TENSORS)

    def step_digests(self):
        """``{"<input>/<tensor>": uint32 [rows]}`` from ``steps.npz``."""
        return _load_npz(self.directory / STEPS)


def _load_npz(path):
    if not path.is_file():
        raise InputFileError(path, "missing (part of the golden vector set)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (ValueError, OSError, EOFError) as exc:
        raise InputFileError(path, f"unreadable golden tensors ({exc})") from None
    except Exception as exc:  # zipfile.BadZipFile and friends
        raise InputFileError(path, f"unreadable golden tensors ({exc})") from None


def _spec_to_json(spec):
    return {"kind": spec.kind, "n": spec.n, "seed": spec.seed, "sample_rate": spec.sample_rate,
            "params": {k: v for k, v in spec.params}}


def _spec_from_json(name, data):
    return signals.SignalSpec(name=name, kind=data["kind"], n=data["n"], seed=data["seed"],
                              sample_rate=data["sample_rate"],
                              params=tuple(sorted((k, v) for k, v in data["params"].items())))


def write_set(directory, model_file, synthetic_specs=(), recordings=(), float_logits=None,
              float_source=None, extra_agreement=None, progress=None):
    """Compute and write the golden set of ``model_file`` into ``directory`` (created if needed).

    ``synthetic_specs``: :class:`~fixedrnn.signals.SignalSpec` s; ``recordings``:
    :class:`fixedrnn.fsdd.Recording` s; ``float_logits``: ``{input name: float [C]}`` from the
    float model, or None; ``float_source``: one line saying how they were computed;
    ``extra_agreement``: further agreement figures to record (e.g. on the whole test split).
    ``progress``: called with each input's name. The files are written to temporary names, then
    renamed together.
    """
    from fixedrnn import model as model_io

    directory = Path(directory)
    model_file = Path(model_file)
    model = model_io.load(model_file)
    directory.mkdir(parents=True, exist_ok=True)
    float_logits = dict(float_logits or {})
    names = [s.name for s in synthetic_specs] + [r.name for r in recordings]
    if len(set(names)) != len(names):
        raise FixedRnnError("inputs: names must be distinct")
    unknown = set(float_logits) - set(names)
    if unknown:
        raise FixedRnnError(f"float_logits: no input named {sorted(unknown)[0]!r}")

    full, steps, entries, tensor_names = {}, {}, [], None
    sources = [("synthetic", s) for s in synthetic_specs] + [("fsdd", r) for r in recordings]
    pcms = []
    for source, item in sources:
        if progress is not None:
            progress(item.name)
        pcms.append(signals.generate(item) if source == "synthetic" else item.samples())
    computed = compute_tensors_batch(model, pcms)
    if computed:
        features = np.stack([t["features"] for t in computed])
        expected = np.stack([t["logits"] for t in computed])
        for backend in fast_backends(model):
            fast = model.run_features_batch(features, backend=backend)
            if not np.array_equal(fast, expected):
                raise FixedRnnError(f"engine: backend {backend!r} disagrees with the NumPy path; "
                                    "refusing to freeze golden vectors")
        tensor_names = list(computed[0])
    for (source, item), pcm, tensors in zip(sources, pcms, computed):
        if list(tensors) != tensor_names:
            raise FixedRnnError(f"engine: input {item.name!r} gave tensors {list(tensors)}, expected {tensor_names}")
        entry = {"name": item.name, "source": source, "samples": int(pcm.shape[0]),
                 "checksum": fsdd.sample_checksum(pcm),
                 "logits": [int(v) for v in tensors["logits"]]}
        if source == "synthetic":
            entry["signal"] = _spec_to_json(item)
        entry["digests"] = {tname: {"shape": list(value.shape), "dtype": value.dtype.name,
                                    "sha256": tensor_digest(value)}
                            for tname, value in tensors.items()}
        for tname, value in tensors.items():
            if source == "synthetic" and value.ndim <= FULL_MAX_DIMS:
                full[f"{item.name}/{tname}"] = value
            else:
                steps[f"{item.name}/{tname}"] = row_digests(value)
        if item.name in float_logits:
            values = np.asarray(float_logits[item.name], np.float64)
            if values.shape != (len(model.labels),) or not np.all(np.isfinite(values)):
                raise FixedRnnError(f"float_logits[{item.name!r}]: expected {len(model.labels)} finite values")
            entry["float_logits"] = [float(np.float32(v)) for v in values]
        entries.append(entry)

    agreement = {}
    for source in SOURCES:
        pairs = [(int(np.argmax(e["logits"])), int(np.argmax(e["float_logits"])))
                 for e in entries if e["source"] == source and "float_logits" in e]
        if pairs:
            agree = sum(a == b for a, b in pairs)
            agreement[source] = {"agree": agree, "n": len(pairs), "rate": agree / len(pairs)}
    agreement.update(extra_agreement or {})

    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "model": {"file": os.path.relpath(model_file.resolve(), directory.resolve()).replace(os.sep, "/"),
                  "sha256": file_sha256(model_file), "cell": model.cell, "weights": model.weights},
        "labels": [str(label) for label in model.labels],
        "tensors": tensor_names or [],
        "float": {"source": float_source, "agreement": agreement},
        "inputs": entries,
    }
    atomicfile.write_files({
        directory / TENSORS: lambda fh: np.savez_compressed(fh, **full),
        directory / STEPS: lambda fh: np.savez_compressed(fh, **steps),
        directory / MANIFEST: lambda fh: fh.write(_manifest_text(manifest).encode("utf-8")),
    })
    return load_set(directory)


def _manifest_text(manifest):
    """The manifest as JSON: indented, except that each input is one line."""
    head = {k: v for k, v in manifest.items() if k != "inputs"}
    text = json.dumps(head, indent=1)[:-2]
    lines = ",\n  ".join(json.dumps(e, separators=(",", ":")) for e in manifest["inputs"])
    return f'{text},\n "inputs": [\n  {lines}\n ]\n}}\n'


def load_set(directory):
    """Read and check a golden set's manifest; ``InputFileError`` naming the file otherwise."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        raise InputFileError(path, "missing: not a golden vector set")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(path, f"not valid JSON ({exc})") from None

    def need(obj, key, kind, where):
        if not isinstance(obj, dict) or key not in obj:
            raise InputFileError(path, f"{where}: missing '{key}'")
        value = obj[key]
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise InputFileError(path, f"{where}: '{key}' has the wrong type ({type(value).__name__})")
        return value

    if need(data, "format", str, "top level") != FORMAT:
        raise InputFileError(path, f"format is {data['format']!r}, expected {FORMAT!r}")
    if need(data, "version", int, "top level") != VERSION:
        raise InputFileError(path, f"version {data['version']} is not supported (expected {VERSION})")
    model = need(data, "model", dict, "top level")
    model_file = (directory / need(model, "file", str, "model")).resolve()
    model_sha = need(model, "sha256", str, "model")
    labels = tuple(need(data, "labels", list, "top level"))
    tensor_names = tuple(need(data, "tensors", list, "top level"))
    if not tensor_names or tensor_names[-1] != "logits" or len(set(tensor_names)) != len(tensor_names):
        raise InputFileError(path, "tensors: expected distinct names ending with 'logits'")
    float_info = data.get("float") or {}
    inputs = []
    seen = set()
    for i, entry in enumerate(need(data, "inputs", list, "top level")):
        where = f"inputs[{i}]"
        name = need(entry, "name", str, where)
        where = f"input '{name}'"
        if name in seen:
            raise InputFileError(path, f"{where}: duplicate name")
        seen.add(name)
        source = need(entry, "source", str, where)
        if source not in SOURCES:
            raise InputFileError(path, f"{where}: source {source!r} is not one of {', '.join(SOURCES)}")
        logits = need(entry, "logits", list, where)
        if len(logits) != len(labels) or not all(isinstance(v, int) and -128 <= v <= 127 for v in logits):
            raise InputFileError(path, f"{where}: logits must be {len(labels)} int8 values")
        spec = None
        if source == "synthetic":
            try:
                spec = _spec_from_json(name, need(entry, "signal", dict, where))
            except (KeyError, TypeError, AttributeError, FixedRnnError) as exc:
                raise InputFileError(path, f"{where}: bad signal description ({exc})") from None
        digests = need(entry, "digests", dict, where)
        if sorted(digests) != sorted(tensor_names):
            raise InputFileError(path, f"{where}: digests must name the tensors {list(tensor_names)}")
        for tname, d in digests.items():
            if not (isinstance(d, dict) and isinstance(d.get("shape"), list)
                    and d.get("dtype") in TENSOR_DTYPES and isinstance(d.get("sha256"), str)):
                raise InputFileError(path, f"{where}: bad digest of tensor '{tname}'")
        float_logits = entry.get("float_logits")
        if float_logits is not None and (not isinstance(float_logits, list) or len(float_logits) != len(labels)):
            raise InputFileError(path, f"{where}: float_logits must hold {len(labels)} numbers")
        inputs.append(GoldenInput(
            name=name, source=source, samples=need(entry, "samples", int, where),
            checksum=need(entry, "checksum", str, where), logits=tuple(logits), signal=spec,
            float_logits=None if float_logits is None else tuple(float(v) for v in float_logits),
            digests=digests))
    return GoldenSet(directory=directory, model_file=model_file, model_sha256=model_sha, labels=labels,
                     tensors=tensor_names, inputs=tuple(inputs),
                     agreement=dict(float_info.get("agreement") or {}),
                     float_source=float_info.get("source"))


def find_sets(root):
    """Golden set directories under ``root``: ``root`` itself if it holds a manifest, else
    ``root/vectors/*`` or ``root/*`` that do, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise InputFileError(root, "no such directory")
    if (root / MANIFEST).is_file():
        return [root]
    base = root / "vectors" if (root / "vectors").is_dir() else root
    found = sorted(p for p in base.iterdir() if (p / MANIFEST).is_file())
    if not found:
        raise InputFileError(root, f"holds no golden vector set (no */{MANIFEST})")
    return found
