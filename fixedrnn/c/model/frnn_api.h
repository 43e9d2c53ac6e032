/* The public API of a fixedrnn firmware: keyword spotting from int16 PCM to int8 logits, C99.
 *
 * Files (`python -m fixedrnn export c MODEL.npz OUTDIR` writes them all into OUTDIR):
 *   frnn_api.h       this API (include it, nothing else);
 *   frnn_model.h/.c  generated: the model's sizes and integers as macros, its tables and buffers;
 *   frnn_pipeline.c  framing, MFCC -> int8 normalisation, feature window, head, init, result;
 *   frnn_rnn.c or frnn_lstm.c (the model's cell) and frnn_cell.h (what they share), or for a
 *                    graph model (an imported unrolled graph) frnn_graph.c, its graph executor;
 *   frnn_stream.c    a streaming export only (export_c(..., stream=StreamConfig)): the streaming
 *                    pipeline, FRNN_STREAM defined, the window API below left out;
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
 * Call order of a window export, PCM in chunks (docs/CONTRACT.md; equals fixedrnn.engine.features +
 * run_features):
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
 *
 * An endpointing export (export_c(..., endpoint=EndpointConfig), FRNN_ENDPOINT and the
 * FRNN_ENDPOINT_SEARCH, _MARGIN, _RANGE_SHIFT, _PRE, _POST macros of frnn_model.h; equals
 * fixedrnn.engine.features(model, pcm, endpoint) + run_features) has the same call order. It keeps
 * the int8 features and the energy (q8.7, frnn_frame_energy) of the last FRNN_ENDPOINT_SEARCH
 * frames instead of the window; frnn_result finds the segment of the held frames
 * (frnn_endpoint_segment: fixedrnn.endpoint.segment) and runs the cell from the reset state on
 * T - L silent-frame steps, then the segment's last L frames (L = min(segment length, T)), then the
 * head. There is no stored window (frnn_window and frnn_push_features are left out: a frame needs its
 * energy, frnn_push_features_energy); frnn_endpoint_window writes the window frnn_result reads into
 * a buffer of the caller.
 *
 * A model with cepstral mean normalisation (input.cmn = window, fixedrnn.cepstral_mean; FRNN_CMN in
 * frnn_model.h; window firmware, with or without FRNN_ENDPOINT; equals fixedrnn.engine.features(model,
 * pcm[, endpoint]) + run_features) has the same call order. Each frame's front-end output (int16 q8.7,
 * or int32 q8.23 for a q31 front end) is held instead of its int8 features: the last T frames
 * (fr_window_mfcc, left-padded with the silent frame's output fr_silence_mfcc), or with FRNN_ENDPOINT
 * the last FRNN_ENDPOINT_SEARCH frames (fr_endpoint_mfcc; a frame's energy is computed from its
 * coefficient 0, no energy is held). frnn_result takes the window's T rows (with FRNN_ENDPOINT the
 * endpointed ones, as above), per coefficient c the mean m[c] = floor(sum_t W[t][c] / T) (exact sum,
 * int32 for q15, int64 for q31; floor, toward -infinity), then per row the int8 features
 * frnn_normalize(sat(W[t][c] - m[c])) (saturated to int16 / int32) and a cell step; then the head. No
 * int8 window is stored: frnn_window, frnn_push_features, frnn_push_features_energy and
 * frnn_endpoint_window are left out; frames come in by frnn_push_frame or frnn_push_mfcc, and
 * frnn_cmn_window writes the int8 window frnn_result reads into a buffer of the caller. A graph model
 * (FRNN_CELL_GRAPH) with FRNN_CMN (window firmware, no FRNN_ENDPOINT) writes that window into
 * fr_graph_window and runs its graph on it.
 */
#ifndef FRNN_API_H
#define FRNN_API_H

#include <stdint.h>

#include "frnn_model.h"

#if !defined(FRNN_STREAM)
/* Window = T silent-frame feature vectors (FRNN_CMN: front-end outputs; FRNN_ENDPOINT: no frame
 * held), cell state reset, framing restarted. */
void frnn_init(void);
#endif
/* PCM in, n >= 0 samples: every time N samples of a frame are there (the first N, then every hop),
 * that frame goes through frnn_push_frame. */
void frnn_push_samples(const int16_t *samples, int32_t n);
#if !defined(FRNN_STREAM)
/* End of an utterance: one zero-padded frame if fewer than N samples came since frnn_init; the
 * framing restarts (the window is kept). */
