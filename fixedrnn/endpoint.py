"""Clip endpointing: find the word in a recording that has silence or background around it, so that
the window the model reads is the word, as in training (FSDD's recordings are trimmed to the word;
the model reads it left-padded with the silent frame's features).

A recording made by a user (a phone, a laptop, a device recording 1-2 s after a button) has quiet
audio before and after the word. Read as a window of its last T frames, the word is followed by
that quiet, which the model never saw after a word (about 10 % on FSDD test words followed by 1 s
of quiet: tools/clip_eval.py), or is not in the window at all. Endpointing cuts the frames around the word first.

Rule (integers; ``energy`` = :func:`fixedrnn.vad.frame_energy`, int32 q8.7: the MFCC's coefficient
0, one unit = 0.0107 dB of mean mel level for 20 mel bands, 93 units = 1 dB), on the last
``k = min(n, search)`` of the clip's n frames, ``w = energy[n − k:]``:

1. ``lo = min(w)``, ``hi = max(w)``, ``threshold = lo + max(margin, (hi − lo) >> range_shift)``
   (``>>``: floor; ``hi − lo ≥ 0``).
2. Loud frames: ``w[j] > threshold``. None (a clip whose level varies by at most ``margin``): the
   segment is all k frames. Otherwise, with ``first`` and ``last`` the first and last loud frame,
   the segment is ``[max(first − pre, 0), min(last + post, k − 1)]`` of w.
3. The model reads the last T frames of the segment, left-padded with the silent frame's
   features to T (docs/CONTRACT.md step 4 on the segment instead of the whole clip).

The device does the same in its window firmware (``export_c(..., endpoint=EndpointConfig())``):
it keeps the last ``search`` frames' int8 features and energies instead of the last T features.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from fixedrnn.errors import FixedRnnError, require_int_fields


#: Frames after the endpointed segment (16: about 0.26 s at a 16 ms hop, 24 frames after the last loud
#: one) from which the commands say that a clip has quiet after the word and suggest ``--endpoint``
#: (1.5 % of FSDD's trimmed recordings have as much).
QUIET_HINT_FRAMES = 16


@dataclass(frozen=True)
class EndpointConfig:
    """``search``: frames searched (the clip's last ones; 125 = 2 s at a 16 ms hop);
    ``margin``: least threshold above the quietest frame (q8.7 energy units; 560 = 6 dB at 20 mel
    bands); ``range_shift``: the threshold is also at least ``(loudest − quietest) >> range_shift``
    above the quietest frame (2: a quarter of the clip's range); ``pre`` / ``post``: frames kept
    before the first and after the last loud frame."""

    search: int = 125
    margin: int = 560
    range_shift: int = 2
    pre: int = 8
    post: int = 8

    def __post_init__(self):
        require_int_fields(self, "endpoint.", (("search", 1, 4096), ("margin", 0, 65535),
                                               ("range_shift", 0, 16), ("pre", 0, 255), ("post", 0, 255)))


class Segment(NamedTuple):
    """The clip's frames ``[start, stop)`` that endpointing keeps (frame numbers of the clip)."""

    start: int
    stop: int


def segment(energy, config):
    """The :class:`Segment` of a clip whose frames have ``energy`` (int ``[n]``, q8.7) by the
    module's rule; ``Segment(n, n)`` (nothing) for a clip of no frames."""
    e = np.asarray(energy)
    if e.ndim != 1 or not np.issubdtype(e.dtype, np.integer):
        raise FixedRnnError(f"energy must be a 1-d integer array, got {e.dtype} of shape {e.shape}")
    n = len(e)
    k = min(n, config.search)
    if k == 0:
        return Segment(n, n)
    w = e[n - k:].astype(np.int64)
    lo, hi = int(w.min()), int(w.max())
    loud = np.flatnonzero(w > lo + max(config.margin, (hi - lo) >> config.range_shift))
    if len(loud) == 0:
        return Segment(n - k, n)
    return Segment(n - k + max(int(loud[0]) - config.pre, 0), n - k + min(int(loud[-1]) + config.post, k - 1) + 1)


def describe(config):
    """``config`` as one line of text (reports, JSON)."""
    return (f"search {config.search} frames, margin {config.margin}, range_shift {config.range_shift}, "
            f"pre {config.pre}, post {config.post}")
