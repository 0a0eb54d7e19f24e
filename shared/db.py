"""Database access shared by every service: engines and the unit of work.

SQLite (a file under ``var/``) is the default store; PostgreSQL is used when
``<SERVICE>_DATABASE_URL`` points at it. A unit of work is one transaction: the state change
and the outbox records of the events it causes commit together.
"""
from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, insert
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from shared.contracts import Envelope, Event, encode, new_message_id, utcnow
from shared.messaging.tables import outbox

from shared.messaging.topology import EVENTS_EXCHANGE  # noqa: E402


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")   # readers do not block the writer
            cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


class Database:
    """One service's database: an engine, sessions, and units of work."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite allows one writer. Green threads that interleave inside transactions would
        # wait on each other's file lock while blocking the hub, so they take turns instead.
        self._turn = threading.RLock() if self.is_sqlite else None

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._taking_turn():
            session = self.session_factory()
            try:
                yield session
            finally:
                session.close()

    @contextmanager
    def _taking_turn(self):
        if self._turn is None:
            yield
            return
        with self._turn:
            yield

    def unit_of_work(self, *, correlation_id: str | None = None,
                     causation_id: str | None = None) -> "UnitOfWork":
        return UnitOfWork(self, correlation_id=correlation_id, causation_id=causation_id)

    def dispose(self) -> None:
        self.engine.dispose()


class UnitOfWork:
    """A transaction plus the events it will publish. Use as a context manager; call commit()."""

    def __init__(self, database: Database, *, correlation_id: str | None, causation_id: str | None):
        self.database = database
        self.correlation_id = correlation_id or new_message_id()
        self.causation_id = causation_id
        self.events: list[Envelope] = []
        self.committed_events: list[Envelope] = []
        self.session: Session | None = None
        self._turn = None
        self._committed = False

    def __enter__(self) -> "UnitOfWork":
        self._turn = self.database._taking_turn()
        self._turn.__enter__()
        self.session = self.database.session_factory()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if not self._committed:
                self.session.rollback()
            self.session.close()
        finally:
            self._turn.__exit__(exc_type, exc, tb)

    def add_event(self, event: Event, *, correlation_id: str | None = None,
                  causation_id: str | None = None) -> Envelope:
        """Record an event to publish once (and only if) this unit of work commits."""
        envelope = encode(event, correlation_id=correlation_id or self.correlation_id,
                          causation_id=causation_id or self.causation_id)
        self.events.append(envelope)
        return envelope

    def commit(self) -> None:
        if self.events:
            self.session.execute(insert(outbox), [outbox_row(e) for e in self.events])
        self.session.commit()
        self._committed = True
        self.committed_events.extend(self.events)
        self.events = []

    def rollback(self) -> None:
        self.session.rollback()
        self.events.clear()


def outbox_row(envelope: Envelope, *, exchange: str = EVENTS_EXCHANGE,
               routing_key: str | None = None, headers: dict | None = None) -> dict:
    return {
        "message_id": envelope.message_id,
        "event_type": envelope.type,
        "exchange": exchange,
        "routing_key": routing_key or envelope.type,
        "body": envelope.to_json().decode("utf-8"),
        "headers": json.dumps(headers) if headers else None,
        "correlation_id": envelope.correlation_id,
        "created_at": utcnow(),
    }


# --- statements every service uses -------------------------------------------------------------

def dialect_insert(session, table):
    """INSERT with ON CONFLICT support (SQLite and PostgreSQL both have it)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table)


_STATEMENTS: dict = {}


def chunks(items: list, size: int = 500):
    """``items`` in slices of ``size``: IN lists stay within every database's parameter limit."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def prepared(session, name: str, build):
    """A statement built once per dialect: executed with parameters, SQLAlchemy neither rebuilds it
    nor recomputes its cache key (the hot paths run once per event and per message)."""
    key = (session.get_bind().dialect.name, name)
    statement = _STATEMENTS.get(key)
    if statement is None:
        statement = _STATEMENTS[key] = build(lambda table: dialect_insert(session, table))
    return statement


def insert_new(session, table, key: str, values: dict) -> bool:
    """Insert unless a row with that key exists; True if inserted."""
    # id(table): services sharing a process may have same-named tables of their own
    statement = prepared(session, f"insert_new:{table.name}:{id(table)}:{key}",
                          lambda ins: ins(table).on_conflict_do_nothing(index_elements=[key]))
    return session.execute(statement, values).rowcount == 1


def upsert(session, table, key: dict, values: dict) -> None:
    """Insert or update the row with that key, in one statement."""
    names = tuple(sorted(values))

    def build(ins):
        statement = ins(table)
        return statement.on_conflict_do_update(index_elements=list(key),
                                               set_={name: statement.excluded[name] for name in names})
    name = f"upsert:{table.name}:{id(table)}:{','.join(key)}:{','.join(names)}"
    session.execute(prepared(session, name, build), {**key, **values})
