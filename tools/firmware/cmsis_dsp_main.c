/* Test main running CMSIS-DSP's own arm_mfcc_q15 / arm_mfcc_q31 (built from CMSIS-DSP's sources by
 * tools/firmware/cmsis_dsp_mfcc.py, for the Cortex-M4 with ARM_MATH_DSP) on frames read by
 * semihosting, writing the MFCC back. Not part of fixedrnn's firmware: the oracle of its
 * "cmsis_build = dsp" front-end variant.
 *
 *   fw IN OUT [count]
 *
 * IN (little-endian): int32 header {magic 0x43534D46 "FMSC", bits (15 or 31), fft_length, n_mels,
 * n_mfcc, n_coefs, n_frames}, then window [fft_length] (int16 for bits 15, else int32), filter_pos
 * [n_mels] and filter_lengths [n_mels] (uint32), filter_coefs [n_coefs], dct [n_mfcc * n_mels]
 * (int16 / int32), frames [n_frames][fft_length] (int16 q15 / int32 q31).
 * OUT: the MFCC [n_frames][n_mfcc] (int16 q8.7 / int32).
 * With "count", every arm_mfcc_* call is an icount region (icount_markers.h).
 * Exit status 0, or 1 with a message on stderr.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arm_math.h"
#include "icount_markers.h"

#define MAGIC 0x43534D46
#define MAX_FFT 1024
#define MAX_MELS 512
#define MAX_COEFS 4096

static int fail(const char *message)
{
    fprintf(stderr, "cmsis_dsp_main: %s\n", message);
    return 1;
}

static int read_all(FILE *in, void *dst, size_t size, size_t count)
{
    return fread(dst, size, count, in) == count;
}

static uint32_t filter_pos[MAX_MELS], filter_lengths[MAX_MELS];
static q31_t window[MAX_FFT], coefs[MAX_COEFS], dct[MAX_MELS * MAX_MELS / 8];
static q31_t frame[MAX_FFT], tmp[2 * MAX_FFT];

int main(int argc, char **argv)
{
    if (argc < 3) {
        return fail("usage: fw IN OUT [count]");
    }
    const int count_mode = argc > 3 && strcmp(argv[3], "count") == 0;
    FILE *in = fopen(argv[1], "rb");
    FILE *out = fopen(argv[2], "wb");
    if (!in || !out) {
        return fail("cannot open the input or output file");
    }
    int32_t h[7];
    if (!read_all(in, h, sizeof h[0], 7) || h[0] != MAGIC) {
        return fail("bad header");
    }
    const int32_t bits = h[1], n = h[2], n_mels = h[3], n_mfcc = h[4], n_coefs = h[5], n_frames = h[6];
    const size_t elem = bits == 15 ? sizeof(q15_t) : sizeof(q31_t);
    if ((bits != 15 && bits != 31) || n < 16 || n > MAX_FFT || n_mels < 1 || n_mels > MAX_MELS
        || n_mfcc < 1 || n_mfcc > n_mels || (size_t)n_mfcc * n_mels > sizeof dct / sizeof dct[0]
        || n_coefs < 1 || n_coefs > MAX_COEFS || n_frames < 0) {
        return fail("header out of range");
    }
    if (!read_all(in, window, elem, (size_t)n) || !read_all(in, filter_pos, 4, (size_t)n_mels)
        || !read_all(in, filter_lengths, 4, (size_t)n_mels) || !read_all(in, coefs, elem, (size_t)n_coefs)
        || !read_all(in, dct, elem, (size_t)(n_mfcc * n_mels))) {
        return fail("truncated tables");
    }
    arm_mfcc_instance_q15 s15;
    arm_mfcc_instance_q31 s31;
    arm_status status = bits == 15
        ? arm_mfcc_init_q15(&s15, (uint32_t)n, (uint32_t)n_mels, (uint32_t)n_mfcc, (const q15_t *)dct,
                            filter_pos, filter_lengths, (const q15_t *)coefs, (const q15_t *)window)
        : arm_mfcc_init_q31(&s31, (uint32_t)n, (uint32_t)n_mels, (uint32_t)n_mfcc, dct,
                            filter_pos, filter_lengths, coefs, window);
    if (status != ARM_MATH_SUCCESS) {
        return fail("arm_mfcc_init failed");
    }
    for (int32_t f = 0; f < n_frames; ++f) {
        q31_t result[MAX_MELS];
        if (!read_all(in, frame, elem, (size_t)n)) {
            return fail("truncated frames");
        }
        if (count_mode) {
            icount_begin();
        }
        status = bits == 15 ? arm_mfcc_q15(&s15, (q15_t *)frame, (q15_t *)result, tmp)
                            : arm_mfcc_q31(&s31, frame, result, tmp);
        if (count_mode) {
            icount_end();
        }
        if (status != ARM_MATH_SUCCESS) {
            return fail("arm_mfcc failed");
        }
        if (fwrite(result, elem, (size_t)n_mfcc, out) != (size_t)n_mfcc) {
            return fail("short write");
        }
    }
    fclose(in);
    if (fclose(out) != 0) {
        return fail("cannot close the output file");
    }
    return 0;
}
