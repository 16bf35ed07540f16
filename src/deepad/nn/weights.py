"""A torch module's weights as named NumPy arrays and back: what bundles store (no pickle).

``restore_module`` rebuilds a network from a bundle's architecture only after checking,
on torch's ``meta`` device (no memory), that its parameters match the stored arrays
name for name and shape for shape: a manifest edited to name a huge network cannot make
loading allocate it.
"""

from __future__ import annotations

from collections.abc import Callable

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


def restore_module(build: Callable[[], nn.Module], arrays: dict[str, np.ndarray]) -> nn.Module:
    """``build()`` loaded with the ``net.*`` entries of ``arrays``, in eval mode.

    ValueError (naming the first mismatch) when the architecture's parameters and buffers
    differ from the stored arrays in names or shapes; the real module is only built then.
    """
    try:
        with torch.device("meta"):
            shell = build()
    except (TypeError, ValueError, KeyError, IndexError, RuntimeError) as exc:
        raise ValueError(f"the stored architecture cannot be built: {exc}") from exc
    expected = {name: _shape(t.shape) for name, t in shell.state_dict().items()}
    stored = {
        name.removeprefix(PREFIX): _shape(np.shape(value))
        for name, value in arrays.items()
        if name.startswith(PREFIX)
    }
    if expected != stored:
        missing = sorted(set(expected) - set(stored))
        extra = sorted(set(stored) - set(expected))
        wrong = [n for n in expected if n in stored and expected[n] != stored[n]]
        if missing or extra:
            what = f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}"
        else:
            what = f"{wrong[0]} is {stored[wrong[0]]}, the architecture needs {expected[wrong[0]]}"
        raise ValueError(f"the stored network weights do not match its architecture: {what}")
    return load_module_arrays(build(), arrays).eval()


def _shape(shape: tuple[int, ...] | torch.Size) -> tuple[int, ...]:
    """A shape to compare by; a scalar is stored as one element (batch-norm counters)."""
    return tuple(shape) or (1,)
