"""The README's results table of the shipped models: ``python tools/results_table.py``.

For each ``golden/models/*.npz`` (or the models given): cell, weights, H, T, parameters,
flash / RAM / total bytes (``fixedrnn.budget``, front end included), the float model's test
accuracy (the float/integer agreement record of its golden set, else the trainer's ``meta``), the
integer engine's test accuracy measured now end to end from the WAV files (``evaluate``), and the
command that made it (``meta.command``; an ensemble: its ``fixedrnn ensemble``; H "–" for a graph
model). Accuracy is on the dataset's own test split (index
0-4, 300 recordings). Prints Markdown.
"""

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fixedrnn import budget, fsdd, golden, model as model_io  # noqa: E402
from fixedrnn.cli import run  # noqa: E402
from fixedrnn.evaluate import evaluate_model  # noqa: E402


def _meta_text(model, key):
    value = model.meta.get(key)
    return None if value is None else value.item() if hasattr(value, "item") else value


def float_accuracy(model_file, model):
    """The float model's test accuracy: from the golden set's agreement record, else meta."""
    manifest = REPO / "golden" / "vectors" / model_file.stem / golden.MANIFEST
    if manifest.is_file():
        record = json.loads(manifest.read_text()).get("float", {}).get("agreement", {}).get("test_split")
        if record and "float_accuracy" in record:
            return record["float_accuracy"], record["rate"]
    value = _meta_text(model, "float_test_accuracy")
    return (float(value) if value is not None else None), None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*")
    parser.add_argument("--fsdd", default=None)
    args = parser.parse_args(argv)

    def job(args):
        models = [Path(m) for m in args.models] or sorted((REPO / "golden" / "models").glob("*.npz"))
        data_dir = Path(args.fsdd) if args.fsdd else fsdd.default_data_dir()
        rows = []
        for model_file in models:
            model = model_io.load(model_file)
            report = budget.audit_file(model_file)
            result = evaluate_model(model, data_dir, split="test")
            f_acc, agree = float_accuracy(model_file, model)
            rows.append((model_file.stem, model.cell, model.weights, getattr(model, "units", "–"), model.frames,
                         report.cost.parameters, report.flash_total, report.ram_total, report.total,
                         f_acc, result.accuracy, agree, _meta_text(model, "command") or "?"))
        print("| model | cell | weights | H | T | parameters | flash B | RAM B | total B | float acc. "
              "| integer acc. | float/int agreement | trained by |")
        print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        pct = lambda v: "–" if v is None else f"{100 * v:.2f} %"  # noqa: E731
        for r in rows:
            print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]:,} | {r[6]:,} | {r[7]:,} | "
                  f"{r[8]:,} | {pct(r[9])} | {pct(r[10])} | {pct(r[11])} | `{r[12]}` |")
        print("\nAccuracy on the FSDD test split (index 0-4, 300 recordings); integer accuracy by "
              "`python -m fixedrnn evaluate MODEL.npz ../shared/data/fsdd`; bytes by "
              "`python -m fixedrnn.budget MODEL.npz` (front end included).")
        return 0

    return run(job, args, prog="results_table")


if __name__ == "__main__":
    sys.exit(main())
