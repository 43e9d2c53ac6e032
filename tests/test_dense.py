"""fixedrnn.dense.run_head: an hidden state other than int8 [B, H] is an error on every backend
(issue #15: an int16 vector gave backend-dependent results)."""

import numpy as np
import pytest

from engine_models import random_model
from fixedrnn import dense
from fixedrnn.errors import FixedRnnError


@pytest.mark.parametrize("backend", ["numpy", "numba", "shift"])
def test_head_takes_int8_hidden_states_only(backend):
    model = random_model(7, "rnn", "pot", False, 3, 5, 4, 4, False)
    params = model.prepared.head
    h = np.random.default_rng(0).integers(-128, 128, (3, 5)).astype(np.int8)
    expected = dense.run_head(params, h, "numpy")
    np.testing.assert_array_equal(dense.run_head(params, h, backend), expected)
    for bad in (h.astype(np.int16), h.astype(np.int16) * 300, h[0], h[:, :4], h.tolist()):
        with pytest.raises(FixedRnnError, match=r"^h: the head takes an int8 hidden state \[B, 5\], got "):
            dense.run_head(params, bad, backend)
