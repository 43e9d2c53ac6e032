"""Small models from random float weights (via fixedrnn.convert) for tests that need *a* model.

Never committed as golden models: tests write them into tmp_path.
"""

import numpy as np

from fixedrnn import convert
from fixedrnn.model import FrontendSpec

FRONTEND = FrontendSpec(sample_rate=8000, fft_length=256, hop=128, n_mels=20, n_mfcc=13, fmin=20.0,
                        fmax=4000.0, window="hamming", precision="q15")
LABELS = tuple(str(d) for d in range(10))


def random_model(cell="lstm", weights="int8", units=12, frames=24, seed=0, per_channel=False, sparsity=0.0,
                 storage="dense", labels=LABELS, **form):
    """A converted :class:`fixedrnn.model.Model` with random weights (deterministic in ``seed``);
    ``form``: the weight form's parameters (``bits``, ``exponent_bits``, ``mantissa_bits``);
    ``sparsity``: the float weights magnitude-pruned per matrix first (:func:`fixedrnn.prune.prune_magnitude`);
    ``storage``: the converter's ``storage`` option; ``labels``: the class labels (one head row each)."""
    rng = np.random.default_rng(seed)
    n_in = FRONTEND.n_mfcc
    # MFCC q8.7 values of speech lie within about ±300 (real units): normalise roughly.
    input_quant = convert.make_input_quant(mean=rng.normal(0.0, 5.0, n_in),
                                           std=rng.uniform(10.0, 60.0, n_in), x_scale=4.0 / 128)
    options = convert.ConvertOptions(cell=cell, weights=weights, per_channel=per_channel, storage=storage, **form)
    if cell == "rnn":
        params = convert.FloatRnn(w_x=rng.normal(0, 0.4, (units, n_in)),
                                  w_h=rng.normal(0, 0.3, (units, units)),
                                  b=rng.normal(0, 0.1, units))
        ranges = convert.RnnRanges(input_fc=(-4.0, 4.0), recurrent_fc=(-3.0, 3.0), add=(-6.0, 6.0),
                                   head=(-8.0, 8.0))
    else:
        params = convert.FloatLstm(w_x=rng.normal(0, 0.4, (4, units, n_in)),
                                   w_h=rng.normal(0, 0.3, (4, units, units)),
                                   b=rng.normal(0, 0.2, (4, units)))
        ranges = convert.LstmRanges(head=(-8.0, 8.0), cell_abs=8.0)
    head = convert.FloatHead(w=rng.normal(0, 0.5, (len(labels), units)), b=rng.normal(0, 0.1, len(labels)))
    if sparsity:
        from fixedrnn import prune

        params, head = prune.prune_magnitude(params, head, sparsity)
    return convert.convert(params, head, ranges, input_quant, FRONTEND, frames, tuple(labels), options,
                           meta={"name": np.array(f"throwaway_{cell}_{weights}")})


def save_random_model(path, **kwargs):
    """Write :func:`random_model` to ``path`` and return the path."""
    from fixedrnn import model as model_io

    return model_io.save(random_model(**kwargs), path)
