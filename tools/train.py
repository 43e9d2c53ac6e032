#!/usr/bin/env python3
"""Train an FSDD keyword-spotting model and export it as a fixedrnn model file.

    python tools/train.py --cell lstm --units 64 --weights int8 --out golden/models/lstm_int8.npz

Pipeline (PyTorch, CPU; the ``train`` extra):
1. Features by fixedrnn's own fixed-point front end (``arm_mfcc_q15`` bit-exact) of every FSDD
   recording, plus augmented copies (speed, gain, noise, time shift on the PCM; tempo by the
   framing's hop) of the training recordings; cached in a temporary directory (tools/train_data.py).
2. Per-coefficient int8 normalisation (offset = training mean, scale = std / x_scale⁻¹) exactly as
   the device computes it; the model trains on the dequantized int8 features.
3. Float training (AdamW, one-cycle cosine LR, dropout, label smoothing, gradient clipping;
   optionally SpecAugment, ``--cep-scale``, ``--mixup``, a speaker adversary), optionally
   distilled from a float LSTM teacher (``--teacher-units``) or from trained model files
   (``--teacher-model FILE...``: the mean of their integer logits, tools/train_distill.py).
4. Optional pruning of the float model (:mod:`fixedrnn.prune`): ``--prune-sparsity S``
   (unstructured magnitude, ``--prune-scope`` layer|global) or ``--prune-units KEEP`` (structured,
   ``--prune-norm`` l1|l2|linf), then ``--finetune-epochs`` of float fine-tuning; pruned weights
   stay 0 through fine-tuning and QAT (a mask re-applied after every step).
5. Calibration of the activation ranges (:func:`fixedrnn.calibrate.activation_ranges`), then quantization-aware fine-tuning whose fake
   quantization rounds as the integer engine does (tools/train_qat.py), in any weight form
   (``--weights int8|pot|intk --bits K|minifloat --exponent-bits E --mantissa-bits M``, the levels
   of :mod:`fixedrnn.weight_forms`). ``--qat-epochs 0`` is post-training quantization: the
   converter rounds the float model.
6. :func:`fixedrnn.convert.convert` → model file (atomic save), then the memory budget and, when
   the integer engine is available, its accuracy end to end from the WAV files.

``--cell dscnn`` (tools/train_cnn.py): steps 1–3 for a depthwise-separable CNN (``--units``
channels, ``--blocks`` blocks), then post-training quantisation into an int8 graph model
(:mod:`fixedrnn.conv_graph`, calibrated on the fitted originals) in place of steps 4–6's QAT and
converter; evaluated the same way.

Split: the dataset's own (index 0-4 test, 5-49 train); validation = index 5-9 (training speakers'
recordings, never test); the model is fitted on index 10-49 (``--fit-validation``: on 5-49, the
validation figure is then optimistic). ``--holdout SPEAKER`` trains without one speaker and tests
on all of that speaker's recordings (the speaker-independent figure), fitting the other speakers'
index 10-49 (``--fit-validation``: 5-49; ``--fit-all``: all of their recordings, 0-49, each with
its augmented copies). Fixed seeds: the same command gives the same model (single-threaded torch).
"""

import argparse
import hashlib
import json
import math
import sys
import time
import zlib
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import train_data  # noqa: E402
import train_distill  # noqa: E402
from fixedrnn import convert as conv, prune, speech_commands  # noqa: E402
from fixedrnn.calibrate import activation_ranges  # noqa: E402
from fixedrnn.cli import run  # noqa: E402
from fixedrnn.errors import FixedRnnError  # noqa: E402
from fixedrnn.frontend.config import MfccConfig  # noqa: E402
from fixedrnn.golden import file_sha256  # noqa: E402
from fixedrnn.model import FrontendSpec, save  # noqa: E402
from fixedrnn.weight_forms import WeightForm  # noqa: E402

