/* CMSIS-NN's kernels at a fixedrnn cell's dimensions, for count_instructions.py --cmsis-nn: one marked
 * region (icount_markers.h) around one cell step of CMSIS-NN, built with the same startup, link script
 * and flags as the fixedrnn firmware. Compiled with CMSIS-NN's sources (a checkout of the public
 * ARM-software/CMSIS-NN repository, never part of this repository) and these macros:
 *   CNN_CELL 1: LSTM, arm_lstm_unidirectional_s8 for one time step (batch 1), its kernel sums made by
 *              arm_vector_sum_s8 outside the region, as CMSIS-NN's own unit test sets it up;
 *            2: RNN, arm_fully_connected_s8 (input FC, I -> H) + arm_fully_connected_s8 (recurrent FC,
 *              H -> H) + arm_elementwise_add_s8 (H): CMSIS-NN has no int8 TANH, so the RNN's TANH
 *              is not counted on CMSIS-NN's side.
 *   CNN_I, CNN_H: input features and units.
 * Weights and inputs are pseudo-random int8 (a fixed linear congruential sequence), the quantization
 * constants typical values (multipliers in [2^30, 2^31), right shifts): the kernels' instruction
 * counts depend on the data only through saturation branches. Exit status 0 when every call returns
 * ARM_CMSIS_NN_SUCCESS, 1 otherwise.
 */
#include <stdint.h>
#include <string.h>

#include "arm_nnfunctions.h"
#include "icount_markers.h"

#if !defined(CNN_CELL) || !defined(CNN_I) || !defined(CNN_H)
#error "define CNN_CELL (1 LSTM, 2 RNN), CNN_I and CNN_H"
#endif

static uint32_t lcg_state = 12345u;

static void fill_s8(int8_t *v, int n)
{
    for (int i = 0; i < n; ++i) {
        lcg_state = lcg_state * 1664525u + 1013904223u;
        v[i] = (int8_t)(lcg_state >> 24);
    }
}

static void fill_s32(int32_t *v, int n, int32_t range)
{
    for (int i = 0; i < n; ++i) {
        lcg_state = lcg_state * 1664525u + 1013904223u;
        v[i] = (int32_t)(lcg_state % (uint32_t)(2 * range + 1)) - range;
    }
}

static int8_t input[CNN_I];

#if CNN_CELL == 1
static int8_t w_input[4][CNN_H * CNN_I], w_hidden[4][CNN_H * CNN_H];
static int32_t bias[4][CNN_H], data_sum[4][CNN_H], hidden_sum[4][CNN_H];
static int8_t output[CNN_H];
static int16_t temp1[CNN_H], temp2[CNN_H], cell_state[CNN_H];
static int8_t hidden_state[CNN_H];

#define INPUT_ZERO_POINT 5
#define OUTPUT_ZERO_POINT (-3)

static cmsis_nn_lstm_gate gate(int k, arm_nn_activation_type activation)
{
    const cmsis_nn_lstm_gate g = {1518500250, -9, w_input[k], data_sum[k], 1288490189, -8, w_hidden[k],
                                  hidden_sum[k], bias[k], activation};
    return g;
}

int main(void)
{
    fill_s8(input, CNN_I);
    for (int k = 0; k < 4; ++k) {
        fill_s8(w_input[k], CNN_H * CNN_I);
        fill_s8(w_hidden[k], CNN_H * CNN_H);
        fill_s32(bias[k], CNN_H, 2000);
        /* as test_arm_lstm_unidirectional_s8.c: input sums with the input zero point and the bias,
         * hidden sums with minus the output zero point */
        arm_vector_sum_s8(data_sum[k], CNN_I, CNN_H, w_input[k], INPUT_ZERO_POINT, 0, bias[k]);
        arm_vector_sum_s8(hidden_sum[k], CNN_H, CNN_H, w_hidden[k], -OUTPUT_ZERO_POINT, 0, NULL);
    }
    const cmsis_nn_lstm_params params = {0, 1, 1, CNN_I, CNN_H, INPUT_ZERO_POINT,
                                         1073741824, -14, 1073741824, -15, 32767, -11,
                                         1431655765, -22, OUTPUT_ZERO_POINT,
                                         gate(1, ARM_SIGMOID), gate(0, ARM_SIGMOID), gate(2, ARM_TANH),
                                         gate(3, ARM_SIGMOID)};
    cmsis_nn_lstm_context buffers = {temp1, temp2, cell_state, hidden_state};
    memset(cell_state, 0, sizeof cell_state);
    memset(hidden_state, OUTPUT_ZERO_POINT, sizeof hidden_state);
    icount_begin();
    const arm_cmsis_nn_status status = arm_lstm_unidirectional_s8(input, output, &params, &buffers);
    icount_end();
    return status == ARM_CMSIS_NN_SUCCESS ? 0 : 1;
}

#elif CNN_CELL == 2
static int8_t w_input[CNN_H * CNN_I], w_hidden[CNN_H * CNN_H];
static int32_t bias_input[CNN_H], bias_hidden[CNN_H];
static int8_t hidden[CNN_H], fc_input[CNN_H], fc_hidden[CNN_H], sum[CNN_H];
static int32_t fc_buffer[CNN_H];

static arm_cmsis_nn_status fully_connected(const int8_t *x, int n_in, const int8_t *w, const int32_t *b,
                                           int32_t input_offset, int32_t output_offset, int8_t *y)
{
    const cmsis_nn_context ctx = {fc_buffer, sizeof fc_buffer};
    const cmsis_nn_fc_params fc = {input_offset, 0, output_offset, {-128, 127}};
    const cmsis_nn_per_tensor_quant_params quant = {1518500250, -9};
    const cmsis_nn_dims input_dims = {1, 1, 1, n_in}, filter_dims = {n_in, 1, 1, CNN_H};
    const cmsis_nn_dims bias_dims = {1, 1, 1, CNN_H}, output_dims = {1, 1, 1, CNN_H};
    return arm_fully_connected_s8(&ctx, &fc, &quant, &input_dims, x, &filter_dims, w, &bias_dims, b,
                                  &output_dims, y);
}

int main(void)
{
    fill_s8(input, CNN_I);
    fill_s8(hidden, CNN_H);
    fill_s8(w_input, CNN_H * CNN_I);
    fill_s8(w_hidden, CNN_H * CNN_H);
    fill_s32(bias_input, CNN_H, 2000);
    fill_s32(bias_hidden, CNN_H, 2000);
    if (arm_fully_connected_s8_get_buffer_size(&(cmsis_nn_dims){CNN_H, 1, 1, CNN_H}) > (int32_t)sizeof fc_buffer) {
        return 1;
    }
    icount_begin();
    arm_cmsis_nn_status status = fully_connected(input, CNN_I, w_input, bias_input, -5, 3, fc_input);
    status |= fully_connected(hidden, CNN_H, w_hidden, bias_hidden, 0, -2, fc_hidden);
    status |= arm_elementwise_add_s8(fc_input, fc_hidden, -3, 1073741824, 0, 2, 1288490189, -1, 20, sum, 1,
                                     1431655765, -19, -128, 127, CNN_H);
    icount_end();
    return status == ARM_CMSIS_NN_SUCCESS ? 0 : 1;
}
#else
#error "CNN_CELL must be 1 (LSTM) or 2 (RNN)"
#endif
