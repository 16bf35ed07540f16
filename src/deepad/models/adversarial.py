"""Adversarial training against evasion for one-class detectors (``adversarial_budget``).

An attacker who knows the detector nudges an anomaly, each mutable column by at most eps
times its spread, until its score falls below the threshold (``deepad.robustness``).
Adversarial training needs attacked anomalies to learn from, and a one-class detector
has none; so each training batch makes its own: **pseudo-anomalies** (each normal row
with about a third of its encoded features moved by 1 to 3 spreads, up or down at
random), attacked as the evasion benchmark attacks real anomalies (a few signed-gradient
steps that lower the score, within an L-infinity box of ``adversarial_budget``), then
pushed back above the batch's own 95th-percentile score by a smooth hinge on the log
ratio. The network learns that what was far from the data stays far after an attacker's
nudge, so the pockets of low score an attacker finds off the data get filled in.

This is outlier exposure (Hendrycks et al. 2019) with synthetic outliers, trained
against the PGD attack (Madry et al. 2018). It changes training only; scoring, the bundle
and export are as without it. Training costs about ``ATTACK_STEPS + 2`` times the
forward/backward passes. What it buys and costs is measured in docs/benchmarks.md
("Evasion"): it is not a certificate, and a large enough budget reaches the normal rows
themselves, which no detector can flag without flagging normal rows too.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

#: weight of the exposure term against the detector's own loss
EXPOSURE_WEIGHT = 0.3
#: share of a pseudo-anomaly's encoded features that are moved
SHIFTED_SHARE = 0.3
#: a moved feature goes up or down by a uniform draw from this range, in spreads
SHIFT_RANGE = (1.0, 3.0)
#: signed-gradient steps of the attack on each batch's pseudo-anomalies
ATTACK_STEPS = 5
#: the pseudo-anomalies' attacked scores are pushed above this quantile of the batch's
MARGIN_QUANTILE = 0.95

ScoreFn = Callable[[nn.Module, torch.Tensor], torch.Tensor]


def check_adversarial_budget(value: object) -> float:
    """``value`` as a float in [0, 5], or ValueError naming ``adversarial_budget``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not 0.0 <= float(value) <= 5.0
    ):
        raise ValueError(
            "adversarial_budget must be a number in [0, 5] (the attacker's budget in "
            f"spreads per column; 0 = off), got {value!r}"
        )
    return float(value)


def pseudo_anomalies(batch: torch.Tensor) -> torch.Tensor:
    """Each row of ``batch`` with about ``SHIFTED_SHARE`` of its features moved by
    ``SHIFT_RANGE`` spreads, up or down (the encoded rows are in spread units)."""
    moved = (torch.rand_like(batch) < SHIFTED_SHARE).to(batch.dtype)
    low, high = SHIFT_RANGE
    size = low + (high - low) * torch.rand_like(batch)
    sign = torch.where(torch.rand_like(batch) < 0.5, -1.0, 1.0).to(batch.dtype)
    return batch + moved * sign * size


def evade(score: ScoreFn, module: nn.Module, rows: torch.Tensor, budget: float) -> torch.Tensor:
    """``rows`` after ``ATTACK_STEPS`` signed-gradient steps that lower their score,
    each feature within +-``budget``; detached (the attack is not trained through)."""
    step = 2.5 * budget / ATTACK_STEPS
    # also while validation runs without autograd (training's inference mode)
    with torch.inference_mode(False), torch.enable_grad():
        rows = rows.detach().clone()
        delta = torch.zeros_like(rows)
        for _ in range(ATTACK_STEPS):
            delta.requires_grad_(True)
            (grad,) = torch.autograd.grad(score(module, rows + delta).sum(), delta)
            delta = (delta.detach() - step * grad.sign()).clamp(-budget, budget)
    return (rows + delta).detach()


def exposure_loss(
    score: ScoreFn, module: nn.Module, batch: torch.Tensor, budget: float
) -> torch.Tensor:
    """Mean smooth hinge that pushes attacked pseudo-anomalies of ``batch`` above the
    batch's ``MARGIN_QUANTILE`` score; zero-size or single-row batches give 0."""
    if len(batch) < 2:
        return batch.new_zeros(())
    attacked = evade(score, module, pseudo_anomalies(batch.detach()), budget)
    with torch.no_grad():
        margin = torch.quantile(score(module, batch.detach()), MARGIN_QUANTILE)
    tiny = torch.finfo(batch.dtype).tiny
    gap = torch.log(margin.clamp_min(tiny)) - torch.log(score(module, attacked).clamp_min(tiny))
    return nn.functional.softplus(gap).mean()