#: The class labels of each dataset's task (Speech Commands: --task 10 or 12).
TASK_LABELS = {"fsdd": train_data.FSDD_LABELS, "10": speech_commands.KEYWORDS, "12": speech_commands.LABELS_12}
#: Default sequence length T per dataset (FSDD: 61 frames ≈ 1 s; Speech Commands: a 1 s clip).
DEFAULT_FRAMES = {"fsdd": 61, "speech_commands": speech_commands.FRAMES}
MFCC_LSB = 2.0**-7  # q8.7
# the teacher is trained with the LSTM defaults: the float model of the first golden LSTM (before its
# retraining with a random channel response), from which the golden RNNs and tiny LSTM were distilled
TEACHER_EPOCHS, TEACHER_LR, TEACHER_CLIP = 100, 3e-3, 1.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="tools/train.py", description=__doc__.split("\n")[1])
    p.add_argument("--cell", choices=("lstm", "rnn", "dscnn"), default="lstm",
                   help="dscnn: a depthwise-separable CNN (tools/train_cnn.py), quantised after training into "
                        "an int8 graph model")
    p.add_argument("--units", type=int, default=64, help="hidden size H (dscnn: the channels of every layer)")
    p.add_argument("--blocks", type=int, default=4, help="dscnn: depthwise-separable blocks")
    p.add_argument("--weights", choices=("int8", "pot", "intk", "minifloat"), default="int8",
                   help="weight form (fixedrnn.weight_forms); intk needs --bits, minifloat --exponent-bits "
                        "and --mantissa-bits")
    p.add_argument("--bits", type=int, default=None, help="intk: bits per weight, 2..8")
    p.add_argument("--exponent-bits", type=int, default=None, help="minifloat: exponent bits e")
    p.add_argument("--mantissa-bits", type=int, default=None, help="minifloat: mantissa bits m")
    p.add_argument("--out", type=Path, required=True, help="model file to write (.npz)")
    p.add_argument("--data-dir", "--data", dest="data_dir", type=Path, default=None,
                   help="dataset folder (default: FSDD at ../shared/data/fsdd)")
    p.add_argument("--dataset", choices=("fsdd", "speech_commands"), default=None,
                   help="default: speech_commands when the folder has its split lists, else fsdd")
    p.add_argument("--task", choices=("10", "12"), default="10",
                   help="Speech Commands: the 10 keywords, or 12 classes with _unknown_ and _silence_")
    p.add_argument("--frames", type=int, default=None,
                   help="sequence length T (default: 61 for FSDD, 49 for Speech Commands)")
    p.add_argument("--x-scale", type=float, default=1.0 / 32, help="int8 input scale (std units)")
    p.add_argument("--fft-length", type=int, default=None,
                   help="front end: FFT length = frame length (default: the dataset's front end, FSDD 256)")
    p.add_argument("--hop", type=int, default=None, help="front end: samples between frames (FSDD default 128)")
    p.add_argument("--n-mels", type=int, default=None, help="front end: mel filters (FSDD default 20)")
    p.add_argument("--n-mfcc", type=int, default=None, help="front end: MFCC coefficients (FSDD default 13)")
    p.add_argument("--fmin", type=float, default=None, metavar="HZ",
                   help="front end: lowest edge of the mel bank (FSDD default 20 Hz)")
    p.add_argument("--fmax", type=float, default=None, metavar="HZ",
                   help="front end: highest edge of the mel bank (FSDD default 4000 Hz, half the sample rate)")
    p.add_argument("--epochs", type=int, default=100, help="float epochs")
    p.add_argument("--qat-epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--qat-lr", type=float, default=5e-4)
    p.add_argument("--weight-decay", type=float, default=1e-2)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--swa", type=float, default=0.0, metavar="FRACTION",
                   help="stochastic weight averaging: the float model is the mean of the weights at the end of "
                        "each of the last FRACTION of float epochs, run at --swa-lr (0: off; --cell dscnn: its batch "
                        "normalisation statistics then recomputed over the fitted sequences)")
    p.add_argument("--swa-lr", type=float, default=3e-4, help="--swa: learning rate of the averaged epochs")
    p.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA",
                   help="float epochs: each batch mixed with a shuffled copy of itself, weight drawn from "
                        "Beta(ALPHA, ALPHA), the loss mixed alike (0: off)")
    p.add_argument("--clip", type=float, default=1.0, help="gradient norm clipping")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--copies", type=int, default=8, help="augmented copies per training file")
    # augmentation (tools/train_data.py AugmentConfig; the defaults are the golden models')
    d = train_data.AugmentConfig()
    p.add_argument("--speed", type=float, nargs=2, default=d.speed, metavar=("LOW", "HIGH"))
    p.add_argument("--vtlp", type=float, nargs=2, default=d.vtlp, metavar=("LOW", "HIGH"),
                   help="vocal-tract-length warp factor range (1 1: off)")
    p.add_argument("--tempo", type=float, nargs=2, default=d.tempo, metavar=("LOW", "HIGH"),
                   help="tempo factor range of the augmented copies (log-uniform): their frames are cut "
                        "round(hop × factor) samples apart, each frame's pitch and formants unchanged (1 1: off)")
    p.add_argument("--noise", nargs="+", choices=train_data.noise.KINDS, default=d.noise_kinds,
                   help="noise kinds of the augmented copies")
    p.add_argument("--snr", type=float, nargs=2, default=d.snr_db, metavar=("LOW", "HIGH"))
    p.add_argument("--noise-prob", type=float, default=d.noise_prob)
    p.add_argument("--noise-over-padding", action="store_true", help="noise over the padding too (stream-like)")
    p.add_argument("--pad-end", type=int, default=d.pad_end, help="most zero samples appended")
    p.add_argument("--reverb", type=float, default=d.reverb_prob, metavar="PROB",
                   help="chance of reverberating a copy (synthetic exponential-decay impulse response; 0: off)")
    p.add_argument("--rt60", type=float, nargs=2, default=d.rt60, metavar=("LOW", "HIGH"),
                   help="--reverb: reverberation time range, seconds")
    p.add_argument("--drr", type=float, nargs=2, default=d.drr_db, metavar=("LOW", "HIGH"),
                   help="--reverb: direct-to-reverberant ratio range, dB")
    p.add_argument("--eq", type=float, default=d.eq_prob, metavar="PROB",
                   help="chance of a random channel response on a copy (0: off)")
    p.add_argument("--eq-db", type=float, default=d.eq_db, help="--eq: dB of each of its cosine terms, at most")
    p.add_argument("--untrimmed", type=float, default=d.untrimmed_prob, metavar="PROB",
                   help="chance of making a copy an untrimmed clip (quiet before and after the word, white "
                        "noise over all of it), endpointed as --endpoint reads a clip (0: off)")
    p.add_argument("--untrimmed-seconds", type=float, nargs=2, default=d.untrimmed_seconds, metavar=("LOW", "HIGH"),
                   help="--untrimmed: range of the quiet before and after the word, seconds")
    p.add_argument("--untrimmed-snr", type=float, nargs=2, default=d.untrimmed_snr_db, metavar=("LOW", "HIGH"),
                   help="--untrimmed: range of the word's level over the noise, dB")
    p.add_argument("--extra-train", type=Path, nargs="+", default=[], metavar="DIR",
                   help="FSDD-layout folders whose recordings are only fitted (e.g. tools/synth_voices.py --train)")
    p.add_argument("--cmn", choices=train_data.CMN_MODES, default="off",
                   help="per-utterance cepstral mean normalisation: window = the engine's and firmware's "
                        "input.cmn (fixedrnn.cepstral_mean; a deployable model); utterance (or --cvn) = an "
                        "experiment done by this tool only: the model file is not deployable, its integer "
                        "figure runs the engine's cell and head on the tool's normalised int8 features")
    p.add_argument("--cvn", action="store_true", help="--cmn: also per-utterance variance normalisation")
    p.add_argument("--freq-mask", type=int, default=0, help="SpecAugment: mask up to F coefficients (0: off)")
    p.add_argument("--time-mask", type=int, default=0, help="SpecAugment: mask up to T frames (0: off)")
    p.add_argument("--speaker-adversary", type=float, default=0.0, metavar="WEIGHT",
                   help="float phase: a speaker classifier on the last hidden state, its gradient reversed "
                        "into the cell with this weight (ramped up from 0 over the phase; 0: off)")
    p.add_argument("--cep-scale", type=float, default=0.0, metavar="S",
                   help="scale each coefficient of a sequence by its own factor from U(1 - S, 1 + S) "
                        "(float and QAT batches; 0: off)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--identity-mix", type=float, default=0.0,
                   help="RNN: recurrent init = (1 - g) * orthogonal + g * identity")
    p.add_argument("--teacher-units", type=int, default=0,
                   help="distil from the float LSTM of this size trained with the default settings (0: no)")
    p.add_argument("--teacher-model", type=Path, nargs="+", default=[], metavar="FILE",
                   help="distil from these model files (mean of their integer logits; same front end, labels and "
                        "input normalisation; with --holdout, trained without that speaker)")
    p.add_argument("--kd-weight", type=float, default=0.7, help="weight of the distillation loss")
    p.add_argument("--kd-temperature", type=float, default=2.0)
    p.add_argument("--prune-sparsity", type=float, default=None,
                   help="unstructured magnitude pruning of the float model: this fraction of the weights")
    p.add_argument("--prune-scope", choices=prune.SCOPES, default="layer",
                   help="--prune-sparsity per weight matrix (layer) or over all of them (global)")
    p.add_argument("--prune-units", type=int, default=None,
                   help="structured pruning of the float model: keep this many hidden units")
    p.add_argument("--prune-norm", choices=prune.NORMS, default="l2", help="--prune-units' unit score")
    p.add_argument("--finetune-epochs", type=int, default=0, help="float epochs after pruning")
    p.add_argument("--storage", choices=("dense", "sparse", "auto"), default="dense",
                   help="weight storage of the written model: sparse rows of the nonzero weights, or auto "
                        "(sparse when the int8 weights' density is below --sparse-density)")
    p.add_argument("--sparse-density", type=float, default=0.5, help="--storage auto's density threshold")
    p.add_argument("--finetune-lr", type=float, default=1e-3)
    p.add_argument("--filler-dir", type=Path, nargs="+", default=[], metavar="DIR",
                   help="FSDD: WAVs of non-digit audio (8 kHz mono 16-bit), class _filler_ after the digits; "
                        "split by a hash of the file name (10 %% test, 10 %% validation)")
    p.add_argument("--filler-babble", type=int, default=0, metavar="N",
                   help="FSDD: N babble pieces of training recordings in the _filler_ class (training split)")
    p.add_argument("--filler-babble-db", type=float, nargs=2, default=(0.0, 0.0), metavar=("LOW", "HIGH"),
                   help="the babble pieces' level range, dB relative to the recordings' median RMS")
    p.add_argument("--subset", type=int, default=0, help="smoke test: a few files per split only")
    p.add_argument("--holdout", default=None, help="speaker-independent run: leave SPEAKER out")
    p.add_argument("--fit-validation", action="store_true", help="also fit on the validation files")
    p.add_argument("--fit-all", action="store_true",
                   help="--holdout: fit every recording of the other speakers (index 0-49, augmented copies of "
                        "each; their validation figure is then optimistic)")
    p.add_argument("--no-evaluate", action="store_true", help="skip the integer-engine evaluation")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--log", type=Path, default=None, help="also write the log lines (JSON) here")
    args = p.parse_args(argv)
    if args.dataset is None:
        args.dataset = ("speech_commands" if args.data_dir is not None and speech_commands.is_layout(args.data_dir)
                        else "fsdd")
    if args.frames is None:
        args.frames = DEFAULT_FRAMES[args.dataset]
    if args.fit_all and not args.holdout:
        p.error("--fit-all: only with --holdout (without it, index 0-4 is the test split)")
    if args.dataset == "speech_commands" and (args.holdout or args.data_dir is None):
        p.error("--dataset speech_commands: needs --data DIR and takes no --holdout")
    if args.units < 1 or args.frames < 1 or args.epochs < 0 or args.qat_epochs < 0:
        p.error("--units and --frames must be >= 1, epochs >= 0")
    if args.dataset == "speech_commands" and (args.filler_dir or args.filler_babble):
        p.error("--filler-dir / --filler-babble: FSDD only (Speech Commands has _unknown_: --task 12)")
    for name in ("copies", "subset", "filler_babble", "teacher_units", "finetune_epochs", "pad_end", "freq_mask", "time_mask"):
        if getattr(args, name) < 0:
            p.error(f"--{name.replace('_', '-')} must be >= 0, got {getattr(args, name)}")
    if not 0.0 <= args.kd_weight <= 1.0 or not 0.0 <= args.identity_mix <= 1.0:
        p.error("--kd-weight and --identity-mix must be in [0, 1]")
    if not (args.x_scale > 0 and args.kd_temperature > 0 and args.lr > 0 and args.qat_lr > 0):
        p.error("--x-scale, --kd-temperature, --lr and --qat-lr must be > 0")
    if args.mixup < 0:
        p.error(f"--mixup must be >= 0, got {args.mixup}")
    if args.speaker_adversary < 0:
        p.error(f"--speaker-adversary must be >= 0, got {args.speaker_adversary}")
    if args.speaker_adversary and (args.teacher_units or args.teacher_model or args.mixup):
        p.error("--speaker-adversary: not with --teacher-units, --teacher-model or --mixup")
    if not 0.0 <= args.cep_scale < 1.0:
        p.error(f"--cep-scale must be in [0, 1), got {args.cep_scale}")
    if args.mixup and (args.teacher_units or args.teacher_model):
        p.error("--mixup: not with --teacher-units or --teacher-model")
    if not (0.0 <= args.swa < 1.0 and args.swa_lr > 0):
        p.error(f"--swa must be in [0, 1) and --swa-lr > 0, got {args.swa} and {args.swa_lr}")
    try:
        weight_form(args)
    except FixedRnnError as exc:
        p.error(f"--weights {args.weights}: {exc}")
    try:
        config = frontend_config(args)
    except FixedRnnError as exc:
        p.error(f"front end (--fft-length, --hop, --n-mels, --n-mfcc, --fmin, --fmax): {exc}")
    low, high = args.tempo
    if not 0 < low <= high:
        p.error(f"--tempo needs 0 < LOW <= HIGH, got {low} {high}")
    if round(config.hop * high) > config.fft_length:
        p.error(f"--tempo: hop × HIGH must not exceed the frame length, got {config.hop} × {high} > {config.fft_length}")
    if args.prune_sparsity is not None and args.prune_units is not None:
        p.error("--prune-sparsity and --prune-units: give one of them")
    if args.prune_sparsity is not None and not 0.0 <= args.prune_sparsity < 1.0:
        p.error(f"--prune-sparsity must be in [0, 1), got {args.prune_sparsity}")
    if args.prune_units is not None and not 1 <= args.prune_units <= args.units:
        p.error(f"--prune-units must be in 1..{args.units} (--units), got {args.prune_units}")
    if args.finetune_epochs and args.prune_sparsity is None and args.prune_units is None:
        p.error("--finetune-epochs: give --prune-sparsity or --prune-units too")
    if not args.finetune_lr > 0:
        p.error("--finetune-lr must be > 0")
    if args.filler_babble_db[0] > args.filler_babble_db[1]:
        p.error("--filler-babble-db needs LOW <= HIGH")
    if not (0 < args.speed[0] <= args.speed[1] and 0 < args.vtlp[0] <= args.vtlp[1]
            and args.snr[0] <= args.snr[1] and 0.0 <= args.noise_prob <= 1.0):
        p.error("--speed and --vtlp need 0 < LOW <= HIGH, --snr LOW <= HIGH, --noise-prob in [0, 1]")
    if not (0.0 <= args.eq <= 1.0 and args.eq_db > 0):
        p.error("--eq must be in [0, 1], --eq-db > 0")
    low, high = args.untrimmed_seconds
    if not (0.0 <= args.untrimmed <= 1.0 and 0.0 <= low <= high <= 10.0 and args.untrimmed_snr[0] <= args.untrimmed_snr[1]):
        p.error("--untrimmed must be in [0, 1], --untrimmed-seconds 0 <= LOW <= HIGH <= 10, --untrimmed-snr LOW <= HIGH")
    if not (0.0 <= args.reverb <= 1.0 and 0 < args.rt60[0] <= args.rt60[1] and args.drr[0] <= args.drr[1]):
        p.error("--reverb must be in [0, 1], --rt60 needs 0 < LOW <= HIGH, --drr LOW <= HIGH")
    if args.teacher_model and (args.teacher_units or not deployable_input(args)):
        p.error("--teacher-model: not with --teacher-units, nor with a --cmn the engine does not run "
                "(utterance, --cvn): the teachers read the engine's int8 inputs")
    for path in args.teacher_model:
        if not path.is_file():
            p.error(f"--teacher-model: {path} is not a file")
    if args.cvn and args.cmn == "off":
        p.error("--cvn: give --cmn utterance|window too")
    if args.extra_train and args.dataset != "fsdd":
        p.error("--extra-train: FSDD only")
    if args.cell == "dscnn":
        if args.blocks < 1:
            p.error(f"--blocks must be >= 1, got {args.blocks}")
        bad = [opt for opt, on in (("--weights", args.weights != "int8"), ("--teacher-units", args.teacher_units),
                                   ("--speaker-adversary", args.speaker_adversary),
                                   ("--prune-sparsity", args.prune_sparsity is not None),
                                   ("--prune-units", args.prune_units is not None))
               if on]
        if bad:
            p.error(f"--cell dscnn: not with {', '.join(bad)} (int8 weights, post-training quantisation)")
    if args.out.suffix != ".npz":
        p.error(f"--out: {args.out} must end in .npz")
    if args.log is not None and not args.log.parent.is_dir():
        p.error(f"--log: {args.log.parent} is not a directory")
    return args


