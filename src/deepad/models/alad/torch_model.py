"""The ALAD networks: encoder, generator and three spectrally normalised discriminators.

Zenati et al. (2018) pair a BiGAN (encoder ``E: x -> z``, generator ``G: z -> x``,
joint discriminator ``D_xz``) with two cycle-consistency discriminators: ``D_xx`` tells
``(x, x)`` from ``(x, G(E(x)))`` and ``D_zz`` tells ``(z, z)`` from ``(z, E(G(z)))``. All
three see the concatenation of their two inputs. The anomaly score is how differently
``D_xx`` sees a row paired with itself and with its reconstruction.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as spectrally_normalised

from deepad.nn.blocks import mlp

#: slope of every LeakyReLU (0.2, the usual GAN choice)
SLOPE = 0.2


def _leaky() -> nn.Module:
    return nn.LeakyReLU(SLOPE)


class PairDiscriminator(nn.Module):
    """MLP on ``cat(a, b)`` returning (logit, hidden activations of every layer).

    Every Linear is spectrally normalised when ``spectral`` is set (Miyato et al., 2018),
    which bounds the discriminator's Lipschitz constant and keeps the game stable.
    """

    def __init__(self, in_dim: int, hidden_dims: list[int], dropout: float, spectral: bool) -> None:
        super().__init__()
        wrap = spectrally_normalised if spectral else (lambda layer: layer)
        self.layers = nn.ModuleList()
        width = in_dim
        for hidden in hidden_dims:
            self.layers.append(wrap(nn.Linear(width, hidden)))
            width = hidden
        self.head = wrap(nn.Linear(width, 1))
        self.dropout = nn.Dropout(dropout)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h = torch.cat([a, b], dim=1)
        features = []
        for layer in self.layers:
            h = F.leaky_relu(layer(h), SLOPE)
            features.append(h)
            h = self.dropout(h)
        return self.head(h).squeeze(1), features


class ALADNet(nn.Module):
    """Encoder, generator and the discriminators ``d_xz``, ``d_xx``, ``d_zz``."""

    def __init__(
        self,
        n_features: int,
        hidden_dims: list[int],
        latent_dim: int,
        discriminator_dims: list[int],
        dropout: float,
        spectral_norm: bool,
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = mlp(n_features, hidden_dims, latent_dim, activation=_leaky)
        self.generator = mlp(latent_dim, list(reversed(hidden_dims)), n_features, activation=_leaky)
        self.d_xz = PairDiscriminator(
            n_features + latent_dim, discriminator_dims, dropout, spectral_norm
        )
        self.d_xx = PairDiscriminator(2 * n_features, discriminator_dims, dropout, spectral_norm)
        zz_width = max(2 * latent_dim, 16)
        self.d_zz = PairDiscriminator(2 * latent_dim, [zz_width], dropout, spectral_norm)

    def generator_parameters(self) -> list[nn.Parameter]:
        """Encoder and generator: the side that minimises the generator loss."""
        return [*self.encoder.parameters(), *self.generator.parameters()]

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return [*self.d_xz.parameters(), *self.d_xx.parameters(), *self.d_zz.parameters()]

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.generator(self.encoder(x))

    def forward(self, x: torch.Tensor, last_layer_only: bool = True) -> torch.Tensor:
        """Anomaly score per row, higher = more anomalous.

        The L1 distance between ``D_xx``'s last hidden activations on ``(x, x)`` and on
        ``(x, G(E(x)))`` (the paper's score; averaged over units, which only rescales it).
        ``last_layer_only=False`` sums that over every hidden layer. A normal row is
        reconstructed well enough that ``D_xx`` sees the two pairs alike; a row unlike
        the training data is not, and ``D_xx`` has learned to tell such pairs apart.
        """
        x_rec = self.reconstruct(x)
        _, real = self.d_xx(x, x)
        _, fake = self.d_xx(x, x_rec)
        if last_layer_only:
            real, fake = real[-1:], fake[-1:]
        return sum(torch.mean(torch.abs(r - f), dim=1) for r, f in zip(real, fake, strict=True))


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    """Mean binary cross-entropy of ``logits`` against a constant 0/1 target.

    Written with softplus (``-log sigmoid(l) = softplus(-l)``) rather than
    ``F.binary_cross_entropy_with_logits``: the same value, but that kernel took ~30 ms
    per call on small batches with two intra-op threads on a loaded 2-core machine
    (torch 2.13 CPU), against ~10 us for softplus.
    """
    return torch.mean(F.softplus(-logits if target == 1.0 else logits))


def discriminator_loss(net: ALADNet, x: torch.Tensor) -> torch.Tensor:
    """Sum of the three discriminators' BCE losses; encoder and generator are held fixed.

    Real pairs: ``(x, E(x))``, ``(x, x)``, ``(z, z)``; fake pairs: ``(G(z), z)``,
    ``(x, G(E(x)))``, ``(z, E(G(z)))``. Real and fake go through each discriminator in
    one batch (no batch statistics in the discriminators, so this changes nothing but
    speed).
    """
    n = len(x)
    z = torch.randn(n, net.latent_dim, device=x.device)
    with torch.no_grad():
        z_hat = net.encoder(x)
        x_gen = net.generator(z)
        x_rec = net.generator(z_hat)
        z_rec = net.encoder(x_gen)
    xz, _ = net.d_xz(torch.cat([x, x_gen]), torch.cat([z_hat, z]))
    xx, _ = net.d_xx(torch.cat([x, x]), torch.cat([x, x_rec]))
    zz, _ = net.d_zz(torch.cat([z, z]), torch.cat([z, z_rec]))
    return sum(_bce(logits[:n], 1.0) + _bce(logits[n:], 0.0) for logits in (xz, xx, zz))


def generator_loss(net: ALADNet, x: torch.Tensor) -> torch.Tensor:
    """Encoder + generator loss: the discriminators' targets flipped (non-saturating).

    The real terms of ``D_xx`` and ``D_zz`` (``(x, x)``, ``(z, z)``) do not depend on the
    encoder or generator, so they are left out: their gradient would be zero.
    """
    n = len(x)
    z = torch.randn(n, net.latent_dim, device=x.device)
    z_hat = net.encoder(x)
    x_gen = net.generator(z)
    x_rec = net.generator(z_hat)
    z_rec = net.encoder(x_gen)
    xz, _ = net.d_xz(torch.cat([x, x_gen]), torch.cat([z_hat, z]))
    xx, _ = net.d_xx(x, x_rec)
    zz, _ = net.d_zz(z, z_rec)
    return _bce(xz[:n], 0.0) + _bce(xz[n:], 1.0) + _bce(xx, 1.0) + _bce(zz, 1.0)


def reconstruction_error(net: ALADNet, x: torch.Tensor) -> torch.Tensor:
    """Mean absolute error of ``G(E(x))``: the held-out value early stopping watches."""
    return torch.mean(torch.abs(net.reconstruct(x) - x))
