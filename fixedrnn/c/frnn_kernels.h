/* Integer kernels of fixedrnn, C99: TensorFlow Lite Micro's integer FULLY_CONNECTED (int8 and
 * power-of-two (PoT) weights), ADD, TANH, LOGISTIC/TANH int16 (LUT) and MUL, gemmlowp's fixed-point
 * tanh and logistic, and a shift-only PoT dot product (-DFRNN_POT_SHIFT_ONLY: the PoT FC's rows). Bit-exact with fixedrnn's NumPy engine (and so with TFLM's reference kernels).
 *
 * Conventions: int8 activations with a zero point ("offset" arguments are minus the zero point, as in
 * TFLM), symmetric int8 weights [out][in] row-major, int32 biases, requantization by
 * frnn_mbqm(acc, multiplier, shift) = TFLite's MultiplyByQuantizedMultiplier (double rounding:
 * to nearest with ties toward +infinity at 2^31 (frnn_srdhm), then to nearest with ties away from
 * zero at 2^-shift (frnn_rdbypot)). The rounding rules are those of fixedrnn/fixedpoint.py (and the
 * README's rounding table), tested there against exact arithmetic. Built for a Cortex-M4 with the DSP
 * extension (__ARM_FEATURE_DSP), the FC inner loop uses SMLAD and saturation uses SSAT (ACLE
 * intrinsics); define FRNN_NO_DSP (or build elsewhere) for the portable C path. Both give identical
 * results: every sum is exact in int32.
 */
#ifndef FRNN_KERNELS_H
#define FRNN_KERNELS_H

#include <stdint.h>

/* Inline on every build (FRNN_INLINE: always_inline with GCC/Clang, so -Os inlines them too). */
#if defined(__GNUC__)
#define FRNN_INLINE static inline __attribute__((always_inline))
#else
#define FRNN_INLINE static inline
#endif

/* floor(a*b / 2^31 + 1/2) for every int32 pair except a == b == INT32_MIN (whose 2^31 wraps to
 * INT32_MIN): one 32x32->64 multiply-accumulate from 2^30 (SMLAL) and a 31-bit arithmetic shift of
 * the int64 sum. gemmlowp's nudge-and-truncate form gives the same integers (a test checks every
 * edge pair and random pairs against fixedrnn.fixedpoint on each build); the requantizers use it
 * with multipliers >= 0 (the model format's range), where the exception cannot occur. */
