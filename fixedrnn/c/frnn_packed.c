/* FULLY_CONNECTED on packed k-bit and minifloat weights (frnn_packed.h for the storage and the
 * methods). Assumes two's complement int32 and arithmetic right shifts, as frnn_kernels.c does.
 */
#include "frnn_packed.h"

#include <string.h>

#if defined(__ARM_FEATURE_DSP) && !defined(FRNN_NO_DSP)
#include <arm_acle.h>
#define PACKED_DSP 1
#else
#define PACKED_DSP 0
#endif

/* How a format's codes become weights: LANE_TWOS (k-bit: the code is the weight's two's complement),
 * LANE_SIGN_MAGNITUDE (minifloat e = 1: sign and magnitude q, weight = +-q << (6 - m)), both on the
 * lane method; TABLE (minifloat e >= 2: a 16-entry level table). */
enum { LANE_TWOS, LANE_SIGN_MAGNITUDE, TABLE };

/* Full unrolling of the short loops over a word's lanes (GCC, Clang), so that each shift is an
 * immediate of the AND. */
#if defined(__GNUC__)
#define UNROLL _Pragma("GCC unroll 16")
#else
#define UNROLL
#endif

/* IN_REGISTER(v): the compiler must hold v in a register from here (an empty assembler statement it
 * cannot see through), so that it uses v as a register operand rather than rebuilding its value. */
#if defined(__GNUC__) && defined(__arm__)
#define IN_REGISTER(v) __asm__("" : "+r"(v))
#else
#define IN_REGISTER(v) (void)0
#endif

/* Slots (codes) a lane-method chunk sums before it is shifted down: |code| <= 2^(b-1) and
 * |x + offset| <= 255, so a chunk's sum of code * (x + offset) * 2^(16-b) stays within +-2^31. */
#define CHUNK_SLOTS 256

/* A pair of int16 lanes (lo, hi) as SMLAD reads it. */
FRNN_INLINE uint32_t lanes(int32_t lo, int32_t hi)
{
    return ((uint32_t)lo & 0xffffu) | ((uint32_t)hi << 16);
}

/* acc + lo(w) * lo(x) + hi(w) * hi(x), the int16 lanes signed (SMLAD; two multiplies in portable C). */
FRNN_INLINE int32_t mac_lanes(uint32_t w, uint32_t x, int32_t acc)
{
#if PACKED_DSP
    return __smlad((int16x2_t)w, (int16x2_t)x, acc);
#else
    return acc + ((int32_t)(w << 16) >> 16) * ((int32_t)(x << 16) >> 16) + ((int32_t)w >> 16) * ((int32_t)x >> 16);
#endif
}

/* The little-endian word of 4 bytes at p (one LDR on ARMv7-M, any alignment). */
FRNN_INLINE uint32_t load_word(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v; /* little-endian targets only, as the packed storage's byte order */
}

/* The little-endian word of the n < 4 bytes at p (the higher bytes 0). */
FRNN_INLINE uint32_t load_tail(const uint8_t *p, int n)
{
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; --i) {
        v = v << 8 | p[i];
    }
    return v;
}

/* A word of codes of code_bits b in the lane method's form: each slot the b-bit two's complement of
 * its weight (in units of 2^(6-m) for LANE_SIGN_MAGNITUDE). Sign and magnitude (sign at bit s of the
 * slot): the magnitude q = code with the sign cleared; a negative slot becomes (q ^ (2^b - 1)) + 1 =
 * 2^b - q (q >= 1: a stored code is never a negative zero, so no carry leaves the slot). */
FRNN_INLINE uint32_t lane_codes(uint32_t w, int kind, int b, int s)
{
    if (kind != LANE_SIGN_MAGNITUDE) {
        return w;
    }
    const uint32_t sign = w & ((b == 4 ? 0x11111111u : 0x55555555u) << s);
    const uint32_t ones = sign >> s;
    return ((w ^ sign) ^ ((ones << b) - ones)) + ones;
}

/* The lane method for code_bits b (4 or 2), h = 16 / b slots per int16 lane. Slot j of a word (bits
 * b*j ..) moves to the top of its lane by a left shift of b * (h - 1 - (j mod h)) and the mask of the
 * lanes' top b bits: lane values code * 2^(16-b), two per word, SMLAD with the inputs of slots
 * (h - 1 - k, 2h - 1 - k) for shift b*k. lane_input lays the inputs out in that order. */
FRNN_INLINE uint32_t top_mask(int b)
{
    uint32_t mask = b == 4 ? 0xf000f000u : 0xc000c000u;
    IN_REGISTER(mask); /* so that each shift-and-mask is one AND (shifted register) */
    return mask;
}

