/* The LSTM cell: one TFLM LstmStep, integer 8x8->16 (docs/model-format.md), gates i, f, g, o = 0..3
 * (the leading axis of the weights, biases, multipliers and shifts).
 *   gate k = act_k(FC_k(x_t) (+) FC_k(h_{t-1})), int16 Q3.12; act: sigmoid (i, f, o), tanh (g), by
 *            the int16 LUT kernels on fr_sigmoid_table; (+) saturating int16 add;
 *   c_t = f * c_{t-1} (+) i * g          int16 at scale 2^FR_LSTM_CELL_SCALE_POWER (fr_cell_state),
 *                                        clamped to [-FR_LSTM_CELL_CLIP, FR_LSTM_CELL_CLIP] if defined;
 *   h_t = o * tanh(c_t)                  int8, zero point FR_LSTM_HIDDEN_ZERO_POINT (fr_hidden).
 * Each FC: int8 x (or h) in, int16 out (zero point 0) requantized by the gate's multiplier/shift;
 * weights int8 or power-of-two codes (frnn_cell.h); only the input FC has a bias ([4][FRNN_UNITS]).
 * Buffers: fr_gate_scratch int16 [4][FRNN_UNITS] (TFLM's buffers 0-3).
 */
#include <string.h>

#include "frnn_cell.h"

#if !defined(FRNN_CELL_LSTM)
#error "frnn_lstm.c is the LSTM cell: frnn_model.h is for another cell"
#endif

/* Gate k (0..3) into out[FRNN_UNITS]; scratch[FRNN_UNITS] holds the recurrent FC. */
static void gate(int k, const int8_t *x, int16_t *out, int16_t *scratch)
{
    const frnn_fc_params px = {-(FR_INPUT_ZERO_POINT), 0, INT16_MIN, INT16_MAX,
                               FRNN_LSTM_INPUT_FC_MULTIPLIER + k, FRNN_LSTM_INPUT_FC_SHIFT + k, 0};
    const frnn_fc_params ph = {-(FRNN_HIDDEN_ZERO_POINT), 0, INT16_MIN, INT16_MAX,
                               FRNN_LSTM_RECURRENT_FC_MULTIPLIER + k, FRNN_LSTM_RECURRENT_FC_SHIFT + k, 0};
    FRNN_FC_S16(x, FRNN_LSTM_INPUT_FC_WEIGHTS, k * FRNN_UNITS * FRNN_N_FEATURES, FRNN_LSTM_INPUT_FC_BIAS + k * FRNN_UNITS,
                FRNN_N_FEATURES, FRNN_UNITS, &px, out);
    FRNN_FC_S16(fr_hidden, FRNN_LSTM_RECURRENT_FC_WEIGHTS, k * FRNN_UNITS * FRNN_UNITS, FRNN_LSTM_RECURRENT_FC_BIAS,
                FRNN_UNITS, FRNN_UNITS, &ph, scratch);
    frnn_add_s16_sat(out, scratch, FRNN_UNITS, out);
    if (k == 2) {
        frnn_tanh_s16(out, FRNN_UNITS, 3, 0, fr_sigmoid_table, out); /* Q3.12 in (P = -12): shift 0 */
    } else {
        frnn_sigmoid_s16(out, FRNN_UNITS, 0, 0, fr_sigmoid_table, out);
    }
}

void frnn_cell_reset(void)
{
    memset(fr_cell_state, 0, sizeof fr_cell_state);
    memset(fr_hidden, FRNN_HIDDEN_ZERO_POINT, sizeof fr_hidden); /* int8 state = zero point */
}

void frnn_cell_step(const int8_t *x)
{
    int16_t *b0 = fr_gate_scratch, *b1 = b0 + FRNN_UNITS, *b2 = b1 + FRNN_UNITS, *b3 = b2 + FRNN_UNITS;
    static const frnn_mul_params forget_mul = {0, 0, 0, FR_LSTM_FORGET_MUL_MULTIPLIER,
                                               FR_LSTM_FORGET_MUL_SHIFT, INT16_MIN, INT16_MAX};
    static const frnn_mul_params input_mul = {0, 0, 0, FR_LSTM_INPUT_MUL_MULTIPLIER,
                                              FR_LSTM_INPUT_MUL_SHIFT, INT16_MIN, INT16_MAX};
    static const frnn_mul_params output_mul = {0, 0, FR_LSTM_HIDDEN_ZERO_POINT, FR_LSTM_OUTPUT_MUL_MULTIPLIER,
                                               FR_LSTM_OUTPUT_MUL_SHIFT, -128, 127};
    gate(1, x, b0, b1); /* forget */
    gate(0, x, b1, b2); /* input */
    gate(2, x, b2, b3); /* cell */
    frnn_mul_s16_s16(b0, fr_cell_state, FRNN_UNITS, &forget_mul, fr_cell_state);
    frnn_mul_s16_s16(b1, b2, FRNN_UNITS, &input_mul, b3);
    frnn_add_s16_sat(fr_cell_state, b3, FRNN_UNITS, fr_cell_state);
#if defined(FR_LSTM_CELL_CLIP)
    for (int u = 0; u < FRNN_UNITS; ++u) { /* TFLM's cell clip: the cell state within [-q, q] */
        if (fr_cell_state[u] > FR_LSTM_CELL_CLIP) {
            fr_cell_state[u] = FR_LSTM_CELL_CLIP;
        } else if (fr_cell_state[u] < -(FR_LSTM_CELL_CLIP)) {
            fr_cell_state[u] = -(FR_LSTM_CELL_CLIP);
        }
    }
#endif
    gate(3, x, b0, b1); /* output */
    {
        /* TFLM's int16 TANH input rescale for the cell scale 2^P: shift = 12 + P; shift >= 0:
         * multiplier 3 << shift (multiplier 0 says so); shift < 0: multiplier 3, then a rounding
         * right shift by -shift (frnn_kernels.h) */
        int32_t shift = 15 + FR_LSTM_CELL_SCALE_POWER - 3, multiplier = 0;
        if (shift < 0) {
            shift = -shift;
            multiplier = 3;
        }
        frnn_tanh_s16(fr_cell_state, FRNN_UNITS, multiplier, shift, fr_sigmoid_table, b1);
    }
    frnn_mul_s16_s8(b1, b0, FRNN_UNITS, &output_mul, fr_hidden);
}
