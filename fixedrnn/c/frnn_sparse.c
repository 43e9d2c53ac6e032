/* FULLY_CONNECTED on sparse (compressed-row) weights (frnn_sparse.h). */
#include "frnn_sparse.h"

int32_t frnn_dot_sparse(const int8_t *values, const uint8_t *columns, int32_t begin, int32_t end, const int16_t *xo)
{
    int32_t acc = 0;
    int32_t k = begin;
    for (; k + 4 <= end; k += 4) { /* four nonzeros a pass: a quarter of the loop's compare and branch */
        acc += (int32_t)values[k] * xo[columns[k]];
        acc += (int32_t)values[k + 1] * xo[columns[k + 1]];
        acc += (int32_t)values[k + 2] * xo[columns[k + 2]];
        acc += (int32_t)values[k + 3] * xo[columns[k + 3]];
    }
    for (; k < end; ++k) {
        acc += (int32_t)values[k] * xo[columns[k]];
    }
    return acc;
}

/* scratch[j] = x[j] + input_offset (in [-255, 255]: an int16). */
static void offset_inputs(const int8_t *x, int n_in, int32_t input_offset, int16_t *scratch)
{
    for (int j = 0; j < n_in; ++j) {
        scratch[j] = (int16_t)((int32_t)x[j] + input_offset);
    }
}

/* Row r (of the call, o = r - first_row) requantized: clamp(output_offset + MBQM(bias + acc, m, s)). */
static int32_t sparse_row(const frnn_sparse_matrix *w, int r, int o, const int32_t *bias, const frnn_fc_params *p,
                          const int16_t *xo)
{
    const int c = p->per_channel ? o : 0;
    int32_t acc = frnn_dot_sparse(w->values, w->columns, w->row_start[r], w->row_start[r + 1], xo);
    if (bias) {
        acc += bias[o];
    }
    return frnn_clamp(p->output_offset + frnn_mbqm(acc, p->multiplier[c], p->shift[c]), p->act_min, p->act_max);
}

void frnn_fc_sparse_s8(const int8_t *x, const frnn_sparse_matrix *w, int first_row, const int32_t *bias, int n_in,
                       int n_out, const frnn_fc_params *p, int16_t *scratch, int8_t *y)
{
    offset_inputs(x, n_in, p->input_offset, scratch);
    for (int o = 0; o < n_out; ++o) {
        y[o] = (int8_t)sparse_row(w, first_row + o, o, bias, p, scratch);
    }
}

void frnn_fc_sparse_s16(const int8_t *x, const frnn_sparse_matrix *w, int first_row, const int32_t *bias, int n_in,
                        int n_out, const frnn_fc_params *p, int16_t *scratch, int16_t *y)
{
    offset_inputs(x, n_in, p->input_offset, scratch);
    for (int o = 0; o < n_out; ++o) {
        y[o] = (int16_t)sparse_row(w, first_row + o, o, bias, p, scratch);
    }
}
