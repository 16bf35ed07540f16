"""The GOAD network: M fixed random affine maps, one shared MLP, a transform classifier.

Bergman & Hoshen (ICLR 2020) turn one-class learning into an M-way classification: each
row ``x`` is mapped by M fixed random affine transformations ``T(x, m) = W_m x + b_m``,
a shared feature extractor ``f`` embeds every transformed copy, and a small head
predicts which ``m`` was applied. The centre triplet loss keeps the embeddings of each
transformation tight around their own centre ``c_m`` and a margin away from the others.
At test time the probability of the right transformation is computed from distances to
the centres, ``P(m | T(x, m)) = softmax_m'(-||f(T(x, m)) - c_m'||^2)[m]``, and the score
is ``-sum_m log P(m | T(x, m))``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class GOADNet(nn.Module):
    """``forward(x)`` gives the features ``(rows, M, feature_dim)`` and logits ``(rows, M, M)``.

    ``transforms`` ``(M, n_features, transform_dim)`` and ``offsets`` ``(M, transform_dim)``
    are buffers (saved with the weights, never trained); ``centers`` ``(M, feature_dim)``
    is a buffer set after training by ``set_centers``.
    """

    def __init__(
        self,
        n_features: int,
        n_transforms: int,
        transform_dim: int,
        hidden_dims: list[int],
        feature_dim: int,
    ) -> None:
        super().__init__()
        self.register_buffer("transforms", torch.zeros(n_transforms, n_features, transform_dim))
        self.register_buffer("offsets", torch.zeros(n_transforms, transform_dim))
        self.register_buffer("centers", torch.zeros(n_transforms, feature_dim))
        layers: list[nn.Module] = []
        width = transform_dim
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(0.2)]
            width = hidden
        layers.append(nn.Linear(width, feature_dim))
        self.extractor = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.LeakyReLU(0.2), nn.Linear(feature_dim, n_transforms))

    @torch.no_grad()
    def set_transforms(self, transforms: torch.Tensor, offsets: torch.Tensor) -> None:
        """Fix the random affine maps ``W_m`` (``(M, n_features, transform_dim)``) and ``b_m``."""
        self.transforms.copy_(transforms)
        self.offsets.copy_(offsets)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """``T(x, m) = x W_m + b_m`` for every m: ``(rows, M, transform_dim)``, in x's dtype."""
        transforms, offsets = self.transforms.to(x.dtype), self.offsets.to(x.dtype)
        return torch.einsum("nd,mdr->nmr", x, transforms) + offsets

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``f(T(x, m))`` for every m: ``(rows, M, feature_dim)``, in x's dtype.

        Training runs in float32; scoring passes float64 rows, so that a row's score does
        not depend on which other rows share its batch (the float32 matrix products round
        differently per batch shape, and the score of a confidently classified row is a
        small difference of large squared distances).
        """
        h = self.transform(x)
        for layer in self.extractor:
            if isinstance(layer, nn.Linear):
                h = F.linear(h, layer.weight.to(x.dtype), layer.bias.to(x.dtype))
            else:
                h = layer(h)
        return h

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.features(x)
        return z, self.head(z)

    @torch.no_grad()
    def set_centers(self, centers: torch.Tensor) -> None:
        """Store the per-transformation feature centres ``c_m`` (``(M, feature_dim)``)."""
        self.centers.copy_(centers)

    def distances(self, z: torch.Tensor) -> torch.Tensor:
        """Squared distances ``||z_m - c_m'||^2``: ``(rows, M, M)``, m the applied transform.

        Computed in float64, so that expanding the square loses nothing that matters.
        """
        return squared_distances(z.double(), self.centers.double())


def squared_distances(z: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """``||z[n, m] - centers[m']||^2`` for all n, m, m': ``(rows, M, M)``.

    Expanded as ``|z|^2 + |c|^2 - 2 z.c`` (one matrix product) rather than broadcasting
    the difference, which would build a ``(rows, M, M, feature_dim)`` tensor; clamped at 0
    against rounding.
    """
    cross = torch.matmul(z, centers.T)
    return torch.clamp(
        torch.sum(z**2, dim=-1, keepdim=True) + torch.sum(centers**2, dim=-1) - 2.0 * cross,
        min=0.0,
    )


def classification_loss(logits: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of predicting, for each copy, which transformation made it."""
    rows, n_transforms, _ = logits.shape
    target = torch.arange(n_transforms, device=logits.device).repeat(rows)
    return F.cross_entropy(logits.reshape(rows * n_transforms, n_transforms), target)


def center_triplet_loss(z: torch.Tensor, margin: float) -> torch.Tensor:
    """GOAD's centre triplet loss on a batch of features ``(rows, M, feature_dim)``.

    The centres are the batch means per transformation; each copy should be closer to
    its own centre than to the nearest other centre by ``margin`` (squared distances):
    ``mean(max(0, ||z_m - c_m||^2 + margin - min_{m' != m} ||z_m - c_m'||^2))``. The
    ``||z_m||^2`` term of both distances cancels, so only ``||c||^2 - 2 z.c`` is formed.
    """
    centers = z.mean(dim=0)
    partial = torch.sum(centers**2, dim=-1) - 2.0 * torch.matmul(z, centers.T)  # (rows, M, M)
    own = torch.diagonal(partial, dim1=1, dim2=2)
    n_transforms = z.shape[1]
    mask = torch.eye(n_transforms, dtype=torch.bool, device=z.device)
    nearest_other = partial.masked_fill(mask, float("inf")).amin(dim=-1)
    return torch.clamp(own + margin - nearest_other, min=0).mean()


def transform_log_probs(distances: torch.Tensor) -> torch.Tensor:
    """``log P(m | T(x, m))`` per row and transformation, ``(rows, M)``, from ``distances``."""
    return torch.diagonal(F.log_softmax(-distances, dim=-1), dim1=1, dim2=2)
