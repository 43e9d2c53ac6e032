"""``fixedrnn study bitwidth|prune OUT_DIR``: compression studies (issue #12 items 4–5).

Each study is a list of configurations (a JSON-ready ``{setting: value}`` dict each); every
configuration is trained by the repository's ``tools/train.py`` (PyTorch) and measured, as one Ray
task (``ray.init()`` on this machine, or ``--address`` of a cluster):

- **bitwidth**: symmetric k-bit weights (``intk``, k = ``--bits``, default 2..8) × ``--methods``
  ``ptq`` (the float model converted at k bits, no quantization-aware training) and ``qat`` (the
  float model fine-tuned with the k-bit fake quantization, then converted).
- **prune**: the float model pruned (:mod:`fixedrnn.prune`) by each of ``--methods``
  (``magnitude-layer``, ``magnitude-global``: unstructured, that fraction of the weights;
  ``units-l1``, ``units-l2``, ``units-linf``: structured, that fraction of the hidden units removed,
  ``keep = max(1, round(H · (1 − s)))``) at each ``--sparsities`` s, with and without
  ``--finetune-epochs`` of float fine-tuning, then int8 QAT and conversion; plus the unpruned model.

Measured per configuration (one CSV row): **accuracy** (the integer engine end to end from the WAV
files of the FSDD test split, :func:`fixedrnn.evaluate.evaluate_model`; with ``--subset`` the test
files of that subset), the float accuracy, parameters and MACs per inference
(:func:`fixedrnn.budget.model_cost`; ``*_nonzero``: the weights that are not 0), **bytes** (the
budget's total, flash + RAM, front end included), **host runtime** (µs per inference of the numba
engine on this machine, features given; the best of 3 batches), **MCU instructions** per inference
(the generated firmware under QEMU's Cortex-M4, ``tools/firmware/count_instructions.py``: DSP build
and plain C, -O2; ``--no-mcu`` skips them).

Output in OUT_DIR: ``results.csv``, ``results.md`` (the table), ``*.png`` (accuracy against bits,
PTQ vs QAT; accuracy against parameters, MACs, bytes, host runtime, MCU instructions),
``models/KEY.npz`` (every model), ``runs/KEY.json`` (its measurements) and ``runs/KEY.log`` (its
training log). KEY is a hash of the configuration's settings: a second run skips every
configuration whose ``runs/KEY.json`` exists (resumable; an interrupted run keeps what finished).

The first configuration to run trains the float model alone; the others then run in parallel and
find it (and the features) in tools/train.py's cache (``$FIXEDRNN_TRAIN_CACHE``; on a cluster,
shared storage, else each node trains the same float model again). Heavy dependencies (ray,
matplotlib, torch: the ``study`` and ``train`` extras) are imported when a study runs; a missing one
is one line and exit 2.
"""

import contextlib
import csv
import hashlib
import importlib
import io
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fixedrnn import atomicfile, fsdd
from fixedrnn.errors import FixedRnnError

#: The repository's tools/ folder (training and the instruction counter live there).
TOOLS = Path(__file__).resolve().parents[1] / "tools"
#: In every configuration's hash: bump when what a result means changes.
CACHE_FORMAT = 1
BIT_METHODS = ("ptq", "qat")
PRUNE_METHODS = ("magnitude-layer", "magnitude-global", "units-l1", "units-l2", "units-linf")
#: Unstructured methods: their models are stored sparse where that is smaller (tools/train.py
#: ``--storage auto``: the compressed rows of :mod:`fixedrnn.sparse` below half density), so that
#: the bytes and MCU instructions are those of the sparse firmware, not of stored zeros.
UNSTRUCTURED_METHODS = ("magnitude-layer", "magnitude-global")
DEFAULT_BITS = (2, 3, 4, 5, 6, 7, 8)
DEFAULT_SPARSITIES = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95)
#: CSV columns, in order.
COLUMNS = ("key", "study", "series", "method", "weights", "bits", "sparsity", "finetune_epochs", "units",
           "params", "params_nonzero", "macs", "macs_nonzero", "storage", "flash", "ram", "bytes", "float_accuracy",
           "accuracy", "host_us", "mcu_instructions", "mcu_instructions_plain_c", "model")
