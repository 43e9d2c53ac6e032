/* The public API of a fixedrnn firmware: keyword spotting from int16 PCM to int8 logits, C99.
 *
 * Files (`python -m fixedrnn export c MODEL.npz OUTDIR` writes them all into OUTDIR):
 *   frnn_api.h       this API (include it, nothing else);
 *   frnn_model.h/.c  generated: the model's sizes and integers as macros, its tables and buffers;
 *   frnn_pipeline.c  framing, MFCC -> int8 normalisation, feature window, head, init, result;
 *   frnn_rnn.c or frnn_lstm.c (the model's cell) and frnn_cell.h (what they share);
 *   frnn_kernels.h/.c (the integer kernels), frnn_mfcc.h/.c (the fixed-point MFCC).
 * In the package: fixedrnn/c/ holds the kernels and the MFCC (they compile alone), fixedrnn/c/model/
 * the code that needs a model's frnn_model.h (this file, the pipeline, the cells).
 * Compile every .c of OUTDIR. All storage is static (frnn_model.c): nothing is allocated, and the
 * functions are not reentrant (one instance per image).
 *
 * Sizes (macros of frnn_model.h): FRNN_N_FEATURES = I (MFCC coefficients = int8 features per frame),
 * FRNN_FRAMES = T (frames per window), FRNN_UNITS = H, FRNN_N_CLASSES = C, FRNN_FFT_LENGTH = N
 * (samples per frame), FRNN_HOP (samples between frame starts).
 *
 * Formats: PCM int16 (full scale 32768); MFCC int16 q8.7 (FRNN_FRONTEND_Q15) or int32 (q31 front
 * end), widened to int32 by frnn_mfcc_frame; features int8 with the model's input zero point
 * (FR_INPUT_ZERO_POINT); logits int8 with FR_HEAD_OUTPUT_ZERO_POINT (argmax = the class).
 *
 * Call order, streaming PCM (docs/CONTRACT.md; equals fixedrnn.engine.features + run_features):
 *   frnn_init();                          once per utterance
 *   frnn_push_samples(pcm, n);            any number of times, chunks of any size
 *   frnn_end_utterance();                 the utterance is over
 *   frnn_result(logits);                  whenever a decision is wanted (any time after init)
 * Framing is fixedrnn.mfcc.frames': frames start at 0, hop, 2*hop, ... and end inside the pushed
 * samples; an utterance shorter than one frame gives one frame padded with zeros. The window holds
 * the last T frames' features; before T frames it is left-padded with the features of an all-zero
 * frame (fr_silence_features).
 * Other entry points: frames (frnn_push_frame), MFCC (frnn_normalize + frnn_push_features) or int8
 * features (frnn_push_features, or a whole window at once with frnn_run_features).
 */
#ifndef FRNN_API_H
#define FRNN_API_H

#include <stdint.h>

#include "frnn_model.h"

/* Window = T silent-frame feature vectors, cell state reset, framing restarted. */
void frnn_init(void);
/* PCM in, n >= 0 samples: every time N samples of a frame are there (the first N, then every hop),
 * that frame goes through frnn_push_frame. */
void frnn_push_samples(const int16_t *samples, int32_t n);
/* End of an utterance: one zero-padded frame if fewer than N samples came since frnn_init; the
 * framing restarts (the window is kept). */
void frnn_end_utterance(void);
/* One frame[FRNN_FFT_LENGTH] -> MFCC -> int8 features -> window. */
void frnn_push_frame(const int16_t *frame);
/* MFCC only: frame[FRNN_FFT_LENGTH] -> mfcc[FRNN_N_FEATURES] (q8.7 or q31 values, as int32). */
void frnn_mfcc_frame(const int16_t *frame, int32_t *mfcc);
/* docs/CONTRACT.md step 3: mfcc[FRNN_N_FEATURES] -> int8 x[FRNN_N_FEATURES]; per coefficient c,
 * clamp(FR_INPUT_ZERO_POINT + frnn_mbqm(mfcc[c] - offset[c], multiplier[c], shift[c]), -128, 127). */
void frnn_normalize(const int32_t *mfcc, int8_t *x);
/* Slide the window by one frame: x[FRNN_N_FEATURES] becomes its last row. */
void frnn_push_features(const int8_t *x);
/* The window, int8 [FRNN_FRAMES][FRNN_N_FEATURES], oldest frame first. */
const int8_t *frnn_window(void);
/* Cell over the window from the reset state, then the head: logits[FRNN_N_CLASSES]. */
void frnn_result(int8_t *logits);
/* The same on a window x[FRNN_FRAMES][FRNN_N_FEATURES] given by the caller. */
void frnn_run_features(const int8_t *x, int8_t *logits);

/* The pieces of frnn_run_features: cell state reset (hidden state = its zero point, LSTM cell state
 * = 0), one cell step on x[FRNN_N_FEATURES] (RNN or LSTM, TFLM int8 semantics,
 * docs/model-format.md), the head on the hidden state: logits[FRNN_N_CLASSES]. */
void frnn_cell_reset(void);
void frnn_cell_step(const int8_t *x);
void frnn_head(int8_t *logits);

#endif
