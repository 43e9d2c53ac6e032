"""Soft targets for distillation from trained fixedrnn models (``tools/train.py --teacher-model``).

A teacher is a model file this tool wrote (or any fixedrnn model, cell or graph, with the same front
end, labels and int8 input normalisation, the engine's window mean removal included): the integer
engine runs it on the run's own int8 training sequences, augmented copies included, and the soft
target of a sequence is the mean over the teachers of their dequantized logits, ``(l − z_out) ·
s_out`` (float32; ``logit_quant`` of the model kind). Averaging several teachers (e.g. the
same recipe trained with different seeds) distils an ensemble into one model of the same size.
"""

import numpy as np

from fixedrnn import model as model_io
from fixedrnn.errors import FixedRnnError

#: sequences per engine call
CHUNK = 1024


def holdout_split(speaker):
    """The ``meta.split`` that tools/train.py writes for a model trained without ``speaker``."""
    return f"holdout speaker {speaker}"


def check_teacher(path, teacher, input_quant, labels, frontend, holdout):
    """Raise :class:`FixedRnnError` naming ``path`` unless ``teacher`` reads the same int8 inputs as this run
    (front end, input normalisation) and scores the same labels; with ``holdout``, it must have
    been trained without that speaker too (else the held-out figure would see that speaker)."""
    if tuple(teacher.labels) != tuple(labels):
        raise FixedRnnError(f"{path}: its labels {list(teacher.labels)} differ from this run's {list(labels)}")
    spec = teacher.frontend
    fields = ("sample_rate", "fft_length", "hop", "n_mels", "n_mfcc", "fmin", "fmax")
    ours = tuple(float(getattr(frontend, f)) for f in fields)
    theirs = tuple(float(getattr(spec, f)) for f in fields)
    if theirs != ours:
        differ = ", ".join(f"{f} {t:g} (this run {o:g})" for f, t, o in zip(fields, theirs, ours) if t != o)
        raise FixedRnnError(f"{path}: its front end differs from this run's: {differ}")
    if not teacher.input.same_as(input_quant):
        raise FixedRnnError(f"{path}: its int8 input normalisation differs from this run's "
                            "(trained on other recordings or with another --x-scale)")
    if holdout is not None and teacher.meta.get("split") != holdout_split(holdout):
        raise FixedRnnError(f"{path}: not trained with speaker {holdout} held out "
                            f"(its split: {teacher.meta.get('split', 'not recorded')!r})")


def ensemble_logits(paths, x_int, input_quant, labels, frontend, holdout=None):
    """float32 ``[N, C]``: the mean dequantized logits of the models at ``paths`` on the int8
    sequences ``x_int`` ``[N, T, I]`` (the integer engine, numba batch path)."""
    total = np.zeros((len(x_int), len(labels)), np.float64)
    for path in paths:
        teacher = model_io.load(path)
        check_teacher(path, teacher, input_quant, labels, frontend, holdout)
        logits = np.concatenate([teacher.run_features_batch(x_int[i:i + CHUNK]) for i in range(0, len(x_int), CHUNK)])
        scale, zero_point = teacher.logit_quant
        total += (logits.astype(np.float64) - zero_point) * np.float64(scale)
    return (total / len(paths)).astype(np.float32)

