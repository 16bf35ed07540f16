"""Detector names -> unfitted estimators, for deepad's own detectors and the PyOD peers.

A *factory* is any picklable callable ``factory(name, seed, n_features) -> estimator``
(an object with ``fit`` and ``decision_function``). The runner passes one to every job;
:func:`make_detector` is the default. Tests pass a module-level function of their own to
inject a detector that raises or hangs, since nothing can be monkeypatched across the
process boundary of a job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from deepad.bench.peers import PREFIX, make_peer
from deepad.core.base import BaseDetector
from deepad.models import TABLE_DETECTORS as DETECTORS

#: ``factory(name, seed, n_features) -> unfitted estimator``
Factory = Callable[[str, int, int], Any]


def resolve_names(
    names: Sequence[str] | None, registry: Sequence[str], kind: str, peers: str
) -> list[str]:
    """Names from ``--detectors`` matched case-insensitively against ``registry`` (all of it
    when None), in the given order without repeats; ``none`` alone selects none (to run
    peers only); an unknown name is a ``ValueError`` naming the choices."""
    if names is None:
        return list(registry)
    if [n.lower() for n in names] == ["none"]:
        return []
    by_lower = {name.lower(): name for name in registry}
    unknown = [n for n in names if n.lower() not in by_lower]
    if unknown:
        raise ValueError(
            f"unknown {kind}(s) {unknown}; choose from {list(registry)} "
            f"({peers} are chosen with --peers)"
        )
    return list(dict.fromkeys(by_lower[n.lower()] for n in names))


def resolve_ours(names: Sequence[str] | None) -> list[str]:
    """deepad table detector names from ``--detectors`` (see ``resolve_names``)."""
    return resolve_names(names, list(DETECTORS), "detector", "PyOD peers")


def make_detector(name: str, seed: int, n_features: int) -> Any:
    """An unfitted detector at its defaults: ours by class name, peers as ``pyod.<Class>``.

    Ours get ``random_state=seed`` when the class has that parameter.
    """
    if name.startswith(PREFIX):
        return make_peer(name, seed, n_features)
    cls = DETECTORS[name]
    return cls(random_state=seed) if "random_state" in cls._get_param_names() else cls()


def runs_in(name: str, setting: str) -> bool:
    """False for our detectors that need labelled anomalies, outside the labeled setting."""
    cls = DETECTORS.get(name)
    return cls is None or not cls.requires_labels or setting == "labeled"


def learns_from_labels(estimator: Any) -> bool:
    """True for deepad detectors that declare ``uses_labels``: they get ``fit(X, y)``."""
    return isinstance(estimator, BaseDetector) and bool(type(estimator).uses_labels)