def deployable_cmn(args):
    """True when ``--cmn`` is the engine's rule (window, no variance): the model carries input.cmn."""
    return args.cmn == "window" and not args.cvn


def deployable_input(args):
    """True when the engine computes the int8 inputs the model was trained on: no ``--cmn``, or the
    engine's rule (:func:`deployable_cmn`). Otherwise the run is an experiment (:func:`experiment_note`)."""
    return args.cmn == "off" or deployable_cmn(args)


def experiment_note(args):
    """``meta.experiment`` of a model trained on inputs the engine does not compute."""
    return (f"cepstral normalisation {args.cmn}{' + variance' if args.cvn else ''} outside the engine: "
            "not a deployable model")


def experiment_accuracy(model_q, x_int, test, labels, log):
    """An experiment's integer figure: the model's integer program on the tool's normalised int8
    windows ``x_int [N, T, I]`` of the test mask (the engine, from the WAV files, would not normalise
    them so), the first maximal logit against ``labels``; logged as phase ``evaluate-cmn``."""
    i = np.flatnonzero(test)
    logits = np.concatenate([model_q.run_features_batch(x_int[i[j:j + 256]]) for j in range(0, len(i), 256)])
    accuracy = float(np.mean(np.argmax(logits, axis=1) == labels[i]))
    log(phase="evaluate-cmn", integer_test=accuracy, n=len(i))
    return accuracy


