"""The model registry: named, versioned bundles with stages, lineage, model cards and alerts.

    reg = open_registry()                    # ~/.deepad/registry (or $DEEPAD_REGISTRY)
    v = reg.push("fraud-model", "fraud", note="retrained on March")
    reg.promote("fraud", v.version)          # v becomes production, the old one archived
    reg.rollback("fraud")                    # production goes back one promotion
    print(reg.card("fraud"))                 # Markdown, generated from the manifest

Metadata lives in SQLite (a folder) or PostgreSQL (a URL); bundles are copied under an
artifacts folder, one directory per version. Sits above ``bundle/`` and below ``serve/``.
"""

from __future__ import annotations

from pathlib import Path

from deepad.registry.card import error_rate, model_card
from deepad.registry.database import Location, create, resolve
from deepad.registry.errors import RegistryError, RegistryNotFound, RegistryUnavailable
from deepad.registry.records import STAGES, Alert, ModelVersion
from deepad.registry.refs import check_name, read_ref, split_ref
from deepad.registry.registry import SEVERITIES, Registry


def open_registry(
    location: str | Path | None = None, *, artifacts: str | Path | None = None
) -> Registry:
    """Open (creating tables if missing) the registry at ``location``.

    ``location``: None for ``$DEEPAD_REGISTRY`` or else ``~/.deepad/registry``; a folder
    (SQLite ``registry.db`` in WAL mode, bundles in ``artifacts/`` inside it); or a URL,
    ``sqlite:///path.db`` or ``postgresql://user:password@host/db`` (psycopg 3: ``pip
    install 'deepad[postgres]'``). For a URL, bundles go to ``artifacts``, else
    ``$DEEPAD_REGISTRY_ARTIFACTS``, else ``~/.deepad/registry/artifacts``.
    """
    where = resolve(location, artifacts)
    return Registry(create(where), where)


__all__ = [
    "SEVERITIES",
    "STAGES",
    "Alert",
    "Location",
    "ModelVersion",
    "Registry",
    "RegistryError",
    "RegistryNotFound",
    "RegistryUnavailable",
    "check_name",
    "error_rate",
    "model_card",
    "open_registry",
    "read_ref",
    "split_ref",
]
