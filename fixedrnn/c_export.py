"""C99 sources of a model's integer inference: ``export_c(model_or_path, outdir)``.

Writes into ``outdir`` (created if needed; each file written to a temporary name and renamed):

- ``frnn_kernels.h``, ``frnn_kernels.c``: the integer kernels (copied from ``fixedrnn/c``);
- ``frnn_mfcc.h``, ``frnn_mfcc.c``: the fixed-point MFCC, q15 and q31 (``arm_mfcc_q15/q31``'s
  algorithm, bit-exact with ``fixedrnn.frontend``; copied from ``fixedrnn/c``);
- ``frnn_model.h``: dimensions, the model's scalar integers as macros, the API;
- ``frnn_model.c``: every flash item of :func:`fixedrnn.budget.flash_items` as one ``const`` array
  (or instance) with that symbol, C type and element count (weights as stored: int8, or PoT codes
  packed two per byte; the front end's tables from their generators in ``fixedrnn.frontend``),
  every RAM item of :func:`fixedrnn.budget.ram_items` ("window" mode) as one static-duration array,
  and the front end, cell (RNN or LSTM 8x8->16), head and feature window.

API (all sizes are macros of ``frnn_model.h``)::

    void frnn_init(void);                        window = T silent-frame vectors, state reset
    void frnn_push_samples(const int16_t *pcm, int32_t n);  PCM in: a frame every hop samples
    void frnn_end_utterance(void);               an utterance shorter than a frame: one padded frame
    void frnn_push_frame(const int16_t frame[FRNN_FFT_LENGTH]);  MFCC -> int8 -> window
    void frnn_mfcc_frame(const int16_t frame[], int32_t mfcc[FRNN_N_FEATURES]);  MFCC only
    void frnn_push_features(const int8_t x[FRNN_N_FEATURES]);   slide the window by one frame
    void frnn_result(int8_t logits[FRNN_N_CLASSES]);            run cell over the window + head
    void frnn_run_features(const int8_t x[FRNN_FRAMES * FRNN_N_FEATURES], int8_t logits[]);
    void frnn_cell_reset(void); void frnn_cell_step(const int8_t x[]); void frnn_head(int8_t logits[]);

Framing equals ``fixedrnn.mfcc.frames`` (frames at 0, hop, 2·hop, ...; a too-short utterance gives
one zero-padded frame); a q31 front end reads the int16 samples as q31 (``x << 16``). The window rule
is docs/CONTRACT.md's: fewer than T frames are left-padded with the silent-frame vector, more keep
the last T.
"""

import os
from pathlib import Path

import numpy as np

from fixedrnn import atomicfile, budget
from fixedrnn.errors import FixedRnnError

C_DIR = Path(__file__).resolve().parent / "c"
KERNEL_FILES = ("frnn_kernels.h", "frnn_kernels.c", "frnn_mfcc.h", "frnn_mfcc.c")


def _load(model_or_path):
    from fixedrnn import model as model_module

    if isinstance(model_or_path, (str, os.PathLike)):
        return model_module.load(model_or_path)
    if not hasattr(model_or_path, "to_arrays"):
        raise FixedRnnError(f"model must be a fixedrnn.model.Model or a path, got {type(model_or_path).__name__}")
    return model_or_path


def _macro(key):
    return budget.symbol_for(key).upper()


def _c_array(item, values, const=True, per_line=16):
    values = np.asarray(values).reshape(-1)
    if values.size != item.count:
        raise FixedRnnError(f"{item.symbol}: {values.size} values for {item.count} elements")
    rows = []
    for start in range(0, values.size, per_line):
        rows.append("    " + ", ".join(_c_literal(int(v), item.c_type) for v in values[start:start + per_line]) + ",")
    qual = "const " if const else ""
    return f"{qual}{item.c_type} {item.symbol}[{item.count}] = {{\n" + "\n".join(rows) + "\n};\n"


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
    try:
        from fixedrnn import engine
    except ImportError:
        raise FixedRnnError("the silent-frame features need the engine's front end (fixedrnn.engine), "
                            "which is not available") from None
    pcm = np.zeros(int(model.frontend.fft_length), np.int16)
    return np.asarray(engine.features(model, pcm))[-1]


