"""The firmware's memory layout: one C object per flash constant and RAM buffer, with its size.

The C exporter writes exactly these objects and the budget counts exactly these
(``python -m fixedrnn.budget``): :func:`flash_items` and :func:`ram_items` return
:class:`MemoryItem` records with the C symbol, element C type, element count and bytes; ``nm -S`` on
the firmware shows the same size for the same symbol (tests/test_budget.py, tests/test_c_export.py).

The model's flash items are the device keys of :mod:`fixedrnn.schema` (named by
:func:`fixedrnn.schema.symbol_for`); the front end's are CMSIS-DSP's tables and instances for the
model's FFT length. Every function takes the model's flat ``{key: array}`` mapping
(:meth:`fixedrnn.model.Model.to_arrays` or a loaded file's arrays).
"""

from dataclasses import asdict, dataclass, fields

import numpy as np

from fixedrnn import pot_pairs, sparse
from fixedrnn.errors import FixedRnnError
from fixedrnn.schema import CMN_KEY, GRAPH_CELL, SPECS, SYMBOL_PREFIX, keys_for, symbol_for
from fixedrnn.weight_forms import WeightForm

__all__ = [
    "C_TYPE_BYTES", "FrontendShape", "MemoryItem", "SIGMOID_TABLE_ENTRIES", "SQRT_LUT_ENTRIES", "SYMBOL_PREFIX",
    "TANH_TABLE_ENTRIES", "TANH_EXP_MULTIPLIERS", "bitrev_table_length", "cfft_twiddle_count", "check_options",
    "cmn_of", "endpoint_ram_items", "front_end_c_type", "flash_items", "frontend_flash_items", "frontend_ram_items",
    "frontend_shape",
    "graph_flash_items", "graph_plan_of", "graph_ram_items", "mfcc_scratch_count", "model_flash_items",
    "model_ram_items", "model_stream_ram_items", "ram_items", "rfft_coef_count", "sparse_items", "sparse_symbol",
    "stream_preroll", "stream_ram_items", "symbol_for",
]

#: C element types and their sizes on the target (ARMv7-M, AAPCS: 4-byte pointers).
C_TYPE_BYTES = {
    "int8_t": 1,
    "uint8_t": 1,
    "int16_t": 2,
    "uint16_t": 2,
    "int32_t": 4,
    "uint32_t": 4,
    "q15_t": 2,
    "q31_t": 4,
    # CMSIS-DSP instance structures, non-MVE / non-Neon build (Cortex-M4), AAPCS layout; checked
    # with arm-none-eabi-gcc -mcpu=cortex-m4 on CMSIS-DSP's transform_functions.h: nm -S gives
    # 0x10, 0x18, 0x38.
    "arm_cfft_instance_q15": 16,  # uint16 fftLen (+2 pad), 2 pointers, uint16 bitRevLength (+2 pad)
    "arm_cfft_instance_q31": 16,
    "arm_rfft_instance_q15": 24,  # uint32, 2 x uint8 (+2 pad), uint32, 3 pointers
    "arm_rfft_instance_q31": 24,
    "arm_mfcc_instance_q15": 56,  # 5 pointers, 3 x uint32, arm_rfft_instance (24)
    "arm_mfcc_instance_q31": 56,
}

@dataclass(frozen=True)
class MemoryItem:
    """One C object of the firmware: ``<c_type> <symbol>[<count>]``, ``nbytes`` bytes.

    ``region`` is "flash" (``const``, in .rodata) or "ram" (.bss); ``kind`` groups items in the
    report (weights, bias, requantization, activation table, weight table, front-end table, front-end instance,
    audio, front-end scratch, features, state, gate scratch, logits, stream state); ``source`` says where the
    contents come from (a model key, a CMSIS-DSP table, or a buffer's role).
    """

    symbol: str
    c_type: str
    count: int
    nbytes: int
    kind: str
    region: str
    source: str = ""
    shape: tuple = ()

    @classmethod
    def of(cls, symbol, c_type, count, kind, region, source="", shape=()):
        """An item of ``count`` elements of ``c_type``; bytes from :data:`C_TYPE_BYTES`."""
        count = int(count)
        return cls(symbol, c_type, count, count * C_TYPE_BYTES[c_type], kind, region, source,
                   tuple(int(s) for s in (shape or (count,))))

    @property
    def is_instance(self):
        """True for a CMSIS-DSP instance structure (one object, not an array)."""
        return self.c_type.startswith("arm_")

    def c_declaration(self):
        """The C declaration the firmware gives this item (without initializer or ';'), e.g.
        ``const int8_t fr_head_weight[160]`` or ``int16_t fr_cell_state[32]``."""
        const = "const " if self.region == "flash" else ""
        extent = "" if self.is_instance else f"[{self.count}]"
        return f"{const}{self.c_type} {self.symbol}{extent}"

    def to_dict(self):
        out = asdict(self)
        out["shape"] = list(self.shape)
        return out

    @classmethod
    def from_dict(cls, data):
        data = dict(data)
        data["shape"] = tuple(data.get("shape", ()))
        return cls(**data)


