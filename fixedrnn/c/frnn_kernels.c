/* Integer kernels of fixedrnn (see frnn_kernels.h for the formats and rounding rules).
 * Assumes two's complement int32 and arithmetic right shift of negative values (GCC, Clang, Arm
 * compilers); left shifts of negative values are done on uint32_t to stay defined.
 */
#include "frnn_kernels.h"

#include <string.h>

#if defined(__ARM_FEATURE_DSP) && !defined(FRNN_NO_DSP)
#include <arm_acle.h>
#define FRNN_USE_DSP 1
/* SXTB16 / SXTAB16 of the operand rotated right by 8 (bytes 1 and 3): the rotation is part of the
 * instruction, which ACLE's __sxtb16 / __sxtab16 cannot express (GCC 12 has no __ror). */
FRNN_INLINE int16x2_t sxtb16_ror8(uint32_t v)
{
    int16x2_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}
FRNN_INLINE int16x2_t sxtab16_ror8(uint32_t a, uint32_t v)
{
    int16x2_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(v));
    return r;
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

static int32_t saturate_s16(int32_t x)
{
#if FRNN_USE_DSP
    return __ssat(x, 16);
#else
    return frnn_clamp(x, INT16_MIN, INT16_MAX);
#endif
}

#if FRNN_USE_DSP
FRNN_INLINE uint32_t load_u32(const void *p)
{
    uint32_t v;
    memcpy(&v, p, 4); /* one LDR: ARMv7-M loads words from any address */
    return v;
}

/* The extended input of the int8 FC: for each group g of 4 inputs, xe[2g] = (x[4g] + offset,
 * x[4g+2] + offset) and xe[2g+1] = (x[4g+1] + offset, x[4g+3] + offset) as int16 lanes (each in
 * [-255, 255]), the SMLAD operands that pair with SXTB16 of a weight word and of it rotated by 8.
 * Worked out once per FC call, shared by every row. offset2: the offset in both int16 lanes. */
FRNN_INLINE void extend_input(const int8_t *x, uint32_t offset2, int groups, uint32_t *xe)
{
    for (int g = 0; g < groups; ++g, x += 4, xe += 2) {
        const uint32_t xv = load_u32(x);
        xe[0] = (uint32_t)__sxtab16((int16x2_t)offset2, (int8x4_t)xv);
        xe[1] = (uint32_t)sxtab16_ror8(offset2, xv);
    }
}

/* acc += sum_d w[d] * (x[d] + offset), d < 4*groups, one row, on the extended input xe. */
FRNN_INLINE int32_t dot_row1(const int8_t *w, const uint32_t *xe, int groups, int32_t acc)
{
    for (int g = 0; g < groups; ++g, w += 4, xe += 2) {
        const uint32_t wv = load_u32(w);
        acc = __smlad(__sxtb16((int8x4_t)wv), (int16x2_t)xe[0], acc);
        acc = __smlad(sxtb16_ror8(wv), (int16x2_t)xe[1], acc);
    }
    return acc;
}

#endif

/* out[r] = init[r] + sum_{d < n} w[r*n + d] * (x[d] + offset), rows r = 0..3 (n = row stride in bytes
 * and row length). With the DSP extension the first 4*groups inputs on the extended input xe: per
 * group of 4 inputs, one LDRD of the two extended words, shared by the 4 rows, then per row one LDR,
 * two SXTB16 and two SMLAD. One assembler loop (24 instructions per 16 products) so that every
 * optimisation level gets the same allocation. It needs 12 registers: the end address is reloaded
 * from memory into the weight temporary each pass, so that GCC finds an allocation at every level and
 * float ABI (at -O1 and up; with the end in a 13th register it finds none for hard float).
 * Unoptimised builds (-O0, no register allocation worth the name) take dot_row1 four times instead.
 * The n - 4*groups last inputs by scalar multiply-adds (x: the input, offset added). */
