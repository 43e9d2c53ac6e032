"""C99 sources of a model's integer inference: ``export_c(model_or_path, outdir)``.

Writes into ``outdir`` (created if needed; the whole set written into a temporary directory beside it,
then moved in as one step: :func:`export_c`) the C of the package and the model's generated data:

- copied from ``fixedrnn/c``: ``frnn_kernels.[ch]`` (the integer kernels), ``frnn_mfcc.[ch]`` (the
  fixed-point MFCC, q15 and q31: ``arm_mfcc_q15/q31``'s algorithm, bit-exact with
  ``fixedrnn.frontend``);
- copied from ``fixedrnn/c/model``: ``frnn_api.h`` (the public API, documented there: formats,
  shapes, call order), ``frnn_cell.h``, ``frnn_pipeline.c`` (framing, MFCC -> int8, feature window,
  head, init, result) and the model's cell, ``frnn_rnn.c`` or ``frnn_lstm.c``;
- generated, data and configuration only (no function): ``frnn_model.h`` (dimensions, the cell,
  weight and front-end kind macros, the model's scalar integers as ``FR_*`` macros, the data symbols
  of each fully connected layer, an ``extern`` declaration per data object) and ``frnn_model.c``
  (every flash item of :func:`fixedrnn.layout.flash_items` as one ``const`` array with that symbol,
  C type and element count — weights: int8 as stored, or PoT two per byte as indices into the pair
  table (:mod:`fixedrnn.pot_pairs`), or packed 2- or 4-bit codes for a packed k-bit or minifloat
  form (:mod:`fixedrnn.weight_forms`, computed on by ``frnn_packed.[ch]``, copied for such a model
  only), or for sparse storage each matrix as three arrays (:mod:`fixedrnn.sparse`: values, columns,
  row offsets; computed on by ``frnn_sparse.[ch]``, copied for such a model only); the front
  end's tables from their generators in ``fixedrnn.frontend`` —, the two front-end instances as
  ``const`` initialisers, every RAM item of :func:`fixedrnn.layout.ram_items` as one
  static-duration array).

A streaming export (``stream``: a :class:`fixedrnn.stream.StreamConfig`) adds
``fixedrnn/c/model/frnn_stream.c`` (samples in, per-frame VAD, cell reset with pre-roll, scores,
decisions: docs/streaming.md), writes the configuration's integers as ``FRNN_STREAM_*``,
``FRNN_VAD_*`` and ``FRNN_DECISION_*`` macros (with ``FRNN_STREAM`` defined, which leaves the
window's functions out of ``frnn_pipeline.c``) and lays out RAM and flash as
:func:`fixedrnn.layout.ram_items` / :func:`~fixedrnn.layout.flash_items` with that ``stream``. With
``stream.per_segment`` it writes ``FRNN_STREAM_PER_SEGMENT``: the model runs once per decided
segment, on its window of held front-end outputs (:mod:`fixedrnn.segment_stream`; a model with
cepstral mean normalisation streams only so, with ``FRNN_CMN``).

An endpointing export (``endpoint``: a :class:`fixedrnn.endpoint.EndpointConfig`; RNN and LSTM
models, window firmware only) writes ``FRNN_ENDPOINT`` and the configuration's integers as
``FRNN_ENDPOINT_<FIELD>`` macros: ``frnn_pipeline.c`` then keeps the last ``search`` frames' features
and energies (:func:`fixedrnn.layout.endpoint_ram_items`) instead of the window and runs the cell on
the clip's endpointed segment (frnn_api.h). Without it the export is the window firmware, byte for byte.

A model with cepstral mean normalisation (``input.cmn`` "window", :mod:`fixedrnn.cepstral_mean`; window
firmware, with or without endpointing) writes ``FRNN_CMN``: the firmware holds the frames' front-end
outputs instead of their int8 features (:func:`fixedrnn.layout.model_ram_items`), pads with the silent
frame's front-end output (``fr_silence_mfcc``, from ``model.prepared.silent_mfcc``) and removes the
window's mean before it normalises each row (frnn_api.h). A model with ``input.cmn`` "off" exports as before.
"""

import os
from pathlib import Path

import numpy as np

from fixedrnn import atomicfile, layout, overflow, pot_pairs, sparse
from fixedrnn.errors import FixedRnnError
from fixedrnn.schema import GRAPH_CELL