void frnn_end_utterance(void);
#endif
/* One frame[FRNN_FFT_LENGTH] -> MFCC -> int8 features -> window (FRNN_CMN: MFCC -> window, by
 * frnn_push_mfcc; a streaming export: the whole per-frame streaming pipeline, below). */
void frnn_push_frame(const int16_t *frame);
/* MFCC only: frame[FRNN_FFT_LENGTH] -> mfcc[FRNN_N_FEATURES] (q8.7 or q31 values, as int32). */
void frnn_mfcc_frame(const int16_t *frame, int32_t *mfcc);
/* docs/CONTRACT.md step 3: mfcc[FRNN_N_FEATURES] -> int8 x[FRNN_N_FEATURES]; per coefficient c,
 * clamp(FR_INPUT_ZERO_POINT + frnn_mbqm(mfcc[c] - offset[c], multiplier[c], shift[c]), -128, 127). */
void frnn_normalize(const int32_t *mfcc, int8_t *x);
#if !defined(FRNN_STREAM) && !defined(FRNN_ENDPOINT) && !defined(FRNN_CMN)
/* Slide the window by one frame: x[FRNN_N_FEATURES] becomes its last row. */
void frnn_push_features(const int8_t *x);
/* The window, int8 [FRNN_FRAMES][FRNN_N_FEATURES], oldest frame first. */
const int8_t *frnn_window(void);
#endif
#if defined(FRNN_ENDPOINT)
/* The segment endpointing keeps: of the `held` last frames (frames since frnn_init, at most
 * FRNN_ENDPOINT_SEARCH), the frames [start, stop), numbered from the oldest held one (0 <= start <
 * stop <= held; 0, 0, 0 before the first frame). In fixedrnn.endpoint.segment's clip numbers of a
 * clip of n frames: [n - held + start, n - held + stop). */
typedef struct {
    int32_t held;
    int32_t start;
    int32_t stop;
} frnn_segment;
/* The energy of a frame, q8.7 (fixedrnn.vad.frame_energy): mfcc[0], or floor(mfcc[0] / 2^16) for a
 * q31 front end. */
int32_t frnn_frame_energy(const int32_t *mfcc);
/* The segment of the frames held now (fixedrnn.endpoint.segment, integers only). */
frnn_segment frnn_endpoint_segment(void);
#if !defined(FRNN_CMN)
/* One frame's int8 features x[FRNN_N_FEATURES] and energy (q8.7, int16 range) into the held frames;
 * the oldest is dropped once FRNN_ENDPOINT_SEARCH are held. frnn_push_frame calls it. */
void frnn_push_features_energy(const int8_t *x, int32_t energy);
/* The window frnn_result reads, into x[FRNN_FRAMES][FRNN_N_FEATURES]: the segment's last L frames
 * left-padded with the silent frame's features (fixedrnn.engine.features with the endpoint). */
void frnn_endpoint_window(int8_t *x);
#endif
#endif
#if defined(FRNN_CMN)
/* One frame's front-end output mfcc[FRNN_N_FEATURES] (as frnn_mfcc_frame gives it: int16 values for
 * a q15 front end) into the window (FRNN_ENDPOINT: the held frames, the oldest dropped once
 * FRNN_ENDPOINT_SEARCH are held). frnn_push_frame calls it. */
void frnn_push_mfcc(const int32_t *mfcc);
/* The int8 window frnn_result reads, into x[FRNN_FRAMES][FRNN_N_FEATURES]: the window's front-end
 * outputs less their mean, normalised row by row (fixedrnn.engine.features). */
void frnn_cmn_window(int8_t *x);
#endif
#if !defined(FRNN_STREAM)
/* Cell over the window (with FRNN_ENDPOINT: over the endpointed window; with FRNN_CMN: over the
 * window of frnn_cmn_window, computed row by row) from the reset state, then the head:
 * logits[FRNN_N_CLASSES]. */
void frnn_result(int8_t *logits);
#endif
#if !defined(FRNN_STREAM) || defined(FRNN_CELL_GRAPH)
/* The same on a window x[FRNN_FRAMES][FRNN_N_FEATURES] given by the caller (a graph model's
 * per-segment stream runs its graph so on each segment's window). */
void frnn_run_features(const int8_t *x, int8_t *logits);
#endif

/* The pieces of frnn_run_features: cell state reset (hidden state = its zero point, LSTM cell state
 * = 0), one cell step on x[FRNN_N_FEATURES] (RNN or LSTM, TFLM int8 semantics,
 * docs/model-format.md), the head on the hidden state: logits[FRNN_N_CLASSES]. A graph model
 * (FRNN_CELL_GRAPH: an imported unrolled graph, frnn_graph.c) runs its whole graph on the window in
 * frnn_run_features: it has frnn_cell_reset (which does nothing: no state between windows) but
 * no step or head of its own. */
