/* What the cell files (frnn_rnn.c, frnn_lstm.c) and frnn_pipeline.c share: the fully connected
 * layer of the model's weight kind and the hidden state's zero point. Internal to the firmware.
 */
#ifndef FRNN_CELL_H
#define FRNN_CELL_H

#include "frnn_api.h"
#include "frnn_kernels.h"

/* FULLY_CONNECTED y = requantize(W x + bias) of the model's weights: the [n_out][n_in] matrix that
 * starts at element `start` of `w` (an int8 array, or for a power-of-two model, FRNN_WEIGHTS_POT,
 * two weights per byte as indices into fr_pot_pair_table: frnn_kernels.h, or for a packed k-bit or
 * minifloat model, FRNN_WEIGHTS_PACKED, 2- or 4-bit codes of format FRNN_PACKED_FORMAT: frnn_packed.h,
 * or for sparse storage, FRNN_WEIGHTS_SPARSE, a frnn_sparse_matrix whose rows start at row
 * start / n_in, the inputs offset into the RAM scratch fr_sparse_input: frnn_sparse.h),
 * int8 (FRNN_FC_S8) or int16 (FRNN_FC_S16) out; p: frnn_fc_params. */
#if defined(FRNN_WEIGHTS_POT)
#define FRNN_FC_S8(x, w, start, bias, n_in, n_out, p, y) \
    frnn_fc_pot_s8(x, w, start, fr_pot_pair_table, bias, n_in, n_out, p, y)
#define FRNN_FC_S16(x, w, start, bias, n_in, n_out, p, y) \
    frnn_fc_pot_s16(x, w, start, fr_pot_pair_table, bias, n_in, n_out, p, y)
#elif defined(FRNN_WEIGHTS_PACKED)
#include "frnn_packed.h"
#define FRNN_FC_S8(x, w, start, bias, n_in, n_out, p, y) \
    frnn_fc_packed_s8(x, w, start, &(const frnn_packed_format)FRNN_PACKED_FORMAT, bias, n_in, n_out, p, y)
#define FRNN_FC_S16(x, w, start, bias, n_in, n_out, p, y) \
    frnn_fc_packed_s16(x, w, start, &(const frnn_packed_format)FRNN_PACKED_FORMAT, bias, n_in, n_out, p, y)
#elif defined(FRNN_WEIGHTS_SPARSE)
#include "frnn_sparse.h"
#define FRNN_FC_S8(x, w, start, bias, n_in, n_out, p, y) \
    frnn_fc_sparse_s8(x, w, (start) / (n_in), bias, n_in, n_out, p, fr_sparse_input, y)
#define FRNN_FC_S16(x, w, start, bias, n_in, n_out, p, y) \
    frnn_fc_sparse_s16(x, w, (start) / (n_in), bias, n_in, n_out, p, fr_sparse_input, y)
#elif defined(FRNN_WEIGHTS_INT8)
#define FRNN_FC_S8(x, w, start, bias, n_in, n_out, p, y) frnn_fc_s8_s8(x, (w) + (start), bias, n_in, n_out, p, y)
#define FRNN_FC_S16(x, w, start, bias, n_in, n_out, p, y) frnn_fc_s8_s16(x, (w) + (start), bias, n_in, n_out, p, y)
#else
#error "frnn_model.h defines none of FRNN_WEIGHTS_INT8, FRNN_WEIGHTS_POT, FRNN_WEIGHTS_PACKED, FRNN_WEIGHTS_SPARSE"
#endif

/* Zero point of the int8 hidden state fr_hidden (the head's input): the LSTM's
 * lstm.hidden.zero_point; the RNN's hidden state is TFLM's int8 TANH output, zero point 0. */
#if defined(FRNN_CELL_LSTM)
#define FRNN_HIDDEN_ZERO_POINT FR_LSTM_HIDDEN_ZERO_POINT
#elif defined(FRNN_CELL_RNN)
#define FRNN_HIDDEN_ZERO_POINT 0
#elif !defined(FRNN_CELL_GRAPH) /* a graph model (frnn_graph.c) has no hidden state of its own */
#error "frnn_model.h defines none of FRNN_CELL_RNN, FRNN_CELL_LSTM, FRNN_CELL_GRAPH"
#endif

#endif
