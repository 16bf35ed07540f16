"""Two candidate defences against evasion, tried on one dataset; neither is shipped.

    .venv/bin/python benchmarks/evasion_defences.py --dataset 6_cardio

ADBench Cardio, seed 0, one-class fit, the test anomalies attacked as in
``benchmarks/evasion.py`` (gradient + search, budgets 0.1 / 0.25 / 0.5). Candidates:

- **gradient penalty** (lam, sigma): training adds lam times the mean squared norm of the
  score's gradient at the training rows plus N(0, sigma^2) noise, so the score cannot fall
  steeply near the data;
- **randomised smoothing** (sigma): the score is the mean over 16 fixed noise draws of
  the score at x + sigma z; the attack then works on the smoothed score itself.

Prints test AUROC (the cost in clean accuracy) and the flagged share per budget.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _jobs import ADBENCH


def penalised(base: type, lam: float, sigma: float) -> type:
    import torch

    class Penalised(base):
        def _loss(self, module, batch, *targets):
            loss = super()._loss(module, batch, *targets)
            if lam and torch.is_grad_enabled():
                rows = (batch + sigma * torch.randn_like(batch)).detach().requires_grad_(True)
                (grad,) = torch.autograd.grad(
                    self._score_batch(module, rows).sum(), rows, create_graph=True
                )
                loss = loss + lam * (grad**2).sum(dim=1).mean()
            return loss

    Penalised.__name__ = base.__name__
    return Penalised


def smoothed(base: type, sigma: float, draws: int = 16) -> type:
    import torch

    class Smoothed(base):
        def _score_batch(self, module, batch):
            if not sigma:
                return super()._score_batch(module, batch)
            noise = torch.randn((draws, batch.shape[1]), generator=torch.Generator().manual_seed(0))
            scores = [super(Smoothed, self)._score_batch(module, batch + sigma * z) for z in noise]
            return torch.stack(scores).mean(dim=0)

    Smoothed.__name__ = base.__name__
    return Smoothed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="6_cardio")
    args = parser.parse_args()
    import pandas as pd
    import torch
    from sklearn.metrics import roc_auc_score

    import deepad
    from deepad.bench.datasets import load_dataset, split_dataset
    from deepad.robustness import evasion_curve

    torch.set_num_threads(1)
    X, y = load_dataset(ADBENCH / f"{args.dataset}.npz")
    split = split_dataset(X, y, 0)
    columns = [f"x{i}" for i in range(X.shape[1])]
    train = pd.DataFrame(split.X_train[split.y_train == 0], columns=columns)
    test = pd.DataFrame(split.X_test, columns=columns)
    print("| detector | defence | test AUROC | clean | eps 0.1 | eps 0.25 | eps 0.5 |")
    print("|---|---|---|---|---|---|---|")
    for base in (deepad.AutoEncoder, deepad.DeepSVDD):
        candidates = [("none", base)]
        candidates += [(f"gradient penalty {lam:g}, {s:g}", penalised(base, lam, s))
                       for lam, s in ((1, 0), (1, 0.5), (10, 0.5))]  # fmt: skip
        candidates += [(f"smoothing {s:g}", smoothed(base, s)) for s in (0.25, 0.5, 1.0)]
        for label, cls in candidates:
            detector = cls(random_state=0).fit(train)
            auroc = roc_auc_score(split.y_test, detector.decision_function(test))
            curve = evasion_curve(detector, test, split.y_test)
            shares = " | ".join(f"{p.detected:.1%}" for p in curve.points)
            print(f"| {base.__name__} | {label} | {auroc:.3f} | {shares} |", flush=True)


if __name__ == "__main__":
    main()
