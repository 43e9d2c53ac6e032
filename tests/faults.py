"""Fault injection shared by the robustness tests: corrupt bytes, failing calls, unwritable files."""

import os

from fixedrnn import atomicfile


def flip_bit(data, where, bit, path):
    """Write ``data`` with bit ``bit`` of the byte at fraction ``where`` (0 ≤ where < 1) flipped to
    ``path``; returns ``path``."""
    data = bytearray(data)
    data[int(where * len(data))] ^= 1 << bit
    path.write_bytes(bytes(data))
    return path


def fail_on_call(monkeypatch, owner, name, call, exception):
    """Make ``owner.name`` raise ``exception`` on its ``call``-th call (1-based); the other calls run
    the real function. Returns the list of the calls' first arguments' names made so far."""
    real = getattr(owner, name)
    calls = []

    def failing(*args, **kwargs):
        calls.append(args)
        if len(calls) == call:
            raise exception
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, failing)
    return calls


def refuse_temporary_files(monkeypatch):
    """Every ``*.tmp`` file fixedrnn.atomicfile opens fails with "Permission denied"."""
    real_open = os.open

    def refuse(path, *args):
        if str(path).endswith(".tmp"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args)

    monkeypatch.setattr(atomicfile.os, "open", refuse)
