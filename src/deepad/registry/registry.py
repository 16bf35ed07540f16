"""``Registry``: named, versioned model bundles with stages, promotion history and alerts.

One SQLAlchemy engine per registry, shared by all threads; every method opens its own short
connection, so the scoring service can call it from any worker. Writes that pick a new
version or change the production stage first lock the model's row (an UPDATE: a row lock
on PostgreSQL, the write lock on SQLite), so concurrent pushes and promotions queue up and
each gets a distinct version number.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Row, exc, func, select, update

from deepad.registry import artifacts
from deepad.registry.card import model_card
from deepad.registry.database import Location, reason
from deepad.registry.errors import RegistryError, RegistryNotFound, RegistryUnavailable
from deepad.registry.records import Alert, ModelVersion, iso, utc
from deepad.registry.refs import check_name, read_ref
from deepad.registry.tables import alerts, models, promotions, versions

#: the severities an alert may carry, mildest first
SEVERITIES = ("info", "warning", "error", "critical")
#: how many known model names an "unknown model" message lists
LISTED_NAMES = 10
MAX_ALERTS = 10_000


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _who(by: str | None) -> str:
    """``by``, or the login name of whoever runs this ("unknown" when there is none)."""
    if by is None:
        try:
            by = getpass.getuser()
        except (OSError, KeyError, ImportError):
            by = "unknown"
    if not isinstance(by, str) or not by.strip() or len(by) > 256:
        raise RegistryError(f"invalid 'by' {by!r}: give a non-empty name of up to 256 characters")
    return by.strip()


def _version_number(value: object, what: str = "version") -> int:
    ref = read_ref(value) if isinstance(value, (int, str)) else value
    if not isinstance(ref, int) or isinstance(ref, bool):
        raise RegistryError(f"invalid {what} {value!r}: give a version number (1, 2, ...)")
    return ref


def _json_default(value: Any) -> Any:
    """NumPy scalars and arrays, datetimes and paths in alert details, as JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _validated_manifest(bundle: Path) -> dict[str, Any]:
    """The manifest of ``bundle`` after loading it in full (weights hash included)."""
    from deepad.bundle import load, read_manifest

    try:
        load(bundle)
        return read_manifest(bundle)
    except (ValueError, KeyError, TypeError, RuntimeError, OSError) as error:
        raise RegistryError(f"cannot push {bundle}: {error}") from None


