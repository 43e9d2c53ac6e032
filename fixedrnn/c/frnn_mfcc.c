/* Fixed-point MFCC (CMSIS-DSP arm_mfcc_q15/q31 algorithm), C99. See frnn_mfcc.h for formats.
 *
 * Integer conventions (gcc and armcc on every target we build for): a signed right shift is
 * arithmetic (floor), a conversion to a narrower signed type keeps the low bits ("wrap"). Sums that
 * may overflow are done in unsigned arithmetic and converted back, so C has no undefined behaviour
 * where the reference wraps.
 */
#include "frnn_mfcc.h"

#if defined(__ARM_FEATURE_DSP) && !defined(FRNN_NO_DSP)
#include <arm_acle.h>
#define SAT16(x) ((int32_t)__ssat((int32_t)(x), 16))
#define SAT31(x) ((int32_t)__ssat((int32_t)(x), 31))
#else
#define SAT16(x) clamp32((int32_t)(x), -32768, 32767)
#define SAT31(x) clamp32((int32_t)(x), -1073741824, 1073741823)
#endif

#define MICRO_Q15 0x00000219
#define MICRO_Q31 0x08637BD0
#define MEL_SHIFT 10
#define LOG2_TO_LOG_Q26 0x02C5C860
#define LOG_Q31_INVLOG2EXP 0x58B90BFB

