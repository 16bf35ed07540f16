"""The registry's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Manifests are stored as JSON text in ``deepad_versions`` so listing models and versions
never reads a file. Bundles live on disk under the artifacts folder; ``artifact`` holds
the path relative to it (``<name>/<version>``), so the folder can move.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

models = Table(
    "deepad_models",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("production_version", Integer, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

versions = Table(
    "deepad_versions",
    metadata,
    Column("name", String(64), ForeignKey("deepad_models.name"), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("stage", String(16), nullable=False),
    Column("artifact", Text, nullable=False),
    Column("weights_sha256", String(64), nullable=False),
    Column("detector", String(128), nullable=False),
    Column("modality", String(32), nullable=False),
    Column("manifest", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("parent", Integer, nullable=True),
    Column("note", Text, nullable=True),
)

promotions = Table(
    "deepad_promotions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("action", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("previous", Integer, nullable=True),
    Column("done_by", String(256), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(["name", "version"], ["deepad_versions.name", "deepad_versions.version"]),
    Index("ix_deepad_promotions_name", "name", "id"),
)

alerts = Table(
    "deepad_alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(["name", "version"], ["deepad_versions.name", "deepad_versions.version"]),
    Index("ix_deepad_alerts_name", "name", "id"),
)