#: The x axes of the plots: (column, axis label).
PLOT_AXES = (("params_nonzero", "parameters (non-zero weights + biases)"),
             ("macs_nonzero", "MACs per inference (non-zero weights)"),
             ("bytes", "bytes (budget total: flash + RAM, front end included)"),
             ("host_us", "host runtime per inference (µs, numba engine)"),
             ("mcu_instructions", "Cortex-M4 instructions per inference (QEMU, DSP build, -O2)"))


@dataclass(frozen=True)
class TrainingBase:
    """Training settings every configuration of a study shares (tools/train.py's options of the same
    names): ``cell`` "lstm"|"rnn", ``units`` H, ``frames`` T, float ``epochs``, ``qat_epochs``,
    ``copies`` (augmented copies per training file), ``subset`` (0: all of FSDD; n: the first n
    indices of each split), ``seed``."""

    cell: str = "lstm"
    units: int = 24
    frames: int = 61
    epochs: int = 60
    qat_epochs: int = 10
    copies: int = 4
    subset: int = 0
    seed: int = 0

    def __post_init__(self):
        if self.cell not in ("lstm", "rnn"):
            raise FixedRnnError(f"--cell must be lstm or rnn, got {self.cell!r}")
        for name in ("units", "frames"):
            if getattr(self, name) < 1:
                raise FixedRnnError(f"--{name} must be >= 1, got {getattr(self, name)}")
        for name in ("epochs", "qat_epochs", "copies", "subset"):
            if getattr(self, name) < 0:
                raise FixedRnnError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")