def bit_reversal_pairs(length):
    """uint16 index pairs ``(i, rev(i))``, ``i < rev(i)``, of the bit-reversal permutation of
    ``length`` complex points, flattened: swapping each pair in place puts a radix-4/2 FFT output
    in natural order (``length − 2**ceil(log2(length)/2)`` entries, as ``budget.bitrev_table_length``)."""
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

    p = budget.SYMBOL_PREFIX
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


def _frontend_code(model):
    """Front-end instances and the PCM API (push frame / push samples / end of utterance)."""
    p = budget.SYMBOL_PREFIX
    cfg = model.frontend.mfcc_config()
    q = model.frontend.precision
    n, half = cfg.fft_length, cfg.fft_length // 2
    shape = budget.frontend_shape(model.to_arrays())
    widen = "(q31_t)frame[i] * 65536" if q == "q31" else "frame[i]"
    return [
        "/* ---- MFCC front end (frnn_mfcc.c), instances in flash ---- */",
        f"const frnn_cfft_instance {p}cfft_instance = {{{half}, {p}cfft_twiddle, {p}cfft_bitrev, "
        f"{budget.bitrev_table_length(half)}}};",
        f"const frnn_mfcc_instance {p}mfcc_instance = {{",
        f"    {p}mfcc_dct, {p}mfcc_filter_pos, {p}mfcc_filter_lengths, {p}mfcc_filter_coefs, {p}mfcc_window,",
        f"    {n}, {shape.n_mels}, {shape.n_mfcc},",
        f"    {{{n}, 0, 1, 1, {p}rfft_coef_a, {p}rfft_coef_b, &{p}cfft_instance}}}};",
        "",
        f"void frnn_mfcc_frame(const int16_t *frame, int32_t *mfcc)",
        "{",
        "    for (int i = 0; i < FRNN_FFT_LENGTH; ++i) {",
        f"        {p}mfcc_input[i] = {widen};",
        "    }",
        f"    frnn_mfcc_{q}(&{p}mfcc_instance, {p}mfcc_input, {p}mfcc_tmp, {p}sqrt_lut, {p}mfcc_out);",
        "    for (int c = 0; c < FRNN_N_FEATURES; ++c) {",
        f"        mfcc[c] = {p}mfcc_out[c];",
        "    }",
        "}",
        "",
        "void frnn_push_frame(const int16_t *frame)",
        "{",
        "    int32_t mfcc[FRNN_N_FEATURES];",
        "    int8_t x[FRNN_N_FEATURES];",
        "    frnn_mfcc_frame(frame, mfcc);",
        "    frnn_normalize(mfcc, x);",
        "    frnn_push_features(x);",
        "}",
        "",
        "/* Samples held in the audio frame: all pushed ones before the first frame; afterwards the",
        "   fft_length - hop overlap plus those pushed since the last frame. */",
        "static uint32_t audio_fill(void)",
        "{",
        f"    const uint32_t seen = {p}audio_count[0];",
        "    return seen < FRNN_FFT_LENGTH ? seen : FRNN_FFT_LENGTH - FRNN_HOP + (seen - FRNN_FFT_LENGTH) % FRNN_HOP;",
        "}",
        "",
        "void frnn_push_samples(const int16_t *samples, int32_t n)",
        "{",
        "    uint32_t fill = audio_fill();",
        "    for (int32_t i = 0; i < n; ++i) {",
        f"        {p}audio_frame[fill++] = samples[i];",
        f"        {p}audio_count[0] += 1;",
        "        if (fill == FRNN_FFT_LENGTH) {",
        f"            frnn_push_frame({p}audio_frame);",
        f"            memmove({p}audio_frame, {p}audio_frame + FRNN_HOP, (FRNN_FFT_LENGTH - FRNN_HOP) * sizeof(int16_t));",
        "            fill = FRNN_FFT_LENGTH - FRNN_HOP;",
        "        }",
        "    }",
        "}",
        "",
        "void frnn_end_utterance(void)",
        "{",
        f"    if ({p}audio_count[0] < FRNN_FFT_LENGTH) {{ /* too short: one zero-padded frame */",
        f"        const uint32_t fill = {p}audio_count[0];",
        f"        memset({p}audio_frame + fill, 0, (FRNN_FFT_LENGTH - fill) * sizeof(int16_t));",
        f"        frnn_push_frame({p}audio_frame);",
        "    }",
        f"    {p}audio_count[0] = 0;",
        "}",
        "",
    ]


