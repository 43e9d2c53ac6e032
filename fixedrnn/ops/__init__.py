"""The integer ops of fixedrnn, each specified once: a prepared params record, a pure-integer
definition (``reference``, exact int64 NumPy) and a numba implementation, checked equal by the tests.

Every op's entry in :data:`OPS` (:class:`Op`) names its params type, its reference and numba entry
points — both called ``f(params, *inputs)`` and returning the op's output array — and the C function
of ``fixedrnn/c/frnn_kernels.h`` that implements it. Modules: :mod:`~fixedrnn.ops.requantize`,
:mod:`~fixedrnn.ops.fully_connected`, :mod:`~fixedrnn.ops.pot`, :mod:`~fixedrnn.ops.elementwise`,
:mod:`~fixedrnn.ops.tanh_s8` (its rule shared with the graph ops' LOGISTIC:
:mod:`~fixedrnn.ops.activation_s8`), :mod:`~fixedrnn.ops.lut_s16`, :mod:`~fixedrnn.ops.normalise`;
:mod:`~fixedrnn.ops.status` carries the numba kernels' overflow reports.
"""

from dataclasses import dataclass
from typing import Callable, Optional

from fixedrnn.errors import FixedRnnError
from fixedrnn.ops import elementwise, fully_connected, lut_s16, normalise, requantize, tanh_s8


@dataclass(frozen=True)
class Op:
    """One op: ``name``, ``params`` type (None: the op has none), ``reference`` and ``numba``
    (``f(params, *inputs) → array``), ``c_function`` (its C implementation)."""

    name: str
    params: Optional[type]
    reference: Callable
    numba: Callable
    c_function: str


_FC = fully_connected
OPS = (
    Op("requantize", requantize.RequantizeParams, requantize.reference, requantize.run_numba, "frnn_mbqm"),
    Op("fully_connected_s8_s8", _FC.FullyConnectedParams, _FC.reference, _FC.run_numba, "frnn_fc_s8_s8"),
    Op("fully_connected_s8_s16", _FC.FullyConnectedParams, _FC.reference, _FC.run_numba, "frnn_fc_s8_s16"),
    Op("fully_connected_pot_s8", _FC.FullyConnectedParams, _FC.reference, _FC.run_numba_pot,
       "frnn_fc_pot_s8"),
    Op("fully_connected_pot_s16", _FC.FullyConnectedParams, _FC.reference, _FC.run_numba_pot,
       "frnn_fc_pot_s16"),
    Op("add_s8", elementwise.AddS8Params, elementwise.add_s8_reference, elementwise.add_s8_numba,
       "frnn_add_s8"),
    Op("add_s16_saturating", None, elementwise.add_s16_saturating_reference,
       elementwise.add_s16_saturating_numba, "frnn_add_s16_sat"),
    Op("mul_s16_s16", elementwise.MulParams, elementwise.mul_reference, elementwise.mul_numba,
       "frnn_mul_s16_s16"),
    Op("mul_s16_s8", elementwise.MulParams, elementwise.mul_reference, elementwise.mul_numba,
       "frnn_mul_s16_s8"),
    Op("tanh_s8", tanh_s8.TanhS8Params, tanh_s8.reference, tanh_s8.run_numba, "frnn_tanh_s8"),
    Op("logistic_s16", lut_s16.LutS16Params, lut_s16.reference, lut_s16.run_numba, "frnn_sigmoid_s16"),
    Op("tanh_s16", lut_s16.LutS16Params, lut_s16.reference, lut_s16.run_numba, "frnn_tanh_s16"),
    Op("normalise", normalise.NormaliseParams, normalise.reference, normalise.run_numba, "frnn_normalize"),
)


def op(name):
    """The :class:`Op` called ``name``; ``FixedRnnError`` if there is none."""
    for entry in OPS:
        if entry.name == name:
            return entry
    raise FixedRnnError(f"op must be one of {', '.join(o.name for o in OPS)}, got {name!r}")