C_DIR = Path(__file__).resolve().parent / "c"
#: The model-independent C of ``fixedrnn/c``: kernels and MFCC.
LIBRARY_FILES = ("frnn_kernels.h", "frnn_kernels.c", "frnn_mfcc.h", "frnn_mfcc.c")
#: The C of ``fixedrnn/c`` a model with packed k-bit or minifloat weights needs (frnn_cell.h includes it).
PACKED_FILES = ("frnn_packed.h", "frnn_packed.c")
#: The C of ``fixedrnn/c`` a model with sparse storage needs (frnn_cell.h includes it).
SPARSE_FILES = ("frnn_sparse.h", "frnn_sparse.c")
#: The C of ``fixedrnn/c/model`` every model needs (it includes the generated ``frnn_model.h``).
PIPELINE_FILES = ("frnn_api.h", "frnn_cell.h", "frnn_pipeline.c")
#: The cell's C file in ``fixedrnn/c/model``, by the model's ``cell`` (a graph model: its executor).
CELL_FILES = {"rnn": "frnn_rnn.c", "lstm": "frnn_lstm.c", GRAPH_CELL: "frnn_graph.c"}
#: The C of ``fixedrnn/c/model`` a streaming export adds.
STREAM_FILES = ("frnn_stream.c",)
#: Every file name an export writes, for some model (the generated data and the package's C).
EXPORTED_FILES = (*LIBRARY_FILES, *PACKED_FILES, *SPARSE_FILES, *PIPELINE_FILES, *CELL_FILES.values(),
                  *STREAM_FILES, "frnn_model.h", "frnn_model.c")
#: C type of each front-end instance (the budget names CMSIS's ``arm_*_instance_*`` for its size;
#: frnn_mfcc.h's structs have that layout).
INSTANCE_TYPES = {f"{layout.SYMBOL_PREFIX}cfft_instance": "frnn_cfft_instance",
                  f"{layout.SYMBOL_PREFIX}mfcc_instance": "frnn_mfcc_instance"}
#: A null int32 bias pointer: the FC has no bias.
NO_BIAS = "((const int32_t *)0)"


def _load(model_or_path):
    from fixedrnn import model as model_module

    if isinstance(model_or_path, (str, os.PathLike)):
        return model_module.load(model_or_path)
    if not isinstance(model_or_path, model_module.Model) and getattr(model_or_path, "cell", None) != GRAPH_CELL:
        raise FixedRnnError(f"model must be a fixedrnn.model.Model or a path, got {type(model_or_path).__name__}")
    return model_or_path


def source_files(cell, packed=False, sparse=False, stream=False):
    """``{file name: path}`` of the package's C files a model with ``cell`` ("rnn" or "lstm") needs
    (with ``packed``: a packed k-bit or minifloat model's, :data:`PACKED_FILES` too; with ``sparse``:
    a sparse-storage model's, :data:`SPARSE_FILES` too; with ``stream``: a streaming export's,
    :data:`STREAM_FILES` too)."""
    if cell not in CELL_FILES:
        raise FixedRnnError(f"cell must be one of {', '.join(CELL_FILES)}, got {cell!r}")
    extra = (PACKED_FILES if packed else ()) + (SPARSE_FILES if sparse else ())
    files = {name: C_DIR / name for name in LIBRARY_FILES + extra}
    model_files = (*PIPELINE_FILES, CELL_FILES[cell], *(STREAM_FILES if stream else ()))
    files.update({name: C_DIR / "model" / name for name in model_files})
    return files


def _macro(key):
    return layout.symbol_for(key).upper()


def _c_array(item, values, per_line=16):
    """The definition of the flash array ``item`` with ``values`` (any shape, ``item.count`` of them)."""
    values = np.asarray(values).reshape(-1)
    if values.size != item.count:
        raise FixedRnnError(f"{item.symbol}: {values.size} values for {item.count} elements")
    rows = []
    for start in range(0, values.size, per_line):
        rows.append("    " + ", ".join(_c_literal(int(v), item.c_type) for v in values[start:start + per_line]) + ",")
    return f"{item.c_declaration()} = {{\n" + "\n".join(rows) + "\n};\n"


def _c_literal(value, c_type):
    if c_type in ("int32_t", "q31_t") and value == -(2**31):
        return "INT32_MIN"
    return str(value) + ("u" if c_type.startswith("uint") and c_type != "uint8_t" else "")