def _scalar_macros(arrays):
    lines = []
    for key, value in arrays.items():
        arr = np.asarray(value)
        if arr.ndim == 0 and np.issubdtype(arr.dtype, np.integer) and not key.startswith("meta."):
            lines.append(f"#define {_macro(key)} ({int(arr)})")
    return lines


def _fc_params(name, arrays, key, input_zero_point, act):
    mult = np.asarray(arrays[f"{key}.multiplier"])
    per_channel = 1 if mult.size > 1 else 0
    return (f"static const frnn_fc_params {name} = {{-({input_zero_point}), {act[2]}, {act[0]}, {act[1]}, "
            f"{budget.symbol_for(key + '.multiplier')}, {budget.symbol_for(key + '.shift')}, {per_channel}}};")


def _weights(arrays, key):
    if f"{key}.pot" in arrays:
        return "pot", budget.symbol_for(f"{key}.pot")
    return "s8", budget.symbol_for(f"{key}.weight")


def _fc_call(kind, out_type, x, weights, start, bias, n_in, n_out, params, y):
    if kind == "pot":
        return f"frnn_fc_pot_{out_type}({x}, {weights}, {start}, {bias}, {n_in}, {n_out}, &{params}, {y});"
    offset = f" + {start}" if start != "0" else ""
    return f"frnn_fc_s8_{out_type}({x}, {weights}{offset}, {bias}, {n_in}, {n_out}, &{params}, {y});"


def _rnn_code(arrays):
    h = "FRNN_UNITS"
    kin, win = _weights(arrays, "rnn.input_fc")
    krec, wrec = _weights(arrays, "rnn.recurrent_fc")
    out = [
        _fc_params("input_fc", arrays, "rnn.input_fc", "FR_INPUT_ZERO_POINT",
                   ("-128", "127", "FR_RNN_INPUT_FC_OUTPUT_ZERO_POINT")),
        _fc_params("recurrent_fc", arrays, "rnn.recurrent_fc", "0",
                   ("-128", "127", "FR_RNN_RECURRENT_FC_OUTPUT_ZERO_POINT")),
        "static const frnn_add_params add_params = {",
        "    -(FR_RNN_INPUT_FC_OUTPUT_ZERO_POINT), -(FR_RNN_RECURRENT_FC_OUTPUT_ZERO_POINT),",
        "    FR_RNN_ADD_OUTPUT_ZERO_POINT, 20,",
        "    FR_RNN_ADD_INPUT1_MULTIPLIER, FR_RNN_ADD_INPUT1_SHIFT, FR_RNN_ADD_INPUT2_MULTIPLIER,",
        "    FR_RNN_ADD_INPUT2_SHIFT, FR_RNN_ADD_OUTPUT_MULTIPLIER, FR_RNN_ADD_OUTPUT_SHIFT, -128, 127};",
        "",
        "void frnn_cell_reset(void)",
        "{",
        "    memset(fr_hidden, 0, sizeof fr_hidden); /* h = 0 (scale 1/128, zero point 0) */",
        "}",
        "",
        "/* h_t = TANH(ADD(FC(x_t), FC(h_{t-1}))), TFLM int8 semantics (docs/model-format.md). */",
        "void frnn_cell_step(const int8_t *x)",
        "{",
        f"    int8_t *a = fr_gate_scratch, *r = fr_gate_scratch + {h};",
        "    " + _fc_call(kin, "s8", "x", win, "0", budget.symbol_for("rnn.input_fc.bias"),
                          "FRNN_N_FEATURES", h, "input_fc", "a"),
        "    " + _fc_call(krec, "s8", "fr_hidden", wrec, "0", "NULL", h, h, "recurrent_fc", "r"),
        f"    frnn_add_s8(a, r, {h}, &add_params, a);",
        f"    frnn_tanh_s8(a, {h}, FR_RNN_ADD_OUTPUT_ZERO_POINT, FR_RNN_TANH_INPUT_RANGE_RADIUS,",
        "                 FR_RNN_TANH_INPUT_MULTIPLIER, FR_RNN_TANH_INPUT_SHIFT, fr_tanh_exp_multipliers, fr_hidden);",
        "}",
    ]
    return out, "0"


