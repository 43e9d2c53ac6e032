"""tools/synth_voices.py: espeak-ng digits in FSDD's layout, read back by fixedrnn's FSDD reader."""

import shutil
import sys

import numpy as np
import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "tools"))

import synth_voices  # noqa: E402
from fixedrnn import fsdd  # noqa: E402
from fixedrnn.errors import FixedRnnError  # noqa: E402

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng not installed (apt-get install espeak-ng)")


@needs_espeak
def test_writes_fsdd_named_recordings(tmp_path):
    paths = synth_voices.write_set(tmp_path, voices=["en-us+f2"], speeds=[150], pitches=[30, 70])
    listed = fsdd.list_recordings(tmp_path)
    assert sorted(r.path for r in listed) == sorted(paths) and len(paths) == 20
    assert {r.speaker for r in listed} == {"en-us-f2"} and {r.index for r in listed} == {0, 1}
    assert sorted({r.digit for r in listed}) == list(range(10))
    for r in listed:
        x = r.samples()  # 8 kHz 16-bit mono, or fsdd refuses it
        assert 0.1 * fsdd.SAMPLE_RATE < x.size < 2 * fsdd.SAMPLE_RATE
        assert np.max(np.abs(x.astype(np.int32))) == synth_voices.PEAK
    low, high = (next(r for r in listed if r.digit == 7 and r.index == i).samples() for i in (0, 1))
    assert not np.array_equal(low[:min(low.size, high.size)], high[:min(low.size, high.size)])


@needs_espeak
def test_unknown_voice_is_one_line(tmp_path):
    with pytest.raises(FixedRnnError, match="espeak-ng could not speak with voice 'xx-nope'"):
        synth_voices.write_set(tmp_path, voices=["xx-nope"], speeds=[150], pitches=[50])