def sigmoid_table():
    """The int16 LSTM sigmoid table: the engine's (``fixedrnn.ops.lut_s16``)."""
    from fixedrnn.ops import lut_s16

    return np.asarray(lut_s16.sigmoid_table_uint16(), dtype=np.int64)


def tanh_exp_multipliers():
    """gemmlowp's exp(-2^k) in Q0.31, k = -2..4, from their formula (fixedrnn.gemmlowp.constant)."""
    import math

    from fixedrnn import gemmlowp

    return np.array([gemmlowp.constant(math.exp(-(2.0**k)), 0) for k in range(-2, 5)], np.int64)


def silence_features(model):
    """int8 features ``[I]`` of an all-zero frame (the window's left padding), from the engine."""
    from fixedrnn import engine

    pcm = np.zeros(int(model.frontend.fft_length), np.int16)
    return np.asarray(engine.features(model, pcm))[-1]


def bit_reversal_pairs(length):
    """uint16 index pairs ``(i, rev(i))``, ``i < rev(i)``, of the bit-reversal permutation of
    ``length`` complex points, flattened: swapping each pair in place puts a radix-4/2 FFT output
    in natural order (``length − 2**ceil(log2(length)/2)`` entries, as ``layout.bitrev_table_length``)."""
    from fixedrnn.frontend.cmsis_fft import bit_reversal

    rev = bit_reversal(int(length))
    i = np.arange(int(length))
    keep = i < rev
    return np.stack([i[keep], rev[keep]], axis=1).reshape(-1)


def frontend_tables(model):
    """``{symbol: values}`` of the MFCC front end's flash items for ``model`` (its
    ``frontend.precision``): the tables of ``fixedrnn.frontend.make_tables``, the real FFT's
    split coefficients at stride 1, the complex FFT's twiddles and bit-reversal pairs, and the
    square root's start values, each from the front end's own table generators."""
    from fixedrnn.frontend import cmsis_fft, cmsis_math
    from fixedrnn.frontend.tables import make_tables

    cfg = model.frontend.mfcc_config()
    precision = model.frontend.precision
    bits = 15 if precision == "q15" else 31
    n = cfg.fft_length
    half = n // 2
    tables = make_tables(cfg).arrays(precision)
    coef_a, coef_b = cmsis_fft.real_coef_tables(bits)
    stride = 2 * cmsis_fft.REAL_COEF_POINTS // n  # complex entries between the ones length N reads

    def split(table):
        return table.reshape(-1, 2)[::stride][:half].reshape(-1)

    p = layout.SYMBOL_PREFIX
    return {
        f"{p}mfcc_window": tables["window"],
        f"{p}mfcc_filter_pos": tables["filter_pos"],
        f"{p}mfcc_filter_lengths": tables["filter_lengths"],
        f"{p}mfcc_filter_coefs": tables["filter_coefs"],
        f"{p}mfcc_dct": tables["dct"],
        f"{p}rfft_coef_a": split(coef_a),
        f"{p}rfft_coef_b": split(coef_b),
        f"{p}cfft_twiddle": cmsis_fft.twiddle_table(half, bits),
        f"{p}cfft_bitrev": bit_reversal_pairs(half),
        f"{p}sqrt_lut": cmsis_math.sqrt_initial_lut_q31(),
    }


def _scalar_macros(arrays):
    """``#define FR_<KEY> (value)`` of every 0-d integer of the model file (``meta.*`` excluded)."""
    lines = []
    for key, value in arrays.items():
        arr = np.asarray(value)
        if arr.ndim == 0 and np.issubdtype(arr.dtype, np.integer) and not key.startswith("meta."):
            lines.append(f"#define {_macro(key)} ({int(arr)}) /* {key} */")
    return lines


