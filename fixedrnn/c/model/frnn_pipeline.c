/* The pipeline around the cell (frnn_api.h): PCM framing, MFCC of a frame, int8 normalisation, the
 * feature window, the head, init and result. The model's tables and buffers are the fr_* objects of
 * the generated frnn_model.c (declared in frnn_model.h). A streaming export (FRNN_STREAM) uses the
 * framing, MFCC, normalisation and head of this file; frnn_stream.c defines its frnn_push_frame, and
 * the window's functions are left out. An endpointing export (FRNN_ENDPOINT) keeps the last
 * FRNN_ENDPOINT_SEARCH frames' features and energies instead of the window and runs the cell on the
 * endpointed segment (fixedrnn.endpoint.segment, line for line).
 */
#include <string.h>

#include "frnn_cell.h"
#include "frnn_mfcc.h"

#if defined(FRNN_FRONTEND_Q31)
#define MFCC_OF_FRAME frnn_mfcc_q31
#define WIDEN_SAMPLE(s) ((q31_t)(s) * 65536) /* the int16 sample read as q31 (x << 16) */
#elif defined(FRNN_FRONTEND_Q15) && defined(FRNN_MFCC_ARM_MATH_DSP)
#define MFCC_OF_FRAME frnn_mfcc_q15_arm_dsp /* the model's frontend.cmsis_build is "dsp" */
#define WIDEN_SAMPLE(s) (s)
#elif defined(FRNN_FRONTEND_Q15)
#define MFCC_OF_FRAME frnn_mfcc_q15
#define WIDEN_SAMPLE(s) (s)
#else
#error "frnn_model.h defines neither FRNN_FRONTEND_Q15 nor FRNN_FRONTEND_Q31"
#endif

#if defined(FRNN_ENDPOINT) && (defined(FRNN_CELL_GRAPH) || defined(FRNN_STREAM))
#error "FRNN_ENDPOINT is an option of the window firmware of an RNN or LSTM model (fixedrnn.c_export refuses others)"
#endif

#if !defined(FRNN_CELL_GRAPH) /* a graph model's head is part of its graph (frnn_graph.c) */
static const frnn_fc_params head_fc = {
    -(FRNN_HIDDEN_ZERO_POINT), FR_HEAD_OUTPUT_ZERO_POINT, -128, 127,
    FRNN_HEAD_MULTIPLIER, FRNN_HEAD_SHIFT, FRNN_HEAD_PER_CHANNEL};
#endif

void frnn_mfcc_frame(const int16_t *frame, int32_t *mfcc)
{
    for (int i = 0; i < FRNN_FFT_LENGTH; ++i) {
        fr_mfcc_input[i] = WIDEN_SAMPLE(frame[i]);
    }
    MFCC_OF_FRAME(&fr_mfcc_instance, fr_mfcc_input, fr_mfcc_tmp, fr_sqrt_lut, fr_mfcc_out);
    for (int c = 0; c < FRNN_N_FEATURES; ++c) {
        mfcc[c] = fr_mfcc_out[c];
    }
}

#if defined(FRNN_ENDPOINT)
int32_t frnn_frame_energy(const int32_t *mfcc)
{
#if defined(FRNN_FRONTEND_Q31)
    /* floor(mfcc[0] / 2^16) without a shift of a negative value: the offset value is non-negative */
    return (int32_t)(((uint32_t)mfcc[0] + 0x80000000u) >> 16) - 32768;
#else
    return mfcc[0];
#endif
}
#endif

#if !defined(FRNN_STREAM)
void frnn_push_frame(const int16_t *frame)
{
    int32_t mfcc[FRNN_N_FEATURES];
    int8_t x[FRNN_N_FEATURES];
    frnn_mfcc_frame(frame, mfcc);
    frnn_normalize(mfcc, x);
#if defined(FRNN_ENDPOINT)
    frnn_push_features_energy(x, frnn_frame_energy(mfcc));
#else
    frnn_push_features(x);
#endif
}
#endif

