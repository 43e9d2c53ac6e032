/* Kernel test main: runs the primitives and ops of fixedrnn/c/frnn_kernels.c (its public API,
 * frnn_kernels.h, only) on a batch of test records, so that one QEMU run checks every case of
 * tests/test_ops_conformance.py.
 *
 *   fw IN OUT
 * IN: records, all little-endian int32: a header (op, n, p0, p1) then the op's payload; OUT: the
 * outputs of every record, int32 each, concatenated. Every count is at most MAX_N (MAX_CH for
 * channels). int8/int16/uint8 arrays travel as one int32 per element. "alias" says where an
 * element-wise op writes: 0 a separate buffer, 1 over its first input, 2 over its second (the
 * in-place calls the firmware makes).
 * Primitives:
 *   1 srdhm      payload a[n], b[n]           -> n        frnn_srdhm
 *   2 rdbypot    payload x[n], e[n]           -> n        frnn_rdbypot
 *   3 mbqm       payload x[n], m[n], s[n]     -> n        frnn_mbqm
 *   4 tanh_q4    payload exp_multipliers[7], x[n] -> n    frnn_tanh_q4
 *   5 dot_s8     payload w[n], x[n]; p0 = input offset          -> 1   frnn_dot_s8
 *   6 dot_pot    payload pair_table[PAIRS], w[(p1+n+1)/2], x[n]; p0 offset, p1 start -> 1
 *                                                                 frnn_dot_pot
 *   7 sigmoid16  payload table[256], x[n]; p0 multiplier, p1 left shift -> n   frnn_sigmoid_s16
 *   8 tanh16     payload table[256], x[n]; p0 multiplier, p1 left shift -> n   frnn_tanh_s16
 * Ops:
 *   9 fc_s8_s8     n = n_out, p0 = n_in, p1 = batch; payload
 *                  fc[7] = (per_channel, has_bias, input_offset, output_offset, act_min, act_max,
 *                  start), multiplier[k], shift[k] (k = n if per_channel else 1), weights,
 *                  bias[n] (if has_bias), x[p1][p0]  -> p1 * n (y of x[b] for b = 0 .. p1-1).
 *                  weights: w[n][p0], passed to the kernel from element start of its buffer
 *                  (an unaligned pointer for start % 4 != 0)      frnn_fc_s8_s8
 *  10 fc_s8_s16    as 9                                           frnn_fc_s8_s16
 *  11 fc_pot_s8    as 9, but the weights are pair_table[PAIRS] then the PoT weight bytes
 *                  w[(start + n*p0 + 1)/2] (frnn_kernels.h), the matrix from element start
 *                                                                 frnn_fc_pot_s8
 *  12 fc_pot_s16   as 11                                          frnn_fc_pot_s16
 *  13 add_s8       p0 alias; payload add[12] (frnn_add_params, field order), a[n], b[n] -> n
 *                                                                 frnn_add_s8
 *  14 mul_s16_s16  p0 alias; payload mul[7] (frnn_mul_params, field order), a[n], b[n] -> n
 *                                                                 frnn_mul_s16_s16
 *  15 mul_s16_s8   payload mul[7], a[n], b[n] -> n                frnn_mul_s16_s8
 *  16 add_s16_sat  p0 alias; payload a[n], b[n] -> n              frnn_add_s16_sat
 *  17 tanh_s8      p0 alias (0 or 1); payload tanh[4] = (input zero point, input range radius,
 *                  input multiplier, input shift), exp_multipliers[7], x[n] -> n   frnn_tanh_s8
 *  18 normalise    n = channels, p0 = zero point, p1 = frames; payload offset[n], multiplier[n],
 *                  shift[n], mfcc[p1][n] -> p1 * n:
 *                  clamp(p0 + frnn_mbqm(mfcc - offset[c], multiplier[c], shift[c]), -128, 127),
 *                  the generated firmware's frnn_normalize (frnn_kernels has no function for it)
 * Exit status 0 on success, 2 on a bad record or file.
 */
#include <stdio.h>
#include <stdlib.h>