def _fc_macros(arrays, block, per_channel, form):
    """The data symbols of the fully connected layer ``block`` (e.g. "rnn.input_fc") as
    ``FRNN_<BLOCK>_{WEIGHTS,BIAS,MULTIPLIER,SHIFT}`` macros, and with ``per_channel``
    ``FRNN_<BLOCK>_PER_CHANNEL`` (1: one multiplier/shift per output row, 0: one for the tensor);
    ``form``: the model's :class:`fixedrnn.weight_forms.WeightForm`."""
    name = "FRNN_" + layout.symbol_for(block)[len(layout.SYMBOL_PREFIX):].upper()
    pot = f"{block}.pot" in arrays
    weights = f"{block}.pot" if pot else f"{block}.weight"
    kind = "power-of-two, two per byte (fr_pot_pair_table indices)" if pot else "int8"
    if form.packed:
        kind = f"{form.label}, packed {form.flash_code_bits}-bit codes (frnn_packed.h)"
    weights_symbol = layout.symbol_for(weights)
    if form.sparse:
        kind = f"{form.label}: the nonzero int8 values in compressed rows (frnn_sparse.h)"
        parts = ", ".join(layout.sparse_symbol(weights, part) for part in sparse.C_TYPES)
        weights_symbol = f"(&(const frnn_sparse_matrix){{{parts}}})"
    bias = "int32 bias" if f"{block}.bias" in arrays else "no bias"
    lines = [f"/* {block}: weights {kind}, row-major [out][in]; {bias}; requantization (multiplier, shift) */",
             f"#define {name}_WEIGHTS {weights_symbol}",
             f"#define {name}_BIAS {layout.symbol_for(block + '.bias') if bias == 'int32 bias' else NO_BIAS}",
             f"#define {name}_MULTIPLIER {layout.symbol_for(block + '.multiplier')}",
             f"#define {name}_SHIFT {layout.symbol_for(block + '.shift')}"]
    if per_channel:
        lines.append(f"#define {name}_PER_CHANNEL {int(np.asarray(arrays[block + '.multiplier']).size > 1)}")
    return lines


def _storage(form):
    """How the firmware stores the weights of ``form``: ``INT8``, ``POT``, ``PACKED`` or ``SPARSE``."""
    if form.sparse:
        return "SPARSE"
    return "PACKED" if form.packed else ("POT" if form.kind == "pot" else "INT8")


def _packed_format(form):
    """``FRNN_PACKED_FORMAT``: the initialiser of frnn_packed.h's ``frnn_packed_format`` (packed forms)."""
    if not form.packed:
        return []
    minifloat = form.kind == "minifloat"
    return [f"#define FRNN_PACKED_FORMAT {{{form.flash_code_bits}, {int(minifloat)}, {form.exponent_bits or 0}, "
            f"{form.mantissa_bits or 0}}} /* frnn_packed_format: code bits, minifloat, e, m */"]


def _stream_macros(stream, labels):
    """The streaming configuration as macros: ``FRNN_STREAM``, ``FRNN_STREAM_PER_SEGMENT`` (when
    ``stream.per_segment``), ``FRNN_STREAM_RESET``,
    ``FRNN_STREAM_PREROLL`` (the pre-roll ring's frames: 0 without the reset), ``FRNN_STREAM_SILENCE``
    (the silent-frame steps at a reset: 0 without it), ``FRNN_VAD_FLOOR_FRAC``
    (:data:`fixedrnn.vad.FLOOR_FRAC`) and one ``FRNN_VAD_<FIELD>`` / ``FRNN_DECISION_<FIELD>`` per
    field of the :class:`~fixedrnn.vad.VadConfig` / :class:`~fixedrnn.decision.DecisionConfig`, and
    ``FRNN_IS_KEYWORD(c)``: whether class ``c`` of ``labels`` is a keyword
    (:func:`fixedrnn.decision.keyword_flags`), an expression over the filler classes (code, no data)."""
    from dataclasses import fields

    from fixedrnn import decision, vad

    fillers = [c for c, keyword in enumerate(decision.keyword_flags(labels)) if not keyword]
    is_keyword = " && ".join(f"(c) != {c}" for c in fillers) or "1"

    lines = ["#define FRNN_STREAM 1 /* a streaming export: frnn_stream.c, no feature window */",
             f"#define FRNN_STREAM_RESET ({int(bool(stream.reset))}) /* StreamConfig.reset */",
             f"#define FRNN_STREAM_PREROLL ({layout.stream_preroll(stream)}) /* pre-roll frames re-run at a reset */",
             f"#define FRNN_STREAM_SILENCE ({layout.stream_silence(stream)}) /* silent-frame steps at a reset */",
             f"#define FRNN_VAD_FLOOR_FRAC ({vad.FLOOR_FRAC}) /* fixedrnn.vad.FLOOR_FRAC */"]
    if stream.per_segment:
        lines.insert(1, "#define FRNN_STREAM_PER_SEGMENT 1 /* the model runs once per segment, on its window "
                        "(fixedrnn.segment_stream) */")
    for prefix, config in (("VAD", stream.vad), ("DECISION", stream.decision)):
        for f in fields(config):
            lines.append(f"#define FRNN_{prefix}_{f.name.upper()} ({int(getattr(config, f.name))}) "
                         f"/* {type(config).__name__}.{f.name} */")
    names = ", ".join(str(c) for c in fillers) or "none"
    lines.append(f"#define FRNN_IS_KEYWORD(c) ({is_keyword}) /* fixedrnn.decision.is_keyword; filler classes: {names} */")
    return lines


