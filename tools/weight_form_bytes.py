"""Print the firmware's bytes (the budget's flash, RAM and total, front end included) of models at
every weight form: int8, k-bit k = 2..8, power-of-two and each minifloat (e, m), as a markdown table.

    python tools/weight_form_bytes.py [MODEL.npz ...]     (default: golden/models/{lstm,rnn}_int8.npz)

Bytes only: the memory layout (fixedrnn.layout) depends on the model's shapes and its weight form,
not on the values. So each model's int8 weights are re-levelled to the form (each matrix scaled to
its largest level, fixedrnn.weight_forms.WeightForm.quantize) and its other keys kept as they are;
the result is a valid model file's arrays with the exact layout of a model converted to that form,
but not a model to run (its scales no longer match its weights).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from fixedrnn import layout, quant
from fixedrnn.model import Model, load
from fixedrnn.schema import SPECS
from fixedrnn.weight_forms import FORM_KEYS, WeightForm

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = (REPO / "golden" / "models" / "lstm_int8.npz", REPO / "golden" / "models" / "rnn_int8.npz")


def forms():
    """int8, int2..int7, pot, then every minifloat (e, m) of fixedrnn.quant.check_minifloat."""
    out = [WeightForm("int8")] + [WeightForm("intk", bits=k) for k in range(2, 8)] + [WeightForm("pot")]
    out += [WeightForm("minifloat", exponent_bits=e, mantissa_bits=m)
            for e in (1, 2, 3) for m in range(7) if (1 << e) - 1 + m <= 7]
    return out


def arrays_at(model, form):
    """The model file arrays of ``model`` (an int8 model) with its weights re-levelled to ``form``."""
    arrays = {k: v for k, v in model.to_arrays().items() if not k.startswith("meta.")}
    arrays["weights"] = np.array(form.kind)
    for key, field in FORM_KEYS.items():
        if getattr(form, field) is not None:
            arrays[key] = np.int32(getattr(form, field))
    for key in list(arrays):
        if key.endswith(".weight") and SPECS[key].role == "weights":
            w = np.asarray(arrays[key], np.float64)
            peak = float(np.max(np.abs(w))) or 1.0
            levels = form.quantize(w, peak / form.top)
            if form.kind == "pot":
                del arrays[key]
                arrays[key[:-len(".weight")] + ".pot"] = quant.pot_pack(quant.pot_encode_int8(levels))
            else:
                arrays[key] = levels
    Model.from_arrays(arrays, source=f"{form.label} arrays")  # a valid file's arrays
    return arrays


def row(name, form, arrays):
    flash = layout.flash_items(arrays)
    ram = layout.ram_items(arrays)
    weights = sum(item.nbytes for item in flash if item.kind in ("weights", "weight table"))
    f, r = sum(i.nbytes for i in flash), sum(i.nbytes for i in ram)
    return f"| `{name}` | {form.label} | {form.flash_code_bits} | {weights:,} | {f:,} | {r:,} | {f + r:,} |"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, default=list(DEFAULT_MODELS))
    args = parser.parse_args(argv)
    print("| model | weights | flash bits / weight | weight bytes | flash B | RAM B | total B |")
    print("|---|---|---|---|---|---|---|")
    for path in args.models:
        model = load(path)
        if model.weights != "int8":
            parser.error(f"{path}: needs an int8 model, got weights '{model.weights}'")
        for form in forms():
            print(row(path.name, form, arrays_at(model, form)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
