"""Small torch building blocks shared by the tabular networks."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


def mlp(
    in_dim: int,
    hidden_dims: Sequence[int],
    out_dim: int,
    *,
    dropout: float = 0.0,
    bias: bool = True,
    batch_norm: bool = False,
    activation: type[nn.Module] = nn.ReLU,
) -> nn.Sequential:
    """A multilayer perceptron: (Linear -> [BatchNorm] -> act -> [Dropout]) per hidden layer.

    The output layer is a plain Linear so callers choose what (if anything) follows it.
    """
    layers: list[nn.Module] = []
    width = in_dim
    for hidden in hidden_dims:
        layers.append(nn.Linear(width, hidden, bias=bias))
        if batch_norm:
            layers.append(nn.BatchNorm1d(hidden, affine=bias))
        layers.append(activation())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = hidden
    layers.append(nn.Linear(width, out_dim, bias=bias))
    return nn.Sequential(*layers)