def _endpoint_macros(endpoint):
    """The endpointing configuration as macros: ``FRNN_ENDPOINT`` and one ``FRNN_ENDPOINT_<FIELD>``
    per field of the :class:`fixedrnn.endpoint.EndpointConfig` (search, margin, range_shift, pre, post)."""
    from dataclasses import fields

    return ["#define FRNN_ENDPOINT 1 /* an endpointing export: the last FRNN_ENDPOINT_SEARCH frames held, "
            "no feature window */",
            *(f"#define FRNN_ENDPOINT_{f.name.upper()} ({int(getattr(endpoint, f.name))}) "
              f"/* {type(endpoint).__name__}.{f.name} */" for f in fields(endpoint))]


def _cmn_macros(model):
    """``FRNN_CMN`` for a model with cepstral mean normalisation (``input.cmn`` "window"), else nothing."""
    if model.input.cmn == "off":
        return []
    return ["", "/* Cepstral mean normalisation (input.cmn = window, fixedrnn.cepstral_mean): the window's front-end",
            " * outputs are held and lose their mean over the window before the int8 normalisation (frnn_api.h). */",
            "#define FRNN_CMN 1"]


def _c_declaration(item):
    """The C declaration of a budget item (no initializer, no ';')."""
    if item.is_instance:
        if item.symbol not in INSTANCE_TYPES:
            raise FixedRnnError(f"{item.symbol}: no C type for this front-end instance")
        return f"const {INSTANCE_TYPES[item.symbol]} {item.symbol}"
    return item.c_declaration()


def _extern(item):
    shape = "x".join(str(s) for s in item.shape)
    return f"extern {_c_declaration(item)}; /* {item.kind}, [{shape}]: {item.source} */"


def _instances(arrays):
    """The front end's two ``const`` instances (frnn_mfcc.h), C99 designated initialisers."""
    p = layout.SYMBOL_PREFIX
    shape = layout.frontend_shape(arrays)
    n, half = shape.fft_length, shape.fft_length // 2
    return {
        f"{p}cfft_instance": (f"{{.length = {half}, .twiddle = {p}cfft_twiddle, .bitrev = {p}cfft_bitrev, "
                              f".bitrev_length = {layout.bitrev_table_length(half)}}}"),
        f"{p}mfcc_instance": (
            f"{{\n    .dct = {p}mfcc_dct, .filter_pos = {p}mfcc_filter_pos, .filter_lengths = {p}mfcc_filter_lengths,\n"
            f"    .filter_coefs = {p}mfcc_filter_coefs, .window = {p}mfcc_window,\n"
            f"    .fft_length = {n}, .n_mels = {shape.n_mels}, .n_mfcc = {shape.n_mfcc},\n"
            f"    .rfft = {{.length = {n}, .inverse = 0, .bit_reverse = 1, .coef_stride = 1, .coef_a = {p}rfft_coef_a,\n"
            f"             .coef_b = {p}rfft_coef_b, .cfft = &{p}cfft_instance}}}}"),
    }


def _frontend_macros(model):
    """The front end's macros, the same for every model kind: precision, ``FRNN_MFCC_ARM_MATH_DSP``
    for a ``frontend.cmsis_build`` of "dsp" (frnn_pipeline.c then calls frnn_mfcc_q15_arm_dsp; the
    q31 MFCC is the same on both builds), I, N and the hop."""
    fe = model.frontend
    return [
        f"#define FRNN_FRONTEND_{fe.precision.upper()} 1 /* MFCC precision: FRNN_FRONTEND_Q15 or FRNN_FRONTEND_Q31 */",
        *(["#define FRNN_MFCC_ARM_MATH_DSP 1 /* the q15 MFCC of CMSIS-DSP built with ARM_MATH_DSP "
           "(frontend.cmsis_build = dsp) */"] if fe.cmsis_build == "dsp" else []),
        f"#define FRNN_N_FEATURES {model.n_features} /* I: MFCC coefficients = int8 features per frame */",
        f"#define FRNN_FFT_LENGTH {fe.fft_length} /* N: PCM samples per frame */",
        f"#define FRNN_HOP {fe.hop} /* PCM samples between frame starts */",
    ]


