"""The database behind tickets and conversations: SQLAlchemy 2 (SQLite by default, PostgreSQL by URL),
its schema brought up to date by Alembic on open (one migrating process at a time).

>>> from nectarine.store import ConversationLog, TicketStore
>>> db = Database("sqlite:///data/nectarine.db")          # created, and migrated to the newest schema
>>> tickets, log = TicketStore(db), ConversationLog(db)   # one engine for both
>>> tickets.list(), log.stats()["turns"]
([], 0)
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase

from ..errors import StoreError
from ..settings import DEFAULT_DATABASE_URL

MIGRATIONS = Path(__file__).with_name("migrations")


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    pass


class Database:
    """One engine per database URL, migrated to the newest schema when opened."""

    def __init__(self, url: str = DEFAULT_DATABASE_URL) -> None:
        self.url = url
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # A ping before each checkout finds PostgreSQL connections the server dropped; SQLite has none to drop.
        self.engine = create_engine(url, pool_pre_ping=parsed.get_backend_name() != "sqlite")
        if parsed.get_backend_name() == "sqlite":
            @event.listens_for(self.engine, "connect")
            def _wal(dbapi_conn, _record):  # readers never wait for the writer
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA busy_timeout=5000")  # first, so the switch below waits for a lock too
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")  # WAL: a commit no longer waits for fsync; the file stays consistent
                cur.close()
        try:
            # The first connection switches a fresh SQLite file to WAL, which needs the file to itself; two
            # processes switching at once can deadlock (SQLite answers "locked" without waiting), so the
            # switch happens under the same lock as the migration.
            with _migration_lock(url):
                with self.engine.connect():
                    pass
                migrate(url)
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise StoreError(f"cannot reach the ticket database at {masked(url)}: {reason}. "
                             "Check that the server runs and the URL (NECTARINE_DATABASE_URL) is right") from None


def masked(url: str) -> str:
    """The URL (a database's, Redis's) with any password replaced by ***; never raises, even on a malformed URL."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def migrate(url: str) -> None:
    """Bring the database schema to the newest Alembic revision (the caller holds `_migration_lock`)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "head")


@contextmanager
def _migration_lock(url: str):
    """One migrating process at a time: service workers start together, and two upgrades of a fresh
    database would both try to create its tables. SQLite: a lock file beside the database;
    PostgreSQL: an advisory lock held on its own connection for the upgrade."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        import fcntl

        with open(f"{parsed.database}.migrate-lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    elif parsed.get_backend_name() == "postgresql":
        from sqlalchemy import text

        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(727274)"))  # "NECTA" on a phone keypad
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(727274)"))
        finally:
            engine.dispose()
    else:
        yield
