"""Several graph models that read the same int8 window → one graph model: their programs side by
side, their int8 logits added by TFLite's ADD (:func:`merge_graphs`, :func:`ensemble_model`).

The members keep every op and every integer they had; the one new op is an int8 ADD (TFLM's
``AddElementwise``: each input rescaled to a common scale at ``<< 20``, summed, requantised to the
output) per member after the first, chained ``((y0 + y1) + y2) …``. Each sum's output quantisation is
the worst case of its inputs (:func:`sum_range`): the float range ``[Σ s_j (−128 − z_j), Σ s_j (127 −
z_j)]`` (widened to hold 0), so no sum saturates. The answer is the first maximal int8 logit of the
last sum, as for any model; it approximates the argmax of the members' summed float logits to one
output LSB (a tie or a swap there is the ensemble's answer, not an error).

On a device the members run one after the other over one arena (:mod:`fixedrnn.graph_plan`): the
ensemble costs each member's program, weights and requantization, and the largest member's feature
map, not the sum of the members' budgets.
"""

from dataclasses import replace

import numpy as np

from fixedrnn.conv_graph import activation_quant
from fixedrnn.errors import FixedRnnError
from fixedrnn.graph import INT8, MAX_RANK, OP_CODES, Graph, derive_params

#: Byte alignment of each member's constants in the merged pool (as :mod:`fixedrnn.conv_graph`'s).
_ALIGN = 16


def sum_range(quants):
    """The float range ``(lo, hi)`` that the sum of int8 tensors quantised at ``quants`` ((scale,
    zero point) each) can take: every member at its int8 extremes (module doc)."""
    lo = sum(s * (-128 - z) for s, z in quants)
    hi = sum(s * (127 - z) for s, z in quants)
    return lo, hi


def _check_members(graphs):
    if len(graphs) < 2:
        raise FixedRnnError(f"an ensemble needs at least two graphs, got {len(graphs)}")
    first = graphs[0]
    for j, g in enumerate(graphs[1:], start=1):
        same_input = (g.shape(g.input) == first.shape(first.input) and g.scale(g.input) == first.scale(first.input)
                      and int(g.zero_point[g.input]) == int(first.zero_point[first.input]))
        if not same_input:
            raise FixedRnnError(f"graph {j}: its int8 input {list(g.shape(g.input))} at scale {g.scale(g.input)}, zero "
                                f"point {int(g.zero_point[g.input])} is not graph 0's {list(first.shape(first.input))} "
                                f"at {first.scale(first.input)}, {int(first.zero_point[first.input])}")
        if g.shape(g.output) != first.shape(first.output) or g.tensor_type[g.output] != INT8:
            raise FixedRnnError(f"graph {j}: its output {list(g.shape(g.output))} is not graph 0's int8 "
                                f"{list(first.shape(first.output))}")


def merge_graphs(graphs):
    """One :class:`fixedrnn.graph.Graph` computing every member's logits and their sum (module doc).
    ``graphs``: two or more graphs with the same int8 input (shape, scale, zero point) and the same
    int8 output shape ``[1, C]``. Tensors and ops of member j follow member j − 1's; member j's input
    tensor is member 0's; then the ADD ops. Every op's integers are derived again from the scales
    (:func:`fixedrnn.graph.derive_params`), so the result passes the loader's check."""
    _check_members(graphs)
    types, ranks, shapes, scales, zero_points, offsets = [], [], [], [], [], []
    blob = bytearray()
    op_code, io, io_start, counts, params = [], [], [0], [], []
    outputs = []
    x = graphs[0].input
    for g in graphs:
        base = len(types)
        remap = np.arange(g.n_tensors) + base
        if g is not graphs[0]:
            remap[g.input] = x
        blob += bytes(-len(blob) % _ALIGN)
        shift = len(blob)
        blob += g.constants.tobytes()
        for t in range(g.n_tensors):
            types.append(int(g.tensor_type[t]))
            ranks.append(int(g.tensor_rank[t]))
            shapes.append(g.tensor_shape[t])
            scales.append(g.tensor_scales(t))
            zero_points.append(int(g.zero_point[t]))
            offsets.append(int(g.data_offset[t]) + shift if g.data_offset[t] >= 0 else -1)
        for k in range(g.n_ops):
            ins, outs = g.inputs(k), g.outputs(k)
            op_code.append(int(g.op_code[k]))
            io += [int(remap[t]) if t >= 0 else -1 for t in ins] + [int(remap[t]) for t in outs]
            io_start.append(len(io))
            counts.append(len(ins))
            params.append(g.op_params(k))
        outputs.append(int(remap[g.output]))
    quant = [(float(graphs[0].scale(graphs[0].output)), int(graphs[0].zero_point[graphs[0].output]))]
    total = outputs[0]
    for j, y in enumerate(outputs[1:], start=1):
        g = graphs[j]
        quant.append((float(g.scale(g.output)), int(g.zero_point[g.output])))
        s_out, z_out = activation_quant(*sum_range(quant))
        quant = [(s_out, z_out)]
        types.append(INT8)
        ranks.append(2)
        shapes.append(graphs[0].tensor_shape[graphs[0].output])
        scales.append(np.array([s_out], np.float32))
        zero_points.append(z_out)
        offsets.append(-1)
        out = len(types) - 1
        op_code.append(OP_CODES["ADD"])
        io += [total, y, out]
        io_start.append(len(io))
        counts.append(2)
        params.append([])
        total = out
    scale_start = np.concatenate([[0], np.cumsum([len(s) for s in scales])]).astype(np.int32)
    graph = Graph(tensor_type=np.array(types, np.int32), tensor_rank=np.array(ranks, np.int32),
                  tensor_shape=np.array(shapes, np.int32).reshape(-1, MAX_RANK), scale_start=scale_start,
                  scales=np.concatenate(scales).astype(np.float32), zero_point=np.array(zero_points, np.int32),
                  data_offset=np.array(offsets, np.int32), constants=np.frombuffer(bytes(blob), np.uint8).copy(),
                  op_code=np.array(op_code, np.int32), io_start=np.array(io_start, np.int32),
                  input_count=np.array(counts, np.int32), io=np.array(io, np.int32),
                  param_start=np.concatenate([[0], np.cumsum([len(p) for p in params])]).astype(np.int32),
                  params=np.array([v for p in params for v in p], np.int32), input=x, output=total)
    derived = [[int(v) for v in derive_params(graph, k)] for k in range(graph.n_ops)]
    return replace(graph, param_start=np.concatenate([[0], np.cumsum([len(p) for p in derived])]).astype(np.int32),
                   params=np.array([v for p in derived for v in p], np.int32))


