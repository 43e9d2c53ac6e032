"""The memory audit: ``python -m fixedrnn.budget model.npz``.

Counts, item by item, the bytes a C firmware for the model holds: flash (constants) and RAM
(working buffers), against a combined budget (default 36 KiB = 36,864 bytes), the model's cost
(multiply- or shift-accumulates per frame, parameters), and the overflow audit of
:mod:`fixedrnn.overflow` (every int32 intermediate over all inputs). What is counted and why:
docs/budget.md.

The items are the firmware's layout, :mod:`fixedrnn.layout` (one C object each, as the C exporter
writes them; ``nm -S`` shows the same size for the same symbol). ``--mode window`` (the default) is
the firmware that classifies a window of T frames; ``--mode streaming`` the streaming firmware
(``export_c(..., stream=StreamConfig())``, docs/streaming.md) with the default
:class:`fixedrnn.stream.StreamConfig` (per segment for a model with cepstral mean normalisation or
an imported graph: :func:`fixedrnn.segment_stream.stream_config`); ``--mode endpoint`` the window firmware with clip endpointing
(``export_c(..., endpoint=EndpointConfig())``) with the default
:class:`fixedrnn.endpoint.EndpointConfig`.

Sizes on the command line are plain bytes or a K / KB / KiB (or M / MB / MiB) suffix; the embedded
convention is used throughout: 1 K = 1 KB = 1 KiB = 1024 bytes.

Exit codes: 0 fits, 1 over budget or an int32 can overflow, 2 unusable input.
"""

import argparse
import json
import re
import sys
from dataclasses import asdict, dataclass, fields

import numpy as np

from fixedrnn.errors import FixedRnnError, InputFileError
from fixedrnn.fixedpoint import INT32_MAX, INT32_MIN
from fixedrnn.layout import MemoryItem, flash_items, ram_items
from fixedrnn.model import Model
from fixedrnn.overflow import WHAT_ACCUMULATOR, OverflowCheck, overflow_audit
from fixedrnn.schema import GRAPH_CELL, fc_blocks, value_at

#: The default combined (flash + RAM) budget, bytes: 36 KiB.
DEFAULT_BUDGET = 36 * 1024

_SIZE_UNITS = {"": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2, "mib": 1024**2}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$")


def parse_size(text, name="size"):
    """Bytes from ``"36864"``, ``"36K"``, ``"36KB"``, ``"36KiB"``, ``"1.5K"`` (case-insensitive).

    K, KB and KiB all mean 1024 bytes, M, MB and MiB 1024**2 (the embedded convention). The result
    must be a whole number of bytes; ``FixedRnnError`` naming ``name`` otherwise.
    """
    match = _SIZE_RE.match(str(text).lower())
    if not match or match.group(2) not in _SIZE_UNITS:
        raise FixedRnnError(
            f"{name}: {text!r} is not a size; give bytes or a K/KB/KiB or M/MB/MiB suffix (1 K = 1024 bytes)"
        )
    number, unit = match.groups()
    if "." in number:
        whole, frac = number.split(".")
        value = (int(whole + frac) * _SIZE_UNITS[unit], 10 ** len(frac))
        if value[0] % value[1]:
            raise FixedRnnError(f"{name}: {text!r} is not a whole number of bytes")
        return value[0] // value[1]
    return int(number) * _SIZE_UNITS[unit]


# --------------------------------------------------------------------------------------------
# Cost


