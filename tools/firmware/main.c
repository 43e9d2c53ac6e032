/* Test main of a generated model (fixedrnn export c): runs a batch of inputs, writes every output.
 *
 *   fw IN OUT [count]
 * IN (little-endian): int32 magic 0x494E5246 ("FRNI"), int32 kind, int32 item count; then per item:
 *   int32 n_frames (>= 1) and n_frames frames: kind 2, int8 features[FRNN_N_FEATURES] (pushed as
 *   they are); kind 3, int32 MFCC[FRNN_N_FEATURES] (q8.7 or q31 values, normalized by
 *   frnn_normalize, then pushed).
 *   Kind 4: int32 n_samples (>= 0) and int16 PCM[n_samples], one utterance: frnn_push_samples in
 *   chunks, then frnn_end_utterance (the C MFCC front end, framing as fixedrnn.mfcc.frames).
 *   Kind 5: int32 n_frames (>= 1) and int16 frames[n_frames][FRNN_FFT_LENGTH]: MFCC only.
 * OUT: kinds 2-4, per item, int8 window[FRNN_FRAMES][FRNN_N_FEATURES] (the window after frnn_init
 *   and one frnn_push_features per frame: left-padded with silence, or the last T frames), then int8
 *   logits[FRNN_N_CLASSES] from frnn_result. Kind 5: per frame int32 MFCC[FRNN_N_FEATURES] (q8.7 or
 *   q31 values as frnn_mfcc_frame gives them).
 * With "count", the first item is also measured by the instruction counter (icount.py), regions in
 * this order: frnn_result (whole cell over T frames + head), one frnn_cell_step, frnn_head (not for
 * a graph model, FRNN_CELL_GRAPH: frnn_result runs its whole graph); for
 * kind 4 also frnn_mfcc_frame (the MFCC of one frame: the item's first fft_length samples) and
 * frnn_push_frame (MFCC, normalisation and window slide of that frame).
 * With FRNN_ENDPOINT (kind 4 only) the regions are frnn_result (segment + cell over T rows + head),
 * one frnn_cell_step, frnn_head, frnn_endpoint_segment alone (on the item's held frames), then
 * frnn_mfcc_frame and frnn_push_frame (MFCC, normalisation, energy and the held frames' slide).
 * An endpointing export (FRNN_ENDPOINT) has no stored window and no frnn_push_features: it takes
 * kinds 4 and 5 only (kinds 2 and 3 are a bad file), and kind 4 writes per item int32
 * held, start, stop (frnn_endpoint_segment), then the window frnn_endpoint_window writes, then the
 * logits.
 * A cepstral mean normalisation export (FRNN_CMN, with or without FRNN_ENDPOINT) holds front-end
 * outputs, no int8 window: kind 2 is a bad file; kind 3 pushes each frame's MFCC with frnn_push_mfcc
 * (no frnn_normalize); the window written is frnn_cmn_window's (after held, start, stop with
 * FRNN_ENDPOINT, kinds 3 and 4). With "count" one more region after the others of measure():
 * frnn_cmn_window alone (the window's means, subtraction and normalisation of its T rows).
 * Exit status 0, or 2 for a bad file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frnn_api.h"
#include "icount_markers.h"

#define MAGIC 0x494E5246

static int fail(const char *what)
{
    fprintf(stderr, "main: %s\n", what);
    return 2;
}

static int16_t first_frame[FRNN_FFT_LENGTH]; /* kind 4 with "count": the frame measured */

#if defined(FRNN_ENDPOINT) || defined(FRNN_CMN)
/* The window frnn_result reads, as write_window last wrote it (the library keeps none): this test's
   copy, not the firmware's. */
static int8_t read_window[FRNN_FRAMES * FRNN_N_FEATURES];

static const int8_t *window(void)
{
    return read_window;
}
#else
static const int8_t *window(void)
{
    return frnn_window();
}
#endif

/* Kinds 2-4: the item's window (with FRNN_ENDPOINT after its segment: held, start, stop). */
static int write_window(FILE *out)
{
#if defined(FRNN_ENDPOINT)
    const frnn_segment seg = frnn_endpoint_segment();
    const int32_t numbers[3] = {seg.held, seg.start, seg.stop};
    if (fwrite(numbers, sizeof numbers, 1, out) != 1) {
        return fail("short write");
    }
#endif
#if defined(FRNN_CMN)
    frnn_cmn_window(read_window);
#elif defined(FRNN_ENDPOINT)
    frnn_endpoint_window(read_window);
#endif
    if (fwrite(window(), 1, FRNN_FRAMES * FRNN_N_FEATURES, out) != FRNN_FRAMES * FRNN_N_FEATURES) {
        return fail("short write");
    }
    return 0;
}

static void measure_frontend(void)
{
    int32_t mfcc[FRNN_N_FEATURES];
    icount_begin();
    frnn_mfcc_frame(first_frame, mfcc);
    icount_end();
    icount_begin();
    frnn_push_frame(first_frame);
    icount_end();
}

static int run_frames(FILE *in, FILE *out, int32_t items)
{
    for (int32_t item = 0; item < items; ++item) {
        int32_t n_frames;
        if (fread(&n_frames, sizeof n_frames, 1, in) != 1 || n_frames < 1 || n_frames > 1000000) {
            return fail("bad item length");
        }
        for (int32_t t = 0; t < n_frames; ++t) {
            int16_t frame[FRNN_FFT_LENGTH];
            int32_t mfcc[FRNN_N_FEATURES];
            if (fread(frame, sizeof frame, 1, in) != 1) {
                return fail("truncated item");
            }
            frnn_mfcc_frame(frame, mfcc);
            if (fwrite(mfcc, sizeof mfcc, 1, out) != 1) {
                return fail("short write");
            }
        }
    }
    return 0;
}

