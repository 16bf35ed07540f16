"""Do deepad's explanations name the metrics behind SMD's labelled anomalies?

Measures, on the Server Machine Dataset (SMD, 12 machines x 38 metrics; Su et al.,
"Robust Anomaly Detection for Multivariate Time Series through Stochastic Recurrent
Neural Network", KDD 2019), how often each detector's default explanation ranks the
metrics that the dataset's interpretation labels name as the cause of an anomaly at the
top: OmniAnomaly's HitRate@P%.

Protocol, per machine and detector:

- fit the detector at its defaults (``random_state=0`` where it takes one, default
  ``calibration_size``) on the machine's ``train`` rows, each time step one tabular row
  (no windows); ``--max-train N`` fits on N training rows drawn with seed 0 instead;
- AUROC (sklearn ``roc_auc_score``) of ``decision_function`` on all ``test`` rows against
  ``test_label``, as a sanity check on the detector itself;
- explain (``det.explain``, the detector's default method) only the labelled anomalous
  test steps that lie in an interpretation segment. For each such step t with
  ground-truth metric set G, rank the 38 metrics by contribution at t, take the top
  k = floor(P/100 * |G|) (P = 100, 150; at most 38) and score hit_t = |top ∩ G| / |G|.
  Ties at the cut-off count fractionally: a tie group that straddles the cut-off adds
  (slots left) * (members of G in the group) / (group size), the expected hit under random
  tie-breaking, so column order never decides a hit;
- HitRate@P% of the machine = mean of hit_t over its steps. Reported: the mean over
  machines (the table) and the mean pooled over all steps of all machines; per machine in
  the CSV.

A model-free peer ranks the metrics by their distance from the training median in
training standard deviations ("deviation from median"). The random-ranking baseline is
exact, not simulated: a uniformly random top k holds
k * |G| / 38 members of G on average, so E[hit_t] = floor(P/100 * |G|) / 38, averaged
like the detectors' hit rates.

Interpretation segments. ``interpretation_label/machine-X-Y.txt`` lines are
``start-end:d1,d2,...`` with 1-based metric indices. Checked against ``test_label``:
``start`` is a 0-based row index and ``end`` is exclusive (the Python slice
``test[start:end]``); 176 of the 178 segments equal a run of ``test_label == 1`` exactly
that way. The two exceptions: machine-1-3 ``22923-23019`` stops one step short of its
labelled run (which ends at row 23019 inclusive), and machine-2-3 ``7910-8010`` runs 9 steps
past its labelled run (which ends at row 8000). The steps scored are the labelled ones
(``test_label == 1``) inside some ``[start, end)``; that drops row 23019 of machine-1-3,
machine-2-3's unlabelled rows 8001-8009, and machine-1-3's labelled run 18460-18470, which
has no interpretation line. Segments do not overlap (checked at load).

Output: a Markdown table on stdout and per-machine rows in
``docs/results/smd-interpretation-2026-12-01/results.csv`` (rewritten after every
machine, so a partial run leaves its rows).

Run: ``.venv/bin/python benchmarks/smd_interpretation.py``
(``--machines machine-1-2 machine-2-1``, ``--detectors PCA ECOD``, ``--data DIR``,
``--max-train N``, ``--out FILE``).
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from deepad.bench.detectors import make_detector
from deepad.explain import available_methods

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "smd"
OUT = ROOT / "docs" / "results" / "smd-interpretation-2026-12-01" / "results.csv"
DETECTORS = ("AutoEncoder", "VAE", "PCA", "KNN", "ECOD", "IsolationForest", "Auto")
PERCENTS = (100, 150)
N_METRICS = 38


@dataclass
class Machine:
    """One SMD machine: arrays, and per scored test step its ground-truth metric mask."""

    name: str
    train: np.ndarray
    test: np.ndarray
    label: np.ndarray
    steps: np.ndarray  # row indices into test of the scored steps
    truth: np.ndarray  # (len(steps), 38) bool, the segment's metrics


@dataclass
class Result:
    """One (detector, machine) row of the CSV."""

    detector: str
    method: str
    machine: str
    steps: int
    hit_100: float
    hit_150: float
    auroc: float
    tie_rate: float
    train_rows: int
    fit_s: float
    score_s: float
    explain_s: float

    @property
    def seconds(self) -> float:
        return self.fit_s + self.score_s + self.explain_s


def parse_segments(path: Path) -> list[tuple[int, int, list[int]]]:
    """``(start, end, metrics)`` per line: rows ``[start, end)``, 0-based metric indices."""
    segments = []
    for line in path.read_text().split():
        span, metrics = line.split(":")
        start, end = (int(v) for v in span.split("-"))
        segments.append((start, end, [int(d) - 1 for d in metrics.split(",")]))
    return segments


def load_machine(data: Path, name: str) -> Machine:
    """The machine's arrays and the scored steps (labelled and inside a segment)."""
    arrays = np.load(data / "arrays" / f"{name}.npz")
    label = arrays["test_label"].astype(int)
    truth = np.zeros((len(label), N_METRICS), dtype=bool)
    covered = np.zeros(len(label), dtype=bool)
    for start, end, metrics in parse_segments(data / "interpretation_label" / f"{name}.txt"):
        if covered[start:end].any():
            raise ValueError(f"{name}: segment {start}-{end} overlaps another")
        covered[start:end] = True
        truth[start:end, metrics] = True
    steps = np.flatnonzero(covered & (label == 1))
    return Machine(name, arrays["train"], arrays["test"], label, steps, truth[steps])


