#!/usr/bin/env python3
"""Make the PyTorch import fixtures of tests/test_from_torch.py (tests/fixtures/torch/).

    python tools/make_torch_fixtures.py [--data-dir FSDD] [--out tests/fixtures/torch]

Needs PyTorch, FSDD and tflite-micro (the oracle). Writes:
- ``data.npz``: the front end's per-coefficient ``mean`` and ``std`` (float64 [13], MFCC real units,
  FSDD training split, index 5-49), ``x_scale``; ``calibration`` int8 [120, 61, 13] (training
  recordings, evenly spaced) and ``inputs`` int8 [100, 61, 13] with ``targets`` int64 [100] (every
  third test recording, index 0-4): the features of fixedrnn's integer front end, normalised to int8
  at ``x_scale`` (the float model's input is ``x · x_scale``).
- ``lstm16.npz`` (``nn.LSTM(13, 16, batch_first=True)`` as ``lstm.*``, ``nn.Linear(16, 10)`` as
  ``fc.*``), ``rnn24.pt`` (``nn.RNN(13, 24)``, batch_first=False, ``torch.save`` of a state_dict with
  ``rnn.*`` and ``fc.*``), ``lstm12_nobias.npz`` (``nn.LSTM(13, 12, bias=False)``, ``fc.*``): float32
  state_dicts trained for a few epochs (Adam, fixed seed) on the training recordings.
- ``expected_logits.npz``: for each model and weight kind (``<name>.int8``, ``<name>.pot``), the int8
  logits [100, 10] that TFLM's interpreter computes on ``inputs`` from the ``.tflite`` exported from
  :func:`fixedrnn.from_torch_state_dict` (calibrated on ``calibration · x_scale``).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import train_data  # noqa: E402
from fixedrnn.import_torch import FeatureNormalisation, from_torch_state_dict  # noqa: E402
from fixedrnn.mfcc import MfccConfig  # noqa: E402

FRAMES = 61
X_SCALE = 1.0 / 32
MFCC_LSB = 2.0**-7
#: name → (cell, hidden size, bias, batch_first, state_dict file)
MODELS = {
    "lstm16": ("lstm", 16, True, True, "lstm16.npz"),
    "rnn24": ("rnn", 24, True, False, "rnn24.pt"),
    "lstm12_nobias": ("lstm", 12, False, True, "lstm12_nobias.npz"),
}


class Net:
    """The float model: recurrent layer, then the head on the last hidden state."""

    def __init__(self, cell, units, bias, batch_first, seed):
        import torch
        from torch import nn

        torch.manual_seed(seed)
        self.prefix = "lstm." if cell == "lstm" else "rnn."
        self.recurrent = (nn.LSTM if cell == "lstm" else nn.RNN)(13, units, bias=bias, batch_first=batch_first)
        self.fc = nn.Linear(units, 10)
        self.batch_first = batch_first

    def parameters(self):
        return list(self.recurrent.parameters()) + list(self.fc.parameters())

    def __call__(self, x):
        out, _ = self.recurrent(x if self.batch_first else x.transpose(0, 1))
        last = out[:, -1] if self.batch_first else out[-1]
        return self.fc(last)

    def state_dict(self):
        state = {self.prefix + k: v for k, v in self.recurrent.state_dict().items()}
        state.update({"fc." + k: v for k, v in self.fc.state_dict().items()})
        return state


def train(net, x, y, epochs, seed):
    import torch

    torch.manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        for b in range(0, len(order), 64):
            j = order[b:b + 64]
            loss = torch.nn.functional.cross_entropy(net(x[j]), y[j])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
        print(f"  epoch {epoch + 1}: loss {float(loss.detach()):.3f}", flush=True)


def main(argv=None):
    import torch

    from fixedrnn.tflm_runner import TflmRunner

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "torch")
    p.add_argument("--epochs", type=int, default=12)
    args = p.parse_args(argv)
    torch.set_num_threads(1)

    recs = train_data.recordings_for(args.data_dir)
    feats = train_data.cached_features(recs, MfccConfig(), train_data.AugmentConfig(copies=0), seed=0)
    train_mask = feats.index >= 5
    mean, std = train_data.mfcc_statistics(feats, train_mask)
    normalisation = FeatureNormalisation(MfccConfig(), mean * MFCC_LSB, std * MFCC_LSB, x_scale=X_SCALE)
    x_int = train_data.int8_sequences(feats, normalisation.input_quant(), FRAMES)
    fit = np.flatnonzero(feats.index >= 10)
    calib = np.flatnonzero(train_mask)[::20][:120]
    test = np.flatnonzero(feats.index < 5)[::3][:100]
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out / "data.npz", mean=mean * MFCC_LSB, std=std * MFCC_LSB, x_scale=X_SCALE,
                        calibration=x_int[calib], inputs=x_int[test], targets=feats.labels[test].astype(np.int64))
    x_fit = torch.tensor(x_int[fit].astype(np.float32) * np.float32(X_SCALE))
    y_fit = torch.tensor(feats.labels[fit], dtype=torch.long)
    calibration = x_int[calib].astype(np.float32) * np.float32(X_SCALE)
    expected = {}
    for seed, (name, (cell, units, bias, batch_first, file)) in enumerate(MODELS.items()):
        print(f"{name}: training", flush=True)
        net = Net(cell, units, bias, batch_first, seed)
        train(net, x_fit, y_fit, args.epochs, seed)
        state = {k: v.detach().numpy().astype(np.float32) for k, v in net.state_dict().items()}
        path = args.out / file
        if path.suffix == ".pt":
            torch.save({k: torch.tensor(v) for k, v in state.items()}, path)
        else:
            np.savez(path, **state)
        with torch.no_grad():
            float_pred = net(torch.tensor(x_int[test].astype(np.float32) * np.float32(X_SCALE))).argmax(1).numpy()
        for weights in ("int8", "pot"):
            model = from_torch_state_dict(path, calibration, normalisation, weights=weights, frames=FRAMES)
            logits = TflmRunner(model)(x_int[test])
            expected[f"{name}.{weights}"] = logits
            pred = np.argmax(logits, 1)
            print(f"  {weights}: TFLM accuracy {np.mean(pred == feats.labels[test]):.3f}, float "
                  f"{np.mean(float_pred == feats.labels[test]):.3f}, argmax agreement {np.mean(pred == float_pred):.3f}",
                  flush=True)
    np.savez(args.out / "expected_logits.npz", **expected)
    return 0


if __name__ == "__main__":
    sys.exit(main())