FRNN_INLINE void dot_rows4(const int8_t *w, int32_t n, const uint32_t *xe, int groups, const int8_t *x, int32_t off,
                           const int32_t *init, int32_t *out)
{
    int32_t a0 = init[0], a1 = init[1], a2 = init[2], a3 = init[3];
#if FRNN_USE_DSP && !defined(__OPTIMIZE__)
    a0 = dot_row1(w, xe, groups, a0);
    a1 = dot_row1(w + n, xe, groups, a1);
    a2 = dot_row1(w + 2 * n, xe, groups, a2);
    a3 = dot_row1(w + 3 * n, xe, groups, a3);
#elif FRNN_USE_DSP
    if (groups > 0) {
    const int8_t *p = w, *q = w + 2 * n;
    const uint32_t *end = xe + 2 * groups;
    uint32_t x02, x13, wv, wt;
    __asm__ volatile(
        "1:\n\t"
        "ldrd   %[x02], %[x13], [%[x]], #8\n\t"
        "ldr    %[wv], [%[p], %[n]]\n\t"
        "sxtb16 %[wt], %[wv]\n\t"
        "smlad  %[a1], %[wt], %[x02], %[a1]\n\t"
        "sxtb16 %[wv], %[wv], ror #8\n\t"
        "smlad  %[a1], %[wv], %[x13], %[a1]\n\t"
        "ldr    %[wv], [%[p]], #4\n\t"
        "sxtb16 %[wt], %[wv]\n\t"
        "smlad  %[a0], %[wt], %[x02], %[a0]\n\t"
        "sxtb16 %[wv], %[wv], ror #8\n\t"
        "smlad  %[a0], %[wv], %[x13], %[a0]\n\t"
        "ldr    %[wv], [%[q], %[n]]\n\t"
        "sxtb16 %[wt], %[wv]\n\t"
        "smlad  %[a3], %[wt], %[x02], %[a3]\n\t"
        "sxtb16 %[wv], %[wv], ror #8\n\t"
        "smlad  %[a3], %[wv], %[x13], %[a3]\n\t"
        "ldr    %[wv], [%[q]], #4\n\t"
        "sxtb16 %[wt], %[wv]\n\t"
        "smlad  %[a2], %[wt], %[x02], %[a2]\n\t"
        "sxtb16 %[wv], %[wv], ror #8\n\t"
        "smlad  %[a2], %[wv], %[x13], %[a2]\n\t"
        "ldr    %[wt], %[end]\n\t"
        "cmp    %[x], %[wt]\n\t"
        "bne    1b\n\t"
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [p] "+r"(p), [q] "+r"(q), [x] "+r"(xe),
          [x02] "=&r"(x02), [x13] "=&r"(x13), [wv] "=&r"(wv), [wt] "=&r"(wt)
        : [n] "r"(n), [end] "m"(end)
        : "cc", "memory");
    }
#endif
    for (int d = 4 * groups; d < n; ++d) {
        const int32_t xd = (int32_t)x[d] + off;
        a0 += (int32_t)w[d] * xd;
        a1 += (int32_t)w[n + d] * xd;
        a2 += (int32_t)w[2 * n + d] * xd;
        a3 += (int32_t)w[3 * n + d] * xd;
    }
    out[0] = a0;
    out[1] = a1;
    out[2] = a2;
    out[3] = a3;
}

int32_t frnn_dot_s8(const int8_t *w, const int8_t *x, int n, int32_t input_offset)
{
    int32_t acc = 0;
    int d = 0;
#if FRNN_USE_DSP
    const uint32_t offset2 = ((uint32_t)input_offset & 0xffffu) | ((uint32_t)input_offset << 16);
    for (; d + 4 <= n; d += 4) {
        const uint32_t wv = load_u32(w + d), xv = load_u32(x + d);
        acc = __smlad(__sxtb16((int8x4_t)wv), __sxtab16((int16x2_t)offset2, (int8x4_t)xv), acc);
        acc = __smlad(sxtb16_ror8(wv), sxtab16_ror8(offset2, xv), acc);
    }
#endif
    for (; d < n; ++d) {
        acc += (int32_t)w[d] * ((int32_t)x[d] + input_offset);
    }
    return acc;
}

/* e of a PoT weight +-2^e (non-zero): its trailing zeros, RBIT + CLZ where the core has CLZ, else
 * three bit tests of |weight| <= 64 (ARMv6-M has no CLZ); no multiply either way. */
FRNN_INLINE uint32_t pot_exponent(int32_t weight)
{
#if defined(__GNUC__) && defined(__ARM_FEATURE_CLZ)
    return (uint32_t)__builtin_ctz((uint32_t)weight);
#else
    const uint32_t magnitude = (uint32_t)(weight < 0 ? -weight : weight);
    return (uint32_t)((magnitude & 0xaau) != 0u) | ((uint32_t)((magnitude & 0xccu) != 0u) << 1)
           | ((uint32_t)((magnitude & 0xf0u) != 0u) << 2);
#endif
}

/* weight * xd for a PoT weight, by a shift and a negation. */
FRNN_INLINE int32_t pot_term(int32_t weight, int32_t xd)
{
    if (weight == 0) {
        return 0;
    }
    const int32_t term = (int32_t)((uint32_t)xd << pot_exponent(weight));
    return weight < 0 ? -term : term;
}

int32_t frnn_dot_pot(const uint8_t *w, int32_t start, const int16_t *pair_table, const int8_t *x, int n,
                     int32_t input_offset)
{
    int32_t acc = 0;
    const uint8_t *b = w + (start >> 1);
    int d = 0;
    if ((start & 1) && n > 0) {
        acc += pot_term(pair_table[*b++ + 1u], (int32_t)x[0] + input_offset);
        d = 1;
    }
    for (; d + 2 <= n; d += 2, ++b) {
        const uint32_t j = *b;
        acc += pot_term(pair_table[j], (int32_t)x[d] + input_offset);
        acc += pot_term(pair_table[j + 1u], (int32_t)x[d + 1] + input_offset);
    }
    if (d < n) {
        acc += pot_term(pair_table[*b], (int32_t)x[d] + input_offset);
    }
    return acc;
}