def weight_form(args):
    """The :class:`fixedrnn.weight_forms.WeightForm` of ``--weights`` and its parameters
    (``FixedRnnError`` if they do not make one)."""
    return WeightForm(args.weights, args.bits, args.exponent_bits, args.mantissa_bits)


def dataset_frontend(args):
    """The dataset's default front end (:class:`MfccConfig`)."""
    return speech_commands.FRONTEND if args.dataset == "speech_commands" else MfccConfig()


def frontend_config(args):
    """The :class:`MfccConfig` of the dataset's front end with ``--fft-length``, ``--hop``,
    ``--n-mels``, ``--n-mfcc``, ``--fmin``, ``--fmax`` replacing its fields (``FixedRnnError`` if
    they do not make one)."""
    config = dataset_frontend(args)
    changes = {name: getattr(args, name) for name in ("fft_length", "hop", "n_mels", "n_mfcc", "fmin", "fmax")
               if getattr(args, name) is not None}
    return replace(config, **changes)


def float_model(net):
    """The converter's float model ``(FloatLstm | FloatRnn, FloatHead)`` of a
    :class:`train_qat.RecurrentClassifier`."""
    w_x, w_h, b = net.float_params()
    cell = (conv.FloatLstm if net.cell == "lstm" else conv.FloatRnn)(w_x=w_x, w_h=w_h, b=b)
    head = conv.FloatHead(w=net.head.weight.detach().double().numpy(), b=net.head.bias.detach().double().numpy())
    return cell, head


def load_float_model(net, cell, head):
    """Set ``net``'s weights (same H) to the float model ``(cell, head)``: the combined bias goes to
    ``bias_ih``, ``bias_hh`` is 0."""
    import torch

    c = net.torch_cell
    units = net.units
    with torch.no_grad():
        c.weight_ih_l0.copy_(torch.tensor(np.reshape(cell.w_x, (-1, np.shape(cell.w_x)[-1]))))
        c.weight_hh_l0.copy_(torch.tensor(np.reshape(cell.w_h, (-1, units))))
        c.bias_ih_l0.copy_(torch.tensor(np.reshape(cell.b, -1)))
        c.bias_hh_l0.zero_()
        net.head.weight.copy_(torch.tensor(head.w))
        net.head.bias.copy_(torch.tensor(head.b))


def pruned(args, cell, head):
    """The float model pruned as ``args`` ask (:mod:`fixedrnn.prune`), or as it is."""
    if args.prune_sparsity is not None:
        return prune.prune_magnitude(cell, head, args.prune_sparsity, args.prune_scope)
    if args.prune_units is not None:
        return prune.prune_units(cell, head, args.prune_units, args.prune_norm)
    return cell, head


class Log:
    def __init__(self, path):
        self.path, self.lines = path, []

    def __call__(self, **fields):
        self.lines.append(fields)
        print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items()),
              flush=True)
        if self.path:  # the whole log to a temporary name, then renamed: never half-written
            part = self.path.with_name(self.path.name + ".part")
            part.write_text("\n".join(json.dumps(x) for x in self.lines) + "\n")
            part.replace(self.path)


