"""Engine, sessions and schema migrations (Alembic, shipped in the package; never ``create_all``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["make_engine", "make_sessionmaker", "upgrade", "open_database"]

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers do not block the writer (uvicorn's threadpool reads while an upload writes).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")  # SQLite ignores ON DELETE CASCADE without it
    cursor.execute("PRAGMA busy_timeout=30000")  # a writer waits its turn under load instead of failing
    cursor.close()
    # SQLAlchemy, not the sqlite3 module, decides where transactions begin (see _begin_immediate).
    dbapi_connection.isolation_level = None


def _begin_immediate(connection: Any) -> None:
    """Start every transaction holding SQLite's write lock.

    A deferred transaction that reads, then writes (a visit read before a new one is stored, an
    audit row after a read) fails at once with "database is locked" when another writer committed
    in between; busy_timeout cannot help it (the load test hit it with 4 clients). Taking the lock
    at BEGIN makes writers queue instead; WAL readers outside a transaction are not blocked, and
    requests keep their transactions short (scoring runs outside one: deps.release_connection).
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    return create_engine(url, pool_pre_ping=True)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` (an empty database gets every migration)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


@contextmanager
def open_database(data_dir: str | Path | None = None) -> Iterator[tuple[Any, sessionmaker[Session]]]:
    """(settings, session factory) of the service database, migrated; for commands run beside the service."""
    from facehealth.serve.settings import load_settings

    settings = load_settings(data_dir)
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        yield settings, make_sessionmaker(engine)
    finally:
        engine.dispose()