/* One channel's requantization, its constants worked out once: y = frnn_mbqm(acc, multiplier, shift) +
 * output_offset (then clamped by the caller). multiplier >= 0 (the model format's range).
 * right >= 1 (shift < 0): the two roundings in one 64-bit sum. With p = acc * multiplier, frnn_mbqm is
 * floor((v + 2^(right-1) - [v < 0]) / 2^right), v = floor((p + 2^30) / 2^31); nested floors of an
 * integer sum combine, so it is floor((p + 2^30 + 2^(30+right) - [v < 0] 2^31) / 2^(31+right)): the high
 * word of the int64 sum p + start - [acc < 0] 2^31 (start = 2^30 + 2^(30+right); one SMLAL), shifted right
 * by right - 1. [acc < 0] stands for [v < 0]: they differ only where v = 0 (acc < 0, |p| <= 2^30, or
 * multiplier 0), where either gives 0 for right >= 1.
 * right = 0 (shift >= 0): frnn_srdhm_unsaturated(acc << left, multiplier), no second rounding. */
typedef struct {
    int32_t multiplier;
    int32_t left, right;
    int64_t start; /* 2^30 + 2^(30+right), right >= 1 */
} requant;

FRNN_INLINE requant requant_of(int32_t multiplier, int32_t shift)
{
    requant r;
    r.multiplier = multiplier;
    r.left = shift > 0 ? shift : 0;
    r.right = shift > 0 ? 0 : -shift;
    r.start = ((int64_t)1 << 30) + ((int64_t)1 << (30 + r.right));
    return r;
}

enum { OUT_S8, OUT_S16 };

/* The clamp to [lo, hi]; full_range: [lo, hi] is the whole range of the output type, one SSAT. */
FRNN_INLINE int32_t clamp_out(int32_t v, int32_t lo, int32_t hi, int out_kind, int full_range)
{
#if FRNN_USE_DSP
    if (full_range) {
        return out_kind == OUT_S8 ? __ssat(v, 8) : __ssat(v, 16);
    }
#endif
    (void)out_kind;
    (void)full_range;
    return frnn_clamp(v, lo, hi);
}

/* requant_apply for right >= 1 (see requant) and for right = 0. */
FRNN_INLINE int32_t requant_right(int32_t acc, const requant *r, int32_t output_offset)
{
    const int64_t start = r->start + (int32_t)((uint32_t)acc & 0x80000000u); /* - [acc < 0] 2^31 */
    const int32_t high = (int32_t)(((int64_t)acc * r->multiplier + start) >> 32);
    return (high >> (r->right - 1)) + output_offset;
}

FRNN_INLINE int32_t requant_left(int32_t acc, const requant *r, int32_t output_offset)
{
    return frnn_srdhm_unsaturated((int32_t)((uint32_t)acc << r->left), r->multiplier) + output_offset;
}

FRNN_INLINE int32_t requant_apply(int32_t acc, const requant *r, int32_t output_offset)
{
    return r->right > 0 ? requant_right(acc, r, output_offset) : requant_left(acc, r, output_offset);
}

FRNN_INLINE void store(void *y, int out_kind, int o, int32_t v)
{
    if (out_kind == OUT_S8) {
        ((int8_t *)y)[o] = (int8_t)v;
    } else {
        ((int16_t *)y)[o] = (int16_t)v;
    }
}

/* acc + sum_d w[d] * (x[d] + offset) for d in [from, n), one row: the inputs the 4-wide loop leaves,
 * or all of them in portable C. */
FRNN_INLINE int32_t dot_scalar(const int8_t *w, int n, const int8_t *x, int32_t offset, int from, int32_t acc)
{
    for (int d = from; d < n; ++d) {
        acc += (int32_t)w[d] * ((int32_t)x[d] + offset);
    }
    return acc;
}

/* The FC's requantization loop (and MUL's) is compiled once per case of (per channel, whole output
 * range: one SSAT) where speed is asked for, so that those tests leave the loop; at -Os once,
 * testing them per element. */
#if defined(__OPTIMIZE_SIZE__)
#define FRNN_FC_SPECIALISED 0
#else
#define FRNN_FC_SPECIALISED 1
#endif

/* The FC's outputs: y[o] = clamp(frnn_mbqm(acc[o], multiplier, shift) + output_offset, act_min,
 * act_max), o < n, per tensor (one loop for right >= 1, one for right = 0) or per channel. */
FRNN_INLINE void requantize_rows(const int32_t *acc, int n, const frnn_fc_params *p, void *y, int out_kind,
                                 int per_channel, int full_range)
{
    const int32_t out_off = p->output_offset, lo = p->act_min, hi = p->act_max;
    if (per_channel) {
        for (int o = 0; o < n; ++o) {
            const requant r = requant_of(p->multiplier[o], p->shift[o]);
            store(y, out_kind, o, clamp_out(requant_apply(acc[o], &r, out_off), lo, hi, out_kind, full_range));
        }
        return;
    }
    const requant r = requant_of(p->multiplier[0], p->shift[0]);
    if (r.right > 0) {
        for (int o = 0; o < n; ++o) {
            store(y, out_kind, o, clamp_out(requant_right(acc[o], &r, out_off), lo, hi, out_kind, full_range));
        }
    } else {
        for (int o = 0; o < n; ++o) {
            store(y, out_kind, o, clamp_out(requant_left(acc[o], &r, out_off), lo, hi, out_kind, full_range));
        }
    }
}