def augment_config(args):
    """The :class:`train_data.AugmentConfig` of the command line."""
    return train_data.AugmentConfig(copies=args.copies, speed=tuple(args.speed), vtlp=tuple(args.vtlp),
                                    noise_kinds=tuple(args.noise), snr_db=tuple(args.snr),
                                    noise_prob=args.noise_prob, noise_over_padding=args.noise_over_padding,
                                    pad_end=args.pad_end, reverb_prob=args.reverb, rt60=tuple(args.rt60),
                                    drr_db=tuple(args.drr), eq_prob=args.eq, eq_db=args.eq_db,
                                    untrimmed_prob=args.untrimmed, untrimmed_seconds=tuple(args.untrimmed_seconds),
                                    untrimmed_snr_db=tuple(args.untrimmed_snr), tempo=tuple(args.tempo))


def spec_mask(x, rng, freq, time):
    """SpecAugment on a batch of dequantized int8 features ``x`` [B, T, I] (float): per sequence, one
    band of up to ``freq`` coefficients and one run of up to ``time`` frames set to 0.0, the zero
    point's value (the training mean: the masked input stays on the int8 grid). A copy."""
    x = x.clone()
    for b in range(x.shape[0]):
        if freq:
            w = int(rng.integers(0, freq + 1))
            f0 = int(rng.integers(0, x.shape[2] - w + 1))
            x[b, :, f0:f0 + w] = 0.0
        if time:
            w = int(rng.integers(0, time + 1))
            t0 = int(rng.integers(0, x.shape[1] - w + 1))
            x[b, t0:t0 + w, :] = 0.0
    return x


def dann_ramp(p):
    """The weight of the reversed gradient at progress ``p`` in [0, 1] of the phase, as a fraction of
    the full weight: ``2 / (1 + exp(−10 p)) − 1`` (Ganin and Lempitsky's schedule: 0 at the start,
    0.987 at the end)."""
    return 2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0


def speaker_adversary_loss(hidden, speakers, adversary, weight):
    """Cross-entropy of ``adversary``'s speaker prediction from ``hidden`` [B, H]; the adversary's
    parameters get its whole gradient, ``hidden`` (the cell) that gradient times −``weight``: the
    cell learns a last state the speaker cannot be read from, the adversary to read it."""
    import torch

    reversed_grad = hidden + (hidden.detach() - hidden) * (1.0 + weight)  # forward: hidden exactly
    return torch.nn.functional.cross_entropy(adversary(reversed_grad), speakers)


def scale_coefficients(x, rng, spread):
    """A batch of dequantized int8 features ``x`` [B, T, I] (float) with each coefficient of each
    sequence multiplied by its own factor drawn from U(1 − ``spread``, 1 + ``spread``) (the same
    over the sequence's frames; 0.0, the training mean, stays): a speaker's formants sharper or
    flatter than the training speakers'. A copy; the result is off the int8 grid."""
    factors = rng.uniform(1.0 - spread, 1.0 + spread, size=(x.shape[0], 1, x.shape[2]))
    return x * x.new_tensor(factors)


def mix_batch(x, rng, alpha):
    """Mixup of a batch ``x`` [B, T, I] (float): ``lam · x + (1 − lam) · x[perm]`` with ``lam`` drawn
    from Beta(``alpha``, ``alpha``) and ``perm`` a permutation of the batch, both with ``rng``.
    Returns (the mixed batch, ``perm`` (int64 NumPy), ``lam``); the loss is ``lam · L(y) + (1 − lam) ·
    L(y[perm])``."""
    lam = float(rng.beta(alpha, alpha))
    perm = rng.permutation(x.shape[0])
    return lam * x + (1.0 - lam) * x[perm], perm, lam


def filler_items(args, recs):
    """The ``_filler_`` class's items (:class:`train_data.FillerClip`): ``--filler-dir``'s WAVs and
    ``--filler-babble`` babble pieces of the training recordings ``recs``."""
    items = train_data.filler_files(args.filler_dir)
    if args.filler_babble:
        items += train_data.babble_fillers(recs, args.filler_babble, seed=args.seed,
                                           level_db=tuple(args.filler_babble_db))
    return items


def split_masks(features, args, extra=None):
    """Boolean masks over the feature set: (fit, validation, test), originals and copies. FSDD
    fillers (index −1) follow their own split (:func:`train_data.filler_split`); ``extra``: bool
    ``[N]``, the --extra-train recordings (fitted, never validation or test)."""
    if extra is not None and extra.any():
        fit, val, test = split_masks(features, args)
        return fit | extra, val & ~extra, test & ~extra
    if args.dataset == "speech_commands":  # the dataset's lists
        original = features.copy == 0
        return (features.split == "train", (features.split == "validation") & original,
                (features.split == "test") & original)
    idx, spk = features.index, features.speaker
    filler = idx < 0
    fit_f, val_f, test_f = (filler & (features.split == s) for s in ("train", "validation", "test"))
    fit, val, test = (mask & ~filler for mask in digit_split_masks(features, idx, spk, args))
    original = features.copy == 0
    return fit | fit_f, val | (val_f & original), test | (test_f & original)


def digit_split_masks(features, idx, spk, args):
    """FSDD's (fit, validation, test) masks of the digit recordings (index ``idx``)."""
    if args.holdout:
        if args.holdout not in set(spk):
            raise FixedRnnError(f"--holdout: no speaker {args.holdout!r} in the data")
        test = (spk == args.holdout) & (features.copy == 0)
        others = spk != args.holdout
        val = others & (idx >= 5) & (idx < 10) & (features.copy == 0)
        fit = others & (idx >= (0 if args.fit_all else 5 if args.fit_validation else 10))
        return fit, val, test
    test = (idx < 5) & (features.copy == 0)
    val = (idx >= 5) & (idx < 10) & (features.copy == 0)
    fit = idx >= (5 if args.fit_validation else 10)
    return fit, val, test


