"""Accuracy of models in noise: white, pink and babble at several SNRs, one Markdown table.

    python tools/noise_eval.py [MODEL.npz ...] [--data-dir DIR] [--split test]
        [--snr 30 20 10 5] [--noise white pink babble] [--seed 0] [--json FILE]

Every model (default: every model of golden/models/) is scored by the integer engine end to end from
the WAV files (:func:`fixedrnn.evaluate.evaluate_model`) on the recordings as they are and on noisy
copies of them (:mod:`fixedrnn.noise`: the SNR is the recording's mean power over the noise power;
babble is six other recordings of the evaluated set, by other speakers). Prints one Markdown row per
model: clean accuracy, then one column per noise kind and SNR.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fixedrnn.cli import run  # noqa: E402
from fixedrnn.evaluate import evaluate_model  # noqa: E402
from fixedrnn.model import load  # noqa: E402
from fixedrnn.noise import KINDS, TABLE_SNRS_DB, NoiseSpec  # noqa: E402
from eval_tables import add_table_arguments, table_data_dir, table_models, write_json  # noqa: E402


def noise_table(models, data_dir, split="test", kinds=KINDS, snrs=TABLE_SNRS_DB, seed=0):
    """``[{"model", "clean", "<kind> <snr>": accuracy, ...}]`` for every model path."""
    rows = []
    for path in models:
        model = load(path)
        row = {"model": Path(path).stem, "clean": evaluate_model(model, data_dir, split).accuracy}
        for kind in kinds:
            for snr in snrs:
                spec = NoiseSpec(kind, float(snr), seed)
                row[f"{kind} {snr:g}"] = evaluate_model(model, data_dir, split, noise=spec).accuracy
        rows.append(row)
        print(f"{row['model']}: done", file=sys.stderr, flush=True)
    return rows


def markdown(rows, kinds, snrs):
    columns = ["clean"] + [f"{kind} {snr:g}" for kind in kinds for snr in snrs]
    head = "| model | " + " | ".join(c if c == "clean" else c + " dB" for c in columns) + " |"
    lines = [head, "|" + "---|" * (len(columns) + 1)]
    for row in rows:
        lines.append(f"| {row['model']} | " + " | ".join(f"{100 * row[c]:.1f}" for c in columns) + " |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="tools/noise_eval.py", description=__doc__.split("\n")[0])
    add_table_arguments(p)
    p.add_argument("--noise", nargs="+", choices=KINDS, default=list(KINDS))
    p.add_argument("--snr", nargs="+", type=float, default=list(TABLE_SNRS_DB), metavar="DB")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    return run(_run, args, prog="noise_eval")


def _run(args):
    rows = noise_table(table_models(args), table_data_dir(args), args.split, args.noise, args.snr, args.seed)
    print(markdown(rows, args.noise, args.snr))
    write_json(args, seed=args.seed, rows=rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