FRNN_INLINE int32_t frnn_srdhm_unsaturated(int32_t a, int32_t b)
{
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

/* gemmlowp SaturatingRoundingDoublingHighMul: floor(a*b / 2^31 + 1/2), i.e. to nearest with ties
 * toward +infinity (-0.5 -> 0, 0.5 -> 1); the one overflow case a == b == INT32_MIN gives INT32_MAX.
 * No other pair gives INT32_MIN (the least product, INT32_MIN * INT32_MAX, rounds to -2^31 + 1), so a
 * wrapped INT32_MIN marks the overflow. */
FRNN_INLINE int32_t frnn_srdhm(int32_t a, int32_t b)
{
    const int32_t r = frnn_srdhm_unsaturated(a, b);
    return r == INT32_MIN ? INT32_MAX : r;
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent to nearest, ties away from zero; exponent in [0, 31]:
 * floor(x / 2^e) plus one where the remainder exceeds half (half minus one for x < 0). */
FRNN_INLINE int32_t frnn_rdbypot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)((1u << exponent) - 1u);
    const int32_t threshold = (mask >> 1) - (x >> 31); /* x >> 31: -1 for x < 0, else 0 */
    return (x >> exponent) + ((x & mask) > threshold ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier: x * multiplier * 2^(shift-31); shift in [-31, 31],
 * multiplier >= 0 (0 or in [2^30, 2^31), as TFLite's QuantizeMultiplier and the model format give
 * it). */
FRNN_INLINE int32_t frnn_mbqm(int32_t x, int32_t multiplier, int shift)
{
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    return frnn_rdbypot(frnn_srdhm_unsaturated((int32_t)((uint32_t)x << left), multiplier), right);
}

/* Clamp to [lo, hi]. */
FRNN_INLINE int32_t frnn_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* Requantization of one output channel: per-tensor (one multiplier/shift) or per-channel arrays. */
typedef struct {
    int32_t input_offset;   /* -input zero point */
    int32_t output_offset;  /* output zero point */
    int32_t act_min, act_max;
    const int32_t *multiplier; /* [n_out] or [1] */
    const int32_t *shift;      /* [n_out] or [1] */
    int per_channel;           /* 1: multiplier[i], shift[i]; 0: multiplier[0], shift[0] */
} frnn_fc_params;

/* int32 accumulator sum_d w[d] * (x[d] + input_offset), int8 weights. */
int32_t frnn_dot_s8(const int8_t *w, const int8_t *x, int n, int32_t input_offset);
/* Power-of-two (PoT) weights, 0 or +-2^e (e in 0..6), two per byte: byte i of the weight array holds
 * elements 2i and 2i+1 as an index j into pair_table (int16[226], fr_pot_pair_table of
 * fixedrnn.pot_pairs): element 2i's weight is pair_table[j], element 2i+1's pair_table[j + 1], so
 * the little-endian word at pair_table + j is the two weights as int16 lanes (one load, one SMLAD).
 * frnn_dot_pot: the same sum over elements start .. start + n - 1 of the array, shift-only: no
 * multiply instruction (for cores without a fast multiplier). */
int32_t frnn_dot_pot(const uint8_t *w, int32_t start, const int16_t *pair_table, const int8_t *x, int n,
                     int32_t input_offset);

/* TFLM FULLY_CONNECTED, int8 in, int8/int16 out, optional bias (NULL = none). w: [n_out][n_in].
 * Stack: the accumulators (4 bytes per output) and, with the DSP extension, the input extended to
 * int16 lanes once per call (2 bytes per input; PoT: paired, 4 bytes per input), as variable-length
 * arrays of the entry point. Requantization: frnn_mbqm's two roundings in one 64-bit sum for shift < 0
 * (frnn_kernels.c, requant), the same integers. */
void frnn_fc_s8_s8(const int8_t *x, const int8_t *w, const int32_t *bias, int n_in, int n_out,
                   const frnn_fc_params *p, int8_t *y);
void frnn_fc_s8_s16(const int8_t *x, const int8_t *w, const int32_t *bias, int n_in, int n_out,
                    const frnn_fc_params *p, int16_t *y);
/* The FC's requantization of accumulators computed elsewhere (the packed and sparse FCs,
 * frnn_packed.h, frnn_sparse.h): y[o] = clamp(output_offset + frnn_mbqm(acc[o], multiplier, shift),
 * act_min, act_max), o < n, as frnn_fc_s8_s8 / _s16 requantize theirs. */
void frnn_requantize_s8(const int32_t *acc, int n, const frnn_fc_params *p, int8_t *y);
void frnn_requantize_s16(const int32_t *acc, int n, const frnn_fc_params *p, int16_t *y);
/* Same with PoT weights (as frnn_dot_pot): the [n_out][n_in] matrix from element start of w. By
 * multiply-adds of the pair-table words (SMLAD with the DSP extension); built with
 * FRNN_POT_SHIFT_ONLY, each row by frnn_dot_pot (no multiply in the MAC). */
void frnn_fc_pot_s8(const int8_t *x, const uint8_t *w, int32_t start, const int16_t *pair_table,
                    const int32_t *bias, int n_in, int n_out, const frnn_fc_params *p, int8_t *y);
void frnn_fc_pot_s16(const int8_t *x, const uint8_t *w, int32_t start, const int16_t *pair_table,
                     const int32_t *bias, int n_in, int n_out, const frnn_fc_params *p, int16_t *y);

/* TFLM int8 ADD (AddFunc): offsets are -zero points, shifts <= 0 for the inputs. */
typedef struct {
    int32_t input1_offset, input2_offset, output_offset;
    int32_t left_shift;
    int32_t input1_multiplier, input1_shift, input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} frnn_add_params;
void frnn_add_s8(const int8_t *a, const int8_t *b, int n, const frnn_add_params *p, int8_t *y);

/* gemmlowp tanh: Q4.27 (FixedPoint<int32, 4>) in, Q0.31 out. exp_multipliers: exp(-2^k) in Q0.31
 * for k = -2..4 (gemmlowp's barrel-shifter constants, int32[7]). */
int32_t frnn_tanh_q4(int32_t x, const int32_t *exp_multipliers);
/* gemmlowp logistic: Q4.27 (FixedPoint<int32, 4>) in, Q0.31 out; exp_multipliers as frnn_tanh_q4's
 * (it reads the first six, k = -2..3). */
int32_t frnn_logistic_q4(int32_t x, const int32_t *exp_multipliers);
/* TFLM int8 TANH: zero point, range radius, multiplier and (left) shift as TFLM's Prepare gives. */
void frnn_tanh_s8(const int8_t *x, int n, int32_t input_zero_point, int32_t input_range_radius,
                  int32_t input_multiplier, int32_t input_shift, const int32_t *exp_multipliers, int8_t *y);

/* TFLM int16 LOGISTIC / TANH by the 256-entry uint16 sigmoid table with linear interpolation.
 * Input rescale (TFLM's names): v = (x * input_multiplier + 2^(s-1)) >> s with s = input_left_shift
 * (a rounding right shift, ties toward +infinity; none for s = 0); input_multiplier 0 means
 * "power of two": multiplier 3 << input_left_shift and s = 0. In place allowed. */
void frnn_sigmoid_s16(const int16_t *x, int n, int32_t input_multiplier, int32_t input_left_shift,
                      const uint16_t *table, int16_t *y);
void frnn_tanh_s16(const int16_t *x, int n, int32_t input_multiplier, int32_t input_left_shift,
                   const uint16_t *table, int16_t *y);

/* TFLM MulElementwise on int16 inputs (offsets added to the inputs), int16 or int8 out. */
typedef struct {
    int32_t input1_offset, input2_offset, output_offset;
    int32_t multiplier, shift;
    int32_t act_min, act_max;
} frnn_mul_params;
void frnn_mul_s16_s16(const int16_t *a, const int16_t *b, int n, const frnn_mul_params *p, int16_t *y);
void frnn_mul_s16_s8(const int16_t *a, const int16_t *b, int n, const frnn_mul_params *p, int8_t *y);
/* Saturating int16 element-wise sum (TFLM lstm AddElementWise). */
void frnn_add_s16_sat(const int16_t *a, const int16_t *b, int n, int16_t *y);

#endif
