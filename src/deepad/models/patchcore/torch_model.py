"""PatchCore's network side: locally aware patch features from a frozen pretrained CNN.

Each chosen level's feature map is averaged over 3x3 neighbourhoods (so a patch sees its
surroundings), resized to the grid of the finest level, and the levels are concatenated:
one feature vector per grid cell (Roth et al., "Towards Total Recall in Industrial
Anomaly Detection", CVPR 2022).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deepad.nn.backbones import FeatureExtractor


class PatchEmbedder(nn.Module):
    """Images (n, c, s, s) in [0, 1] -> patch features (n, grid, grid, dims)."""

    def __init__(self, backbone: str, levels: tuple[str, ...]) -> None:
        super().__init__()
        self.extractor = FeatureExtractor(backbone, levels)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        maps = self.extractor(images)
        grid = max(m.shape[-1] for m in maps)
        pooled = []
        for feature in maps:
            feature = F.avg_pool2d(feature, 3, stride=1, padding=1)
            if feature.shape[-1] != grid:
                feature = F.interpolate(
                    feature, size=(grid, grid), mode="bilinear", align_corners=False
                )
            pooled.append(feature)
        return torch.cat(pooled, dim=1).permute(0, 2, 3, 1).contiguous()


def nearest_distances(queries: torch.Tensor, bank: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """Euclidean distance of each query row to its nearest bank row, in row chunks.

    ``|q - b|^2 = |q|^2 + (|b|^2 - 2 q.b)``: the bracket is one fused matrix product, and
    ``|q|^2`` is added after the minimum over the bank, since it does not depend on b.
    """
    bank_norms = (bank * bank).sum(1)
    out = torch.empty(len(queries), dtype=queries.dtype)
    for start in range(0, len(queries), chunk):
        q = queries[start : start + chunk]
        nearest = torch.addmm(bank_norms, q, bank.T, alpha=-2.0).min(dim=1).values
        out[start : start + chunk] = (nearest + (q * q).sum(1)).clamp_(min=0.0).sqrt_()
    return out


def greedy_coreset(
    features: torch.Tensor, size: int, generator: torch.Generator, projection_dims: int = 32
) -> torch.Tensor:
    """Indices of ``size`` rows chosen by greedy k-centre selection (PatchCore's coreset).

    Each step adds the row farthest from those chosen so far, so the subset covers the
    feature space; distances are computed in a random projection to ``projection_dims``
    dimensions (Johnson-Lindenstrauss), which keeps selection fast on large banks.
    """
    n, dims = features.shape
    size = max(1, min(size, n))
    if dims > projection_dims:
        projection = torch.randn(dims, projection_dims, generator=generator)
        reduced = features @ (projection / projection_dims**0.5)
    else:
        reduced = features
    reduced = reduced.contiguous()
    norms = (reduced * reduced).sum(1)
    chosen = torch.empty(size, dtype=torch.long)
    current = int(torch.randint(n, (1,), generator=generator))
    nearest = norms - 2.0 * (reduced @ reduced[current]) + norms[current]
    chosen[0] = current
    for step in range(1, size):
        current = int(torch.argmax(nearest))
        chosen[step] = current
        distance = norms - 2.0 * (reduced @ reduced[current]) + norms[current]
        torch.minimum(nearest, distance, out=nearest)
    return chosen
