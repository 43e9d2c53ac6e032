"""Voice-activity detection on the front end's integers: frame energy against a median noise floor,
with a threshold that grows with the noise's own fluctuation, and hysteresis.

Integers only, one frame at a time, as the device runs it (docs/streaming.md, "VAD"). The energy of
frame t is its MFCC coefficient 0 in q8.7 (``e = mfcc[t, 0]`` for a q15 front end, ``e = mfcc[t, 0]
>> 16`` for q31, whose output is q8.23): the DCT's row 0 is ``sqrt(2 / n_mels)`` times the sum of
the natural-log mel magnitudes, so one q8.7 unit of ``e`` is a change of the mean mel level by
``20 · sqrt(n_mels / 2) / (128 · n_mels · ln 10)`` dB (0.0107 dB for 20 mel bands: 93 units ≈ 1 dB).
State: the noise floor ``floor`` and the noise spread ``spread`` (int32, q8.7 with ``FLOOR_FRAC``
more fraction bits), the hangover counter ``hang``.

Per frame, ``>>`` an arithmetic shift (floor division by a power of two):

1. First frame of the stream: ``floor = e << FLOOR_FRAC``, ``spread = spread_start << FLOOR_FRAC``
   (the threshold starts high and comes down within about a second as the spread learns the noise:
   the floor has not settled yet).
2. ``level = e − (floor >> FLOOR_FRAC)``; the frame is loud (``raw``) when ``level > margin +
   ((spread_gain · (spread >> FLOOR_FRAC)) >> 2)``: a fixed margin plus ``spread_gain / 4`` times
   the noise's mean deviation from its floor (a babble that swings by several dB needs a word to
   rise that much more above it; a stationary noise keeps the threshold near ``margin``).
3. Hangover with hysteresis: ``hang = hangover`` if the frame is loud, or if ``hang > 0`` and
   ``level > keep_margin`` (an open segment stays open on frames above the lower threshold); else
   ``hang = max(hang − 1, 0)``. The frame is speech (``active``) when ``hang > 0``.
4. Spread, on frames that are not loud: ``spread += ((|level| << FLOOR_FRAC) − spread) >>
   spread_shift`` (a mean of the last ``2**spread_shift`` frames' deviations).
5. Floor, a running median: ``floor += rise`` if ``(e << FLOOR_FRAC) > floor``, ``floor −= fall``
   if it is smaller (steps of ``1 / 2**FLOOR_FRAC`` q8.7 units). It settles where ``rise / (rise +
   fall)`` of the frames lie below it (the median for ``rise = fall``), so a word moves it by little
   and the quiet moments of a babble do not pull it down.
"""

from dataclasses import dataclass

import numpy as np

from fixedrnn.errors import require_int_fields

#: Extra fraction bits of the noise floor and spread (their slow moves need them).
FLOOR_FRAC = 8


@dataclass(frozen=True)
class VadConfig:
    """``margin`` (q8.7 units of the energy above the floor that make a frame loud, on top of the
    spread term; 280 ≈ 3 dB of mean mel level), ``spread_gain`` (quarters: the spread's weight in
    that threshold), ``keep_margin`` (q8.7 units above the floor that keep a segment open),
    ``hangover`` (frames a segment stays active after its last frame above a threshold, ≥ 1),
    ``spread_shift`` (the spread averages ``2**spread_shift`` frames), ``spread_start`` (the spread
    at the first frame, q8.7 units), ``rise`` / ``fall`` (the floor's step up / down per frame, in
    ``1 / 2**FLOOR_FRAC`` q8.7 units)."""

    margin: int = 280
    spread_gain: int = 8
    keep_margin: int = 280
    hangover: int = 8
    spread_shift: int = 6
    spread_start: int = 1024
    rise: int = 256
    fall: int = 256

    def __post_init__(self):
        require_int_fields(self, "vad.", (("margin", 0, 2**15 - 1), ("spread_gain", 0, 255),
                                          ("keep_margin", 0, 2**15 - 1), ("hangover", 1, 255),
                                          ("spread_shift", 0, 16), ("spread_start", 0, 2**15 - 1),
                                          ("rise", 0, 2**16), ("fall", 0, 2**16)))


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
        self.spread = 0
        self.hang = 0

    def update(self, energy):
        """Energy ``e`` (int, q8.7) of the next frame → ``(raw, active)``: loud, and speech."""
        cfg = self.config
        e = int(energy)
        if self.floor is None:
            self.floor, self.spread = e << FLOOR_FRAC, cfg.spread_start << FLOOR_FRAC
        level = e - (self.floor >> FLOOR_FRAC)
        raw = level > cfg.margin + ((cfg.spread_gain * (self.spread >> FLOOR_FRAC)) >> 2)
        keep = self.hang > 0 and level > cfg.keep_margin
        self.hang = cfg.hangover if raw or keep else max(self.hang - 1, 0)
        if not raw:
            self.spread += ((abs(level) << FLOOR_FRAC) - self.spread) >> cfg.spread_shift
        scaled = e << FLOOR_FRAC
        if scaled > self.floor:
            self.floor += cfg.rise
        elif scaled < self.floor:
            self.floor -= cfg.fall
        return raw, self.hang > 0
