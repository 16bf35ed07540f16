"""Where a registry lives: a folder (SQLite) or a database URL, turned into one engine.

One engine per registry, shared by every thread; each registry call opens its own short
connection. SQLite runs in WAL mode (readers never wait for a writer) with a busy timeout
so concurrent writers queue instead of failing; PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, exc, make_url

from deepad.registry.errors import RegistryError, RegistryUnavailable
from deepad.registry.tables import metadata

#: the registry when neither an argument nor DEEPAD_REGISTRY names one
DEFAULT_HOME = "~/.deepad/registry"
DATABASE_FILE = "registry.db"
ARTIFACTS = "artifacts"
#: seconds a SQLite writer waits for another, and a PostgreSQL connect may take
WAIT_SECONDS = 30
CONNECT_TIMEOUT = 10


@dataclass(frozen=True)
class Location:
    """A resolved registry: the database URL and the folder that holds the bundles."""

    url: URL
    artifacts: Path

    @property
    def shown(self) -> str:
        """The URL with any password masked, for messages."""
        return self.url.render_as_string(hide_password=True)


def _parse_url(text: str) -> URL:
    try:
        url = make_url(text)
    except exc.ArgumentError as error:
        raise RegistryError(f"{text!r} is not a database URL: {error}") from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise RegistryError(
            f"the registry runs on SQLite or PostgreSQL, not {backend!r}: give a folder, "
            "'sqlite:///path/registry.db' or 'postgresql://user:password@host/db'"
        )
    return url


def resolve(location: str | Path | None = None, artifacts: str | Path | None = None) -> Location:
    """Turn ``open_registry``'s arguments (and the environment) into a :class:`Location`."""
    if location is None or (isinstance(location, str) and not location.strip()):
        location = os.environ.get("DEEPAD_REGISTRY") or DEFAULT_HOME
    if isinstance(location, str) and "://" in location:
        url = _parse_url(location.strip())
        default = os.environ.get("DEEPAD_REGISTRY_ARTIFACTS") or f"{DEFAULT_HOME}/{ARTIFACTS}"
        folder = Path(artifacts if artifacts is not None else default).expanduser()
        return Location(url, folder.resolve())
    home = Path(location).expanduser()
    if home.exists() and not home.is_dir():
        raise RegistryError(
            f"registry location {home} is a file; give a folder (it holds {DATABASE_FILE} "
            "and the bundles) or a database URL"
        )
    home = home.resolve()
    folder = Path(artifacts).expanduser().resolve() if artifacts is not None else home / ARTIFACTS
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RegistryError(f"cannot create the registry folder {home}: {error}") from None
    return Location(URL.create("sqlite", database=str(home / DATABASE_FILE)), folder)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={WAIT_SECONDS * 1000}")
    finally:
        cursor.close()


def reason(error: BaseException) -> str:
    """The database's own words for ``error``, on one line."""
    cause = getattr(error, "orig", None) or error
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return "; ".join(lines) or type(cause).__name__


def create(location: Location) -> Engine:
    """An engine on ``location``, checked to connect, with the registry's tables created."""
    url = location.url
    try:
        if url.get_backend_name() == "sqlite":
            engine = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": WAIT_SECONDS}
            )
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            connect_args = (
                {} if "connect_timeout" in url.query else {"connect_timeout": CONNECT_TIMEOUT}
            )
            engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    except ImportError as error:
        raise RegistryError(
            f"the registry database {location.shown} needs a driver that is not installed "
            f"({error}): pip install 'deepad[postgres]'"
        ) from None
    try:
        with engine.connect():
            pass
    except exc.DBAPIError as error:
        engine.dispose()
        raise RegistryUnavailable(
            f"cannot reach the registry database {location.shown}: {reason(error)}"
        ) from None
    _create_tables(engine, location)
    return engine


def _create_tables(engine: Engine, location: Location) -> None:
    """Create missing tables; a second process doing the same at once is not an error."""
    for attempt in range(3):
        try:
            metadata.create_all(engine, checkfirst=True)
            return
        except (exc.IntegrityError, exc.ProgrammingError) as error:
            if attempt == 2:
                engine.dispose()
                raise RegistryUnavailable(
                    f"cannot create the registry tables in {location.shown}: {reason(error)}"
                ) from None
        except exc.DBAPIError as error:
            engine.dispose()
            raise RegistryUnavailable(
                f"cannot create the registry tables in {location.shown}: {reason(error)}"
            ) from None
