"""``python -m fixedrnn classify MODEL.npz WAV...``: the label and int8 score of each recording.

Prints one line per file, ``PATH<TAB>LABEL<TAB>SCORE``, where SCORE is the winning int8 logit (the
first maximum). The whole integer pipeline runs: WAV → MFCC → int8 features → cell → head.
"""


def _classify(args):
    from fixedrnn.mfcc import read_wav
    from fixedrnn.model import load

    model = load(args.model)
    config = model.frontend.mfcc_config()
    pcms = [read_wav(path, config) for path in args.wavs]
    logits = model.run_batch(pcms, backend=args.backend)
    for path, row in zip(args.wavs, logits):
        best = int(row.argmax())
        print(f"{path}\t{model.labels[best]}\t{int(row[best])}")
    return 0


def add_parser(subparsers):
    parser = subparsers.add_parser("classify", help="classify WAV recordings with a model",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="model file (.npz)")
    parser.add_argument("wavs", nargs="+", metavar="WAV", help="16-bit mono WAV files")
    from fixedrnn.backends import BACKENDS

    parser.add_argument("--backend", choices=BACKENDS, default="numba",
                        help="engine path (all give the same integers; 'shift' needs a PoT model)")
    parser.set_defaults(func=_classify)
