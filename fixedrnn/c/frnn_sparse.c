/* FULLY_CONNECTED on sparse (compressed-row) weights (frnn_sparse.h). */
#include "frnn_sparse.h"

/* acc + sum over k in [begin, end) of values[k] * xo[columns[k]]: four nonzeros a pass (a quarter of
 * the loop's compare and branch), each one LDRSB, one LDRB, one LDRH and one SMLABB / MLA. */
FRNN_INLINE int32_t dot_sparse(const int8_t *values, const uint8_t *columns, int32_t begin, int32_t end,
                               const int16_t *xo, int32_t acc)
{
    const int8_t *v = values + begin;
    const uint8_t *c = columns + begin;
    const int8_t *const end4 = values + (end - ((end - begin) & 3));
    for (; v < end4; v += 4, c += 4) {
        acc += (int32_t)v[0] * xo[c[0]];
        acc += (int32_t)v[1] * xo[c[1]];
        acc += (int32_t)v[2] * xo[c[2]];
        acc += (int32_t)v[3] * xo[c[3]];
    }
    for (const int8_t *const stop = values + end; v < stop; ++v, ++c) {
        acc += (int32_t)*v * xo[*c];
    }
    return acc;
}

int32_t frnn_dot_sparse(const int8_t *values, const uint8_t *columns, int32_t begin, int32_t end, const int16_t *xo)
{
    return dot_sparse(values, columns, begin, end, xo, 0);
}

/* scratch[j] = x[j] + input_offset (in [-255, 255]: an int16). */
static void offset_inputs(const int8_t *x, int n_in, int32_t input_offset, int16_t *scratch)
{
    for (int j = 0; j < n_in; ++j) {
        scratch[j] = (int16_t)((int32_t)x[j] + input_offset);
    }
}

/* The accumulators of the call: acc[o] = bias[o] (0 without) + row first_row + o's sum, the row
 * offsets read once each (a row's end is the next one's start), the dot product inline. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void sparse_acc(const frnn_sparse_matrix *w, int first_row, const int32_t *bias, int n_out, const int16_t *xo,
                       int32_t *acc)
{
    const uint16_t *row_start = w->row_start + first_row;
    const int8_t *values = w->values;
    const uint8_t *columns = w->columns;
    int32_t begin = row_start[0];
    for (int o = 0; o < n_out; ++o) {
        const int32_t end = row_start[o + 1];
        acc[o] = dot_sparse(values, columns, begin, end, xo, bias ? bias[o] : 0);
        begin = end;
    }
}

/* The accumulators live on the entry point's stack (4 bytes an output); frnn_kernels' FC
 * requantization (its per-tensor and per-channel loops) writes the outputs. */
void frnn_fc_sparse_s8(const int8_t *x, const frnn_sparse_matrix *w, int first_row, const int32_t *bias, int n_in,
                       int n_out, const frnn_fc_params *p, int16_t *scratch, int8_t *y)
{
    int32_t acc[n_out + 1];
    offset_inputs(x, n_in, p->input_offset, scratch);
    sparse_acc(w, first_row, bias, n_out, scratch, acc);
    frnn_requantize_s8(acc, n_out, p, y);
}

void frnn_fc_sparse_s16(const int8_t *x, const frnn_sparse_matrix *w, int first_row, const int32_t *bias, int n_in,
                        int n_out, const frnn_fc_params *p, int16_t *scratch, int16_t *y)
{
    int32_t acc[n_out + 1];
    offset_inputs(x, n_in, p->input_offset, scratch);
    sparse_acc(w, first_row, bias, n_out, scratch, acc);
    frnn_requantize_s16(acc, n_out, p, y);
}
