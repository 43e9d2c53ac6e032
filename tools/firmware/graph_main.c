/* Test main of a generated graph model (fixedrnn export c of an imported unrolled graph:
 * frnn_graph.c), the input and output files of main.c's kinds 2 and 4:
 *
 *   fw IN OUT [count]
 * IN (little-endian): int32 magic 0x494E5246 ("FRNI"), int32 kind, int32 item count; then per item:
 *   kind 2: int32 n_frames (>= 1) and n_frames int8 features[FRNN_N_FEATURES], pushed as they are;
 *   kind 4: int32 n_samples (>= 0) and int16 PCM[n_samples], one utterance: frnn_push_samples in
 *   chunks of 100, then frnn_end_utterance.
 * OUT: per item, int8 window[FRNN_FRAMES][FRNN_N_FEATURES] (after frnn_init and the item), then int8
 *   logits[FRNN_N_CLASSES] from frnn_result. With "count", frnn_result of the first item is measured
 *   by the instruction counter (icount.py). Exit status 0, or 2 for a bad file.
 */
#include <stdio.h>
#include <string.h>

#include "frnn_api.h"
#include "icount_markers.h"

#define MAGIC 0x494E5246

static int fail(const char *what)
{
    fprintf(stderr, "graph_main: %s\n", what);
    return 2;
}

static int push_item(FILE *in, int32_t kind)
{
    int32_t n;
    if (fread(&n, sizeof n, 1, in) != 1 || n < (kind == 2 ? 1 : 0) || n > 100000000) {
        return fail("bad item length");
    }
    if (kind == 2) {
        int8_t frame[FRNN_N_FEATURES];
        for (int32_t t = 0; t < n; ++t) {
            if (fread(frame, 1, sizeof frame, in) != sizeof frame) {
                return fail("truncated item");
            }
            frnn_push_features(frame);
        }
        return 0;
    }
    int16_t chunk[100];
    for (int32_t done = 0; done < n;) {
        const int32_t size = n - done < 100 ? n - done : 100;
        if (fread(chunk, sizeof(int16_t), (size_t)size, in) != (size_t)size) {
            return fail("truncated item");
        }
        frnn_push_samples(chunk, size);
        done += size;
    }
    frnn_end_utterance();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        return fail("usage: fw IN OUT [count]");
    }
    const int count_mode = argc > 3 && strcmp(argv[3], "count") == 0;
    FILE *in = fopen(argv[1], "rb");
    FILE *out = fopen(argv[2], "wb");
    if (!in || !out) {
        return fail("cannot open the input or create the output file");
    }
    int32_t header[3];
    if (fread(header, sizeof header, 1, in) != 1 || header[0] != MAGIC || (header[1] != 2 && header[1] != 4)
        || header[2] < 0) {
        return fail("bad header (magic FRNI, kind 2 or 4 expected)");
    }
    for (int32_t item = 0; item < header[2]; ++item) {
        frnn_init();
        const int status = push_item(in, header[1]);
        if (status) {
            return status;
        }
        if (fwrite(frnn_window(), 1, FRNN_FRAMES * FRNN_N_FEATURES, out) != FRNN_FRAMES * FRNN_N_FEATURES) {
            return fail("short write");
        }
        int8_t logits[FRNN_N_CLASSES];
        if (count_mode && item == 0) {
            icount_begin();
        }
        frnn_result(logits);
        if (count_mode && item == 0) {
            icount_end();
        }
        if (fwrite(logits, 1, sizeof logits, out) != sizeof logits) {
            return fail("short write");
        }
    }
    fclose(in);
    return fclose(out) == 0 ? 0 : 2;
}
