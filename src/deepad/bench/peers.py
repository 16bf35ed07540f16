"""PyOD peers: the detectors deepad is measured against, built at PyOD's defaults.

Each peer is named ``pyod.<Class>`` in results. Only what the protocol needs is set:
``random_state=seed`` where the class takes it (so runs repeat), ``verbose=0`` for the
deep ones (so logs stay readable) and ``n_features`` where the class requires it
(DeepSVDD). Everything else is PyOD's default, which is the point of the comparison.
PyOD is optional (``pip install deepad[bench]``); it is imported only when a peer is built.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from typing import Any

#: peer name (without the ``pyod.`` prefix) -> (module, class)
PYOD_PEERS: dict[str, tuple[str, str]] = {
    "KNN": ("pyod.models.knn", "KNN"),
    "LOF": ("pyod.models.lof", "LOF"),
    "IForest": ("pyod.models.iforest", "IForest"),
    "ECOD": ("pyod.models.ecod", "ECOD"),
    "COPOD": ("pyod.models.copod", "COPOD"),
    "PCA": ("pyod.models.pca", "PCA"),
    "OCSVM": ("pyod.models.ocsvm", "OCSVM"),
    "AutoEncoder": ("pyod.models.auto_encoder", "AutoEncoder"),
    "VAE": ("pyod.models.vae", "VAE"),
    "DeepSVDD": ("pyod.models.deep_svdd", "DeepSVDD"),
    "LUNAR": ("pyod.models.lunar", "LUNAR"),
}

#: peers that train a network: run quietly
DEEP_PEERS = frozenset({"AutoEncoder", "VAE", "DeepSVDD", "LUNAR"})

PREFIX = "pyod."


def pyod_available() -> bool:
    """True when PyOD can be imported (without importing it)."""
    return importlib.util.find_spec("pyod") is not None


def peer_names() -> list[str]:
    """Every peer's result name, ``pyod.KNN`` ... in a stable order."""
    return [PREFIX + name for name in PYOD_PEERS]


def resolve_peers(spec: str | None) -> list[str]:
    """Peer names from ``--peers``: ``none``, ``all`` or a comma list (case-insensitive,
    with or without the ``pyod.`` prefix).

    ``None`` (the default) means all peers when PyOD is installed and none otherwise;
    naming peers explicitly without PyOD installed is an error, as is an unknown name.
    """
    if spec is None:
        return peer_names() if pyod_available() else []
    spec = spec.strip()
    if spec.lower() == "none":
        return []
    if spec.lower() == "all":
        wanted = list(PYOD_PEERS)
    else:
        by_lower = {name.lower(): name for name in PYOD_PEERS}
        wanted = []
        for raw in filter(None, (part.strip() for part in spec.split(","))):
            key = raw.lower().removeprefix(PREFIX)
            if key not in by_lower:
                raise ValueError(
                    f"unknown peer {raw!r}; choose from {peer_names()}, 'all' or 'none'"
                )
            wanted.append(by_lower[key])
    if wanted and not pyod_available():
        raise ImportError("PyOD peers need pyod: pip install 'deepad[bench]' (or --peers none)")
    return [PREFIX + name for name in dict.fromkeys(wanted)]


def make_peer(name: str, seed: int, n_features: int) -> Any:
    """An unfitted PyOD detector for ``name`` (``pyod.KNN`` or ``KNN``) at PyOD's defaults."""
    short = name.removeprefix(PREFIX)
    if short not in PYOD_PEERS:
        raise ValueError(f"unknown peer {name!r}; choose from {peer_names()}")
    module, cls_name = PYOD_PEERS[short]
    cls = getattr(importlib.import_module(module), cls_name)
    accepted = inspect.signature(cls.__init__).parameters
    kwargs: dict[str, Any] = {}
    if "random_state" in accepted:
        kwargs["random_state"] = seed
    if short in DEEP_PEERS and "verbose" in accepted:
        kwargs["verbose"] = 0
    if "n_features" in accepted:
        kwargs["n_features"] = n_features
    return cls(**kwargs)
