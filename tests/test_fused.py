"""The fused numba kernels (fixedrnn.fused) equal the cells composed of the ops' references
(fixedrnn.rnn / fixedrnn.lstm, NumPy path) on random models: the last hidden state, 0 LSB, on any
thread count and one utterance per call; their float32 MACs are used only where the overflow audit's
exact bounds prove them exact, and their skipped run-time checks only where it proves no overflow."""

import dataclasses

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine_models import model_cases, random_model, random_sequences
from fixedrnn import fused, lstm, rnn
from fixedrnn.errors import FixedRnnError
from fixedrnn.ops import fully_connected
from fixedrnn.overflow import Accumulation, check_accumulation

SETTINGS = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
@pytest.mark.parametrize("weights", ["int8", "pot"])
@SETTINGS
@given(data=st.data())
def test_fused_equals_reference_cell(cell, weights, data):
    model, xs = data.draw(model_cases(cell=cell, weights=weights, per_channel=False, max_frames=30))
    params = model.prepared.cell
    composed = rnn.run_rnn if cell == "rnn" else lstm.run_lstm
    run_fused = fused.run_rnn if cell == "rnn" else fused.run_lstm
    want, _ = composed(params, xs)
    np.testing.assert_array_equal(run_fused(params, xs, False), want)
    if weights == "pot":
        np.testing.assert_array_equal(run_fused(params, xs, True), want)


@SETTINGS
@given(case=model_cases(cell="rnn", weights="int8", per_channel=True, max_frames=30))
def test_fused_per_channel_rnn_equals_reference(case):
    model, xs = case
    np.testing.assert_array_equal(fused.run_rnn(model.prepared.cell, xs, False),
                                  rnn.run_rnn(model.prepared.cell, xs)[0])


# --- float32 MACs: exact exactly where the overflow audit says so -------------------------------


@SETTINGS
@given(data=st.data())
def test_every_partial_sum_lies_within_the_audit_bounds(data):
    """The claim behind ``float32_exact``: any partial sum of Σ_j W[o, j]·(x[j] − z), in any order,
    lies within the overflow audit's exact [low, high] of the full sums (Python ints)."""
    n_in = data.draw(st.integers(1, 12))
    rows = data.draw(st.integers(1, 3))
    weight = np.array(data.draw(st.lists(st.lists(st.integers(-128, 127), min_size=n_in, max_size=n_in),
                                         min_size=rows, max_size=rows)))
    z = data.draw(st.integers(-128, 127))
    bounds = check_accumulation(Accumulation("t", weight, None, z))
    x = data.draw(st.lists(st.integers(-128, 127), min_size=n_in, max_size=n_in))
    order = data.draw(st.permutations(range(n_in)))
    for row in weight.tolist():
        partial = 0
        for j in order:
            partial += row[j] * (x[j] - z)
            assert bounds.low <= partial <= bounds.high


def test_float32_exact_follows_the_audit_bound_and_the_int32_path_takes_over_past_it():
    # row 0 at x = 127 (x − z = 255): 518 terms 127·255, then 126·255 (an even partial sum below
    # 2**25), then 1·255: the sum 16,807,815 is odd and above 2**24, not a float32
    n_in = 520
    weight = np.full((2, n_in), 127)
    weight[0, 518:] = 126, 1
    weight[1, ::2] = -128
    z = -128
    wide = fully_connected.prepare(weight, None, 2**30, -20, z, 0, -128, 127, "wide")
    narrow = fully_connected.prepare(weight[:, :500], None, 2**30, -20, z, 0, -128, 127, "narrow")
    bound = check_accumulation(Accumulation("wide", weight, None, z))
    assert max(bound.high, -bound.low) > fully_connected.FLOAT32_EXACT_LIMIT and not wide.float32_exact
    assert narrow.float32_exact  # 500·128·255 < 2**24
    assert fully_connected.mac_mode([narrow, wide], False) == fully_connected.MAC_INT32
    assert fully_connected.mac_mode([narrow], False) == fully_connected.MAC_FLOAT32
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (20, n_in)).astype(np.int8)
    x[0] = 127
    # float32 really would round here: the sum is above 2**24 and odd
    exact = (x.astype(np.int64) - z) @ weight.T.astype(np.int64)
    float32_sum = np.zeros_like(exact, dtype=np.float32)
    for j in range(n_in):
        float32_sum += (x[:, j, None].astype(np.float32) - z) * weight.T[j][None, :].astype(np.float32)
    assert np.any(float32_sum.astype(np.int64) != exact)
    for params, cols in ((wide, n_in), (narrow, 500)):
        np.testing.assert_array_equal(fully_connected.run_numba(params, x[:, :cols]),
                                      fully_connected.reference(params, x[:, :cols]))


def test_overflow_free_blocks_skip_checks_only_where_the_audit_allows():
    model = random_model(seed=41, cell="lstm", weights="int8", n_in=5, units=6, n_cls=3, frames=7)
    fc = model.prepared.cell.gates[0].input_fc
    assert fc.overflow_free
    w = np.asarray(model.lstm.input_weight[0])
    z = model.input.zero_point
    high = check_accumulation(Accumulation("t", w, None, z)).high
    edge = fully_connected.prepare(w, np.full(6, 2**31 - 1 - high), 2**30, 0, z, 0, -32768, 32767, "t")
    assert edge.overflow_free  # the largest sum plus bias is exactly INT32_MAX
    over = fully_connected.prepare(w, np.full(6, 2**31 - high), 2**30, 0, z, 0, -32768, 32767, "t")
    assert not over.overflow_free
    shifted = fully_connected.prepare(w, np.full(6, 2**31 - 1 - high), 2**30, 1, z, 0, -32768, 32767, "t")
    assert not shifted.overflow_free  # acc · 2 can leave int32