def run_training(args):
    try:
        import torch
    except ImportError:
        raise FixedRnnError("PyTorch is not installed: python -m pip install -e '.[train]'") from None

    import train_qat

    t_start = time.time()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    log = Log(args.log)
    progress = not args.no_progress
    labels = TASK_LABELS[args.task if args.dataset == "speech_commands" else "fsdd"]
    recs = train_data.recordings_for(args.data_dir, args.subset, args.dataset, labels)
    fillers = filler_items(args, recs)
    if fillers:
        labels = (*labels, train_data.FILLER_LABEL)
        recs = recs + fillers
        log(phase="filler", files=len(fillers), **{split: sum(f.split == split for f in fillers)
                                                   for split in ("train", "validation", "test")},
            fit_fraction=round(sum(f.split == "train" for f in fillers) / sum(r.split == "train" for r in recs), 4))
    config = frontend_config(args)
    aug = augment_config(args)
    feats = train_data.cached_features(recs, config, aug, seed=args.seed, progress=progress, labels=labels,
                                       augmented_splits=("train", "test") if args.fit_all else ("train",))
    n_main = len(feats.lengths)
    extra = np.zeros(n_main, bool)
    if args.extra_train:
        extra_recs = train_data.extra_training_recordings(args.extra_train, {r.speaker for r in recs})
        feats = train_data.concatenate(feats, train_data.cached_features(extra_recs, config, aug, seed=args.seed,
                                                                         progress=progress, labels=labels))
        extra = np.arange(len(feats.lengths)) >= n_main
        log(phase="extra-train", recordings=len(extra_recs), speakers=len({r.speaker for r in extra_recs}))
    fit, val, test = split_masks(feats, args, extra)

    stats_mask = fit & (feats.copy == 0)
    if args.cmn == "off":
        mean, std = train_data.mfcc_statistics(feats, stats_mask)
        input_quant = conv.make_input_quant(mean * MFCC_LSB, std * MFCC_LSB, args.x_scale)
        x_int = train_data.int8_sequences(feats, input_quant, args.frames)
    else:  # the experiment: statistics of the normalised features, over the recordings' own frames
        windows, own = train_data.cepstral_normalised_windows(feats, args.frames, args.cmn, args.cvn)
        sel = windows[stats_mask][own[stats_mask]].astype(np.float64)
        input_quant = conv.make_input_quant(sel.mean(axis=0) * MFCC_LSB, np.maximum(sel.std(axis=0), 1.0) * MFCC_LSB,
                                            args.x_scale)
        x_int = train_data.normalise(windows, input_quant)
        if deployable_cmn(args):
            input_quant = replace(input_quant, cmn="window")
    x_all = torch.tensor((x_int.astype(np.float32) - input_quant.zero_point) * np.float32(input_quant.scale))
    y_all = torch.tensor(feats.labels, dtype=torch.long)
    speakers_all = torch.tensor(np.unique(feats.speaker, return_inverse=True)[1].reshape(-1), dtype=torch.long)

    # one epoch = every fitted recording once, as its original or one of its augmented copies
    by_name = {}
    for i in np.flatnonzero(fit):
        by_name.setdefault(str(feats.names[i]), []).append(i)
    groups = [np.array(v) for _, v in sorted(by_name.items())]

    def new_model(cell, units):
        torch.manual_seed(args.seed)
        if cell == "dscnn":
            import train_cnn

            return train_cnn.DsCnnClassifier(args.frames, config.n_mfcc, units, len(labels), args.blocks,
                                             args.dropout)
        net = train_qat.RecurrentClassifier(cell, config.n_mfcc, units, len(labels), args.dropout,
                                            identity_mix=args.identity_mix if cell == "rnn" else 0.0)
        net.qat.x_scale = float(input_quant.scale)
        net.qat.x_zero_point = int(input_quant.zero_point)
        return net

    model = new_model(args.cell, args.units)
    teacher_logits = None
    masks = []  # (parameter, 0/1 tensor): pruned weights held at 0 after every optimiser step

    def accuracy(mask):
        model.eval()
        with torch.no_grad():
            i = np.flatnonzero(mask)
            if len(i) == 0:
                return float("nan")
            pred = torch.cat([model(x_all[i[j:j + 256]]).argmax(1) for j in range(0, len(i), 256)])
            return float((pred == y_all[i]).float().mean())

    def train_epochs(n_epochs, lr, phase, clip, swa=0.0):
        """``n_epochs`` of AdamW on a one-cycle schedule; with ``swa`` > 0 the last ``swa`` of them
        (at least one epoch, at most all but one) run at ``--swa-lr`` instead and the model becomes
        the mean of its weights at their ends (stochastic weight averaging)."""
        if n_epochs == 0:
            return
        # fresh random streams per phase: a result never depends on what ran before it
        torch.manual_seed(args.seed)
        rng = np.random.default_rng([args.seed, zlib.crc32(phase.encode())])
        adversary = None
        if args.speaker_adversary and phase == "float":
            adversary = torch.nn.Sequential(torch.nn.Linear(model.units, 64), torch.nn.ReLU(),
                                            torch.nn.Linear(64, int(speakers_all.max()) + 1))
        params = list(model.parameters()) + (list(adversary.parameters()) if adversary is not None else [])
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=args.weight_decay)
        n_avg = min(max(int(round(n_epochs * swa)), 1), n_epochs - 1) if swa > 0 else 0
        steps = (n_epochs - n_avg) * int(np.ceil(len(groups) / args.batch))
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.1 if phase == "float" else 0.0)
        averaged = torch.optim.swa_utils.AveragedModel(model) if n_avg else None
        bar = range(n_epochs)
        if progress:
            from tqdm import tqdm

            bar = tqdm(bar, desc=phase, unit="epoch")
        for epoch in bar:
            averaging = epoch >= n_epochs - n_avg
            if averaging and epoch == n_epochs - n_avg:  # the one-cycle schedule is done: hold --swa-lr
                sched = torch.optim.swa_utils.SWALR(opt, args.swa_lr, anneal_epochs=max(1, n_avg // 5))
            model.train()
            pick = np.array([g[rng.integers(len(g))] for g in groups])
            rng.shuffle(pick)
            total = 0.0
            for b in range(0, len(pick), args.batch):
                j = pick[b:b + args.batch]
                xb = x_all[j]
                if args.freq_mask or args.time_mask:
                    xb = spec_mask(xb, rng, args.freq_mask, args.time_mask)
                if args.cep_scale:
                    xb = scale_coefficients(xb, rng, args.cep_scale)
                yb = y_all[j]
                mixing = args.mixup and phase == "float"
                if mixing:
                    xb, perm, lam = mix_batch(xb, rng, args.mixup)
                trace = {} if adversary is not None else None
                out = model(xb, trace)

                def smoothed_ce(target):
                    return torch.nn.functional.cross_entropy(out, target, label_smoothing=0.05)

                loss = lam * smoothed_ce(yb) + (1.0 - lam) * smoothed_ce(yb[perm]) if mixing else smoothed_ce(yb)
                if adversary is not None:
                    progress_p = (epoch + b / len(pick)) / n_epochs
                    loss = loss + speaker_adversary_loss(trace["h"][:, -1], speakers_all[j], adversary,
                                                         args.speaker_adversary * dann_ramp(progress_p))
                if teacher_logits is not None:
                    tau = args.kd_temperature
                    kl = torch.nn.functional.kl_div(torch.log_softmax(out / tau, 1),
                                                    torch.softmax(teacher_logits[j] / tau, 1),
                                                    reduction="batchmean") * tau * tau
                    loss = (1 - args.kd_weight) * loss + args.kd_weight * kl
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, clip)
                opt.step()
                with torch.no_grad():
                    for param, mask in masks:
                        param.mul_(mask)
                if not averaging:
                    sched.step()
                total += float(loss.detach()) * len(j)
            if averaging:
                averaged.update_parameters(model)
                sched.step()
            if epoch % 10 == 9 or epoch == n_epochs - 1:
                log(phase=phase, epoch=epoch + 1, loss=total / len(pick), val=accuracy(val),
                    seconds=round(time.time() - t_start))
        if averaged is not None:
            model.load_state_dict(averaged.module.state_dict())
            if args.cell == "dscnn":  # the averaged weights' own batch statistics
                import train_cnn

                train_cnn.refresh_batch_norm(model, x_all[torch.tensor(np.flatnonzero(fit))])
            log(phase=phase, averaged_epochs=n_avg, val=accuracy(val))

    def float_checkpoint(cell, units, epochs, lr, clip, distilled=False, swa=0.0):
        """Float training of (cell, units), cached by everything that determines it."""
        fields = [cell, units, args.frames, args.x_scale, epochs, lr, args.weight_decay,
                  args.dropout, clip, args.batch, args.copies, args.seed, args.subset, args.holdout,
                  args.fit_validation, [r.name for r in recs]]
        if args.fit_all:
            fields += ["fit-all"]
        if swa:
            fields += [swa, args.swa_lr]
        if args.mixup:
            fields += ["mixup", args.mixup]
        if args.cep_scale:
            fields += ["cep-scale", args.cep_scale]
        if args.speaker_adversary:
            fields += ["speaker-adversary", args.speaker_adversary]
        if cell == "rnn":
            fields += [args.identity_mix, args.teacher_units, args.kd_weight, args.kd_temperature]
        if cell == "dscnn":
            fields += ["blocks", args.blocks]
        if aug != train_data.AugmentConfig(copies=args.copies) or args.freq_mask or args.time_mask:
            fields += [json.dumps(train_data.augment_key(aug)), args.freq_mask, args.time_mask]
        if args.extra_train or args.cmn != "off":
            fields += [sorted(str(n) for n in feats.names[extra]), args.cmn, args.cvn]
        if distilled and cell == "lstm" and args.teacher_units:  # (an RNN's fields above hold them already)
            fields += [args.teacher_units, args.kd_weight, args.kd_temperature]
        if distilled and args.teacher_model:
            fields += [[file_sha256(t) for t in args.teacher_model], args.kd_weight, args.kd_temperature]
        if config != dataset_frontend(args):
            fields += [asdict(config)]  # a front end other than the dataset's default
        if fillers:
            fields += [f.cache_key() for f in fillers]
        key = hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:20]
        ckpt = train_data.CACHE_DIR / f"float-{key}.pt"
        if ckpt.exists():
            model.load_state_dict(torch.load(ckpt))
            log(phase="float", cell=cell, units=units, cached=str(ckpt))
        else:
            train_epochs(epochs, lr, "float", clip, swa)
            train_data.CACHE_DIR.mkdir(parents=True, exist_ok=True)
            tmp = ckpt.with_suffix(".part")
            torch.save(model.state_dict(), tmp)
            tmp.replace(ckpt)

    if args.teacher_units:
        student = model
        model = new_model("lstm", args.teacher_units)
        float_checkpoint("lstm", args.teacher_units, TEACHER_EPOCHS, TEACHER_LR, TEACHER_CLIP)
        model.eval()
        log(phase="teacher", units=args.teacher_units, val=accuracy(val), test=accuracy(test))
        with torch.no_grad():
            teacher_logits = torch.cat([model(x_all[i:i + 1024]) for i in range(0, len(x_all), 1024)])
        model = student
    if args.teacher_model:
        # only the windows a loss or a log reads (not a held-out speaker's augmented copies); 0 elsewhere
        used = np.flatnonzero(fit | val | test)
        soft = np.zeros((len(x_int), len(labels)), np.float32)
        soft[used] = train_distill.ensemble_logits(args.teacher_model, x_int[used], input_quant, labels, config,
                                                   args.holdout)
        teacher_logits = torch.tensor(soft)
        agree = teacher_logits.argmax(1).numpy() == feats.labels
        log(phase="teachers", models=len(args.teacher_model),
            val=float(agree[val].mean()) if val.any() else float("nan"),
            test=float(agree[test].mean()) if test.any() else float("nan"))
    float_checkpoint(args.cell, args.units, args.epochs, args.lr, args.clip,
                     distilled=bool(args.teacher_units or args.teacher_model), swa=args.swa)
    float_val, float_test = accuracy(val), accuracy(test)
    log(phase="float", val=float_val, test=float_test)
    if args.prune_sparsity is not None or args.prune_units is not None:
        cell_params, head = pruned(args, *float_model(model))
        model = new_model(args.cell, int(np.shape(cell_params.w_h)[-1]))
        load_float_model(model, cell_params, head)
        if args.prune_sparsity is not None:
            c = model.torch_cell
            masks = [(p, (p != 0).to(p.dtype)) for p in (c.weight_ih_l0, c.weight_hh_l0, model.head.weight)]
        log(phase="prune", units=model.units, val=accuracy(val), test=accuracy(test))
        train_epochs(args.finetune_epochs, args.finetune_lr, "finetune", args.clip)
        float_val, float_test = accuracy(val), accuracy(test)
        log(phase="pruned", val=float_val, test=float_test)
    if args.cell == "dscnn":
        return export_cnn(args, model, x_all, x_int, fit, feats, test, input_quant, config, labels, recs,
                          float_val, float_test, log, progress)
    # the float model, kept in the model file (meta.float.<state_dict key>, float32) so that
    # tools/make_golden.py can compute its logits for the golden inputs
    float_state = {f"float.{k}": v.detach().cpu().numpy().astype(np.float32)
                   for k, v in model.state_dict().items()}

    # calibration on the fitted originals, then QAT
    calib = np.flatnonzero(fit & (feats.copy == 0))
    ranges = train_qat.qat_ranges(activation_ranges(model.torch_cell, model.head, x_all[calib[:2048]]))
    model.qat = replace(model.qat, weights=weight_form(args), active=True, **ranges)
    log(phase="calibrate", **{k: (json.dumps([round(float(x), 4) for x in np.atleast_1d(v)])) for k, v in ranges.items()})
    log(phase="qat-start", val=accuracy(val))
    train_epochs(args.qat_epochs, args.qat_lr, f"qat-{weight_form(args).label.replace(' ', '-')}", args.clip)
    qat_val, qat_test = accuracy(val), accuracy(test)
    log(phase="qat", val=qat_val, test=qat_test)

    # export
    q = model.qat
    cell_params, head = float_model(model)
    if args.cell == "lstm":
        ranges = conv.LstmRanges(head=q.head_range, cell_abs=q.cell_abs, hidden=q.hidden_range)
    else:
        ranges = conv.RnnRanges(input_fc=q.input_fc_range, recurrent_fc=q.recurrent_fc_range, add=q.add_range,
                                head=q.head_range)
    frontend = FrontendSpec(sample_rate=config.sample_rate, fft_length=config.fft_length, hop=config.hop,
                            n_mels=config.n_mels, n_mfcc=config.n_mfcc, fmin=float(config.fmin),
                            fmax=float(config.fmax), window=config.window, precision="q15")
    command = "python tools/train.py " + " ".join(sys.argv[1:]) if argv_is_cli() else "tools/train.py (library call)"
    meta = {"command": command, "seed": args.seed, "float_val_accuracy": float_val,
            "float_test_accuracy": float_test, "qat_val_accuracy": qat_val, "qat_test_accuracy": qat_test,
            "split": "test = index 0-4; validation = index 5-9; fit = index 10-49"
            if not args.holdout else train_distill.holdout_split(args.holdout)}
    if args.dataset == "speech_commands":
        meta["split"] = "Speech Commands: testing_list.txt, validation_list.txt, the rest fitted"
    if args.teacher_model:
        meta["distilled_from"] = distilled_from(args.teacher_model)
    if not deployable_input(args):
        meta["experiment"] = experiment_note(args)
    meta.update(float_state)
    model_q = conv.convert(cell_params, head, ranges, input_quant, frontend, args.frames, labels,
                           conv.ConvertOptions(cell=args.cell, weights=args.weights, bits=args.bits,
                                               exponent_bits=args.exponent_bits,
                                               mantissa_bits=args.mantissa_bits, storage=args.storage,
                                               sparse_density=args.sparse_density), meta=meta)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save(model_q, args.out)
    log(phase="export", out=str(args.out))

    from fixedrnn import budget

    report = budget.audit(model_q, name=str(args.out))
    log(phase="budget", flash=report.flash_total, ram=report.ram_total, total=report.total)
    result = {"float_test": float_test, "qat_test": qat_test, "budget_total": report.total}
    if not args.no_evaluate and not deployable_input(args):
        result["integer_test"] = experiment_accuracy(model_q, x_int, test, feats.labels, log)
        meta["integer_test_accuracy"] = result["integer_test"]
        save(replace(model_q, meta=dict(meta)), args.out)
    elif not args.no_evaluate:
        from fixedrnn.evaluate import evaluate_model

        names = set(str(n) for n in feats.names[test])
        if args.dataset == "speech_commands":
            res = evaluate_model(model_q, [r for r in recs if r.name in names], split="test", progress=progress,
                                 dataset="speech_commands")
        else:
            paths = [r.path for r in recs if r.name in names and not isinstance(r, train_data.FillerClip)]
            res = evaluate_model(model_q, paths, split="all", progress=progress)  # the digits only
        result["integer_test"] = res.accuracy
        log(phase="evaluate", integer_test=res.accuracy, n=res.n)
        meta["integer_test_accuracy"] = res.accuracy
        save(replace(model_q, meta=dict(meta)), args.out)
    return result


