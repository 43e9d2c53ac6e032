/* Packed weights of fixedrnn's k-bit and minifloat weight forms (fixedrnn/weight_forms.py), C99: the
 * TFLM FULLY_CONNECTED of frnn_kernels.h computed on weights stored as 2- or 4-bit codes. Bit-exact
 * with the engine (the weights are the same int8 values; every sum is exact in int32, as the overflow
 * audit proves for the exported model).
 *
 * Storage (fixedrnn.quant.pack_codes): element i of the row-major [n_out][n_in] matrix (counted from
 * the array's first element, so a matrix may start at any element `start`, e.g. an LSTM gate) is the
 * code at bits code_bits * (i mod 8/code_bits) of byte i / (8/code_bits), low bits first.
 * Codes: k-bit (minifloat = 0): the weight's two's complement in code_bits bits (k = 2 in 2 bits,
 * k = 3 and 4 in 4). Minifloat (minifloat = 1, e exponent bits, m mantissa bits): sign at bit e + m,
 * octave E = bits m .. m+e-1, mantissa M = bits 0 .. m-1; |w| = (2^m + M) << (7 - m - E) for E >= 1,
 * M << (8 - m - 2^e) for E = 0 (power-of-two weights are e = 3, m = 0).
 *
 * Methods (frnn_packed.c), each a row read a word (32 bits of codes) at a time from the byte its first
 * weight is in (a row starting inside a byte, "phase" p > 0, meets p zero inputs first):
 * - lane method, k-bit and minifloat e = 1 (whose weights are +-q << (6 - m), q the magnitude code,
 *   turned into q's two's complement per slot by a few word-wide ops): each code moved to the top b
 *   bits of an int16 lane by one shift and mask (AND with shifted register), two codes a word, so the
 *   lane holds code * 2^(16 - b), and SMLAD with the inputs laid out once per call in matching pairs;
 *   the sum of a chunk of at most 256 codes is exact in int32 and shifted down by 16 - b.
 * - table method, minifloat e >= 2: each code's level from a 16-entry table worked out per call by
 *   frnn_packed_decode (on the stack: no flash), two levels packed into lanes, SMLAD with the paired
 *   inputs.
 * Rows go in passes of two that share each input word.
 */
#ifndef FRNN_PACKED_H
#define FRNN_PACKED_H

#include <stdint.h>

#include "frnn_kernels.h"

typedef struct {
    int32_t code_bits;     /* 2 or 4 */
    int32_t minifloat;     /* 0: two's complement k-bit levels; 1: minifloat codes */
    int32_t exponent_bits; /* minifloat e (1..3) */
    int32_t mantissa_bits; /* minifloat m (0..6, 2^e - 1 + m <= 7) */
} frnn_packed_format;

/* The int8 weight of one code of format f (shifts and adds only): the rule of the table method. */
FRNN_INLINE int32_t frnn_packed_decode(uint32_t code, const frnn_packed_format *f)
{
    if (!f->minifloat) {
        const int up = 32 - (int)f->code_bits;
        return (int32_t)(code << up) >> up; /* sign extension of the code_bits-bit two's complement */
    }
    {
        const uint32_t e = (uint32_t)f->exponent_bits, m = (uint32_t)f->mantissa_bits;
        const uint32_t octave = (code >> m) & ((1u << e) - 1u);
        const uint32_t mantissa = code & ((1u << m) - 1u);
        const int32_t magnitude = octave ? (int32_t)(((1u << m) + mantissa) << (7u - m - octave))
                                         : (int32_t)(mantissa << (8u - m - (1u << e)));
        return (code >> (e + m)) & 1u ? -magnitude : magnitude;
    }
}

/* TFLM FULLY_CONNECTED, int8 in, int8 / int16 out, optional bias (NULL = none), on the packed
 * [n_out][n_in] matrix from element start of w (frnn_kernels.h's frnn_fc_s8_s8 / _s16 otherwise).
 * Stack: about 6 * n_in + 4 * n_out bytes (2-bit codes: 10 * n_in) and 64 for the table method's
 * levels. */
void frnn_fc_packed_s8(const int8_t *x, const uint8_t *w, int32_t start, const frnn_packed_format *f,
                       const int32_t *bias, int n_in, int n_out, const frnn_fc_params *p, int8_t *y);
void frnn_fc_packed_s16(const int8_t *x, const uint8_t *w, int32_t start, const frnn_packed_format *f,
                        const int32_t *bias, int n_in, int n_out, const frnn_fc_params *p, int16_t *y);

#endif