void frnn_cell_reset(void);
#if !defined(FRNN_CELL_GRAPH)
void frnn_cell_step(const int8_t *x);
void frnn_head(int8_t *logits);
#endif

#if defined(FRNN_STREAM)
/* Streaming keyword spotting (docs/streaming.md; equals fixedrnn.stream.KeywordStream with the
 * exported StreamConfig, whose integers are the FRNN_VAD_*, FRNN_DECISION_* and FRNN_STREAM_* macros
 * of frnn_model.h). Call order:
 *   frnn_stream_init();                   once per stream
 *   frnn_push_samples(pcm, n);            any number of times, blocks of any size (n >= 0)
 *   frnn_stream_finish(&detection);       the stream is over: decides a segment still open
 * Frame t holds samples [t*FRNN_HOP, t*FRNN_HOP + FRNN_FFT_LENGTH); as its last sample arrives,
 * frnn_push_frame runs MFCC -> int8 features -> VAD -> (cell reset and pre-roll at a segment start)
 * -> cell step -> head -> decision, then calls frnn_stream_frame_done, which the application
 * defines. Frame numbers are int32 (2^31 frames: about a year at 16 ms per frame). Per segment
 * (FRNN_STREAM_PER_SEGMENT; equals fixedrnn.segment_stream.SegmentStream): MFCC -> held in a ring
 * -> VAD -> decision, which runs the model on a decided segment's window (frnn_segment_result). */
typedef struct {
    int32_t label;   /* class index, 0 .. FRNN_N_CLASSES - 1 */
    int32_t start;   /* first frame of the speech segment */
    int32_t end;     /* last frame of the segment */
    int32_t decided; /* frame at which it was decided */
    int32_t score;   /* floor of the mean int8 score of the label over the segment's last frames */
} frnn_detection;

typedef struct {
    int32_t index;           /* frame number since frnn_stream_init */
    int32_t energy;          /* the VAD's energy e, q8.7 */
    uint8_t raw;             /* 1: loud against the noise floor */
    uint8_t active;          /* 1: speech (a loud frame or its hangover) */
    uint8_t reset;           /* 1: this frame started a segment: cell reset and pre-roll re-run */
    uint8_t detected;        /* 1: `detection` holds a detection decided at this frame */
    const int32_t *mfcc;     /* the frame's front-end output [FRNN_N_FEATURES] (frnn_mfcc_frame) */
    const int8_t *features;  /* int8 features [FRNN_N_FEATURES] of the frame (per segment: NULL) */
    const int8_t *hidden;    /* int8 hidden state [FRNN_UNITS] after the step (per segment: NULL) */
    const int8_t *scores;    /* int8 head scores [FRNN_N_CLASSES] (per segment: NULL) */
    frnn_detection detection;
} frnn_stream_frame;

/* Start a stream: framing, VAD, decision and cell state back to their initial values. */
void frnn_stream_init(void);
/* Defined by the application: called once per frame, in order; the record and what it points to
 * are valid until it returns. */
void frnn_stream_frame_done(const frnn_stream_frame *frame);
/* End of the stream: 1 and *detection if the segment still open gives one (decided as if a frame
 * that is not speech followed the last one), else 0. */
int32_t frnn_stream_finish(frnn_detection *detection);
#if defined(FRNN_STREAM_PER_SEGMENT)
/* Per segment (FRNN_STREAM_PER_SEGMENT, fixedrnn.segment_stream: a model with cepstral mean
 * normalisation streams so): frame t's front-end output mfcc[FRNN_N_FEATURES] into the ring of the
 * last T + 1 frames (fr_segment_mfcc, slot t mod (T + 1)); frnn_push_frame calls it. */
void frnn_hold_mfcc(int32_t t, const int32_t *mfcc);
/* The model on the window of the segment start..end (end >= the last held frame - T): the frames
 * max(start - FRNN_STREAM_PREROLL, end - T + 1, 0) .. end left-padded with fr_silence_mfcc (with
 * FRNN_CMN less the window's mean), each row normalised and stepped from the reset state, then the
 * head: logits[FRNN_N_CLASSES]. The decision rule calls it when it decides a segment. */
void frnn_segment_result(int32_t start, int32_t end, int8_t *logits);
#endif
#endif

#endif
