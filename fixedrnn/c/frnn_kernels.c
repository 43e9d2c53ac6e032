/* Integer kernels of fixedrnn (see frnn_kernels.h for the formats and rounding rules).
 * Assumes two's complement int32 and arithmetic right shift of negative values (GCC, Clang, Arm
 * compilers); left shifts of negative values are done on uint32_t to stay defined.
 */
#include "frnn_kernels.h"

#include <string.h>

#if defined(__ARM_FEATURE_DSP) && !defined(FRNN_NO_DSP)
#include <arm_acle.h>
#define FRNN_USE_DSP 1
static inline uint32_t ror8(uint32_t v)
{
    return (v >> 8) | (v << 24);
}
#else
#define FRNN_USE_DSP 0
#endif

/* gemmlowp's fixed-point constants: value v in Qm.n is the int32 round(v * 2^n)
 * (fixedrnn.gemmlowp.constant(v, m); a test recomputes each from the formula in its comment). */
#define EXP_MINUS_ONE_EIGHTH 1895147668 /* exp(-1/8) in Q0.31 */
#define ONE_THIRD 715827883 /* 1/3 in Q0.31 */
#define FORTY_EIGHT_OVER_SEVENTEEN 1515870810 /* 48/17 in Q2.29 */
#define MINUS_THIRTY_TWO_OVER_SEVENTEEN (-1010580540) /* -32/17 in Q2.29 */

int32_t frnn_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    /* gemmlowp's nudge-and-truncate: (ab + 2^30) / 2^31 for ab >= 0, (ab + 1 - 2^30) / 2^31 else,
     * C division truncating toward zero; both are floor(ab / 2^31 + 1/2) (ties toward +infinity). */
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

int32_t frnn_rdbypot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)((1u << exponent) - 1u);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t frnn_mbqm(int32_t x, int32_t multiplier, int shift)
{
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    return frnn_rdbypot(frnn_srdhm((int32_t)((uint32_t)x << left), multiplier), right);
}

int32_t frnn_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

static int32_t saturate_s16(int32_t x)
{
#if FRNN_USE_DSP
    return __ssat(x, 16);
#else
    return frnn_clamp(x, INT16_MIN, INT16_MAX);
#endif
}

int32_t frnn_dot_s8(const int8_t *w, const int8_t *x, int n, int32_t input_offset)
{
    int32_t acc = 0;
    int d = 0;
#if FRNN_USE_DSP
    /* Four products per step: SXTB16 splits 4 weights into two pairs of int16, SXTAB16 does the
     * same to 4 inputs while adding the offset to each, SMLAD multiplies and accumulates pairs. */
    const uint32_t offset2 = ((uint32_t)input_offset & 0xffffu) | ((uint32_t)input_offset << 16);
    for (; d + 4 <= n; d += 4) {
        uint32_t wv, xv;
        memcpy(&wv, w + d, 4);
        memcpy(&xv, x + d, 4);
        const int16x2_t w02 = __sxtb16((int8x4_t)wv);
        const int16x2_t w13 = __sxtb16((int8x4_t)ror8(wv));
        const int16x2_t x02 = __sxtab16((int16x2_t)offset2, (int8x4_t)xv);
        const int16x2_t x13 = __sxtab16((int16x2_t)offset2, (int8x4_t)ror8(xv));
        acc = __smlad(w02, x02, acc);
        acc = __smlad(w13, x13, acc);
    }
#endif
    for (; d < n; ++d) {
        acc += (int32_t)w[d] * ((int32_t)x[d] + input_offset);
    }
    return acc;
}

int32_t frnn_dot_pot(const uint8_t *codes, int32_t start, const int8_t *x, int n, int32_t input_offset)
{
    int32_t acc = 0;
    uint32_t index = (uint32_t)start;
    for (int d = 0; d < n; ++d, ++index) {
        const uint32_t code = ((uint32_t)codes[index >> 1] >> ((index & 1u) << 2)) & 0xfu;
        const uint32_t m = code & 7u;
        if (m != 0u) {
            const int32_t term = (int32_t)((uint32_t)((int32_t)x[d] + input_offset) << (7u - m));
            acc = (code & 8u) ? acc - term : acc + term;
        }
    }
    return acc;
}

