"""Make the graph .tflite fixtures: small Keras SimpleRNN / LSTM / GRU models and DS-CNNs (Keras 3 and
tf-keras), trained briefly on FSDD features from fixedrnn's own front end, converted with full int8
quantisation (int8 input and output, a representative dataset, TFLITE_BUILTINS_INT8), and TFLM's
outputs on a few inputs.

Run from the repository root in the main environment (it needs fixedrnn and tflite_micro there);
the Keras stages run in TensorFlow's own virtual environment as subprocesses (``--tf-python``,
default /work/venvs/tf/bin/python; tf-keras through ``TF_USE_LEGACY_KERAS=1``)::

    python tools/make_tflite_graph_fixtures.py                     # the committed fixtures
    python tools/make_tflite_graph_fixtures.py --out /tmp/g --seed 7 --only keras3_gru_h24 \\
        --frames 30 --units 40                                     # another model of a kind

Written to ``OUT/<name>.tflite`` and ``OUT/<name>.npz``: ``x`` int8 ``[N, T, I]`` (test recordings
quantised with the model's input quantisation, then edge sequences: all −128, all 127, uniform
random int8), ``y`` int8 ``[N, C]`` (TFLM's outputs on the original .tflite, reset before every
sequence), ``mean`` / ``std`` float32 ``[I]`` (the per-coefficient normalisation the model was trained
on: float feature = (MFCC q8.7 / 128 − mean) / std), ``frames`` (T).

Features: the MFCC of golden/models/lstm_int8.npz's front end (13 coefficients, q8.7), the last T
frames of each recording, left-padded with the MFCC of a silent frame.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "tflite_graph"
FRONTEND_MODEL = ROOT / "golden" / "models" / "lstm_int8.npz"

#: name → (keras flavour, layer, units, frames)
VARIANTS = {
    "keras3_rnn_h16": ("keras3", "rnn", 16, 16),
    "keras3_lstm_h32": ("keras3", "lstm", 32, 12),
    "keras3_gru_h24": ("keras3", "gru", 24, 12),
    "tfkeras_rnn_h64": ("tfkeras", "rnn", 64, 16),
    "tfkeras_gru_h16": ("tfkeras", "gru", 16, 12),
    # DS-CNNs (units: the channels): Keras 3's global average pool converts to MEAN, tf-keras' full-map
    # AveragePooling2D to AVERAGE_POOL_2D
    "keras3_dscnn_c12": ("keras3", "dscnn", 12, 21),
    "tfkeras_dscnn_c8": ("tfkeras", "dscnn-avgpool", 8, 16),
}


# ---------------------------------------------------------------------------------------------
# TensorFlow stage (run in the TF environment; imports nothing of fixedrnn)


def keras_stage(args):
    """Train one model on ``features.npz`` and write the converted .tflite + quantised test inputs."""
    import tensorflow as tf

    if os.environ.get("TF_USE_LEGACY_KERAS") == "1":
        import tf_keras as keras
    else:
        import keras
    data = np.load(args.features)
    x_train, y_train, x_test = data["x_train"], data["y_train"], data["x_test"]
    frames, n_in = x_train.shape[1:]
    tf.random.set_seed(args.seed)
    np.random.seed(args.seed)
    def build(batch, unroll):
        inp = keras.Input(shape=(frames, n_in), batch_size=batch)
        if args.layer.startswith("dscnn"):
            return keras.Model(inp, keras.layers.Dense(10)(dscnn(inp, args.layer == "dscnn-avgpool")))
        layer = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[args.layer]
        h = layer(args.units, unroll=unroll)(inp)
        return keras.Model(inp, keras.layers.Dense(10)(h))

    def dscnn(inp, avgpool):
        """Reshape to [T, I, 1]; Conv2D 10x4 stride 2 (SAME), depthwise 3x3 (VALID, stride 2x1) and
        pointwise 1x1, each with batch normalisation and a ReLU (the converter folds and fuses them);
        the mean over the map."""
        L = keras.layers
        h = L.Reshape((frames, n_in, 1))(inp)
        h = L.ReLU()(L.BatchNormalization()(L.Conv2D(args.units, (10, 4), strides=(2, 2), padding="same")(h)))
        h = L.ReLU()(L.BatchNormalization()(L.DepthwiseConv2D(3, strides=(2, 1), padding="valid")(h)))
        h = L.ReLU(max_value=6.0)(L.BatchNormalization()(L.Conv2D(args.units, 1)(h)))
        if avgpool:
            return L.Flatten()(L.AveragePooling2D(pool_size=tuple(int(d) for d in h.shape[1:3]))(h))
        return L.GlobalAveragePooling2D()(h)

    train = build(None, False)
    train.compile(optimizer=keras.optimizers.Adam(3e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    train.fit(x_train, y_train, epochs=args.epochs, batch_size=32, verbose=2)
    model = build(1, True)
    model.set_weights(train.get_weights())

    def representative():
        for i in range(0, len(x_train), max(1, len(x_train) // 100)):
            yield [x_train[i:i + 1].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    flat = converter.convert()
    Path(args.tflite).write_bytes(flat)
    detail = tf.lite.Interpreter(model_content=flat).get_input_details()[0]
    scale, zero = detail["quantization"]
    x_q = np.clip(np.round(x_test / scale) + zero, -128, 127).astype(np.int8)
    np.save(args.quantised, x_q)
    print(json.dumps({"input_scale": scale, "input_zero_point": zero}))


# ---------------------------------------------------------------------------------------------
# fixedrnn stage (main environment)


def fsdd_features(frames, n_train, n_test, seed):
    """Float features (MFCC q8.7 / 128) ``[N, T, I]`` and labels of a seeded subset of FSDD."""
    import fixedrnn
    from fixedrnn import engine, fsdd
    from fixedrnn.mfcc import frames as frame_pcm

    model = fixedrnn.load(FRONTEND_MODEL)
    silent = engine.mfcc_frames(model, np.zeros((1, model.frontend.fft_length), np.int16))[0]
    rng = np.random.default_rng(seed)

    def subset(split, count):
        recordings = fsdd.list_recordings(split=split)
        picks = rng.choice(len(recordings), size=min(count, len(recordings)), replace=False)
        xs, ys = [], []
        for i in sorted(picks):
            rec = recordings[i]
            pcm = rec.samples()
            mfcc = engine.mfcc_frames(model, frame_pcm(pcm, model.front_end.config)) if len(pcm) else silent[None]
            mfcc = mfcc[-frames:]
            if len(mfcc) < frames:
                mfcc = np.concatenate([np.repeat(silent[None], frames - len(mfcc), 0), mfcc])
            xs.append(mfcc.astype(np.float32) / 128.0)
            ys.append(rec.digit)
        return np.stack(xs), np.array(ys, np.int32)

    x_train, y_train = subset("train", n_train)
    x_test, _ = subset("test", n_test)
    return x_train, y_train, x_test


def tflm_outputs(tflite, xs):
    """TFLM's int8 outputs ``[N, C]`` of ``tflite`` (bytes) on int8 inputs ``[N, T, I]``."""
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(tflite, arena_size=max(256 * 1024, 8 * len(tflite)))
    out = []
    for x in xs:
        interpreter.reset()
        interpreter.set_input(x[None], 0)
        interpreter.invoke()
        out.append(np.array(interpreter.get_output(0)).reshape(-1))
    return np.stack(out).astype(np.int8)