/* Samples held in the audio frame: all pushed ones before the first frame; afterwards the
   fft_length - hop overlap plus those pushed since the last frame. fr_audio_count restarts at
   fft_length after each frame (the same position modulo hop), so it never wraps on a long stream. */
static uint32_t audio_fill(void)
{
    const uint32_t seen = fr_audio_count[0];
    return seen < FRNN_FFT_LENGTH ? seen : FRNN_FFT_LENGTH - FRNN_HOP + (seen - FRNN_FFT_LENGTH) % FRNN_HOP;
}

void frnn_push_samples(const int16_t *samples, int32_t n)
{
    uint32_t fill = audio_fill();
    for (int32_t i = 0; i < n; ++i) {
        fr_audio_frame[fill++] = samples[i];
        fr_audio_count[0] += 1;
        if (fill == FRNN_FFT_LENGTH) {
            frnn_push_frame(fr_audio_frame);
            memmove(fr_audio_frame, fr_audio_frame + FRNN_HOP, (FRNN_FFT_LENGTH - FRNN_HOP) * sizeof(int16_t));
            fill = FRNN_FFT_LENGTH - FRNN_HOP;
            fr_audio_count[0] = FRNN_FFT_LENGTH;
        }
    }
}

#if !defined(FRNN_STREAM)
void frnn_end_utterance(void)
{
    if (fr_audio_count[0] < FRNN_FFT_LENGTH) { /* too short: one zero-padded frame */
        const uint32_t fill = fr_audio_count[0];
        memset(fr_audio_frame + fill, 0, (FRNN_FFT_LENGTH - fill) * sizeof(int16_t));
        frnn_push_frame(fr_audio_frame);
    }
    fr_audio_count[0] = 0;
}
#endif

#if !defined(FRNN_CELL_GRAPH)
void frnn_head(int8_t *logits)
{
    FRNN_FC_S8(fr_hidden, FRNN_HEAD_WEIGHTS, 0, FRNN_HEAD_BIAS, FRNN_UNITS, FRNN_N_CLASSES, &head_fc, logits);
}
#endif

void frnn_normalize(const int32_t *mfcc, int8_t *x)
{
    for (int c = 0; c < FRNN_N_FEATURES; ++c) {
        const int32_t v = frnn_mbqm(mfcc[c] - fr_input_offset[c], fr_input_multiplier[c], (int)fr_input_shift[c]);
        x[c] = (int8_t)frnn_clamp(FR_INPUT_ZERO_POINT + v, -128, 127);
    }
}

#if !defined(FRNN_STREAM) && !defined(FRNN_ENDPOINT)
void frnn_init(void)
{
    for (int t = 0; t < FRNN_FRAMES; ++t) {
        memcpy(fr_features + t * FRNN_N_FEATURES, fr_silence_features, FRNN_N_FEATURES);
    }
    frnn_cell_reset();
    fr_audio_count[0] = 0;
}

void frnn_push_features(const int8_t *x)
{
    memmove(fr_features, fr_features + FRNN_N_FEATURES, (FRNN_FRAMES - 1) * FRNN_N_FEATURES);
    memcpy(fr_features + (FRNN_FRAMES - 1) * FRNN_N_FEATURES, x, FRNN_N_FEATURES);
}

const int8_t *frnn_window(void)
{
    return fr_features;
}
#endif

#if defined(FRNN_ENDPOINT)
void frnn_init(void)
{
    fr_endpoint_count[0] = 0;
    frnn_cell_reset();
    fr_audio_count[0] = 0;
}

/* The held frames are the last fr_endpoint_count[0] rows of fr_endpoint_features / fr_endpoint_energy
   (oldest first); both slide by one row per frame, as the window does. */