def _insert_ignoring_conflict(conn: Connection, values: dict[str, Any]) -> None:
    """INSERT the model row unless it exists (both dialects spell it ON CONFLICT)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    conn.execute(insert(models).values(**values).on_conflict_do_nothing())


class Registry:
    """Model versions, stages, promotion history and alerts in one database.

    Open one with :func:`deepad.registry.open_registry`. Safe to share between threads.
    """

    def __init__(self, engine: Engine, location: Location) -> None:
        self._engine = engine
        self._location = location

    # ------------------------------------------------------------ plumbing
    @property
    def url(self) -> str:
        """The database URL, password masked."""
        return self._location.shown

    @property
    def artifacts(self) -> Path:
        """The folder that holds the stored bundles."""
        return self._location.artifacts

    def __repr__(self) -> str:
        return f"Registry({self.url!r}, artifacts={str(self.artifacts)!r})"

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def dispose(self) -> None:
        """Release the engine's connections (a later call reconnects)."""
        self._engine.dispose()

    close = dispose

    @contextmanager
    def _connect(self, write: bool = False) -> Iterator[Connection]:
        """A connection for one call; database failures become RegistryError."""
        try:
            with self._engine.begin() if write else self._engine.connect() as conn:
                yield conn
        except (exc.OperationalError, exc.InterfaceError, exc.TimeoutError) as error:
            raise RegistryUnavailable(
                f"the registry database {self.url} failed: {reason(error)}"
            ) from None
        except exc.DBAPIError as error:
            raise RegistryError(
                f"the registry database {self.url} refused: {reason(error)}"
            ) from None

    def _unknown_model(self, conn: Connection, name: str) -> RegistryNotFound:
        known = list(
            conn.scalars(select(models.c.name).order_by(models.c.name).limit(LISTED_NAMES + 1))
        )
        if not known:
            return RegistryNotFound(f"no model named {name!r}: the registry {self.url} is empty")
        listed = ", ".join(known[:LISTED_NAMES]) + (", ..." if len(known) > LISTED_NAMES else "")
        return RegistryNotFound(f"no model named {name!r} in the registry; known models: {listed}")

    def _model_row(self, conn: Connection, name: str) -> Row[Any]:
        row = conn.execute(select(models).where(models.c.name == name)).first()
        if row is None:
            raise self._unknown_model(conn, name)
        return row

    def _lock_model(self, conn: Connection, name: str) -> Row[Any]:
        """Lock the model's row for this transaction (queues concurrent writers)."""
        done = conn.execute(update(models).where(models.c.name == name).values(updated_at=_now()))
        if done.rowcount == 0:
            raise self._unknown_model(conn, name)
        return self._model_row(conn, name)

    def _latest(self, conn: Connection, name: str) -> int | None:
        return conn.scalar(select(func.max(versions.c.version)).where(versions.c.name == name))

    def _version_row(self, conn: Connection, name: str, version: int) -> Row[Any]:
        row = conn.execute(
            select(versions).where(versions.c.name == name, versions.c.version == version)
        ).first()
        if row is None:
            latest = self._latest(conn, name)
            if latest is None:
                raise self._unknown_model(conn, name)
            raise RegistryNotFound(f"{name} has no version {version}; it has versions 1-{latest}")
        return row

    def _record(self, row: Row[Any]) -> ModelVersion:
        manifest = json.loads(row.manifest)
        training = manifest.get("training_data") or {}
        return ModelVersion(
            name=row.name,
            version=row.version,
            stage=row.stage,
            path=self.artifacts / row.artifact,
            weights_sha256=row.weights_sha256,
            detector=row.detector,
            modality=row.modality,
            params=dict((manifest.get("detector") or {}).get("params") or {}),
            metrics=dict(manifest.get("metrics") or {}),
            training={
                "rows": training.get("rows"),
                "fingerprint": training.get("fingerprint"),
                "columns": list(training.get("columns") or []),
            },
            threshold=dict(manifest.get("threshold") or {}),
            created_at=utc(row.created_at),
            created_by=row.created_by,
            parent=row.parent,
            note=row.note,
        )

    def _resolve(self, conn: Connection, name: str, ref: int | str | None) -> Row[Any]:
        model = self._model_row(conn, check_name(name))
        ref = read_ref(ref)
        if ref is None:
            ref = model.production_version or self._latest(conn, name)
        elif ref == "production":
            if model.production_version is None:
                raise RegistryNotFound(
                    f"{name} has no production version yet; promote one first "
                    f"(deepad registry promote {name} VERSION)"
                )
            ref = model.production_version
        elif ref == "latest":
            ref = self._latest(conn, name)
        return self._version_row(conn, name, int(ref))

    # ------------------------------------------------------------ versions
    def push(
        self,
        bundle: str | Path,
        name: str,
        *,
        by: str | None = None,
        note: str | None = None,
        parent: int | None = None,
    ) -> ModelVersion:
        """Validate ``bundle``, copy it into the registry as the next version of ``name``.

        The first version is 1; ``parent`` defaults to the latest version before this one.
        The new version is not promoted: production changes only through :meth:`promote`.
        """
        name = check_name(name)
        source = Path(bundle).expanduser()
        by = _who(by)
        if note is not None and not isinstance(note, str):
            raise RegistryError(f"note must be text, got {type(note).__name__}")
        if parent is not None:
            parent = _version_number(parent, "parent")
        manifest = _validated_manifest(source)
        weights = manifest.get("weights") or {}
        stored: Path | None = None
        try:
            with self._connect(write=True) as conn:
                now = _now()
                _insert_ignoring_conflict(
                    conn, {"name": name, "created_at": now, "updated_at": now}
                )
                self._lock_model(conn, name)
                latest = self._latest(conn, name)
                version = (latest or 0) + 1
                if parent is None:
                    parent = latest
                elif latest is None or parent > latest:
                    raise RegistryNotFound(
                        f"parent version {parent} of {name} does not exist"
                        + ("" if latest is None else f"; it has versions 1-{latest}")
                    )
                stored = artifacts.store(
                    source.resolve(),
                    self.artifacts,
                    name,
                    version,
                    str(weights.get("file", "weights.safetensors")),
                    str(weights.get("sha256")),
                )
                conn.execute(
                    versions.insert().values(
                        name=name,
                        version=version,
                        stage="none",
                        artifact=artifacts.relative_path(name, version),
                        weights_sha256=str(weights.get("sha256")),
                        detector=str((manifest.get("detector") or {}).get("class")),
                        modality=str(manifest.get("modality", "table")),
                        manifest=json.dumps(manifest),
                        created_at=now,
                        created_by=by,
                        parent=parent,
                        note=note,
                    )
                )
                row = self._version_row(conn, name, version)
        except BaseException:
            if stored is not None:
                artifacts.remove(stored)
            raise
        return self._record(row)

    def models(self) -> list[dict[str, Any]]:
        """One summary per model, by name: versions, latest, production, detector, updated."""
        counts = (
            select(
                versions.c.name,
                func.max(versions.c.version).label("latest"),
                func.count().label("count"),
            )
            .group_by(versions.c.name)
            .subquery()
        )
        query = (
            select(
                models.c.name,
                models.c.production_version,
                models.c.updated_at,
                counts.c.latest,
                counts.c.count,
                versions.c.detector,
                versions.c.modality,
            )
            .join(counts, counts.c.name == models.c.name)
            .join(
                versions,
                (versions.c.name == models.c.name) & (versions.c.version == counts.c.latest),
            )
            .order_by(models.c.name)
        )
        with self._connect() as conn:
            rows = conn.execute(query).all()
        return [
            {
                "name": row.name,
                "latest_version": row.latest,
                "production_version": row.production_version,
                "versions": row.count,
                "modality": row.modality,
                "detector": row.detector,
                "updated_at": iso(row.updated_at),
            }
            for row in rows
        ]

    def versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, oldest first."""
        name = check_name(name)
        with self._connect() as conn:
            rows = conn.execute(
                select(versions).where(versions.c.name == name).order_by(versions.c.version)
            ).all()
            if not rows:
                raise self._unknown_model(conn, name)
        return [self._record(row) for row in rows]

    def version(self, name: str, ref: int | str | None = None) -> ModelVersion:
        """One version: ``ref`` a number, ``"production"``, ``"latest"``, or None for the
        production version when one is promoted, else the latest."""
        with self._connect() as conn:
            return self._record(self._resolve(conn, name, ref))

    def manifest(self, name: str, ref: int | str | None = None) -> dict[str, Any]:
        """The stored manifest of a version (as pushed; no file is read)."""
        with self._connect() as conn:
            return json.loads(self._resolve(conn, name, ref).manifest)

    def card(self, name: str, ref: int | str | None = None) -> str:
        """The Markdown model card of a version (see :mod:`deepad.registry.card`)."""
        with self._connect() as conn:
            row = self._resolve(conn, name, ref)
        return model_card(self._record(row), json.loads(row.manifest))

    # ------------------------------------------------------------ stages
    def _set_production(
        self, conn: Connection, name: str, target: int, current: int | None
    ) -> None:
        if current is not None:
            conn.execute(
                update(versions)
                .where(versions.c.name == name, versions.c.version == current)
                .values(stage="archived")
            )
        conn.execute(
            update(versions)
            .where(versions.c.name == name, versions.c.version == target)
            .values(stage="production")
        )
        conn.execute(update(models).where(models.c.name == name).values(production_version=target))

    def promote(self, name: str, version: int, *, by: str | None = None) -> ModelVersion:
        """Make ``version`` the production version; the one before becomes ``archived``.

        Promoting the version already in production changes and records nothing.
        """
        name = check_name(name)
        version = _version_number(version)
        by = _who(by)
        with self._connect(write=True) as conn:
            model = self._lock_model(conn, name)
            self._version_row(conn, name, version)
            current = model.production_version
            if current != version:
                self._move_production(conn, name, "promote", version, current, by)
            row = self._version_row(conn, name, version)
        return self._record(row)

    def rollback(self, name: str, *, by: str | None = None) -> ModelVersion:
        """Put back the version that was in production before the current one.

        The promotion history is replayed as a stack (a promotion pushes, a rollback
        pops), so successive rollbacks walk back through earlier production versions.
        """
        name = check_name(name)
        by = _who(by)
        with self._connect(write=True) as conn:
            model = self._lock_model(conn, name)
            current = model.production_version
            if current is None:
                raise RegistryError(f"{name} has no production version to roll back from")
            stack: list[int] = []
            for row in conn.execute(
                select(promotions.c.action, promotions.c.version)
                .where(promotions.c.name == name)
                .order_by(promotions.c.id)
            ):
                if row.action == "rollback" and stack:
                    stack.pop()
                if not stack or stack[-1] != row.version:
                    stack.append(row.version)
            if len(stack) < 2:
                raise RegistryError(
                    f"{name} v{current} is the first production version in its history: "
                    "there is no earlier one to roll back to"
                )
            target = stack[-2]
            self._move_production(conn, name, "rollback", target, current, by)
            row = self._version_row(conn, name, target)
        return self._record(row)

    def _move_production(
        self, conn: Connection, name: str, action: str, version: int, previous: int | None, by: str
    ) -> None:
        """Make ``version`` production and record the move in the promotion history."""
        self._set_production(conn, name, version, previous)
        conn.execute(
            promotions.insert().values(
                name=name, action=action, version=version, previous=previous, done_by=by,
                at=_now(),
            )
        )  # fmt: skip

    def history(self, name: str) -> list[dict[str, Any]]:
        """Promotions and rollbacks of ``name``, oldest first: action, version, previous,
        by, at (ISO string)."""
        name = check_name(name)
        with self._connect() as conn:
            self._model_row(conn, name)
            rows = conn.execute(
                select(promotions).where(promotions.c.name == name).order_by(promotions.c.id)
            ).all()
        return [
            {
                "action": row.action,
                "version": row.version,
                "previous": row.previous,
                "by": row.done_by,
                "at": iso(row.at),
            }
            for row in rows
        ]

    # ------------------------------------------------------------ alerts
    def add_alert(
        self,
        name: str,
        version: int,
        kind: str,
        message: str,
        detail: dict[str, Any] | None = None,
        *,
        severity: str = "warning",
    ) -> Alert:
        """Record an alert about a version (drift, errors...); it survives restarts."""
        name = check_name(name)
        version = _version_number(version)
        if not isinstance(kind, str) or not kind.strip() or len(kind) > 64:
            raise RegistryError(f"invalid alert kind {kind!r}: give a name of 1-64 characters")
        if not isinstance(message, str) or not message.strip():
            raise RegistryError("an alert needs a non-empty message")
        if severity not in SEVERITIES:
            raise RegistryError(f"invalid severity {severity!r}: choose from {list(SEVERITIES)}")
        if detail is not None and not isinstance(detail, dict):
            raise RegistryError(f"alert detail must be a dict, got {type(detail).__name__}")
        try:
            text = json.dumps(detail or {}, default=_json_default, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise RegistryError(f"alert detail cannot be stored as JSON: {error}") from None
        now = _now()
        with self._connect(write=True) as conn:
            self._version_row(conn, name, version)
            result = conn.execute(
                alerts.insert().values(
                    name=name,
                    version=version,
                    kind=kind.strip(),
                    severity=severity,
                    message=message,
                    detail=text,
                    created_at=now,
                )
            )
            alert_id = int(result.inserted_primary_key[0])
        return Alert(
            alert_id, name, version, kind.strip(), severity, message, json.loads(text), now
        )

    def alerts(
        self, name: str | None = None, *, limit: int = 100, kind: str | None = None
    ) -> list[Alert]:
        """Alerts, newest first: of every model or of ``name``, optionally of one ``kind``."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_ALERTS:
            raise RegistryError(f"limit must be an integer in 1-{MAX_ALERTS}, got {limit!r}")
        query = select(alerts).order_by(alerts.c.id.desc()).limit(limit)
        if kind is not None:
            query = query.where(alerts.c.kind == kind)
        with self._connect() as conn:
            if name is not None:
                self._model_row(conn, check_name(name))
                query = query.where(alerts.c.name == name)
            rows = conn.execute(query).all()
        return [
            Alert(
                id=row.id,
                name=row.name,
                version=row.version,
                kind=row.kind,
                severity=row.severity,
                message=row.message,
                detail=json.loads(row.detail),
                created_at=utc(row.created_at),
            )
            for row in rows
        ]