#include "frnn_kernels.h"

#define MAX_N 65536
#define MAX_CH 1024

static int32_t in_a[MAX_N], in_b[MAX_N], in_c[MAX_N], out[MAX_N];
static int8_t s8_a[MAX_N], s8_b[MAX_N], s8_out[MAX_N];
static uint8_t u8_a[MAX_N];
static int16_t s16_a[MAX_N], s16_b[MAX_N], s16_out[MAX_N];
static uint16_t table[256];
#define PAIRS 226 /* entries of the PoT pair table (fixedrnn.pot_pairs.TABLE_ENTRIES) */
static int16_t pair_table[PAIRS];

static int32_t ch_multiplier[MAX_CH], ch_shift[MAX_CH], ch_bias[MAX_CH], ch_offset[MAX_CH];

/* a * b (both >= 0) fits one buffer. */
static int fits(int32_t a, int32_t b)
{
    return a >= 0 && b >= 0 && (int64_t)a * b <= MAX_N;
}

static int read_i32(FILE *f, int32_t *dst, int32_t n)
{
    return fread(dst, sizeof(int32_t), (size_t)n, f) == (size_t)n;
}

static int read_s8(FILE *f, int8_t *dst, int32_t n)
{
    if (!read_i32(f, in_c, n)) return 0;
    for (int32_t i = 0; i < n; ++i) dst[i] = (int8_t)in_c[i];
    return 1;
}

static int read_u8(FILE *f, uint8_t *dst, int32_t n)
{
    if (!read_i32(f, in_c, n)) return 0;
    for (int32_t i = 0; i < n; ++i) dst[i] = (uint8_t)in_c[i];
    return 1;
}

static int read_s16(FILE *f, int16_t *dst, int32_t n)
{
    if (!read_i32(f, in_c, n)) return 0;
    for (int32_t i = 0; i < n; ++i) dst[i] = (int16_t)in_c[i];
    return 1;
}

static int write_i32(FILE *f, const int32_t *src, int32_t n)
{
    return fwrite(src, sizeof(int32_t), (size_t)n, f) == (size_t)n;
}

static int write_s8(FILE *f, const int8_t *src, int32_t n)
{
    for (int32_t i = 0; i < n; ++i) out[i] = src[i];
    return write_i32(f, out, n);
}

static int write_s16(FILE *f, const int16_t *src, int32_t n)
{
    for (int32_t i = 0; i < n; ++i) out[i] = src[i];
    return write_i32(f, out, n);
}

/* Reads the PoT pair table into pair_table. */
static int read_pairs(FILE *in)
{
    if (!read_i32(in, in_c, PAIRS)) return 0;
    for (int i = 0; i < PAIRS; ++i) pair_table[i] = (int16_t)in_c[i];
    return 1;
}

/* Where an element-wise op writes, by alias (0, 1, 2); NULL for a bad alias. */
static int8_t *s8_target(int32_t alias)
{
    return alias == 0 ? s8_out : alias == 1 ? s8_a : alias == 2 ? s8_b : NULL;
}

static int16_t *s16_target(int32_t alias)
{
    return alias == 0 ? s16_out : alias == 1 ? s16_a : alias == 2 ? s16_b : NULL;
}