@dataclass(frozen=True)
class Cost:
    """Arithmetic of the model (front end not included).

    ``*_per_frame``: one cell step (one hop of audio). ``head_*``: the dense head, once per
    inference. ``per_inference`` = ``frames`` × per frame + head; ``per_second`` = ``frames_per_second``
    (sample_rate / hop) × per frame. Multiply-accumulates are int8 × int8 products; shift-accumulates
    are power-of-two weights applied as shifts. ``parameters`` counts weights and biases.
    """

    macs_per_frame: int
    shift_accs_per_frame: int
    head_macs: int
    head_shift_accs: int
    frames: int
    frames_per_second: float
    parameters: int

    @property
    def per_frame(self):
        return self.macs_per_frame + self.shift_accs_per_frame

    @property
    def per_inference(self):
        return self.frames * self.per_frame + self.head_macs + self.head_shift_accs

    @property
    def per_second(self):
        return self.frames_per_second * self.per_frame

    def to_dict(self):
        out = asdict(self)
        out.update(per_frame=self.per_frame, per_inference=self.per_inference, per_second=self.per_second)
        return out

    @classmethod
    def from_dict(cls, data):
        return cls(**{f.name: data[f.name] for f in fields(cls)})


def as_model(model):
    """A :class:`fixedrnn.model.Model` (or a graph model, :class:`fixedrnn.graph_model.GraphModel`)
    as is, or a mapping of a model file's arrays validated into one."""
    if not isinstance(model, Model) and getattr(model, "cell", None) != GRAPH_CELL:
        model = Model.from_arrays(model)
    return model


