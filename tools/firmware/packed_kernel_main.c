/* Kernel test main of the packed and sparse FULLY_CONNECTED (fixedrnn/c/frnn_packed.h,
 * frnn_sparse.h, their public API only): runs a batch of test records, so that one QEMU run checks
 * every case of tests/test_packed_kernels.py.
 *
 *   fw IN OUT
 * IN: records, all little-endian int32 (uint8 / int8 / uint16 arrays one int32 per element), each a
 * header then its payload; OUT: the outputs of every record, int32 each, concatenated.
 *   op 1 packed_s8 / op 2 packed_s16: header format[4] (code bits, minifloat, e, m), n_in, n_out, start,
 *        nbytes, fc[7] = (per_channel, has_bias, input_offset, output_offset, act_min, act_max, 0);
 *        payload multiplier[k], shift[k] (k = n_out if per_channel else 1), bytes[nbytes],
 *        bias[n_out] (if has_bias), x[n_in] -> n_out        frnn_fc_packed_s8 / _s16
 *   op 3 sparse_s8 / op 4 sparse_s16: header n_in, n_out, first_row, rows, nnz, fc[7] (as above);
 *        payload multiplier[k], shift[k], row_start[rows + 1], values[nnz], columns[nnz],
 *        bias[n_out] (if has_bias), x[n_in] -> n_out         frnn_fc_sparse_s8 / _s16
 * Exit status 0 on success, 2 on a bad record or file.
 */
#include <stdio.h>
#include <stdlib.h>

#include "frnn_packed.h"
#include "frnn_sparse.h"

#define MAX_N 16384
#define MAX_IN 1024

static int32_t multiplier[MAX_IN], shift[MAX_IN], bias[MAX_IN], out[MAX_IN];
static uint8_t bytes[MAX_N], columns[MAX_N];
static int8_t values[MAX_N], x[MAX_IN], y8[MAX_IN];
static int16_t y16[MAX_IN], scratch[MAX_IN];
static uint16_t row_start[MAX_N + 1];

static int read_i32(FILE *f, int32_t *v, int n)
{
    return (int)fread(v, 4, (size_t)n, f) == n;
}

/* n int32 values into an array of another type (each checked to fit [lo, hi]). */
#define READ_ARRAY(f, dst, n, lo, hi)                         \
    do {                                                       \
        for (int i_ = 0; i_ < (n); ++i_) {                     \
            int32_t v_;                                        \
            if (!read_i32(f, &v_, 1) || v_ < (lo) || v_ > (hi)) { \
                return 0;                                      \
            }                                                  \
            (dst)[i_] = v_;                                    \
        }                                                      \
    } while (0)

/* The fc[7] header fields and the multipliers, shifts and bias of a record. */
static int read_fc(FILE *f, int n_out, frnn_fc_params *p, int *has_bias)
{
    int32_t fc[7];
    if (!read_i32(f, fc, 7) || n_out < 1 || n_out > MAX_IN) {
        return 0;
    }
    const int k = fc[0] ? n_out : 1;
    if (!read_i32(f, multiplier, k) || !read_i32(f, shift, k)) {
        return 0;
    }
    p->per_channel = fc[0];
    p->input_offset = fc[2];
    p->output_offset = fc[3];
    p->act_min = fc[4];
    p->act_max = fc[5];
    p->multiplier = multiplier;
    p->shift = shift;
    *has_bias = fc[1];
    return 1;
}

static int write_outputs(FILE *o, int is_s8, int n)
{
    for (int i = 0; i < n; ++i) {
        out[i] = is_s8 ? y8[i] : y16[i];
    }
    return fwrite(out, 4, (size_t)n, o) == (size_t)n;
}

static int run_packed(FILE *f, FILE *o, int op)
{
    int32_t h[8];
    frnn_fc_params p;
    int has_bias;
    if (!read_i32(f, h, 8) || h[4] < 1 || h[4] > MAX_IN || h[7] < 0 || h[7] > MAX_N || !read_fc(f, h[5], &p, &has_bias)) {
        return 0;
    }
    const frnn_packed_format format = {h[0], h[1], h[2], h[3]};
    const int n_in = h[4], n_out = h[5];
    READ_ARRAY(f, bytes, h[7], 0, 255);
    if (has_bias && !read_i32(f, bias, n_out)) {
        return 0;
    }
    READ_ARRAY(f, x, n_in, -128, 127);
    if (op == 1) {
        frnn_fc_packed_s8(x, bytes, h[6], &format, has_bias ? bias : NULL, n_in, n_out, &p, y8);
    } else {
        frnn_fc_packed_s16(x, bytes, h[6], &format, has_bias ? bias : NULL, n_in, n_out, &p, y16);
    }
    return write_outputs(o, op == 1, n_out);
}

static int run_sparse(FILE *f, FILE *o, int op)
{
    int32_t h[5];
    frnn_fc_params p;
    int has_bias;
    if (!read_i32(f, h, 5) || h[0] < 1 || h[0] > MAX_IN || h[3] < 0 || h[3] > MAX_N || h[4] < 0 || h[4] > MAX_N
        || !read_fc(f, h[1], &p, &has_bias)) {
        return 0;
    }
    const int n_in = h[0], n_out = h[1], rows = h[3], nnz = h[4];
    READ_ARRAY(f, row_start, rows + 1, 0, nnz);
    READ_ARRAY(f, values, nnz, -128, 127);
    READ_ARRAY(f, columns, nnz, 0, n_in - 1);
    if (has_bias && !read_i32(f, bias, n_out)) {
        return 0;
    }
    READ_ARRAY(f, x, n_in, -128, 127);
    const frnn_sparse_matrix w = {values, columns, row_start};
    if (op == 3) {
        frnn_fc_sparse_s8(x, &w, h[2], has_bias ? bias : NULL, n_in, n_out, &p, scratch, y8);
    } else {
        frnn_fc_sparse_s16(x, &w, h[2], has_bias ? bias : NULL, n_in, n_out, &p, scratch, y16);
    }
    return write_outputs(o, op == 3, n_out);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fw IN OUT\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    FILE *o = fopen(argv[2], "wb");
    if (!f || !o) {
        fprintf(stderr, "packed_kernel_main: cannot open %s or %s\n", argv[1], argv[2]);
        return 2;
    }
    int32_t op;
    int record = 0;
    while (read_i32(f, &op, 1)) {
        const int ok = (op == 1 || op == 2) ? run_packed(f, o, op) : (op == 3 || op == 4) ? run_sparse(f, o, op) : 0;
        if (!ok) {
            fprintf(stderr, "packed_kernel_main: bad record %d (op %d)\n", record, (int)op);
            return 2;
        }
        ++record;
    }
    fclose(f);
    return fclose(o) == 0 ? 0 : 2;
}
