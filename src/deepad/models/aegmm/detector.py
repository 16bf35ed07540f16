"""``AEGMM`` detector: autoencoder features scored by a Gaussian mixture, in two stages."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
from scipy.special import logsumexp
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits
from torch import nn

from deepad.models.aegmm.torch_model import AEGMMNet
from deepad.models.torch_base import TorchDetector

#: arrays of the fitted mixture, as stored in bundles (prefix ``gmm.``)
GMM_ARRAYS = (
    "feature_mean",
    "feature_scale",
    "weights",
    "means",
    "covariances",
    "precisions_cholesky",
)


def gmm_log_likelihood(
    X: np.ndarray, weights: np.ndarray, means: np.ndarray, precisions_cholesky: np.ndarray
) -> np.ndarray:
    """Log-density of each row of ``X`` under a full-covariance Gaussian mixture.

    ``precisions_cholesky[k]`` is the upper-triangular factor ``U`` with
    ``precision_k = U @ U.T``, scikit-learn's ``precisions_cholesky_``; the result equals
    ``GaussianMixture.score_samples`` on the same parameters. Each row is computed on its
    own (``einsum``, no blocked BLAS), so a row scores the same alone or in a batch.
    """
    X = np.asarray(X, dtype=np.float64)
    n_dims = X.shape[1]
    log_det = np.sum(np.log(np.diagonal(precisions_cholesky, axis1=1, axis2=2)), axis=1)
    projected = (
        np.einsum("nd,kde->kne", X, precisions_cholesky)
        - np.einsum("kd,kde->ke", means, precisions_cholesky)[:, None, :]
    )
    mahalanobis = np.sum(projected**2, axis=2).T  # (rows, components)
    log_prob = -0.5 * (n_dims * math.log(2.0 * math.pi) + mahalanobis) + log_det
    return logsumexp(log_prob + np.log(weights), axis=1)


class AEGMM(TorchDetector):
    """Two-stage DAGMM (after Zong et al., ICLR 2018): an autoencoder, then a GMM on its features.

    Stage 1 trains an MLP autoencoder on the rows (the shared training loop, early
    stopping on held-out rows). Stage 2 describes every training row by
    ``[latent code, log RMS reconstruction error, cosine similarity]``, standardises
    those features and fits a full-covariance Gaussian mixture with scikit-learn. The
    score is the negative log-likelihood under that mixture: higher = more anomalous.

    ``n_components=None`` picks the number of components by BIC among 1 to
    ``max_components``. The mixture is stored as plain arrays and scored with NumPy, so
    bundles hold no scikit-learn objects.
    """

    #: fine-tuning would move the features its mixture was fitted on
    fine_tunable: ClassVar[bool] = False

    summary = "two-stage DAGMM: Gaussian mixture over autoencoder code and reconstruction errors"
    #: the mixture is applied in NumPy, so gradients stop at the autoencoder's features
    differentiable = False
    native_explain_methods = ("residual",)
    # the reconstruction residual, though not a split of the mixture's energy, named the
    # shifted columns far more often than ablation of the energy did (0.91 vs 0.80 on the
    # injected-anomaly benchmark, docs/benchmarks.md)
    default_explain_method = "residual"

    def __init__(
        self,
        hidden_dims: list[int] | None = None,
        latent_dim: int | None = None,
        n_components: int | None = None,
        max_components: int = 5,
        reg_covar: float = 1e-3,
        dropout: float = 0.0,
        epochs: int | None = None,
        batch_size: int | None = None,
        learning_rate: float = 2e-3,
        weight_decay: float = 1e-5,
        validation_fraction: float = 0.1,
        patience: int = 10,
        contamination: float = 0.1,
        device: str = "cpu",
        verbose: int = 0,
        random_state: int | None = None,
    ) -> None:
        self.hidden_dims = hidden_dims
        self.latent_dim = latent_dim
        self.n_components = n_components
        self.max_components = max_components
        self.reg_covar = reg_covar
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.contamination = contamination
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    def _check_params(self) -> None:
        super()._check_params()
        for name in ("n_components", "max_components"):
            value = getattr(self, name)
            if value is None and name == "n_components":
                continue
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not self.reg_covar > 0:
            raise ValueError(f"reg_covar must be > 0, got {self.reg_covar!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")

    def _architecture(self, n_features: int) -> dict[str, Any]:
        return {**super()._architecture(n_features), "dropout": float(self.dropout)}

    def _build_module(self, architecture: dict[str, Any]) -> nn.Module:
        return AEGMMNet(**architecture)

    def _loss(
        self, module: nn.Module, batch: torch.Tensor, targets: torch.Tensor | None = None
    ) -> torch.Tensor:
        return torch.mean((module(batch) - batch) ** 2)

    def _score_batch(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        return module.features(batch)  # (rows, latent + 2); the GMM is applied in NumPy

    # ------------------------------------------------------------- stages
    def _deep_features(self, features: np.ndarray) -> np.ndarray:
        """The mixture's input per encoded row: ``[z, log RMS error, cosine]``, float64."""
        return super()._score_features(features)

    def _fit_features(self, features: np.ndarray, labels: np.ndarray | None = None) -> None:
        if len(features) < 2:
            raise ValueError(
                f"AEGMM needs at least 2 training rows to fit its mixture, got {len(features)}"
            )
        super()._fit_features(features)  # stage 1: the autoencoder
        deep = self._deep_features(features)
        mean = deep.mean(axis=0)
        scale = deep.std(axis=0)
        scale[scale < 1e-12] = 1.0
        standard = (deep - mean) / scale
        seed = self._seed()
        if self.n_components is not None:
            candidates = [min(int(self.n_components), len(standard))]
        else:
            candidates = range(1, min(int(self.max_components), len(standard)) + 1)
        best, best_bic = None, math.inf
        # EM on a handful of features inverts tiny covariances hundreds of times; threaded
        # BLAS only adds synchronisation there (on a busy 2-core machine ~6 ms per 7 x 7
        # triangular solve instead of microseconds), so it runs single-threaded
        with threadpool_limits(limits=1, user_api="blas"):
            for k in candidates:
                mixture = GaussianMixture(
                    n_components=k,
                    covariance_type="full",
                    reg_covar=self.reg_covar,
                    random_state=seed,
                ).fit(standard)
                bic = mixture.bic(standard) if len(candidates) > 1 else 0.0
                if bic < best_bic:
                    best, best_bic = mixture, bic
        self.gmm_ = {
            "feature_mean": mean,
            "feature_scale": scale,
            "weights": best.weights_,
            "means": best.means_,
            "covariances": best.covariances_,
            "precisions_cholesky": best.precisions_cholesky_,
        }

    def _score_features(self, features: np.ndarray) -> np.ndarray:
        deep = self._deep_features(features)
        gmm = self.gmm_
        standard = (deep - gmm["feature_mean"]) / gmm["feature_scale"]
        return -gmm_log_likelihood(
            standard, gmm["weights"], gmm["means"], gmm["precisions_cholesky"]
        )

    def _scoring_module(self) -> nn.Module:
        return _AEGMMScore(self.module_.eval(), self.gmm_)

    # -------------------------------------------------------- persistence
    def _export_model(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, arrays = super()._export_model()
        meta = {**meta, "n_components": len(self.gmm_["weights"]), "covariance_type": "full"}
        arrays.update({f"gmm.{name}": np.asarray(self.gmm_[name]) for name in GMM_ARRAYS})
        return meta, arrays

    def _import_model(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        super()._import_model(meta, arrays)
        self.gmm_ = {name: np.array(arrays[f"gmm.{name}"]) for name in GMM_ARRAYS}

    def _explain_features(
        self, features: np.ndarray, method: str, baseline: np.ndarray, groups: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        # where the autoencoder stage failed to reconstruct; not a split of the GMM energy
        return self._residual_explanation(features, 1.0 / features.shape[1])


class _AEGMMScore(nn.Module):
    """The AEGMM score in torch (float64), as ``gmm_log_likelihood`` computes it, for export."""

    def __init__(self, network: nn.Module, gmm: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.network = network
        for name in ("feature_mean", "feature_scale", "precisions_cholesky"):
            self.register_buffer(name, torch.as_tensor(np.asarray(gmm[name], dtype=np.float64)))
        cholesky = np.asarray(gmm["precisions_cholesky"], dtype=np.float64)
        log_det = np.sum(np.log(np.diagonal(cholesky, axis1=1, axis2=2)), axis=1)
        self.register_buffer("log_weights", torch.as_tensor(np.log(gmm["weights"]) + log_det))
        shift = np.einsum("kd,kde->ke", np.asarray(gmm["means"], dtype=np.float64), cholesky)
        self.register_buffer("shift", torch.as_tensor(shift[:, None, :]))

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        deep = self.network.features(rows).double()
        standard = (deep - self.feature_mean) / self.feature_scale
        projected = torch.matmul(standard.unsqueeze(0), self.precisions_cholesky) - self.shift
        mahalanobis = torch.sum(projected**2, dim=2).transpose(0, 1)  # (rows, components)
        n_dims = standard.shape[1]
        log_prob = -0.5 * (n_dims * math.log(2.0 * math.pi) + mahalanobis) + self.log_weights
        return -torch.logsumexp(log_prob, dim=1)