def hit_rates(contributions: np.ndarray, truth: np.ndarray, percent: int) -> np.ndarray:
    """hit_t per row: share of G in the top floor(percent/100 * |G|), ties fractional."""
    hits = np.empty(len(truth))
    for row, (values, mask) in enumerate(zip(contributions, truth, strict=True)):
        size = int(mask.sum())
        k = min(math.floor(percent / 100 * size), len(values))
        hits[row] = _expected_hits(values, mask, k) / size
    return hits


def _expected_hits(values: np.ndarray, mask: np.ndarray, k: int) -> float:
    """Expected |top k ∩ G| when ties are broken at random; NaN ranks last."""
    if k == 0:
        return 0.0
    values = np.where(np.isnan(values), -np.inf, values)
    cut = np.sort(values)[::-1][k - 1]
    above = values > cut
    tied = values == cut
    slots = k - int(above.sum())
    return float(mask[above].sum() + slots * mask[tied].sum() / tied.sum())


def cut_is_tied(contributions: np.ndarray, truth: np.ndarray, percent: int) -> np.ndarray:
    """Per row, whether the k-th and (k+1)-th largest contributions are equal."""
    ordered = -np.sort(-contributions, axis=1)
    k = np.minimum(np.floor(percent / 100 * truth.sum(axis=1)).astype(int), N_METRICS - 1)
    k = np.maximum(k, 1)
    rows = np.arange(len(ordered))
    return ordered[rows, k - 1] == ordered[rows, k]


def random_baseline(truth: np.ndarray, percent: int) -> np.ndarray:
    """Exact expected hit_t of a uniformly random ranking: floor(P/100 * |G|) / 38."""
    sizes = truth.sum(axis=1)
    return np.minimum(np.floor(percent / 100 * sizes), N_METRICS) / N_METRICS


def training_rows(train: np.ndarray, max_train: int | None) -> np.ndarray:
    """All training rows, or ``max_train`` of them drawn with seed 0 (in time order)."""
    if max_train is None or len(train) <= max_train:
        return train
    rng = np.random.default_rng(0)
    return train[np.sort(rng.choice(len(train), max_train, replace=False))]


def run_one(
    name: str, machine: Machine, max_train: int | None, methods: Sequence[str] = ("auto",)
) -> list[Result]:
    """Fit, score and explain one detector on one machine, once per explanation method
    (``auto``: the detector's default; methods the detector lacks are skipped)."""
    train = training_rows(machine.train, max_train)
    start = time.perf_counter()
    detector = make_detector(name, 0, N_METRICS).fit(train)
    fit_s = time.perf_counter() - start

    start = time.perf_counter()
    scores = detector.decision_function(machine.test)
    score_s = time.perf_counter() - start

    results = []
    for method in methods:
        if method != "auto" and method not in available_methods(detector):
            continue
        start = time.perf_counter()
        explanation = detector.explain(machine.test[machine.steps], method=method)
        explain_s = time.perf_counter() - start
        columns = [f"x{i}" for i in range(N_METRICS)]
        if list(explanation.contributions.columns) != columns:
            raise ValueError(
                f"{name}: unexpected columns {list(explanation.contributions.columns)}"
            )
        contributions = explanation.contributions.to_numpy(dtype=float)
        results.append(
            Result(
                detector=name,
                method=explanation.method,
                machine=machine.name,
                steps=len(machine.steps),
                hit_100=float(hit_rates(contributions, machine.truth, 100).mean()),
                hit_150=float(hit_rates(contributions, machine.truth, 150).mean()),
                auroc=float(roc_auc_score(machine.label, scores)),
                tie_rate=float(cut_is_tied(contributions, machine.truth, 150).mean()),
                train_rows=len(train),
                fit_s=fit_s,
                score_s=score_s,
                explain_s=explain_s,
            )
        )
    return results


