"""``IsolationForest``: scikit-learn's isolation forest, scored from exported tree arrays.

Training uses scikit-learn. The fitted trees are then flattened into plain arrays
(children, split feature, threshold, and the path length credited at each leaf), so a
bundle stores them in safetensors and scoring is a vectorised walk down all trees at once,
equal to ``-IsolationForest.score_samples`` (the tests check this).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.ensemble import IsolationForest as _SkIsolationForest

from deepad.core.base import BaseDetector


def average_path_length(n_samples: np.ndarray) -> np.ndarray:
    """Expected path length of an unsuccessful BST search among ``n`` points, c(n)."""
    n = np.asarray(n_samples, dtype=np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


class IsolationForest(BaseDetector):
    """Isolation Forest (Liu et al., 2008): rows that random splits isolate quickly.

    Score = 2^(-E[h(x)] / c(max_samples)), in (0, 1]; higher = more anomalous.
    """

    summary = "Isolation Forest baseline; fast, robust on wide numeric tables, few assumptions"
    #: ablation computed here: the same numbers as captum's, but only the trees whose path
    #: for a row splits on a column are walked again, so the cost does not grow with width
    native_explain_methods = ("ablation",)

    def __init__(
        self,
        n_estimators: int = 100,
        max_samples: int | float | str = "auto",
        max_features: float = 1.0,
        contamination: float = 0.1,
        random_state: int | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.contamination = contamination
        self.random_state = random_state

    def _fit_features(self, features: np.ndarray, labels: np.ndarray | None = None) -> None:
        forest = _SkIsolationForest(
            n_estimators=self.n_estimators,
            max_samples=self.max_samples,
            max_features=self.max_features,
            random_state=self._seed(),
        ).fit(features)
        trees = [est.tree_ for est in forest.estimators_]
        width = max(tree.node_count for tree in trees)
        shape = (len(trees), width)
        self.children_left_ = np.full(shape, -1, dtype=np.int64)
        self.children_right_ = np.full(shape, -1, dtype=np.int64)
        self.split_feature_ = np.zeros(shape, dtype=np.int64)
        self.split_threshold_ = np.zeros(shape, dtype=np.float64)
        self.leaf_path_length_ = np.zeros(shape, dtype=np.float64)
        for t, (tree, used) in enumerate(zip(trees, forest.estimators_features_, strict=True)):
            n = tree.node_count
            left, right = tree.children_left, tree.children_right
            self.children_left_[t, :n] = left
            self.children_right_[t, :n] = right
            is_leaf = left == -1
            self.split_feature_[t, :n] = np.asarray(used)[np.where(is_leaf, 0, tree.feature)]
            self.split_threshold_[t, :n] = tree.threshold
            depth = np.zeros(n, dtype=np.float64)
            for node in range(n):  # parents precede children in sklearn's node order
                if not is_leaf[node]:
                    depth[left[node]] = depth[right[node]] = depth[node] + 1
            self.leaf_path_length_[t, :n] = depth + average_path_length(tree.n_node_samples)
        self.path_normaliser_ = float(average_path_length(np.array([forest.max_samples_]))[0])

    def _score_features(self, features: np.ndarray, chunk: int = 8192) -> np.ndarray:
        n_trees = self.children_left_.shape[0]
        scores = np.empty(len(features), dtype=np.float64)
        for start in range(0, len(features), chunk):
            block = features[start : start + chunk]
            trees, rows = np.arange(n_trees)[:, None], np.arange(len(block))[None, :]
            lengths, _ = self._walk(block, trees, rows)  # (trees, rows)
            scores[start : start + len(block)] = self._score_of(lengths.mean(axis=0))
        return scores

    def _score_of(self, mean_path: np.ndarray) -> np.ndarray:
        """2^(-E[h(x)] / c(max_samples)) from the mean path length over the trees."""
        return 2.0 ** (-mean_path / self.path_normaliser_)

    def _walk(
        self,
        features: np.ndarray,
        trees: np.ndarray,
        rows: np.ndarray,
        replace: Any = None,
        record: bool = False,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Leaf path length of ``features[rows[i]]`` in tree ``trees[i]`` (the two index
        arrays broadcast) and, with ``record``, the split feature used at each step (-1
        once a leaf is reached).

        ``replace = (groups, baseline, column)`` walks the rows as if input ``column[i]``
        (all its encoded features) were set to its typical value.
        """
        node = np.zeros(np.broadcast_shapes(trees.shape, rows.shape), dtype=np.int64)
        steps: list[np.ndarray] = []
        while True:
            left = self.children_left_[trees, node]
            inner = left != -1
            if not inner.any():
                break
            feature = self.split_feature_[trees, node]
            value = features[rows, feature]
            if replace is not None:
                groups, baseline, column = replace
                value = np.where(groups[feature] == column, baseline[feature], value)
            go_left = value <= self.split_threshold_[trees, node]
            step = np.where(go_left, left, self.children_right_[trees, node])
            if record:
                steps.append(np.where(inner, feature, -1))
            node = np.where(inner, step, node)
        return self.leaf_path_length_[trees, node], steps

    def _explain_features(
        self, features: np.ndarray, method: str, baseline: np.ndarray, groups: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        # score drop when a column is set to its typical value; a tree whose path for the
        # row never splits on that column keeps its path length, so only the others move
        n_trees, n_rows = self.children_left_.shape[0], len(features)
        n_columns = int(groups.max()) + 1
        out = np.zeros((n_rows, features.shape[1]))
        first_of_group = np.unique(groups, return_index=True)[1]
        chunk = max(1, 8192 // n_trees)
        for start in range(0, n_rows, chunk):
            block = features[start : start + chunk].astype(np.float64)
            m = len(block)
            trees = np.repeat(np.arange(n_trees), m)
            rows = np.tile(np.arange(m), n_trees)
            lengths, steps = self._walk(block, trees, rows, record=True)
            used = np.stack(steps) if steps else np.full((1, len(rows)), -1)
            column = np.where(used >= 0, groups[np.maximum(used, 0)], -1)
            pair = np.broadcast_to(np.arange(len(rows)), column.shape)
            keep = column >= 0
            # one (tree-row pair, column) per distinct column on the path
            key = np.unique(pair[keep] * n_columns + column[keep])
            pair_of, column_of = key // n_columns, key % n_columns
            new_lengths, _ = self._walk(
                block, trees[pair_of], rows[pair_of], (groups, baseline, column_of)
            )
            change = np.zeros((m, n_columns))
            np.add.at(change, (rows[pair_of], column_of), new_lengths - lengths[pair_of])
            mean_path = lengths.reshape(n_trees, m).mean(axis=0)
            ablated = self._score_of(mean_path[:, None] + change / n_trees)
            out[start : start + m, first_of_group] = self._score_of(mean_path)[:, None] - ablated
        return out, None

    _ARRAYS = (
        "children_left_",
        "children_right_",
        "split_feature_",
        "split_threshold_",
        "leaf_path_length_",
    )

    def _export_model(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        arrays = {name: getattr(self, name) for name in self._ARRAYS}
        return {"path_normaliser": self.path_normaliser_}, arrays

    def _import_model(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        for name in self._ARRAYS:
            setattr(self, name, arrays[name])
        self.path_normaliser_ = float(meta["path_normaliser"])