# --- threads and B = 1 ----------------------------------------------------------------------


@pytest.mark.parametrize("cell,weights", [("rnn", "int8"), ("lstm", "pot")])
def test_any_thread_count_and_one_utterance_per_call_give_the_same_integers(cell, weights):
    model = random_model(seed=42, cell=cell, weights=weights, n_in=5, units=7, n_cls=3, frames=9)
    xs = random_sequences(seed=42, batch=11, frames=9, n_in=5)
    params = model.prepared.cell
    composed = rnn.run_rnn if cell == "rnn" else lstm.run_lstm
    run_fused = fused.run_rnn if cell == "rnn" else fused.run_lstm
    want, _ = composed(params, xs)
    threads = numba.get_num_threads()
    try:
        for n_threads in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(n_threads)
            for shift_mode in (False, True) if weights == "pot" else (False,):
                np.testing.assert_array_equal(run_fused(params, xs, shift_mode), want)
                single = np.concatenate([run_fused(params, x[None], shift_mode) for x in xs])
                np.testing.assert_array_equal(single, want)
    finally:
        numba.set_num_threads(threads)


# --- the lockstep blocks: the multi-row float32 MAC and the first overflow in batch order --------


@pytest.mark.parametrize("rows", [1, 3, 4, 5, 8, 9])
@pytest.mark.parametrize("n_in", [499, 500])
def test_multi_row_float32_mac_equals_the_exact_products_up_to_the_audit_bound(rows, n_in):
    """accumulate_rows_f32_nb (4 rows and 2 columns per pass, then the leftover rows and columns)
    equals the int64 products, with sums up to 500·127·255 (just under 2**24, the audit's float32
    limit) and odd sums above 2**23 (where one rounding would show)."""
    weight = np.full((6, n_in), 127)
    weight[1, ::2] = -128
    weight[2] = np.random.default_rng(6).integers(-128, 128, n_in)
    z = -128
    fc = fully_connected.prepare(weight, None, 2**30, -20, z, 0, -128, 127, "t")
    assert fc.float32_exact
    x = np.random.default_rng(rows).integers(-128, 128, (rows, n_in))
    x[0] = 127
    x[-1, 0] = 126  # an odd sum above 2**23 in row 0
    xf = (x - z).astype(np.float32)
    out = np.empty((rows, 6), np.float32)
    fully_connected.accumulate_rows_f32_nb(xf, fc.weight_t, out)
    exact = (x.astype(np.int64) - z) @ weight.T.astype(np.int64)
    assert exact.max() > 2**23 and np.any(exact % 2)
    np.testing.assert_array_equal(out.astype(np.int64), exact)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_a_lockstep_block_with_an_overflow_reports_the_first_utterance_in_batch_order(cell):
    """Utterance 0 overflows the input FC at its last step, utterance 1 (by another exact value) at
    its first (2 and 3 do not): in one lockstep block the error is utterance 0's, as one utterance
    at a time; the value is the exact accumulator (Python ints)."""
    model = random_model(seed=43, cell=cell, weights="int8", n_in=5, units=6, n_cls=3, frames=6)
    w = np.asarray(model.rnn.input_fc.weight if cell == "rnn" else model.lstm.input_weight).reshape(-1, 5)
    z = model.input.zero_point
    row = int(np.argmax(np.abs(w).sum(axis=1)))
    peak = np.where(w[row] > 0, 127, -128)  # the row's largest sum of products
    near = peak.copy()
    j = int(np.argmax(np.abs(w[row])))
    near[j] = z + (peak[j] - z) // 2  # a smaller sum, still past the edge
    sums = [sum(int(a) * (int(v) - z) for a, v in zip(w[row], vec)) for vec in (peak, near)]
    bias = np.zeros(w.shape[0], np.int64)
    bias[row] = 2**31 - 1 - sums[1] + 1  # near reaches 2**31; peak more
    if cell == "rnn":
        fc = dataclasses.replace(model.rnn.input_fc, bias=np.asarray(bias, np.int32))
        model = dataclasses.replace(model, rnn=dataclasses.replace(model.rnn, input_fc=fc))
    else:
        model = dataclasses.replace(model, lstm=dataclasses.replace(  # shift <= 0: the accumulator overflows first
            model.lstm, bias=np.asarray(bias, np.int32).reshape(4, -1),
            input_shift=np.minimum(model.lstm.input_shift, 0).astype(model.lstm.input_shift.dtype)))
    quiet = np.full((6, 5), z, np.int8)  # every sum of products 0: bias only
    first, second = quiet.copy(), quiet.copy()
    first[5], second[0] = peak, near
    values = [int(bias[row]) + s for s in sums]
    threads = numba.get_num_threads()
    numba.set_num_threads(1)  # one block of both utterances
    try:
        for order in ((first, second), (second, first)):
            want = values[0] if order[0] is first else values[1]
            for batch in (np.stack(order + (quiet, quiet)), order[0][None]):  # 4: a lockstep block
                with pytest.raises(FixedRnnError, match=rf"^{cell}\.input_fc: .*exact value {want}\)"):
                    model.run_features_batch(batch, backend="numba")
    finally:
        numba.set_num_threads(threads)