def baseline_result(machine: Machine) -> Result:
    """The random-ranking row for one machine (exact expectation, no model)."""
    return Result(
        detector="random",
        method="exact expectation",
        machine=machine.name,
        steps=len(machine.steps),
        hit_100=float(random_baseline(machine.truth, 100).mean()),
        hit_150=float(random_baseline(machine.truth, 150).mean()),
        auroc=0.5,
        tie_rate=0.0,
        train_rows=0,
        fit_s=0.0,
        score_s=0.0,
        explain_s=0.0,
    )


def deviation_result(machine: Machine) -> Result:
    """A model-free peer: rank metrics by |x - training median| / training std."""
    median = np.median(machine.train, axis=0)
    std = machine.train.std(axis=0)
    deviation = np.abs(machine.test - median) / np.where(std > 0, std, 1.0)
    contributions = deviation[machine.steps]
    auroc = float(roc_auc_score(machine.label, deviation.max(axis=1)))
    return Result(
        detector="deviation from median",
        method="abs(x - median) / std",
        machine=machine.name,
        steps=len(machine.steps),
        hit_100=float(hit_rates(contributions, machine.truth, 100).mean()),
        hit_150=float(hit_rates(contributions, machine.truth, 150).mean()),
        auroc=auroc,
        tie_rate=float(cut_is_tied(contributions, machine.truth, 150).mean()),
        train_rows=len(machine.train),
        fit_s=0.0,
        score_s=0.0,
        explain_s=0.0,
    )


def write_csv(results: Sequence[Result], path: Path) -> None:
    """All per-machine rows, with the total seconds, rewritten in full."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = [*asdict(results[0]).keys(), "seconds"]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for result in results:
            writer.writerow({**asdict(result), "seconds": round(result.seconds, 2)})


def summary_table(results: Sequence[Result]) -> str:
    """Markdown: per detector, means over machines, pooled hit rates, mean seconds."""
    lines = [
        "| detector | method | HitRate@100% | HitRate@150% | pooled @100% | pooled @150% "
        "| AUROC | tie rate | train rows | seconds / machine |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, method in dict.fromkeys((r.detector, r.method) for r in results):
        rows = [r for r in results if (r.detector, r.method) == (name, method)]
        steps = np.array([r.steps for r in rows], dtype=float)

        def mean(field: str, rows: list[Result] = rows) -> float:
            return float(np.mean([getattr(r, field) for r in rows]))

        def pooled(field: str, rows: list[Result] = rows, steps: np.ndarray = steps) -> float:
            return float(np.average([getattr(r, field) for r in rows], weights=steps))

        train = sorted({r.train_rows for r in rows})
        train_text = str(train[0]) if len(train) == 1 else f"{train[0]}-{train[-1]}"
        seconds = float(np.mean([r.seconds for r in rows]))
        lines.append(
            f"| {name} | {rows[0].method} | {mean('hit_100'):.3f} | {mean('hit_150'):.3f} "
            f"| {pooled('hit_100'):.3f} | {pooled('hit_150'):.3f} | {mean('auroc'):.3f} "
            f"| {mean('tie_rate'):.2f} | {train_text} | {seconds:.1f} |"
        )
    machines = len({r.machine for r in results})
    lines.append("")
    lines.append(
        f"Means over {machines} machine(s); pooled = mean over all scored steps. "
        "Tie rate: share of steps whose @150% cut-off falls inside a tie (counted "
        "fractionally). Train rows: rows fitted on per machine."
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="SMD folder")
    parser.add_argument("--machines", nargs="+", help="e.g. machine-1-2 (default: all)")
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS), help="deepad names")
    parser.add_argument("--max-train", type=int, help="fit on at most this many rows")
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["auto"],
        help="explanation methods to compare (default: auto, each detector's own)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help="per-machine CSV")
    args = parser.parse_args(argv)

    names = args.machines or sorted(p.stem for p in (args.data / "arrays").glob("*.npz"))
    machines = [load_machine(args.data, name) for name in names]
    results = [baseline_result(machine) for machine in machines]
    results += [deviation_result(machine) for machine in machines]
    for detector in args.detectors:
        started = time.perf_counter()
        for machine in machines:
            for result in run_one(detector, machine, args.max_train, args.methods):
                results.append(result)
                write_csv(results, args.out)
                print(
                    f"{detector} {result.method} {machine.name}: hit@100 {result.hit_100:.3f} "
                    f"hit@150 {result.hit_150:.3f} AUROC {result.auroc:.3f} "
                    f"({result.seconds:.1f}s)",
                    flush=True,
                )
        print(f"{detector}: {time.perf_counter() - started:.0f}s in all", flush=True)
    print()
    print(summary_table(results))


if __name__ == "__main__":
    main()
