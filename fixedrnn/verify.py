"""``python -m fixedrnn verify [GOLDEN]``: recompute every golden vector and compare bit for bit.

For each golden set (``GOLDEN/vectors/<model>/``, format in docs/golden.md) the model file is
loaded, every synthetic input is regenerated from its formula (its sample checksum must match) and
every FSDD input is read from the dataset when it is present (else they are skipped, and the report
says so); the integer engine recomputes every tensor, which must equal the stored one on every
element (0 LSB); the fast engine paths (numba, and shift-only for power-of-two models) must give the
golden logits too. The first differing tensor, step and index is reported for each set.

Exit codes: 0 all equal, 1 a difference, 2 unusable input (missing or damaged golden files, a model
that does not load, an FSDD recording whose samples are not the ones the vectors were made from).
"""

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from fixedrnn import fsdd, golden, signals
from fixedrnn.errors import InputFileError


@dataclass(frozen=True)
class Difference:
    """The first element where a recomputed tensor differs from its golden value.

    ``step`` is the index along axis 0 of a per-step tensor (None for the logits and whole-tensor
    facts); ``index`` the remaining indices (None when only a digest is stored: FSDD inputs).
    """

    input: str
    tensor: str
    step: Optional[int] = None
    index: Optional[tuple] = None
    expected: Optional[object] = None
    got: Optional[object] = None
    note: str = ""

    def __str__(self):
        where = f"input '{self.input}', tensor '{self.tensor}'"
        if self.step is not None:
            where += f", step {self.step}"
        if self.index is not None:
            where += f", index {list(self.index)}"
        text = where
        if self.expected is not None or self.got is not None:
            text += f": expected {self.expected}, got {self.got}"
        if self.note:
            text += f" ({self.note})" if self.expected is not None else f": {self.note}"
        return text


@dataclass
class SetReport:
    """Outcome for one golden set: inputs checked, FSDD skip reason, first difference per input."""

    name: str
    synthetic_checked: int = 0
    fsdd_checked: int = 0
    fsdd_total: int = 0
    fsdd_skipped: Optional[str] = None
    differences: list = field(default_factory=list)

    @property
    def equal(self):
        return not self.differences


def compare_tensor(input_name, tensor_name, expected, got):
    """The first :class:`Difference` between two integer tensors, or None if equal.

    Axis 0 is reported as the step for tensors of 2 or more dimensions.
    """
    if expected.shape != got.shape:
        return Difference(input_name, tensor_name, expected=f"shape {list(expected.shape)}",
                          got=f"shape {list(got.shape)}")
    if expected.dtype != got.dtype:
        return Difference(input_name, tensor_name, expected=f"dtype {expected.dtype}", got=f"dtype {got.dtype}")
    unequal = np.argwhere(expected != got)
    if unequal.size == 0:
        return None
    first = tuple(int(i) for i in unequal[0])
    step, index = (first[0], first[1:]) if expected.ndim >= 2 else (None, first)
    return Difference(input_name, tensor_name, step=step, index=index, expected=int(expected[first]),
                      got=int(got[first]), note=f"{len(unequal)} element(s) differ")


def compare_digest(input_name, tensor_name, digest, step_digests, got):
    """The first :class:`Difference` of a tensor known only by digests, or None.

    ``digest``: ``{"shape", "dtype", "sha256"}``; ``step_digests``: uint32 ``[rows]`` (see
    :func:`fixedrnn.golden.row_digests`).
    """
    if list(got.shape) != list(digest["shape"]):
        return Difference(input_name, tensor_name, expected=f"shape {digest['shape']}", got=f"shape {list(got.shape)}")
    if got.dtype.name != digest["dtype"]:
        return Difference(input_name, tensor_name, expected=f"dtype {digest['dtype']}", got=f"dtype {got.dtype}")
    if golden.tensor_digest(got) == digest["sha256"]:
        return None
    rows = golden.row_digests(got)
    step = None
    if step_digests is not None and step_digests.shape == rows.shape:
        unequal = np.flatnonzero(rows != step_digests)
        if unequal.size and got.ndim >= 2:
            step = int(unequal[0])
    return Difference(input_name, tensor_name, step=step,
                      note="SHA-256 differs (this tensor is stored as digests only, so the index "
                           "within the step is not known)")


