"""``Auto``: the detector to pick when you do not know which to pick.

A score-normalised ensemble of detectors with complementary biases: local density (k-NN),
random isolation (Isolation Forest) and per-feature tails (ECOD). Each member's scores are
put on a common scale using its own training scores (robust z-score: median and
inter-quartile range), then combined: by default the largest of them, so a row that any
view finds far outside its training distribution ranks high.

Why these members and this rule: on the 32 ADBench datasets (seed 0, both the one-class
and unsupervised settings; docs/benchmarks.md) k-NN is the strongest single detector
one-class and Isolation Forest unsupervised; the max of the three was the best all-round
choice, and adding our AutoEncoder or VAE lowered the mean in both settings. Members and
rule are parameters, so a deep member is one argument away.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepad.core.base import BaseDetector

DEFAULT_MEMBERS = ("KNN", "IsolationForest", "ECOD")
COMBINE_RULES = ("max", "mean")


def robust_scale(training_scores: np.ndarray) -> tuple[float, float]:
    """(centre, scale) of a member's training scores: median and inter-quartile range."""
    low, centre, high = np.percentile(training_scores, [25, 50, 75])
    scale = high - low
    if not scale > 0:
        scale = float(np.std(training_scores)) or 1.0
    return float(centre), float(scale)


class Auto(BaseDetector):
    """Ensemble of complementary detectors on robust z-scores; a strong default.

    ``members`` names detectors from ``deepad.DETECTORS``; each is fitted at its defaults
    (seeded from ``random_state``) on the same encoded rows, except for what
    ``member_params`` overrides, e.g. ``{"AutoEncoder": {"epochs": 20}}``. Training sets larger than
    ``max_train_rows`` are subsampled uniformly (with the seed) for fitting the members.
    """

    summary = "ensemble of KNN, Isolation Forest and ECOD; the detector to start with"
    native_explain_methods = ("members",)
    default_explain_method = "members"

    def __init__(
        self,
        members: tuple[str, ...] | list[str] | None = None,
        member_params: dict[str, dict[str, Any]] | None = None,
        combine: str = "max",
        max_train_rows: int = 20000,
        contamination: float = 0.1,
        random_state: int | None = None,
    ) -> None:
        self.members = members
        self.member_params = member_params
        self.combine = combine
        self.max_train_rows = max_train_rows
        self.contamination = contamination
        self.random_state = random_state

    def _member_names(self) -> list[str]:
        from deepad.models import TABLE_DETECTORS as DETECTORS  # the registry imports this

        names = list(DEFAULT_MEMBERS if self.members is None else self.members)
        if not names:
            raise ValueError("members must name at least one detector")
        unknown = [n for n in names if n not in DETECTORS or n == "Auto"]
        if unknown:
            raise ValueError(
                f"unknown ensemble member(s) {unknown}; choose from "
                f"{sorted(set(DETECTORS) - {'Auto'})}"
            )
        return names

    def _check_params(self) -> None:
        super()._check_params()
        names = self._member_names()
        stray = sorted(set(self.member_params or {}) - set(names))
        if stray:
            raise ValueError(f"member_params names detector(s) {stray} that are not members")
        if self.combine not in COMBINE_RULES:
            raise ValueError(f"combine must be one of {COMBINE_RULES}, got {self.combine!r}")
        if not isinstance(self.max_train_rows, (int, np.integer)) or self.max_train_rows < 10:
            raise ValueError(f"max_train_rows must be an int >= 10, got {self.max_train_rows!r}")

    def _new_member(self, name: str, seed: int) -> BaseDetector:
        from deepad.models import DETECTORS

        cls = DETECTORS[name]
        params: dict[str, Any] = {"contamination": self.contamination}
        if "random_state" in cls().get_params():
            params["random_state"] = seed
        params.update((self.member_params or {}).get(name, {}))
        try:
            return cls(**params)
        except TypeError as exc:
            raise ValueError(f"member_params for {name}: {exc}") from exc

    def _fit_features(self, features: np.ndarray, labels: np.ndarray | None = None) -> None:
        seed = self._seed()
        rows = features
        self.subsampled_ = len(features) > self.max_train_rows
        if self.subsampled_:
            keep = np.random.default_rng(seed).choice(
                len(features), self.max_train_rows, replace=False
            )
            rows = features[np.sort(keep)]
        self.members_: list[BaseDetector] = []
        self.member_scaling_: list[tuple[float, float]] = []
        training_scores = []
        for offset, name in enumerate(self._member_names()):
            member = self._new_member(name, seed + offset)
            member._check_params()
            member._fit_features(rows)
            scores = np.asarray(member._training_scores(rows), dtype=np.float64)
            self.members_.append(member)
            self.member_scaling_.append(robust_scale(scores))
            training_scores.append(scores)
        self._member_training_scores = None if self.subsampled_ else training_scores

    def _normalised(self, member_scores: list[np.ndarray]) -> np.ndarray:
        """``(members, rows)``: each member's scores as robust z-scores of its training ones."""
        return np.stack(
            [
                (np.asarray(scores, dtype=np.float64) - centre) / scale
                for scores, (centre, scale) in zip(member_scores, self.member_scaling_, strict=True)
            ]
        )

    def _combine(self, member_scores: list[np.ndarray]) -> np.ndarray:
        reduce = np.max if self.combine == "max" else np.mean
        return reduce(self._normalised(member_scores), axis=0)

    def _score_features(self, features: np.ndarray) -> np.ndarray:
        return self._combine([member._score_features(features) for member in self.members_])

    def _member_weights(self, features: np.ndarray) -> np.ndarray:
        """``(rows, members)``: how much each member's raw score counts in each row's score.

        For ``max``, 1/scale for the member that set the row's score and 0 for the others;
        for ``mean``, 1/(members * scale) for all. Explanations weigh members' by these.
        """
        scales = np.array([scale for _, scale in self.member_scaling_])
        if self.combine == "mean":
            return np.tile(1.0 / (len(scales) * scales), (len(features), 1))
        member_scores = [member._score_features(features) for member in self.members_]
        winner = np.argmax(self._normalised(member_scores), axis=0)
        weights = np.zeros((len(features), len(scales)))
        rows = np.arange(len(features))
        weights[rows, winner] = 1.0 / scales[winner]
        return weights

    def _training_scores(self, features: np.ndarray) -> np.ndarray:
        if self._member_training_scores is not None:  # members saw every row: reuse them
            scores, self._member_training_scores = self._member_training_scores, None
            return self._combine(scores)
        return self._score_features(features)

    def _export_model(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta: dict[str, Any] = {"members": [], "subsampled": self.subsampled_}
        arrays: dict[str, np.ndarray] = {}
        for index, (member, (centre, scale)) in enumerate(
            zip(self.members_, self.member_scaling_, strict=True)
        ):
            member_meta, member_arrays = member._export_model()
            meta["members"].append(
                {
                    "class": type(member).__name__,
                    "params": member.get_params(deep=False),
                    "state": member_meta,
                    "centre": centre,
                    "scale": scale,
                }
            )
            arrays.update({f"member{index}.{key}": value for key, value in member_arrays.items()})
        return meta, arrays

    def _import_model(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        from deepad.models import DETECTORS

        self.subsampled_ = bool(meta["subsampled"])
        self.members_, self.member_scaling_ = [], []
        for index, entry in enumerate(meta["members"]):
            member = DETECTORS[entry["class"]](**entry["params"])
            prefix = f"member{index}."
            member._import_model(
                entry["state"],
                {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)},
            )
            self.members_.append(member)
            self.member_scaling_.append((float(entry["centre"]), float(entry["scale"])))