FRNN_INLINE void requantize_dispatch(const int32_t *acc, int n, const frnn_fc_params *p, void *y, int out_kind,
                                     int full_range)
{
    if (!FRNN_FC_SPECIALISED) {
        requantize_rows(acc, n, p, y, out_kind, p->per_channel, full_range);
    } else if (p->per_channel) {
        requantize_rows(acc, n, p, y, out_kind, 1, full_range);
    } else if (full_range) {
        requantize_rows(acc, n, p, y, out_kind, 0, 1);
    } else {
        requantize_rows(acc, n, p, y, out_kind, 0, 0);
    }
}

/* The FC's buffers live on the entry point's stack: the accumulators (4 bytes per output) and, on DSP
 * builds, the extended input (2 bytes per input). The MAC passes run in a function of their own
 * (FC_BODY), whose frame has no variable-length array and so no frame pointer: the MAC loop's 12
 * registers stay free at every level and float ABI. */
#define FC_ACC_BUFFER(acc, n_out) int32_t acc[(n_out) + 1]
#if FRNN_USE_DSP
#define FC_INPUT_BUFFER(xe, n_in) uint32_t xe[2 * ((n_in) / 4) + 1]
#else
#define FC_INPUT_BUFFER(xe, n_in) uint32_t *const xe = NULL
#endif
#if defined(__GNUC__)
#define FC_BODY static __attribute__((noinline))
#else
#define FC_BODY static
#endif

/* The accumulators of TFLM FULLY_CONNECTED with int8 weights: acc[o] = bias[o] (0 without a bias) +
 * sum_d w[o][d] * (x[d] + offset). With the DSP extension the input is extended once (extend_input into
 * xe[2 * (n_in / 4)]), then rows in passes of four sharing each extended word, then the leftover rows
 * one by one; the n % 4 last inputs of each row by scalar multiply-adds. */
FC_BODY void fc_s8_acc(const int8_t *x, const int8_t *w, const int32_t *bias, int n_in, int n_out, int32_t off,
                       uint32_t *xe, int32_t *acc)
{
#if FRNN_USE_DSP
    const int groups = n_in / 4;
    extend_input(x, ((uint32_t)off & 0xffffu) | ((uint32_t)off << 16), groups, xe);
#else
    const int groups = 0;
    (void)xe;
#endif
    static const int32_t zero[4] = {0, 0, 0, 0};
    int o = 0;
    for (; o + 4 <= n_out; o += 4, w += 4 * n_in) {
        dot_rows4(w, n_in, xe, groups, x, off, bias ? bias + o : zero, acc + o);
    }
    for (; o < n_out; ++o, w += n_in) {
        int32_t a = bias ? bias[o] : 0;
#if FRNN_USE_DSP
        a = dot_row1(w, xe, groups, a);
#endif
        acc[o] = dot_scalar(w, n_in, x, off, 4 * groups, a);
    }
}

void frnn_fc_s8_s8(const int8_t *x, const int8_t *w, const int32_t *bias, int n_in, int n_out,
                   const frnn_fc_params *p, int8_t *y)
{
    FC_INPUT_BUFFER(xe, n_in);
    FC_ACC_BUFFER(acc, n_out);
    fc_s8_acc(x, w, bias, n_in, n_out, p->input_offset, xe, acc);
    requantize_dispatch(acc, n_out, p, y, OUT_S8, p->act_min == INT8_MIN && p->act_max == INT8_MAX);
}

void frnn_fc_s8_s16(const int8_t *x, const int8_t *w, const int32_t *bias, int n_in, int n_out,
                    const frnn_fc_params *p, int16_t *y)
{
    FC_INPUT_BUFFER(xe, n_in);
    FC_ACC_BUFFER(acc, n_out);
    fc_s8_acc(x, w, bias, n_in, n_out, p->input_offset, xe, acc);
    requantize_dispatch(acc, n_out, p, y, OUT_S16, p->act_min == INT16_MIN && p->act_max == INT16_MAX);
}

void frnn_requantize_s8(const int32_t *acc, int n, const frnn_fc_params *p, int8_t *y)
{
    requantize_dispatch(acc, n, p, y, OUT_S8, p->act_min == INT8_MIN && p->act_max == INT8_MAX);
}

void frnn_requantize_s16(const int32_t *acc, int n, const frnn_fc_params *p, int16_t *y)
{
    requantize_dispatch(acc, n, p, y, OUT_S16, p->act_min == INT16_MIN && p->act_max == INT16_MAX);
}

#if defined(FRNN_POT_SHIFT_ONLY)
/* The accumulators of TFLM FULLY_CONNECTED with PoT weights, multiply-free MAC: each row by
 * frnn_dot_pot. */
FC_BODY void fc_pot_acc(const int8_t *x, const uint8_t *w, int32_t start, const int16_t *pairs,
                        const int32_t *bias, int n_in, int n_out, int32_t off, uint32_t *xp, int32_t *acc)
{
    (void)xp;
    for (int o = 0; o < n_out; ++o, start += n_in) {
        acc[o] = frnn_dot_pot(w, start, pairs, x, n_in, off) + (bias ? bias[o] : 0);
    }
}
#else
/* A pair of int16 lanes (lo, hi) as the word SMLAD reads. */
FRNN_INLINE uint32_t lanes(int32_t lo, int32_t hi)
{
    return ((uint32_t)lo & 0xffffu) | ((uint32_t)hi << 16);
}