/* acc[r] += sum of the weights of rows r < rows (the first at w, the second rs bytes on) times the
 * lane input xe over `words` whole words (words * 32 / b <= CHUNK_SLOTS), then the chunk shifted down
 * by 16 - b (exact: a multiple of 2^(16-b)). */
FRNN_INLINE void lane_chunk(const uint8_t *w, int32_t rs, const uint32_t *xe, int words, int kind, int b, int s,
                            int rows, int32_t *acc)
{
    const int h = 16 / b;
    const uint32_t mask = top_mask(b);
    int32_t a0 = 0, a1 = 0;
    for (const uint8_t *end = w + 4 * words; w < end; w += 4, xe += h) {
        const uint32_t c0 = lane_codes(load_word(w), kind, b, s);
        const uint32_t c1 = rows == 2 ? lane_codes(load_word(w + rs), kind, b, s) : 0u;
        UNROLL for (int k = 0; k < h; ++k) {
            const uint32_t x = xe[k];
            a0 = mac_lanes((c0 << (b * k)) & mask, x, a0);
            if (rows == 2) {
                a1 = mac_lanes((c1 << (b * k)) & mask, x, a1);
            }
        }
    }
    acc[0] += a0 >> (16 - b);
    if (rows == 2) {
        acc[1] += a1 >> (16 - b);
    }
}

/* The same for one partial word: the `bytes` < 4 bytes at w (and at w + rs). */
FRNN_INLINE void lane_tail(const uint8_t *w, int32_t rs, const uint32_t *xe, int bytes, int kind, int b, int s,
                           int rows, int32_t *acc)
{
    const int h = 16 / b;
    const uint32_t mask = top_mask(b);
    const uint32_t c0 = lane_codes(load_tail(w, bytes), kind, b, s);
    const uint32_t c1 = rows == 2 ? lane_codes(load_tail(w + rs, bytes), kind, b, s) : 0u;
    int32_t a0 = 0, a1 = 0;
    UNROLL for (int k = 0; k < h; ++k) {
        a0 = mac_lanes((c0 << (b * k)) & mask, xe[k], a0);
        a1 = mac_lanes((c1 << (b * k)) & mask, xe[k], a1);
    }
    acc[0] += a0 >> (16 - b);
    if (rows == 2) {
        acc[1] += a1 >> (16 - b);
    }
}

/* Rows of `slots` slots (the row's weights after `phase` slots of the previous row, all meeting zero
 * inputs) from byte w (and w + rs): the lane method, chunk by chunk, then the partial last word. */
FRNN_INLINE void lane_rows(const uint8_t *w, int32_t rs, const uint32_t *xe, int slots, int kind, int b, int s,
                           int rows, int32_t *acc)
{
    const int per_word = 32 / b, h = 16 / b;
    const int chunk_words = CHUNK_SLOTS / per_word;
    int words = slots / per_word;
    while (words > 0) {
        const int n = words < chunk_words ? words : chunk_words;
        lane_chunk(w, rs, xe, n, kind, b, s, rows, acc);
        w += 4 * n;
        xe += h * n;
        words -= n;
    }
    const int rest = slots % per_word;
    if (rest > 0) {
        lane_tail(w, rs, xe, (rest * b + 7) / 8, kind, b, s, rows, acc);
    }
}

/* Rows of the table method (b = 4): per weight byte its two levels from the table (level & 0xffff,
 * int32[16]) as a lane pair, SMLAD with the paired input xp (the inputs of the byte's two slots). */
FRNN_INLINE int32_t table_pair(const uint32_t *table, uint32_t byte)
{
    return (int32_t)(table[byte & 15u] | table[byte >> 4] << 16);
}

FRNN_INLINE void table_rows(const uint8_t *w, int32_t rs, const uint32_t *xp, int slots, const uint32_t *table,
                            int rows, int32_t *acc)
{
    const int bytes = (slots + 1) / 2;
    IN_REGISTER(table); /* one LDR [table, code, LSL #2] a level */
    int32_t a0 = acc[0], a1 = rows == 2 ? acc[1] : 0;
    int j = 0;
    for (; j + 4 <= bytes; j += 4, xp += 4) {
        const uint32_t v0 = load_word(w + j);
        const uint32_t v1 = rows == 2 ? load_word(w + rs + j) : 0u;
        UNROLL for (int k = 0; k < 4; ++k) {
            const uint32_t x = xp[k];
            a0 = mac_lanes((uint32_t)table_pair(table, (v0 >> (8 * k)) & 0xffu), x, a0);
            if (rows == 2) {
                a1 = mac_lanes((uint32_t)table_pair(table, (v1 >> (8 * k)) & 0xffu), x, a1);
            }
        }
    }
    for (; j < bytes; ++j, ++xp) {
        a0 = mac_lanes((uint32_t)table_pair(table, w[j]), *xp, a0);
        if (rows == 2) {
            a1 = mac_lanes((uint32_t)table_pair(table, w[rs + j]), *xp, a1);
        }
    }
    acc[0] = a0;
    if (rows == 2) {
        acc[1] = a1;
    }
}

