/* The pipeline around the cell (frnn_api.h): PCM framing, MFCC of a frame, int8 normalisation, the
 * feature window, the head, init and result. The model's tables and buffers are the fr_* objects of
 * the generated frnn_model.c (declared in frnn_model.h). A streaming export (FRNN_STREAM) uses the
 * framing, MFCC, normalisation and head of this file; frnn_stream.c defines its frnn_push_frame, and
 * the window's functions are left out.
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

#if !defined(FRNN_STREAM)
void frnn_push_frame(const int16_t *frame)
{
    int32_t mfcc[FRNN_N_FEATURES];
    int8_t x[FRNN_N_FEATURES];
    frnn_mfcc_frame(frame, mfcc);
    frnn_normalize(mfcc, x);
    frnn_push_features(x);
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

#if !defined(FRNN_STREAM)
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
    frnn_run_features(fr_features, fr_logits);
    memcpy(logits, fr_logits, FRNN_N_CLASSES);
}
#endif