static int32_t requantize(int32_t acc, const frnn_fc_params *p, int channel)
{
    const int k = p->per_channel ? channel : 0;
    const int32_t y = frnn_mbqm(acc, p->multiplier[k], (int)p->shift[k]) + p->output_offset;
    return frnn_clamp(y, p->act_min, p->act_max);
}

void frnn_fc_s8_s8(const int8_t *x, const int8_t *w, const int32_t *bias, int n_in, int n_out,
                   const frnn_fc_params *p, int8_t *y)
{
    for (int o = 0; o < n_out; ++o, w += n_in) {
        const int32_t acc = frnn_dot_s8(w, x, n_in, p->input_offset) + (bias ? bias[o] : 0);
        y[o] = (int8_t)requantize(acc, p, o);
    }
}

void frnn_fc_s8_s16(const int8_t *x, const int8_t *w, const int32_t *bias, int n_in, int n_out,
                    const frnn_fc_params *p, int16_t *y)
{
    for (int o = 0; o < n_out; ++o, w += n_in) {
        const int32_t acc = frnn_dot_s8(w, x, n_in, p->input_offset) + (bias ? bias[o] : 0);
        y[o] = (int16_t)requantize(acc, p, o);
    }
}

void frnn_fc_pot_s8(const int8_t *x, const uint8_t *codes, int32_t start, const int32_t *bias, int n_in, int n_out,
                    const frnn_fc_params *p, int8_t *y)
{
    for (int o = 0; o < n_out; ++o, start += n_in) {
        const int32_t acc = frnn_dot_pot(codes, start, x, n_in, p->input_offset) + (bias ? bias[o] : 0);
        y[o] = (int8_t)requantize(acc, p, o);
    }
}

void frnn_fc_pot_s16(const int8_t *x, const uint8_t *codes, int32_t start, const int32_t *bias, int n_in, int n_out,
                     const frnn_fc_params *p, int16_t *y)
{
    for (int o = 0; o < n_out; ++o, start += n_in) {
        const int32_t acc = frnn_dot_pot(codes, start, x, n_in, p->input_offset) + (bias ? bias[o] : 0);
        y[o] = (int16_t)requantize(acc, p, o);
    }
}

void frnn_add_s8(const int8_t *a, const int8_t *b, int n, const frnn_add_params *p, int8_t *y)
{
    for (int i = 0; i < n; ++i) {
        const int32_t in1 = (int32_t)((uint32_t)(p->input1_offset + a[i]) << p->left_shift);
        const int32_t in2 = (int32_t)((uint32_t)(p->input2_offset + b[i]) << p->left_shift);
        const int32_t s1 = frnn_rdbypot(frnn_srdhm(in1, p->input1_multiplier), -p->input1_shift);
        const int32_t s2 = frnn_rdbypot(frnn_srdhm(in2, p->input2_multiplier), -p->input2_shift);
        const int32_t out = frnn_rdbypot(frnn_srdhm(s1 + s2, p->output_multiplier), -p->output_shift)
                            + p->output_offset;
        y[i] = (int8_t)frnn_clamp(out, p->act_min, p->act_max);
    }
}

