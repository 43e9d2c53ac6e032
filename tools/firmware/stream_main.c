/* Test main of a streaming export (fixedrnn export c --stream): runs long PCM streams, writes a
 * record per frame and the detections.
 *
 *   fw IN OUT [count]
 * IN (little-endian, fixedrnn.firmware.stream_input): int32 magic 0x494E5246 ("FRNI"), int32 kind 6,
 *   int32 stream count; then per stream: int32 n_samples (>= 0), int32 n_sizes (1..MAX_SIZES),
 *   int32 block sizes[n_sizes] (1..MAX_BLOCK samples, cycled), int16 PCM[n_samples]. Each stream:
 *   frnn_stream_init, frnn_push_samples in blocks of those sizes, frnn_stream_finish.
 * OUT (fixedrnn.firmware.read_stream_output): per stream, per frame (frnn_stream_frame_done, in
 *   order) int32 index, int32 energy, uint8 raw, active, reset, detected, int32 detection[5]
 *   (label, start, end, decided, score; zeros when none), int8 features[FRNN_N_FEATURES], int8
 *   hidden[FRNN_UNITS], for an LSTM int16 cell state[FRNN_UNITS], int8 scores[FRNN_N_CLASSES]
 *   (per segment, FRNN_STREAM_PER_SEGMENT: int32 mfcc[FRNN_N_FEATURES] in their place);
 *   then int32 finish flag and int32 detection[5] of frnn_stream_finish.
 * With "count", every frnn_push_samples call of the first stream is measured by the instruction
 * counter (icount.py), one region per call, in order (give it blocks of FRNN_HOP samples after a
 * first block of FRNN_FFT_LENGTH: one frame per region).
 * Exit status 0, or 2 for a bad file or a failed write.
 */
#include <stdio.h>
#include <string.h>

#include "frnn_api.h"
#include "icount_markers.h"

#define MAGIC 0x494E5246
#define KIND_STREAM 6
#define MAX_BLOCK 8192
#define MAX_SIZES 4096

static FILE *out_file;
static int write_failed;
static int16_t block[MAX_BLOCK];
static int32_t sizes[MAX_SIZES];

static int fail(const char *what)
{
    fprintf(stderr, "stream_main: %s\n", what);
    return 2;
}

static void put(const void *data, size_t n)
{
    if (fwrite(data, 1, n, out_file) != n) {
        write_failed = 1;
    }
}

static void put_detection(const frnn_detection *d)
{
    const int32_t fields[5] = {d->label, d->start, d->end, d->decided, d->score};
    put(fields, sizeof fields);
}

void frnn_stream_frame_done(const frnn_stream_frame *frame)
{
    const uint8_t flags[4] = {frame->raw, frame->active, frame->reset, frame->detected};
    put(&frame->index, sizeof frame->index);
    put(&frame->energy, sizeof frame->energy);
    put(flags, sizeof flags);
    put_detection(&frame->detection);
#if defined(FRNN_STREAM_PER_SEGMENT)
    put(frame->mfcc, FRNN_N_FEATURES * sizeof(int32_t));
#else
    put(frame->features, FRNN_N_FEATURES);
    put(frame->hidden, FRNN_UNITS);
#if defined(FRNN_CELL_LSTM)
    put(fr_cell_state, sizeof fr_cell_state);
#endif
    put(frame->scores, FRNN_N_CLASSES);
#endif
}

static int run_stream(FILE *in, int count_mode)
{
    int32_t n_samples, n_sizes;
    if (fread(&n_samples, sizeof n_samples, 1, in) != 1 || n_samples < 0 || n_samples > 200000000) {
        return fail("bad stream length");
    }
    if (fread(&n_sizes, sizeof n_sizes, 1, in) != 1 || n_sizes < 1 || n_sizes > MAX_SIZES ||
        fread(sizes, sizeof(int32_t), (size_t)n_sizes, in) != (size_t)n_sizes) {
        return fail("bad block sizes");
    }
    for (int32_t k = 0; k < n_sizes; ++k) {
        if (sizes[k] < 1 || sizes[k] > MAX_BLOCK) {
            return fail("block size out of range");
        }
    }
    frnn_stream_init();
    for (int32_t done = 0, k = 0; done < n_samples; ++k) {
        const int32_t size = sizes[k % n_sizes];
        const int32_t n = n_samples - done < size ? n_samples - done : size;
        if (fread(block, sizeof(int16_t), (size_t)n, in) != (size_t)n) {
            return fail("truncated stream");
        }
        if (count_mode) {
            icount_begin();
        }
        frnn_push_samples(block, n);
        if (count_mode) {
            icount_end();
        }
        done += n;
    }
    frnn_detection last;
    const int32_t found = frnn_stream_finish(&last);
    put(&found, sizeof found);
    put_detection(&last);
    return write_failed ? fail("short write") : 0;
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
    out_file = fopen(argv[2], "wb");
    if (!out_file) {
        return fail("cannot create the output file");
    }
    int32_t header[3];
    if (fread(header, sizeof header, 1, in) != 1 || header[0] != MAGIC || header[1] != KIND_STREAM || header[2] < 0) {
        return fail("bad header (magic FRNI, kind 6 expected)");
    }
    for (int32_t item = 0; item < header[2]; ++item) {
        const int status = run_stream(in, count_mode && item == 0);
        if (status) {
            return status;
        }
    }
    fclose(in);
    return fclose(out_file) == 0 ? 0 : 2;
}