def make(name, variant, args, work):
    flavour, layer, units, frames = variant
    frames = args.frames or frames
    units = args.units or units
    x_train, y_train, x_test = fsdd_features(frames, args.train, args.test, args.seed)
    mean = x_train.reshape(-1, x_train.shape[-1]).mean(0)
    std = x_train.reshape(-1, x_train.shape[-1]).std(0) + 1e-6
    norm = lambda x: ((x - mean) / std).astype(np.float32)  # noqa: E731
    features = work / f"{name}_features.npz"
    np.savez(features, x_train=norm(x_train), y_train=y_train, x_test=norm(x_test))
    tflite = args.out / f"{name}.tflite"
    quantised = work / f"{name}_x.npy"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    env.pop("PYTHONPATH", None)
    if flavour == "tfkeras":
        env["TF_USE_LEGACY_KERAS"] = "1"
    subprocess.run([args.tf_python, __file__, "--keras-stage", "--features", str(features), "--tflite", str(tflite),
                    "--quantised", str(quantised), "--layer", layer, "--units", str(units),
                    "--seed", str(args.seed), "--epochs", str(args.epochs)], env=env, check=True)
    data = tflite.read_bytes()
    rng = np.random.default_rng(args.seed + 1)
    x = np.concatenate([np.load(quantised),
                        np.full((1,) + x_test.shape[1:], -128, np.int8),
                        np.full((1,) + x_test.shape[1:], 127, np.int8),
                        rng.integers(-128, 128, (4,) + x_test.shape[1:]).astype(np.int8)])
    y = tflm_outputs(data, x)
    np.savez_compressed(args.out / f"{name}.npz", x=x, y=y, mean=mean.astype(np.float32),
                        std=std.astype(np.float32), frames=np.int32(frames))
    print(f"{name}: {len(data)} bytes, T={frames}, H={units}, {len(x)} sequences")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--only", action="append", choices=sorted(VARIANTS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--units", type=int, help="override every variant's H")
    parser.add_argument("--frames", type=int, help="override every variant's T")
    parser.add_argument("--train", type=int, default=600, help="training recordings")
    parser.add_argument("--test", type=int, default=10, help="test recordings in the fixture")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--tf-python", default="/work/venvs/tf/bin/python")
    # the Keras stage (internal)
    parser.add_argument("--keras-stage", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--features", help=argparse.SUPPRESS)
    parser.add_argument("--tflite", help=argparse.SUPPRESS)
    parser.add_argument("--quantised", help=argparse.SUPPRESS)
    parser.add_argument("--layer", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.keras_stage:
        keras_stage(args)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        for name in args.only or VARIANTS:
            make(name, VARIANTS[name], args, Path(work))


if __name__ == "__main__":
    sys.exit(main())