def _compare_all(gset, entry, tensors, expected_for):
    if list(tensors) != list(gset.tensors):
        return Difference(entry.name, "(tensor list)", expected=list(gset.tensors), got=list(tensors),
                          note="the engine traces different tensors than the golden set holds")
    for name in gset.tensors:
        diff = expected_for(name, tensors[name])
        if diff is not None:
            return diff
    got_logits = tuple(int(v) for v in tensors["logits"])
    if got_logits != entry.logits:  # manifest copy of the logits
        return Difference(entry.name, "logits", expected=list(entry.logits), got=list(got_logits),
                          note="manifest logits")
    return None


def verify_set(gset, fsdd_dir=None, use_fsdd=True):
    """Recompute one :class:`fixedrnn.golden.GoldenSet`; return a :class:`SetReport`.

    Every tensor comes from the engine's traced NumPy path (all inputs in one batch); the logits
    are recomputed once more by each fast path (:func:`fixedrnn.golden.fast_backends`: numba, and
    shift for power-of-two models), batched over all inputs, and must equal the golden logits too.
    """
    from fixedrnn import model as model_io

    report = SetReport(name=gset.name)
    model = model_io.load(gset.model_file)
    sha = golden.file_sha256(gset.model_file)
    if sha != gset.model_sha256:
        report.differences.append(Difference(
            "(model)", str(gset.model_file), expected=f"sha256 {gset.model_sha256[:16]}…",
            got=f"sha256 {sha[:16]}…", note="the model file is not the one the vectors were made from"))
    if tuple(str(l) for l in model.labels) != gset.labels:
        report.differences.append(Difference("(model)", "labels", expected=list(gset.labels),
                                             got=list(model.labels)))

    synthetic = [e for e in gset.inputs if e.source == "synthetic"]
    recorded = [e for e in gset.inputs if e.source == "fsdd"]
    report.fsdd_total = len(recorded)
    data_dir = Path(fsdd_dir) if fsdd_dir is not None else fsdd.default_data_dir()
    if recorded and not use_fsdd:
        report.fsdd_skipped = "not asked for (--no-fsdd)"
        recorded = []
    elif recorded and not (data_dir / "recordings").is_dir():
        report.fsdd_skipped = f"FSDD not found at {data_dir} (set FIXEDRNN_FSDD or use --fsdd DIR)"
        recorded = []

    stored = gset.full_tensors() if synthetic else {}
    steps = gset.step_digests() if synthetic or recorded else {}

    def expected_for(entry):
        def compare(name, got):
            key = f"{entry.name}/{name}"
            if key in stored:
                return compare_tensor(entry.name, name, stored[key], got)
            if key not in steps:
                raise InputFileError(gset.directory / golden.STEPS, f"missing step digests '{key}'")
            return compare_digest(entry.name, name, entry.digests[name], steps[key], got)
        return compare

    work, pcms = [], []
    for entry in synthetic:
        pcm = signals.generate(entry.signal)
        if fsdd.sample_checksum(pcm) != entry.checksum:
            report.differences.append(Difference(
                entry.name, "pcm", note="the regenerated signal's sample checksum differs from the "
                                        "golden one (signal generator changed)"))
            continue
        work.append(entry)
        pcms.append(pcm)
    for entry in recorded:
        path = data_dir / "recordings" / entry.name
        pcm = fsdd.read_samples(path)
        if fsdd.sample_checksum(pcm) != entry.checksum:
            raise InputFileError(path, "samples' checksum differs from the golden manifest "
                                       "(not the recording the vectors were made from)")
        work.append(entry)
        pcms.append(pcm)

    checked = []
    for entry, tensors in zip(work, golden.compute_tensors_batch(model, pcms)):
        diff = _compare_all(gset, entry, tensors, expected_for(entry))
        if diff is not None:
            report.differences.append(diff)
        checked.append((entry, tensors["features"]))
        if entry.source == "synthetic":
            report.synthetic_checked += 1
        else:
            report.fsdd_checked += 1
    report.differences.extend(compare_fast_paths(model, checked))
    return report


