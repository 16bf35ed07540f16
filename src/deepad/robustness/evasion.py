"""Evasion: can a known anomaly be nudged, within a budget, until the detector lets it pass?

``evasion_curve(detector, X, labels)`` takes the rows labelled 1 that the detector
flags, and for each budget eps searches for a change of the *mutable* numeric columns,
each by at most eps times that column's training spread (an L-infinity box in the
preprocessor's standardised units), that brings the row's score down to the threshold.
The report gives the share of the labelled anomalies still flagged at each budget (the
detection rate; budget 0 is the clean rate).

Two attacks, and each row keeps the lower score of the two:

- **gradient** (PGD, Madry et al. 2018), for detectors whose score is a differentiable
  torch function of the encoded row (the deep table detectors): ``steps`` signed
  gradient steps on the score, projected back into the box after each, from the row
  itself and from ``restarts`` random starts in the box;
- **search** (black box, every detector): a random search in the spirit of the Square
  attack (Andriushchenko et al. 2020): each round proposes, for every row at once, new
  corners of the box on a random subset of the mutable columns (the subset shrinks over
  the rounds) and keeps the proposal where it lowers the score.

Categorical columns and missing cells are never changed (a missing value stays
missing). The search only ever lowers scores, so the curve falls with the budget; a
curve that stays high says these attacks found no way past the detector within that
budget, not that none exists.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from deepad.core.jsonable import json_ready
from deepad.io.tables import as_table

BUDGETS = (0.1, 0.25, 0.5)


@dataclass
class EvasionPoint:
    """One budget: the share of labelled anomalies flagged after the attacks."""

    budget: float
    detected: float
    evaded: int
    median_score: float
    attack: str


@dataclass
class EvasionReport:
    """The detection-rate curve of one detector; ``to_frame()``, ``to_dict()``."""

    anomalies: int
    flagged_clean: int
    mutable: list[str]
    points: list[EvasionPoint]
    threshold: float
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(p) for p in self.points])

    def to_dict(self) -> dict[str, Any]:
        return json_ready(asdict(self))


def evasion_curve(
    detector: Any,
    X: Any,
    labels: Any,
    *,
    budgets: tuple[float, ...] = BUDGETS,
    mutable: list[str] | None = None,
    steps: int = 40,
    restarts: int = 1,
    rounds: int = 200,
    seed: int = 0,
    max_rows: int = 1000,
) -> EvasionReport:
    """Detection rate of the rows labelled 1 in ``labels`` under attacks of each budget.

    ``mutable`` names the columns an attacker may change (default: every numeric
    column); ``steps`` and ``restarts`` size the gradient attack, ``rounds`` the search.
    At most ``max_rows`` anomalies are attacked (a seeded sample).
    """
    if getattr(detector, "modality", "table") != "table" or not hasattr(detector, "preprocessor_"):
        raise ValueError("evasion needs a fitted table detector (a bundle of `deepad fit`)")
    if not budgets or not all(b > 0 for b in budgets):
        raise ValueError(f"budgets must be positive multiples of the spread, got {budgets}")
    for name, value in (("steps", steps), ("rounds", rounds), ("max_rows", max_rows)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    if int(restarts) != restarts or restarts < 0:
        raise ValueError(f"restarts must be a whole number >= 0, got {restarts!r}")
    preprocessor = detector.preprocessor_
    frame = preprocessor.select_columns(as_table(X)).reset_index(drop=True)
    y = np.asarray(labels).ravel()
    if len(y) != len(frame):
        raise ValueError(f"{len(y)} labels for {len(frame)} rows")
    if not np.isin(y, [0, 1]).all():
        raise ValueError("labels must be 0 (normal) or 1 (anomaly)")
    anomalies = np.flatnonzero(y == 1)
    if not len(anomalies):
        raise ValueError("no rows are labelled 1: there is nothing to attack")
    rng = np.random.default_rng(seed)
    notes = []
    if len(anomalies) > max_rows:
        anomalies = np.sort(rng.choice(anomalies, max_rows, replace=False))
        notes.append(f"a seeded sample of {max_rows} labelled anomalies was attacked")
    rows = frame.iloc[anomalies].reset_index(drop=True)
    columns, mask = _mutable_mask(preprocessor, rows, mutable)
    encoded = preprocessor.transform(rows).astype(np.float64)
    clean = _scores(detector, encoded)
    flags = detector.calibrator_.decide(clean)
    report = EvasionReport(
        anomalies=len(anomalies),
        flagged_clean=int(flags.sum()),
        mutable=columns,
        points=[EvasionPoint(0.0, float(flags.mean()), 0, float(np.median(clean)), "none")],
        threshold=float(detector.calibrator_.threshold),
        notes=notes,
    )
    gradient = bool(getattr(detector, "differentiable", False)) and hasattr(
        detector, "_score_tensor"
    )
    for budget in sorted(budgets):
        scores, _ = _search(detector, encoded, mask, budget, clean, rounds, rng)
        attack = "search"
        if gradient:
            pgd, _ = _pgd(detector, encoded, mask, budget, steps, restarts, rng)
            scores = np.minimum(scores, pgd)
            attack = "gradient + search"
        after = detector.calibrator_.decide(scores)
        report.points.append(
            EvasionPoint(
                budget,
                float(after.mean()),
                int(((flags == 1) & (after == 0)).sum()),
                float(np.median(scores)),
                attack,
            )
        )
    return report


def _mutable_mask(
    preprocessor: Any, rows: pd.DataFrame, mutable: list[str] | None
) -> tuple[list[str], np.ndarray]:
    """The mutable column names and a (rows, encoded width) 0/1 mask of what may move."""
    specs = preprocessor.columns_
    numeric = [s.name for s in specs if s.kind == "numeric"]
    if mutable is None:
        names = numeric
    else:
        unknown = [c for c in mutable if c not in {s.name for s in specs}]
        if unknown:
            raise ValueError(f"mutable column(s) {unknown} are not columns of the model: "
                             f"{[s.name for s in specs]}")  # fmt: skip
        categorical = [c for c in mutable if c not in numeric]
        if categorical:
            raise ValueError(
                f"mutable column(s) {categorical} are categorical; only numeric columns "
                "can be changed by a budget in units of their spread"
            )
        names = list(mutable)
    if not names:
        raise ValueError("no numeric column can be changed: name --mutable columns")
    width = sum(len(s.output_names()) for s in specs)
    mask = np.zeros((len(rows), width))
    offset = 0
    for spec in specs:
        if spec.name in names:
            present = pd.to_numeric(rows[spec.name], errors="coerce").notna().to_numpy()
            mask[:, offset] = present  # a missing cell stays missing
        offset += len(spec.output_names())
    return names, mask


def _scores(detector: Any, encoded: np.ndarray) -> np.ndarray:
    return np.asarray(detector._score_features(encoded.astype(np.float32)), dtype=np.float64)


def _search(
    detector: Any,
    encoded: np.ndarray,
    mask: np.ndarray,
    budget: float,
    clean: np.ndarray,
    rounds: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Random search over the corners of the box: the best score found per row and the
    change of the encoded row that gave it."""
    delta = np.zeros_like(encoded)
    best = np.asarray(clean, dtype=np.float64).copy()
    movable = mask.sum(axis=1)
    for step in range(rounds):
        share = max(0.05, 0.5 * (1.0 - step / rounds))  # the changed subset shrinks
        chosen = (rng.random(mask.shape) < share) * mask
        none = (chosen.sum(axis=1) == 0) & (movable > 0)
        if none.any():  # every row changes at least one of its mutable cells
            for i in np.flatnonzero(none):
                chosen[i, rng.choice(np.flatnonzero(mask[i]))] = 1.0
        corners = budget * rng.choice([-1.0, 1.0], size=mask.shape)
        proposal = np.where(chosen > 0, corners, delta)
        scores = _scores(detector, encoded + proposal)
        better = scores < best
        best[better] = scores[better]
        delta[better] = proposal[better]
    return best, delta