def _lstm_code(arrays):
    h = "FRNN_UNITS"
    kin, win = _weights(arrays, "lstm.input_fc")
    krec, wrec = _weights(arrays, "lstm.recurrent_fc")
    bias = budget.symbol_for("lstm.input_fc.bias")
    mx, sx = budget.symbol_for("lstm.input_fc.multiplier"), budget.symbol_for("lstm.input_fc.shift")
    mh, sh = budget.symbol_for("lstm.recurrent_fc.multiplier"), budget.symbol_for("lstm.recurrent_fc.shift")
    out = [
        "static void gate(int k, const int8_t *x, int16_t *out, int16_t *scratch)",
        "{",
        f"    const frnn_fc_params px = {{-(FR_INPUT_ZERO_POINT), 0, INT16_MIN, INT16_MAX, {mx} + k, {sx} + k, 0}};",
        f"    const frnn_fc_params ph = {{-(FR_LSTM_HIDDEN_ZERO_POINT), 0, INT16_MIN, INT16_MAX, {mh} + k, {sh} + k, 0}};",
        "    " + _fc_call(kin, "s16", "x", win, f"k * {h} * FRNN_N_FEATURES", f"{bias} + k * {h}",
                          "FRNN_N_FEATURES", h, "px", "out"),
        "    " + _fc_call(krec, "s16", "fr_hidden", wrec, f"k * {h} * {h}", "NULL", h, h, "ph", "scratch"),
        f"    frnn_add_s16_sat(out, scratch, {h}, out);",
        "    if (k == 2) {",
        f"        frnn_tanh_s16(out, {h}, 3, 0, {budget.SYMBOL_PREFIX}sigmoid_table, out); /* P = -12: shift 0 */",
        "    } else {",
        f"        frnn_sigmoid_s16(out, {h}, 0, 0, {budget.SYMBOL_PREFIX}sigmoid_table, out);",
        "    }",
        "}",
        "",
        "void frnn_cell_reset(void)",
        "{",
        "    memset(fr_cell_state, 0, sizeof fr_cell_state);",
        "    memset(fr_hidden, FR_LSTM_HIDDEN_ZERO_POINT, sizeof fr_hidden); /* int8 state = zero point */",
        "}",
        "",
        "/* One TFLM LstmStep (8x8->16), gates i, f, g, o = 0..3 (docs/model-format.md). */",
        "void frnn_cell_step(const int8_t *x)",
        "{",
        f"    int16_t *b0 = fr_gate_scratch, *b1 = b0 + {h}, *b2 = b1 + {h}, *b3 = b2 + {h};",
        "    static const frnn_mul_params forget_mul = {0, 0, 0, FR_LSTM_FORGET_MUL_MULTIPLIER,",
        "                                               FR_LSTM_FORGET_MUL_SHIFT, INT16_MIN, INT16_MAX};",
        "    static const frnn_mul_params input_mul = {0, 0, 0, FR_LSTM_INPUT_MUL_MULTIPLIER,",
        "                                              FR_LSTM_INPUT_MUL_SHIFT, INT16_MIN, INT16_MAX};",
        "    static const frnn_mul_params output_mul = {0, 0, FR_LSTM_HIDDEN_ZERO_POINT, FR_LSTM_OUTPUT_MUL_MULTIPLIER,",
        "                                               FR_LSTM_OUTPUT_MUL_SHIFT, -128, 127};",
        "    gate(1, x, b0, b1); /* forget */",
        "    gate(0, x, b1, b2); /* input */",
        "    gate(2, x, b2, b3); /* cell */",
        f"    frnn_mul_s16_s16(b0, fr_cell_state, {h}, &forget_mul, fr_cell_state);",
        f"    frnn_mul_s16_s16(b1, b2, {h}, &input_mul, b3);",
        f"    frnn_add_s16_sat(fr_cell_state, b3, {h}, fr_cell_state);",
        "    gate(3, x, b0, b1); /* output */",
        "    {",
        "        int32_t shift = 15 + FR_LSTM_CELL_SCALE_POWER - 3, multiplier = 0;",
        "        if (shift < 0) {",
        "            shift = -shift;",
        "            multiplier = 3;",
        "        }",
        f"        frnn_tanh_s16(fr_cell_state, {h}, multiplier, shift, {budget.SYMBOL_PREFIX}sigmoid_table, b1);",
        "    }",
        f"    frnn_mul_s16_s8(b1, b0, {h}, &output_mul, fr_hidden);",
        "}",
    ]
    return out, "FR_LSTM_HIDDEN_ZERO_POINT"