def export_cnn(args, model, x_all, x_int, fit, feats, test, input_quant, config, labels, recs, float_val, float_test,
               log, progress):
    """``--cell dscnn``: the trained CNN quantised into an int8 graph model (:mod:`train_cnn`,
    calibrated on the fitted originals), written to ``--out`` and evaluated by the integer engine
    from the WAV files (the digits of the test mask); an experiment's inputs (:func:`deployable_input`)
    by :func:`experiment_accuracy` on the tool's int8 windows ``x_int``."""
    import train_cnn
    from fixedrnn.graph_model import GraphModel
    from fixedrnn.model import Model

    model.eval()
    calib = np.flatnonzero(fit & (feats.copy == 0))
    graph, layers = train_cnn.int8_graph(model, x_all[calib[:2048]].numpy(), input_quant.scale,
                                         input_quant.zero_point)
    log(phase="calibrate", ranges=json.dumps([[round(v, 4) for v in layer.out_range] for layer in layers
                                              if getattr(layer, "out_range", None) is not None]))
    frontend = FrontendSpec(sample_rate=config.sample_rate, fft_length=config.fft_length, hop=config.hop,
                            n_mels=config.n_mels, n_mfcc=config.n_mfcc, fmin=float(config.fmin),
                            fmax=float(config.fmax), window=config.window, precision="q15")
    command = "python tools/train.py " + " ".join(sys.argv[1:]) if argv_is_cli() else "tools/train.py (library call)"
    meta = {"command": command, "seed": args.seed, "float_val_accuracy": float_val,
            "float_test_accuracy": float_test,
            "split": "test = index 0-4; validation = index 5-9; fit = index 10-49"
            if not args.holdout else train_distill.holdout_split(args.holdout),
            "quantisation": "post-training (fixedrnn.conv_graph), calibrated on the fitted originals"}
    if args.teacher_model:
        meta["distilled_from"] = distilled_from(args.teacher_model)
    if not deployable_input(args):
        meta["experiment"] = experiment_note(args)
    built = GraphModel(labels=tuple(labels), frontend=frontend, frames=args.frames, input=input_quant, graph=graph,
                       meta=meta)
    model_q = Model.from_arrays(built.to_arrays(), source="tools/train.py --cell dscnn")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save(model_q, args.out)
    log(phase="export", out=str(args.out), constant_bytes=int(graph.constants.shape[0]))
    result = {"float_test": float_test, "qat_test": float("nan")}
    if not args.no_evaluate and not deployable_input(args):
        result["integer_test"] = experiment_accuracy(model_q, x_int, test, feats.labels, log)
        meta["integer_test_accuracy"] = result["integer_test"]
        save(replace(model_q, meta=dict(meta)), args.out)
    elif not args.no_evaluate:
        from fixedrnn.evaluate import evaluate_model

        names = set(str(n) for n in feats.names[test])
        paths = [r.path for r in recs if r.name in names and not isinstance(r, train_data.FillerClip)]
        res = evaluate_model(model_q, paths, split="all", progress=progress)
        result["integer_test"] = res.accuracy
        log(phase="evaluate", integer_test=res.accuracy, n=res.n)
        meta["integer_test_accuracy"] = res.accuracy
        save(replace(model_q, meta=dict(meta)), args.out)
    return result


def distilled_from(paths):
    """``meta.distilled_from``: each ``--teacher-model`` file named with its sha256."""
    return [f"{t} (sha256 {file_sha256(t)})" for t in paths]


def argv_is_cli():
    return Path(sys.argv[0]).name == "train.py"


def main(argv=None):
    args = parse_args(argv)
    return run(lambda a: (run_training(a), 0)[1], args, prog="tools/train.py")


if __name__ == "__main__":
    sys.exit(main())