/* Ops 9-12: the four FULLY_CONNECTED variants, one call per batch row. */
static int run_fc(FILE *in, FILE *fo, int32_t op, int32_t n_out, int32_t n_in, int32_t batch)
{
    int32_t cfg[7];
    if (n_out > MAX_CH || !fits(n_out, n_in) || !fits(batch, n_in) || !fits(batch, n_out)
        || !read_i32(in, cfg, 7)) {
        return 0;
    }
    const int32_t per_channel = cfg[0], has_bias = cfg[1], start = cfg[6];
    const int32_t k = per_channel ? n_out : 1;
    const int pot = op == 11 || op == 12;
    if (start < 0 || start > MAX_N - n_out * n_in || !read_i32(in, ch_multiplier, k)
        || !read_i32(in, ch_shift, k)) {
        return 0;
    }
    const frnn_fc_params p = {cfg[2], cfg[3], cfg[4], cfg[5], ch_multiplier, ch_shift, (int)per_channel};
    if (pot ? !read_pairs(in) || !read_u8(in, u8_a, (start + n_out * n_in + 1) / 2)
            : !read_s8(in, s8_b + start, n_out * n_in)) {
        return 0;
    }
    if (has_bias && !read_i32(in, ch_bias, n_out)) return 0;
    if (!read_s8(in, s8_a, batch * n_in)) return 0;
    const int32_t *bias = has_bias ? ch_bias : NULL;
    for (int32_t b = 0; b < batch; ++b) {
        const int8_t *x = s8_a + b * n_in;
        switch (op) {
        case 9:
            frnn_fc_s8_s8(x, s8_b + start, bias, (int)n_in, (int)n_out, &p, s8_out + b * n_out);
            break;
        case 10:
            frnn_fc_s8_s16(x, s8_b + start, bias, (int)n_in, (int)n_out, &p, s16_out + b * n_out);
            break;
        case 11:
            frnn_fc_pot_s8(x, u8_a, start, pair_table, bias, (int)n_in, (int)n_out, &p, s8_out + b * n_out);
            break;
        default:
            frnn_fc_pot_s16(x, u8_a, start, pair_table, bias, (int)n_in, (int)n_out, &p, s16_out + b * n_out);
            break;
        }
    }
    return op == 9 || op == 11 ? write_s8(fo, s8_out, batch * n_out) : write_s16(fo, s16_out, batch * n_out);
}

/* Op 13: int8 ADD. */
static int run_add_s8(FILE *in, FILE *fo, int32_t n, int32_t alias)
{
    int32_t q[12];
    int8_t *y = s8_target(alias);
    if (!y || !read_i32(in, q, 12) || !read_s8(in, s8_a, n) || !read_s8(in, s8_b, n)) return 0;
    const frnn_add_params p = {q[0], q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8], q[9], q[10], q[11]};
    frnn_add_s8(s8_a, s8_b, (int)n, &p, y);
    return write_s8(fo, y, n);
}

/* Ops 14-16: int16 MUL (to int16 or int8) and the saturating int16 ADD. */
static int run_s16_binary(FILE *in, FILE *fo, int32_t op, int32_t n, int32_t alias)
{
    int32_t q[7] = {0};
    int16_t *y = s16_target(alias);
    if (!y || (op != 16 && !read_i32(in, q, 7)) || !read_s16(in, s16_a, n) || !read_s16(in, s16_b, n)) {
        return 0;
    }
    const frnn_mul_params p = {q[0], q[1], q[2], q[3], q[4], q[5], q[6]};
    switch (op) {
    case 14:
        frnn_mul_s16_s16(s16_a, s16_b, (int)n, &p, y);
        break;
    case 15:
        if (alias != 0) return 0;
        frnn_mul_s16_s8(s16_a, s16_b, (int)n, &p, s8_out);
        return write_s8(fo, s8_out, n);
    default:
        frnn_add_s16_sat(s16_a, s16_b, (int)n, y);
        break;
    }
    return write_s16(fo, y, n);
}

/* Op 17: int8 TANH. */
static int run_tanh_s8(FILE *in, FILE *fo, int32_t n, int32_t alias)
{
    int32_t q[4], exp_multipliers[7];
    int8_t *y = alias == 0 ? s8_out : alias == 1 ? s8_a : NULL;
    if (!y || !read_i32(in, q, 4) || !read_i32(in, exp_multipliers, 7) || !read_s8(in, s8_a, n)) return 0;
    frnn_tanh_s8(s8_a, (int)n, q[0], q[1], q[2], q[3], exp_multipliers, y);
    return write_s8(fo, y, n);
}