def _header(model, arrays, items, stream=None, endpoint=None):
    """The text of ``frnn_model.h``: configuration macros (with ``stream``, the streaming ones; with
    ``endpoint``, the endpointing ones), scalar integers, FC symbols, externs."""
    cell = model.cell
    form = model.weight_form
    fc = [line for block in (f"{cell}.input_fc", f"{cell}.recurrent_fc")
          for line in _fc_macros(arrays, block, cell != "lstm", form)]
    return "\n".join([
        "/* Generated by fixedrnn.c_export: the data and configuration of one model, no code.",
        " * Do not edit. The API is frnn_api.h; the code frnn_pipeline.c and the cell's .c file. */",
        "#ifndef FRNN_MODEL_H",
        "#define FRNN_MODEL_H",
        "",
        "#include <stdint.h>",
        "",
        '#include "frnn_mfcc.h" /* q15_t, q31_t, the front-end instance types */',
        "",
        f"#define FRNN_CELL_{cell.upper()} 1 /* the cell: FRNN_CELL_RNN (frnn_rnn.c) or FRNN_CELL_LSTM (frnn_lstm.c) */",
        f"#define FRNN_WEIGHTS_{_storage(form)} 1 /* FRNN_WEIGHTS_INT8: int8 weights; FRNN_WEIGHTS_POT: "
        "power-of-two weights, two per byte as fr_pot_pair_table indices; FRNN_WEIGHTS_PACKED: 2- or 4-bit "
        "codes (frnn_packed.h); FRNN_WEIGHTS_SPARSE: compressed rows of the nonzero weights (frnn_sparse.h). "
        f"Weights: {form.label} */",
        *_packed_format(form),
        *_frontend_macros(model),
        f"#define FRNN_UNITS {model.units} /* H: cell units */",
        f"#define FRNN_FRAMES {model.frames} /* T: frames in the feature window */",
        f"#define FRNN_N_CLASSES {len(model.labels)} /* C: logits */",
        *(["", "/* The streaming configuration (fixedrnn.stream.StreamConfig), docs/streaming.md. */",
           *_stream_macros(stream, model.labels)] if stream is not None else []),
        *(["", "/* The endpointing configuration (fixedrnn.endpoint.EndpointConfig), frnn_api.h. */",
           *_endpoint_macros(endpoint)] if endpoint is not None else []),
        *_cmn_macros(model),
        "",
        "/* The model's scalar integers: FR_ + each 0-d integer key of the model file (docs/model-format.md). */",
        *_scalar_macros(arrays),
        "",
        "/* The data symbols of the fully connected layers (the FC's [out][in] matrix; an LSTM's input and",
        " * recurrent FCs hold the four gates i, f, g, o one after the other, one multiplier/shift each). */",
        *fc,
        *_fc_macros(arrays, "head", True, form),
        "",
        "/* Every data object of frnn_model.c: the items of fixedrnn.layout.flash_items (const) and",
        " * ram_items (zero-initialised), in that order: kind, [shape], what it holds. */",
        *(_extern(item) for item in items),
        "",
        "#endif",
        "",
    ])


def _flash_values(model, arrays, item, front, silence, sparse_arrays):
    """The values of the flash array ``item`` of ``model``: a model array (power-of-two weights as
    :func:`fixedrnn.pot_pairs.encode` writes them, packed forms' weights as
    :meth:`fixedrnn.weight_forms.WeightForm.flash_bytes` does, sparse storage's arrays of
    ``sparse_arrays``, :func:`sparse_tables`), a front-end table (of ``front``,
    :func:`frontend_tables`) or an activation constant."""
    p = layout.SYMBOL_PREFIX
    if item.symbol in front:
        return front[item.symbol]
    if item.symbol in sparse_arrays:
        return sparse_arrays[item.symbol]
    if item.symbol == f"{p}sigmoid_table":
        return sigmoid_table()
    if item.symbol == f"{p}pot_pair_table":
        return pot_pairs.table()
    if item.symbol == f"{p}tanh_table":
        return np.asarray(model.prepared.cell.tanh.table, np.int64)
    if item.symbol == f"{p}silence_features":
        return silence_features(model) if silence is None else silence
    if item.symbol == f"{p}silence_mfcc":
        return model.prepared.silent_mfcc  # front-end output of an all-zero frame (CMN's left padding)
    if item.source not in arrays:
        raise FixedRnnError(f"{item.symbol}: no values for this flash item (source {item.source!r})")
    if item.source.endswith(".pot"):
        return pot_pairs.encode(arrays[item.source])  # each byte of two codes -> its pair-table index
    if item.kind == "weights" and model.weight_form.packed:
        return model.weight_form.flash_bytes(arrays[item.source])  # 2- or 4-bit codes, packed
    return arrays[item.source]


