"""Random and edge cases of every op of fixedrnn.ops.OPS: ``cases(name, seed)`` → a list of
``(params, inputs)`` for ``op.reference(params, *inputs)`` / ``op.numba(params, *inputs)``.

Inputs cover the whole range of their dtype, with the extremes: every int8 input (TANH s8, and every
pair for ADD s8), every int16 input (the LUTs), runs of −128/127 and ±32768 edges elsewhere. No case
overflows int32 (the overflow errors are tested per module)."""

import math
from types import SimpleNamespace

import numpy as np

from fixedrnn import convert
from fixedrnn.ops import elementwise, fully_connected, lut_s16, normalise, requantize, tanh_s8
from fixedrnn.quant import pot_decode

INT8_ALL = np.arange(-128, 128)
INT16_ALL = np.arange(-32768, 32768)
INT16_EDGES = np.array([-32768, -32767, -1, 0, 1, 32766, 32767])
INT32_EDGES = np.array([-(2**31), -(2**31) + 1, -(2**30), -1, 0, 1, 2**30, 2**31 - 1])


def _multipliers(rng, n):
    return rng.integers(2**30, 2**31, n)


def _int8_rows(rng, rows, cols):
    x = rng.integers(-128, 128, (rows, cols))
    x[0], x[1] = -128, 127
    return x.astype(np.int8)


def _requantize(rng):
    acc = rng.integers(-(2**31), 2**31, (40, 5))
    acc[:len(INT32_EDGES), 0] = INT32_EDGES
    shift = rng.integers(-31, 1, 5)
    m = _multipliers(rng, 5)
    m[0], shift[0] = 0, 0  # a zero multiplier (stored with shift 0)
    params = requantize.prepare(m, shift, int(rng.integers(-128, 128)), -128, 127, 5)
    small = rng.integers(-2**10, 2**10, (20, 3))
    wide = requantize.prepare(_multipliers(rng, 3), rng.integers(0, 21, 3), 0, -32768, 32767, 3)
    return [(params, (acc,)), (wide, (small,))]


def _fully_connected(rng, lo, hi, pot_weights):
    out = []
    for per_channel in (False, True):
        n_in, n_out = int(rng.integers(1, 40)), int(rng.integers(1, 20))
        if pot_weights:
            codes = rng.integers(0, 15, (n_out, n_in))
            weight = pot_decode(np.where(codes >= 8, codes + 1, codes))  # no code 8 (negative zero)
        else:
            weight = rng.integers(-127, 128, (n_out, n_in))
        n = n_out if per_channel else 1
        params = fully_connected.prepare(
            weight, rng.integers(-2**20, 2**20, n_out), _multipliers(rng, n), rng.integers(-31, -5, n),
            int(rng.integers(-128, 128)), int(rng.integers(-128, 128)) if hi == 127 else 0, lo, hi,
            "fc", pot_weights)
        out.append((params, (_int8_rows(rng, 30, n_in),)))
    return out


def _add_s8(rng):
    add = SimpleNamespace(input1_multiplier=int(_multipliers(rng, 1)[0]), input1_shift=int(rng.integers(-12, 1)),
                          input2_multiplier=int(_multipliers(rng, 1)[0]), input2_shift=int(rng.integers(-12, 1)),
                          output_multiplier=int(_multipliers(rng, 1)[0]), output_shift=int(rng.integers(-24, -16)),
                          output_zero_point=int(rng.integers(-128, 128)))
    params = elementwise.prepare_add_s8(add, int(rng.integers(-128, 128)), int(rng.integers(-128, 128)))
    a, b = np.meshgrid(INT8_ALL, INT8_ALL)
    return [(params, (a.astype(np.int8), b.astype(np.int8)))]


def _int16_pairs(rng):
    a = np.concatenate([np.repeat(INT16_EDGES, len(INT16_EDGES)), rng.integers(-32768, 32768, 2000)])
    b = np.concatenate([np.tile(INT16_EDGES, len(INT16_EDGES)), rng.integers(-32768, 32768, 2000)])
    return a.astype(np.int16), b.astype(np.int16)


def _mul(rng, lo, hi):
    zero_point = int(rng.integers(-128, 128)) if hi == 127 else 0
    params = elementwise.prepare_mul((int(_multipliers(rng, 1)[0]), int(rng.integers(-31, 1))), zero_point,
                                     lo, hi)
    return [(params, _int16_pairs(rng))]


def _tanh_s8(rng):
    scale = float(np.float32(math.exp(rng.uniform(math.log(1e-4), math.log(2.0)))))
    return [(tanh_s8.prepare(int(rng.integers(-128, 128)), convert.tanh_params(scale)), (INT8_ALL,))]


def _lut(rng, kind):
    scale = float(np.float32(math.exp(rng.uniform(math.log(1e-4), math.log(0.5)))))
    lstm = lut_s16.prepare_lstm(int(rng.integers(-15, 1)))
    mine = lstm[0] if kind == "logistic" else lstm[2]
    other = lut_s16.prepare(kind, *lut_s16.int16_activation_params(scale, kind))
    return [(mine, (INT16_ALL,)), (other, (INT16_ALL,))]


def _normalise(rng):
    n = int(rng.integers(1, 20))
    q = SimpleNamespace(offset=rng.integers(-2**12, 2**12, n), multiplier=_multipliers(rng, n),
                        shift=rng.integers(-31, 1, n), zero_point=int(rng.integers(-128, 128)))
    mfcc16 = rng.integers(-32768, 32768, (30, n))
    mfcc16[0], mfcc16[1] = -32768, 32767
    mfcc32 = rng.integers(-(2**30), 2**30, (30, n))
    return [(normalise.prepare(q), (mfcc16.astype(np.int16),)), (normalise.prepare(q), (mfcc32.astype(np.int32),))]


def cases(name, seed):
    """The cases of op ``name`` drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    return {
        "requantize": lambda: _requantize(rng),
        "fully_connected_s8_s8": lambda: _fully_connected(rng, -128, 127, False),
        "fully_connected_s8_s16": lambda: _fully_connected(rng, -32768, 32767, False),
        "fully_connected_pot_s8": lambda: _fully_connected(rng, -128, 127, True),
        "fully_connected_pot_s16": lambda: _fully_connected(rng, -32768, 32767, True),
        "add_s8": lambda: _add_s8(rng),
        "add_s16_saturating": lambda: [(None, _int16_pairs(rng))],
        "mul_s16_s16": lambda: _mul(rng, -32768, 32767),
        "mul_s16_s8": lambda: _mul(rng, -128, 127),
        "tanh_s8": lambda: _tanh_s8(rng),
        "logistic_s16": lambda: _lut(rng, "logistic"),
        "tanh_s16": lambda: _lut(rng, "tanh"),
        "normalise": lambda: _normalise(rng),
    }[name]()