/* Kind 4: one utterance of PCM through frnn_push_samples (chunks of 100 samples). */
static int push_pcm(FILE *in, int keep_first)
{
    int32_t n_samples;
    if (fread(&n_samples, sizeof n_samples, 1, in) != 1 || n_samples < 0 || n_samples > 100000000) {
        return fail("bad item length");
    }
    if (keep_first) {
        memset(first_frame, 0, sizeof first_frame);
    }
    int16_t chunk[100];
    for (int32_t done = 0; done < n_samples;) {
        const int32_t n = n_samples - done < 100 ? n_samples - done : 100;
        if (fread(chunk, sizeof(int16_t), (size_t)n, in) != (size_t)n) {
            return fail("truncated item");
        }
        for (int32_t i = 0; keep_first && i < n && done + i < FRNN_FFT_LENGTH; ++i) {
            first_frame[done + i] = chunk[i];
        }
        frnn_push_samples(chunk, n);
        done += n;
    }
    frnn_end_utterance();
    return 0;
}

static void measure(void)
{
    int8_t logits[FRNN_N_CLASSES];
    icount_begin();
    frnn_result(logits);
    icount_end();
#if !defined(FRNN_CELL_GRAPH) /* a graph model (frnn_graph.c) has no separate cell step or head */
    frnn_cell_reset();
    icount_begin();
    frnn_cell_step(window());
    icount_end();
    icount_begin();
    frnn_head(logits);
    icount_end();
#endif
#if defined(FRNN_ENDPOINT) /* the segment scan alone, on the same held frames */
    icount_begin();
    (void)frnn_endpoint_segment();
    icount_end();
#endif
#if defined(FRNN_CMN) /* the window's means, subtraction and normalisation alone */
    icount_begin();
    frnn_cmn_window(read_window);
    icount_end();
#endif
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        return fail("usage: fw IN OUT [count]");
    }
    const int count_mode = argc > 3 && strcmp(argv[3], "count") == 0;
    FILE *in = fopen(argv[1], "rb");
    if (!in) {
        return fail("cannot open the input file");
    }
    FILE *out = fopen(argv[2], "wb");
    if (!out) {
        return fail("cannot create the output file");
    }
    int32_t header[3];
    if (fread(header, sizeof header, 1, in) != 1 || header[0] != MAGIC || header[1] < 2 || header[1] > 5 || header[2] < 0) {
        return fail("bad header (magic FRNI, kind 2, 3, 4 or 5 expected)");
    }
    if (header[1] == 5) {
        const int status = run_frames(in, out, header[2]);
        fclose(in);
        return fclose(out) == 0 ? status : 2;
    }
    for (int32_t item = 0; item < header[2]; ++item) {
        if (header[1] == 4) {
            frnn_init();
            const int status = push_pcm(in, count_mode && item == 0);
            if (status) {
                return status;
            }
            const int written = write_window(out);
            if (written) {
                return written;
            }
            int8_t logits[FRNN_N_CLASSES];
            if (count_mode && item == 0) {
                measure();
            }
            frnn_result(logits);
            if (fwrite(logits, 1, sizeof logits, out) != sizeof logits) {
                return fail("short write");
            }
            if (count_mode && item == 0) {
                measure_frontend(); /* after the outputs: it slides the window */
            }
            continue;
        }
#if defined(FRNN_ENDPOINT) && !defined(FRNN_CMN)
        return fail("kinds 2 and 3 need the window firmware (this one is FRNN_ENDPOINT: no frnn_push_features)");
#else
        int32_t n_frames;
        if (fread(&n_frames, sizeof n_frames, 1, in) != 1 || n_frames < 1 || n_frames > 1000000) {
            return fail("bad item length");
        }
        frnn_init();
#if defined(FRNN_CMN)
        if (header[1] != 3) {
            return fail("kind 2 needs a firmware without FRNN_CMN (this one holds MFCC: kind 3)");
        }
        for (int32_t t = 0; t < n_frames; ++t) {
            int32_t mfcc[FRNN_N_FEATURES];
            if (fread(mfcc, sizeof mfcc, 1, in) != 1) {
                return fail("truncated item");
            }
            frnn_push_mfcc(mfcc);
        }
#else
        int8_t frame[FRNN_N_FEATURES];
        for (int32_t t = 0; t < n_frames; ++t) {
            if (header[1] == 3) {
                int32_t mfcc[FRNN_N_FEATURES];
                if (fread(mfcc, sizeof mfcc, 1, in) != 1) {
                    return fail("truncated item");
                }
                frnn_normalize(mfcc, frame);
            } else if (fread(frame, 1, sizeof frame, in) != sizeof frame) {
                return fail("truncated item");
            }
            frnn_push_features(frame);
        }
#endif
        int8_t logits[FRNN_N_CLASSES];
        const int written = write_window(out);
        if (written) {
            return written;
        }
        if (count_mode && item == 0) {
            measure();
        }
        frnn_result(logits);
        if (fwrite(logits, 1, sizeof logits, out) != sizeof logits) {
            return fail("short write");
        }
#endif
    }
    fclose(in);
    return fclose(out) == 0 ? 0 : 2;
}
