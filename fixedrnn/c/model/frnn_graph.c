/* The graph executor of a graph model (an imported unrolled Keras graph or a convolutional network,
 * fixedrnn.graph): runs the program fr_graph_program of frnn_model.c over the window, as TFLM runs
 * the original .tflite.
 *
 * The program is fixedrnn.graph_plan's: per op a code (FRNN_GRAPH_OP_*) and its int32 fields in the
 * order of graph_plan.FIELDS. A tensor operand is a reference offset * 4 + space: FRNN_GRAPH_SPACE_ARENA
 * (byte offset in fr_graph_arena), _INPUT (byte offset in the window), _S8 (element of fr_graph_s8),
 * _S32 (element of fr_graph_s32). Ops: FULLY_CONNECTED, ADD (frnn_kernels.h), SUB, MUL, TANH
 * (frnn_tanh_s8), LOGISTIC (frnn_logistic_q4), DEQUANTIZE / QUANTIZE (TFLM's reference
 * float arithmetic: the float island of a Keras 3 LSTM), COPY (contiguous byte runs: the data moves
 * that are not views), CONV (CONV_2D and DEPTHWISE_CONV_2D), AVERAGE_POOL_2D and MEAN (fixedrnn/ops/conv.py,
 * pooling.py). The graph keeps no state between windows. Formats and rounding:
 * fixedrnn/ops/ (arith_s8, logistic_s8, float_island), which the tests compare this file with.
 */
#include <string.h>

#include "frnn_api.h"
#include "frnn_kernels.h"

#define INT8_LO (-128)
#define INT8_HI 127

static const int8_t *window;

/* Accumulators a depthwise convolution keeps per output pixel (a block of its channels; stack). */
#define DW_BLOCK 32

/* The operand at reference r (read only). */
static const void *operand(int32_t r)
{
    const int32_t offset = r >> 2;
    switch (r & 3) {
    case FRNN_GRAPH_SPACE_ARENA:
        return (const int8_t *)fr_graph_arena + offset;
    case FRNN_GRAPH_SPACE_INPUT:
        return window + offset;
    case FRNN_GRAPH_SPACE_S8:
        return fr_graph_s8 + offset;
    default:
        return fr_graph_s32 + offset;
    }
}

/* The arena buffer at reference r (an op's output). */
static void *result(int32_t r)
{
    return (int8_t *)fr_graph_arena + (r >> 2);
}

/* TFLM int8 LOGISTIC (fixedrnn.ops.logistic_s8): output scale 1/256, zero point -128. */
static void logistic_s8(const int8_t *x, int n, const int32_t *f, int8_t *y)
{
    const int32_t zero_point = f[0], radius = f[1], multiplier = f[2], shift = f[3];
    for (int i = 0; i < n; ++i) {
        const int32_t d = (int32_t)x[i] - zero_point;
        if (d <= -radius) {
            y[i] = INT8_LO;
        } else if (d >= radius) {
            y[i] = INT8_HI;
        } else {
            const int32_t out = frnn_rdbypot(frnn_logistic_q4(frnn_mbqm(d, multiplier, (int)shift), fr_tanh_exp_multipliers), 23) + INT8_LO;
            y[i] = (int8_t)frnn_clamp(out, INT8_LO, INT8_HI);
        }
    }
}

/* TFLM int8 SUB (fixedrnn.ops.arith_s8): as ADD with the second input subtracted. f: the offsets,
 * then (multiplier, shift) of input 1, input 2 and the output. */
static void sub_s8(const int8_t *a, const int8_t *b, int n, const int32_t *f, int8_t *y)
{
    for (int i = 0; i < n; ++i) {
        const int32_t in1 = (int32_t)((uint32_t)(f[0] + a[i]) << FRNN_GRAPH_ADD_LEFT_SHIFT);
        const int32_t in2 = (int32_t)((uint32_t)(f[1] + b[i]) << FRNN_GRAPH_ADD_LEFT_SHIFT);
        const int32_t s1 = frnn_mbqm(in1, f[3], (int)f[4]);
        const int32_t s2 = frnn_mbqm(in2, f[5], (int)f[6]);
        y[i] = (int8_t)frnn_clamp(frnn_mbqm(s1 - s2, f[7], (int)f[8]) + f[2], INT8_LO, INT8_HI);
    }
}