/* The paired input of the pair-table FC, for the rows that start at an even element (odd = 0) or at
 * an odd one (odd = 1): the int16 sequence v = (0 if odd), x[0] + off, ..., x[n-1] + off, (0 to an
 * even length) as words xp[j] = (v[2j], v[2j+1]), (n + odd + 1) / 2 of them. A row of n weights from
 * element i then covers whole weight bytes i / 2 .. (i + n - 1) / 2, and the element before it (odd)
 * or after it (the odd length's last byte) meets a zero lane. Each x + off is in [-255, 255]. With
 * the DSP extension, per 4 inputs one LDR, two SXTAB16 ((x0, x2), (x1, x3) + off) and two packs.
 * offset2: off in both lanes. */
FRNN_INLINE void pair_input(const int8_t *x, int32_t off, uint32_t offset2, int n, int odd, uint32_t *xp)
{
    int d = 0;
    if (odd && n > 0) {
        *xp++ = lanes(0, (int32_t)x[0] + off);
        d = 1;
    }
#if FRNN_USE_DSP
    for (; d + 4 <= n; d += 4, xp += 2) {
        const uint32_t xv = load_u32(x + d);
        const uint32_t even = (uint32_t)__sxtab16((int16x2_t)offset2, (int8x4_t)xv);
        const uint32_t odd_lanes = (uint32_t)sxtab16_ror8(offset2, xv);
        xp[0] = (even & 0xffffu) | (odd_lanes << 16);
        xp[1] = (odd_lanes & 0xffff0000u) | (even >> 16);
    }
#else
    (void)offset2;
#endif
    for (; d + 2 <= n; d += 2) {
        *xp++ = lanes((int32_t)x[d] + off, (int32_t)x[d + 1] + off);
    }
    if (d < n) {
        *xp = lanes((int32_t)x[d] + off, 0);
    }
}

/* The two weights of weight byte j as int16 lanes (the even element's low): with the DSP extension
 * one (unaligned) load from the pair table. */
FRNN_INLINE uint32_t pair_word(const int16_t *pairs, uint32_t j)
{
#if FRNN_USE_DSP
    return load_u32(pairs + j);
#else
    return lanes(pairs[j], pairs[j + 1u]);
#endif
}

/* acc + the dot product of two int16-lane words (SMLAD; two multiplies in portable C). */
FRNN_INLINE int32_t dot_lanes(uint32_t w, uint32_t x, int32_t acc)
{
#if FRNN_USE_DSP
    return __smlad((int16x2_t)w, (int16x2_t)x, acc);
#else
    return acc + (int32_t)(int16_t)(w & 0xffffu) * (int32_t)(int16_t)(x & 0xffffu)
           + ((int32_t)w >> 16) * ((int32_t)x >> 16);
#endif
}

/* One pass of pot_rows' 4-row assembler loop (16 products): an LDRD of two paired input words
 * (x01, x23), then for each row (0 and 1 at p + rs and p, 2 and 3 at q + rs and q) two weight bytes,
 * each an LDRB, an LDR of its pair word and an SMLAD. */
#define FRNN_POT_ROWS4_PASS \
    "ldrd   %[x01], %[x23], [%[x]], #8\n\t"   \
    "ldrb   %[t], [%[p], %[rs]]\n\t"          \
    "ldr    %[t], [%[tab], %[t], lsl #1]\n\t" \
    "smlad  %[a1], %[t], %[x01], %[a1]\n\t"   \
    "ldrb   %[t], [%[p]], #1\n\t"             \
    "ldr    %[t], [%[tab], %[t], lsl #1]\n\t" \
    "smlad  %[a0], %[t], %[x01], %[a0]\n\t"   \
    "ldrb   %[t], [%[p], %[rs]]\n\t"          \
    "ldr    %[t], [%[tab], %[t], lsl #1]\n\t" \
    "smlad  %[a1], %[t], %[x23], %[a1]\n\t"   \
    "ldrb   %[t], [%[p]], #1\n\t"             \
    "ldr    %[t], [%[tab], %[t], lsl #1]\n\t" \
    "smlad  %[a0], %[t], %[x23], %[a0]\n\t"   \
    "ldrb   %[t], [%[q], %[rs]]\n\t"          \
    "ldr    %[t], [%[tab], %[t], lsl #1]\n\t" \
    "smlad  %[a3], %[t], %[x01], %[a3]\n\t"   \
    "ldrb   %[t], [%[q]], #1\n\t"             \
    "ldr    %[t], [%[tab], %[t], lsl #1]\n\t" \
    "smlad  %[a2], %[t], %[x01], %[a2]\n\t"   \
    "ldrb   %[t], [%[q], %[rs]]\n\t"          \
    "ldr    %[t], [%[tab], %[t], lsl #1]\n\t" \
    "smlad  %[a3], %[t], %[x23], %[a3]\n\t"   \
    "ldrb   %[t], [%[q]], #1\n\t"             \
    "ldr    %[t], [%[tab], %[t], lsl #1]\n\t" \
    "smlad  %[a2], %[t], %[x23], %[a2]\n\t"