def generate(model, silence=None):
    """``{file name: text}`` of the generated sources for ``model`` (a :class:`fixedrnn.model.Model`).
    ``silence``: the int8 ``[I]`` features of an all-zero frame; None computes them with the engine's
    front end."""
    arrays = model.to_arrays()
    cell = str(np.asarray(arrays["cell"]))
    units = int(np.asarray(arrays[f"{cell}.units"]))
    n_in = int(np.asarray(arrays["frontend.n_mfcc"]))
    frames = int(np.asarray(arrays["sequence.frames"]))
    n_classes = int(np.asarray(arrays["labels"]).size)

    header = [
        "/* Generated by fixedrnn.c_export: integer inference of one model. Do not edit. */",
        "#ifndef FRNN_MODEL_H",
        "#define FRNN_MODEL_H",
        "",
        "#include <stdint.h>",
        "",
        f"#define FRNN_CELL_{cell.upper()} 1",
        f"#define FRNN_WEIGHTS_{str(np.asarray(arrays['weights'])).upper()} 1",
        f"#define FRNN_N_FEATURES {n_in}",
        f"#define FRNN_UNITS {units}",
        f"#define FRNN_FRAMES {frames}",
        f"#define FRNN_N_CLASSES {n_classes}",
        f"#define FRNN_FFT_LENGTH {int(np.asarray(arrays['frontend.fft_length']))}",
        f"#define FRNN_HOP {int(np.asarray(arrays['frontend.hop']))}",
        "",
        "/* The model's scalar integers (0-d keys of the model file). */",
        *_scalar_macros(arrays),
        "",
        "void frnn_normalize(const int32_t *mfcc, int8_t *x);",
        "void frnn_mfcc_frame(const int16_t *frame, int32_t *mfcc);",
        "void frnn_push_frame(const int16_t *frame);",
        "void frnn_push_samples(const int16_t *samples, int32_t n);",
        "void frnn_end_utterance(void);",
        "void frnn_init(void);",
        "void frnn_push_features(const int8_t *x);",
        "void frnn_result(int8_t *logits);",
        "void frnn_run_features(const int8_t *x, int8_t *logits);",
        "const int8_t *frnn_window(void);",
        "void frnn_cell_reset(void);",
        "void frnn_cell_step(const int8_t *x);",
        "void frnn_head(int8_t *logits);",
        "",
        "#endif",
        "",
    ]

    flash = budget.flash_items(arrays, mode="window")
    ram = budget.ram_items(arrays, mode="window")
    front = frontend_tables(model)
    body = [
        "/* Generated by fixedrnn.c_export: constants, buffers, cell and head of one model. */",
        "#include <stddef.h>",
        "#include <string.h>",
        "",
        '#include "frnn_kernels.h"',
        '#include "frnn_mfcc.h"',
        '#include "frnn_model.h"',
        "",
        "/* ---- flash: one const array per budget item (fixedrnn.budget.model_flash_items) ---- */",
    ]
    for item in flash:
        if item.is_instance:
            continue  # written with the front-end code below
        if item.symbol in front:
            values = front[item.symbol]
        elif item.symbol == f"{budget.SYMBOL_PREFIX}sigmoid_table":
            values = sigmoid_table()
        elif item.symbol == f"{budget.SYMBOL_PREFIX}tanh_exp_multipliers":
            values = tanh_exp_multipliers()
        elif item.symbol == f"{budget.SYMBOL_PREFIX}silence_features":
            values = silence_features(model) if silence is None else silence
        else:
            values = arrays[item.source]
        body.append(_c_array(item, values))
    body.append("/* ---- RAM: one array per budget item (fixedrnn.budget.model_ram_items, window mode) ---- */")
    for item in ram:
        body.append(f"{item.c_type} {item.symbol}[{item.count}];")
    body.append("")
    body += _frontend_code(model)
    cell_code, head_zero_point = (_lstm_code if cell == "lstm" else _rnn_code)(arrays)
    body += cell_code
    khead, whead = _weights(arrays, "head")
    body += [
        "",
        _fc_params("head_fc", arrays, "head", head_zero_point, ("-128", "127", "FR_HEAD_OUTPUT_ZERO_POINT")),
        "",
        "void frnn_head(int8_t *logits)",
        "{",
        "    " + _fc_call(khead, "s8", "fr_hidden", whead, "0", budget.symbol_for("head.bias"), "FRNN_UNITS",
                          "FRNN_N_CLASSES", "head_fc", "logits"),
        "}",
        "",
        "/* Step 3 of docs/CONTRACT.md: MFCC (q8.7 int16 or q31 int32, widened) -> int8 features. */",
        "void frnn_normalize(const int32_t *mfcc, int8_t *x)",
        "{",
        "    for (int c = 0; c < FRNN_N_FEATURES; ++c) {",
        "        const int32_t v = frnn_mbqm(mfcc[c] - fr_input_offset[c], fr_input_multiplier[c], (int)fr_input_shift[c]);",
        "        x[c] = (int8_t)frnn_clamp(FR_INPUT_ZERO_POINT + v, -128, 127);",
        "    }",
        "}",
        "",
        "void frnn_init(void)",
        "{",
        "    for (int t = 0; t < FRNN_FRAMES; ++t) {",
        f"        memcpy(fr_features + t * FRNN_N_FEATURES, {budget.SYMBOL_PREFIX}silence_features, FRNN_N_FEATURES);",
        "    }",
        "    frnn_cell_reset();",
        f"    {budget.SYMBOL_PREFIX}audio_count[0] = 0;",
        "}",
        "",
        "void frnn_push_features(const int8_t *x)",
        "{",
        "    memmove(fr_features, fr_features + FRNN_N_FEATURES, (FRNN_FRAMES - 1) * FRNN_N_FEATURES);",
        "    memcpy(fr_features + (FRNN_FRAMES - 1) * FRNN_N_FEATURES, x, FRNN_N_FEATURES);",
        "}",
        "",
        "const int8_t *frnn_window(void)",
        "{",
        "    return fr_features;",
        "}",
        "",
        "void frnn_run_features(const int8_t *x, int8_t *logits)",
        "{",
        "    frnn_cell_reset();",
        "    for (int t = 0; t < FRNN_FRAMES; ++t) {",
        "        frnn_cell_step(x + t * FRNN_N_FEATURES);",
        "    }",
        "    frnn_head(logits);",
        "}",
        "",
        "void frnn_result(int8_t *logits)",
        "{",
        "    frnn_run_features(fr_features, fr_logits);",
        "    memcpy(logits, fr_logits, FRNN_N_CLASSES);",
        "}",
        "",
    ]
    files = {name: (C_DIR / name).read_text() for name in KERNEL_FILES}
    files["frnn_model.h"] = "\n".join(header)
    files["frnn_model.c"] = "\n".join(body)
    return files


def export_c(model_or_path, outdir, silence=None):
    """Write the C sources of a model (a Model or a model file path) into ``outdir``; returns the
    list of written paths. ``silence`` as for :func:`generate`."""
    model = _load(model_or_path)
    files = generate(model, silence)
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise FixedRnnError(f"outdir {outdir} exists and is not a directory")
    outdir.mkdir(parents=True, exist_ok=True)
    # all sources renamed together once every one is written: never a mix of two models
    return atomicfile.write_files({outdir / name: (lambda fh, text=text: fh.write(text.encode("utf-8")))
                                   for name, text in files.items()})