/* TFLM int8 MUL: clamp(z_out + MBQM((a - z1)(b - z2), m, s)). f: offsets (-z1, -z2, z_out), m, s. */
static void mul_s8(const int8_t *a, const int8_t *b, int n, const int32_t *f, int8_t *y)
{
    for (int i = 0; i < n; ++i) {
        const int32_t product = (f[0] + a[i]) * (f[1] + b[i]);
        y[i] = (int8_t)frnn_clamp(f[2] + frnn_mbqm(product, f[3], (int)f[4]), INT8_LO, INT8_HI);
    }
}

static float scale_of(int32_t bits)
{
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return scale;
}

/* TFLM DEQUANTIZE: float32(double(scale) * (x - zero_point)). */
static void dequantize(const int8_t *x, int n, int32_t zero_point, float scale, float *y)
{
    for (int i = 0; i < n; ++i) {
        y[i] = (float)((double)scale * (double)((int32_t)x[i] - zero_point));
    }
}

/* TFLM QUANTIZE float32 -> int8: clamp(round_half_away(x / scale) + zero_point), the division in
 * float32; quotients beyond +-1000 clamp whatever their rounding. */
static void quantize(const float *x, int n, int32_t zero_point, float scale, int8_t *y)
{
    for (int i = 0; i < n; ++i) {
        const float q = x[i] / scale;
        double d = (double)q;
        d = d > 1000.0 ? 1000.0 : (d < -1000.0 ? -1000.0 : d);
        const int32_t rounded = d >= 0.0 ? (int32_t)(d + 0.5) : -(int32_t)(-d + 0.5);
        y[i] = (int8_t)frnn_clamp(rounded + zero_point, INT8_LO, INT8_HI);
    }
}

/* One output row of TFLM's ConvPerChannel / DepthwiseConvPerChannel (fixedrnn.ops.conv), NHWC,
 * batch 1: f as graph_plan.FIELDS["CONV"]; depth multiplier 0 is a CONV_2D (filter [O][KH][KW][I]),
 * else a depthwise convolution (filter [1][KH][KW][I * M], output channel o reads input channel
 * o / M). rows[fy]: the input row filter row fy reads, 0 outside the image (TFLM leaves those taps
 * out, as it does the columns outside). out: out_w * out_c values. */
