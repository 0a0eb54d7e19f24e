"""Event contracts: the envelope and the registry of versioned event schemas."""
from __future__ import annotations

from pydantic import ValidationError

from shared.contracts.envelope import (ContractError, Envelope, MalformedMessage, UnknownEventType,
                                       new_message_id, utcnow)
from shared.contracts.events import REGISTRY, Event
from shared.contracts import events  # noqa: F401  (registers every event type)

__all__ = ["ContractError", "Envelope", "Event", "MalformedMessage", "UnknownEventType",
           "REGISTRY", "decode", "encode", "event_class", "new_message_id", "utcnow"]


def event_class(event_type: str) -> type[Event]:
    try:
        return REGISTRY[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None


def encode(event: Event, *, correlation_id: str, causation_id: str | None = None,
           message_id: str | None = None, occurred_at=None) -> Envelope:
    """Wrap an event in a new envelope (the producer is the event's owning service)."""
    return Envelope(
        message_id=message_id or new_message_id(),
        type=event.TYPE,
        occurred_at=occurred_at or utcnow(),
        producer=event.PRODUCER,
        correlation_id=correlation_id,
        causation_id=causation_id,
        payload=event.model_dump(mode="json"),
    )


def decode(body: bytes | str) -> tuple[Envelope, Event]:
    """Decode a message body; raises MalformedMessage or UnknownEventType, never anything else."""
    envelope = Envelope.from_json(body)
    cls = event_class(envelope.type)
    try:
        event = cls.model_validate(envelope.payload)
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise MalformedMessage(f"payload of {envelope.type} breaks its schema: {details}") from exc
    return envelope, event
