/* Streaming keyword spotting (frnn_api.h, FRNN_STREAM; docs/streaming.md): samples in, per frame
 * MFCC -> int8 features -> VAD -> cell reset with pre-roll -> cell step -> head scores -> decision
 * rule -> at most one detection. Equals fixedrnn.stream.KeywordStream, integer for integer:
 *
 *   framing  frnn_push_samples (frnn_pipeline.c): frame t = samples [t*hop, t*hop + N), complete
 *            frames only; each goes through frnn_push_frame below as its last sample arrives;
 *   VAD      fixedrnn/vad.py: e = mfcc[0] (q15) or mfcc[0] >> 16 (q31), q8.7; noise floor
 *            fr_vad_floor and spread fr_vad_spread (q8.7 with FRNN_VAD_FLOOR_FRAC more fraction
 *            bits), hangover fr_vad_hang;
 *   reset    a frame that is active while no segment is open restarts the cell from its initial
 *            state, steps it FRNN_STREAM_SILENCE times on fr_silence_features, and re-runs the
 *            FRNN_STREAM_PREROLL frames before it (fewer at the start) from the ring fr_preroll
 *            (slot t mod P);
 *   decision fixedrnn/decision.py: the segment's last FRNN_DECISION_WINDOW scores in the ring
 *            fr_decision_scores (slot (t - start) mod W), its loud frames, the last detection;
 *            a top class that is not a keyword (FRNN_IS_KEYWORD: labels like "_filler_") gives none.
 * Per segment (FRNN_STREAM_PER_SEGMENT; equals fixedrnn.segment_stream.SegmentStream): no int8
 * features, cell step or head per frame; the frame's front-end output goes into the ring
 * fr_segment_mfcc (frnn_hold_mfcc), and a segment with enough loud frames is decided on the
 * model's logits of its window (frnn_segment_result, frnn_pipeline.c: n = 1 score).
 * Every constant is a macro frnn_model.h takes from the Python configuration (fixedrnn.c_export).
 * `>>` of a negative int32 is an arithmetic shift (floor division by 2^k), as the kernels assume
 * (frnn_kernels.h); a left shift of a possibly negative value is written as a multiplication.
 */
#include <string.h>

#include "frnn_cell.h"

#if !defined(FRNN_STREAM)
#error "frnn_stream.c is the streaming pipeline: frnn_model.h was exported without a stream configuration"
#endif

#define FLOOR_ONE ((int32_t)1 << FRNN_VAD_FLOOR_FRAC) /* 1.0 of the floor's extra fraction bits */
#define NO_SEGMENT (-1)
#define NO_LABEL (-1)

void frnn_stream_init(void)
{
    fr_audio_count[0] = 0;
    fr_stream_frames[0] = 0;
    fr_vad_floor[0] = 0; /* set by the first frame */
    fr_vad_spread[0] = 0;
    fr_vad_hang[0] = 0;
    fr_segment_start[0] = NO_SEGMENT;
    fr_segment_loud[0] = 0;
    fr_last_label[0] = NO_LABEL;
    fr_last_decided[0] = 0;
    frnn_cell_reset();
}

/* The frame's energy e, q8.7, from its MFCC (q8.7, or q8.23 for a q31 front end). */
static int32_t frame_energy(const int32_t *mfcc)
{
#if defined(FRNN_FRONTEND_Q31)
    return mfcc[0] >> 16;
#else
    return mfcc[0];
#endif
}