/* out[r * step] = init[r * step] (0 for init NULL) + sum_j pair_word(b[r * rs + j]) . xp[j], j < nbytes,
 * for the rows r < rows (4 or 1): per weight byte (two inputs) and row one LDRB, one LDR of the pair
 * word and one SMLAD. With the DSP extension, for 4 rows, pairs of bytes run in one assembler loop,
 * one LDRD of two paired words per 4 inputs shared by the 4 rows, unrolled twice (an odd number of
 * groups enters at the second copy) so that the end test comes once per 32 products (26.5
 * instructions per 16 products; 12 registers as in dot_rows4), an odd nbytes' last byte after it. */
FRNN_INLINE void pot_rows(const uint8_t *b, int32_t rs, const uint32_t *xp, int nbytes, const int16_t *pairs, int rows,
                          const int32_t *init, int step, int32_t *out)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    if (init) {
        a0 = init[0];
        if (rows == 4) {
            a1 = init[step];
            a2 = init[2 * step];
            a3 = init[3 * step];
        }
    }
    int j = 0;
#if FRNN_USE_DSP && defined(__OPTIMIZE__)
    if (rows == 4 && nbytes >= 2) {
        const int groups = nbytes / 2;
        const uint8_t *pp = b, *qq = b + 2 * rs;
        const uint32_t *xx = xp;
        const uint32_t *end = xp + 2 * groups;
        uint32_t t, x01, x23;
        const int32_t odd_groups = groups & 1;
        __asm__ volatile(
            "ldr    %[t], %[odd]\n\t"
            "cmp    %[t], #0\n\t"
            "bne    2f\n\t"
            "1:\n\t"
            FRNN_POT_ROWS4_PASS
            "2:\n\t"
            FRNN_POT_ROWS4_PASS
            "ldr    %[t], %[end]\n\t"
            "cmp    %[x], %[t]\n\t"
            "bne    1b\n\t"
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [p] "+r"(pp), [q] "+r"(qq), [x] "+r"(xx),
              [t] "=&r"(t), [x01] "=&r"(x01), [x23] "=&r"(x23)
            : [rs] "r"(rs), [tab] "r"(pairs), [end] "m"(end), [odd] "m"(odd_groups)
            : "cc", "memory");
        j = 2 * groups;
    }
    if (rows == 4 && j < nbytes) { /* nbytes odd: its last byte (no loop) */
        a0 = dot_lanes(pair_word(pairs, b[j]), xp[j], a0);
        a1 = dot_lanes(pair_word(pairs, b[rs + j]), xp[j], a1);
        a2 = dot_lanes(pair_word(pairs, b[2 * rs + j]), xp[j], a2);
        a3 = dot_lanes(pair_word(pairs, b[3 * rs + j]), xp[j], a3);
        j = nbytes;
    }
#endif
    for (; j < nbytes; ++j) {
        a0 = dot_lanes(pair_word(pairs, b[j]), xp[j], a0);
        if (rows == 4) {
            a1 = dot_lanes(pair_word(pairs, b[rs + j]), xp[j], a1);
            a2 = dot_lanes(pair_word(pairs, b[2 * rs + j]), xp[j], a2);
            a3 = dot_lanes(pair_word(pairs, b[3 * rs + j]), xp[j], a3);
        }
    }
    out[0] = a0;
    if (rows == 4) {
        out[step] = a1;
        out[2 * step] = a2;
        out[3 * step] = a3;
    }
}

/* The accumulators of TFLM FULLY_CONNECTED with PoT weights by the pair table: rows in passes of four
 * whose weights start at elements of the same parity (consecutive rows for an even n_in, every other
 * row for an odd one; pot_rows on whole weight bytes), then the leftover rows one by one. The input is
 * paired once (pair_input): xp for the rows that start at an even element, xq (where there are any)
 * for those that start at an odd one. */
FC_BODY void fc_pot_acc(const int8_t *x, const uint8_t *w, int32_t start, const int16_t *pairs,
                        const int32_t *bias, int n_in, int n_out, int32_t off, uint32_t *xp, int32_t *acc)
{
    uint32_t *const xq = xp + (n_in + 1) / 2;
    const uint32_t offset2 = lanes(off, off);
    pair_input(x, off, offset2, n_in, 0, xp);
    if ((n_in | start) & 1) {
        pair_input(x, off, offset2, n_in, 1, xq);
    }
    const int step = (n_in & 1) ? 2 : 1; /* rows of one pass: their element indices differ by step * n_in (even) */
    const int32_t rs = step * n_in / 2;  /* bytes between them */
    const int o_end = n_out - n_out % (4 * step); /* the rows of the passes of four */
    for (int s = 0; s < step; ++s) {      /* the rows o = s mod step: all start at elements of one parity */
        const uint32_t index = (uint32_t)start + (uint32_t)s * (uint32_t)n_in;
        const int odd = (int)(index & 1u);
        const uint8_t *b = w + (index >> 1);
        const int nbytes = (n_in + odd + 1) / 2;
        for (int o = s; o < o_end; o += 4 * step, b += 4 * rs) {
            pot_rows(b, rs, odd ? xq : xp, nbytes, pairs, 4, bias ? bias + o : NULL, step, acc + o);
        }
    }
    for (int o = o_end; o < n_out; ++o) {
        const uint32_t index = (uint32_t)start + (uint32_t)o * (uint32_t)n_in;
        const int odd = (int)(index & 1u);
        pot_rows(w + (index >> 1), 0, odd ? xq : xp, (n_in + odd + 1) / 2, pairs, 1, bias ? bias + o : NULL, 1,
                 acc + o);
    }
}
#endif