void frnn_push_features_energy(const int8_t *x, int32_t energy)
{
    memmove(fr_endpoint_features, fr_endpoint_features + FRNN_N_FEATURES,
            (FRNN_ENDPOINT_SEARCH - 1) * FRNN_N_FEATURES);
    memcpy(fr_endpoint_features + (FRNN_ENDPOINT_SEARCH - 1) * FRNN_N_FEATURES, x, FRNN_N_FEATURES);
    memmove(fr_endpoint_energy, fr_endpoint_energy + 1, (FRNN_ENDPOINT_SEARCH - 1) * sizeof(int16_t));
    fr_endpoint_energy[FRNN_ENDPOINT_SEARCH - 1] = (int16_t)energy;
    if (fr_endpoint_count[0] < FRNN_ENDPOINT_SEARCH) {
        fr_endpoint_count[0] += 1;
    }
}

/* fixedrnn.endpoint.segment on the k held frames w (k <= search): lo, hi, threshold, first and last
   loud frame, the segment [start, stop) of w. */
frnn_segment frnn_endpoint_segment(void)
{
    const int32_t k = (int32_t)fr_endpoint_count[0];
    const int16_t *w = fr_endpoint_energy + (FRNN_ENDPOINT_SEARCH - k);
    frnn_segment seg = {k, 0, k};
    if (k == 0) {
        return seg;
    }
    int32_t lo = w[0], hi = w[0];
    for (int32_t j = 1; j < k; ++j) {
        lo = w[j] < lo ? w[j] : lo;
        hi = w[j] > hi ? w[j] : hi;
    }
    const int32_t range = (hi - lo) >> FRNN_ENDPOINT_RANGE_SHIFT; /* hi - lo >= 0 */
    const int32_t threshold = lo + (FRNN_ENDPOINT_MARGIN > range ? FRNN_ENDPOINT_MARGIN : range);
    int32_t first = -1, last = -1;
    for (int32_t j = 0; j < k; ++j) {
        if (w[j] > threshold) {
            first = first < 0 ? j : first;
            last = j;
        }
    }
    if (first < 0) {
        return seg; /* no loud frame: all k frames */
    }
    seg.start = first - FRNN_ENDPOINT_PRE > 0 ? first - FRNN_ENDPOINT_PRE : 0;
    seg.stop = (last + FRNN_ENDPOINT_POST < k - 1 ? last + FRNN_ENDPOINT_POST : k - 1) + 1;
    return seg;
}

/* Row t of the endpointed window of seg: the silent frame's features for t < T - L, else the
   segment's frame stop - T + t (L = min(stop - start, T): the segment's last L frames). */
static const int8_t *endpoint_row(frnn_segment seg, int32_t t)
{
    const int32_t length = seg.stop - seg.start < FRNN_FRAMES ? seg.stop - seg.start : FRNN_FRAMES;
    if (t < FRNN_FRAMES - length) {
        return fr_silence_features;
    }
    const int32_t row = FRNN_ENDPOINT_SEARCH - seg.held + seg.stop - FRNN_FRAMES + t;
    return fr_endpoint_features + row * FRNN_N_FEATURES;
}

void frnn_endpoint_window(int8_t *x)
{
    const frnn_segment seg = frnn_endpoint_segment();
    for (int32_t t = 0; t < FRNN_FRAMES; ++t) {
        memcpy(x + t * FRNN_N_FEATURES, endpoint_row(seg, t), FRNN_N_FEATURES);
    }
}
#endif

#if !defined(FRNN_STREAM)
#if !defined(FRNN_CELL_GRAPH) /* a graph model runs its graph instead (frnn_graph.c) */
void frnn_run_features(const int8_t *x, int8_t *logits)
{
    frnn_cell_reset();
    for (int t = 0; t < FRNN_FRAMES; ++t) {
        frnn_cell_step(x + t * FRNN_N_FEATURES);
    }
    frnn_head(logits);
}
#endif

void frnn_result(int8_t *logits)
{
#if defined(FRNN_ENDPOINT)
    const frnn_segment seg = frnn_endpoint_segment();
    frnn_cell_reset();
    for (int32_t t = 0; t < FRNN_FRAMES; ++t) {
        frnn_cell_step(endpoint_row(seg, t));
    }
    frnn_head(fr_logits);
#else
    frnn_run_features(fr_features, fr_logits);
#endif
    memcpy(logits, fr_logits, FRNN_N_CLASSES);
}
#endif
