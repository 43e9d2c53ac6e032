/* Sparse weights of fixedrnn (weights.storage = "sparse", fixedrnn/sparse.py), C99: TFLM's
 * FULLY_CONNECTED of frnn_kernels.h computed on the nonzero weights only. Bit-exact with the engine:
 * the sum is the dense FC's with its zero terms left out, exact in int32 (the overflow audit of the
 * exported model bounds every partial sum).
 *
 * Storage (compressed rows) of a [rows][n_in] int8 matrix (an LSTM's four gates one after the other):
 *   values[nnz]      int8   the nonzero weights, row by row, columns ascending within a row;
 *   columns[nnz]     uint8  the column of each (so n_in <= 256);
 *   row_start[rows+1] uint16 row r is values[row_start[r] .. row_start[r+1] - 1] (nnz <= 65535);
 *                           an empty row gives the bias alone.
 * Per nonzero the MAC is one LDRB (column), one LDRSB (value), one LDRSH (the input plus its offset,
 * from a scratch vector filled once per call) and one MLA.
 */
#ifndef FRNN_SPARSE_H
#define FRNN_SPARSE_H

#include <stdint.h>

#include "frnn_kernels.h"

typedef struct {
    const int8_t *values;
    const uint8_t *columns;
    const uint16_t *row_start;
} frnn_sparse_matrix;

/* int32 sum over k in [begin, end) of values[k] * xo[columns[k]] (xo: the inputs plus their offset). */
int32_t frnn_dot_sparse(const int8_t *values, const uint8_t *columns, int32_t begin, int32_t end, const int16_t *xo);

/* TFLM FULLY_CONNECTED, int8 in, int8 / int16 out, optional bias (NULL = none), on rows
 * first_row .. first_row + n_out - 1 of the sparse matrix w; scratch: int16 [n_in] (x + input offset). */
void frnn_fc_sparse_s8(const int8_t *x, const frnn_sparse_matrix *w, int first_row, const int32_t *bias, int n_in,
                       int n_out, const frnn_fc_params *p, int16_t *scratch, int8_t *y);
void frnn_fc_sparse_s16(const int8_t *x, const frnn_sparse_matrix *w, int first_row, const int32_t *bias, int n_in,
                        int n_out, const frnn_fc_params *p, int16_t *scratch, int16_t *y);

#endif