/* The inputs plus their offset as int16, with `lead` zeros before and zeros after: xz[lead + d] =
 * x[d] + offset (in [-255, 255]), d < n, xz[i] = 0 elsewhere, i < total. */
static void offset_input(const int8_t *x, int n, int32_t offset, int lead, int total, int16_t *xz)
{
    for (int i = 0; i < total; ++i) {
        xz[i] = 0;
    }
    for (int d = 0; d < n; ++d) {
        xz[lead + d] = (int16_t)((int32_t)x[d] + offset);
    }
}

/* Geometry of a packed FC call: b code bits, spb = 8 / b slots a byte; row o starts at slot
 * phase(o) = (start + o * n_in) mod spb of byte (start + o * n_in) / spb and spans phase + n_in slots.
 * Rows o and o + step have the same phase (step = spb / gcd(n_in, spb)), rs bytes apart: a pass
 * takes two of them. words: whole words of the lane input a phase needs (a multiple of 32 / b slots,
 * at least spb - 1 + n_in). */
typedef struct {
    int b, spb, step, words;
    int32_t rs;
} packed_geometry;

FRNN_INLINE packed_geometry geometry_of(int b, int n_in)
{
    packed_geometry g;
    g.b = b;
    g.spb = 8 / b;
    g.step = 1;
    while ((g.step * n_in) % g.spb != 0) {
        g.step *= 2;
    }
    g.rs = (int32_t)(g.step * n_in / g.spb);
    g.words = (g.spb - 1 + n_in + 32 / b - 1) / (32 / b);
    return g;
}

/* The lane input of a phase: xe[g*h + k] = (v[g*2h + h-1-k], v[g*2h + 2h-1-k]) (h = 16 / b) over
 * v = the offset inputs after `phase` zeros (v[i] = xz[spb - 1 - phase + i]). */
static void lane_input(const int16_t *xz, const packed_geometry *g, int phase, uint32_t *xe)
{
    const int h = 16 / g->b;
    const int16_t *v = xz + g->spb - 1 - phase;
    for (int w = 0; w < g->words; ++w, v += 2 * h) {
        for (int k = 0; k < h; ++k) {
            *xe++ = lanes(v[h - 1 - k], v[2 * h - 1 - k]);
        }
    }
}

/* The paired input of the table method's phase: xp[j] = (v[2j], v[2j+1]), v as lane_input's. */
static void pair_input(const int16_t *xz, const packed_geometry *g, int phase, uint32_t *xp)
{
    const int16_t *v = xz + 1 - phase;
    for (int j = 0; j < 4 * g->words; ++j) {
        xp[j] = lanes(v[2 * j], v[2 * j + 1]);
    }
}

/* Row o's accumulator from its method's sum: LANE_SIGN_MAGNITUDE's in units of 2^(6-m), plus the bias. */
FRNN_INLINE int32_t row_total(int32_t sum, int kind, const frnn_packed_format *f, const int32_t *bias, int o)
{
    const int32_t weighted = kind == LANE_SIGN_MAGNITUDE ? (int32_t)((uint32_t)sum << (6 - f->mantissa_bits)) : sum;
    return weighted + (bias ? bias[o] : 0);
}

/* The accumulators acc[o] = bias[o] (0 without) + sum_d weight(o, d) * (x[d] + offset) of every row,
 * for one method (kind, code bits b; s: the sign bit of LANE_SIGN_MAGNITUDE): per phase class the
 * input laid out once (xin: spb phases of words * 16 / b words), then the rows in passes of two, a last
 * row alone. */
