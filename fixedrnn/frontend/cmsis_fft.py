"""CMSIS-DSP's fixed-point real FFT (``arm_rfft_q15`` / ``arm_rfft_q31``, forward), bit for bit.

An N-point real FFT is an N/2-point complex FFT (``arm_cfft_q15/q31``) of the samples read as
(re, im) pairs, followed by the split step ``arm_split_rfft_q15/q31`` with the tables
``realCoefA/B``. The complex FFT is radix-4 decimation in frequency (``arm_radix4_butterfly_*``)
for N/2 = 4**k, or one radix-2 stage then two radix-4 halves (``arm_cfft_radix4by2_*``) for
N/2 = 2·4**k, followed by a bit-reversal permutation. Every stage scales down to avoid overflow,
so the output is the DFT divided by N (q15: further halved inside the split; see docs/frontend.md).

The arithmetic is CMSIS-DSP's portable C (what the ``cmsisdsp`` Python package runs); each kernel
here is written statement for statement so the C firmware can follow it:

- q15 values live in ``q15_t`` variables: sums are C ``int`` and either saturated with
  ``__SSAT(., 16)`` or truncated by the store (``wrap16``); a twiddle product is
  ``(int16)((a·cos + b·sin) >> 16)`` (floor);
- q31 products are ``(int32)((int64)a·b >> 32)`` (floor) in the radix-4 stages and the rounded
  ``(a·b + 2**31) >> 32`` (SMMULR-style ``mult_32x32_keep32_R``) in the radix-2 stage and split.

The q15 complex FFT also exists as CMSIS-DSP built with ARM_MATH_DSP computes it (every Cortex-M4
build; ``dsp=True`` of :func:`cfft_q15` / :func:`rfft_q15` / :func:`radix4_butterfly_q15`, ``None``
the portable C): the same stages with the DSP extension's halving SIMD sums and one rounding per
twiddle product, checked 0 LSB against that library run under QEMU (docs/frontend.md). The q31 FFT has no such variant.

Tables (generated here from the formulas in CMSIS-DSP's ``arm_common_tables.c``):
``twiddleCoef_L`` = ``(cos 2πi/L, sin 2πi/L)`` for i < 3L/4, interleaved, as ``floor(x·2**15)`` /
``floor(x·2**31 + 0.05)`` (what the stored tables hold, although their comment says round);
``realCoefA[2i], [2i+1] = (1 − sin(πi/4096))/2, −cos(πi/4096)/2``; ``realCoefB = (1 + sin)/2,
cos/2`` for i < 4096, as ``round(x·2**15)`` / ``round(x·2**31)``; all saturated. The real FFT of length N reads every
``8192/N``-th complex entry of realCoefA/B.
"""

import numba
import numpy as np

from fixedrnn.frontend.cmsis_int import ssat, wrap16, wrap32

#: Number of complex entries in CMSIS's realCoefA/B tables (they serve every real FFT up to 8192).
REAL_COEF_POINTS = 4096


def _q(values, bits):
    scale = float(1 << bits)
    hi = (1 << bits) - 1
    return np.clip(np.round(values * scale), -hi - 1, hi).astype(np.int64)