def configuration_key(settings):
    """16 hex digits: the SHA-256 of the configuration's settings (sorted JSON) and :data:`CACHE_FORMAT`."""
    text = json.dumps({"cache_format": CACHE_FORMAT, **settings}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def bitwidth_configurations(base, bits=DEFAULT_BITS, methods=BIT_METHODS):
    """The bitwidth study's configurations: every k of ``bits`` × every method of ``methods``."""
    for k in bits:
        if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= 8:
            raise FixedRnnError(f"--bits: each must be an integer in 2..8, got {k!r}")
    for m in methods:
        if m not in BIT_METHODS:
            raise FixedRnnError(f"--methods: {m!r} is not one of {', '.join(BIT_METHODS)}")
    return [{"study": "bitwidth", **asdict(base), "series": method.upper(), "method": method, "weights": "intk",
             "bits": int(k), "qat_epochs": base.qat_epochs if method == "qat" else 0}
            for method in methods for k in bits]


def prune_configurations(base, sparsities=DEFAULT_SPARSITIES, methods=PRUNE_METHODS, finetune_epochs=(0, 10)):
    """The pruning study's configurations: the unpruned model, then every method of ``methods`` × every
    sparsity of ``sparsities`` × every count of ``finetune_epochs`` (int8 weights)."""
    for m in methods:
        if m not in PRUNE_METHODS:
            raise FixedRnnError(f"--methods: {m!r} is not one of {', '.join(PRUNE_METHODS)}")
    for s in sparsities:
        if not 0.0 < s < 1.0:
            raise FixedRnnError(f"--sparsities: each must be in (0, 1), got {s!r}")
    for n in finetune_epochs:
        if n < 0:
            raise FixedRnnError(f"--finetune-epochs: each must be >= 0, got {n!r}")
    common = {"study": "prune", **asdict(base), "weights": "int8"}
    configs = [{**common, "series": "unpruned", "method": "none", "sparsity": 0.0, "finetune_epochs": 0}]
    for method in methods:
        for n in finetune_epochs:
            for s in sparsities:
                configs.append({**common, "series": method + (" + fine-tune" if n else ""), "method": method,
                                "sparsity": float(s), "finetune_epochs": int(n),
                                **({"storage": "auto"} if method in UNSTRUCTURED_METHODS else {})})
    return configs


def kept_units(units, sparsity):
    """Hidden units a structured pruning of ``sparsity`` keeps: ``max(1, round(units · (1 − s)))``."""
    return max(1, int(np.floor(units * (1.0 - sparsity) + 0.5)))


def train_arguments(settings, data_dir, out):
    """tools/train.py's command line for a configuration (model written to ``out``)."""
    argv = ["--cell", settings["cell"], "--units", str(settings["units"]), "--frames", str(settings["frames"]),
            "--epochs", str(settings["epochs"]), "--qat-epochs", str(settings["qat_epochs"]),
            "--copies", str(settings["copies"]), "--subset", str(settings["subset"]),
            "--seed", str(settings["seed"]), "--weights", settings["weights"], "--data-dir", str(data_dir),
            "--out", str(out), "--no-progress", "--no-evaluate"]
    if settings.get("bits") is not None:
        argv += ["--bits", str(settings["bits"])]
    method = settings.get("method")
    if method in ("magnitude-layer", "magnitude-global"):
        argv += ["--prune-sparsity", repr(settings["sparsity"]), "--prune-scope", method.split("-")[1]]
    elif method in ("units-l1", "units-l2", "units-linf"):
        argv += ["--prune-units", str(kept_units(settings["units"], settings["sparsity"])),
                 "--prune-norm", method.split("-")[1]]
    if settings.get("finetune_epochs"):
        argv += ["--finetune-epochs", str(settings["finetune_epochs"])]
    if settings.get("storage"):
        argv += ["--storage", settings["storage"]]
    return argv


def require(module, extra):
    """Import ``module`` or raise one line saying which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise FixedRnnError(f"fixedrnn study needs {module.split('.')[0]}: python -m pip install -e "
                            f"'.[{extra}]'") from None


def _tools_module(name):
    for folder in (TOOLS, TOOLS / "firmware"):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    return importlib.import_module(name)


def nonzero_cost(model):
    """``(parameters, MACs per inference)`` counting only the weights that are not 0 (biases all):
    what a sparse kernel would store and compute."""
    from fixedrnn.schema import fc_blocks, value_at

    params = cell = head = 0
    for block in fc_blocks(model.cell):
        n = int(np.count_nonzero(value_at(model, block.attrs["weight"])))
        params += n + (int(np.size(value_at(model, block.attrs["bias"]))) if block.has_bias else 0)
        if block.cell is None:
            head += n
        else:
            cell += n
    return params, model.frames * cell + head


def host_runtime_us(model, features, repeats=3):
    """Best of ``repeats`` timed runs of the numba engine over int8 ``features`` [N, T, I]: µs per
    inference (after one untimed run)."""
    model.run_features_batch(features)
    best = min(_timed(model, features) for _ in range(repeats))
    return 1e6 * best / len(features)


def _timed(model, features):
    start = time.perf_counter()
    model.run_features_batch(features)
    return time.perf_counter() - start


def measure(settings, data_dir, mcu=True):
    """Train and measure one configuration (the Ray task): ``(row, model file bytes, training log)``;
    the row holds :data:`COLUMNS` but ``key``, ``model``."""
    from fixedrnn import budget, model as model_io
    from fixedrnn.evaluate import evaluate_model

    train = _tools_module("train")
    train_data = _tools_module("train_data")
    with tempfile.TemporaryDirectory(prefix="fixedrnn-study-") as tmp:
        out = Path(tmp) / "model.npz"
        args = train.parse_args(train_arguments(settings, data_dir, out))
        log = io.StringIO()
        with contextlib.redirect_stdout(log):
            trained = train.run_training(args)
        blob = out.read_bytes()
        model = model_io.load(out)
        recordings = train_data.recordings_for(data_dir, settings["subset"])
        tests = [r.path for r in recordings if r.split == "test"]
        result = evaluate_model(model, tests, split="test")
        report = budget.audit(model)
        cost = budget.model_cost(model)
        params_nonzero, macs_nonzero = nonzero_cost(model)
        features = model.features_batch([r.samples() for r in recordings if r.split == "test"])
        row = {"study": settings["study"], "series": settings["series"], "method": settings["method"],
               "weights": settings["weights"], "bits": settings.get("bits"), "sparsity": settings.get("sparsity"),
               "finetune_epochs": settings.get("finetune_epochs"), "units": model.units,
               "params": cost.parameters, "params_nonzero": params_nonzero, "macs": cost.per_inference,
               "macs_nonzero": macs_nonzero, "storage": model.weight_storage, "flash": report.flash_total, "ram": report.ram_total,
               "bytes": report.total, "float_accuracy": trained["float_test"], "accuracy": result.accuracy,
               "host_us": round(host_runtime_us(model, features), 3), "mcu_instructions": None,
               "mcu_instructions_plain_c": None}
        if mcu:
            counts, _ = _tools_module("count_instructions").count_model(model, Path(tmp))
            row["mcu_instructions"], row["mcu_instructions_plain_c"] = counts[True][0], counts[False][0]
    return row, blob, log.getvalue()


def check_environment(data_dir, mcu):
    """One line for whatever a study cannot run without (before any Ray task starts)."""
    for module in ("ray", "matplotlib"):
        require(module, "study")
    require("torch", "train")
    if not (TOOLS / "train.py").is_file():
        raise FixedRnnError(f"fixedrnn study trains with the repository's tools/train.py, not found at {TOOLS}: "
                            f"run it from a clone of the repository")
    if not (Path(data_dir) / "recordings").is_dir():
        raise FixedRnnError(f"--data-dir: FSDD not found at {data_dir} (no recordings/ folder)")
    if mcu and not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")):
        raise FixedRnnError("MCU instruction counts need arm-none-eabi-gcc and qemu-system-arm on PATH "
                            "(or give --no-mcu)")


def run_study(configurations, out_dir, data_dir=None, address=None, workers=None, mcu=True, progress=False):
    """Run every configuration not yet done in ``out_dir`` as a Ray task, record each as it finishes,
    then write the CSV, the table and the plots. Returns the rows (dicts of :data:`COLUMNS`) of all
    ``configurations``, in order."""
    out_dir = Path(out_dir)
    data_dir = Path(data_dir) if data_dir is not None else fsdd.default_data_dir()
    if not out_dir.parent.is_dir():
        raise FixedRnnError(f"OUT_DIR: {out_dir.parent} is not a directory")
    keys = [configuration_key(c) for c in configurations]
    if len(set(keys)) != len(keys):
        raise FixedRnnError("configurations: two of them have the same settings")
    runs, models = out_dir / "runs", out_dir / "models"
    pending = [(k, c) for k, c in zip(keys, configurations) if not (runs / f"{k}.json").is_file()]
    if pending:
        check_environment(data_dir, mcu)
        runs.mkdir(parents=True, exist_ok=True)
        models.mkdir(parents=True, exist_ok=True)
        _run_pending(pending, out_dir, data_dir, address, workers, mcu, progress)
    rows = [json.loads((runs / f"{k}.json").read_text()) for k in keys]
    write_outputs(rows, out_dir, configurations[0]["study"] if configurations else "study")
    return rows


def _run_pending(pending, out_dir, data_dir, address, workers, mcu, progress):
    ray = require("ray", "study")
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, num_cpus=workers if address is None else None, include_dashboard=False,
                 log_to_driver=False, logging_level="ERROR")
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(pending), desc="configurations", unit="run", file=sys.stderr)
    try:
        task = ray.remote(num_cpus=1)(measure)
        by_ref = {}
        for index, (key, settings) in enumerate(pending):
            by_ref[task.remote(settings, str(data_dir), mcu)] = (key, settings)
            if index == 0:  # alone first: it trains the float model the others take from the cache
                _collect(ray, by_ref, out_dir, bar)
        while by_ref:
            _collect(ray, by_ref, out_dir, bar)
    finally:
        if bar is not None:
            bar.close()
        if started:
            ray.shutdown()


def _collect(ray, by_ref, out_dir, bar):
    """Wait for one finished task, write its model, log and result (the result last: it marks the
    configuration done)."""
    done, _ = ray.wait(list(by_ref), num_returns=1)
    key, settings = by_ref.pop(done[0])
    try:
        row, blob, log = ray.get(done[0])
    except ray.exceptions.RayTaskError as exc:
        raise FixedRnnError(f"configuration {key} ({settings['series']}, bits {settings.get('bits')}, "
                            f"sparsity {settings.get('sparsity')}) failed: {str(exc.cause).splitlines()[0]}") from None
    model_path = out_dir / "models" / f"{key}.npz"
    atomicfile.write_bytes(model_path, blob)
    atomicfile.write_text(out_dir / "runs" / f"{key}.log", log)
    row = {"key": key, **row, "model": str(Path("models") / f"{key}.npz")}
    atomicfile.write_text(out_dir / "runs" / f"{key}.json", json.dumps({"settings": settings, **row}, indent=1))
    if bar is not None:
        bar.update(1)


# --- outputs ---------------------------------------------------------------------------------


def write_outputs(rows, out_dir, study):
    """``results.csv``, ``results.md`` and the plots of ``rows``."""
    text = io.StringIO()
    writer = csv.DictWriter(text, COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomicfile.write_text(out_dir / "results.csv", text.getvalue())
    atomicfile.write_text(out_dir / "results.md", markdown_table(rows, study))
    plot(rows, out_dir, study)


def _cell(value, digits=0):
    if value is None or value == "":
        return "–"
    if isinstance(value, float) and digits:
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def markdown_table(rows, study):
    """The study's rows as a Markdown table (accuracies in %)."""
    setting = "bits" if study == "bitwidth" else "sparsity"
    head = ["series", setting, "H", "params (non-zero)", "MACs / inference (non-zero)", "storage", "bytes",
            "host µs", "MCU instructions", "float %", "**integer %**"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join([
            r["series"], _cell(r[setting]), _cell(r["units"]), _cell(r["params_nonzero"]), _cell(r["macs_nonzero"]),
            _cell(r.get("storage")), _cell(r["bytes"]), _cell(r["host_us"], 1), _cell(r["mcu_instructions"]),
            f"{100 * r['float_accuracy']:.2f}", f"**{100 * r['accuracy']:.2f}**"]) + " |")
    return "\n".join(lines) + "\n"


def _series(rows, x):
    out = {}
    for r in rows:
        if r.get(x) is not None:
            out.setdefault(r["series"], []).append((r[x], 100.0 * r["accuracy"]))
    return {name: sorted(points) for name, points in out.items()}


def plot(rows, out_dir, study):
    """PNG plots: ``accuracy_vs_bits.png`` (bitwidth), ``accuracy_vs_COLUMN.png`` for every axis of
    :data:`PLOT_AXES` that has values."""
    require("matplotlib", "study")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    axes = ((("bits", "weight bits (symmetric k-bit, per tensor)"),) if study == "bitwidth" else ()) + PLOT_AXES
    for x, label in axes:
        series = _series(rows, x)
        if not series:
            continue
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for name, points in series.items():
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="o", label=name)
        if x in ("params_nonzero", "macs_nonzero", "mcu_instructions"):
            ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("accuracy (%, integer engine, FSDD test)")
        ax.set_title(f"{study} study")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
        fig.tight_layout()
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=110)
        plt.close(fig)
        atomicfile.write_bytes(out_dir / f"accuracy_vs_{x}.png", png.getvalue())


