/* The pipeline around the cell (frnn_api.h): PCM framing, MFCC of a frame, int8 normalisation, the
 * feature window, the head, init and result. The model's tables and buffers are the fr_* objects of
 * the generated frnn_model.c (declared in frnn_model.h). A streaming export (FRNN_STREAM) uses the
 * framing, MFCC, normalisation and head of this file; frnn_stream.c defines its frnn_push_frame, and
 * the window's functions are left out. An endpointing export (FRNN_ENDPOINT) keeps the last
 * FRNN_ENDPOINT_SEARCH frames' features and energies instead of the window and runs the cell on the
 * endpointed segment (fixedrnn.endpoint.segment, line for line). A cepstral mean normalisation
 * export (FRNN_CMN, input.cmn = window) holds the frames' front-end outputs instead of their int8
 * features (in the window, or with FRNN_ENDPOINT in the held frames) and frnn_result removes the
 * window's mean per coefficient before it normalises each row (fixedrnn.cepstral_mean). A streaming
 * export per segment (FRNN_STREAM_PER_SEGMENT, fixedrnn.segment_stream) holds the last T + 1 frames'
 * front-end outputs in a ring (frnn_hold_mfcc) and runs the model once on a segment's window
 * (frnn_segment_result), with or without FRNN_CMN.
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
#if defined(FRNN_CMN) && defined(FRNN_STREAM) && !defined(FRNN_STREAM_PER_SEGMENT)
#error "FRNN_CMN is an option of the window firmware or the per-segment streaming firmware"
#endif
#if defined(FRNN_STREAM_PER_SEGMENT) && !defined(FRNN_STREAM)
#error "FRNN_STREAM_PER_SEGMENT is an option of the streaming firmware"
#endif

/* A held row: what the window (fr_features) or the endpointing firmware's held frames
   (fr_endpoint_features) keep of a frame, and the silent frame's (the left padding): its int8
   features; with FRNN_CMN or FRNN_STREAM_PER_SEGMENT its front-end output (fr_window_mfcc,
   fr_endpoint_mfcc, fr_segment_mfcc, fr_silence_mfcc), int16 q8.7 (q15) or int32 q8.23 (q31), of
   which CMN_SUM_T holds the exact sum of T <= 10000 rows and the difference of two; ROW_MIN,
   ROW_MAX: the row type's range. */
#if defined(FRNN_CMN) || defined(FRNN_STREAM_PER_SEGMENT)
#if defined(FRNN_FRONTEND_Q31)
#define FRNN_ROW_T int32_t
#define CMN_SUM_T int64_t
#define ROW_MIN INT32_MIN
#define ROW_MAX INT32_MAX
#else
#define FRNN_ROW_T int16_t
#define CMN_SUM_T int32_t
#define ROW_MIN INT16_MIN
#define ROW_MAX INT16_MAX
#endif
#define SILENT_ROW fr_silence_mfcc
#define WINDOW_ROWS fr_window_mfcc
#define HELD_ROWS fr_endpoint_mfcc
#else
#define FRNN_ROW_T int8_t
#define SILENT_ROW fr_silence_features
#define WINDOW_ROWS fr_features
#define HELD_ROWS fr_endpoint_features
#endif
#define ROW_BYTES (FRNN_N_FEATURES * sizeof(FRNN_ROW_T))

#if !defined(FRNN_STREAM)
/* rows[n][FRNN_N_FEATURES] (oldest first) slide by one: the oldest is dropped, row becomes the last. */
FRNN_INLINE void slide_in(FRNN_ROW_T *rows, int32_t n, const FRNN_ROW_T *row)
{
    memmove(rows, rows + FRNN_N_FEATURES, (size_t)(n - 1) * ROW_BYTES);
    memcpy(rows + (n - 1) * FRNN_N_FEATURES, row, ROW_BYTES);
}
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

#if defined(FRNN_CMN) && !defined(FRNN_STREAM)
void frnn_push_frame(const int16_t *frame)
{
    int32_t mfcc[FRNN_N_FEATURES];
    frnn_mfcc_frame(frame, mfcc);
    frnn_push_mfcc(mfcc);
}