def twiddle_table(length, bits):
    """``twiddleCoef_{length}_q15`` (bits=15) or ``_q31`` (bits=31): int64 ``[3·length/2]``.

    Interleaved ``cos(2πi/length), sin(2πi/length)`` for i in 0..3·length/4 − 1, in q15 / q31.
    """
    i = np.arange(3 * length // 4, dtype=np.float64)
    angle = 2.0 * np.pi * i / length
    table = np.empty(2 * i.size, dtype=np.float64)
    table[0::2] = np.cos(angle)
    table[1::2] = np.sin(angle)
    hi = (1 << bits) - 1
    # CMSIS's tables are not rounded (as their comment says) but floored: exactly floor(x·2**15)
    # for q15 and floor(x·2**31 + 0.05) for q31 (checked entry by entry against every length).
    bias = 0.05 if bits == 31 else 0.0
    return np.clip(np.floor(table * float(1 << bits) + bias), -hi - 1, hi).astype(np.int64)


def real_coef_tables(bits):
    """``(realCoefA, realCoefB)`` in q15 / q31: int64 ``[8192]`` each (4096 interleaved pairs)."""
    i = np.arange(REAL_COEF_POINTS, dtype=np.float64)
    angle = 2.0 * np.pi / (2.0 * REAL_COEF_POINTS) * i
    a = np.empty(2 * REAL_COEF_POINTS)
    b = np.empty(2 * REAL_COEF_POINTS)
    a[0::2] = 0.5 * (1.0 - np.sin(angle))
    a[1::2] = 0.5 * (-1.0 * np.cos(angle))
    b[0::2] = 0.5 * (1.0 + np.sin(angle))
    b[1::2] = 0.5 * (1.0 * np.cos(angle))
    return _q(a, bits), _q(b, bits)


def bit_reversal(length):
    """int64 ``[length]``: position ``p`` of the radix-4/2 output holding DFT bin ``k`` (bit-reversed k)."""
    bits = length.bit_length() - 1
    k = np.arange(length)
    rev = np.zeros(length, dtype=np.int64)
    for b in range(bits):
        rev |= ((k >> b) & 1) << (bits - 1 - b)
    return rev


class RfftTables:
    """The CMSIS tables one real-FFT length uses, for q15 and q31 (int64 arrays for the kernels).

    ``split_coef_{a,b}_{q15,q31}`` hold the realCoefA/B pairs this length reads, in order: pass
    them with ``modifier=1`` instead of the full tables with ``modifier``.
    """

    def __init__(self, fft_length):
        half = fft_length // 2
        self.fft_length = fft_length
        self.modifier = 2 * REAL_COEF_POINTS // fft_length
        self.twiddle_q15 = twiddle_table(half, 15)
        self.twiddle_q31 = twiddle_table(half, 31)
        self.coef_a_q15, self.coef_b_q15 = real_coef_tables(15)
        self.coef_a_q31, self.coef_b_q31 = real_coef_tables(31)
        self.bit_reversal = bit_reversal(half)
        # The split step of this length reads only the pairs 0, modifier, 2·modifier, … of
        # realCoefA/B (a stride of 2·modifier int64 = one cache line each, over 2 × 64 KB); the
        # batch kernels read these contiguous copies with modifier 1 instead (same values).
        pairs = 2 * self.modifier * np.arange(half)[:, None] + np.arange(2)
        self.split_coef_a_q15 = np.ascontiguousarray(self.coef_a_q15[pairs].ravel())
        self.split_coef_b_q15 = np.ascontiguousarray(self.coef_b_q15[pairs].ravel())
        self.split_coef_a_q31 = np.ascontiguousarray(self.coef_a_q31[pairs].ravel())
        self.split_coef_b_q31 = np.ascontiguousarray(self.coef_b_q31[pairs].ravel())


# ---------------------------------------------------------------------------------------------
# q15


#: The stages of ``arm_radix4_butterfly_q15``: the first (inputs scaled by 1/4, saturating
#: differences), the middle ones (halving sums, the group's sum by a further 1/2) and the last
#: (halving sums, no twiddle factors).
FIRST_STAGE, MIDDLE_STAGE, LAST_STAGE = 0, 1, 2


# CMSIS-DSP built with ARM_MATH_DSP (Cortex-M4/M7/M33 with the DSP extension): the SIMD build keeps
# (re, im) as the two halves of one 32-bit word and uses the DSP extension's dual 16-bit
# instructions, each written out here on the two lanes (a, b = the two operands):
#   QADD16 / QSUB16   sat16(a + b) / sat16(a − b) per lane
#   SHADD16 / SHSUB16 (a + b) >> 1 / (a − b) >> 1 per lane, exact (17-bit sum, then floor)
#   QASX / QSAX       re = sat16(a.re ∓ b.im), im = sat16(a.im ± b.re)
#   SHASX / SHSAX     re = (a.re ∓ b.im) >> 1, im = (a.im ± b.re) >> 1
#   SMUAD(c, r)       c.re·r.re + c.im·r.im (wraps in 32 bits); SMUSDX(c, r) = c.re·r.im − c.im·r.re
#   PKHBT(p, q, 0)    low half of p, high half of q: one twiddle product is (int16)(SMUAD(c, r) >> 16)
#                     for re and the top half of SMUSDX(c, r) for im.
# So a halving sum is floor((a + b) / 2) instead of the portable (a >> 1) + (b >> 1), and a radix-4
# middle stage's /4 is floor((a + b) / 4) instead of ((a >> 1) + (b >> 1)) >> 1.


@numba.njit(cache=True)
def _twiddle(x, p, co, si, re, im):
    """Store the twiddle product of ``(re, im)`` by ``(co, si)`` at ``x[p], x[p + 1]``:
    ``(int16)((co·re + si·im) >> 16)``, ``(int16)((co·im − si·re) >> 16)`` (int32 sums; the DSP
    build's SMUAD, SMUSDX, PKHBT give the same)."""
    x[p] = wrap16(wrap32(co * re + si * im) >> 16)
    x[p + 1] = wrap16(wrap32(co * im - si * re) >> 16)


@numba.njit(cache=True)
def radix4_butterfly_q15(x, base, length, coef, modifier, dsp):
    """``arm_radix4_butterfly_q15`` on the complex q15 data ``x[base : base + 2·length]``, as the
    portable C computes it (``dsp`` None) or CMSIS-DSP built with ARM_MATH_DSP (``dsp`` True).

    Stage by stage, with groups of ``n1`` values split in four quarters of ``n2 = n1 / 4``
    (``n1 = length`` first): a butterfly on the values ``(i0, i0 + n2, i0 + 2·n2, i0 + 3·n2)`` for
    every ``i0 ≡ j (mod n1)``, ``j < n2``, with twiddle index ``ic = j·modifier``; then ``n1 = n2``
    and ``modifier ×= 4``, down to the last stage (``n2 = 1``). The stages differ only in the
    butterfly's scaling (:data:`FIRST_STAGE`, :data:`MIDDLE_STAGE`, :data:`LAST_STAGE`).

    The butterfly, per lane (re, im), with a, b, c, d the four inputs (``>> 2`` in the first stage):
    ``r = sat(a + c)``, ``s = sat(a − c)``, ``t = sat(b + d)``, ``v = sat(b − d)``; output 0 is
    ``r + t`` halved (twice in a middle stage); outputs 1, 2, 3 are ``r − t``, ``s − j·v``,
    ``s + j·v`` — saturated in the first stage, halved after it — times twiddle 2, 1, 3
    (``(int16)((a·cos + b·sin) >> 16)``, ``(int16)((b·cos − a·sin) >> 16)``, int32 sums; SMUAD /
    SMUSDX on the DSP build), except in the last stage. Halving is the portable
    ``(p >> 1) ± (q >> 1)`` (wrapped to 16 bits) or the DSP extension's exact ``(p ± q) >> 1``
    (SHADD16 / SHSUB16; a middle stage's output 0: ``(r + t) >> 2``). The whole FFT is this one
    loop nest, so numba and LLVM compile one copy of the butterfly (a cold start's compile time);
    numba drops the other build's branches by the type of ``dsp`` (see :func:`cfft_q15`).
    """
    n1 = length
    n2 = length >> 2
    stage = FIRST_STAGE
    while True:
        sh = 2 if stage == FIRST_STAGE else 0
        ic = 0
        for j in range(n2):
            co1, si1 = coef[2 * ic], coef[2 * ic + 1]
            co2, si2 = coef[4 * ic], coef[4 * ic + 1]
            co3, si3 = coef[6 * ic], coef[6 * ic + 1]
            ic += modifier
            for i0 in range(j, length, n1):
                p0 = base + 2 * i0
                p1 = p0 + 2 * n2
                p2 = p1 + 2 * n2
                p3 = p2 + 2 * n2
                a0, a1 = x[p0] >> sh, x[p0 + 1] >> sh
                b0, b1 = x[p1] >> sh, x[p1 + 1] >> sh
                c0, c1 = x[p2] >> sh, x[p2 + 1] >> sh
                d0, d1 = x[p3] >> sh, x[p3 + 1] >> sh
                r0, r1 = ssat(a0 + c0, 16), ssat(a1 + c1, 16)
                s0, s1 = ssat(a0 - c0, 16), ssat(a1 - c1, 16)
                t0, t1 = ssat(b0 + d0, 16), ssat(b1 + d1, 16)
                v0, v1 = ssat(b0 - d0, 16), ssat(b1 - d1, 16)
                if dsp is None:
                    sum0, sum1 = (r0 >> 1) + (t0 >> 1), (r1 >> 1) + (t1 >> 1)
                    if stage == MIDDLE_STAGE:
                        sum0 >>= 1
                        sum1 >>= 1
                else:
                    halvings = 2 if stage == MIDDLE_STAGE else 1
                    sum0, sum1 = (r0 + t0) >> halvings, (r1 + t1) >> halvings
                x[p0] = wrap16(sum0)
                x[p0 + 1] = wrap16(sum1)
                if stage == FIRST_STAGE:
                    e0, e1 = ssat(r0 - t0, 16), ssat(r1 - t1, 16)
                    f0, f1 = ssat(s0 - v1, 16), ssat(s1 + v0, 16)
                    g0, g1 = ssat(s0 + v1, 16), ssat(s1 - v0, 16)
                elif dsp is None:
                    e0, e1 = wrap16((r0 >> 1) - (t0 >> 1)), wrap16((r1 >> 1) - (t1 >> 1))
                    f0, f1 = wrap16((s0 >> 1) - (v1 >> 1)), wrap16((s1 >> 1) + (v0 >> 1))
                    g0, g1 = wrap16((s0 >> 1) + (v1 >> 1)), wrap16((s1 >> 1) - (v0 >> 1))
                else:
                    e0, e1 = (r0 - t0) >> 1, (r1 - t1) >> 1
                    f0, f1 = (s0 - v1) >> 1, (s1 + v0) >> 1
                    g0, g1 = (s0 + v1) >> 1, (s1 - v0) >> 1
                if stage == LAST_STAGE:
                    x[p1], x[p1 + 1] = e0, e1
                    x[p2], x[p2 + 1] = g0, g1
                    x[p3], x[p3 + 1] = f0, f1
                else:
                    _twiddle(x, p1, co2, si2, e0, e1)
                    _twiddle(x, p2, co1, si1, g0, g1)
                    _twiddle(x, p3, co3, si3, f0, f1)
        if n2 == 1:
            return
        modifier <<= 2
        n1 = n2
        n2 >>= 2
        stage = LAST_STAGE if n2 == 1 else MIDDLE_STAGE


@numba.njit(cache=True)
def cfft_q15(x, length, coef, dsp):
    """``arm_cfft_q15`` (forward) on interleaved complex q15 ``x[2·length]``, before bit reversal.

    ``dsp``: ``None`` for the portable C, ``True`` for the arithmetic of CMSIS-DSP built with
    ARM_MATH_DSP (:func:`radix4_butterfly_q15`'s halving, and a radix-2 stage with halving sums and one
    rounding per twiddle product). ``None`` rather than ``False`` because numba drops a branch on
    ``is None`` at compile time (by the argument's type): a portable run never compiles the other
    build's butterflies (about a second of a cold start).
    """
    if dsp is not None and not dsp:
        raise ValueError("cfft_q15: dsp must be None (portable C) or True (ARM_MATH_DSP), not False")
    # length 4**k: one radix-4 FFT; 2·4**k: a radix-2 stage, then a radix-4 FFT of each half, then
    # every value doubled. One call site per butterfly kind, so LLVM inlines one copy of it.
    # np.int64(constant): numba would compile one butterfly per literal argument value otherwise.
    radix2 = (length & 0x55555555) == 0  # a power of two with its one bit at an odd position
    sub = length >> 1 if radix2 else length
    if radix2:
        if dsp is None:
            for i in range(sub):
                cos = coef[2 * i]
                sin = coef[2 * i + 1]
                l = i + sub
                xt = wrap16((x[2 * i] >> 1) - (x[2 * l] >> 1))
                x[2 * i] = wrap16(((x[2 * i] >> 1) + (x[2 * l] >> 1)) >> 1)
                yt = wrap16((x[2 * i + 1] >> 1) - (x[2 * l + 1] >> 1))
                x[2 * i + 1] = wrap16(((x[2 * l + 1] >> 1) + (x[2 * i + 1] >> 1)) >> 1)
                x[2 * l] = wrap16(wrap16((xt * cos) >> 16) + wrap16((yt * sin) >> 16))
                x[2 * l + 1] = wrap16(wrap16((yt * cos) >> 16) - wrap16((xt * sin) >> 16))
        else:
            for i in range(sub):
                l = i + sub
                t0, t1 = x[2 * i] >> 1, x[2 * i + 1] >> 1
                s0, s1 = x[2 * l] >> 1, x[2 * l + 1] >> 1
                x[2 * i] = (t0 + s0) >> 1
                x[2 * i + 1] = (t1 + s1) >> 1
                _twiddle(x, 2 * l, coef[2 * i], coef[2 * i + 1], ssat(t0 - s0, 16), ssat(t1 - s1, 16))
    modifier = np.int64(2) if radix2 else np.int64(1)
    for base in range(0, 2 * length, 2 * sub):
        radix4_butterfly_q15(x, np.int64(base), sub, coef, modifier, dsp)
    if radix2:
        for i in range(2 * length):
            x[i] = wrap16(x[i] << 1)


@numba.njit(cache=True)
def rfft_q15(samples, work, out, twiddle, coef_a, coef_b, modifier, bit_reversal, dsp):
    """``arm_rfft_q15`` (forward): q15 ``samples[N]`` → ``out[2·(N/2 + 1)]`` (bins 0..N/2, re/im).

    ``dsp``: ``None`` (portable C) or ``True``: the complex FFT as CMSIS-DSP built with ARM_MATH_DSP
    computes it (:func:`cfft_q15`); the split step is the same integers on both builds (its
    SMUSD/SMLAD sums are the portable int sums).

    ``work`` is scratch of ``N`` int64. The split step for bin i (1 <= i < N/2), with
    ``(xr, xi)`` = complex FFT bin i, ``(yr, yi)`` = bin N/2 − i, ``A``/``B`` = realCoefA/B at
    ``2·i·modifier``: ``re = (int16)((xr·A0 − xi·A1 + yr·B0 + yi·B1) >> 16)``,
    ``im = (int16)((yr·B1 − yi·B0 + xi·A0 + xr·A1) >> 16)`` (int32 sums);
    bin 0 = ``(x0r + x0i) >> 1``, bin N/2 = ``(x0r − x0i) >> 1``, imaginary parts 0.
    """
    n = samples.shape[0]
    half = n >> 1
    for i in range(n):
        work[i] = samples[i]
    cfft_q15(work, half, twiddle, dsp)
    # complex bin k sits at position bit_reversal[k] (the permutation arm_bitreversal_16 undoes)
    p = bit_reversal[0]
    x0r = work[2 * p]
    x0i = work[2 * p + 1]
    for i in range(1, half):
        p = bit_reversal[i]
        q = bit_reversal[half - i]
        xr = work[2 * p]
        xi = work[2 * p + 1]
        yr = work[2 * q]
        yi = work[2 * q + 1]
        a = 2 * i * modifier
        out_r = wrap32(xr * coef_a[a] - xi * coef_a[a + 1] + yr * coef_b[a] + yi * coef_b[a + 1]) >> 16
        out_i = wrap32(yr * coef_b[a + 1] - yi * coef_b[a] + xi * coef_a[a] + xr * coef_a[a + 1]) >> 16
        out[2 * i] = wrap16(out_r)
        out[2 * i + 1] = wrap16(out_i)
    out[2 * half] = wrap16((x0r - x0i) >> 1)
    out[2 * half + 1] = 0
    out[0] = wrap16((x0r + x0i) >> 1)
    out[1] = 0


# ---------------------------------------------------------------------------------------------
# q31


@numba.njit(cache=True, inline="always")
def _mul_hi(a, b):
    """``(int32)(((int64)a·b) >> 32)``."""
    return wrap32((a * b) >> 32)


@numba.njit(cache=True, inline="always")
def _mul_r(a, b):
    """``mult_32x32_keep32_R``: ``(int32)((a·b + 2**31) >> 32)``."""
    return wrap32((a * b + 0x80000000) >> 32)


@numba.njit(cache=True)
def radix4_butterfly_q31(x, base, length, coef, modifier):
    """``arm_radix4_butterfly_q31`` on the complex q31 data ``x[base : base + 2·length]``."""
    n2 = length >> 2
    ia1 = 0
    for i0 in range(n2):
        p0 = base + 2 * i0
        p1 = p0 + 2 * n2
        p2 = p1 + 2 * n2
        p3 = p2 + 2 * n2
        r1 = wrap32((x[p0] >> 4) + (x[p2] >> 4))
        r2 = wrap32((x[p0] >> 4) - (x[p2] >> 4))
        t1 = wrap32((x[p1] >> 4) + (x[p3] >> 4))
        s1 = wrap32((x[p0 + 1] >> 4) + (x[p2 + 1] >> 4))
        s2 = wrap32((x[p0 + 1] >> 4) - (x[p2 + 1] >> 4))
        x[p0] = wrap32(r1 + t1)
        r1 = wrap32(r1 - t1)
        t2 = wrap32((x[p1 + 1] >> 4) + (x[p3 + 1] >> 4))
        x[p0 + 1] = wrap32(s1 + t2)
        s1 = wrap32(s1 - t2)
        t1 = wrap32((x[p1 + 1] >> 4) - (x[p3 + 1] >> 4))
        t2 = wrap32((x[p1] >> 4) - (x[p3] >> 4))
        ia2 = 2 * ia1
        co2 = coef[2 * ia2]
        si2 = coef[2 * ia2 + 1]
        x[p1] = wrap32(wrap32(_mul_hi(r1, co2) + _mul_hi(s1, si2)) << 1)
        x[p1 + 1] = wrap32(wrap32(_mul_hi(s1, co2) - _mul_hi(r1, si2)) << 1)
        r1 = wrap32(r2 + t1)
        r2 = wrap32(r2 - t1)
        s1 = wrap32(s2 - t2)
        s2 = wrap32(s2 + t2)
        co1 = coef[2 * ia1]
        si1 = coef[2 * ia1 + 1]
        x[p2] = wrap32(wrap32(_mul_hi(r1, co1) + _mul_hi(s1, si1)) << 1)
        x[p2 + 1] = wrap32(wrap32(_mul_hi(s1, co1) - _mul_hi(r1, si1)) << 1)
        ia3 = 3 * ia1
        co3 = coef[2 * ia3]
        si3 = coef[2 * ia3 + 1]
        x[p3] = wrap32(wrap32(_mul_hi(r2, co3) + _mul_hi(s2, si3)) << 1)
        x[p3 + 1] = wrap32(wrap32(_mul_hi(s2, co3) - _mul_hi(r2, si3)) << 1)
        ia1 += modifier

    modifier <<= 2
    k = length // 4
    while k > 4:
        n1 = n2
        n2 >>= 2
        ia1 = 0
        for j in range(n2):
            ia2 = ia1 + ia1
            ia3 = ia2 + ia1
            co1 = coef[2 * ia1]
            si1 = coef[2 * ia1 + 1]
            co2 = coef[2 * ia2]
            si2 = coef[2 * ia2 + 1]
            co3 = coef[2 * ia3]
            si3 = coef[2 * ia3 + 1]
            ia1 += modifier
            for i0 in range(j, length, n1):
                p0 = base + 2 * i0
                p1 = p0 + 2 * n2
                p2 = p1 + 2 * n2
                p3 = p2 + 2 * n2
                r1 = wrap32(x[p0] + x[p2])
                r2 = wrap32(x[p0] - x[p2])
                s1 = wrap32(x[p0 + 1] + x[p2 + 1])
                s2 = wrap32(x[p0 + 1] - x[p2 + 1])
                t1 = wrap32(x[p1] + x[p3])
                x[p0] = wrap32(r1 + t1) >> 2
                r1 = wrap32(r1 - t1)
                t2 = wrap32(x[p1 + 1] + x[p3 + 1])
                x[p0 + 1] = wrap32(s1 + t2) >> 2
                s1 = wrap32(s1 - t2)
                t1 = wrap32(x[p1 + 1] - x[p3 + 1])
                t2 = wrap32(x[p1] - x[p3])
                x[p1] = wrap32(_mul_hi(r1, co2) + _mul_hi(s1, si2)) >> 1
                x[p1 + 1] = wrap32(_mul_hi(s1, co2) - _mul_hi(r1, si2)) >> 1
                r1 = wrap32(r2 + t1)
                r2 = wrap32(r2 - t1)
                s1 = wrap32(s2 - t2)
                s2 = wrap32(s2 + t2)
                x[p2] = wrap32(_mul_hi(r1, co1) + _mul_hi(s1, si1)) >> 1
                x[p2 + 1] = wrap32(_mul_hi(s1, co1) - _mul_hi(r1, si1)) >> 1
                x[p3] = wrap32(_mul_hi(r2, co3) + _mul_hi(s2, si3)) >> 1
                x[p3 + 1] = wrap32(_mul_hi(s2, co3) - _mul_hi(r2, si3)) >> 1
        modifier <<= 2
        k >>= 2

    for g in range(length >> 2):
        p = base + 8 * g
        xa = x[p]
        ya = x[p + 1]
        xb = x[p + 2]
        yb = x[p + 3]
        xc = x[p + 4]
        yc = x[p + 5]
        xd = x[p + 6]
        yd = x[p + 7]
        x[p] = wrap32(xa + xb + xc + xd)
        x[p + 1] = wrap32(ya + yb + yc + yd)
        x[p + 2] = wrap32(xa - xb + xc - xd)
        x[p + 3] = wrap32(ya - yb + yc - yd)
        x[p + 4] = wrap32(xa + yb - xc - yd)
        x[p + 5] = wrap32(ya - xb - yc + xd)
        x[p + 6] = wrap32(xa - yb - xc + yd)
        x[p + 7] = wrap32(ya + xb - yc - xd)


@numba.njit(cache=True)
def cfft_q31(x, length, coef):
    """``arm_cfft_q31`` (forward) on interleaved complex q31 ``x[2·length]``, before bit reversal."""
    if length in (16, 64, 256, 1024, 4096):
        radix4_butterfly_q31(x, np.int64(0), length, coef, np.int64(1))
        return
    n2 = length >> 1
    for i in range(n2):
        cos = coef[2 * i]
        sin = coef[2 * i + 1]
        l = i + n2
        xt = wrap32((x[2 * i] >> 2) - (x[2 * l] >> 2))
        x[2 * i] = wrap32((x[2 * i] >> 2) + (x[2 * l] >> 2))
        yt = wrap32((x[2 * i + 1] >> 2) - (x[2 * l + 1] >> 2))
        x[2 * i + 1] = wrap32((x[2 * l + 1] >> 2) + (x[2 * i + 1] >> 2))
        p0 = _mul_r(xt, cos)
        p1 = _mul_r(yt, cos)
        p0 = wrap32(((p0 << 32) + yt * sin + 0x80000000) >> 32)
        p1 = wrap32(((p1 << 32) - xt * sin + 0x80000000) >> 32)
        x[2 * l] = wrap32(p0 << 1)
        x[2 * l + 1] = wrap32(p1 << 1)
    radix4_butterfly_q31(x, np.int64(0), n2, coef, np.int64(2))
    radix4_butterfly_q31(x, 2 * n2, n2, coef, np.int64(2))
    for i in range(2 * length):
        x[i] = wrap32(x[i] << 1)


@numba.njit(cache=True, inline="always")
def _acc_r(acc, a, b):
    """``multAcc_32x32_keep32_R``: ``(int32)(((acc << 32) + a·b + 2**31) >> 32)``."""
    return wrap32(((acc << 32) + a * b + 0x80000000) >> 32)


@numba.njit(cache=True, inline="always")
def _sub_r(acc, a, b):
    """``multSub_32x32_keep32_R``: ``(int32)(((acc << 32) − a·b + 2**31) >> 32)``."""
    return wrap32(((acc << 32) - a * b + 0x80000000) >> 32)


@numba.njit(cache=True)
def rfft_q31(samples, work, out, twiddle, coef_a, coef_b, modifier, bit_reversal):
    """``arm_rfft_q31`` (forward): q31 ``samples[N]`` → ``out[2·(N/2 + 1)]`` (bins 0..N/2, re/im).

    Split step for bin i (1 <= i < N/2), each product rounded on its own (``_mul_r``/``_acc_r``/
    ``_sub_r``), in this order: ``re = xr·A0; im = xr·A1; re −= xi·A1; im += xi·A0; re −= yi·A1;
    im −= yi·B0; re += yr·B0; im −= yr·A1`` (A = realCoefA, B = realCoefB at ``2·i·modifier``;
    (xr, xi) = complex bin i, (yr, yi) = bin N/2 − i). Bins 0 and N/2 as in :func:`rfft_q15`.
    """
    n = samples.shape[0]
    half = n >> 1
    for i in range(n):
        work[i] = samples[i]
    cfft_q31(work, half, twiddle)
    p = bit_reversal[0]
    x0r = work[2 * p]
    x0i = work[2 * p + 1]
    for i in range(1, half):
        p = bit_reversal[i]
        q = bit_reversal[half - i]
        xr = work[2 * p]
        xi = work[2 * p + 1]
        yr = work[2 * q]
        yi = work[2 * q + 1]
        a = 2 * i * modifier
        a1 = coef_a[a]
        a2 = coef_a[a + 1]
        b1 = coef_b[a]
        out_r = _mul_r(xr, a1)
        out_i = _mul_r(xr, a2)
        out_r = _sub_r(out_r, xi, a2)
        out_i = _acc_r(out_i, xi, a1)
        out_r = _sub_r(out_r, yi, a2)
        out_i = _sub_r(out_i, yi, b1)
        out_r = _acc_r(out_r, yr, b1)
        out_i = _sub_r(out_i, yr, a2)
        out[2 * i] = out_r
        out[2 * i + 1] = out_i
    out[2 * half] = wrap32(x0r - x0i) >> 1
    out[2 * half + 1] = 0
    out[0] = wrap32(x0r + x0i) >> 1
    out[1] = 0
