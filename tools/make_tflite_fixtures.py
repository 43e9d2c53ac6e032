"""Make the converter-made .tflite fixtures of tests/fixtures/tflite (issue #11, fused LSTM).

Run with the TensorFlow environment (tensorflow-cpu + tf-keras 2.21; never fixedrnn's own)::

    /work/venvs/tf/bin/python tools/make_tflite_fixtures.py [--units 16 32 64] [--seed 0]
        [--out tests/fixtures/tflite] [--main-python python3]

Three stages; the first and last run in fixedrnn's environment (``--main-python``, with this
repository on PYTHONPATH), the middle one here:

1. ``features`` (fixedrnn): FSDD through fixedrnn's fixed-point front end (the MFCC of
   ``golden/models/tiny_lstm_int8.npz``: q8.7 ``arm_mfcc_q15``), each recording fitted to T = 61
   frames (left-padded with the silent frame's MFCC, the last T kept), as the engine does.
2. training and conversion (TensorFlow): per-coefficient mean and std of the training frames (MFCC
   real units, LSB 2**-7), float features ``(mfcc / 128 − mean) / std``; a tf-keras (Keras 2)
   ``LSTM(H) → Dense(10)`` (logits, no softmax) trained a few epochs, rebuilt with batch size 1 and
   converted by ``tf.lite.TFLiteConverter`` with full-integer quantisation (DEFAULT optimisation,
   representative dataset of real training features, TFLITE_BUILTINS_INT8, int8 input and output):
   a fused UNIDIRECTIONAL_SEQUENCE_LSTM, STRIDED_SLICE, FULLY_CONNECTED graph.
3. ``tflm`` (fixedrnn): TFLM (``tflite_micro``) runs the file on int8 inputs — test-split
   recordings quantized at the file's input scale and zero point, and uniformly random int8
   sequences — and its logits are saved beside them.

Writes, per H: ``lstm_h<H>.tflite``, ``lstm_h<H>.norm.json`` (``{"mean": [...], "std": [...]}``,
the ``--norm`` file of ``fixedrnn import tflite``) and ``lstm_h<H>.tflm.npz`` (``x`` int8
``[N, T, I]``, ``logits`` int8 ``[N, C]``). Quality is not the point (a few epochs); realistic
activation ranges are.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FRONTEND_MODEL = REPO / "golden" / "models" / "tiny_lstm_int8.npz"
N_REAL, N_RANDOM = 8, 4  # inputs of the TFLM outputs kept per fixture


# -- stage 1 and 3: fixedrnn's environment ------------------------------------------------------

def stage_features(out):
    """Fitted int16 MFCC ``[N, T, I]`` of every FSDD recording, labels, split, silent frame."""
    sys.path.insert(0, str(REPO / "tools"))
    import fixedrnn
    from fixedrnn import fsdd
    from train_data import AugmentConfig, build_features, fit_length

    model = fixedrnn.load(FRONTEND_MODEL)
    recs = fsdd.list_recordings(None, "all")
    feats = build_features(recs, model.frontend.mfcc_config(), AugmentConfig(copies=0))
    seqs = np.stack([fit_length(feats.sequence(i), model.frames, feats.silent)
                     for i in range(len(feats.lengths))])
    np.savez(out, mfcc=seqs, labels=feats.labels, test=np.array([r.split == "test" for r in recs]),
             silent=feats.silent)


def stage_tflm(tflite_path, features_path, norm_path, out):
    """TFLM's logits of the fixture inputs (``x``, ``logits``) into ``out``."""
    from fixedrnn import tflite_read
    from tflite_micro.python.tflite_micro import runtime

    graph = tflite_read.read_tflite(tflite_path).main
    q = graph.tensors[graph.inputs[0]].quantization
    scale, zero = float(q.scale[0]), int(q.zero_point[0])
    norm = json.loads(Path(norm_path).read_text())
    with np.load(features_path) as data:
        test = np.flatnonzero(data["test"])
        rng = np.random.default_rng(0)
        pick = rng.choice(test, N_REAL, replace=False)
        real = (data["mfcc"][pick] / 128.0 - np.array(norm["mean"])) / np.array(norm["std"])
    x_real = np.clip(np.round(real / scale) + zero, -128, 127).astype(np.int8)
    x_random = rng.integers(-128, 128, (N_RANDOM,) + x_real.shape[1:]).astype(np.int8)
    xs = np.concatenate([x_real, x_random])
    interp = runtime.Interpreter.from_file(str(tflite_path), arena_size=512 * 1024)
    logits = []
    for x in xs:
        interp.reset()
        interp.set_input(x[None], 0)
        interp.invoke()
        logits.append(np.asarray(interp.get_output(0)).reshape(-1).astype(np.int8))
    np.savez_compressed(out, x=xs, logits=np.stack(logits))


