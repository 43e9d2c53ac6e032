/* Kernel test main: runs the kernels of fixedrnn/c/frnn_kernels.c on a batch of test records so
 * that one QEMU run checks thousands of cases.
 *
 *   fw IN OUT
 * IN: records, all little-endian int32: a header (op, n, p0, p1) then the op's payload; OUT: the
 * outputs of every record, int32 each, concatenated. Ops (n <= MAX_N):
 *   1 srdhm      payload a[n], b[n]           -> n        frnn_srdhm
 *   2 rdbypot    payload x[n], e[n]           -> n        frnn_rdbypot
 *   3 mbqm       payload x[n], m[n], s[n]     -> n        frnn_mbqm
 *   4 tanh_q4    payload exp_multipliers[7], x[n] -> n    frnn_tanh_q4
 *   5 dot_s8     payload w[n], x[n]; p0 = input offset          -> 1   frnn_dot_s8
 *   6 dot_pot    payload codes[(p1+n+1)/2], x[n]; p0 offset, p1 start -> 1   frnn_dot_pot
 *   7 sigmoid16  payload table[256], x[n]; p0 multiplier, p1 left shift -> n
 *   8 tanh16     payload table[256], x[n]; p0 multiplier, p1 left shift -> n
 * Exit status 0 on success, 2 on a bad record or file.
 */
#include <stdio.h>
#include <stdlib.h>

#include "frnn_kernels.h"

#define MAX_N 16384

static int32_t in_a[MAX_N], in_b[MAX_N], in_c[MAX_N], out[MAX_N];
static int8_t s8_a[MAX_N], s8_b[MAX_N];
static uint8_t u8_a[MAX_N];
static int16_t s16_a[MAX_N], s16_out[MAX_N];
static uint16_t table[256];

static int read_i32(FILE *f, int32_t *dst, int32_t n)
{
    return fread(dst, sizeof(int32_t), (size_t)n, f) == (size_t)n;
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
        if (!read_i32(in, in_a, n) || !read_i32(in, in_b, n)) return 0;
        for (int32_t i = 0; i < n; ++i) {
            s8_a[i] = (int8_t)in_a[i];
            s8_b[i] = (int8_t)in_b[i];
        }
        out[0] = frnn_dot_s8(s8_a, s8_b, (int)n, p0);
        n_out = 1;
        break;
    case 6: {
        const int32_t n_codes = (p1 + n + 1) / 2;
        if (p1 < 0 || n_codes > MAX_N || !read_i32(in, in_a, n_codes) || !read_i32(in, in_b, n)) return 0;
        for (int32_t i = 0; i < n_codes; ++i) u8_a[i] = (uint8_t)in_a[i];
        for (int32_t i = 0; i < n; ++i) s8_b[i] = (int8_t)in_b[i];
        out[0] = frnn_dot_pot(u8_a, p1, s8_b, (int)n, p0);
        n_out = 1;
        break;
    }
    case 7:
    case 8:
        if (!read_i32(in, in_a, 256) || !read_i32(in, in_b, n)) return 0;
        for (int i = 0; i < 256; ++i) table[i] = (uint16_t)in_a[i];
        for (int32_t i = 0; i < n; ++i) s16_a[i] = (int16_t)in_b[i];
        if (op == 7) {
            frnn_sigmoid_s16(s16_a, (int)n, p0, p1, table, s16_out);
        } else {
            frnn_tanh_s16(s16_a, (int)n, p0, p1, table, s16_out);
        }
        for (int32_t i = 0; i < n; ++i) out[i] = s16_out[i];
        break;
    default:
        return 0;
    }
    return fwrite(out, sizeof(int32_t), (size_t)n_out, fo) == (size_t)n_out;
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
