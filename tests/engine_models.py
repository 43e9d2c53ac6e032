"""Random quantized models and int8 sequences for the engine tests (hypothesis strategies)."""

import numpy as np
from hypothesis import strategies as st

from fixedrnn import convert as cv
from fixedrnn.model import FrontendSpec


def frontend(n_mfcc):
    return FrontendSpec(8000, 256, 128, max(20, n_mfcc), n_mfcc, 20.0, 4000.0, "hamming", "q15")


def random_model(seed=0, cell="rnn", weights="int8", per_channel=False, n_in=4, units=6, n_cls=3,
                 frames=8, wide=False, **form):
    """A converted model with random float weights; ``wide`` scales weights/ranges so that gates,
    the cell and the outputs saturate often; ``form``: the weight form's parameters (``bits``,
    ``exponent_bits``, ``mantissa_bits``)."""
    rng = np.random.default_rng(seed)
    gain = 3.0 if wide else 0.4
    iq = cv.make_input_quant(rng.normal(0, 50, n_in), rng.uniform(20, 200, n_in),
                             x_scale=float(np.exp(rng.uniform(np.log(0.005), np.log(0.2)))),
                             x_zero_point=int(rng.integers(-128, 128)))
    opts = cv.ConvertOptions(cell=cell, weights=weights, per_channel=per_channel,
                             pot_levels=int(rng.integers(1, 8)) if weights == "pot" else 7, **form)
    span = lambda lo, hi: (-float(rng.uniform(lo, hi)), float(rng.uniform(lo, hi)))
    if cell == "rnn":
        params = cv.FloatRnn(rng.normal(0, gain, (units, n_in)) * rng.uniform(0.1, 1, (units, 1)),
                             rng.normal(0, gain / 2, (units, units)), rng.normal(0, gain, units))
        ranges = cv.RnnRanges(span(0.2, 8), span(0.2, 8), span(0.2, 10) if not wide else span(0.05, 0.5),
                              span(0.5, 20))
    else:
        params = cv.FloatLstm(rng.normal(0, gain, (4, units, n_in)), rng.normal(0, gain / 2, (4, units, units)),
                              rng.normal(0, gain, (4, units)))
        ranges = cv.LstmRanges(span(0.5, 20), cell_abs=float(np.exp(rng.uniform(np.log(0.01), np.log(64)))),
                               hidden=span(0.3, 1.5))
    head = cv.FloatHead(rng.normal(0, gain, (n_cls, units)), rng.normal(0, gain, n_cls))
    return cv.convert(params, head, ranges, iq, frontend(n_in), frames,
                      [f"c{i}" for i in range(n_cls)], opts)


def random_sequences(seed=0, batch=3, frames=8, n_in=4):
    """int8 ``[B, T, I]``: uniform values with runs of −128 and 127 (saturating gates and cell)."""
    rng = np.random.default_rng(seed + 1)
    xs = rng.integers(-128, 128, (batch, frames, n_in))
    for b in range(batch):
        if rng.random() < 0.7:
            start = int(rng.integers(0, frames))
            stop = int(rng.integers(start, frames + 1))
            xs[b, start:stop] = rng.choice([-128, 127], size=(stop - start, n_in))
    return xs.astype(np.int8)


@st.composite
def model_cases(draw, cell="rnn", weights="int8", per_channel=False, max_frames=100):
    """(model, xs) with hypothesis-drawn sizes, sequence lengths 1…``max_frames``, seeds."""
    n_in = draw(st.integers(1, 16))
    units = draw(st.integers(1, 24))
    n_cls = draw(st.integers(2, 6))
    frames = draw(st.integers(1, max_frames))
    seed = draw(st.integers(0, 2**31 - 1))
    wide = draw(st.booleans())
    model = random_model(seed=seed, cell=cell, weights=weights, per_channel=per_channel, n_in=n_in,
                         units=units, n_cls=n_cls, frames=frames, wide=wide)
    return model, random_sequences(seed=seed, batch=3, frames=frames, n_in=n_in)