/* fixedrnn.vad.Vad.update: energy e of frame t -> raw (loud) and active (speech). */
static void vad_update(int32_t t, int32_t e, uint8_t *raw, uint8_t *active)
{
    if (t == 0) {
        fr_vad_floor[0] = e * FLOOR_ONE;
        fr_vad_spread[0] = FRNN_VAD_SPREAD_START * FLOOR_ONE;
    }
    const int32_t floor = fr_vad_floor[0], spread = fr_vad_spread[0];
    const int32_t level = e - (floor >> FRNN_VAD_FLOOR_FRAC);
    *raw = level > FRNN_VAD_MARGIN + ((FRNN_VAD_SPREAD_GAIN * (spread >> FRNN_VAD_FLOOR_FRAC)) >> 2);
    const int keep = fr_vad_hang[0] > 0 && level > FRNN_VAD_KEEP_MARGIN;
    fr_vad_hang[0] = (*raw || keep) ? FRNN_VAD_HANGOVER : (fr_vad_hang[0] > 0 ? fr_vad_hang[0] - 1 : 0);
    if (!*raw) {
        const int32_t deviation = level < 0 ? -level : level;
        fr_vad_spread[0] = spread + ((deviation * FLOOR_ONE - spread) >> FRNN_VAD_SPREAD_SHIFT);
    }
    const int32_t scaled = e * FLOOR_ONE;
    if (scaled > floor) {
        fr_vad_floor[0] = floor + FRNN_VAD_RISE;
    } else if (scaled < floor) {
        fr_vad_floor[0] = floor - FRNN_VAD_FALL;
    }
    *active = fr_vad_hang[0] > 0;
}

/* fixedrnn.decision.Decider._decide: the open segment, its last frame `end`, decided at frame t;
 * 1 and *out for a detection, else 0. A segment with fewer than FRNN_DECISION_MIN_LOUD loud frames
 * gives none (per segment, the model does not run). The kept scores are the n = min(end - start +
 * 1, W) slots 0..n-1 of the ring (per segment: n = 1, the logits of the segment's window);
 * score = floor(sum[top] / n). */
static int32_t decide(int32_t t, int32_t end, frnn_detection *out)
{
    const int32_t start = fr_segment_start[0], loud = fr_segment_loud[0];
    fr_segment_start[0] = NO_SEGMENT;
    fr_segment_loud[0] = 0;
    if (loud < FRNN_DECISION_MIN_LOUD) {
        return 0;
    }
#if defined(FRNN_STREAM_PER_SEGMENT)
    frnn_segment_result(start, end, fr_logits);
    const int8_t *kept = fr_logits;
    const int32_t n = 1;
#else
    const int8_t *kept = fr_decision_scores;
    const int32_t count = end - start + 1;
    const int32_t n = count < FRNN_DECISION_WINDOW ? count : FRNN_DECISION_WINDOW;
#endif
    int32_t top = 0, top_sum = 0;
    for (int32_t c = 0; c < FRNN_N_CLASSES; ++c) {
        int32_t sum = 0;
        for (int32_t k = 0; k < n; ++k) {
            sum += kept[k * FRNN_N_CLASSES + c];
        }
        if (c == 0 || sum > top_sum) {
            top = c;
            top_sum = sum;
        }
    }
    int32_t score = top_sum / n; /* C truncates toward zero: floor for a negative remainder */
    if (top_sum % n != 0 && top_sum < 0) {
        score -= 1;
    }
    if (score < FRNN_DECISION_THRESHOLD) {
        return 0;
    }
    if (!FRNN_IS_KEYWORD(top)) { /* a filler class (_filler_, _unknown_, ...): no detection */
        return 0;
    }
    if (top == fr_last_label[0] && t - fr_last_decided[0] < FRNN_DECISION_SUPPRESSION) {
        return 0;
    }
    fr_last_label[0] = top;
    fr_last_decided[0] = t;
    out->label = top;
    out->start = start;
    out->end = end;
    out->decided = t;
    out->score = score;
    return 1;
}