static void conv_row(const int32_t *f, const int8_t *const *rows, int8_t *out)
{
    const int8_t *w = operand(f[1]);
    const int32_t *bias = f[2] < 0 ? (const int32_t *)0 : operand(f[2]);
    const int32_t *multiplier = operand(f[3]);
    const int32_t *shift = operand(f[4]);
    const int32_t in_w = f[6], in_c = f[7], out_w = f[9], out_c = f[10], k_h = f[11], k_w = f[12];
    const int32_t stride_w = f[14], dil_w = f[16], pad_w = f[18], depth_multiplier = f[19];
    const int32_t input_offset = f[20], output_offset = f[21], act_min = f[22], act_max = f[23];
    const frnn_fc_params p = {input_offset, output_offset, act_min, act_max, multiplier, shift, 1};
    if (depth_multiplier == 0 && k_h == 1 && k_w == 1) { /* (no padding: a 1 x 1 filter has none) */
        /* pointwise: each output pixel is a FULLY_CONNECTED of its input pixel (frnn_kernels.h) */
        for (int32_t ox = 0; ox < out_w; ++ox) {
            frnn_fc_s8_s8(rows[0] + ox * stride_w * in_c, w, bias, in_c, out_c, &p, out + ox * out_c);
        }
        return;
    }
#if FRNN_GRAPH_PATCH_BYTES > 0
    if (depth_multiplier == 0) {
        /* each output pixel is a FULLY_CONNECTED of its patch [KH][KW][I] (the filter's layout per
           output channel), the taps outside the image at the input zero point (x + input_offset = 0:
           the 0 TFLM adds by leaving them out) */
        int8_t *patch = fr_graph_scratch + FRNN_GRAPH_SCRATCH_BYTES - FRNN_GRAPH_PATCH_BYTES;
        for (int32_t ox = 0; ox < out_w; ++ox) {
            int8_t *q = patch;
            for (int32_t fy = 0; fy < k_h; ++fy) {
                for (int32_t fx = 0; fx < k_w; ++fx) {
                    const int32_t ix = ox * stride_w - pad_w + dil_w * fx;
                    if (!rows[fy] || ix < 0 || ix >= in_w) {
                        memset(q, (int8_t)-input_offset, (size_t)in_c);
                    } else {
                        memcpy(q, rows[fy] + ix * in_c, (size_t)in_c);
                    }
                    q += in_c;
                }
            }
            frnn_fc_s8_s8(patch, w, bias, k_h * k_w * in_c, out_c, &p, out + ox * out_c);
        }
        return;
    }
#endif
    /* depthwise (the plan gives every other convolution the patch above): per output pixel, channels
       in blocks of DW_BLOCK accumulators, each valid tap's weights and inputs read along the channels
       (contiguous in NHWC and in the filter; output channel o reads input channel o / M) */
    for (int32_t ox = 0; ox < out_w; ++ox) {
        for (int32_t o0 = 0; o0 < out_c; o0 += DW_BLOCK) {
            const int32_t n = out_c - o0 < DW_BLOCK ? out_c - o0 : DW_BLOCK;
            int32_t acc[DW_BLOCK];
            for (int32_t j = 0; j < n; ++j) {
                acc[j] = bias ? bias[o0 + j] : 0;
            }
            for (int32_t fy = 0; fy < k_h; ++fy) {
                if (!rows[fy]) {
                    continue;
                }
                for (int32_t fx = 0; fx < k_w; ++fx) {
                    const int32_t ix = ox * stride_w - pad_w + dil_w * fx;
                    if (ix < 0 || ix >= in_w) {
                        continue;
                    }
                    const int8_t *px = rows[fy] + ix * in_c;
                    const int8_t *pw = w + (fy * k_w + fx) * out_c + o0;
                    if (depth_multiplier == 1) {
                        for (int32_t j = 0; j < n; ++j) {
                            acc[j] += (int32_t)pw[j] * (px[o0 + j] + input_offset);
                        }
                    } else {
                        for (int32_t j = 0; j < n; ++j) {
                            acc[j] += (int32_t)pw[j] * (px[(o0 + j) / depth_multiplier] + input_offset);
                        }
                    }
                }
            }
            for (int32_t j = 0; j < n; ++j) {
                const int32_t v = frnn_mbqm(acc[j], multiplier[o0 + j], (int)shift[o0 + j]) + output_offset;
                out[ox * out_c + o0 + j] = (int8_t)frnn_clamp(v, act_min, act_max);
            }
        }
    }
}

/* CONV_2D or DEPTHWISE_CONV_2D (conv_row, row by row). In place (f[24], graph_plan.in_place_scratch:
 * the output over the input, same shape, stride 1): each output row is computed into
 * fr_graph_scratch and copied over its input row once that row is no longer read; a depthwise
 * filter's rows above the current one come from a ring of the pad_h input rows last overwritten (in
 * fr_graph_scratch before the output row). */
