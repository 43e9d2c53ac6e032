"""The firmware form of a graph model (:class:`fixedrnn.graph.Graph`): the program the C graph
executor (``fixedrnn/c/model/frnn_graph.c``) runs, its constant pools and its RAM arena.

Built once per graph by :func:`plan`, used by the memory layout (:mod:`fixedrnn.layout`, the
budget) and the C exporter (:mod:`fixedrnn.c_export`), so both count and write the same objects:

- **Views.** A data move (RESHAPE, UNPACK, SPLIT, SPLIT_V, STRIDED_SLICE, CONCATENATION) whose
  output is one contiguous run of its input (every RESHAPE, UNPACK along the first real axis, SPLIT
  of the last axis, ...) is not executed: the output is a view, the input's buffer at a byte offset.
  Any other data move is a COPY op of contiguous runs (bytes), computed here from the op's
  :mod:`fixedrnn.ops.data_move` function on element indices.
- **Constants, stored once.** The int8 constants the ops read at run time (FULLY_CONNECTED weights,
  constant ADD / SUB / MUL operands, a scalar operand repeated to the output's size) in one int8 pool
  ``fr_graph_s8``; the int32 ones (biases, FULLY_CONNECTED multipliers and shifts) in one int32 pool
  ``fr_graph_s32``; equal arrays share one copy (the unrolled steps' weights are stored once).
  Constants read only by TFLM's Prepare (axes, sizes, begin / end / strides) are folded into the
  program.
- **The arena** (``fr_graph_arena``, int32 words so every buffer is 4-byte aligned): one buffer per
  computed tensor that is not a view, live from the op that writes it to the last op that reads it
  (or a view of it); the graph's output to the end. Offsets by TFLM's greedy memory planner rule
  (``GreedyMemoryPlanner``): buffers in order of decreasing size (ties: earlier first), each at the
  lowest 4-aligned offset where it overlaps no placed buffer whose lifetime overlaps its own. The
  arena's size is the largest end; :attr:`GraphPlan.live_peak` (the most bytes live at one op) is
  the least any plan could use.
- **Convolutions and pools** (CONV_2D and DEPTHWISE_CONV_2D as one op, CONV; AVERAGE_POOL_2D;
  MEAN over the map of an NHWC tensor): the filter in the int8 pool, bias, per-channel multipliers
  and shifts in the int32 pool, the shapes, strides and the padding before the first row and
  column (:mod:`fixedrnn.ops.conv`) in the program. A pointwise or depthwise convolution that keeps
  its input's shape and is its input's only reader runs **in place** (:func:`in_place_scratch`):
  its output is its input's buffer, the rows and pixels still to be read kept in the int8 scratch
  ``fr_graph_scratch``, so a DS-CNN's arena holds one feature map, not two; the results are the same
  integers (the executor reads every input before it overwrites it).
- **The program** (``fr_graph_program``, int32): per op its code (:data:`OPCODES`, written into
  ``frnn_model.h`` as ``FRNN_GRAPH_OP_*``) then its fields (:data:`FIELDS`). A tensor operand is a
  *reference* ``offset · 4 + space``: :data:`SPACES` (arena: byte offset; input window: byte offset;
  int8 pool: element; int32 pool: element). Float32 scales travel as their IEEE bits.
"""

from dataclasses import dataclass

import numpy as np

from fixedrnn.errors import FixedRnnError
from fixedrnn.graph import STRUCTURE_COUNTS
from fixedrnn.ops.conv import padding_before
from fixedrnn.ops.pooling import mean_rescale

#: The executor's op codes (frnn_model.h: FRNN_GRAPH_OP_<name>).
OPCODES = {"FULLY_CONNECTED": 1, "ADD": 2, "SUB": 3, "MUL": 4, "TANH": 5, "LOGISTIC": 6, "DEQUANTIZE": 7,
           "QUANTIZE": 8, "COPY": 9, "CONV": 10, "AVERAGE_POOL_2D": 11, "MEAN": 12}
