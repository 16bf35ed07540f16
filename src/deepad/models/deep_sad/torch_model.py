"""The Deep SAD network and loss (Ruff et al., ICLR 2020).

The network is Deep SVDD's bias-free MLP with its fixed centre, for the same reason (a
bias lets it map every row onto the centre). The loss adds one term to Deep SVDD's.
"""

from __future__ import annotations

import torch

from deepad.models.deep_svdd.torch_model import DeepSVDDNet

#: keeps the inverse distance of a labelled anomaly finite (the reference code's value)
EPS = 1e-6


class DeepSADNet(DeepSVDDNet):
    """Deep SVDD's network unchanged: ``forward(x)`` is the squared distance to the centre."""


def deep_sad_loss(distance: torch.Tensor, targets: torch.Tensor, eta: float) -> torch.Tensor:
    """Mean Deep SAD loss of a batch from squared distances and targets 1 / 0 / -1.

    Unlabelled rows (-1) add their distance, as in Deep SVDD; known normals (0) add it
    weighted by ``eta``; known anomalies (1) add ``eta / (distance + EPS)``, so the loss
    falls as they move away from the centre.
    """
    labelled = torch.where(targets == 1, 1.0 / (distance + EPS), distance)
    return torch.mean(torch.where(targets == -1, distance, eta * labelled))