static void conv(const int32_t *f)
{
    const int8_t *x = operand(f[0]);
    const int32_t in_h = f[5], row_bytes = f[6] * f[7], out_h = f[8], out_row_bytes = f[9] * f[10], k_h = f[11];
    const int32_t stride_h = f[13], dil_h = f[15], pad_h = f[17], in_place = f[24];
    int8_t *y = result(f[25]);
    const int8_t *rows[FRNN_GRAPH_MAX_KERNEL_ROWS];
    for (int32_t oy = 0; oy < out_h; ++oy) {
        for (int32_t fy = 0; fy < k_h; ++fy) {
            const int32_t iy = oy * stride_h - pad_h + dil_h * fy;
            rows[fy] = iy < 0 || iy >= in_h ? (const int8_t *)0 : x + iy * row_bytes;
#if FRNN_GRAPH_SCRATCH_BYTES > 0
            if (in_place && iy >= 0 && iy < oy) { /* overwritten: its copy in the ring */
                rows[fy] = fr_graph_scratch + (iy % pad_h) * row_bytes;
            }
#endif
        }
        if (!in_place) {
            conv_row(f, rows, y + oy * out_row_bytes);
            continue;
        }
#if FRNN_GRAPH_SCRATCH_BYTES > 0
        int8_t *out = fr_graph_scratch + pad_h * row_bytes;
        conv_row(f, rows, out);
        if (pad_h > 0) {
            memcpy(fr_graph_scratch + (oy % pad_h) * row_bytes, y + oy * row_bytes, (size_t)row_bytes);
        }
        memcpy(y + oy * row_bytes, out, (size_t)row_bytes);
#endif
    }
}

/* TFLM's int8 AveragePool (fixedrnn.ops.pooling): the sum of the values under the filter inside the
 * image over their count, rounded half away from zero as C divides. f as graph_plan.FIELDS. */
static void average_pool(const int32_t *f)
{
    const int8_t *x = operand(f[0]);
    const int32_t in_h = f[1], in_w = f[2], c = f[3], out_h = f[4], out_w = f[5], f_h = f[6], f_w = f[7];
    const int32_t stride_h = f[8], stride_w = f[9], pad_h = f[10], pad_w = f[11], act_min = f[12], act_max = f[13];
    int8_t *y = result(f[14]);
    for (int32_t oy = 0; oy < out_h; ++oy) {
        const int32_t y0 = oy * stride_h - pad_h;
        const int32_t fy0 = y0 < 0 ? -y0 : 0, fy1 = in_h - y0 < f_h ? in_h - y0 : f_h;
        for (int32_t ox = 0; ox < out_w; ++ox) {
            const int32_t x0 = ox * stride_w - pad_w;
            const int32_t fx0 = x0 < 0 ? -x0 : 0, fx1 = in_w - x0 < f_w ? in_w - x0 : f_w;
            const int32_t count = (fy1 - fy0) * (fx1 - fx0);
            for (int32_t ch = 0; ch < c; ++ch) {
                int32_t acc = 0;
                for (int32_t fy = fy0; fy < fy1; ++fy) {
                    for (int32_t fx = fx0; fx < fx1; ++fx) {
                        acc += x[((y0 + fy) * in_w + x0 + fx) * c + ch];
                    }
                }
                acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                y[(oy * out_w + ox) * c + ch] = (int8_t)frnn_clamp(acc, act_min, act_max);
            }
        }
    }
}

/* TFLM's int8 MEAN over the map of [1, H, W, C] (fixedrnn.ops.pooling): per channel the sum of its
 * n = H * W values less n zero points, rescaled by (multiplier, shift) with 1/n folded in. */
static void mean(const int32_t *f)
{
    const int8_t *x = operand(f[0]);
    const int32_t n = f[1], c = f[2], input_offset = f[3], multiplier = f[4], shift = f[5], output_offset = f[6];
    int8_t *y = result(f[7]);
    for (int32_t ch = 0; ch < c; ++ch) {
        int32_t acc = 0;
        for (int32_t i = 0; i < n; ++i) {
            acc += x[i * c + ch];
        }
        acc += input_offset * n;
        y[ch] = (int8_t)frnn_clamp(frnn_mbqm(acc, multiplier, (int)shift) + output_offset, INT8_LO, INT8_HI);
    }
}

