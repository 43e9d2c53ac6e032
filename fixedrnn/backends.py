"""The engine's backends: ``"numpy"`` (the ops' int64 references, traceable), ``"numba"`` (fused
batch kernels) and ``"shift"`` (the fused kernels with shift-only MACs, power-of-two models). All
give the same integers."""

from fixedrnn.errors import FixedRnnError

BACKENDS = ("numpy", "numba", "shift")


def check_backend(backend, weights=None):
    """Raise unless ``backend`` is one of :data:`BACKENDS` and fits the model's ``weights`` kind
    (``None``: not checked)."""
    if backend not in BACKENDS:
        raise FixedRnnError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "shift" and weights not in (None, "pot"):
        raise FixedRnnError("backend 'shift' needs a power-of-two model (weights = 'pot')")