def graph_cost(model):
    """The :class:`Cost` of a graph model: its FULLY_CONNECTED ops' products (weight elements × input
    rows); the one writing the graph's output is the head, the others the unrolled steps. The steps'
    total is split into ``frames`` equal parts, its remainder (an unrolled graph's first step often has
    no recurrent FC) counted with the head, so ``per_inference`` is the exact total. A convolution
    (CONV_2D, DEPTHWISE_CONV_2D: filter elements × output positions) runs once per window, with the
    head. ``parameters``: the FCs' and convolutions' weights and biases, each constant once."""
    graph = model.graph
    steps = head = 0
    constants = {}
    for k in range(graph.n_ops):
        name = graph.op_name(k)
        if name not in ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D"):
            continue
        ins = graph.inputs(k)
        weights = graph.constant(ins[1])
        if name == "FULLY_CONNECTED":
            macs = weights.size * (int(np.prod(graph.shape(ins[0]))) // weights.shape[1])
        else:  # every filter tap at every output position (the ones in the padding included)
            _, out_h, out_w, _ = graph.shape(graph.outputs(k)[0])
            macs = weights.size * out_h * out_w
        if graph.output in graph.outputs(k) or name != "FULLY_CONNECTED":
            head += macs
        else:
            steps += macs
        for t in ins[1:]:
            if t >= 0:
                constants[int(graph.data_offset[t])] = int(np.prod(graph.shape(t)))
    frames = model.frames
    return Cost(macs_per_frame=steps // frames, shift_accs_per_frame=0, head_macs=head + steps % frames,
                head_shift_accs=0, frames=frames, frames_per_second=model.frontend.sample_rate / model.frontend.hop,
                parameters=sum(constants.values()))


def model_cost(model):
    """The :class:`Cost` of a model (a :class:`fixedrnn.model.Model` or its arrays): products per
    weight element (a zero power-of-two code still takes its slot in the shift-and-add loop);
    element-wise ops (ADD, TANH, gates) not counted. A graph model: :func:`graph_cost`."""
    model = as_model(model)
    if model.cell == GRAPH_CELL:
        return graph_cost(model)
    pot = model.weights == "pot"
    cell_macs = cell_shifts = head_macs = head_shifts = 0
    parameters = 0
    for block in fc_blocks(model.cell):
        n = int(value_at(model, block.attrs["weight"]).size)
        parameters += n + (int(value_at(model, block.attrs["bias"]).size) if block.has_bias else 0)
        if block.cell is None:  # the head
            head_macs, head_shifts = (0, n) if pot else (n, 0)
        elif pot:
            cell_shifts += n
        else:
            cell_macs += n
    return Cost(
        macs_per_frame=cell_macs,
        shift_accs_per_frame=cell_shifts,
        head_macs=head_macs,
        head_shift_accs=head_shifts,
        frames=model.frames,
        frames_per_second=model.frontend.sample_rate / model.frontend.hop,
        parameters=parameters,
    )


# --------------------------------------------------------------------------------------------
# The report


@dataclass(frozen=True)
class Limits:
    """Budgets in bytes: ``total`` for flash + RAM; ``flash`` / ``ram`` (None: no separate limit)."""

    total: int = DEFAULT_BUDGET
    flash: object = None
    ram: object = None


@dataclass(frozen=True)
class BudgetReport:
    """Everything ``python -m fixedrnn.budget`` prints (``--json`` is :meth:`to_dict`)."""

    model: str
    cell: str
    weights: str
    precision: str
    flash: list
    ram: list
    limits: Limits
    cost: Cost
    overflow: list
    mode: str = "window"

    @property
    def flash_total(self):
        return sum(item.nbytes for item in self.flash)

    @property
    def ram_total(self):
        return sum(item.nbytes for item in self.ram)

    @property
    def total(self):
        return self.flash_total + self.ram_total

    @property
    def margin(self):
        """Bytes left under the combined budget (negative: overshoot)."""
        return self.limits.total - self.total

    @property
    def over_budget(self):
        """Names of the budgets exceeded: "total", "flash", "ram"."""
        over = []
        if self.total > self.limits.total:
            over.append("total")
        if self.limits.flash is not None and self.flash_total > self.limits.flash:
            over.append("flash")
        if self.limits.ram is not None and self.ram_total > self.limits.ram:
            over.append("ram")
        return over

    @property
    def overflow_ok(self):
        return all(check.ok for check in self.overflow)

    @property
    def fits(self):
        return not self.over_budget and self.overflow_ok

    @property
    def exit_code(self):
        return 0 if self.fits else 1

    def to_dict(self):
        return {
            "model": self.model,
            "mode": self.mode,
            "cell": self.cell,
            "weights": self.weights,
            "precision": self.precision,
            "flash": {"items": [item.to_dict() for item in self.flash], "total": self.flash_total},
            "ram": {"items": [item.to_dict() for item in self.ram], "total": self.ram_total},
            "total": self.total,
            "budget": asdict(self.limits),
            "margin": self.margin,
            "over_budget": self.over_budget,
            "cost": self.cost.to_dict(),
            "overflow": {"ok": self.overflow_ok, "accumulations": [c.to_dict() for c in self.overflow]},
            "fits": self.fits,
            "exit_code": self.exit_code,
        }

    @classmethod
    def from_dict(cls, data):
        """Inverse of :meth:`to_dict` (derived figures are recomputed, not read)."""
        return cls(
            model=data["model"],
            cell=data["cell"],
            weights=data["weights"],
            precision=data["precision"],
            flash=[MemoryItem.from_dict(d) for d in data["flash"]["items"]],
            ram=[MemoryItem.from_dict(d) for d in data["ram"]["items"]],
            limits=Limits(**data["budget"]),
            cost=Cost.from_dict(data["cost"]),
            overflow=[OverflowCheck.from_dict(d) for d in data["overflow"]["accumulations"]],
            mode=data["mode"],
        )


#: ``--mode``: the firmware whose layout is counted.
MODES = ("window", "streaming", "endpoint")


def _check_mode(mode):
    if mode not in MODES:
        raise FixedRnnError(f"mode: must be one of {', '.join(MODES)}, got {mode!r}")


def stream_config(mode):
    """The :class:`fixedrnn.stream.StreamConfig` of a ``mode`` (None but for "streaming")."""
    _check_mode(mode)
    if mode != "streaming":
        return None
    from fixedrnn.stream import StreamConfig

    return StreamConfig()


def endpoint_config(mode):
    """The :class:`fixedrnn.endpoint.EndpointConfig` of a ``mode`` (None but for "endpoint")."""
    _check_mode(mode)
    if mode != "endpoint":
        return None
    from fixedrnn.endpoint import EndpointConfig

    return EndpointConfig()


def audit(model, limits=Limits(), name="model", mode="window"):
    """The :class:`BudgetReport` of a :class:`fixedrnn.model.Model` (or a mapping of its arrays) for
    the firmware of ``mode`` (:data:`MODES`)."""
    stream, endpoint = stream_config(mode), endpoint_config(mode)
    model = as_model(model)
    if stream is not None:
        from fixedrnn import segment_stream

        stream = segment_stream.stream_config(model, stream)  # per segment for a CMN model, a graph
    arrays = model.to_arrays()
    return BudgetReport(
        model=str(name),
        cell=model.cell,
        weights=model.weights if model.cell == GRAPH_CELL else model.weight_form.label,
        precision=model.frontend.precision,
        flash=flash_items(arrays, stream, endpoint),
        ram=ram_items(arrays, stream, endpoint),
        limits=limits,
        cost=model_cost(model),
        overflow=overflow_audit(model),
        mode=mode,
    )


def audit_file(path, limits=Limits(), mode="window"):
    """:func:`audit` of the model file at ``path`` (loaded and validated by :func:`fixedrnn.model.load`)."""
    from fixedrnn import model as model_file

    loaded = model_file.load(path)
    try:
        return audit(loaded, limits=limits, name=path, mode=mode)
    except InputFileError:
        raise
    except FixedRnnError as exc:  # e.g. a front-end configuration the tables cannot be made for
        raise InputFileError(path, str(exc)) from None


def _kib(nbytes):
    return f"{nbytes / 1024:.2f} KiB"


def format_report(report):
    """The human-readable table."""
    firmware = {"streaming": "the streaming firmware (default StreamConfig; per segment for a model with cepstral "
                             "mean normalisation or an imported graph)",
                "endpoint": f"the window firmware ({report.cost.frames} frames) with endpointing (default "
                            "EndpointConfig)"}.get(report.mode, f"the window firmware ({report.cost.frames} frames)")
    lines = [
        f"model {report.model}: {report.cell} cell, {report.weights} weights, MFCC {report.precision}; "
        f"layout of {firmware}",
        "",
    ]
    width = max([len(i.symbol) for i in report.flash + report.ram] + [24])
    header = f"  {'item':<{width}}  {'kind':<18}  {'C type':<22}  {'count':>7}  {'bytes':>7}"
    for title, items, total in (
        ("FLASH (constants)", report.flash, report.flash_total),
        ("RAM (working buffers)", report.ram, report.ram_total),
    ):
        lines += [title, header]
        for item in items:
            lines.append(
                f"  {item.symbol:<{width}}  {item.kind:<18}  {item.c_type:<22}  {item.count:>7}  {item.nbytes:>7}"
            )
        lines += [f"  {title.split()[0].lower() + ' total':<{width}}  {'':<18}  {'':<22}  {'':>7}  {total:>7}"
                  f"  ({_kib(total)})", ""]
    limits = report.limits
    lines.append(f"flash {report.flash_total} + RAM {report.ram_total} = {report.total} bytes ({_kib(report.total)})")
    verdict_total = (
        f"margin {report.margin} bytes" if report.margin >= 0 else f"OVER by {-report.margin} bytes"
    )
    lines.append(f"budget {limits.total} bytes ({_kib(limits.total)}): {verdict_total}")
    for name, limit, used in (("flash", limits.flash, report.flash_total), ("ram", limits.ram, report.ram_total)):
        if limit is not None:
            left = limit - used
            lines.append(f"{name} budget {limit} bytes: " + (f"margin {left} bytes" if left >= 0 else f"OVER by {-left} bytes"))
    cost = report.cost
    lines += [
        "",
        "cost (model only, front end excluded)",
        f"  per frame (one cell step): {cost.macs_per_frame} multiply-accumulates, "
        f"{cost.shift_accs_per_frame} shift-accumulates",
        f"  head (once per inference): {cost.head_macs} multiply-accumulates, {cost.head_shift_accs} shift-accumulates",
        f"  per inference ({cost.frames} frames + head): {cost.per_inference} accumulates",
        f"  per second of audio ({cost.frames_per_second:g} frames/s): {cost.per_second:.0f} accumulates",
        f"  parameters (weights + biases): {cost.parameters}",
        "",
        "overflow audit (every int32 intermediate, worst case over all int8 / int16 inputs)",
        f"  {'place':<{width}}  {'rows x in':>11}  {'worst low':>14}  {'worst high':>14}  {'headroom':>9}",
    ]
    for check in report.overflow:
        status = "saturates" if check.saturates else "ok" if check.ok else f"OVERFLOW (row {check.row})"
        lines.append(
            f"  {check.name:<{width}}  {f'{check.rows}x{check.inputs}':>11}  {check.low:>14}  {check.high:>14}  "
            f"{check.headroom_bits:>7.2f} b  {status}"
        )
    lines.append(f"  int32 range [{INT32_MIN}, {INT32_MAX}]")
    lines.append("")
    problems = [f"over the {name} budget" for name in report.over_budget]
    failed = [check for check in report.overflow if not check.ok]
    accumulators = [check.name for check in failed if check.what == WHAT_ACCUMULATOR]
    others = [check.name for check in failed if check.what != WHAT_ACCUMULATOR]
    if accumulators:
        problems.append(f"an accumulator can overflow ({', '.join(accumulators)})")
    if others:
        problems.append(f"an int32 can overflow in {', '.join(others)}")
    lines.append("verdict: FITS" if not problems else "verdict: FAILS: " + "; ".join(problems))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Command line

_SIZE_HELP = "plain bytes or a K/KB/KiB suffix; 1 K = 1 KB = 1 KiB = 1024 bytes (M likewise)"


def _configure(parser):
    parser.add_argument("model", help="model file (.npz, docs/model-format.md)")
    parser.add_argument("--budget", default=str(DEFAULT_BUDGET), metavar="SIZE",
                        help=f"combined flash + RAM budget (default {DEFAULT_BUDGET} = 36 KiB); {_SIZE_HELP}")
    parser.add_argument("--flash", default=None, metavar="SIZE", help=f"separate flash limit; {_SIZE_HELP}")
    parser.add_argument("--ram", default=None, metavar="SIZE", help=f"separate RAM limit; {_SIZE_HELP}")
    parser.add_argument("--mode", choices=MODES, default="window",
                        help="window: the firmware that classifies a window of T frames (default); streaming: "
                             "the streaming firmware (VAD, pre-roll, decisions; docs/streaming.md); endpoint: the "
                             "window firmware with clip endpointing (the last 'search' frames held; "
                             "docs/firmware.md)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    parser.set_defaults(func=run_budget)
    return parser


def build_parser(prog="python -m fixedrnn.budget"):
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Memory audit of a model: flash and RAM item by item against a budget, the model's "
                    "cost, and an int32 overflow audit. Exit codes: 0 fits, 1 over budget or overflow "
                    "possible, 2 unusable input.",
    )
    return _configure(parser)


def add_parser(subparsers):
    """The ``budget`` subcommand of ``python -m fixedrnn``."""
    return _configure(subparsers.add_parser(
        "budget", help="memory audit against the 36 KiB budget",
        description=build_parser().description))


def run_budget(args):
    """Run the audit for parsed arguments; print; return the exit code (0 fits, 1 fails)."""
    limits = Limits(
        total=parse_size(args.budget, "--budget"),
        flash=None if args.flash is None else parse_size(args.flash, "--flash"),
        ram=None if args.ram is None else parse_size(args.ram, "--ram"),
    )
    report = audit_file(args.model, limits=limits, mode=args.mode)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(format_report(report))
    return report.exit_code


def main(argv=None):
    from fixedrnn.cli import run

    args = build_parser().parse_args(argv)
    return run(args.func, args, prog="fixedrnn.budget")


if __name__ == "__main__":
    sys.exit(main())
