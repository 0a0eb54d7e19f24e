"""The envelope every event travels in, and the typed errors of decoding one."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class ContractError(Exception):
    """A message that cannot be decoded into a known event. Never retryable."""


class MalformedMessage(ContractError):
    """Not JSON, not an envelope, or a payload that breaks its schema."""


class UnknownEventType(ContractError):
    """A well-formed envelope whose type (name and version) is not in the registry."""

    def __init__(self, event_type: str):
        super().__init__(f"unknown event type {event_type!r}")
        self.event_type = event_type


def new_message_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Envelope(BaseModel):
    """Transport-independent wrapper: identity, type with version, provenance, payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: str = Field(description="Unique id of this message; consumers de-duplicate on it")
    type: str = Field(description="Event type with version, e.g. plans.directive_issued.v1",
                      pattern=r"^[a-z_]+\.[a-z_]+\.v[0-9]+$")
    occurred_at: datetime = Field(description="When the state change happened (UTC)")
    producer: str = Field(description="Service that produced the event")
    correlation_id: str = Field(description="Follows one directive or submission through every service")
    causation_id: str | None = Field(default=None, description="message_id of the event that caused this one")
    payload: dict[str, Any]

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("occurred_at must carry a time zone")
        return value

    def to_json(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_json(cls, body: bytes | str) -> "Envelope":
        try:
            raw = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MalformedMessage(f"body is not JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise MalformedMessage("body is not a JSON object")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise MalformedMessage(f"invalid envelope: {_errors(exc)}") from exc


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
