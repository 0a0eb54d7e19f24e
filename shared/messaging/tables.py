"""Tables every service's database carries for reliable messaging (created by its migrations)."""
from __future__ import annotations

from sqlalchemy import (BigInteger, Column, Index, Integer, MetaData, String, Table, Text,
                        text)

from shared.types import UTCDateTime

messaging_metadata = MetaData()

# Events waiting to be published. Written in the same transaction as the state change.
outbox = Table(
    "outbox", messaging_metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("message_id", String(36), nullable=False, unique=True),
    Column("event_type", String(120), nullable=False),
    Column("exchange", String(120), nullable=False),
    Column("routing_key", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("headers", Text, nullable=True),
    Column("correlation_id", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("published_at", UTCDateTime(), nullable=True),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UTCDateTime(), nullable=True),
    Column("last_error", Text, nullable=True),
)
# The relay only ever looks for pending rows: keep that index small.
Index("ix_outbox_pending", outbox.c.id,
      postgresql_where=outbox.c.published_at.is_(None),
      sqlite_where=outbox.c.published_at.is_(None))

# Messages a consumer has processed, written in the same transaction as the effect.
inbox = Table(
    "inbox", messaging_metadata,
    Column("consumer", String(120), primary_key=True),
    Column("message_id", String(36), primary_key=True),
    Column("event_type", String(120), nullable=False),
    Column("processed_at", UTCDateTime(), nullable=False),
)

# Results of write RPCs that carried an idempotency key (the gateway sends one with every write),
# written in the same transaction as the effect: a retry of the call, or the broker's redelivery
# of a request whose reply was lost, returns the stored result instead of acting twice.
rpc_results = Table(
    "rpc_results", messaging_metadata,
    Column("call", String(120), primary_key=True),              # entrypoint:handler
    Column("idempotency_key", String(64), primary_key=True),
    Column("request_hash", String(64), primary_key=True),       # sha256 of the command
    Column("result", Text, nullable=False),                     # JSON
    Column("committed_at", UTCDateTime(), nullable=False),
)
Index("ix_rpc_results_committed_at", rpc_results.c.committed_at)