def _pgd(
    detector: Any,
    encoded: np.ndarray,
    mask: np.ndarray,
    budget: float,
    steps: int,
    restarts: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Projected signed-gradient descent on the score: the best score seen per row and
    the change of the encoded row that gave it."""
    import torch

    x = torch.as_tensor(encoded, dtype=torch.float32)
    allowed = torch.as_tensor(mask, dtype=torch.float32)
    step_size = 2.5 * budget / steps
    best = np.full(len(encoded), np.inf)
    best_delta = np.zeros_like(encoded)
    starts = [np.zeros_like(encoded)] + [
        rng.uniform(-budget, budget, size=encoded.shape) * mask for _ in range(restarts)
    ]
    for start in starts:
        delta = torch.as_tensor(start, dtype=torch.float32)
        for _ in range(steps + 1):
            delta.requires_grad_(True)
            scores = detector._score_tensor(x + delta * allowed)
            values = scores.detach().numpy().astype(np.float64)
            better = values < best
            best[better] = values[better]
            best_delta[better] = (delta.detach() * allowed).numpy()[better]
            (grad,) = torch.autograd.grad(scores.sum(), delta)
            with torch.no_grad():
                delta = (delta - step_size * grad.sign()).clamp(-budget, budget) * allowed
    return best, best_delta
