"""A torch module's weights as named NumPy arrays and back: what bundles store (no pickle)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

#: prefix of the network's arrays among a detector's bundle arrays
PREFIX = "net."


def module_arrays(module: nn.Module) -> dict[str, np.ndarray]:
    """``{"net.<parameter or buffer name>": array}`` of the module's state dict."""
    return {f"{PREFIX}{name}": t.detach().cpu().numpy() for name, t in module.state_dict().items()}


def load_module_arrays(module: nn.Module, arrays: dict[str, np.ndarray]) -> nn.Module:
    """Load the ``net.*`` entries of ``arrays`` into ``module`` (strictly) and return it."""
    state = {
        name.removeprefix(PREFIX): torch.from_numpy(np.array(value))
        for name, value in arrays.items()
        if name.startswith(PREFIX)
    }
    module.load_state_dict(state)
    return module