void frnn_push_mfcc(const int32_t *mfcc)
{
    FRNN_ROW_T row[FRNN_N_FEATURES];
    for (int c = 0; c < FRNN_N_FEATURES; ++c) {
        row[c] = (FRNN_ROW_T)mfcc[c]; /* a q15 front end's outputs are int16 */
    }
#if defined(FRNN_ENDPOINT)
    slide_in(HELD_ROWS, FRNN_ENDPOINT_SEARCH, row);
    if (fr_endpoint_count[0] < FRNN_ENDPOINT_SEARCH) {
        fr_endpoint_count[0] += 1;
    }
#else
    slide_in(WINDOW_ROWS, FRNN_FRAMES, row);
#endif
}
#elif !defined(FRNN_STREAM)
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
        memcpy(WINDOW_ROWS + t * FRNN_N_FEATURES, SILENT_ROW, ROW_BYTES);
    }
    frnn_cell_reset();
    fr_audio_count[0] = 0;
}
#endif

#if !defined(FRNN_STREAM) && !defined(FRNN_ENDPOINT) && !defined(FRNN_CMN)
void frnn_push_features(const int8_t *x)
{
    slide_in(fr_features, FRNN_FRAMES, x);
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

#if !defined(FRNN_CMN)
/* The held frames are the last fr_endpoint_count[0] rows of fr_endpoint_features / fr_endpoint_energy
   (oldest first); both slide by one row per frame, as the window does. */
void frnn_push_features_energy(const int8_t *x, int32_t energy)
{
    slide_in(fr_endpoint_features, FRNN_ENDPOINT_SEARCH, x);
    memmove(fr_endpoint_energy, fr_endpoint_energy + 1, (FRNN_ENDPOINT_SEARCH - 1) * sizeof(int16_t));
    fr_endpoint_energy[FRNN_ENDPOINT_SEARCH - 1] = (int16_t)energy;
    if (fr_endpoint_count[0] < FRNN_ENDPOINT_SEARCH) {
        fr_endpoint_count[0] += 1;
    }
}

/* The held energies, one per held frame: ENERGY_AT(w, j) of the j-th from w. */
#define FRNN_ENERGY_T int16_t
#define HELD_ENERGIES fr_endpoint_energy
#define ENERGY_STRIDE 1
#define ENERGY_AT(w, j) ((w)[j])
#else
/* FRNN_CMN: a held frame's energy is frnn_frame_energy of its front-end output's coefficient 0
   (the held frames are the last fr_endpoint_count[0] rows of fr_endpoint_mfcc, frnn_push_mfcc). */
FRNN_INLINE int32_t row_energy(const FRNN_ROW_T *row)
{
    const int32_t mfcc0 = row[0];
    return frnn_frame_energy(&mfcc0);
}
#define FRNN_ENERGY_T FRNN_ROW_T
#define HELD_ENERGIES fr_endpoint_mfcc
#define ENERGY_STRIDE FRNN_N_FEATURES
#define ENERGY_AT(w, j) row_energy((w) + (j) * FRNN_N_FEATURES)
#endif

/* fixedrnn.endpoint.segment on the k held frames w (k <= search): lo, hi, threshold, first and last
   loud frame, the segment [start, stop) of w. */
frnn_segment frnn_endpoint_segment(void)
{
    const int32_t k = (int32_t)fr_endpoint_count[0];
    const FRNN_ENERGY_T *w = HELD_ENERGIES + (FRNN_ENDPOINT_SEARCH - k) * ENERGY_STRIDE;
    frnn_segment seg = {k, 0, k};
    if (k == 0) {
        return seg;
    }
    int32_t lo = ENERGY_AT(w, 0), hi = ENERGY_AT(w, 0);
    for (int32_t j = 1; j < k; ++j) {
        lo = ENERGY_AT(w, j) < lo ? ENERGY_AT(w, j) : lo;
        hi = ENERGY_AT(w, j) > hi ? ENERGY_AT(w, j) : hi;
    }
    const int32_t range = (hi - lo) >> FRNN_ENDPOINT_RANGE_SHIFT; /* hi - lo >= 0 */
    const int32_t threshold = lo + (FRNN_ENDPOINT_MARGIN > range ? FRNN_ENDPOINT_MARGIN : range);
    int32_t first = -1, last = -1;
    for (int32_t j = 0; j < k; ++j) {
        if (ENERGY_AT(w, j) > threshold) {
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

/* Row t of the endpointed window of seg: the silent frame's row for t < T - L, else the segment's
   frame stop - T + t (L = min(stop - start, T): the segment's last L frames). */
static const FRNN_ROW_T *endpoint_row(frnn_segment seg, int32_t t)
{
    const int32_t length = seg.stop - seg.start < FRNN_FRAMES ? seg.stop - seg.start : FRNN_FRAMES;
    if (t < FRNN_FRAMES - length) {
        return SILENT_ROW;
    }
    const int32_t row = FRNN_ENDPOINT_SEARCH - seg.held + seg.stop - FRNN_FRAMES + t;
    return HELD_ROWS + row * FRNN_N_FEATURES;
}

#if !defined(FRNN_CMN)
void frnn_endpoint_window(int8_t *x)
{
    const frnn_segment seg = frnn_endpoint_segment();
    for (int32_t t = 0; t < FRNN_FRAMES; ++t) {
        memcpy(x + t * FRNN_N_FEATURES, endpoint_row(seg, t), FRNN_N_FEATURES);
    }
}
#endif
#endif

#if defined(FRNN_STREAM_PER_SEGMENT)
/* The window of a segment: its last `length` rows are the held frames first .. first + length - 1
   (ring slot frame mod (T + 1)), the T - length rows before them the silent frame's. */
typedef struct {
    int32_t first;
    int32_t length;
} window_rows_t;
FRNN_INLINE const FRNN_ROW_T *window_row(window_rows_t rows, int32_t t)
{
    if (t < FRNN_FRAMES - rows.length) {
        return SILENT_ROW;
    }
    const int32_t frame = rows.first + t - (FRNN_FRAMES - rows.length);
    return fr_segment_mfcc + (frame % (FRNN_FRAMES + 1)) * FRNN_N_FEATURES;
}

void frnn_hold_mfcc(int32_t t, const int32_t *mfcc)
{
    FRNN_ROW_T *row = fr_segment_mfcc + (t % (FRNN_FRAMES + 1)) * FRNN_N_FEATURES;
    for (int c = 0; c < FRNN_N_FEATURES; ++c) {
        row[c] = (FRNN_ROW_T)mfcc[c]; /* a q15 front end's outputs are int16 */
    }
}
#endif

#if defined(FRNN_CMN)
/* The window's T rows of front-end outputs: window_row(rows, t), t = 0 (oldest) .. T - 1, of the
   rows window_rows() finds: with FRNN_ENDPOINT the endpointed window of the held frames' segment,
   with FRNN_STREAM_PER_SEGMENT the segment's (above, given by frnn_segment_result), else
   fr_window_mfcc. */
#if defined(FRNN_STREAM_PER_SEGMENT)
#elif defined(FRNN_ENDPOINT)
typedef frnn_segment window_rows_t;
FRNN_INLINE window_rows_t window_rows(void)
{
    return frnn_endpoint_segment();
}
#define window_row endpoint_row
#else
typedef int32_t window_rows_t; /* nothing to find */
FRNN_INLINE window_rows_t window_rows(void)
{
    return 0;
}
FRNN_INLINE const FRNN_ROW_T *window_row(window_rows_t rows, int32_t t)
{
    return fr_window_mfcc + t * FRNN_N_FEATURES;
}
#endif

/* fixedrnn.cepstral_mean.window_mean: mean[c] = floor(sum_t row_t[c] / T), the sum exact (CMN_SUM_T)
   and C's division (toward zero) moved down by one where it rounded a negative sum up. */
static void cmn_means(window_rows_t rows, int32_t *mean)
{
    CMN_SUM_T sum[FRNN_N_FEATURES];
    memset(sum, 0, sizeof sum);
    for (int32_t t = 0; t < FRNN_FRAMES; ++t) {
        const FRNN_ROW_T *row = window_row(rows, t);
        for (int c = 0; c < FRNN_N_FEATURES; ++c) {
            sum[c] += row[c];
        }
    }
    for (int c = 0; c < FRNN_N_FEATURES; ++c) {
        const CMN_SUM_T q = sum[c] / FRNN_FRAMES;
        mean[c] = (int32_t)(q * FRNN_FRAMES > sum[c] ? q - 1 : q);
    }
}

/* One row of the window the cell reads (fixedrnn.cepstral_mean.remove_window_mean, then
   frnn_normalize): x[c] from row[c] - mean[c] saturated to the row type's range (int16 / int32). */
static void cmn_features(const FRNN_ROW_T *row, const int32_t *mean, int8_t *x)
{
    int32_t centred[FRNN_N_FEATURES];
    for (int c = 0; c < FRNN_N_FEATURES; ++c) {
        const CMN_SUM_T d = (CMN_SUM_T)row[c] - mean[c];
        centred[c] = (int32_t)(d < ROW_MIN ? ROW_MIN : (d > ROW_MAX ? ROW_MAX : d));
    }
    frnn_normalize(centred, x);
}

#if !defined(FRNN_STREAM)
void frnn_cmn_window(int8_t *x)
{
    const window_rows_t rows = window_rows();
    int32_t mean[FRNN_N_FEATURES];
    cmn_means(rows, mean);
    for (int32_t t = 0; t < FRNN_FRAMES; ++t) {
        cmn_features(window_row(rows, t), mean, x + t * FRNN_N_FEATURES);
    }
}

/* frnn_result's cell and head over the window of frnn_cmn_window, one row at a time; a graph model's
   graph over that window, written to fr_graph_window. */
static void cmn_result(int8_t *logits)
{
#if defined(FRNN_CELL_GRAPH) /* the graph reads a whole int8 window */
    frnn_cmn_window(fr_graph_window);
    frnn_run_features(fr_graph_window, logits);
#else
    const window_rows_t rows = window_rows();
    int32_t mean[FRNN_N_FEATURES];
    cmn_means(rows, mean);
    frnn_cell_reset();
    for (int32_t t = 0; t < FRNN_FRAMES; ++t) {
        int8_t x[FRNN_N_FEATURES];
        cmn_features(window_row(rows, t), mean, x);
        frnn_cell_step(x);
    }
    frnn_head(logits);
#endif
}
#endif
#endif

#if defined(FRNN_STREAM_PER_SEGMENT)
/* Row t of a segment's window as int8 features: with FRNN_CMN less the window's mean (cmn_features),
   else normalised as it is (frnn_normalize of the row widened to int32; mean unread). */
FRNN_INLINE void segment_features(window_rows_t rows, int32_t t, const int32_t *mean, int8_t *x)
{
    const FRNN_ROW_T *row = window_row(rows, t);
#if defined(FRNN_CMN)
    cmn_features(row, mean, x);
#else
    int32_t wide[FRNN_N_FEATURES];
    for (int c = 0; c < FRNN_N_FEATURES; ++c) {
        wide[c] = row[c];
    }
    frnn_normalize(wide, x);
#endif
}

/* fixedrnn.segment_stream.SegmentStream._segment_logits: the window of the frames
   max(start - preroll, end - T + 1, 0) .. end (held: end >= the last frame held - T), left-padded
   with the silent frame's output; with FRNN_CMN less its mean; each row normalised, a cell step from
   the reset state; then the head. A graph model (FRNN_CELL_GRAPH) normalises the rows into the int8
   window fr_segment_window and runs its graph on it (frnn_run_features). */
void frnn_segment_result(int32_t start, int32_t end, int8_t *logits)
{
    int32_t first = start - FRNN_STREAM_PREROLL;
    first = first > end - FRNN_FRAMES + 1 ? first : end - FRNN_FRAMES + 1;
    first = first > 0 ? first : 0;
    const window_rows_t rows = {first, end - first + 1};
    int32_t mean[FRNN_N_FEATURES];
#if defined(FRNN_CMN)
    cmn_means(rows, mean);
#endif
#if defined(FRNN_CELL_GRAPH)
    for (int32_t t = 0; t < FRNN_FRAMES; ++t) {
        segment_features(rows, t, mean, fr_segment_window + t * FRNN_N_FEATURES);
    }
    frnn_run_features(fr_segment_window, logits);
#else
    frnn_cell_reset();
    for (int32_t t = 0; t < FRNN_FRAMES; ++t) {
        int8_t x[FRNN_N_FEATURES];
        segment_features(rows, t, mean, x);
        frnn_cell_step(x);
    }
    frnn_head(logits);
#endif
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
#if defined(FRNN_CMN)
    cmn_result(fr_logits);
#elif defined(FRNN_ENDPOINT)
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
