"""``PatchCore``: nearest-neighbour distance of patch features to a memory bank of good ones."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from deepad.models.image_base import ImageDetector
from deepad.models.patchcore.torch_model import (
    PatchEmbedder,
    greedy_coreset,
    nearest_distances,
)
from deepad.nn.backbones import BACKBONE_LEVELS, weights_sha256

#: training patches beyond this many are subsampled at random before the coreset
MAX_CANDIDATE_PATCHES = 1_000_000


class PatchCore(ImageDetector):
    """PatchCore (Roth et al., CVPR 2022) on a pretrained EfficientNet-Lite0, offline.

    Patch features of the good training images (stride-8 and stride-16 levels, each
    averaged over its 3x3 neighbourhood) form a memory bank, shrunk by greedy coreset
    selection to ``coreset_ratio`` of the patches. A test patch's anomaly is its distance
    to the nearest bank feature; the map is that distance upsampled to the image and
    blurred (``blur_sigma`` pixels), and the image score is the map's maximum.

    Needs ``deepad[vision]`` (the backbone's PyPI packages); nothing is downloaded.
    """

    summary: ClassVar[str] = "pretrained patch features, coreset memory bank (deepad[vision])"
    needs_rgb: ClassVar[bool] = True
    min_fit_units: ClassVar[int] = 1
    _size_multiple: ClassVar[int] = 16

    def __init__(
        self,
        image_size: int = 256,
        backbone: str = "efficientnet-lite0",
        levels: tuple[str, ...] = ("stride8", "stride16"),
        coreset_ratio: float = 0.01,
        blur_sigma: float = 4.0,
        contamination: float = 0.1,
        random_state: int | None = 0,
    ) -> None:
        self.image_size = image_size
        self.backbone = backbone
        self.levels = levels
        self.coreset_ratio = coreset_ratio
        self.blur_sigma = blur_sigma
        self.contamination = contamination
        self.random_state = random_state

    def _check_params(self) -> None:
        super()._check_params()
        if self.backbone not in BACKBONE_LEVELS:
            raise ValueError(
                f"backbone must be one of {sorted(BACKBONE_LEVELS)}, got {self.backbone!r}"
            )
        levels = self.levels
        if (
            isinstance(levels, str)
            or not levels
            or any(level not in BACKBONE_LEVELS[self.backbone] for level in levels)
        ):
            raise ValueError(
                f"levels must be a list of some of {sorted(BACKBONE_LEVELS[self.backbone])}, "
                f"got {levels!r}"
            )
        if not isinstance(self.coreset_ratio, (int, float)) or not 0 < self.coreset_ratio <= 1:
            raise ValueError(f"coreset_ratio must be in (0, 1], got {self.coreset_ratio!r}")

    # --------------------------------------------------------------- hooks
    def _fit_images(self, pixels: np.ndarray) -> None:
        embedder = self._embedder()
        patches = torch.cat([self._embed(embedder, chunk) for chunk in _chunks(pixels)])
        self.grid_ = int(patches.shape[1])
        features = patches.reshape(-1, patches.shape[-1])
        generator = torch.Generator().manual_seed(self._seed())
        if len(features) > MAX_CANDIDATE_PATCHES:
            keep = torch.randperm(len(features), generator=generator)[:MAX_CANDIDATE_PATCHES]
            features = features[keep]
        size = int(np.ceil(self.coreset_ratio * len(features)))
        chosen = greedy_coreset(features, size, generator)
        self.memory_bank_ = features[chosen].contiguous()
        self.backbone_sha256_ = weights_sha256(self.backbone)

    def _raw_maps(self, pixels: np.ndarray) -> torch.Tensor:
        patches = self._embed(self._embedder(), pixels)
        n, grid = patches.shape[0], patches.shape[1]
        distances = nearest_distances(patches.reshape(-1, patches.shape[-1]), self.memory_bank_)
        size = self.image_size_
        return F.interpolate(
            distances.reshape(n, 1, grid, grid),
            size=(size, size),
            mode="bilinear",
            align_corners=False,
        )

    def _export_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta = {"grid": self.grid_, "backbone_sha256": self.backbone_sha256_}
        return meta, {"memory_bank": self.memory_bank_.numpy()}

    def _import_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        installed = weights_sha256(self.backbone)
        if installed != meta["backbone_sha256"]:
            raise ValueError(
                f"this PatchCore bundle was fitted with other {self.backbone} weights "
                f"(sha256 {meta['backbone_sha256'][:12]}...) than those installed "
                f"({installed[:12]}...); its memory bank does not match them"
            )
        self.grid_ = int(meta["grid"])
        self.backbone_sha256_ = installed
        self.memory_bank_ = torch.from_numpy(np.array(arrays["memory_bank"], dtype=np.float32))

    # ------------------------------------------------------------- helpers
    def _embedder(self) -> PatchEmbedder:
        key = (self.backbone, tuple(self.levels))
        cached = getattr(self, "_embedder_cache", None)
        if cached is None or cached[0] != key:
            cached = (key, PatchEmbedder(self.backbone, tuple(self.levels)))
            self._embedder_cache = cached
        return cached[1]

    @staticmethod
    def _embed(embedder: PatchEmbedder, pixels: np.ndarray) -> torch.Tensor:
        with torch.inference_mode():
            return embedder(torch.from_numpy(np.ascontiguousarray(pixels)))


def _chunks(pixels: np.ndarray, size: int = 32) -> list[np.ndarray]:
    return [pixels[start : start + size] for start in range(0, len(pixels), size)]