# --- command line ----------------------------------------------------------------------------


def _ints(text):
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise FixedRnnError(f"expected comma-separated integers, got {text!r}") from None


def _floats(text):
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise FixedRnnError(f"expected comma-separated numbers, got {text!r}") from None


def _names(text):
    return tuple(v.strip() for v in text.split(",") if v.strip())


def _run(args):
    base = TrainingBase(cell=args.cell, units=args.units, frames=args.frames, epochs=args.epochs,
                        qat_epochs=args.qat_epochs, copies=args.copies, subset=args.subset, seed=args.seed)
    if args.study == "bitwidth":
        configs = bitwidth_configurations(base, _ints(args.bits), _names(args.methods))
    else:
        finetune = (0, args.finetune_epochs) if args.finetune_epochs else (0,)
        configs = prune_configurations(base, _floats(args.sparsities), _names(args.methods), finetune)
    if args.workers is not None and args.workers < 1:
        raise FixedRnnError(f"--workers must be >= 1, got {args.workers}")
    rows = run_study(configs, args.out_dir, args.data_dir, args.address, args.workers, not args.no_mcu,
                     progress=not args.quiet and sys.stderr.isatty())
    print(markdown_table(rows, args.study), end="")
    print(f"wrote {args.out_dir}/results.csv, results.md and the plots ({len(rows)} configurations)")
    return 0


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "study", help="compression studies: accuracy against weight bits (PTQ, QAT) and pruning",
        description="Train and measure every configuration of a study as a Ray task; write a CSV, a "
                    "Markdown table and PNG plots into OUT_DIR (resumable: done configurations are skipped).")
    studies = parser.add_subparsers(dest="study", metavar="STUDY")
    studies.required = True
    for name, help_text in (("bitwidth", "k-bit weights, k = 2..8, post-training (PTQ) and quantization-aware (QAT)"),
                            ("prune", "unstructured (per layer, global) and structured (L1, L2, L-inf) pruning")):
        sub = studies.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="folder for the results (made if missing)")
        if name == "bitwidth":
            sub.add_argument("--bits", default=",".join(map(str, DEFAULT_BITS)), help="comma-separated k (default 2..8)")
            sub.add_argument("--methods", default=",".join(BIT_METHODS), help="ptq, qat (default both)")
        else:
            sub.add_argument("--sparsities", default=",".join(map(str, DEFAULT_SPARSITIES)),
                             help="comma-separated fractions pruned (default %(default)s)")
            sub.add_argument("--methods", default=",".join(PRUNE_METHODS), help="default: all of %(default)s")
            sub.add_argument("--finetune-epochs", type=int, default=10,
                             help="each configuration also with this many fine-tuning epochs (0: none; default 10)")
        sub.add_argument("--cell", choices=("lstm", "rnn"), default=TrainingBase.cell)
        sub.add_argument("--units", type=int, default=TrainingBase.units, help="hidden size H (default %(default)s)")
        sub.add_argument("--frames", type=int, default=TrainingBase.frames, help="T (default %(default)s)")
        sub.add_argument("--epochs", type=int, default=TrainingBase.epochs, help="float epochs (default %(default)s)")
        sub.add_argument("--qat-epochs", type=int, default=TrainingBase.qat_epochs,
                         help="QAT epochs (default %(default)s)")
        sub.add_argument("--copies", type=int, default=TrainingBase.copies,
                         help="augmented copies per training file (default %(default)s)")
        sub.add_argument("--subset", type=int, default=0, help="a small subset of FSDD (tools/train.py --subset)")
        sub.add_argument("--seed", type=int, default=0)
        sub.add_argument("--data-dir", type=Path, default=None, help="FSDD folder (default: as verify finds it)")
        sub.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray)")
        sub.add_argument("--workers", type=int, default=None, help="local Ray: parallel tasks (default: CPUs)")
        sub.add_argument("--no-mcu", action="store_true", help="skip the MCU instruction counts (QEMU)")
        sub.add_argument("--quiet", action="store_true", help="no progress bar")
        sub.set_defaults(func=_run)
    return parser
