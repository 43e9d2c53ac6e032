"""Voice-activity detection on the front end's integers: frame energy against an adaptive noise floor.

Integers only, one frame at a time, as the device runs it (docs/streaming.md, "VAD"). The energy of
frame t is its MFCC coefficient 0 in q8.7 (``e = mfcc[t, 0]`` for a q15 front end, ``e = mfcc[t, 0]
>> 16`` for q31, whose output is q8.23): the DCT's row 0 is the sum of the log-mel energies, so
``e`` is the frame's log energy (natural log, scaled by the DCT's row-0 weight). State: the noise
floor ``floor`` (int32, q8.7 with ``FLOOR_FRAC`` more fraction bits), the hangover counter.

Per frame, ``>>`` an arithmetic shift (floor division by a power of two):

1. First frame of the stream: ``floor = e << FLOOR_FRAC``.
2. ``raw = e − (floor >> FLOOR_FRAC) > margin`` (the frame is loud against the floor).
3. Floor update: ``d = (e << FLOOR_FRAC) − floor``; ``floor += d >> fall_shift`` if ``d < 0`` (the
   floor follows a quieter frame quickly), else ``floor += d >> rise_shift`` (slowly upward, so that
   it also tracks a noise that gets louder but not a word).
4. Hangover: ``hang = hangover`` on a loud frame, else ``hang = max(hang − 1, 0)``; the frame is
   speech (``active``) when ``hang > 0``: a loud frame and the ``hangover − 1`` frames after the
   last loud one.
"""

from dataclasses import dataclass

import numpy as np

from fixedrnn.errors import require_int_fields

#: Extra fraction bits of the noise floor (its slow rise needs them).
FLOOR_FRAC = 8


@dataclass(frozen=True)
class VadConfig:
    """``margin`` (q8.7 units of the energy e above the floor that make a frame loud), ``hangover``
    (frames a segment stays active after its last loud frame, ≥ 1), ``fall_shift`` / ``rise_shift``
    (the floor's speed down / up: it moves by ``2**-shift`` of the difference per frame)."""

    margin: int = 320
    hangover: int = 8
    fall_shift: int = 2
    rise_shift: int = 9

    def __post_init__(self):
        require_int_fields(self, "vad.", (("margin", 0, 2**15 - 1), ("hangover", 1, 255),
                                          ("fall_shift", 0, 16), ("rise_shift", 0, 16)))


def frame_energy(mfcc, precision):
    """Energy ``e`` int32 ``[n]`` (q8.7) of front-end outputs ``mfcc [n, I]`` (int16 q8.7 for "q15",
    int32 q8.23 for "q31")."""
    c0 = np.asarray(mfcc)[:, 0].astype(np.int64)
    return (c0 >> 16 if precision == "q31" else c0).astype(np.int32)


class Vad:
    """The detector's state; :meth:`update` takes one frame's energy and says whether it is speech."""

    def __init__(self, config=None):
        self.config = VadConfig() if config is None else config
        self.reset()

    def reset(self):
        """Back to the state before the first frame."""
        self.floor = None
        self.hang = 0

    def update(self, energy):
        """Energy ``e`` (int, q8.7) of the next frame → ``(raw, active)``: loud, and speech."""
        cfg = self.config
        e = int(energy)
        if self.floor is None:
            self.floor = e << FLOOR_FRAC
        raw = e - (self.floor >> FLOOR_FRAC) > cfg.margin
        d = (e << FLOOR_FRAC) - self.floor
        self.floor += d >> (cfg.fall_shift if d < 0 else cfg.rise_shift)
        self.hang = cfg.hangover if raw else max(self.hang - 1, 0)
        return raw, self.hang > 0
