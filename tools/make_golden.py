"""Write the golden vectors of the shipped models: ``python tools/make_golden.py [MODEL.npz ...]``.

For each model (default: every ``golden/models/*.npz`` and ``golden/imported/*.npz``, the latter
written by ``tools/make_imported_models.py``) a set ``golden/vectors/<model>/`` is
written (format: docs/golden.md) with

- the synthetic signals of :data:`fixedrnn.signals.STANDARD_SIGNALS` (full tensors), and
- the FSDD recordings of :func:`golden_recordings` (index 0 of every digit and speaker of the test
  split: 60 files, stored only as file name + sample checksum, logits and digests),
- the float model's logits for every input and the float/integer agreement (also over the whole
  300-recording test split), when the model file holds the trainer's float state and PyTorch is
  installed (see :func:`float_logits_source`).

The output is deterministic: the same models and data give byte-identical manifests.
"""

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))

import numpy as np  # noqa: E402

from fixedrnn import fsdd, golden, signals  # noqa: E402
from fixedrnn.cli import run  # noqa: E402
from fixedrnn.errors import FixedRnnError, InputFileError  # noqa: E402

#: File index of the FSDD recordings each golden set holds (every digit, every speaker).
GOLDEN_FSDD_INDEX = 0


def golden_recordings(data_dir):
    """The FSDD recordings a golden set holds: test split, index 0, every speaker and digit."""
    return [r for r in fsdd.list_recordings(data_dir, "test") if r.index == GOLDEN_FSDD_INDEX]


def float_logits_source(model_file, state_file=None):
    """``(function, description)`` computing the float model's logits for int16 PCM, or None.

    tools/train.py keeps the float (pre-QAT) model's state dict in the model file
    (``meta.float.<key>``, float32); ``state_file`` (a PyTorch state dict saved by tools/train.py,
    e.g. its cached ``float-<key>.pt``) overrides it. The state is loaded into the trainer's own
    ``train_qat.RecurrentClassifier`` (PyTorch), which runs on the dequantized int8 features,
    ``(x − input.zero_point) · input.scale``, exactly as in training. None when there is no float
    state or PyTorch is not installed.
    """
    from fixedrnn import model as model_io

    model = model_io.load(model_file)
    state = {k[len("float."):]: v for k, v in model.meta.items() if k.startswith("float.")}
    if not state and state_file is None:
        return None
    try:
        import torch

        import train_qat  # tools/train_qat.py (sys.path holds tools/)
    except ImportError:
        return None
    if state_file is not None:
        try:
            loaded = torch.load(state_file, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a bad file
            raise InputFileError(state_file, f"not a PyTorch state dict ({exc})") from None
        state = {k: v.numpy() for k, v in loaded.items()}
        where = Path(state_file).name
    else:
        where = "meta.float.* of the model file"
    net = train_qat.RecurrentClassifier(model.cell, model.n_features, model.units, len(model.labels))
    try:
        net.load_state_dict({k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in state.items()})
    except RuntimeError as exc:
        raise InputFileError(state_file or model_file, f"float state does not fit the model ({exc})") from None
    net.eval()

    def compute(pcms):
        x = np.stack([model.features(p) for p in pcms]).astype(np.float32)
        x = (x - np.float32(model.input.zero_point)) * np.float32(model.input.scale)
        with torch.no_grad():
            return net(torch.from_numpy(x)).double().numpy()

    return compute, f"tools/train_qat.py RecurrentClassifier (PyTorch, float32), float state from {where}"


def make_set(model_file, out_dir, data_dir, use_fsdd, quiet, state_file=None):
    specs = list(signals.STANDARD_SIGNALS)
    recordings = []
    if use_fsdd:
        if not (Path(data_dir) / "recordings").is_dir():
            raise FixedRnnError(f"fsdd: {data_dir} is not an FSDD directory (use --no-fsdd to write "
                                "synthetic inputs only)")
        recordings = golden_recordings(data_dir)
    float_logits, float_source, extra = None, None, None
    source = float_logits_source(model_file, state_file)
    if source is not None:
        compute, float_source = source
        names = [s.name for s in specs] + [r.name for r in recordings]
        pcms = [signals.generate(s) for s in specs] + [r.samples() for r in recordings]
        float_logits = dict(zip(names, compute(pcms)))
        if use_fsdd:
            extra = {"test_split": _test_split_agreement(model_file, data_dir, compute)}
    progress = None if quiet else (lambda name: print(f"  {name}", file=sys.stderr))
    gset = golden.write_set(out_dir, model_file, specs, recordings, float_logits=float_logits,
                            float_source=float_source, extra_agreement=extra,
                            progress=progress)
    return gset


def _test_split_agreement(model_file, data_dir, compute):
    from fixedrnn.evaluate import evaluate_model

    result = evaluate_model(model_file, data_dir, split="test")
    recordings = fsdd.list_recordings(data_dir, "test")
    float_pred = np.argmax(np.asarray(compute([r.samples() for r in recordings])), axis=1)
    agree = int(np.sum(float_pred == result.predictions))
    return {"agree": agree, "n": result.n, "rate": agree / result.n,
            "float_accuracy": float(np.mean(float_pred == result.targets)),
            "integer_accuracy": result.accuracy}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", help="model files (default: golden/models/*.npz, golden/imported/*.npz)")
    parser.add_argument("--out", default=str(REPO / "golden" / "vectors"),
                        help="folder of the sets (default: golden/vectors)")
    parser.add_argument("--fsdd", default=None, help="FSDD directory (default: ../shared/data/fsdd)")
    parser.add_argument("--no-fsdd", action="store_true", help="synthetic inputs only")
    parser.add_argument("--float-state", default=None, metavar="PT",
                        help="PyTorch state dict of the float model (one model only; default: the "
                             "model file's meta.float.*)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    def job(args):
        models = [Path(m) for m in args.models] or sorted(
            [*(REPO / "golden" / "models").glob("*.npz"), *(REPO / "golden" / "imported").glob("*.npz")])
        if not models:
            raise FixedRnnError("models: none given and golden/models and golden/imported hold no .npz")
        if args.float_state and len(models) != 1:
            raise FixedRnnError("--float-state: give exactly one model with it")
        data_dir = Path(args.fsdd) if args.fsdd else fsdd.default_data_dir()
        for model_file in models:
            out_dir = Path(args.out) / model_file.stem
            print(f"{model_file} -> {out_dir}", file=sys.stderr)
            gset = make_set(model_file, out_dir, data_dir, not args.no_fsdd, args.quiet, args.float_state)
            agreement = ", ".join(f"{k} {v['agree']}/{v['n']}" for k, v in gset.agreement.items())
            print(f"{gset.name}: {len(gset.inputs)} inputs, tensors {', '.join(gset.tensors)}"
                  + (f"; float/integer agreement: {agreement}" if agreement else "; no float model"))
        return 0

    return run(job, args, prog="make_golden")


if __name__ == "__main__":
    sys.exit(main())