def _graph_arrays(graph_plan):
    """``{symbol: values}`` of a graph model's executor arrays (:mod:`fixedrnn.graph_plan`)."""
    p = layout.SYMBOL_PREFIX
    return {f"{p}graph_program": graph_plan.program, f"{p}graph_s8": graph_plan.s8, f"{p}graph_s32": graph_plan.s32,
            f"{p}tanh_exp_multipliers": tanh_exp_multipliers()}


def sparse_tables(model, arrays):
    """``{symbol: values}`` of the sparse storage's flash arrays of ``model`` (:mod:`fixedrnn.sparse`;
    empty for dense storage): each weight matrix's values, columns and row offsets."""
    if not model.weight_form.sparse:
        return {}
    out = {}
    for key, value in arrays.items():
        if key.endswith(".weight"):
            for part, values in sparse.from_dense(value, key).arrays().items():
                out[layout.sparse_symbol(key, part)] = values
    return out


def graph_macros(graph_plan):
    """The graph executor's configuration (frnn_graph.c): its op codes and reference spaces
    (:mod:`fixedrnn.graph_plan`), the program's length, the output's reference, ADD's left shift, the
    most filter rows and the bytes of the in-place convolutions' scratch."""
    from fixedrnn import graph_plan as plans
    from fixedrnn.ops.elementwise import ADD_LEFT_SHIFT

    return ([f"#define FRNN_GRAPH_OP_{name} {code}" for name, code in plans.OPCODES.items()]
            + [f"#define FRNN_GRAPH_SPACE_{name} {code}" for name, code in plans.SPACES.items()]
            + [f"#define FRNN_GRAPH_PROGRAM_LENGTH {graph_plan.program.size} /* int32 words of fr_graph_program */",
               f"#define FRNN_GRAPH_OUTPUT {graph_plan.output} /* reference of the graph's output [C] */",
               f"#define FRNN_GRAPH_ADD_LEFT_SHIFT {ADD_LEFT_SHIFT} /* TFLM int8 ADD / SUB */",
               f"#define FRNN_GRAPH_MAX_KERNEL_ROWS {plans.MAX_KERNEL_ROWS} /* filter rows a convolution may have */",
               f"#define FRNN_GRAPH_SCRATCH_BYTES {graph_plan.scratch_bytes} /* fr_graph_scratch: the rows of the "
               f"convolutions run in place, then the patch */",
               f"#define FRNN_GRAPH_PATCH_BYTES {graph_plan.patch_bytes} /* a convolution's patch, at the end of "
               f"fr_graph_scratch */"])


def _graph_header(model, arrays, items, graph_plan, stream=None):
    """The text of ``frnn_model.h`` for a graph model (frnn_graph.c); with ``stream`` (per segment),
    the streaming macros."""
    return "\n".join([
        "/* Generated by fixedrnn.c_export: the data and configuration of one graph model, no code.",
        " * Do not edit. The API is frnn_api.h; the code frnn_pipeline.c and frnn_graph.c. */",
        "#ifndef FRNN_MODEL_H",
        "#define FRNN_MODEL_H",
        "",
        "#include <stdint.h>",
        "",
        '#include "frnn_mfcc.h" /* q15_t, q31_t, the front-end instance types */',
        "",
        "#define FRNN_CELL_GRAPH 1 /* a graph model (fixedrnn.graph), run by frnn_graph.c */",
        "#define FRNN_WEIGHTS_INT8 1 /* int8 weights (the graph's constants) */",
        *_frontend_macros(model),
        f"#define FRNN_FRAMES {model.frames} /* T: frames in the feature window (the graph's input) */",
        f"#define FRNN_N_CLASSES {len(model.labels)} /* C: logits */",
        *_cmn_macros(model),
        *(["", "/* The streaming configuration (fixedrnn.stream.StreamConfig), docs/streaming.md. */",
           *_stream_macros(stream, model.labels)] if stream is not None else []),
        "",
        "/* The model's scalar integers: FR_ + each 0-d integer key of the model file (docs/model-format.md). */",
        *_scalar_macros(arrays),
        "",
        "/* The graph executor (fixedrnn.graph_plan): op codes, reference spaces, program, constants. */",
        *graph_macros(graph_plan),
        "",
        "/* Every data object of frnn_model.c: the items of fixedrnn.layout.flash_items (const) and",
        " * ram_items (zero-initialised), in that order: kind, [shape], what it holds. */",
        *(_extern(item) for item in items),
        "",
        "#endif",
        "",
    ])


