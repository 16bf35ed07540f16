"""``DeepLog``: sessions whose next events fall outside an LSTM's top-g predictions."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from deepad.models.deeplog.torch_model import NextEventLSTM
from deepad.models.log_base import END, FIRST_EVENT, PAD, UNKNOWN, LogDetector
from deepad.nn.training import check_training_params, fit_module, seeded, training_config
from deepad.nn.weights import module_arrays, restore_module

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

    An LSTM reads the last ``window`` events of a session and predicts the next one; an
    event the model did not expect is a miss. A session's score is its number of misses,
    counting the end of the session as an event (a session cut short misses its end) and
    every event never seen in training as a miss.

    What "expected" means: by default (``top_g=None``) an event is a miss when its
    predicted probability is below a floor set on normal sessions held out of training
    (10% of them): the highest floor under which ``coverage`` (99%) of them never fall.
    ``top_g=g`` is the paper's rule instead: a miss is an event outside the g most likely
    (ranks among near-zero probabilities are arbitrary, which made that rule swing with
    the seed; see the README).
    """

    summary: ClassVar[str] = "LSTM next-event prediction; score = events it did not expect"

    def __init__(
        self,
        window: int = 10,
        top_g: int | None = None,
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
        message_column: str | None = None,
        session_column: str | None = None,
        masks: list | None = None,
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
        self.message_column = message_column
        self.session_column = session_column
        self.masks = masks
        self.templates = templates

    def _check_params(self) -> None:
        super()._check_params()
        check_training_params(self)
        for name in ("window", "embedding_dim", "hidden_size", "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        g = self.top_g
        if g is not None and (not isinstance(g, (int, np.integer)) or isinstance(g, bool) or g < 1):
            raise ValueError(f"top_g must be a positive int or None, got {g!r}")
        if not isinstance(self.coverage, (int, float)) or not 0.5 <= self.coverage < 1:
            raise ValueError(f"coverage must be in [0.5, 1), got {self.coverage!r}")

    # --------------------------------------------------------------- hooks
    def _fit_sessions(self, sessions: list[np.ndarray]) -> None:
        seed = self._seed()
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(sessions))
        n_tune = len(sessions) // 10 if self.top_g is None and len(sessions) >= 20 else 0
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
        self.top_g_ = None if self.top_g is None else int(self.top_g)
        self.log_floor_ = -np.inf
        if self.top_g is None:  # the highest floor `coverage` of held-out sessions stay above
            inputs, targets, owners = self._windows(tune or train)
            log_probs, _, _ = self._predict(inputs, targets)
            worst = np.full(owners.max() + 1, np.inf)
            np.minimum.at(worst, owners, log_probs)
            self.log_floor_ = float(np.quantile(worst, 1 - self.coverage, method="lower"))

    def _score_sessions(self, sessions: list[np.ndarray]) -> np.ndarray:
        """Misses per session."""
        inputs, targets, owners = self._windows(sessions)
        log_probs, ranks, _ = self._predict(inputs, targets)
        misses = self._misses(log_probs, ranks)
        return np.bincount(owners, weights=misses, minlength=len(sessions))

    def _misses(self, log_probs: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        if self.top_g_ is not None:
            return ranks >= self.top_g_
        return log_probs < self.log_floor_

    def _predict(
        self, inputs: np.ndarray, targets: np.ndarray, expected: int = 0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per window: log-probability of the true next token and its 0-based rank (-inf
        and inf for events unseen in training), and the ``expected`` likeliest tokens."""
        log_probs = np.empty(len(targets), dtype=np.float64)
        ranks = np.empty(len(targets), dtype=np.float64)
        best = np.empty((len(targets), expected), dtype=np.int64)
        with torch.inference_mode():
            for start in range(0, len(targets), _CHUNK):
                stop = start + _CHUNK
                logits = torch.log_softmax(self.module_(torch.from_numpy(inputs[start:stop])), 1)
                true = logits.gather(1, torch.from_numpy(targets[start:stop])[:, None])
                log_probs[start:stop] = true[:, 0].double().numpy()
                ranks[start:stop] = (logits > true).sum(dim=1).double().numpy()
                if expected:
                    best[start:stop] = logits.topk(expected, dim=1).indices.numpy()
        unknown = targets == UNKNOWN
        log_probs[unknown], ranks[unknown] = -np.inf, np.inf
        return log_probs, ranks, best

    def _explain_tokens(self, sessions: list[np.ndarray]) -> list[tuple[int, int, int, float, str]]:
        """Each miss contributes 1: the event, why it missed, and the events expected."""
        inputs, targets, owners = self._windows(sessions)
        log_probs, ranks, best = self._predict(inputs, targets, min(3, self.vocabulary_size))
        first_window = np.concatenate([[0], np.cumsum([len(s) + 1 for s in sessions])[:-1]])
        positions = np.arange(len(targets)) - first_window[owners]
        rows = []
        for w in np.flatnonzero(self._misses(log_probs, ranks)):
            if np.isinf(ranks[w]):
                detail = "an event never seen in training"
            else:
                guesses = "; ".join(repr(self._token_text(t)) for t in best[w])
                if self.top_g_ is None:
                    why = (
                        f"probability {np.exp(log_probs[w]):.2g}, under the floor "
                        f"{np.exp(self.log_floor_):.2g}"
                    )
                else:
                    why = f"ranked {int(ranks[w]) + 1}, outside the top {self.top_g_}"
                detail = f"{why}; expected {guesses}"
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
        meta = {"architecture": self.architecture_, "top_g": self.top_g_}
        if self.top_g_ is None and np.isfinite(self.log_floor_):
            meta["log_probability_floor"] = self.log_floor_
        return meta, module_arrays(self.module_)

    def _import_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.architecture_ = dict(meta["architecture"])
        self.top_g_ = None if meta["top_g"] is None else int(meta["top_g"])
        self.log_floor_ = float(meta.get("log_probability_floor", -np.inf))
        self.module_ = restore_module(self._new_module, arrays)
