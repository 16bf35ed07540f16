"""``DeepLog``: sessions whose next events fall outside an LSTM's top-g predictions."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from deepad.models.deeplog.torch_model import NextEventLSTM
from deepad.models.log_base import END, FIRST_EVENT, PAD, UNKNOWN, LogDetector
from deepad.nn.training import check_training_params, fit_module, seeded, training_config
from deepad.nn.weights import load_module_arrays, module_arrays

#: windows ranked per inference chunk
_CHUNK = 8192


def session_windows(
    sessions: list[np.ndarray], window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(windows (m, window), next tokens (m,), session index of each window) over sessions
    padded on the left and closed by ``END``, so a session that stops early also misses."""
    inputs, targets, owners = [], [], []
    for index, session in enumerate(sessions):
        padded = np.concatenate([np.full(window, PAD), session, [END]]).astype(np.int64)
        views = np.lib.stride_tricks.sliding_window_view(padded[:-1], window)
        inputs.append(views)
        targets.append(padded[window:])
        owners.append(np.full(len(views), index))
    return np.concatenate(inputs), np.concatenate(targets), np.concatenate(owners)


class DeepLog(LogDetector):
    """DeepLog (Du et al., CCS 2017): LSTM next-event prediction over log keys.

    An LSTM reads the last ``window`` events of a session and ranks the possible next
    ones; an event outside the top ``top_g`` is a miss. A session's score is its number of
    misses, counting the end of the session as an event (a session cut short misses its
    end) and every event never seen in training as a miss. ``top_g="auto"`` takes the
    smallest g that covers ``coverage`` of the next events of normal sessions held out of
    training (10% of them) with no miss at all, so g comes from training data alone.
    """

    summary: ClassVar[str] = "LSTM next-event prediction; score = events outside the top-g"

    def __init__(
        self,
        window: int = 10,
        top_g: int | str = "auto",
        coverage: float = 0.99,
        embedding_dim: int = 16,
        hidden_size: int = 64,
        num_layers: int = 2,
        epochs: int | None = None,
        batch_size: int | None = 256,
        learning_rate: float = 1e-3,
        validation_fraction: float = 0.1,
        contamination: float = 0.1,
        random_state: int | None = 0,
        session_regex: str | None = None,
        session_window: int | str | None = None,
        session_step: int | str | None = None,
        time_regex: str | None = None,
        content_regex: str | None = None,
        templates: dict | str | None = None,
    ) -> None:
        self.window = window
        self.top_g = top_g
        self.coverage = coverage
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.contamination = contamination
        self.random_state = random_state
        self.session_regex = session_regex
        self.session_window = session_window
        self.session_step = session_step
        self.time_regex = time_regex
        self.content_regex = content_regex
        self.templates = templates

    def _check_params(self) -> None:
        super()._check_params()
        check_training_params(self)
        for name in ("window", "embedding_dim", "hidden_size", "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        g = self.top_g
        if g != "auto" and (not isinstance(g, (int, np.integer)) or isinstance(g, bool) or g < 1):
            raise ValueError(f"top_g must be a positive int or 'auto', got {g!r}")
        if not isinstance(self.coverage, (int, float)) or not 0.5 <= self.coverage < 1:
            raise ValueError(f"coverage must be in [0.5, 1), got {self.coverage!r}")

    # --------------------------------------------------------------- hooks
    def _fit_sessions(self, sessions: list[np.ndarray]) -> None:
        seed = self._seed()
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(sessions))
        n_tune = len(sessions) // 10 if self.top_g == "auto" and len(sessions) >= 20 else 0
        tune = [sessions[i] for i in order[:n_tune]]
        train = [sessions[i] for i in order[n_tune:]]
        inputs, targets, _ = self._windows(train)
        self.architecture_ = {
            "vocabulary": int(self.vocabulary_size),
            "embedding": int(self.embedding_dim),
            "hidden": int(self.hidden_size),
            "layers": int(self.num_layers),
        }
        config = training_config(self, seed, target_steps=3000, min_epochs=3)

        def loss(
            module: NextEventLSTM, batch: torch.Tensor, next_tokens: torch.Tensor
        ) -> torch.Tensor:
            return torch.nn.functional.cross_entropy(module(batch), next_tokens.long())

        with seeded(seed):
            module = self._new_module()
            self.history_ = fit_module(module, loss, inputs, config, targets=targets)
        self.module_ = module.eval()
        if self.top_g == "auto":  # smallest g leaving `coverage` of held-out sessions clean
            inputs, targets, owners = self._windows(tune or train)
            ranks = self._ranks(inputs, targets)
            ranks[~np.isfinite(ranks)] = 0.0  # events unseen in training miss at any g
            worst = np.zeros(owners.max() + 1)
            np.maximum.at(worst, owners, ranks)
            self.top_g_ = int(np.quantile(worst, self.coverage, method="higher")) + 1
        else:
            self.top_g_ = int(self.top_g)

    def _score_sessions(self, sessions: list[np.ndarray]) -> np.ndarray:
        """Misses per session: windows whose true next token ranks at or below top_g."""
        inputs, targets, owners = self._windows(sessions)
        misses = self._ranks(inputs, targets) >= self.top_g_
        return np.bincount(owners, weights=misses, minlength=len(sessions))

    def _ranks(
        self, inputs: np.ndarray, targets: np.ndarray, expected: int = 0
    ) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
        """0-based rank of each true next token among the predictions (inf: unknown), and
        with ``expected`` > 0 also the ``expected`` best-ranked tokens of each window."""
        ranks = np.empty(len(targets), dtype=np.float64)
        best = np.empty((len(targets), expected), dtype=np.int64)
        with torch.inference_mode():
            for start in range(0, len(targets), _CHUNK):
                logits = self.module_(torch.from_numpy(inputs[start : start + _CHUNK]))
                chunk_targets = torch.from_numpy(targets[start : start + _CHUNK])
                true = logits.gather(1, chunk_targets[:, None])
                ranks[start : start + _CHUNK] = (logits > true).sum(dim=1).double().numpy()
                if expected:
                    best[start : start + _CHUNK] = logits.topk(expected, dim=1).indices.numpy()
        ranks[targets == UNKNOWN] = np.inf
        return (ranks, best) if expected else ranks

    def _explain_tokens(self, sessions: list[np.ndarray]) -> list[tuple[int, int, int, float, str]]:
        """Each miss contributes 1: the event, its rank, and the events expected instead."""
        inputs, targets, owners = self._windows(sessions)
        ranks, best = self._ranks(inputs, targets, expected=min(3, self.vocabulary_size))
        first_window = np.concatenate([[0], np.cumsum([len(s) + 1 for s in sessions])[:-1]])
        positions = np.arange(len(targets)) - first_window[owners]
        rows = []
        for w in np.flatnonzero(ranks >= self.top_g_):
            if np.isinf(ranks[w]):
                detail = "an event never seen in training"
            else:
                guesses = "; ".join(repr(self._token_text(t)) for t in best[w])
                detail = (
                    f"ranked {int(ranks[w]) + 1}, outside the top {self.top_g_}; expected {guesses}"
                )
            rows.append((int(owners[w]), int(positions[w]), int(targets[w]), 1.0, detail))
        return rows

    def _windows(self, sessions: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return session_windows(sessions, int(self.window))

    def _new_module(self) -> torch.nn.Module:
        return NextEventLSTM(**self.architecture_)

    def _token_text(self, token: int) -> str:
        if token == END:
            return "(end of session)"
        if token < FIRST_EVENT:
            return "(padding)"
        return self.template(int(self.events_[token - FIRST_EVENT]))

    def _export_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"architecture": self.architecture_, "top_g": self.top_g_}, module_arrays(
            self.module_
        )

    def _import_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.architecture_ = dict(meta["architecture"])
        self.top_g_ = int(meta["top_g"])
        self.module_ = load_module_arrays(self._new_module(), arrays).eval()
