"""Pruning of float models (fixedrnn.prune): exact counts, the largest weights kept, per layer and
global scope, unit scores against their definitions, structured pruning giving a smaller model that
converts and runs, refusals."""

import numpy as np
import pytest

from fixedrnn import convert as cv
from fixedrnn import prune
from fixedrnn.errors import FixedRnnError
from throwaway_models import FRONTEND, LABELS


def float_model(cell, units=6, n_in=13, seed=0):
    rng = np.random.default_rng(seed)
    if cell == "rnn":
        params = cv.FloatRnn(rng.normal(0, 0.4, (units, n_in)), rng.normal(0, 0.3, (units, units)),
                             rng.normal(0, 0.1, units))
    else:
        params = cv.FloatLstm(rng.normal(0, 0.4, (4, units, n_in)), rng.normal(0, 0.3, (4, units, units)),
                              rng.normal(0, 0.2, (4, units)))
    return params, cv.FloatHead(rng.normal(0, 0.5, (len(LABELS), units)), rng.normal(0, 0.1, len(LABELS)))


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 0.9])
def test_layer_scope_prunes_round_s_n_smallest_of_each_matrix(cell, sparsity):
    params, head = float_model(cell)
    p2, h2 = prune.prune_magnitude(params, head, sparsity, "layer")
    for before, after in ((params.w_x, p2.w_x), (params.w_h, p2.w_h), (head.w, h2.w)):
        before = np.asarray(before)
        n_zero = int(np.count_nonzero(after == 0))
        assert n_zero == int(np.floor(sparsity * before.size + 0.5))
        kept = after != 0
        assert np.array_equal(after[kept], before[kept])  # survivors unchanged
        if 0 < n_zero < before.size:
            assert np.abs(before[~kept]).max() <= np.abs(before[kept]).min()  # the smallest went
    assert np.array_equal(p2.b, params.b) and np.array_equal(h2.b, head.b)


def test_global_scope_ranks_all_matrices_together():
    params, head = float_model("rnn")
    scaled = cv.FloatHead(np.asarray(head.w) * 100.0, head.b)  # the head's weights dominate
    p2, h2 = prune.prune_magnitude(params, scaled, 0.5, "global")
    total = sum(np.size(w) for w in (params.w_x, params.w_h, head.w))
    zeros = sum(int(np.count_nonzero(w == 0)) for w in (p2.w_x, p2.w_h, h2.w))
    assert zeros == int(np.floor(0.5 * total + 0.5))
    assert np.count_nonzero(h2.w == 0) == 0  # globally, none of the large head weights is pruned
    layer, _ = prune.prune_magnitude(params, scaled, 0.5, "layer")
    assert np.count_nonzero(layer.w_x == 0) < np.count_nonzero(p2.w_x == 0)


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_unit_scores_follow_their_definition(cell):
    params, head = float_model(cell, units=5)
    w_x, w_h, w_head = (np.asarray(a) for a in (params.w_x, params.w_h, head.w))
    for j in range(5):
        if cell == "rnn":
            attached = np.concatenate([w_x[j], w_h[j], w_h[:, j], w_head[:, j]])
        else:
            attached = np.concatenate([w_x[:, j].ravel(), w_h[:, j].ravel(), w_h[:, :, j].ravel(), w_head[:, j]])
        assert prune.unit_scores(params, head, "l1")[j] == pytest.approx(np.sum(np.abs(attached)), rel=1e-12)
        assert prune.unit_scores(params, head, "l2")[j] == pytest.approx(np.sqrt(np.sum(attached**2)), rel=1e-12)
        assert prune.unit_scores(params, head, "linf")[j] == np.max(np.abs(attached))


def test_the_norms_choose_different_units():
    """Unit 0: one large weight (L∞ keeps it); unit 1: many medium weights (L1 keeps it)."""
    w_x = np.zeros((2, 4))
    w_x[0, 0] = 3.0
    w_x[1, :] = 1.0
    params = cv.FloatRnn(w_x, np.zeros((2, 2)), np.zeros(2))
    head = cv.FloatHead(np.zeros((2, 2)), np.zeros(2))
    assert np.array_equal(prune.prune_units(params, head, 1, "linf")[0].w_x, w_x[[0]])
    assert np.array_equal(prune.prune_units(params, head, 1, "l1")[0].w_x, w_x[[1]])


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_pruned_units_give_a_smaller_model_that_converts_and_runs(cell):
    params, head = float_model(cell, units=8)
    small, small_head = prune.prune_units(params, head, 5, "l2")
    kept = np.sort(np.argsort(-prune.unit_scores(params, head, "l2"), kind="stable")[:5])
    if cell == "rnn":
        assert np.array_equal(small.w_h, np.asarray(params.w_h)[np.ix_(kept, kept)])
    else:
        assert np.array_equal(small.w_h, np.asarray(params.w_h)[:, kept][:, :, kept])
    iq = cv.make_input_quant(np.zeros(13), np.full(13, 30.0), x_scale=4.0 / 128)
    ranges = (cv.RnnRanges((-4, 4), (-3, 3), (-6, 6), (-8, 8)) if cell == "rnn" else cv.LstmRanges((-8, 8)))
    model = cv.convert(small, small_head, ranges, iq, FRONTEND, 6, LABELS, cv.ConvertOptions(cell=cell))
    full = cv.convert(params, head, ranges, iq, FRONTEND, 6, LABELS, cv.ConvertOptions(cell=cell))
    assert model.units == 5 and model.device_bytes < full.device_bytes
    assert model.run_features(np.zeros((6, 13), np.int8), backend="numpy").shape == (len(LABELS),)


@pytest.mark.parametrize("call, problem", [
    (lambda p, h: prune.prune_magnitude(p, h, 1.0), "sparsity must be a number in \\[0, 1\\)"),
    (lambda p, h: prune.prune_magnitude(p, h, -0.1), "sparsity"),
    (lambda p, h: prune.prune_magnitude(p, h, 0.5, "row"), "scope must be one of layer, global"),
    (lambda p, h: prune.prune_units(p, h, 0), "keep must be an integer in 1..6"),
    (lambda p, h: prune.prune_units(p, h, 7), "keep must be an integer in 1..6"),
    (lambda p, h: prune.prune_units(p, h, 3, "l3"), "norm must be one of l1, l2, linf"),
    (lambda p, h: prune.prune_magnitude(h, h, 0.5), "params must be a FloatRnn or FloatLstm"),
])
def test_refusals(call, problem):
    params, head = float_model("rnn")
    with pytest.raises(FixedRnnError, match=problem):
        call(params, head)