def compare_fast_paths(model, checked):
    """Differences between each fast engine path's logits and the golden logits.

    ``checked``: ``(GoldenInput, int8 features [T, I])`` pairs; one batched run per backend.
    """
    if not checked:
        return []
    features = np.stack([f for _, f in checked])
    expected = np.array([e.logits for e, _ in checked], np.int64)
    found = []
    for backend in golden.fast_backends(model):
        logits = np.asarray(model.run_features_batch(features, backend=backend), np.int64)
        for row in np.flatnonzero(np.any(logits != expected, axis=1)):
            entry = checked[row][0]
            index = int(np.flatnonzero(logits[row] != expected[row])[0])
            found.append(Difference(entry.name, "logits", index=(index,), expected=int(expected[row, index]),
                                    got=int(logits[row, index]), note=f"engine path '{backend}'"))
    return found


def default_golden_dir():
    """``./golden`` if it exists, else the ``golden/`` folder of the repository holding the package."""
    here = Path("golden")
    return here if here.is_dir() else Path(__file__).resolve().parents[1] / "golden"


def verify(root=None, fsdd_dir=None, use_fsdd=True, models=None, progress=False):
    """Verify every golden set under ``root`` (or only those named in ``models``)."""
    root = default_golden_dir() if root is None else Path(root)
    sets = golden.find_sets(root)
    if models:
        names = {p.name for p in sets}
        unknown = [m for m in models if m not in names]
        if unknown:
            raise InputFileError(root, f"has no golden set named {unknown[0]!r} (sets: {', '.join(sorted(names))})")
        sets = [p for p in sets if p.name in models]
    sets = [golden.load_set(p) for p in sets]
    if progress:
        from tqdm import tqdm

        sets = tqdm(sets, desc="verify", unit="set", file=sys.stderr, leave=False)
    return [verify_set(gset, fsdd_dir=fsdd_dir, use_fsdd=use_fsdd) for gset in sets]


def format_report(report):
    """One line (plus the first difference) for a set."""
    checked = f"{report.synthetic_checked} synthetic"
    if report.fsdd_total and report.fsdd_skipped is None:
        checked += f" + {report.fsdd_checked} FSDD inputs"
    elif report.fsdd_total:
        checked += f" inputs ({report.fsdd_total} FSDD inputs skipped)"
    else:
        checked += " inputs"
    if report.equal:
        return f"{report.name}: OK, {checked}, every tensor equal (0 LSB)"
    first = report.differences[0]
    inputs = {d.input for d in report.differences}
    return (f"{report.name}: DIFFERENT ({len(inputs)} input(s) differ; {checked}); first difference: "
            f"{first}")


def _run(args):
    progress = sys.stderr.isatty() and not args.quiet
    if args.fsdd is not None and not (Path(args.fsdd) / "recordings").is_dir():  # asked for: must exist
        raise InputFileError(args.fsdd, "no 'recordings' folder: not an FSDD directory (--fsdd)")
    reports = verify(args.golden, fsdd_dir=args.fsdd, use_fsdd=not args.no_fsdd, models=args.model,
                     progress=progress)
    skipped = {r.fsdd_skipped for r in reports if r.fsdd_skipped}
    for report in reports:
        print(format_report(report))
    for reason in sorted(skipped):
        print(f"FSDD inputs skipped: {reason}")
    bad = [r.name for r in reports if not r.equal]
    if bad:
        print(f"verify: {len(bad)} of {len(reports)} golden set(s) differ: {', '.join(bad)}")
        return 1
    print(f"verify: all {len(reports)} golden set(s) reproduced bit-exactly")
    return 0


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "verify", help="recompute the golden vectors and compare every bit",
        description="Recompute every golden vector (synthetic inputs always, FSDD inputs when the "
                    "dataset is present) and report the first differing tensor, step and index. "
                    "Exit 0 if all equal, 1 on a difference, 2 on unusable input.")
    parser.add_argument("golden", nargs="?", default=None,
                        help="golden directory (holding vectors/<model>/), or one set's directory "
                             "(default: ./golden, else the repository's golden/)")
    parser.add_argument("--fsdd", metavar="DIR", default=None,
                        help="FSDD directory (default: $FIXEDRNN_FSDD or ../shared/data/fsdd)")
    parser.add_argument("--no-fsdd", action="store_true", help="check synthetic inputs only")
    parser.add_argument("--model", action="append", metavar="NAME",
                        help="check only this set (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run)
    return parser