/* The PoT FC's paired input (pair table): two arrays of (n_in + 2) / 2 words, about 4 bytes per
 * input, on the entry point's stack. */
#if !defined(FRNN_POT_SHIFT_ONLY)
#define FC_PAIR_BUFFER(xp, n_in) uint32_t xp[2 * (((n_in) + 2) / 2)]
#else
#define FC_PAIR_BUFFER(xp, n_in) uint32_t *const xp = NULL
#endif

void frnn_fc_pot_s8(const int8_t *x, const uint8_t *w, int32_t start, const int16_t *pair_table,
                    const int32_t *bias, int n_in, int n_out, const frnn_fc_params *p, int8_t *y)
{
    FC_PAIR_BUFFER(xp, n_in);
    FC_ACC_BUFFER(acc, n_out);
    fc_pot_acc(x, w, start, pair_table, bias, n_in, n_out, p->input_offset, xp, acc);
    requantize_dispatch(acc, n_out, p, y, OUT_S8, p->act_min == INT8_MIN && p->act_max == INT8_MAX);
}

void frnn_fc_pot_s16(const int8_t *x, const uint8_t *w, int32_t start, const int16_t *pair_table,
                     const int32_t *bias, int n_in, int n_out, const frnn_fc_params *p, int16_t *y)
{
    FC_PAIR_BUFFER(xp, n_in);
    FC_ACC_BUFFER(acc, n_out);
    fc_pot_acc(x, w, start, pair_table, bias, n_in, n_out, p->input_offset, xp, acc);
    requantize_dispatch(acc, n_out, p, y, OUT_S16, p->act_min == INT16_MIN && p->act_max == INT16_MAX);
}

void frnn_add_s8(const int8_t *a, const int8_t *b, int n, const frnn_add_params *p, int8_t *y)
{
    for (int i = 0; i < n; ++i) {
        const int32_t in1 = (int32_t)((uint32_t)(p->input1_offset + a[i]) << p->left_shift);
        const int32_t in2 = (int32_t)((uint32_t)(p->input2_offset + b[i]) << p->left_shift);
        const int32_t s1 = frnn_mbqm(in1, p->input1_multiplier, (int)p->input1_shift);
        const int32_t s2 = frnn_mbqm(in2, p->input2_multiplier, (int)p->input2_shift);
        const int32_t out = frnn_mbqm(s1 + s2, p->output_multiplier, (int)p->output_shift) + p->output_offset;
        y[i] = (int8_t)frnn_clamp(out, p->act_min, p->act_max);
    }
}

/* gemmlowp fixed point, scalar int32 raws (fixedrnn/gemmlowp.py): a Q(k) raw r means r / 2^(31 - k);
 * sums and differences wrap as int32 (they never wrap on these paths); products by srdhm. gemmlowp's
 * tanh and logistic are on no cell step (the RNN looks its int8 TANH up in fr_tanh_table), so their
 * many SRDHMs call one out-of-line copy: inlining them would only cost code size. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int32_t srdhm(int32_t a, int32_t b)
{
    return frnn_srdhm(a, b);
}

static int32_t wrap_add(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static int32_t wrap_sub(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

/* gemmlowp SaturatingRoundingMultiplyByPOT<exponent>, exponent in [1, 31]: x * 2^exponent,
 * saturated to [-INT32_MAX, INT32_MAX] (INT32_MIN below). */
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

/* exp(a) for a in [-1/4, 0), Q0.31 in and out (Taylor expansion around -1/8). */
static int32_t exp_quarter_interval(int32_t a)
{
    const int32_t x = wrap_add(a, 1 << 28);
    const int32_t x2 = srdhm(x, x);
    const int32_t x3 = srdhm(x2, x);
    const int32_t x4 = srdhm(x2, x2);
    const int32_t x4_over_4 = frnn_rdbypot(x4, 2);
    const int32_t poly = frnn_rdbypot(wrap_add(srdhm(wrap_add(x4_over_4, x3), ONE_THIRD), x2), 1);
    return wrap_add(EXP_MINUS_ONE_EIGHTH, srdhm(EXP_MINUS_ONE_EIGHTH, wrap_add(x, poly)));
}

/* gemmlowp exp_on_negative_values: exp(a) for a <= 0 in Q(integer_bits), integer_bits in [1, 5]
 * (gemmlowp's clamp to 0 below -32 is for integer_bits > 5), result Q0.31. multipliers: exp(-2^e) in
 * Q0.31 for e = -2 .. integer_bits - 1 (the first integer_bits + 2 of fr_tanh_exp_multipliers). */