#: Each op's int32 fields after its code, in program order (COPY: then ``runs`` triples
#: ``dst, src, bytes``).
FIELDS = {
    "FULLY_CONNECTED": ("x", "weights", "bias", "multiplier", "shift", "per_channel", "n_in", "n_out", "rows",
                        "input_offset", "output_offset", "y"),
    "ADD": ("a", "b", "n", "input1_offset", "input2_offset", "output_offset", "input1_multiplier", "input1_shift",
            "input2_multiplier", "input2_shift", "output_multiplier", "output_shift", "y"),
    "SUB": ("a", "b", "n", "input1_offset", "input2_offset", "output_offset", "input1_multiplier", "input1_shift",
            "input2_multiplier", "input2_shift", "output_multiplier", "output_shift", "y"),
    "MUL": ("a", "b", "n", "input1_offset", "input2_offset", "output_offset", "multiplier", "shift", "y"),
    "TANH": ("x", "n", "zero_point", "radius", "multiplier", "shift", "y"),
    "LOGISTIC": ("x", "n", "zero_point", "radius", "multiplier", "shift", "y"),
    "DEQUANTIZE": ("x", "n", "zero_point", "scale_bits", "y"),
    "QUANTIZE": ("x", "n", "zero_point", "scale_bits", "y"),
    "COPY": ("runs",),
    # CONV_2D and DEPTHWISE_CONV_2D (depth_multiplier 0: CONV_2D), NHWC, batch 1
    "CONV": ("x", "weights", "bias", "multiplier", "shift", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c",
             "k_h", "k_w", "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_h", "pad_w", "depth_multiplier",
             "input_offset", "output_offset", "act_min", "act_max", "in_place", "y"),
    "AVERAGE_POOL_2D": ("x", "in_h", "in_w", "c", "out_h", "out_w", "f_h", "f_w", "stride_h", "stride_w", "pad_h",
                        "pad_w", "act_min", "act_max", "y"),
    # MEAN over axes 1 and 2 of [1, H, W, C]: n = H·W, the rescale with 1/n folded in (ops.pooling)
    "MEAN": ("x", "n", "c", "input_offset", "multiplier", "shift", "output_offset", "y"),
}
#: Reference spaces (frnn_model.h: FRNN_GRAPH_SPACE_<name>).
SPACES = {"ARENA": 0, "INPUT": 1, "S8": 2, "S32": 3}
#: The most filter rows a convolution may have (FRNN_GRAPH_MAX_KERNEL_ROWS: the executor's row pointers).
MAX_KERNEL_ROWS = 16
#: Byte alignment of every arena buffer.
ALIGN = 4
#: No bias: the FULLY_CONNECTED ``bias`` field.
NO_REFERENCE = -1
_MOVES = ("RESHAPE", "UNPACK", "SPLIT", "SPLIT_V", "STRIDED_SLICE", "CONCATENATION")
_ITEMSIZE = {0: 4, 2: 4, 7: 2, 9: 1}


def reference(space, offset):
    """The int32 reference of ``offset`` in ``space`` (a key of :data:`SPACES`)."""
    return int(offset) * 4 + SPACES[space]


@dataclass(frozen=True)
class Buffer:
    """One arena buffer: the computed ``tensor`` it holds, ``nbytes``, ``first`` (the op writing it)
    and ``last`` (the last op reading it; ``n_ops`` for the graph's output), its byte ``offset``."""

    tensor: int
    nbytes: int
    first: int
    last: int
    offset: int


