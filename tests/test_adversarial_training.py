"""Adversarial training against evasion (``adversarial_budget``): the pseudo-anomalies,
the attack inside training, what training with it changes, and its checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import deepad
from deepad.models.adversarial import (
    ATTACK_STEPS,
    MARGIN_QUANTILE,
    SHIFT_RANGE,
    SHIFTED_SHARE,
    evade,
    exposure_loss,
    pseudo_anomalies,
)


def _distance(module: torch.nn.Module, rows: torch.Tensor) -> torch.Tensor:
    return (rows**2).sum(dim=1)  # a score that falls towards the origin


def test_pseudo_anomalies_move_about_a_third_of_the_features_by_one_to_three_spreads():
    torch.manual_seed(0)
    batch = torch.randn(2000, 10)
    moved = pseudo_anomalies(batch) - batch
    changed = moved != 0
    assert abs(changed.float().mean().item() - SHIFTED_SHARE) < 0.02
    sizes = moved[changed].abs()
    assert sizes.min() >= SHIFT_RANGE[0] - 1e-6 and sizes.max() <= SHIFT_RANGE[1] + 1e-6
    assert 0.45 < (moved[changed] > 0).float().mean().item() < 0.55  # up and down alike


def test_the_attack_lowers_the_score_and_stays_in_the_box():
    torch.manual_seed(1)
    rows = 3.0 + torch.rand(64, 4)
    attacked = evade(_distance, torch.nn.Identity(), rows, budget=0.5)
    assert (attacked - rows).abs().max() <= 0.5 + 1e-6
    assert torch.all(_distance(None, attacked) < _distance(None, rows))
    # the distance falls fastest along the sign of the row: the attack walks the whole box
    assert torch.allclose(attacked, rows - 0.5, atol=1e-5)
    assert not attacked.requires_grad
    assert ATTACK_STEPS >= 1


def test_the_exposure_term_is_small_once_attacked_pseudo_anomalies_score_high():
    torch.manual_seed(2)
    batch = torch.randn(256, 6) * 0.1  # normal rows near the origin: low distance
    loss = exposure_loss(_distance, torch.nn.Identity(), batch, budget=0.1)
    margin = torch.quantile(_distance(None, batch), MARGIN_QUANTILE)
    assert torch.isfinite(loss) and 0 < loss.item() < np.log(2)  # pushed rows mostly clear it
    assert margin > 0
    near = exposure_loss(_distance, torch.nn.Identity(), batch * 100, budget=0.1)
    assert near.item() > loss.item()  # the same shifts are small next to wide normal rows
    assert exposure_loss(_distance, torch.nn.Identity(), batch[:1], 0.1).item() == 0.0


def _blobs(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(600, 2))
    mixed = np.c_[base, base @ np.array([[1.0, -0.5], [0.5, 1.0]]), rng.normal(size=(600, 2))]
    return pd.DataFrame(mixed, columns=[f"c{i}" for i in range(6)])


@pytest.mark.parametrize("cls", [deepad.AutoEncoder, deepad.DeepSVDD])
def test_training_against_the_attack_keeps_attacked_pseudo_anomalies_flagged(cls):
    """The property the option trains for, measured on held-out rows: pseudo-anomalies
    attacked within the budget stay above the calibrated threshold more often."""
    train, held_out = _blobs(0), _blobs(1)
    params = {"epochs": 40, "random_state": 0}
    plain = cls(**params).fit(train)
    trained = cls(adversarial_budget=0.5, **params).fit(train)

    def flagged_after_attack(detector) -> float:
        torch.manual_seed(3)
        rows = torch.as_tensor(detector.preprocessor_.transform(held_out), dtype=torch.float32)
        detector.module_.eval()
        attacked = evade(lambda _, r: detector._score_tensor(r), None, pseudo_anomalies(rows), 0.5)
        scores = detector._score_features(attacked.numpy())
        return float(detector.calibrator_.decide(scores).mean())

    assert flagged_after_attack(trained) > flagged_after_attack(plain) + 0.05
    assert trained.get_params()["adversarial_budget"] == 0.5


def test_training_with_a_budget_is_deterministic_and_differs_from_plain_training():
    train = _blobs(4)
    first = deepad.AutoEncoder(epochs=3, adversarial_budget=0.25, random_state=0).fit(train)
    again = deepad.AutoEncoder(epochs=3, adversarial_budget=0.25, random_state=0).fit(train)
    plain = deepad.AutoEncoder(epochs=3, random_state=0).fit(train)
    scores = first.decision_function(train)
    assert np.array_equal(scores, again.decision_function(train))
    assert not np.allclose(scores, plain.decision_function(train))


def test_the_budget_survives_a_bundle(tmp_path):
    train = _blobs(5)
    detector = deepad.DeepSVDD(epochs=2, adversarial_budget=0.25, random_state=0).fit(train)
    detector.save(tmp_path / "model")
    loaded = deepad.load(tmp_path / "model")
    assert loaded.get_params()["adversarial_budget"] == 0.25
    assert np.allclose(loaded.decision_function(train), detector.decision_function(train))


@pytest.mark.parametrize("bad", [-0.1, 6, "0.5", True, float("nan")])
def test_a_bad_budget_is_refused_by_name(bad):
    with pytest.raises(ValueError, match="adversarial_budget"):
        deepad.AutoEncoder(adversarial_budget=bad, epochs=1).fit(_blobs(6))
