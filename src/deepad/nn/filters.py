"""Filters over anomaly maps."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gaussian_blur(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (n, 1, h, w) maps, reflect-padded; sigma 0 = unchanged."""
    if sigma <= 0:
        return maps
    radius = round(4 * sigma)
    radius = min(radius, maps.shape[-1] - 1, maps.shape[-2] - 1)
    offsets = torch.arange(-radius, radius + 1, dtype=maps.dtype)
    kernel = torch.exp(-(offsets**2) / (2 * sigma * sigma))
    kernel = kernel / kernel.sum()
    maps = F.conv2d(F.pad(maps, (radius, radius, 0, 0), mode="reflect"), kernel.view(1, 1, 1, -1))
    return F.conv2d(F.pad(maps, (0, 0, radius, radius), mode="reflect"), kernel.view(1, 1, -1, 1))