/* gemmlowp fixed point, scalar int32. */
static int32_t sat_shift_left(int32_t x, int exponent)
{
    const int32_t threshold = (int32_t)((1u << (31 - exponent)) - 1u);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* gemmlowp RoundingHalfSum: (a + b) / 2 to nearest, ties away from zero. */
static int32_t rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* exp(a) for a in [-1/4, 0), Q0.31 in and out. */
static int32_t exp_quarter_interval(int32_t a)
{
    const int32_t x = a + (1 << 28);
    const int32_t x2 = frnn_srdhm(x, x);
    const int32_t x3 = frnn_srdhm(x2, x);
    const int32_t x4 = frnn_srdhm(x2, x2);
    const int32_t x4_over_4 = frnn_rdbypot(x4, 2);
    const int32_t poly = frnn_rdbypot(frnn_srdhm(x4_over_4 + x3, ONE_THIRD) + x2, 1);
    return EXP_MINUS_ONE_EIGHTH + frnn_srdhm(EXP_MINUS_ONE_EIGHTH, x + poly);
}

/* exp(a) for a <= 0, a in Q5.26, result Q0.31. */
static int32_t exp_negative_q5(int32_t a, const int32_t *multipliers)
{
    const int32_t quarter = 1 << 24;
    const int32_t a_mod_quarter_minus_quarter = (a & (quarter - 1)) - quarter;
    int32_t result = exp_quarter_interval(sat_shift_left(a_mod_quarter_minus_quarter, 5));
    const int32_t remainder = a_mod_quarter_minus_quarter - a;
    for (int k = 0; k < 7; ++k) {
        if (remainder & (int32_t)(1u << (24 + k))) {
            result = frnn_srdhm(result, multipliers[k]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* (1 - a) / (1 + a) for a in (0, 1), Q0.31, by three Newton-Raphson steps in Q2.29. */
static int32_t one_minus_x_over_one_plus_x(int32_t a)
{
    const int32_t half_denominator = rounding_half_sum(a, INT32_MAX);
    /* start value 48/17 - 32/17 d (Q2.29) */
    int32_t x = FORTY_EIGHT_OVER_SEVENTEEN + frnn_srdhm(half_denominator, MINUS_THIRTY_TWO_OVER_SEVENTEEN);
    for (int i = 0; i < 3; ++i) {
        const int32_t one_minus_dx = (1 << 29) - frnn_srdhm(half_denominator, x);
        x = x + sat_shift_left(frnn_srdhm(x, one_minus_dx), 2);
    }
    return sat_shift_left(x - (1 << 29), 2);
}

int32_t frnn_tanh_q4(int32_t a, const int32_t *exp_multipliers)
{
    if (a == 0) {
        return 0;
    }
    const int negative = a < 0;
    const int32_t n = negative ? a : -a;
    /* n in Q4.27 read as Q5.26 is 2n: exp(-2|a|). */
    const int32_t t = one_minus_x_over_one_plus_x(exp_negative_q5(n, exp_multipliers));
    return negative ? -t : t;
}

void frnn_tanh_s8(const int8_t *x, int n, int32_t input_zero_point, int32_t input_range_radius,
                  int32_t input_multiplier, int32_t input_shift, const int32_t *exp_multipliers, int8_t *y)
{
    for (int i = 0; i < n; ++i) {
        const int32_t input = (int32_t)x[i] - input_zero_point;
        if (input <= -input_range_radius) {
            y[i] = INT8_MIN;
        } else if (input >= input_range_radius) {
            y[i] = INT8_MAX;
        } else {
            const int32_t q4 = frnn_mbqm(input, input_multiplier, (int)input_shift);
            const int32_t out = frnn_rdbypot(frnn_tanh_q4(q4, exp_multipliers), 24);
            y[i] = (int8_t)frnn_clamp(out, INT8_MIN, INT8_MAX);
        }
    }
}

static void pot_case(int32_t *multiplier, int32_t *left_shift)
{
    if (*multiplier == 0) {
        *multiplier = 3 << *left_shift;
        *left_shift = 0;
    }
}

/* TFLM's int16 LUT activation (sigmoid16 / tanh16), as its reference computes it: v = the
 * rescaled input; |v| splits into a table index (|v| >> frac_bits) and an interpolation weight (the
 * low frac_bits); r = the linearly interpolated table value (`saturated` from index 255 on); the
 * output is (r + positive_offset) >> out_shift for v >= 0, (negative_offset - r) >> out_shift for
 * v < 0 (arithmetic shifts: floor). */
static inline void lut_s16(const int16_t *x, int n, int32_t input_multiplier, int32_t input_left_shift,
                           const uint16_t *table, int frac_bits, int32_t saturated, int32_t positive_offset,
                           int32_t negative_offset, int out_shift, int16_t *y)
{
    pot_case(&input_multiplier, &input_left_shift);
    const int32_t round = input_left_shift > 0 ? 1 << (input_left_shift - 1) : 0;
    for (const int16_t *end = x + n; x < end; ++x, ++y) {
        const int32_t v = ((int32_t)*x * input_multiplier + round) >> input_left_shift;
        const uint32_t magnitude = (uint32_t)(v < 0 ? -v : v);
        const uint32_t uh = magnitude >> frac_bits;
        int32_t r;
        if (uh >= 255u) {
            r = saturated;
        } else {
            const uint32_t ua = table[uh];
            const uint32_t ub = table[uh + 1u];
            r = (int32_t)((ua << frac_bits) + (magnitude & ((1u << frac_bits) - 1u)) * (ub - ua));
        }
        r = v >= 0 ? r + positive_offset : negative_offset - r;
        *y = (int16_t)(r >> out_shift);
    }
}

/* sigmoid: 9 fraction bits, r = sigmoid(|v|) * 2^25; out = (r + 2^9) >> 10 for v >= 0 and, as
 * sigmoid(-v) = 1 - sigmoid(v), (2^25 - r + 2^9 - 1) >> 10 for v < 0 (Q0.15). */
void frnn_sigmoid_s16(const int16_t *x, int n, int32_t input_multiplier, int32_t input_left_shift,
                      const uint16_t *table, int16_t *y)
{
    lut_s16(x, n, input_multiplier, input_left_shift, table, 9, 0x7fff << 10, 1 << 9, (1 << 25) + (1 << 9) - 1,
            10, y);
}

/* tanh(v) = 2 sigmoid(2v) - 1: 8 fraction bits, r - 2^23 = tanh(|v|) * 2^23; out = (r - 2^23 + 2^7)
 * >> 8 for v >= 0 and, tanh being odd, (2^23 - r + 2^7 - 1) >> 8 for v < 0 (Q0.15). */
void frnn_tanh_s16(const int16_t *x, int n, int32_t input_multiplier, int32_t input_left_shift,
                   const uint16_t *table, int16_t *y)
{
    lut_s16(x, n, input_multiplier, input_left_shift, table, 8, 0xffff << 8, (1 << 7) - (1 << 23),
            (1 << 23) + (1 << 7) - 1, 8, y);
}

void frnn_mul_s16_s16(const int16_t *a, const int16_t *b, int n, const frnn_mul_params *p, int16_t *y)
{
    for (int i = 0; i < n; ++i) {
        const int32_t prod = (p->input1_offset + a[i]) * (p->input2_offset + b[i]);
        const int32_t out = p->output_offset + frnn_mbqm(prod, p->multiplier, (int)p->shift);
        y[i] = (int16_t)frnn_clamp(out, p->act_min, p->act_max);
    }
}

void frnn_mul_s16_s8(const int16_t *a, const int16_t *b, int n, const frnn_mul_params *p, int8_t *y)
{
    for (int i = 0; i < n; ++i) {
        const int32_t prod = (p->input1_offset + a[i]) * (p->input2_offset + b[i]);
        const int32_t out = p->output_offset + frnn_mbqm(prod, p->multiplier, (int)p->shift);
        y[i] = (int8_t)frnn_clamp(out, p->act_min, p->act_max);
    }
}

void frnn_add_s16_sat(const int16_t *a, const int16_t *b, int n, int16_t *y)
{
    for (int i = 0; i < n; ++i) {
        y[i] = (int16_t)saturate_s16((int32_t)a[i] + (int32_t)b[i]);
    }
}