static inline int32_t clamp32(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

static inline int32_t sat32_of_64(int64_t x)
{
    return x < INT32_MIN ? INT32_MIN : (x > INT32_MAX ? INT32_MAX : (int32_t)x);
}

/* (int32)(a + b), (int32)(a - b) with wrap-around. */
static inline int32_t add32(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static inline int32_t sub32(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

/* (int32)(a * 2^k), wrapping (k < 32). */
static inline int32_t shl32(int32_t a, int k)
{
    return (int32_t)((uint32_t)a << k);
}

static inline int clz32(uint32_t x)
{
    return x == 0 ? 32 : __builtin_clz(x);
}

/* ---- q15 complex FFT ------------------------------------------------------------------------- */

/* (int16)((int32)(a*b + c*d) >> 16), the sum wrapping in 32 bits: one twiddle product. */
static inline int16_t twiddle_q15(int32_t a, int32_t b, int32_t c, int32_t d)
{
    return (int16_t)(add32(a * b, c * d) >> 16);
}

static void radix4_q15(q15_t *x, uint32_t length, const q15_t *coef, uint32_t modifier)
{
    uint32_t n2 = length >> 2, n1, ic = 0;
    for (uint32_t i0 = 0; i0 < n2; ++i0) {
        q15_t *p0 = x + 2 * i0, *p1 = p0 + 2 * n2, *p2 = p1 + 2 * n2, *p3 = p2 + 2 * n2;
        int32_t t0 = p0[0] >> 2, t1 = p0[1] >> 2, s0 = p2[0] >> 2, s1 = p2[1] >> 2;
        int32_t r0 = SAT16(t0 + s0), r1 = SAT16(t1 + s1), u0, u1;
        s0 = SAT16(t0 - s0);
        s1 = SAT16(t1 - s1);
        t0 = SAT16((p1[0] >> 2) + (p3[0] >> 2));
        t1 = SAT16((p1[1] >> 2) + (p3[1] >> 2));
        p0[0] = (int16_t)((r0 >> 1) + (t0 >> 1));
        p0[1] = (int16_t)((r1 >> 1) + (t1 >> 1));
        r0 = SAT16(r0 - t0);
        r1 = SAT16(r1 - t1);
        const int32_t co2 = coef[4 * ic], si2 = coef[4 * ic + 1];
        const int16_t out1 = twiddle_q15(co2, r0, si2, r1);
        const int16_t out2 = twiddle_q15(-si2, r0, co2, r1);
        t0 = p1[0] >> 2;
        t1 = p1[1] >> 2;
        p1[0] = out1;
        p1[1] = out2;
        u0 = p3[0] >> 2;
        u1 = p3[1] >> 2;
        t0 = SAT16(t0 - u0);
        t1 = SAT16(t1 - u1);
        r0 = SAT16(s0 - t1);
        r1 = SAT16(s1 + t0);
        s0 = SAT16(s0 + t1);
        s1 = SAT16(s1 - t0);
        const int32_t co1 = coef[2 * ic], si1 = coef[2 * ic + 1];
        p2[0] = twiddle_q15(si1, s1, co1, s0);
        p2[1] = twiddle_q15(-si1, s0, co1, s1);
        const int32_t co3 = coef[6 * ic], si3 = coef[6 * ic + 1];
        p3[0] = twiddle_q15(si3, r1, co3, r0);
        p3[1] = twiddle_q15(-si3, r0, co3, r1);
        ic += modifier;
    }
    modifier <<= 2;
    for (uint32_t k = length >> 2; k > 4; k >>= 2) {
        n1 = n2;
        n2 >>= 2;
        ic = 0;
        for (uint32_t j = 0; j < n2; ++j) {
            const int32_t co1 = coef[2 * ic], si1 = coef[2 * ic + 1];
            const int32_t co2 = coef[4 * ic], si2 = coef[4 * ic + 1];
            const int32_t co3 = coef[6 * ic], si3 = coef[6 * ic + 1];
            ic += modifier;
            for (uint32_t i0 = j; i0 < length; i0 += n1) {
                q15_t *p0 = x + 2 * i0, *p1 = p0 + 2 * n2, *p2 = p1 + 2 * n2, *p3 = p2 + 2 * n2;
                int32_t t0 = p0[0], t1 = p0[1], s0 = p2[0], s1 = p2[1];
                int32_t r0 = SAT16(t0 + s0), r1 = SAT16(t1 + s1), u0, u1;
                s0 = SAT16(t0 - s0);
                s1 = SAT16(t1 - s1);
                t0 = SAT16(p1[0] + p3[0]);
                t1 = SAT16(p1[1] + p3[1]);
                p0[0] = (int16_t)(((r0 >> 1) + (t0 >> 1)) >> 1);
                p0[1] = (int16_t)(((r1 >> 1) + (t1 >> 1)) >> 1);
                r0 = (int16_t)((r0 >> 1) - (t0 >> 1));
                r1 = (int16_t)((r1 >> 1) - (t1 >> 1));
                const int16_t out1 = twiddle_q15(co2, r0, si2, r1);
                const int16_t out2 = twiddle_q15(-si2, r0, co2, r1);
                t0 = p1[0];
                t1 = p1[1];
                p1[0] = out1;
                p1[1] = out2;
                u0 = p3[0];
                u1 = p3[1];
                t0 = SAT16(t0 - u0);
                t1 = SAT16(t1 - u1);
                r0 = (int16_t)((s0 >> 1) - (t1 >> 1));
                r1 = (int16_t)((s1 >> 1) + (t0 >> 1));
                s0 = (int16_t)((s0 >> 1) + (t1 >> 1));
                s1 = (int16_t)((s1 >> 1) - (t0 >> 1));
                p2[0] = twiddle_q15(co1, s0, si1, s1);
                p2[1] = twiddle_q15(-si1, s0, co1, s1);
                p3[0] = twiddle_q15(si3, r1, co3, r0);
                p3[1] = twiddle_q15(-si3, r0, co3, r1);
            }
        }
        modifier <<= 2;
    }
    n1 = n2;
    n2 >>= 2;
    for (uint32_t i0 = 0; i0 + n1 <= length; i0 += n1) {
        q15_t *p0 = x + 2 * i0, *p1 = p0 + 2 * n2, *p2 = p1 + 2 * n2, *p3 = p2 + 2 * n2;
        int32_t t0 = p0[0], t1 = p0[1], s0 = p2[0], s1 = p2[1];
        int32_t r0 = SAT16(t0 + s0), r1 = SAT16(t1 + s1);
        s0 = SAT16(t0 - s0);
        s1 = SAT16(t1 - s1);
        t0 = SAT16(p1[0] + p3[0]);
        t1 = SAT16(p1[1] + p3[1]);
        p0[0] = (int16_t)((r0 >> 1) + (t0 >> 1));
        p0[1] = (int16_t)((r1 >> 1) + (t1 >> 1));
        r0 = (int16_t)((r0 >> 1) - (t0 >> 1));
        r1 = (int16_t)((r1 >> 1) - (t1 >> 1));
        t0 = p1[0];
        t1 = p1[1];
        p1[0] = (int16_t)r0;
        p1[1] = (int16_t)r1;
        t0 = SAT16(t0 - p3[0]);
        t1 = SAT16(t1 - p3[1]);
        p2[0] = (int16_t)((s0 >> 1) + (t1 >> 1));
        p2[1] = (int16_t)((s1 >> 1) - (t0 >> 1));
        p3[0] = (int16_t)((s0 >> 1) - (t1 >> 1));
        p3[1] = (int16_t)((s1 >> 1) + (t0 >> 1));
    }
}

/* ---- q15 complex FFT as CMSIS-DSP built with ARM_MATH_DSP ---------------------------------------
 * The DSP extension's dual 16-bit instructions on (re, im), lane by lane (fixedrnn/frontend/cmsis_fft.py):
 * QADD16/QSUB16 = SAT16(a +/- b); SHADD16/SHSUB16 = (a +/- b) >> 1 of the exact sum (halving);
 * QASX/QSAX, SHASX/SHSAX the same with re -/+ b.im, im +/- b.re; a twiddle product is
 * (int16)(SMUAD >> 16) for re and the high half of SMUSDX for im. */

/* p = ((co*re + si*im) >> 16, (co*im - si*re) >> 16), each sum wrapping in 32 bits. */
static inline void twiddle_dsp(q15_t *p, int32_t co, int32_t si, int32_t re, int32_t im)
{
    p[0] = (int16_t)(add32(co * re, si * im) >> 16);
    p[1] = (int16_t)(sub32(co * im, si * re) >> 16);
}

static void radix4_q15_dsp(q15_t *x, uint32_t length, const q15_t *coef, uint32_t modifier)
{
    uint32_t n2 = length >> 2, n1, ic = 0;
    for (uint32_t i0 = 0; i0 < n2; ++i0) {
        q15_t *p0 = x + 2 * i0, *p1 = p0 + 2 * n2, *p2 = p1 + 2 * n2, *p3 = p2 + 2 * n2;
        const int32_t a0 = p0[0] >> 2, a1 = p0[1] >> 2, b0 = p1[0] >> 2, b1 = p1[1] >> 2;
        const int32_t c0 = p2[0] >> 2, c1 = p2[1] >> 2, d0 = p3[0] >> 2, d1 = p3[1] >> 2;
        int32_t r0 = SAT16(a0 + c0), r1 = SAT16(a1 + c1), s0 = SAT16(a0 - c0), s1 = SAT16(a1 - c1);
        int32_t t0 = SAT16(b0 + d0), t1 = SAT16(b1 + d1);
        p0[0] = (int16_t)((r0 + t0) >> 1);
        p0[1] = (int16_t)((r1 + t1) >> 1);
        twiddle_dsp(p1, coef[4 * ic], coef[4 * ic + 1], SAT16(r0 - t0), SAT16(r1 - t1));
        t0 = SAT16(b0 - d0);
        t1 = SAT16(b1 - d1);
        r0 = SAT16(s0 - t1);
        r1 = SAT16(s1 + t0);
        twiddle_dsp(p2, coef[2 * ic], coef[2 * ic + 1], SAT16(s0 + t1), SAT16(s1 - t0));
        twiddle_dsp(p3, coef[6 * ic], coef[6 * ic + 1], r0, r1);
        ic += modifier;
    }
    modifier <<= 2;
    for (uint32_t k = length >> 2; k > 4; k >>= 2) {
        n1 = n2;
        n2 >>= 2;
        ic = 0;
        for (uint32_t j = 0; j < n2; ++j) {
            const int32_t co1 = coef[2 * ic], si1 = coef[2 * ic + 1];
            const int32_t co2 = coef[4 * ic], si2 = coef[4 * ic + 1];
            const int32_t co3 = coef[6 * ic], si3 = coef[6 * ic + 1];
            ic += modifier;
            for (uint32_t i0 = j; i0 < length; i0 += n1) {
                q15_t *p0 = x + 2 * i0, *p1 = p0 + 2 * n2, *p2 = p1 + 2 * n2, *p3 = p2 + 2 * n2;
                const int32_t a0 = p0[0], a1 = p0[1], b0 = p1[0], b1 = p1[1];
                const int32_t c0 = p2[0], c1 = p2[1], d0 = p3[0], d1 = p3[1];
                const int32_t r0 = SAT16(a0 + c0), r1 = SAT16(a1 + c1), s0 = SAT16(a0 - c0), s1 = SAT16(a1 - c1);
                int32_t t0 = SAT16(b0 + d0), t1 = SAT16(b1 + d1);
                p0[0] = (int16_t)((r0 + t0) >> 2);
                p0[1] = (int16_t)((r1 + t1) >> 2);
                twiddle_dsp(p1, co2, si2, (r0 - t0) >> 1, (r1 - t1) >> 1);
                t0 = SAT16(b0 - d0);
                t1 = SAT16(b1 - d1);
                twiddle_dsp(p2, co1, si1, (s0 + t1) >> 1, (s1 - t0) >> 1);
                twiddle_dsp(p3, co3, si3, (s0 - t1) >> 1, (s1 + t0) >> 1);
            }
        }
        modifier <<= 2;
    }
    for (uint32_t g = 0; g < (length >> 2); ++g) {
        q15_t *p = x + 8 * g;
        const int32_t a0 = p[0], a1 = p[1], b0 = p[2], b1 = p[3], c0 = p[4], c1 = p[5], d0 = p[6], d1 = p[7];
        const int32_t r0 = SAT16(a0 + c0), r1 = SAT16(a1 + c1), t0 = SAT16(b0 + d0), t1 = SAT16(b1 + d1);
        const int32_t s0 = SAT16(a0 - c0), s1 = SAT16(a1 - c1), u0 = SAT16(b0 - d0), u1 = SAT16(b1 - d1);
        p[0] = (int16_t)((r0 + t0) >> 1);
        p[1] = (int16_t)((r1 + t1) >> 1);
        p[2] = (int16_t)((r0 - t0) >> 1);
        p[3] = (int16_t)((r1 - t1) >> 1);
        p[4] = (int16_t)((s0 + u1) >> 1);
        p[5] = (int16_t)((s1 - u0) >> 1);
        p[6] = (int16_t)((s0 - u1) >> 1);
        p[7] = (int16_t)((s1 + u0) >> 1);
    }
}

/* Bit reversal in place: swap the complex values of every index pair of the table. */
static void bit_reverse_q15(q15_t *x, const frnn_cfft_instance *c)
{
    for (uint32_t k = 0; k + 1 < c->bitrev_length; k += 2) {
        q15_t *a = x + 2 * c->bitrev[k], *b = x + 2 * c->bitrev[k + 1];
        const q15_t re = a[0], im = a[1];
        a[0] = b[0];
        a[1] = b[1];
        b[0] = re;
        b[1] = im;
    }
}

static void bit_reverse_q31(q31_t *x, const frnn_cfft_instance *c)
{
    for (uint32_t k = 0; k + 1 < c->bitrev_length; k += 2) {
        q31_t *a = x + 2 * c->bitrev[k], *b = x + 2 * c->bitrev[k + 1];
        const q31_t re = a[0], im = a[1];
        a[0] = b[0];
        a[1] = b[1];
        b[0] = re;
        b[1] = im;
    }
}

/* Forward complex FFT of c->length points in place (interleaved re, im), natural order out;
 * arm_dsp: the arithmetic of CMSIS-DSP built with ARM_MATH_DSP, else its portable C. */
static void cfft_q15(const frnn_cfft_instance *c, q15_t *x, int arm_dsp)
{
    const uint32_t length = c->length;
    const q15_t *coef = (const q15_t *)c->twiddle;
    if (length == 16 || length == 64 || length == 256 || length == 1024 || length == 4096) {
        if (arm_dsp) {
            radix4_q15_dsp(x, length, coef, 1);
        } else {
            radix4_q15(x, length, coef, 1);
        }
    } else if (arm_dsp) {
        const uint32_t n2 = length >> 1;
        for (uint32_t i = 0; i < n2; ++i) {
            q15_t *a = x + 2 * i, *b = x + 2 * (i + n2);
            const int32_t t0 = a[0] >> 1, t1 = a[1] >> 1, s0 = b[0] >> 1, s1 = b[1] >> 1;
            a[0] = (int16_t)((t0 + s0) >> 1);
            a[1] = (int16_t)((t1 + s1) >> 1);
            twiddle_dsp(b, coef[2 * i], coef[2 * i + 1], SAT16(t0 - s0), SAT16(t1 - s1));
        }
        radix4_q15_dsp(x, n2, coef, 2);
        radix4_q15_dsp(x + 2 * n2, n2, coef, 2);
        for (uint32_t i = 0; i < 2 * length; ++i) {
            x[i] = (int16_t)(x[i] * 2);
        }
    } else {
        const uint32_t n2 = length >> 1;
        for (uint32_t i = 0; i < n2; ++i) {
            const int32_t cs = coef[2 * i], sn = coef[2 * i + 1];
            q15_t *a = x + 2 * i, *b = x + 2 * (i + n2);
            const int32_t xt = (int16_t)((a[0] >> 1) - (b[0] >> 1));
            a[0] = (int16_t)(((a[0] >> 1) + (b[0] >> 1)) >> 1);
            const int32_t yt = (int16_t)((a[1] >> 1) - (b[1] >> 1));
            a[1] = (int16_t)(((b[1] >> 1) + (a[1] >> 1)) >> 1);
            b[0] = (int16_t)((int16_t)((xt * cs) >> 16) + (int16_t)((yt * sn) >> 16));
            b[1] = (int16_t)((int16_t)((yt * cs) >> 16) - (int16_t)((xt * sn) >> 16));
        }
        radix4_q15(x, n2, coef, 2);
        radix4_q15(x + 2 * n2, n2, coef, 2);
        for (uint32_t i = 0; i < 2 * length; ++i) {
            x[i] = (int16_t)(x[i] * 2);
        }
    }
    bit_reverse_q15(x, c);
}

static void rfft_q15(const frnn_rfft_instance *s, q15_t *frame, q15_t *out, int arm_dsp)
{
    const uint32_t half = s->length >> 1;
    const q15_t *ca = (const q15_t *)s->coef_a, *cb = (const q15_t *)s->coef_b;
    cfft_q15(s->cfft, frame, arm_dsp);
    const int32_t x0r = frame[0], x0i = frame[1];
    for (uint32_t i = 1; i < half; ++i) {
        const int32_t xr = frame[2 * i], xi = frame[2 * i + 1];
        const int32_t yr = frame[2 * (half - i)], yi = frame[2 * (half - i) + 1];
        const uint32_t a = 2 * i * s->coef_stride;
        const int32_t a0 = ca[a], a1 = ca[a + 1], b0 = cb[a], b1 = cb[a + 1];
        const uint32_t re = (uint32_t)(xr * a0) - (uint32_t)(xi * a1) + (uint32_t)(yr * b0) + (uint32_t)(yi * b1);
        const uint32_t im = (uint32_t)(yr * b1) - (uint32_t)(yi * b0) + (uint32_t)(xi * a0) + (uint32_t)(xr * a1);
        out[2 * i] = (int16_t)((int32_t)re >> 16);
        out[2 * i + 1] = (int16_t)((int32_t)im >> 16);
    }
    out[2 * half] = (int16_t)((x0r - x0i) >> 1);
    out[2 * half + 1] = 0;
    out[0] = (int16_t)((x0r + x0i) >> 1);
    out[1] = 0;
}

void frnn_rfft_q15(const frnn_rfft_instance *s, q15_t *frame, q15_t *out)
{
    rfft_q15(s, frame, out, 0);
}

void frnn_rfft_q15_arm_dsp(const frnn_rfft_instance *s, q15_t *frame, q15_t *out)
{
    rfft_q15(s, frame, out, 1);
}

/* ---- q31 complex FFT ------------------------------------------------------------------------- */

/* (int32)(((int64)a * b) >> 32) */
static inline int32_t mul_hi(int32_t a, int32_t b)
{
    return (int32_t)(((int64_t)a * b) >> 32);
}

/* (int32)((acc * 2^32 + a * b + 2^31) >> 32), the 64-bit sum wrapping; acc = 0: rounded a*b/2^32. */
static inline int32_t mac_r(int32_t acc, int32_t a, int32_t b)
{
    const uint64_t sum = ((uint64_t)(uint32_t)acc << 32) + (uint64_t)((int64_t)a * b) + 0x80000000u;
    return (int32_t)((int64_t)sum >> 32);
}

/* (int32)((acc * 2^32 - a * b + 2^31) >> 32), wrapping. */
static inline int32_t msub_r(int32_t acc, int32_t a, int32_t b)
{
    const uint64_t sum = ((uint64_t)(uint32_t)acc << 32) - (uint64_t)((int64_t)a * b) + 0x80000000u;
    return (int32_t)((int64_t)sum >> 32);
}

static void radix4_q31(q31_t *x, uint32_t length, const q31_t *coef, uint32_t modifier)
{
    uint32_t n2 = length >> 2, n1, ia1 = 0;
    for (uint32_t i0 = 0; i0 < n2; ++i0) {
        q31_t *p0 = x + 2 * i0, *p1 = p0 + 2 * n2, *p2 = p1 + 2 * n2, *p3 = p2 + 2 * n2;
        int32_t r1 = add32(p0[0] >> 4, p2[0] >> 4), r2 = sub32(p0[0] >> 4, p2[0] >> 4);
        int32_t t1 = add32(p1[0] >> 4, p3[0] >> 4), t2;
        int32_t s1 = add32(p0[1] >> 4, p2[1] >> 4), s2 = sub32(p0[1] >> 4, p2[1] >> 4);
        p0[0] = add32(r1, t1);
        r1 = sub32(r1, t1);
        t2 = add32(p1[1] >> 4, p3[1] >> 4);
        p0[1] = add32(s1, t2);
        s1 = sub32(s1, t2);
        t1 = sub32(p1[1] >> 4, p3[1] >> 4);
        t2 = sub32(p1[0] >> 4, p3[0] >> 4);
        const uint32_t ia2 = 2 * ia1, ia3 = 3 * ia1;
        const int32_t co2 = coef[2 * ia2], si2 = coef[2 * ia2 + 1];
        p1[0] = shl32(add32(mul_hi(r1, co2), mul_hi(s1, si2)), 1);
        p1[1] = shl32(sub32(mul_hi(s1, co2), mul_hi(r1, si2)), 1);
        r1 = add32(r2, t1);
        r2 = sub32(r2, t1);
        s1 = sub32(s2, t2);
        s2 = add32(s2, t2);
        const int32_t co1 = coef[2 * ia1], si1 = coef[2 * ia1 + 1];
        p2[0] = shl32(add32(mul_hi(r1, co1), mul_hi(s1, si1)), 1);
        p2[1] = shl32(sub32(mul_hi(s1, co1), mul_hi(r1, si1)), 1);
        const int32_t co3 = coef[2 * ia3], si3 = coef[2 * ia3 + 1];
        p3[0] = shl32(add32(mul_hi(r2, co3), mul_hi(s2, si3)), 1);
        p3[1] = shl32(sub32(mul_hi(s2, co3), mul_hi(r2, si3)), 1);
        ia1 += modifier;
    }
    modifier <<= 2;
    for (uint32_t k = length >> 2; k > 4; k >>= 2) {
        n1 = n2;
        n2 >>= 2;
        ia1 = 0;
        for (uint32_t j = 0; j < n2; ++j) {
            const uint32_t ia2 = ia1 + ia1, ia3 = ia2 + ia1;
            const int32_t co1 = coef[2 * ia1], si1 = coef[2 * ia1 + 1];
            const int32_t co2 = coef[2 * ia2], si2 = coef[2 * ia2 + 1];
            const int32_t co3 = coef[2 * ia3], si3 = coef[2 * ia3 + 1];
            ia1 += modifier;
            for (uint32_t i0 = j; i0 < length; i0 += n1) {
                q31_t *p0 = x + 2 * i0, *p1 = p0 + 2 * n2, *p2 = p1 + 2 * n2, *p3 = p2 + 2 * n2;
                int32_t r1 = add32(p0[0], p2[0]), r2 = sub32(p0[0], p2[0]);
                int32_t s1 = add32(p0[1], p2[1]), s2 = sub32(p0[1], p2[1]);
                int32_t t1 = add32(p1[0], p3[0]), t2;
                p0[0] = add32(r1, t1) >> 2;
                r1 = sub32(r1, t1);
                t2 = add32(p1[1], p3[1]);
                p0[1] = add32(s1, t2) >> 2;
                s1 = sub32(s1, t2);
                t1 = sub32(p1[1], p3[1]);
                t2 = sub32(p1[0], p3[0]);
                p1[0] = add32(mul_hi(r1, co2), mul_hi(s1, si2)) >> 1;
                p1[1] = sub32(mul_hi(s1, co2), mul_hi(r1, si2)) >> 1;
                r1 = add32(r2, t1);
                r2 = sub32(r2, t1);
                s1 = sub32(s2, t2);
                s2 = add32(s2, t2);
                p2[0] = add32(mul_hi(r1, co1), mul_hi(s1, si1)) >> 1;
                p2[1] = sub32(mul_hi(s1, co1), mul_hi(r1, si1)) >> 1;
                p3[0] = add32(mul_hi(r2, co3), mul_hi(s2, si3)) >> 1;
                p3[1] = sub32(mul_hi(s2, co3), mul_hi(r2, si3)) >> 1;
            }
        }
        modifier <<= 2;
    }
    for (uint32_t g = 0; g < (length >> 2); ++g) {
        q31_t *p = x + 8 * g;
        const uint32_t xa = (uint32_t)p[0], ya = (uint32_t)p[1], xb = (uint32_t)p[2], yb = (uint32_t)p[3];
        const uint32_t xc = (uint32_t)p[4], yc = (uint32_t)p[5], xd = (uint32_t)p[6], yd = (uint32_t)p[7];
        p[0] = (int32_t)(xa + xb + xc + xd);
        p[1] = (int32_t)(ya + yb + yc + yd);
        p[2] = (int32_t)(xa - xb + xc - xd);
        p[3] = (int32_t)(ya - yb + yc - yd);
        p[4] = (int32_t)(xa + yb - xc - yd);
        p[5] = (int32_t)(ya - xb - yc + xd);
        p[6] = (int32_t)(xa - yb - xc + yd);
        p[7] = (int32_t)(ya + xb - yc - xd);
    }
}

static void cfft_q31(const frnn_cfft_instance *c, q31_t *x)
{
    const uint32_t length = c->length;
    const q31_t *coef = (const q31_t *)c->twiddle;
    if (length == 16 || length == 64 || length == 256 || length == 1024 || length == 4096) {
        radix4_q31(x, length, coef, 1);
    } else {
        const uint32_t n2 = length >> 1;
        for (uint32_t i = 0; i < n2; ++i) {
            const int32_t cs = coef[2 * i], sn = coef[2 * i + 1];
            q31_t *a = x + 2 * i, *b = x + 2 * (i + n2);
            const int32_t xt = sub32(a[0] >> 2, b[0] >> 2);
            a[0] = add32(a[0] >> 2, b[0] >> 2);
            const int32_t yt = sub32(a[1] >> 2, b[1] >> 2);
            a[1] = add32(b[1] >> 2, a[1] >> 2);
            int32_t re = mac_r(0, xt, cs), im = mac_r(0, yt, cs);
            re = mac_r(re, yt, sn);
            im = msub_r(im, xt, sn);
            b[0] = shl32(re, 1);
            b[1] = shl32(im, 1);
        }
        radix4_q31(x, n2, coef, 2);
        radix4_q31(x + 2 * n2, n2, coef, 2);
        for (uint32_t i = 0; i < 2 * length; ++i) {
            x[i] = shl32(x[i], 1);
        }
    }
    bit_reverse_q31(x, c);
}

void frnn_rfft_q31(const frnn_rfft_instance *s, q31_t *frame, q31_t *out)
{
    const uint32_t half = s->length >> 1;
    const q31_t *ca = (const q31_t *)s->coef_a, *cb = (const q31_t *)s->coef_b;
    cfft_q31(s->cfft, frame);
    const int32_t x0r = frame[0], x0i = frame[1];
    for (uint32_t i = 1; i < half; ++i) {
        const int32_t xr = frame[2 * i], xi = frame[2 * i + 1];
        const int32_t yr = frame[2 * (half - i)], yi = frame[2 * (half - i) + 1];
        const uint32_t a = 2 * i * s->coef_stride;
        const int32_t a1 = ca[a], a2 = ca[a + 1], b1 = cb[a];
        int32_t re = mac_r(0, xr, a1), im = mac_r(0, xr, a2);
        re = msub_r(re, xi, a2);
        im = mac_r(im, xi, a1);
        re = msub_r(re, yi, a2);
        im = msub_r(im, yi, b1);
        re = mac_r(re, yr, b1);
        im = msub_r(im, yr, a2);
        out[2 * i] = re;
        out[2 * i + 1] = im;
    }
    out[2 * half] = sub32(x0r, x0i) >> 1;
    out[2 * half + 1] = 0;
    out[0] = add32(x0r, x0i) >> 1;
    out[1] = 0;
}

/* ---- square root, log ------------------------------------------------------------------------ */

int32_t frnn_sqrt_q31(int32_t x, const q31_t *sqrt_lut)
{
    if (x <= 0) {
        return 0;
    }
    const int half_shift = (clz32((uint32_t)x) - 1) >> 1;
    const int32_t number = x << (2 * half_shift);
    int32_t var1 = sqrt_lut[(number >> 26) - 8];
    for (int k = 0; k < 3; ++k) {
        int32_t temp = (int32_t)(((int64_t)var1 * var1) >> 28);
        temp = (int32_t)(((int64_t)number * temp) >> 31);
        temp = sub32(0x30000000, temp);
        var1 = (int32_t)(((int64_t)var1 * temp) >> 29);
    }
    var1 = (int32_t)(((int64_t)number * var1) >> 28);
    return var1 >> half_shift;
}

int32_t frnn_log_q31(uint32_t x)
{
    const int c = clz32(x);
    uint32_t norm = c == 0 ? x >> 1 : x << (c - 1); /* c == 32: x == 0, norm 0 */
    uint32_t inc = 1u << 25, y = 0;
    for (int k = 0; k < 31; ++k) {
        norm = (uint32_t)(((uint64_t)norm * norm) >> 30);
        const uint32_t bit = norm >> 31; /* x^2 reached 2.0 */
        y += inc & (0u - bit);
        norm >>= bit;
        inc >>= 1;
    }
    const int32_t tmp = (int32_t)(y - ((uint32_t)c << 26));
    return (int32_t)(((int64_t)tmp * LOG_Q31_INVLOG2EXP) >> 31);
}

/* ---- MFCC ------------------------------------------------------------------------------------ */

static int log2_of(uint32_t n)
{
    return 31 - clz32(n);
}

static void mfcc_q15(const frnn_mfcc_instance *s, q15_t *frame, q31_t *tmp, const q31_t *sqrt_lut, q15_t *out,
                     int arm_dsp)
{
    const uint32_t n = s->fft_length, half = n >> 1;
    const q15_t *window = (const q15_t *)s->window;
    const q15_t *coefs = (const q15_t *)s->filter_coefs;
    const q15_t *dct = (const q15_t *)s->dct;
    int32_t m = 0;
    for (uint32_t i = 0; i < n; ++i) {
        const int32_t v = frame[i];
        const int32_t a = v > 0 ? v : (v == -32768 ? 32767 : -v);
        m = a > m ? a : m;
    }
    const int normalised = m != 0 && m != 0x7FFF;
    if (normalised) { /* arm_divide_q15(0x7FFF, m) then arm_scale_q15 */
        int32_t quotient = (0x7FFF << 15) / m;
        int shift = 17 - clz32((uint32_t)quotient);
        if (shift > 0) {
            quotient >>= shift;
        } else {
            shift = 0;
        }
        for (uint32_t i = 0; i < n; ++i) {
            frame[i] = (q15_t)SAT16((frame[i] * quotient) >> (15 - shift));
        }
    }
    for (uint32_t i = 0; i < n; ++i) {
        frame[i] = (q15_t)SAT16((frame[i] * window[i]) >> 15);
    }
    q15_t *spectrum = (q15_t *)tmp; /* [n + 2] q15, then magnitudes [half + 1] q15 in place */
    rfft_q15(&s->rfft, frame, spectrum, arm_dsp);
    for (uint32_t i = 0; i <= half; ++i) {
        const int32_t re = spectrum[2 * i], im = spectrum[2 * i + 1];
        const uint32_t power = ((uint32_t)(re * re) + (uint32_t)(im * im)) >> 1;
        spectrum[i] = (q15_t)(frnn_sqrt_q31((int32_t)power, sqrt_lut) >> 16);
    }
    q31_t *mels = tmp + half; /* q15 slots n .. 2n-1: past the magnitudes */
    uint32_t c = 0;
    for (uint32_t k = 0; k < s->n_mels; ++k) {
        int64_t acc = 0;
        const q15_t *mag = spectrum + s->filter_pos[k];
        for (uint32_t j = 0; j < s->filter_lengths[k]; ++j) {
            acc += (int32_t)mag[j] * coefs[c + j];
        }
        c += s->filter_lengths[k];
        int32_t mel = SAT31((int32_t)((acc + MICRO_Q15) >> MEL_SHIFT));
        if (normalised) { /* arm_scale_q31(mel, m << 16, 0) */
            mel = sat32_of_64((((int64_t)mel * ((int64_t)m << 16)) >> 32) * 2);
        }
        mels[k] = mel;
    }
    const int32_t log_offset = (log2_of(n) + 2 + MEL_SHIFT) * LOG2_TO_LOG_Q26;
    for (uint32_t k = 0; k < s->n_mels; ++k) {
        const int32_t v = sat32_of_64((int64_t)frnn_log_q31((uint32_t)mels[k]) + log_offset);
        mels[k] = (q15_t)(v >> 19); /* q8.7, C's (q15_t) cast */
    }
    for (uint32_t i = 0; i < s->n_mfcc; ++i) {
        int64_t acc = 0;
        for (uint32_t k = 0; k < s->n_mels; ++k) {
            acc += (int32_t)dct[i * s->n_mels + k] * mels[k];
        }
        out[i] = (q15_t)SAT16((int32_t)(acc >> 15));
    }
}

void frnn_mfcc_q15(const frnn_mfcc_instance *s, q15_t *frame, q31_t *tmp, const q31_t *sqrt_lut, q15_t *out)
{
    mfcc_q15(s, frame, tmp, sqrt_lut, out, 0);
}

void frnn_mfcc_q15_arm_dsp(const frnn_mfcc_instance *s, q15_t *frame, q31_t *tmp, const q31_t *sqrt_lut,
                           q15_t *out)
{
    mfcc_q15(s, frame, tmp, sqrt_lut, out, 1);
}

void frnn_mfcc_q31(const frnn_mfcc_instance *s, q31_t *frame, q31_t *tmp, const q31_t *sqrt_lut, q31_t *out)
{
    const uint32_t n = s->fft_length, half = n >> 1;
    const q31_t *window = (const q31_t *)s->window;
    const q31_t *coefs = (const q31_t *)s->filter_coefs;
    const q31_t *dct = (const q31_t *)s->dct;
    int32_t m = 0;
    for (uint32_t i = 0; i < n; ++i) {
        const int32_t v = frame[i];
        const int32_t a = v > 0 ? v : (v == INT32_MIN ? INT32_MAX : -v);
        m = a > m ? a : m;
    }
    const int normalised = m != 0 && m != INT32_MAX;
    if (normalised) { /* arm_divide_q31(0x7FFFFFFF, m) then arm_scale_q31 */
        int64_t t = ((int64_t)INT32_MAX << 31) / m;
        int shift = 32 - clz32((uint32_t)(t >> 31));
        if (shift > 0) {
            t >>= shift;
        } else {
            shift = 0;
        }
        const int32_t quotient = (int32_t)t;
        for (uint32_t i = 0; i < n; ++i) {
            const int64_t v = (((int64_t)frame[i] * quotient) >> 32) * ((int64_t)1 << (shift + 1));
            frame[i] = sat32_of_64(v);
        }
    }
    for (uint32_t i = 0; i < n; ++i) {
        const int64_t v = ((int64_t)frame[i] * window[i]) >> 32;
        frame[i] = (v < -1073741824 ? -1073741824 : (v > 1073741823 ? 1073741823 : (int32_t)v)) * 2;
    }
    q31_t *spectrum = tmp; /* [n + 2], then magnitudes [half + 1] in place */
    frnn_rfft_q31(&s->rfft, frame, spectrum);
    for (uint32_t i = 0; i <= half; ++i) {
        const int64_t re = spectrum[2 * i], im = spectrum[2 * i + 1];
        const int32_t power = add32((int32_t)((re * re) >> 33), (int32_t)((im * im) >> 33));
        spectrum[i] = frnn_sqrt_q31(power, sqrt_lut);
    }
    q31_t *mels = tmp + n; /* past the spectrum */
    uint32_t c = 0;
    for (uint32_t k = 0; k < s->n_mels; ++k) {
        int64_t acc = 0;
        const q31_t *mag = spectrum + s->filter_pos[k];
        for (uint32_t j = 0; j < s->filter_lengths[k]; ++j) {
            acc += ((int64_t)mag[j] * coefs[c + j]) >> 14;
        }
        c += s->filter_lengths[k];
        int32_t mel = SAT31((int32_t)((acc + MICRO_Q31) >> (MEL_SHIFT + 18)));
        if (normalised) { /* arm_scale_q31(mel, m, 0) */
            mel = sat32_of_64((((int64_t)mel * m) >> 32) * 2);
        }
        mels[k] = mel;
    }
    const int32_t log_offset = (log2_of(n) + 2 + MEL_SHIFT) * LOG2_TO_LOG_Q26;
    for (uint32_t k = 0; k < s->n_mels; ++k) {
        mels[k] = sat32_of_64((int64_t)frnn_log_q31((uint32_t)mels[k]) + log_offset) >> 3;
    }
    for (uint32_t i = 0; i < s->n_mfcc; ++i) {
        uint64_t acc = 0;
        for (uint32_t k = 0; k < s->n_mels; ++k) {
            acc += (uint64_t)((int64_t)dct[i * s->n_mels + k] * mels[k]);
        }
        out[i] = (int32_t)((int64_t)acc >> 31);
    }
}
