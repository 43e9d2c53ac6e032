/* FULLY_CONNECTED on packed k-bit and minifloat weights (frnn_packed.h). */
#include "frnn_packed.h"

int32_t frnn_dot_packed(const uint8_t *w, int32_t start, const frnn_packed_format *f, const int8_t *x, int n,
                        int32_t input_offset)
{
    int32_t acc = 0;
    for (int d = 0; d < n; ++d) {
        const int32_t weight = frnn_packed_decode(frnn_packed_code(w, (uint32_t)(start + d), f), f);
        acc += weight * ((int32_t)x[d] + input_offset);
    }
    return acc;
}

/* Row o's requantized output: clamp(output_offset + MBQM(bias + acc, m, s), act_min, act_max). */
static int32_t packed_row(const int8_t *x, const uint8_t *w, int32_t start, const frnn_packed_format *f,
                          const int32_t *bias, int n_in, int o, const frnn_fc_params *p)
{
    const int c = p->per_channel ? o : 0;
    int32_t acc = frnn_dot_packed(w, start + o * n_in, f, x, n_in, p->input_offset);
    if (bias) {
        acc += bias[o];
    }
    return frnn_clamp(p->output_offset + frnn_mbqm(acc, p->multiplier[c], p->shift[c]), p->act_min, p->act_max);
}

void frnn_fc_packed_s8(const int8_t *x, const uint8_t *w, int32_t start, const frnn_packed_format *f,
                       const int32_t *bias, int n_in, int n_out, const frnn_fc_params *p, int8_t *y)
{
    for (int o = 0; o < n_out; ++o) {
        y[o] = (int8_t)packed_row(x, w, start, f, bias, n_in, o, p);
    }
}

void frnn_fc_packed_s16(const int8_t *x, const uint8_t *w, int32_t start, const frnn_packed_format *f,
                        const int32_t *bias, int n_in, int n_out, const frnn_fc_params *p, int16_t *y)
{
    for (int o = 0; o < n_out; ++o) {
        y[o] = (int16_t)packed_row(x, w, start, f, bias, n_in, o, p);
    }
}