/* Op 18: MFCC -> int8 features, per channel. */
static int run_normalise(FILE *in, FILE *fo, int32_t n, int32_t zero_point, int32_t frames)
{
    if (n > MAX_CH || !fits(frames, n) || !read_i32(in, ch_offset, n) || !read_i32(in, ch_multiplier, n)
        || !read_i32(in, ch_shift, n) || !read_i32(in, in_a, frames * n)) {
        return 0;
    }
    for (int32_t i = 0; i < frames * n; ++i) {
        const int32_t c = i % n;
        const int32_t v = frnn_mbqm(in_a[i] - ch_offset[c], ch_multiplier[c], (int)ch_shift[c]);
        out[i] = frnn_clamp(zero_point + v, -128, 127);
    }
    return write_i32(fo, out, frames * n);
}

static int run_record(FILE *in, FILE *fo, const int32_t h[4])
{
    const int32_t op = h[0], n = h[1], p0 = h[2], p1 = h[3];
    int32_t n_out = n;
    if (n < 0 || n > MAX_N) {
        return 0;
    }
    switch (op) {
    case 1:
    case 2:
        if (!read_i32(in, in_a, n) || !read_i32(in, in_b, n)) return 0;
        for (int32_t i = 0; i < n; ++i) {
            out[i] = op == 1 ? frnn_srdhm(in_a[i], in_b[i]) : frnn_rdbypot(in_a[i], (int)in_b[i]);
        }
        break;
    case 3:
        if (!read_i32(in, in_a, n) || !read_i32(in, in_b, n) || !read_i32(in, in_c, n)) return 0;
        for (int32_t i = 0; i < n; ++i) out[i] = frnn_mbqm(in_a[i], in_b[i], (int)in_c[i]);
        break;
    case 4:
        if (!read_i32(in, in_c, 7) || !read_i32(in, in_a, n)) return 0;
        for (int32_t i = 0; i < n; ++i) out[i] = frnn_tanh_q4(in_a[i], in_c);
        break;
    case 5:
        if (!read_s8(in, s8_a, n) || !read_s8(in, s8_b, n)) return 0;
        out[0] = frnn_dot_s8(s8_a, s8_b, (int)n, p0);
        n_out = 1;
        break;
    case 6: {
        if (p1 < 0 || p1 > MAX_N - n || !read_pairs(in) || !read_u8(in, u8_a, (p1 + n + 1) / 2)
            || !read_s8(in, s8_b, n)) {
            return 0;
        }
        out[0] = frnn_dot_pot(u8_a, p1, pair_table, s8_b, (int)n, p0);
        n_out = 1;
        break;
    }
    case 7:
    case 8:
        if (!read_i32(in, in_a, 256) || !read_s16(in, s16_a, n)) return 0;
        for (int i = 0; i < 256; ++i) table[i] = (uint16_t)in_a[i];
        if (op == 7) {
            frnn_sigmoid_s16(s16_a, (int)n, p0, p1, table, s16_out);
        } else {
            frnn_tanh_s16(s16_a, (int)n, p0, p1, table, s16_out);
        }
        return write_s16(fo, s16_out, n);
    case 9:
    case 10:
    case 11:
    case 12:
        return run_fc(in, fo, op, n, p0, p1);
    case 13:
        return run_add_s8(in, fo, n, p0);
    case 14:
    case 15:
    case 16:
        return run_s16_binary(in, fo, op, n, p0);
    case 17:
        return run_tanh_s8(in, fo, n, p0);
    case 18:
        return run_normalise(in, fo, n, p0, p1);
    default:
        return 0;
    }
    return write_i32(fo, out, n_out);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fw IN OUT\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "rb");
    FILE *fo = fopen(argv[2], "wb");
    if (!in || !fo) {
        fprintf(stderr, "kernel_main: cannot open %s or %s\n", argv[1], argv[2]);
        return 2;
    }
    int32_t header[4];
    long records = 0;
    while (fread(header, sizeof(int32_t), 4, in) == 4) {
        if (!run_record(in, fo, header)) {
            fprintf(stderr, "kernel_main: bad record %ld (op %ld)\n", records, (long)header[0]);
            return 2;
        }
        ++records;
    }
    fclose(in);
    return fclose(fo) == 0 ? 0 : 2;
}