def generate(model, silence=None, stream=None, endpoint=None):
    """``{file name: text}`` of every source of the firmware for ``model`` (a
    :class:`fixedrnn.model.Model`): the package's C files it needs and the generated
    ``frnn_model.h`` / ``frnn_model.c``. ``silence``: the int8 ``[I]`` features of an all-zero frame;
    None computes them with the engine's front end (a model with cepstral mean normalisation pads with
    the frame's front-end output instead and ignores it). ``stream``: a
    :class:`fixedrnn.stream.StreamConfig` for the streaming firmware; ``endpoint``: a
    :class:`fixedrnn.endpoint.EndpointConfig` for the endpointing window firmware (module docstring)."""
    arrays = model.to_arrays()
    layout.check_options(arrays, stream, endpoint)
    flash = layout.flash_items(arrays, stream, endpoint)
    ram = layout.ram_items(arrays, stream, endpoint)
    instances = _instances(arrays)
    front = frontend_tables(model)
    graph = model.cell == GRAPH_CELL
    graph_plan = layout.graph_plan_of(arrays) if graph else None
    sparse_arrays = _graph_arrays(graph_plan) if graph else sparse_tables(model, arrays)  # computed arrays
    body = [
        "/* Generated by fixedrnn.c_export: the data of one model (declared in frnn_model.h). Do not edit. */",
        '#include "frnn_model.h"',
        "",
        "/* ---- flash: one const object per item of fixedrnn.layout.flash_items ---- */",
    ]
    for item in flash:
        if item.is_instance:
            body.append(f"{_c_declaration(item)} = {instances[item.symbol]};\n")
        else:
            body.append(_c_array(item, _flash_values(model, arrays, item, front, silence, sparse_arrays)))
    body.append("/* ---- RAM: one array per item of fixedrnn.layout.ram_items ---- */")
    body += [f"{item.c_declaration()};" for item in ram]
    body.append("")
    if graph:
        files = {name: path.read_text() for name, path in source_files(model.cell, stream=stream is not None).items()}
        files["frnn_model.h"] = _graph_header(model, arrays, flash + ram, graph_plan, stream)
        files["frnn_model.c"] = "\n".join(body)
        return files
    form = model.weight_form
    files = {name: path.read_text()
             for name, path in source_files(model.cell, form.packed, form.sparse, stream is not None).items()}
    files["frnn_model.h"] = _header(model, arrays, flash + ram, stream, endpoint)
    files["frnn_model.c"] = "\n".join(body)
    return files


def export_c(model_or_path, outdir, silence=None, allow_overflow=False, stream=None, endpoint=None):
    """Write the C sources of a model (a Model or a model file path) into ``outdir``; returns the
    list of written paths. ``silence``, ``stream`` (the streaming firmware) and ``endpoint`` (the
    endpointing window firmware) as for :func:`generate`. A model that fails the overflow
    audit is refused unless ``allow_overflow`` (the caller reports the failing rows).

    The set is written as one step (:func:`fixedrnn.atomicfile.write_directory`): into a temporary
    directory beside ``outdir``, then moved in; a failure or an interruption never leaves files of
    two models. Files of a previous export that this model does not need (:data:`EXPORTED_FILES`:
    the other cell's C file) are removed; any other file of ``outdir`` is left as it is."""
    model = _load(model_or_path)
    layout.check_options(model.to_arrays(), stream, endpoint)
    if not allow_overflow:
        overflow.require_no_overflow(model, "export c")
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise FixedRnnError(f"outdir {outdir} exists and is not a directory")
    files = generate(model, silence, stream, endpoint)
    outdir.parent.mkdir(parents=True, exist_ok=True)
    return atomicfile.write_directory(outdir, {name: text.encode("utf-8") for name, text in files.items()},
                                      owned=EXPORTED_FILES)
