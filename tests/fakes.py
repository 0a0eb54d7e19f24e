"""Fakes shared by unit tests: an in-file SQLite database with every table, a publisher."""
from __future__ import annotations

from sqlalchemy import MetaData

from shared.db import Database
from shared.messaging.publisher import PublishError, PublishResult
from shared.messaging.tables import messaging_metadata


def sqlite_database(tmp_path, *metadatas: MetaData) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'test.db'}")
    messaging_metadata.create_all(database.engine)
    for metadata in metadatas:
        metadata.create_all(database.engine)
    return database


class FakePublisher:
    """Records batches; can be told to return (unroutable) or fail whole batches."""

    def __init__(self):
        self.batches: list[list] = []
        self.unroutable: set[str] = set()   # routing keys nobody is bound to
        self.down = False

    @property
    def published(self) -> list:
        return [message for batch in self.batches for message in batch
                if message.routing_key not in self.unroutable]

    def publish_batch(self, messages):
        if self.down:
            raise PublishError("broker down")
        self.batches.append(list(messages))
        returned = {m.message_id: "unroutable" for m in messages if m.routing_key in self.unroutable}
        return PublishResult([m.message_id for m in messages if m.message_id not in returned], returned, [])

    def close(self):
        pass