static int32_t exp_on_negative_values(int32_t a, int integer_bits, const int32_t *multipliers)
{
    const int quarter_bit = 29 - integer_bits; /* 1/4 = 2^(fractional bits - 2) */
    const int32_t quarter = (int32_t)1 << quarter_bit;
    const int32_t a_mod_quarter_minus_quarter = wrap_sub(a & (quarter - 1), quarter);
    int32_t result = exp_quarter_interval(sat_shift_left(a_mod_quarter_minus_quarter, integer_bits));
    const int32_t remainder = wrap_sub(a_mod_quarter_minus_quarter, a);
    for (int k = 0; k < integer_bits + 2; ++k) { /* exp(-2^(k - 2)): bit quarter_bit + k of the remainder */
        if (remainder & (int32_t)(1u << (quarter_bit + k))) {
            result = srdhm(result, multipliers[k]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* 2 / (1 + a) for a in [0, 1] Q0.31, as a Q2.29 raw: 1 / d for d = (1 + a) / 2 by gemmlowp's
 * Newton-Raphson from 48/17 - 32/17 d, three steps x += x (1 - d x). */
static int32_t two_over_one_plus_x(int32_t a)
{
    const int32_t half_denominator = rounding_half_sum(a, INT32_MAX);
    int32_t x = wrap_add(FORTY_EIGHT_OVER_SEVENTEEN, srdhm(half_denominator, MINUS_THIRTY_TWO_OVER_SEVENTEEN));
    for (int i = 0; i < 3; ++i) {
        const int32_t one_minus_dx = wrap_sub(1 << 29, srdhm(half_denominator, x));
        x = wrap_add(x, sat_shift_left(srdhm(x, one_minus_dx), 2));
    }
    return x;
}

int32_t frnn_tanh_q4(int32_t a, const int32_t *exp_multipliers)
{
    if (a == 0) {
        return 0;
    }
    const int negative = a < 0;
    const int32_t n = negative ? a : -a;
    /* n in Q4.27 read as Q5.26 is 2n: exp(-2|a|); then (1 - e) / (1 + e) = 2 / (1 + e) - 1 (Q2.29 -> Q0.31). */
    const int32_t e = exp_on_negative_values(n, 5, exp_multipliers);
    const int32_t t = sat_shift_left(wrap_sub(two_over_one_plus_x(e), 1 << 29), 2);
    return negative ? -t : t;
}

int32_t frnn_logistic_q4(int32_t a, const int32_t *exp_multipliers)
{
    if (a == 0) {
        return 1 << 30;
    }
    /* 1 / (1 + exp(-|a|)) = (2 / (1 + e)) / 2 (Q2.29 -> Q0.31); for a < 0, 1 minus it. */
    const int32_t e = exp_on_negative_values(a > 0 ? -a : a, 4, exp_multipliers);
    const int32_t positive = sat_shift_left(two_over_one_plus_x(e), 1);
    return a > 0 ? positive : wrap_sub(INT32_MAX, positive);
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

/* TFLM MulElementwise: the product of the offset inputs requantized (requant_apply), clamped (one SSAT
 * where [act_min, act_max] is the output type's whole range: compiled once per case where speed is
 * asked for). */
FRNN_INLINE void mul_s16(const int16_t *a, const int16_t *b, int n, const frnn_mul_params *p, void *y, int out_kind,
                         int full_range)
{
    const requant r = requant_of(p->multiplier, p->shift);
    const int32_t o1 = p->input1_offset, o2 = p->input2_offset, out_off = p->output_offset;
    const int32_t lo = p->act_min, hi = p->act_max;
    for (int i = 0; i < n; ++i) {
        const int32_t prod = (o1 + a[i]) * (o2 + b[i]);
        store(y, out_kind, i, clamp_out(requant_apply(prod, &r, out_off), lo, hi, out_kind, full_range));
    }
}

FRNN_INLINE void mul_s16_dispatch(const int16_t *a, const int16_t *b, int n, const frnn_mul_params *p, void *y,
                                  int out_kind, int full_range)
{
    if (FRNN_FC_SPECIALISED && full_range) {
        mul_s16(a, b, n, p, y, out_kind, 1);
    } else {
        mul_s16(a, b, n, p, y, out_kind, full_range);
    }
}

void frnn_mul_s16_s16(const int16_t *a, const int16_t *b, int n, const frnn_mul_params *p, int16_t *y)
{
    mul_s16_dispatch(a, b, n, p, y, OUT_S16, p->act_min == INT16_MIN && p->act_max == INT16_MAX);
}

void frnn_mul_s16_s8(const int16_t *a, const int16_t *b, int n, const frnn_mul_params *p, int8_t *y)
{
    mul_s16_dispatch(a, b, n, p, y, OUT_S8, p->act_min == INT8_MIN && p->act_max == INT8_MAX);
}

void frnn_add_s16_sat(const int16_t *a, const int16_t *b, int n, int16_t *y)
{
    for (int i = 0; i < n; ++i) {
        y[i] = (int16_t)saturate_s16((int32_t)a[i] + (int32_t)b[i]);
    }
}

