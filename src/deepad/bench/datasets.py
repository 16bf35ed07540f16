"""ADBench-style ``.npz`` datasets: find them, load them, and cut them per the protocol.

The protocol (``../shared/data/README.md``), applied identically to every detector so
that ours and the peers see the very same numbers:

1. a stratified 70/30 split per seed
   (``train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)``);
2. a ``MinMaxScaler`` fitted on all the training rows of that split (as ADBench does),
   applied to the training and the test rows;
3. the rows a setting fits on: ``unsupervised`` all training rows, labels unseen;
   ``oneclass`` the training rows with y == 0; ``labeled`` all training rows with a few
   known anomalies (see :func:`fit_data`);
4. training sets over ``max_train_rows`` are subsampled uniformly (with the seed) for
   fitting only, so the largest datasets stay within a time budget; the test rows are
   never subsampled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler

from deepad.bench.protocol import LABELED_FRACTION, SETTINGS, TEST_SIZE


@dataclass(frozen=True)
class Split:
    """One seed's stratified split, scaled: the rows every setting starts from."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True)
class FitData:
    """What one job needs: the rows to fit on (and their labels, if any), the test rows.

    ``y_fit`` is None except in the ``labeled`` setting, where it holds 1 for the revealed
    anomalies and -1 (unknown) for every other row. ``n_train`` counts the rows the setting
    would fit on, ``n_train_used`` the rows it does fit on after subsampling.
    """

    X_fit: np.ndarray
    y_fit: np.ndarray | None
    X_test: np.ndarray
    y_test: np.ndarray
    n_train: int
    n_train_used: int

    @property
    def n_test(self) -> int:
        """Number of test rows."""
        return len(self.y_test)

    @property
    def n_features(self) -> int:
        """Number of input columns."""
        return int(self.X_test.shape[1])


def _natural_key(stem: str) -> tuple[int, str]:
    """ADBench's ``<number>_<name>`` order (2 before 10), then by name."""
    match = re.match(r"(\d+)", stem)
    return (int(match.group(1)) if match else 1 << 30, stem.lower())


def find_datasets(data_dir: str | Path, names: list[str] | None = None) -> dict[str, Path]:
    """The ``.npz`` files of ``data_dir`` by file stem, in ADBench's numeric order.

    ``names`` selects a subset by stem (e.g. ``6_cardio``), kept in the order given;
    a missing folder, a folder without ``.npz`` files or an unknown name raise a
    ``ValueError`` that says which, so the CLI can print it as one line.
    """
    folder = Path(data_dir)
    if not folder.is_dir():
        raise ValueError(f"data folder {str(folder)!r} not found (expected a folder of .npz files)")
    found = {p.stem: p for p in sorted(folder.glob("*.npz"), key=lambda p: _natural_key(p.stem))}
    if not found:
        raise ValueError(f"no .npz files in {str(folder)!r}")
    if not names:
        return found
    unknown = [name for name in names if name not in found]
    if unknown:
        raise ValueError(
            f"unknown dataset(s) {unknown} in {str(folder)!r}; available: {list(found)}"
        )
    return {name: found[name] for name in dict.fromkeys(names)}


def load_dataset(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``X`` as float64 (n x d) and ``y`` as int64 0/1 from an ADBench ``.npz`` file."""
    with np.load(path, allow_pickle=False) as data:
        X = np.asarray(data["X"], dtype=np.float64)
        y = np.asarray(data["y"]).astype(np.int64).ravel()
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"{Path(path).name}: X must be 2-D with one row per label")
    if not set(np.unique(y).tolist()) <= {0, 1} or y.sum() < 2:
        raise ValueError(f"{Path(path).name}: y must be 0/1 with at least 2 anomalies")
    return X, y


def split_dataset(X: np.ndarray, y: np.ndarray, seed: int) -> Split:
    """Stratified 70/30 split for ``seed``, min-max scaled on the training rows."""
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=TEST_SIZE, stratify=y, random_state=seed
    )
    scaler = MinMaxScaler().fit(X_train)
    return Split(scaler.transform(X_train), y_train, scaler.transform(X_test), y_test)


def fit_data(split: Split, setting: str, seed: int, max_train_rows: int | None) -> FitData:
    """The rows ``setting`` fits on, subsampled to ``max_train_rows`` if it has more.

    The ``labeled`` setting fits on the same rows as ``unsupervised`` (same subsample),
    with ``y_fit``: ``max(1, floor(5%))`` of the anomalies among those rows, drawn with the
    seed, get 1 (ADBench's ``la=0.05``), every other row -1 (unknown).
    """
    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; choose from {list(SETTINGS)}")
    X, y = split.X_train, split.y_train
    if setting == "oneclass":
        X, y = X[y == 0], y[y == 0]
    n_train = len(X)
    if max_train_rows is not None and n_train > max_train_rows:
        rng = np.random.default_rng([seed, 1])
        keep = np.sort(rng.choice(n_train, size=max_train_rows, replace=False))
        X, y = X[keep], y[keep]
    y_fit = None
    if setting == "labeled":
        y_fit = np.full(len(y), -1, dtype=np.int64)
        anomalies = np.flatnonzero(y == 1)
        if len(anomalies):
            n_known = max(1, int(LABELED_FRACTION * len(anomalies)))
            rng = np.random.default_rng([seed, 2])
            y_fit[rng.choice(anomalies, size=n_known, replace=False)] = 1
    return FitData(X, y_fit, split.X_test, split.y_test, n_train, len(X))