# -- stage 2: TensorFlow ---------------------------------------------------------------------

def _keras_model(keras, units, frames, n_in, n_out, batch_size=None):
    return keras.Sequential([keras.Input(shape=(frames, n_in), batch_size=batch_size),
                             keras.layers.LSTM(units), keras.layers.Dense(n_out)])


def train_and_convert(features_path, units, seed, epochs, out_dir):
    """Train ``LSTM(units) → Dense(10)``, convert to full-int8; write the .tflite and the norm JSON."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tensorflow as tf
    import tf_keras as keras

    with np.load(features_path) as data:
        mfcc, labels, test = data["mfcc"] / 128.0, data["labels"], data["test"]
    train = ~test
    mean = mfcc[train].reshape(-1, mfcc.shape[-1]).mean(axis=0)
    std = np.maximum(mfcc[train].reshape(-1, mfcc.shape[-1]).std(axis=0), 2.0**-7)
    x = ((mfcc - mean) / std).astype(np.float32)
    tf.keras.utils.set_random_seed(seed)
    frames, n_in = x.shape[1:]
    model = _keras_model(keras, units, frames, n_in, 10)
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x[train], labels[train], epochs=epochs, batch_size=32, verbose=2,
              validation_data=(x[test], labels[test]))
    single = _keras_model(keras, units, frames, n_in, 10, batch_size=1)
    single.set_weights(model.get_weights())
    rng = np.random.default_rng(seed)
    calibration = x[train][rng.choice(int(train.sum()), 200, replace=False)]

    def representative():
        for sample in calibration:
            yield [sample[None]]

    converter = tf.lite.TFLiteConverter.from_keras_model(single)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    name = f"lstm_h{units}" + (f"_s{seed}" if seed else "")
    (out_dir / f"{name}.tflite").write_bytes(converter.convert())
    (out_dir / f"{name}.norm.json").write_text(
        json.dumps({"mean": [float(v) for v in mean], "std": [float(v) for v in std]}, indent=1) + "\n")
    return name


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "fixtures" / "tflite")
    parser.add_argument("--main-python", default="python3",
                        help="fixedrnn's Python (with tflite_micro), for the features and TFLM stages")
    sub = parser.add_subparsers(dest="stage")
    s = sub.add_parser("features")
    s.add_argument("out")
    s = sub.add_parser("tflm")
    s.add_argument("tflite")
    s.add_argument("features")
    s.add_argument("norm")
    s.add_argument("out")
    args = parser.parse_args(argv)
    if args.stage == "features":
        return stage_features(args.out)
    if args.stage == "tflm":
        return stage_tflm(args.tflite, args.features, args.norm, args.out)

    env = dict(os.environ, PYTHONPATH=str(REPO))
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        features = Path(tmp) / "features.npz"
        subprocess.run([args.main_python, __file__, "features", str(features)], check=True, env=env)
        for units in args.units:
            name = train_and_convert(features, units, args.seed, args.epochs, args.out)
            subprocess.run([args.main_python, __file__, "tflm", str(args.out / f"{name}.tflite"),
                            str(features), str(args.out / f"{name}.norm.json"),
                            str(args.out / f"{name}.tflm.npz")], check=True, env=env)
            print(f"wrote {name}: .tflite, .norm.json, .tflm.npz in {args.out}")


if __name__ == "__main__":
    sys.exit(main())