# ---- CMSIS-DSP transform tables, length-specific -------------------------------------------


def _check_fft_length(n, lo=32, hi=8192):
    if not (isinstance(n, (int, np.integer)) and lo <= n <= hi and n & (n - 1) == 0):
        raise FixedRnnError(f"fft_length must be a power of two in {lo}..{hi}, got {n!r}")
    return int(n)


def cfft_twiddle_count(length):
    """Elements of CMSIS-DSP's ``twiddleCoef_<L>_q15/_q31`` for a complex FFT of ``length``:
    3L/4 complex values (cos, sin interleaved), i.e. 3L/2 numbers."""
    return 3 * int(length) // 2


def bitrev_table_length(length):
    """Entries of CMSIS-DSP's ``armBitRevIndexTable_fixed_<L>`` (uint16): two per swapped pair of
    the bit-reversal permutation, L − 2**ceil(log2(L)/2) (the palindromic indices stay put)."""
    bits = int(length).bit_length() - 1
    return int(length) - 2 ** ((bits + 1) // 2)


def rfft_coef_count(fft_length):
    """Elements of each real-FFT split table (``realCoefA``/``realCoefB``) a length-N real FFT
    uses with a twiddle modifier of 1: N/2 complex values, N numbers. (CMSIS-DSP ships one
    8192-element table per type for all lengths, read with stride 8192/N; a firmware built for
    one length stores only these N.)"""
    return int(fft_length)


#: Entries of CMSIS-DSP's ``sqrt_initial_lut_q31`` (the Newton start values of ``arm_sqrt_q31``,
#: which the MFCC magnitude uses in both precisions).
SQRT_LUT_ENTRIES = 32


def mfcc_scratch_count(fft_length, precision):
    """Elements of the ``pTmp`` buffer ``arm_mfcc_q15``/``_q31`` needs (RFFT build): the real FFT's
    output, 2N numbers of the precision; declared ``q31_t`` as the API does, so N (q15) or 2N (q31)."""
    return int(fft_length) if precision == "q15" else 2 * int(fft_length)


@dataclass(frozen=True)
class FrontendShape:
    """What sizes the front end's constants and buffers: from the model's ``frontend.*`` keys and
    the table lengths of :func:`fixedrnn.mfcc.make_tables` (``filter_coef_count`` = sum of the mel
    filter lengths)."""

    precision: str
    fft_length: int
    n_mels: int
    n_mfcc: int
    filter_coef_count: int


def frontend_flash_items(shape):
    """Flash items of the MFCC front end (CMSIS-DSP ``arm_mfcc_<precision>``, RFFT build)."""
    q = shape.precision
    qt = f"{q}_t"
    n = _check_fft_length(shape.fft_length)
    half = n // 2  # the real FFT of N runs a complex FFT of N/2
    flash = "flash"
    return [
        MemoryItem.of(f"{SYMBOL_PREFIX}mfcc_window", qt, n, "front-end table", flash, "window, fft_length"),
        MemoryItem.of(f"{SYMBOL_PREFIX}mfcc_filter_pos", "uint32_t", shape.n_mels, "front-end table", flash,
                      "mel filter first bins"),
        MemoryItem.of(f"{SYMBOL_PREFIX}mfcc_filter_lengths", "uint32_t", shape.n_mels, "front-end table", flash,
                      "mel filter lengths"),
        MemoryItem.of(f"{SYMBOL_PREFIX}mfcc_filter_coefs", qt, shape.filter_coef_count, "front-end table", flash,
                      "mel filter coefficients, packed"),
        MemoryItem.of(f"{SYMBOL_PREFIX}mfcc_dct", qt, shape.n_mfcc * shape.n_mels, "front-end table", flash,
                      "DCT-II matrix [n_mfcc, n_mels]", (shape.n_mfcc, shape.n_mels)),
        MemoryItem.of(f"{SYMBOL_PREFIX}rfft_coef_a", qt, rfft_coef_count(n), "front-end table", flash,
                      f"realCoefA{q.upper()} for N={n} (stride 1)"),
        MemoryItem.of(f"{SYMBOL_PREFIX}rfft_coef_b", qt, rfft_coef_count(n), "front-end table", flash,
                      f"realCoefB{q.upper()} for N={n} (stride 1)"),
        MemoryItem.of(f"{SYMBOL_PREFIX}cfft_twiddle", qt, cfft_twiddle_count(half), "front-end table", flash,
                      f"twiddleCoef_{half}_{q}"),
        MemoryItem.of(f"{SYMBOL_PREFIX}cfft_bitrev", "uint16_t", bitrev_table_length(half), "front-end table",
                      flash, f"armBitRevIndexTable_fixed_{half}"),
        MemoryItem.of(f"{SYMBOL_PREFIX}sqrt_lut", "q31_t", SQRT_LUT_ENTRIES, "front-end table", flash,
                      "sqrt_initial_lut_q31: start values of arm_sqrt_q31 (magnitudes, both precisions)"),
        MemoryItem.of(f"{SYMBOL_PREFIX}cfft_instance", f"arm_cfft_instance_{q}", 1, "front-end instance", flash,
                      f"complex FFT of {half}"),
        MemoryItem.of(f"{SYMBOL_PREFIX}mfcc_instance", f"arm_mfcc_instance_{q}", 1, "front-end instance", flash,
                      "MFCC instance with its RFFT instance"),
    ]


def frontend_ram_items(shape):
    """RAM items of the front end: the sliding audio frame, the copy ``arm_mfcc`` overwrites, its
    scratch, its output."""
    q = shape.precision
    qt = f"{q}_t"
    n = _check_fft_length(shape.fft_length)
    return [
        MemoryItem.of(f"{SYMBOL_PREFIX}audio_frame", "int16_t", n, "audio", "ram",
                      "last fft_length PCM samples (slides by hop)"),
        MemoryItem.of(f"{SYMBOL_PREFIX}audio_count", "uint32_t", 1, "audio", "ram",
                      "framing position: PCM samples pushed since init, fft_length again after each frame"),
        MemoryItem.of(f"{SYMBOL_PREFIX}mfcc_input", qt, n, "front-end scratch", "ram",
                      "frame handed to arm_mfcc (overwritten in place)"),
        MemoryItem.of(f"{SYMBOL_PREFIX}mfcc_tmp", "q31_t", mfcc_scratch_count(n, q), "front-end scratch", "ram",
                      "arm_mfcc pTmp: FFT output, then mel energies"),
        MemoryItem.of(f"{SYMBOL_PREFIX}mfcc_out", qt, shape.n_mfcc, "front-end scratch", "ram",
                      "MFCC of one frame"),
    ]



# ---- the model's items ----------------------------------------------------------------------

#: Entries of TFLite's int16 sigmoid table (``sigmoid_table_uint16``) the LSTM's sigmoid16 and
#: tanh16 read (index up to 255, interpolating between entries uh and uh + 1).
SIGMOID_TABLE_ENTRIES = 256

#: Entries of the RNN's int8 TANH table: TFLM's int8 TANH (gemmlowp's fixed-point tanh) of every
#: int8 input, indexed by x + 128 (the prepared op's table, :mod:`fixedrnn.ops.tanh_s8`), which the
#: firmware looks up instead of evaluating gemmlowp's tanh per element.
TANH_TABLE_ENTRIES = 256


def _text(arrays, key):
    return str(np.asarray(arrays[key]).item())


def _int(arrays, key):
    return int(np.asarray(arrays[key]).item())


def cmn_of(arrays):
    """The model's ``input.cmn`` (:mod:`fixedrnn.cepstral_mean`): "off" (the key absent) or "window"."""
    return _text(arrays, CMN_KEY) if CMN_KEY in arrays else SPECS[CMN_KEY].default


def front_end_c_type(arrays):
    """The C type of one front-end output value: ``int16_t`` (q15 front end, q8.7) or ``int32_t`` (q31, q8.23)."""
    return "int32_t" if _text(arrays, "frontend.precision") == "q31" else "int16_t"


def model_flash_items(arrays):
    """Flash items of the model: every device key of :mod:`fixedrnn.schema` in file order (weights:
    int8, or power-of-two with ceil(N/2) bytes per tensor, two weights per byte, or for a packed
    k-bit or minifloat form (:attr:`fixedrnn.weight_forms.WeightForm.packed`) ceil(N · b / 8)
    bytes of b-bit codes, b = :attr:`~fixedrnn.weight_forms.WeightForm.flash_code_bits`, or for sparse
    storage the three arrays of :func:`sparse_items` in place of each matrix; int32 biases;
    per-tensor/per-channel multipliers and shifts; the input normalisation), then the activation
    constants (LSTM: the int16 sigmoid table; RNN: its int8 TANH tabulated on the 256 inputs), for
    power-of-two weights the pair table their firmware bytes index (:mod:`fixedrnn.pot_pairs`), and
    the feature vector of a silent frame (the left padding of a short utterance; with cepstral mean
    normalisation its front-end output instead, :func:`_silence_item`).

    0-d integers (zero points, ADD/TANH/LSTM scalars) are compile-time constants in the code, not
    data objects; float32 scales, labels and ``meta.*`` do not go to the device.
    """
    cell = _text(arrays, "cell")
    if cell == GRAPH_CELL:
        return graph_flash_items(arrays)
    form = WeightForm.from_arrays(arrays)
    items = []
    for spec in keys_for(cell, _text(arrays, "weights")):
        if spec.device:
            arr = np.asarray(arrays[spec.name])
            if form.sparse and spec.role == "weights":
                items += sparse_items(spec, arr)
            elif form.packed and spec.role == "weights":
                items.append(MemoryItem.of(spec.symbol, "uint8_t", form.flash_count(arr.size), spec.role, "flash",
                                           spec.name, (form.flash_count(arr.size),)))
            else:
                items.append(MemoryItem.of(spec.symbol, spec.c_type, arr.size, spec.role, "flash", spec.name,
                                           arr.shape))
    if cell == "lstm":
        items.append(MemoryItem.of(f"{SYMBOL_PREFIX}sigmoid_table", "uint16_t", SIGMOID_TABLE_ENTRIES,
                                   "activation table", "flash", "TFLite sigmoid_table_uint16 (sigmoid16, tanh16)"))
    else:
        items.append(MemoryItem.of(f"{SYMBOL_PREFIX}tanh_table", "int8_t", TANH_TABLE_ENTRIES, "activation table",
                                   "flash", "TFLM int8 TANH of every int8 input x, at index x + 128"))
    if _text(arrays, "weights") == "pot":
        items.append(MemoryItem.of(f"{SYMBOL_PREFIX}pot_pair_table", "int16_t", pot_pairs.TABLE_ENTRIES,
                                   "weight table", "flash",
                                   "power-of-two weight pairs: the FC's weight bytes index it (fixedrnn.pot_pairs)"))
    return items + [_silence_item(arrays)]


def _silence_item(arrays, front_end_output=False):
    """The left padding of a short window: the int8 features of an all-zero frame, or for a model with
    cepstral mean normalisation (:func:`cmn_of`), or when ``front_end_output`` (the per-segment
    streaming firmware, whose window holds front-end outputs), that frame's front-end output (int16
    q8.7 / int32 q8.23 ``[I]``)."""
    n_in = _int(arrays, "frontend.n_mfcc")
    if cmn_of(arrays) == "off" and not front_end_output:
        return MemoryItem.of(f"{SYMBOL_PREFIX}silence_features", "int8_t", n_in, "model constant", "flash",
                             "int8 features of an all-zero frame (left padding)")
    return MemoryItem.of(f"{SYMBOL_PREFIX}silence_mfcc", front_end_c_type(arrays), n_in, "model constant", "flash",
                         "front-end output of an all-zero frame (the window's left padding, before CMN)")


#: Entries of gemmlowp's exp(-2^k) multipliers, k = -2..4 (Q0.31), that frnn_tanh_s8 and the graph
#: executor's int8 LOGISTIC read (``fr_tanh_exp_multipliers``).
TANH_EXP_MULTIPLIERS = 7


def graph_plan_of(arrays):
    """The :class:`fixedrnn.graph_plan.GraphPlan` of a graph model's arrays (its ``graph.*`` keys)."""
    from fixedrnn.graph import Graph
    from fixedrnn.graph_plan import plan

    prefix = "graph."
    values = {key[len(prefix):]: np.asarray(value) for key, value in arrays.items() if key.startswith(prefix)}
    values["input"], values["output"] = int(values["input"]), int(values["output"])
    return plan(Graph(**values))


def graph_flash_items(arrays):
    """Flash items of a graph model (:mod:`fixedrnn.graph_plan`, the C graph executor
    ``frnn_graph.c``): the input normalisation (the device keys ``input.*``), the program (int32), the
    int8 and int32 constant pools (each constant the ops read at run time, equal ones once), gemmlowp's
    exp multipliers and the left padding (:func:`_silence_item`: a silent frame's features, or with
    cepstral mean normalisation its front-end output)."""
    from fixedrnn.graph_model import graph_keys

    p = graph_plan_of(arrays)
    items = [MemoryItem.of(spec.symbol, spec.c_type, np.asarray(arrays[spec.name]).size, spec.role, "flash", spec.name)
             for spec in graph_keys() if spec.device]
    return items + [
        MemoryItem.of(f"{SYMBOL_PREFIX}graph_program", "int32_t", p.program.size, "graph program", "flash",
                      f"the executor's program: {p.executed} ops (fixedrnn.graph_plan)"),
        MemoryItem.of(f"{SYMBOL_PREFIX}graph_s8", "int8_t", p.s8.size, "weights", "flash",
                      "int8 constants the ops read (FC weights, constant operands), each once"),
        MemoryItem.of(f"{SYMBOL_PREFIX}graph_s32", "int32_t", p.s32.size, "requantization", "flash",
                      "int32 constants the ops read (FC biases, multipliers, shifts), each once"),
        MemoryItem.of(f"{SYMBOL_PREFIX}tanh_exp_multipliers", "int32_t", TANH_EXP_MULTIPLIERS, "activation table",
                      "flash", "gemmlowp exp(-2^k) in Q0.31, k = -2..4 (int8 TANH and LOGISTIC)"),
        _silence_item(arrays),
    ]


def graph_ram_items(arrays):
    """RAM items of a graph model's executor: the arena of its computed tensors (int32 words; the
    greedy plan of :mod:`fixedrnn.graph_plan`) and, when convolutions run in place, their int8
    scratch rows."""
    p = graph_plan_of(arrays)
    items = [MemoryItem.of(f"{SYMBOL_PREFIX}graph_arena", "int32_t", p.arena_words, "graph arena", "ram",
                           f"the computed tensors, {len(p.buffers)} buffers planned greedily in {p.arena_bytes} bytes "
                           f"(most live at once: {p.live_peak})")]
    if p.scratch_bytes:
        items.append(MemoryItem.of(f"{SYMBOL_PREFIX}graph_scratch", "int8_t", p.scratch_bytes, "graph arena", "ram",
                                   f"rows of the {p.in_place} convolutions run in place, a {p.patch_bytes}-byte "
                                   "convolution patch (fixedrnn.graph_plan)"))
    return items


def sparse_symbol(weight_key, part):
    """The C symbol of one array of a sparse matrix: ``rnn.input_fc.weight``, ``"values"`` →
    ``fr_rnn_input_fc_values`` (``part``: a key of :data:`fixedrnn.sparse.C_TYPES`)."""
    return symbol_for(weight_key.rsplit(".", 1)[0] + "." + part)


def sparse_items(spec, weight):
    """The flash items of the int8 matrix ``weight`` (the model key ``spec``) in sparse storage
    (:mod:`fixedrnn.sparse`): its nonzero values (int8 ``[nnz]``), their columns (uint8 ``[nnz]``)
    and the row offsets (uint16 ``[rows + 1]``)."""
    rows = sparse.as_rows(weight)
    nnz = int(np.count_nonzero(rows))
    counts = {"values": nnz, "columns": nnz, "row_start": rows.shape[0] + 1}
    return [MemoryItem.of(sparse_symbol(spec.name, part), c_type, counts[part], spec.role, "flash",
                          f"{spec.name} ({part}, sparse)") for part, c_type in sparse.C_TYPES.items()]


def frontend_tables(arrays):
    """The :class:`fixedrnn.mfcc.MfccTables` of the model's ``frontend.*`` configuration."""
    from fixedrnn.mfcc import MfccConfig, make_tables

    keys = {f.name: f"frontend.{f.name}" for f in fields(MfccConfig)}
    # an optional key (frontend.cmsis_build) a file may leave out keeps MfccConfig's default
    values = {name: np.asarray(arrays[key]).item() for name, key in keys.items() if key in SPECS and key in arrays}
    return make_tables(MfccConfig(**values))


def frontend_shape(arrays):
    """The :class:`FrontendShape` of a model, with the mel filter lengths of the front end's
    ``make_tables`` for its ``frontend.*`` configuration."""
    precision = _text(arrays, "frontend.precision")
    tables = frontend_tables(arrays).arrays(precision)
    return FrontendShape(
        precision=precision,
        fft_length=_int(arrays, "frontend.fft_length"),
        n_mels=int(tables["filter_pos"].size),
        n_mfcc=_int(arrays, "frontend.n_mfcc"),
        filter_coef_count=int(tables["filter_coefs"].size),
    )


def _cell_ram_items(arrays):
    """The hidden state (int8 [H]), for the LSTM the cell state (int16 [H]) and TFLM's four int16
    gate buffers ([4, H]), for the RNN the two FC outputs (int8 [2, H]; ADD writes in place into the
    first, TANH into the hidden state), for sparse storage the int16 input scratch of its FCs
    ([max(I, H)])."""
    cell = _text(arrays, "cell")
    units = _int(arrays, f"{cell}.units")
    items = [MemoryItem.of(f"{SYMBOL_PREFIX}hidden", "int8_t", units, "state", "ram", "hidden state h [H]")]
    if cell == "lstm":
        items += [
            MemoryItem.of(f"{SYMBOL_PREFIX}cell_state", "int16_t", units, "state", "ram", "cell state c [H], scale 2^P"),
            MemoryItem.of(f"{SYMBOL_PREFIX}gate_scratch", "int16_t", 4 * units, "gate scratch", "ram",
                          "TFLM LSTM buffers 0-3, int16 [4, H]", (4, units)),
        ]
    else:
        items.append(MemoryItem.of(f"{SYMBOL_PREFIX}gate_scratch", "int8_t", 2 * units, "gate scratch", "ram",
                                   "input FC output (then ADD output) and recurrent FC output, int8 [2, H]",
                                   (2, units)))
    if WeightForm.from_arrays(arrays).sparse:
        n_in = _int(arrays, "frontend.n_mfcc")
        items.append(MemoryItem.of(f"{SYMBOL_PREFIX}sparse_input", "int16_t", max(n_in, units), "gate scratch", "ram",
                                   "a sparse FC's int8 input plus its offset, int16 [max(I, H)] (frnn_sparse.c)"))
    return items


def _logits_item(arrays, source="head output [C]"):
    return MemoryItem.of(f"{SYMBOL_PREFIX}logits", "int8_t", int(np.asarray(arrays["labels"]).size), "logits",
                         "ram", source)


def endpoint_ram_items(arrays, endpoint):
    """RAM items of the endpointing window firmware's held frames for ``endpoint`` (a
    :class:`fixedrnn.endpoint.EndpointConfig`, S = ``search``), in place of the feature window: the
    int8 features of the last S frames ([S, I]), their int16 energies (q8.7, [S]) and the count of
    frames held (frames since frnn_init, at most S). With cepstral mean normalisation (:func:`cmn_of`)
    the front-end outputs of the last S frames ([S, I], int16 q8.7 / int32 q8.23; their energies are
    computed from them) in place of the features and energies."""
    p = SYMBOL_PREFIX
    n_in = _int(arrays, "frontend.n_mfcc")
    search = int(endpoint.search)
    count = MemoryItem.of(f"{p}endpoint_count", "uint32_t", 1, "features", "ram",
                          "frames held: frames since frnn_init, at most S")
    if cmn_of(arrays) != "off":
        return [MemoryItem.of(f"{p}endpoint_mfcc", front_end_c_type(arrays), search * n_in, "features", "ram",
                              "front-end outputs of the last S frames [S, I], oldest first (slides by one row; "
                              "energies from coefficient 0)", (search, n_in)), count]
    return [
        MemoryItem.of(f"{p}endpoint_features", "int8_t", search * n_in, "features", "ram",
                      "int8 features of the last S frames [S, I], oldest first (slides by one row)", (search, n_in)),
        MemoryItem.of(f"{p}endpoint_energy", "int16_t", search, "features", "ram",
                      "energy (q8.7, fixedrnn.vad.frame_energy) of the last S frames [S], oldest first"),
        count,
    ]


def _window_item(arrays):
    """The window firmware's last T frames: their int8 features [T, I], or with cepstral mean
    normalisation (:func:`cmn_of`) their front-end outputs [T, I] (int16 q8.7 / int32 q8.23), whose
    mean ``frnn_result`` removes before it normalises each row (no int8 window is stored)."""
    n_in = _int(arrays, "frontend.n_mfcc")
    frames = _int(arrays, "sequence.frames")
    if cmn_of(arrays) == "off":
        return MemoryItem.of(f"{SYMBOL_PREFIX}features", "int8_t", frames * n_in, "features", "ram",
                             "int8 feature window [T, I] (ring of the last T frames)", (frames, n_in))
    return MemoryItem.of(f"{SYMBOL_PREFIX}window_mfcc", front_end_c_type(arrays), frames * n_in, "features", "ram",
                         "front-end outputs of the last T frames [T, I], oldest first (slides by one row)",
                         (frames, n_in))


def model_ram_items(arrays, endpoint=None):
    """RAM items of the model: the last T frames it reads (:func:`_window_item`: int8 features
    [T, I], or their front-end outputs with cepstral mean normalisation, and then for a graph model
    the int8 window its graph reads; with ``endpoint``, a
    :class:`fixedrnn.endpoint.EndpointConfig`, the held frames of :func:`endpoint_ram_items` instead),
    the cell's state and scratch (hidden state int8 [H]; LSTM: cell state int16 [H] and TFLM's four
    int16 gate buffers [4, H]; RNN: the two FC outputs int8 [2, H]), and the int8 logits [C]."""
    cell = graph_ram_items(arrays) if _text(arrays, "cell") == GRAPH_CELL else _cell_ram_items(arrays)
    held = [_window_item(arrays)] if endpoint is None else endpoint_ram_items(arrays, endpoint)
    if _text(arrays, "cell") == GRAPH_CELL and cmn_of(arrays) != "off":
        frames, n_in = _int(arrays, "sequence.frames"), _int(arrays, "frontend.n_mfcc")
        held.append(MemoryItem.of(f"{SYMBOL_PREFIX}graph_window", "int8_t", frames * n_in, "features", "ram",
                                  "int8 window [T, I] the graph reads: the held rows less their mean, normalised",
                                  (frames, n_in)))
    return held + cell + [_logits_item(arrays)]


def stream_preroll(stream):
    """Frames of the pre-roll ring a streaming firmware keeps for ``stream`` (a
    :class:`fixedrnn.stream.StreamConfig`): ``preroll``, or 0 without the cell reset."""
    return int(stream.preroll) if stream.reset else 0


def stream_silence(stream):
    """Silent-frame steps a streaming firmware runs at each cell reset for ``stream`` (a
    :class:`fixedrnn.stream.StreamConfig`): ``silence``, or 0 without the cell reset."""
    return int(stream.silence) if stream.reset else 0


def stream_ram_items(arrays, stream):
    """RAM items of the streaming pipeline (``frnn_stream.c``) for ``stream`` (a
    :class:`fixedrnn.stream.StreamConfig`), the cell's and the front end's apart: the frame counter,
    the pre-roll ring of int8 features ([P, I], none for P = 0), the VAD's noise floor, spread and hangover,
    the decision's ring of the segment's last W int8 scores ([W, C]), the segment's start and loud
    count, the last detection's label and frame, and the current frame's scores (``fr_logits``).
    Per segment (``stream.per_segment``): the ring of the last T + 1 frames' front-end outputs
    ([T + 1, I], int16 q8.7 / int32 q8.23) in place of the pre-roll ring, no ring of scores (the
    segment's one score is the logits of its window, in ``fr_logits``).
    docs/streaming.md lists them with the Python state they mirror."""
    p = SYMBOL_PREFIX
    n_in = _int(arrays, "frontend.n_mfcc")
    n_classes = int(np.asarray(arrays["labels"]).size)
    preroll, window = stream_preroll(stream), int(stream.decision.window)
    kind = "stream state"
    items = [MemoryItem.of(f"{p}stream_frames", "int32_t", 1, kind, "ram",
                           "frames since frnn_stream_init (the next frame's index)")]
    if stream.per_segment:
        frames = _int(arrays, "sequence.frames")
        items.append(MemoryItem.of(f"{p}segment_mfcc", front_end_c_type(arrays), (frames + 1) * n_in, "features",
                                   "ram", "front-end outputs of the last T + 1 frames [T + 1, I], slot t mod (T + 1)",
                                   (frames + 1, n_in)))
    elif preroll:
        items.append(MemoryItem.of(f"{p}preroll", "int8_t", preroll * n_in, "features", "ram",
                                   "pre-roll ring: int8 features of the last P frames [P, I], slot t mod P",
                                   (preroll, n_in)))
    items += [
        MemoryItem.of(f"{p}vad_floor", "int32_t", 1, kind, "ram", "VAD noise floor, q8.7 with FLOOR_FRAC more bits"),
        MemoryItem.of(f"{p}vad_spread", "int32_t", 1, kind, "ram", "VAD noise spread, q8.7 with FLOOR_FRAC more bits"),
        MemoryItem.of(f"{p}vad_hang", "uint8_t", 1, kind, "ram", "VAD hangover counter"),
        *([] if stream.per_segment else [
            MemoryItem.of(f"{p}decision_scores", "int8_t", window * n_classes, kind, "ram",
                          "the segment's last W int8 scores [W, C], slot (t - start) mod W", (window, n_classes))]),
        MemoryItem.of(f"{p}segment_start", "int32_t", 1, kind, "ram", "first frame of the open segment (-1: none)"),
        MemoryItem.of(f"{p}segment_loud", "int32_t", 1, kind, "ram", "loud frames of the open segment"),
        MemoryItem.of(f"{p}last_label", "int32_t", 1, kind, "ram", "label of the last detection (-1: none)"),
        MemoryItem.of(f"{p}last_decided", "int32_t", 1, kind, "ram", "frame at which it was decided"),
    ]
    return items


def model_stream_ram_items(arrays, stream):
    """RAM items of the model in a streaming firmware: the cell's state and scratch (as
    :func:`model_ram_items`, no feature window), the head's scores of the current frame [C] (per
    segment: of the last segment's window), and :func:`stream_ram_items`; a graph model (per segment
    only): its arena, the int8 window [T, I] its graph reads, its logits [C]."""
    if _text(arrays, "cell") == GRAPH_CELL:  # per segment only (check_options)
        n_in, frames = _int(arrays, "frontend.n_mfcc"), _int(arrays, "sequence.frames")
        window = MemoryItem.of(f"{SYMBOL_PREFIX}segment_window", "int8_t", frames * n_in, "features", "ram",
                               "int8 window [T, I] of the decided segment, the graph's input", (frames, n_in))
        return (graph_ram_items(arrays) + [window, _logits_item(arrays, "logits of the last segment's window [C]")]
                + stream_ram_items(arrays, stream))
    what = "head scores of the last segment's window [C]" if stream.per_segment else \
        "head scores of the current frame [C]"
    return _cell_ram_items(arrays) + [_logits_item(arrays, what)] + stream_ram_items(arrays, stream)


def check_options(arrays, stream=None, endpoint=None):
    """A :class:`~fixedrnn.errors.FixedRnnError` for firmware options the model cannot have: a graph
    model has no endpointing firmware and streams per segment only; a model
    with cepstral mean normalisation (:func:`cmn_of`) streams per segment only
    (``StreamConfig.per_segment``), which needs the reset; endpointing is an option of the window
    firmware."""
    graph = _text(arrays, "cell") == GRAPH_CELL
    cmn = cmn_of(arrays)
    if cmn != "off" and stream is not None and not stream.per_segment:
        raise FixedRnnError(f"a model with input.cmn = {cmn} streams per segment only: cepstral mean normalisation "
                            "needs the whole window before the first cell step (StreamConfig(per_segment=True))")
    if stream is not None and stream.per_segment and not stream.reset:
        raise FixedRnnError("stream: per_segment runs the model on each segment's window, from its reset state "
                            "(reset=False carries a state across segments)")
    if stream is not None and graph and not stream.per_segment:
        raise FixedRnnError("a graph model streams per segment only (its graph runs a whole window): "
                            "StreamConfig(per_segment=True)")
    if endpoint is not None and graph:
        raise FixedRnnError("a graph model has no endpointing firmware (its graph runs a given window, no cell step)")
    if endpoint is not None and stream is not None:
        raise FixedRnnError("endpoint is an option of the window firmware, not of the streaming one (stream)")


def flash_items(arrays, stream=None, endpoint=None):
    """Every flash item of the firmware for the model: the model's then the front end's. ``stream``
    (a :class:`fixedrnn.stream.StreamConfig`): the streaming firmware's, which has no window to
    pad: ``fr_silence_features`` only when its cell reset steps on the silent frame
    (:func:`stream_silence` > 0); per segment (``stream.per_segment``), the silent frame's front-end
    output ``fr_silence_mfcc``, the left padding of a segment's window. ``endpoint`` (a
    :class:`fixedrnn.endpoint.EndpointConfig`): the endpointing window firmware's, the window
    firmware's flash."""
    check_options(arrays, stream, endpoint)
    items = model_flash_items(arrays)
    if stream is not None and stream.per_segment:
        padding = (f"{SYMBOL_PREFIX}silence_features", f"{SYMBOL_PREFIX}silence_mfcc")
        items = [item for item in items if item.symbol not in padding] + [_silence_item(arrays, front_end_output=True)]
    elif stream is not None and not stream_silence(stream):
        items = [item for item in items if item.symbol != f"{SYMBOL_PREFIX}silence_features"]
    return items + frontend_flash_items(frontend_shape(arrays))


def ram_items(arrays, stream=None, endpoint=None):
    """Every RAM item of the firmware for the model; with ``stream`` (a
    :class:`fixedrnn.stream.StreamConfig`), of the streaming firmware (:func:`model_stream_ram_items`);
    with ``endpoint`` (a :class:`fixedrnn.endpoint.EndpointConfig`), of the endpointing window
    firmware (:func:`endpoint_ram_items` in place of the window).
    All are static buffers, so the RAM total is their sum (the peak: nothing is allocated at run time)."""
    check_options(arrays, stream, endpoint)
    model = model_ram_items(arrays, endpoint) if stream is None else model_stream_ram_items(arrays, stream)
    return frontend_ram_items(frontend_shape(arrays)) + model
