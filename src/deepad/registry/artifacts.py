"""The bundles' folder: each pushed version is a copy at ``<artifacts>/<name>/<version>/``.

A copy is made in a hidden staging folder beside its final place, its weights hash is
checked against the manifest, and only then renamed into place, so a reader never sees a
half-copied bundle and a crash leaves at most a hidden folder behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from deepad.bundle.store import sha256
from deepad.registry.errors import RegistryError


def relative_path(name: str, version: int) -> str:
    """Where version ``version`` of ``name`` lives, relative to the artifacts folder."""
    return f"{name}/{version}"


def store(source: Path, root: Path, name: str, version: int, weights: str, digest: str) -> Path:
    """Copy the bundle ``source`` to ``root/name/version`` atomically and return that path.

    ``weights`` is the weights file's name in the bundle and ``digest`` its SHA-256 from
    the manifest: the copy is checked against it, so what is stored is what was validated.
    """
    target = root / relative_path(name, version)
    if target.exists():
        raise RegistryError(
            f"{target} already exists but the registry has no {name} v{version}: it is left "
            "from an interrupted push or another registry shares this artifacts folder; "
            "move it away and push again"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".push-{version}-", dir=target.parent))
    except OSError as error:
        raise RegistryError(f"cannot write to the artifacts folder {root}: {error}") from None
    try:
        copy = staging / "bundle"
        shutil.copytree(source, copy)
        if sha256(copy / weights) != digest:
            raise RegistryError(
                f"{source / weights} changed while it was being pushed (its copy does not "
                "match the manifest's SHA-256); push it again"
            )
        os.rename(copy, target)
    except OSError as error:
        raise RegistryError(f"cannot copy {source} to {target}: {error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def remove(path: Path) -> None:
    """Delete a stored bundle (after its database row could not be written)."""
    shutil.rmtree(path, ignore_errors=True)
