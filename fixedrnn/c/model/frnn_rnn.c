/* The vanilla RNN cell, TFLM int8 semantics (docs/model-format.md):
 *   h_t = TANH(ADD(FC(x_t), FC(h_{t-1})))
 * x_t int8 [FRNN_N_FEATURES] (zero point FR_INPUT_ZERO_POINT), h int8 [FRNN_UNITS] (fr_hidden, scale
 * 1/128, zero point 0), both FCs int8 out with their own zero points, ADD int8 (TFLM AddFunc,
 * left shift 20), TANH int8 (gemmlowp's fixed-point tanh, looked up in fr_tanh_table: its value on
 * every int8 input, index x + 128, computed by the exporter from the prepared op). Weights int8 or power-of-two codes
 * (frnn_cell.h). Buffers: fr_gate_scratch int8 [2][FRNN_UNITS]: the input FC output (then the ADD
 * output, in place) and the recurrent FC output.
 */
#include <string.h>

#include "frnn_cell.h"

#if !defined(FRNN_CELL_RNN)
#error "frnn_rnn.c is the RNN cell: frnn_model.h is for another cell"
#endif

static const frnn_fc_params input_fc = {
    -(FR_INPUT_ZERO_POINT), FR_RNN_INPUT_FC_OUTPUT_ZERO_POINT, -128, 127,
    FRNN_RNN_INPUT_FC_MULTIPLIER, FRNN_RNN_INPUT_FC_SHIFT, FRNN_RNN_INPUT_FC_PER_CHANNEL};
static const frnn_fc_params recurrent_fc = {
    -(FRNN_HIDDEN_ZERO_POINT), FR_RNN_RECURRENT_FC_OUTPUT_ZERO_POINT, -128, 127,
    FRNN_RNN_RECURRENT_FC_MULTIPLIER, FRNN_RNN_RECURRENT_FC_SHIFT, FRNN_RNN_RECURRENT_FC_PER_CHANNEL};
static const frnn_add_params add_params = {
    -(FR_RNN_INPUT_FC_OUTPUT_ZERO_POINT), -(FR_RNN_RECURRENT_FC_OUTPUT_ZERO_POINT), FR_RNN_ADD_OUTPUT_ZERO_POINT, 20,
    FR_RNN_ADD_INPUT1_MULTIPLIER, FR_RNN_ADD_INPUT1_SHIFT, FR_RNN_ADD_INPUT2_MULTIPLIER, FR_RNN_ADD_INPUT2_SHIFT,
    FR_RNN_ADD_OUTPUT_MULTIPLIER, FR_RNN_ADD_OUTPUT_SHIFT, -128, 127};

void frnn_cell_reset(void)
{
    memset(fr_hidden, FRNN_HIDDEN_ZERO_POINT, sizeof fr_hidden); /* h = 0 */
}

void frnn_cell_step(const int8_t *x)
{
    int8_t *a = fr_gate_scratch, *r = fr_gate_scratch + FRNN_UNITS;
    FRNN_FC_S8(x, FRNN_RNN_INPUT_FC_WEIGHTS, 0, FRNN_RNN_INPUT_FC_BIAS, FRNN_N_FEATURES, FRNN_UNITS, &input_fc, a);
    FRNN_FC_S8(fr_hidden, FRNN_RNN_RECURRENT_FC_WEIGHTS, 0, FRNN_RNN_RECURRENT_FC_BIAS, FRNN_UNITS, FRNN_UNITS,
               &recurrent_fc, r);
    frnn_add_s8(a, r, FRNN_UNITS, &add_params, a);
    for (int i = 0; i < FRNN_UNITS; ++i) {
        fr_hidden[i] = fr_tanh_table[a[i] + 128];
    }
}