FRNN_INLINE void packed_acc(const int8_t *x, const uint8_t *w, int32_t start, const frnn_packed_format *f, int kind,
                            int b, int s, const int32_t *bias, int n_in, int n_out, int32_t off, int16_t *xz,
                            uint32_t *xin, int32_t *acc)
{
    const packed_geometry g = geometry_of(b, n_in);
    const int per_phase = g.words * (16 / b);
    uint32_t table[16];
    if (kind == TABLE) {
        for (uint32_t c = 0; c < 16u; ++c) {
            table[c] = (uint32_t)frnn_packed_decode(c, f) & 0xffffu;
        }
    }
    offset_input(x, n_in, off, g.spb - 1, g.spb - 1 + g.words * (32 / b), xz);
    for (int c = 0; c < g.step && c < n_out; ++c) {
        const uint32_t first = (uint32_t)start + (uint32_t)c * (uint32_t)n_in;
        const int phase = (int)(first % (uint32_t)g.spb);
        uint32_t *const xe = xin + phase * per_phase;
        if (kind == TABLE) {
            pair_input(xz, &g, phase, xe);
        } else {
            lane_input(xz, &g, phase, xe);
        }
        const uint8_t *row = w + first / (uint32_t)g.spb;
        int o = c;
        for (; o + g.step < n_out; o += 2 * g.step, row += 2 * g.rs) {
            int32_t sum[2] = {0, 0};
            if (kind == TABLE) {
                table_rows(row, g.rs, xe, phase + n_in, table, 2, sum);
            } else {
                lane_rows(row, g.rs, xe, phase + n_in, kind, b, s, 2, sum);
            }
            acc[o] = row_total(sum[0], kind, f, bias, o);
            acc[o + g.step] = row_total(sum[1], kind, f, bias, o + g.step);
        }
        if (o < n_out) {
            int32_t sum[1] = {0};
            if (kind == TABLE) {
                table_rows(row, 0, xe, phase + n_in, table, 1, sum);
            } else {
                lane_rows(row, 0, xe, phase + n_in, kind, b, s, 1, sum);
            }
            acc[o] = row_total(sum[0], kind, f, bias, o);
        }
    }
}

/* Buffers of the entry points (stack): the offset input, int16 [spb - 1 + words * 32 / b] <= n_in + 24;
 * the laid-out inputs, uint32 [spb * words * 16 / b] <= n_in + 8 (b = 4) or 2 * n_in + 40 (b = 2);
 * the accumulators, int32 [n_out]. The MAC passes run in a function of their own (no variable-length
 * array in its frame), as frnn_kernels.c's FC bodies. */
#if defined(__GNUC__)
#define PACKED_BODY static __attribute__((noinline))
#else
#define PACKED_BODY static
#endif

PACKED_BODY void fc_packed_acc(const int8_t *x, const uint8_t *w, int32_t start, const frnn_packed_format *f,
                               const int32_t *bias, int n_in, int n_out, int32_t off, int16_t *xz, uint32_t *xin,
                               int32_t *acc)
{
    if (!f->minifloat) {
        if (f->code_bits == 4) {
            packed_acc(x, w, start, f, LANE_TWOS, 4, 0, bias, n_in, n_out, off, xz, xin, acc);
        } else {
            packed_acc(x, w, start, f, LANE_TWOS, 2, 0, bias, n_in, n_out, off, xz, xin, acc);
        }
    } else if (f->exponent_bits == 1) { /* the sign at bit e + m = 1 + m */
        if (f->code_bits == 2) {
            packed_acc(x, w, start, f, LANE_SIGN_MAGNITUDE, 2, 1, bias, n_in, n_out, off, xz, xin, acc);
        } else if (f->mantissa_bits == 1) {
            packed_acc(x, w, start, f, LANE_SIGN_MAGNITUDE, 4, 2, bias, n_in, n_out, off, xz, xin, acc);
        } else {
            packed_acc(x, w, start, f, LANE_SIGN_MAGNITUDE, 4, 3, bias, n_in, n_out, off, xz, xin, acc);
        }
    } else {
        packed_acc(x, w, start, f, TABLE, 4, 0, bias, n_in, n_out, off, xz, xin, acc);
    }
}

#define PACKED_BUFFERS(n_in, n_out, b)                      \
    int16_t xz[(n_in) + 24];                                \
    uint32_t xin[(b) == 4 ? (n_in) + 8 : 2 * (n_in) + 40]; \
    int32_t acc[(n_out) + 1]

void frnn_fc_packed_s8(const int8_t *x, const uint8_t *w, int32_t start, const frnn_packed_format *f,
                       const int32_t *bias, int n_in, int n_out, const frnn_fc_params *p, int8_t *y)
{
    PACKED_BUFFERS(n_in, n_out, f->code_bits);
    fc_packed_acc(x, w, start, f, bias, n_in, n_out, p->input_offset, xz, xin, acc);
    frnn_requantize_s8(acc, n_out, p, y);
}

void frnn_fc_packed_s16(const int8_t *x, const uint8_t *w, int32_t start, const frnn_packed_format *f,
                        const int32_t *bias, int n_in, int n_out, const frnn_fc_params *p, int16_t *y)
{
    PACKED_BUFFERS(n_in, n_out, f->code_bits);
    fc_packed_acc(x, w, start, f, bias, n_in, n_out, p->input_offset, xz, xin, acc);
    frnn_requantize_s16(acc, n_out, p, y);
}