/* fixedrnn.decision.Decider.update for frame t (its scores in fr_logits; per segment, none). */
static int32_t decision_update(int32_t t, uint8_t raw, uint8_t active, frnn_detection *out)
{
    if (!active) {
        return fr_segment_start[0] != NO_SEGMENT ? decide(t, t - 1, out) : 0;
    }
    if (fr_segment_start[0] == NO_SEGMENT) {
        fr_segment_start[0] = t;
    }
#if !defined(FRNN_STREAM_PER_SEGMENT)
    const int32_t slot = (t - fr_segment_start[0]) % FRNN_DECISION_WINDOW;
    memcpy(fr_decision_scores + slot * FRNN_N_CLASSES, fr_logits, FRNN_N_CLASSES);
#endif
    fr_segment_loud[0] += raw;
    if (t - fr_segment_start[0] + 1 >= FRNN_DECISION_MAX_FRAMES) {
        return decide(t, t, out);
    }
    return 0;
}

/* The start of frame t's record: its MFCC, energy and VAD flags, no detection yet. */
static void begin_frame(int32_t t, const int16_t *frame, int32_t *mfcc, frnn_stream_frame *f)
{
    frnn_mfcc_frame(frame, mfcc);
    f->index = t;
    f->mfcc = mfcc;
    f->energy = frame_energy(mfcc);
    vad_update(t, f->energy, &f->raw, &f->active);
    memset(&f->detection, 0, sizeof f->detection);
}

#if defined(FRNN_STREAM_PER_SEGMENT)
void frnn_push_frame(const int16_t *frame)
{
    int32_t mfcc[FRNN_N_FEATURES];
    frnn_stream_frame f;
    const int32_t t = fr_stream_frames[0];
    begin_frame(t, frame, mfcc, &f);
    frnn_hold_mfcc(t, mfcc);
    f.reset = 0; /* no cell state carried from frame to frame */
    f.detected = (uint8_t)decision_update(t, f.raw, f.active, &f.detection);
    f.features = 0;
    f.hidden = 0;
    f.scores = 0;
    fr_stream_frames[0] = t + 1;
    frnn_stream_frame_done(&f);
}
#else
/* The cell's initial state, FRNN_STREAM_SILENCE steps on the silent frame, then the pre-roll
 * frames before t, oldest first. */
static void restart(int32_t t)
{
    frnn_cell_reset();
#if FRNN_STREAM_SILENCE > 0
    for (int32_t j = 0; j < FRNN_STREAM_SILENCE; ++j) {
        frnn_cell_step(fr_silence_features);
    }
#endif
#if FRNN_STREAM_PREROLL > 0
    for (int32_t j = t < FRNN_STREAM_PREROLL ? 0 : t - FRNN_STREAM_PREROLL; j < t; ++j) {
        frnn_cell_step(fr_preroll + (j % FRNN_STREAM_PREROLL) * FRNN_N_FEATURES);
    }
#endif
}

void frnn_push_frame(const int16_t *frame)
{
    int32_t mfcc[FRNN_N_FEATURES];
    int8_t x[FRNN_N_FEATURES];
    frnn_stream_frame f;
    const int32_t t = fr_stream_frames[0];
    begin_frame(t, frame, mfcc, &f);
    frnn_normalize(mfcc, x);
    f.reset = FRNN_STREAM_RESET && f.active && fr_segment_start[0] == NO_SEGMENT;
    if (f.reset) {
        restart(t);
    }
    frnn_cell_step(x);
    frnn_head(fr_logits);
    f.detected = (uint8_t)decision_update(t, f.raw, f.active, &f.detection);
#if FRNN_STREAM_PREROLL > 0
    memcpy(fr_preroll + (t % FRNN_STREAM_PREROLL) * FRNN_N_FEATURES, x, FRNN_N_FEATURES);
#endif
    f.features = x;
    f.hidden = fr_hidden;
    f.scores = fr_logits;
    fr_stream_frames[0] = t + 1;
    frnn_stream_frame_done(&f);
}
#endif

int32_t frnn_stream_finish(frnn_detection *detection)
{
    const int32_t t = fr_stream_frames[0];
    memset(detection, 0, sizeof *detection);
    return fr_segment_start[0] != NO_SEGMENT ? decide(t, t - 1, detection) : 0;
}