def ensemble_model(models, meta=None):
    """A :class:`fixedrnn.graph_model.GraphModel` of graph ``models`` (each a GraphModel, e.g. from
    ``tools/train.py --cell dscnn``) whose logits are the sum of theirs (:func:`merge_graphs`). They
    must agree on labels, front end, window (T) and input quantisation (MFCC → int8, window mean
    removal): one front end feeds them all. ``meta``: the new model's ``meta`` (default: none)."""
    from fixedrnn.graph_model import GraphModel

    models = list(models)
    if len(models) < 2:
        raise FixedRnnError(f"an ensemble needs at least two models, got {len(models)}")
    first = models[0]
    for j, m in enumerate(models):
        if not isinstance(m, GraphModel):
            raise FixedRnnError(f"model {j}: a {m.cell} model; an ensemble is made of graph models")
    for j, m in enumerate(models[1:], start=1):
        for what, a, b in (("labels", m.labels, first.labels), ("front end", m.frontend, first.frontend),
                           ("window (frames)", m.frames, first.frames)):
            if a != b:
                raise FixedRnnError(f"model {j}: its {what} {a!r} differ from model 0's {b!r}")
        if not m.input.same_as(first.input):
            raise FixedRnnError(f"model {j}: its input quantisation (MFCC offset, multiplier, shift, scale, zero "
                                f"point, window mean removal) differs from model 0's")
    graph = merge_graphs([m.graph for m in models])
    return GraphModel(labels=first.labels, frontend=first.frontend, frames=first.frames, input=first.input,
                      graph=graph, meta=dict(meta or {}))


def _run(args):
    from fixedrnn import budget
    from fixedrnn.budget import parse_size
    from fixedrnn.golden import file_sha256
    from fixedrnn.model import load, save

    total_budget = parse_size(args.budget, "--budget")
    if len(args.models) < 2:
        raise FixedRnnError(f"models: an ensemble needs at least two model files, got {len(args.models)}")
    if args.out.suffix != ".npz":
        raise FixedRnnError(f"--out: {args.out} must end in .npz")
    models = [load(path) for path in args.models]  # a file it refuses is named in its error
    meta = {"command": f"fixedrnn ensemble {' '.join(map(str, args.models))} --out {args.out}",
            "ensemble_of": [f"{path} sha256:{file_sha256(path)}" for path in args.models],
            "member_commands": [str(m.meta.get("command", "not recorded")) for m in models]}
    try:
        model = ensemble_model(models, meta=meta)
    except FixedRnnError as exc:
        raise FixedRnnError(f"{' + '.join(map(str, args.models))}: {exc}") from None
    report = budget.audit(model, name=str(args.out))
    save(model, args.out)
    over = report.total > total_budget
    verdict = f"over by {report.total - total_budget}" if over else f"margin {total_budget - report.total}"
    print(f"{args.out}: {len(models)} graph models, logits added ({model.graph.n_ops} ops); "
          f"{report.total} bytes of the {total_budget} budget ({verdict})")
    return 1 if over else 0


def add_parser(subparsers):
    from pathlib import Path

    parser = subparsers.add_parser(
        "ensemble", help="merge graph models into one whose logits are their sum",
        description="Merge two or more graph models (e.g. DS-CNNs of tools/train.py --cell dscnn) that share "
                    "labels, front end, window and input quantisation into one graph model: their programs "
                    "side by side, their int8 logits added (TFLite ADD), one arena on the device. Prints the "
                    "budget; exit 1 when over it (the file is written all the same).")
    parser.add_argument("models", nargs="+", type=Path, help="graph model files (.npz), two or more")
    parser.add_argument("--out", type=Path, required=True, help="the ensemble's model file (.npz)")
    parser.add_argument("--budget", default="36K", metavar="SIZE",
                        help="the budget to report against (default 36K; bytes or a K / KB / KiB suffix)")
    parser.set_defaults(func=_run)