/* One FULLY_CONNECTED: f as graph_plan.FIELDS (after x). */
static void fully_connected(const int32_t *f)
{
    const int8_t *x = operand(f[0]);
    const int8_t *w = operand(f[1]);
    const int32_t *bias = f[2] < 0 ? (const int32_t *)0 : operand(f[2]);
    const frnn_fc_params p = {f[9], f[10], INT8_LO, INT8_HI, operand(f[3]), operand(f[4]), (int)f[5]};
    const int n_in = (int)f[6], n_out = (int)f[7];
    int8_t *y = result(f[11]);
    for (int32_t r = 0; r < f[8]; ++r) {
        frnn_fc_s8_s8(x + r * n_in, w, bias, n_in, n_out, &p, y + r * n_out);
    }
}

void frnn_cell_reset(void)
{
    /* an unrolled graph keeps no state between windows */
}

void frnn_run_features(const int8_t *x, int8_t *logits)
{
    const int32_t *pc = fr_graph_program;
    const int32_t *end = fr_graph_program + FRNN_GRAPH_PROGRAM_LENGTH;
    window = x;
    while (pc < end) {
        const int32_t *f = pc + 1;
        switch (pc[0]) {
        case FRNN_GRAPH_OP_FULLY_CONNECTED:
            fully_connected(f);
            pc += 13;
            break;
        case FRNN_GRAPH_OP_ADD: {
            const frnn_add_params p = {f[3], f[4], f[5], FRNN_GRAPH_ADD_LEFT_SHIFT, f[6], f[7], f[8], f[9], f[10],
                                       f[11], INT8_LO, INT8_HI};
            frnn_add_s8(operand(f[0]), operand(f[1]), (int)f[2], &p, result(f[12]));
            pc += 14;
            break;
        }
        case FRNN_GRAPH_OP_SUB:
            sub_s8(operand(f[0]), operand(f[1]), (int)f[2], f + 3, result(f[12]));
            pc += 14;
            break;
        case FRNN_GRAPH_OP_MUL:
            mul_s8(operand(f[0]), operand(f[1]), (int)f[2], f + 3, result(f[8]));
            pc += 10;
            break;
        case FRNN_GRAPH_OP_TANH:
            frnn_tanh_s8(operand(f[0]), (int)f[1], f[2], f[3], f[4], f[5], fr_tanh_exp_multipliers, result(f[6]));
            pc += 8;
            break;
        case FRNN_GRAPH_OP_LOGISTIC:
            logistic_s8(operand(f[0]), (int)f[1], f + 2, result(f[6]));
            pc += 8;
            break;
        case FRNN_GRAPH_OP_DEQUANTIZE:
            dequantize(operand(f[0]), (int)f[1], f[2], scale_of(f[3]), result(f[4]));
            pc += 6;
            break;
        case FRNN_GRAPH_OP_QUANTIZE:
            quantize(operand(f[0]), (int)f[1], f[2], scale_of(f[3]), result(f[4]));
            pc += 6;
            break;
        case FRNN_GRAPH_OP_CONV:
            conv(f);
            pc += 27;
            break;
        case FRNN_GRAPH_OP_AVERAGE_POOL_2D:
            average_pool(f);
            pc += 16;
            break;
        case FRNN_GRAPH_OP_MEAN:
            mean(f);
            pc += 9;
            break;
        default: /* FRNN_GRAPH_OP_COPY: f[0] runs of (destination, source, bytes) */
            for (int32_t r = 0; r < f[0]; ++r) {
                const int32_t *run = f + 1 + 3 * r;
                memcpy(result(run[0]), operand(run[1]), (size_t)run[2]);
            }
            pc += 2 + 3 * f[0];
            break;
        }
    }
    memcpy(logits, operand(FRNN_GRAPH_OUTPUT), FRNN_N_CLASSES);
}