@dataclass(frozen=True, eq=False)
class GraphPlan:
    """The firmware form of a graph (module doc): ``program`` int32, ``s8`` int8 and ``s32`` int32
    pools, ``buffers`` (the arena plan), ``arena_bytes``, ``live_peak``, ``output`` (the reference
    of the graph's output [C]), ``executed`` (ops in the program), ``scratch_bytes`` (the int8
    scratch ``fr_graph_scratch``: the rows of the convolutions run in place, :func:`in_place_scratch`,
    then the patch of :func:`patch_bytes` at its end; 0: none), ``in_place`` (how many ops run in
    place) and ``patch_bytes``."""

    program: np.ndarray
    s8: np.ndarray
    s32: np.ndarray
    buffers: tuple
    arena_bytes: int
    live_peak: int
    output: int
    executed: int
    scratch_bytes: int = 0
    in_place: int = 0
    patch_bytes: int = 0

    @property
    def arena_words(self):
        """int32 words of ``fr_graph_arena``."""
        return -(-self.arena_bytes // 4)


class _Pool:
    """Constant arrays of one dtype, equal ones stored once."""

    def __init__(self, dtype):
        self.dtype, self.parts, self.size, self.where = dtype, [], 0, {}

    def add(self, values):
        values = np.ascontiguousarray(np.asarray(values).reshape(-1).astype(self.dtype))
        key = values.tobytes()
        if key not in self.where:
            self.where[key] = self.size
            self.parts.append(values)
            self.size += values.size
        return self.where[key]

    def array(self):
        return np.concatenate(self.parts) if self.parts else np.zeros(0, self.dtype)


def _size(graph, t):
    return int(np.prod(graph.shape(t), dtype=np.int64))


def _nbytes(graph, t):
    return _size(graph, t) * _ITEMSIZE[int(graph.tensor_type[t])]


def _move_sources(graph, k, steps):
    """Per output of data move ``k``: int64 ``[n]`` of ``input number << 32 | element`` each
    output element comes from (the op's function run on element indices)."""
    fn, ins, _ = steps[k]
    numbered = [(np.int64(i) << 32) + np.arange(_size(graph, t), dtype=np.int64).reshape(graph.shape(t))
                for i, t in enumerate(ins)]
    return ins, [np.asarray(v).reshape(-1) for v in fn(*numbered)]


def _greedy(sizes, first, last):
    """TFLM's greedy placement (module doc): byte offsets of buffers ``sizes`` live ``[first, last]``."""
    order = sorted(range(len(sizes)), key=lambda i: (-sizes[i], first[i], i))
    placed, offsets = [], [0] * len(sizes)
    for i in order:
        overlapping = sorted((offsets[j], offsets[j] + sizes[j]) for j in placed
                             if first[j] <= last[i] and first[i] <= last[j])
        offset = 0
        for start, end in overlapping:
            if offset + sizes[i] <= start:
                break
            offset = max(offset, -(-end // ALIGN) * ALIGN)
        offsets[i] = offset
        placed.append(i)
    return offsets


def _conv_fields(graph, k, p, input_zero_point, output_zero_point, s8, s32):
    """The CONV fields (:data:`FIELDS`) of CONV_2D or DEPTHWISE_CONV_2D op ``k`` (``x``, ``y`` aside):
    its filter in the int8 pool, bias, per-channel multipliers and shifts in the int32 pool."""
    name, ins, outs = graph.op_name(k), graph.inputs(k), graph.outputs(k)
    n = STRUCTURE_COUNTS[name]
    (_, h, w, c), (_, oh, ow, oc) = graph.shape(ins[0]), graph.shape(outs[0])
    weight = graph.constant(ins[1])
    kh, kw = weight.shape[1:3]
    if kh > MAX_KERNEL_ROWS:
        raise FixedRnnError(f"op {k} {name}: a filter of {kh} rows; the C graph executor takes up to {MAX_KERNEL_ROWS}")
    padding, sh, sw, dh, dw = p[:5]
    has_bias = len(ins) > 2 and ins[2] >= 0
    return dict(weights=reference("S8", s8.add(weight)),
                bias=reference("S32", s32.add(graph.constant(ins[2]))) if has_bias else NO_REFERENCE,
                multiplier=reference("S32", s32.add(p[n + 2:n + 2 + oc])), shift=reference("S32", s32.add(p[n + 2 + oc:])),
                in_h=h, in_w=w, in_c=c, out_h=oh, out_w=ow, out_c=oc, k_h=kh, k_w=kw, stride_h=sh, stride_w=sw,
                dilation_h=dh, dilation_w=dw, pad_h=padding_before(padding, h, kh, sh, dh),
                pad_w=padding_before(padding, w, kw, sw, dw),
                depth_multiplier=p[6] if name == "DEPTHWISE_CONV_2D" else 0, input_offset=-input_zero_point,
                output_offset=output_zero_point, act_min=p[n], act_max=p[n + 1])


def patch_bytes(graph, k):
    """Bytes of the patch a CONV_2D with a filter larger than 1 × 1 gathers per output pixel
    (``KH · KW · I``: the executor runs it as a FULLY_CONNECTED of the patch); 0 for other ops."""
    if graph.op_name(k) != "CONV_2D":
        return 0
    _, kh, kw, c = graph.constant(graph.inputs(k)[1]).shape
    return 0 if (kh, kw) == (1, 1) else int(kh * kw * c)


def in_place_scratch(graph, k):
    """Bytes of scratch op ``k`` needs to run in place (its output over its input), or None when it
    cannot: a CONV_2D 1 × 1 at stride 1 keeping the channel count (a row's outputs, then copied over
    its inputs: ``W · C`` bytes), a DEPTHWISE_CONV_2D of depth multiplier 1, strides and dilations 1
    and the input's size (each output row kept until its input row is no longer read: the ``pad_h``
    input rows above it and the row itself, ``(pad_h + 1) · W · C`` bytes)."""
    name = graph.op_name(k)
    if name not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        return None
    p = graph.op_params(k)
    (_, h, w, c), (_, oh, ow, oc) = graph.shape(graph.inputs(k)[0]), graph.shape(graph.outputs(k)[0])
    kh, kw = graph.constant(graph.inputs(k)[1]).shape[1:3]
    if (oh, ow, oc) != (h, w, c) or tuple(p[1:5]) != (1, 1, 1, 1):
        return None
    if name == "CONV_2D":
        return w * c if (kh, kw) == (1, 1) else None
    if p[6] != 1:
        return None
    return (padding_before(p[0], h, kh, 1, 1) + 1) * w * c


def _overwritable(graph, k, t, root, readers):
    """Whether op ``k`` may write over its input ``t``: ``t`` is a whole arena buffer (or an alias of
    one, offset 0, same size), and no op after ``k`` reads ``t`` or anything sharing its buffer
    (``readers``: the graph ops reading each tensor, −1 for a data move, whose views' readers are
    unknown here)."""
    space, base, offset = root.get(t, ("", None, 0))
    if space != "ARENA" or offset != 0 or _nbytes(graph, base) != _nbytes(graph, t) or t == graph.output:
        return False
    aliases = [u for u, r in root.items() if r[0] == "ARENA" and r[1] == base]
    return all(-1 not in readers.get(u, []) and max(readers.get(u, [k])) <= k for u in aliases)


def plan(graph):
    """The :class:`GraphPlan` of ``graph``; ``FixedRnnError`` naming the op the executor cannot run
    (a broadcast of a computed tensor, a data move of a constant)."""
    steps, _ = graph.prepared
    n_ops = graph.n_ops
    readers = {}  # tensor -> the ops reading it (a view's readers read its root too: see below)
    for k in range(n_ops):
        for t in graph.inputs(k):
            readers.setdefault(t, []).append(k)
    for k in range(n_ops):  # a data move's input is read by whoever reads its outputs
        if graph.op_name(k) in _MOVES:
            for t in graph.inputs(k)[:1]:
                readers[t] = readers.get(t, []) + [-1]
    scratch_bytes = in_place = patch_max = 0
    root = {graph.input: ("INPUT", graph.input, 0)}  # tensor -> (space, root tensor, byte offset)
    s8, s32 = _Pool(np.int8), _Pool(np.int32)
    ops, reads, writes = [], {}, {}  # ops: (name, {field: value}, tensors read, tensors written)

    def computed(t, k, what):
        if t not in root:
            raise FixedRnnError(f"op {k} {graph.op_name(k)}: {what} (tensor {t}) is a constant or not yet computed; "
                                f"the C graph executor takes only computed tensors there")
        return root[t]

    def operand(t, k, n):
        """The reference of an int8 element-wise operand of ``n`` elements."""
        if graph.data_offset[t] >= 0:
            value = graph.constant(t).reshape(-1)
            if value.size not in (1, n):
                raise FixedRnnError(f"op {k} {graph.op_name(k)}: constant tensor {t} of {value.size} elements "
                                    f"does not broadcast to {n}")
            return reference("S8", s8.add(np.broadcast_to(value, n)))
        if _size(graph, t) != n:
            raise FixedRnnError(f"op {k} {graph.op_name(k)}: tensor {t} has {_size(graph, t)} elements, the output "
                                f"{n}: the C graph executor broadcasts constants only")
        return ref(t, k)

    def ref(t, k):
        space, base, offset = computed(t, k, "an input")
        reads.setdefault(base, []).append(len(ops))
        return (space, base, offset)  # resolved to a number once the arena is planned

    def output(t, k):
        root[t] = ("ARENA", t, 0)
        writes[t] = len(ops)
        return ("ARENA", t, 0)

    for k in range(n_ops):
        name, ins, outs, p = graph.op_name(k), graph.inputs(k), graph.outputs(k), graph.op_params(k)
        zero = [int(graph.zero_point[t]) if t >= 0 else 0 for t in ins]
        zo = int(graph.zero_point[outs[0]])
        if name in _MOVES:
            sources, maps = _move_sources(graph, k, steps)
            itemsize = _ITEMSIZE[int(graph.tensor_type[outs[0]])]
            runs = []
            for t, src in zip(outs, maps):
                first_input, elems = src[0] >> 32 if src.size else 0, src & 0xFFFFFFFF
                if src.size and np.all(src >> 32 == first_input) and np.all(np.diff(elems) == 1):
                    space, base, offset = computed(sources[int(first_input)], k, "the data")
                    root[t] = (space, base, offset + int(elems[0]) * itemsize)
                    continue
                dst = output(t, k)
                cuts = np.flatnonzero(np.diff(src) != 1) + 1
                for start, stop in zip(np.r_[0, cuts], np.r_[cuts, src.size]):
                    tensor = sources[int(src[start] >> 32)]
                    space, base, offset = ref(tensor, k)
                    runs.append((dst[:2] + (dst[2] + int(start) * itemsize,),
                                 (space, base, offset + int(src[start] & 0xFFFFFFFF) * itemsize),
                                 int(stop - start) * itemsize))
            if runs:
                ops.append(("COPY", {"runs": runs}))
            continue
        if name == "FULLY_CONNECTED":
            weight = graph.constant(ins[1])
            n_out, n_in = weight.shape
            rows = _size(graph, ins[0]) // n_in
            m, s = np.asarray(p[:n_out]), np.asarray(p[n_out:])
            per_channel = int(np.any(m != m[0]) or np.any(s != s[0]))
            has_bias = len(ins) > 2 and ins[2] >= 0
            fields = dict(x=ref(ins[0], k), weights=reference("S8", s8.add(weight)),
                          bias=reference("S32", s32.add(graph.constant(ins[2]))) if has_bias else NO_REFERENCE,
                          multiplier=reference("S32", s32.add(m if per_channel else m[:1])),
                          shift=reference("S32", s32.add(s if per_channel else s[:1])), per_channel=per_channel,
                          n_in=n_in, n_out=n_out, rows=rows, input_offset=-zero[0], output_offset=zo)
        elif name in ("ADD", "SUB"):
            n = _size(graph, outs[0])
            fields = dict(a=operand(ins[0], k, n), b=operand(ins[1], k, n), n=n, input1_offset=-zero[0],
                          input2_offset=-zero[1], output_offset=zo, input1_multiplier=p[0], input1_shift=p[1],
                          input2_multiplier=p[2], input2_shift=p[3], output_multiplier=p[4], output_shift=p[5])
        elif name == "MUL":
            n = _size(graph, outs[0])
            fields = dict(a=operand(ins[0], k, n), b=operand(ins[1], k, n), n=n, input1_offset=-zero[0],
                          input2_offset=-zero[1], output_offset=zo, multiplier=p[0], shift=p[1])
        elif name in ("TANH", "LOGISTIC"):
            fields = dict(x=ref(ins[0], k), n=_size(graph, ins[0]), zero_point=zero[0], radius=p[2],
                          multiplier=p[0], shift=p[1])
        elif name in ("DEQUANTIZE", "QUANTIZE"):
            scale = graph.scale(ins[0] if name == "DEQUANTIZE" else outs[0])
            fields = dict(x=ref(ins[0], k), n=_size(graph, ins[0]),
                          zero_point=zero[0] if name == "DEQUANTIZE" else zo,
                          scale_bits=int(np.array(scale, np.float32).view(np.int32)))
        elif name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            fields = _conv_fields(graph, k, p, zero[0], zo, s8, s32)
            fields["x"] = ref(ins[0], k)
            patch = patch_bytes(graph, k)
            patch_max = max(patch_max, patch)
            scratch = in_place_scratch(graph, k)
            if scratch is not None and _overwritable(graph, k, ins[0], root, readers):
                # the output overwrites the input, its only reader: no second buffer
                fields.update(in_place=1, y=fields["x"])
                root[outs[0]] = root[ins[0]]
                scratch_bytes = max(scratch_bytes, scratch)
                in_place += 1
                ops.append(("CONV", fields))
                continue
            fields["in_place"] = 0
            name = "CONV"
        elif name == "AVERAGE_POOL_2D":
            (_, h, w, c), (_, oh, ow, _) = graph.shape(ins[0]), graph.shape(outs[0])
            fields = dict(x=ref(ins[0], k), in_h=h, in_w=w, c=c, out_h=oh, out_w=ow, f_h=p[3], f_w=p[4],
                          stride_h=p[1], stride_w=p[2], pad_h=padding_before(p[0], h, p[3], p[1], 1),
                          pad_w=padding_before(p[0], w, p[4], p[2], 1), act_min=p[6], act_max=p[7])
        elif name == "MEAN":
            shape = graph.shape(ins[0])
            axes = sorted({int(a) % len(shape) for a in graph.constant(ins[1]).reshape(-1)})
            if len(shape) != 4 or axes != [1, 2] or shape[0] != 1:
                raise FixedRnnError(f"op {k} MEAN: the C graph executor takes the mean over axes 1 and 2 of [1, H, W, "
                                    f"C], not axes {axes} of {list(shape)}")
            n = shape[1] * shape[2]
            m, sh = mean_rescale(p[1], p[2], n)
            fields = dict(x=ref(ins[0], k), n=n, c=shape[3], input_offset=-zero[0], multiplier=m, shift=sh,
                          output_offset=zo)
        else:
            raise FixedRnnError(f"op {k}: {name} is not run by the C graph executor")
        fields["y"] = output(outs[0], k)
        ops.append((name, fields))

    out_space, out_base, out_offset = root[graph.output]
    tensors = sorted(writes, key=lambda t: writes[t])
    first = [writes[t] for t in tensors]
    last = [len(ops) if t == out_base else max(reads.get(t, [writes[t]])) for t in tensors]
    sizes = [-(-_nbytes(graph, t) // ALIGN) * ALIGN for t in tensors]
    offsets = dict(zip(tensors, _greedy(sizes, first, last)))
    buffers = tuple(Buffer(t, _nbytes(graph, t), f, l, offsets[t]) for t, f, l in zip(tensors, first, last))
    live_peak = max((sum(s for s, f, l in zip(sizes, first, last) if f <= i <= l) for i in range(len(ops) + 1)),
                    default=0)
    arena = max((b.offset + size for b, size in zip(buffers, sizes)), default=0)

    def number(value):
        if isinstance(value, tuple):
            space, base, offset = value
            return reference(space, offset + (offsets[base] if space == "ARENA" else 0))
        return int(value)

    program = []
    for name, fields in ops:
        program.append(OPCODES[name])
        if name == "COPY":
            program.append(len(fields["runs"]))
            for dst, src, nbytes in fields["runs"]:
                program += [number(dst), number(src), nbytes]
        else:
            program += [number(fields[f]) for f in FIELDS[name]]
    return GraphPlan(program=np.array(program, np.int32), s8=s8.array(), s32=s32.array(), buffers=buffers,
                     arena_bytes=int(arena), live_peak=int(live_peak),
                     output=number((out_space, out_base, out_offset)), executed=len(ops),
                     scratch_bytes=int(scratch_bytes + patch_max), in_place=in_place, patch_bytes=int(patch_max))
