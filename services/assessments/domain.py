"""Pure rules of assessments: effective deadlines, on time or late, what a sweep may flag."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class ObligationState(StrEnum):
    OPEN = "open"
    SUBMITTED = "submitted"
    MISSED = "missed"


def effective_due(due_at: datetime, extended_due_at: datetime | None) -> datetime:
    return max(due_at, extended_due_at) if extended_due_at else due_at


def is_on_time(submitted_at: datetime, due_at: datetime, extended_due_at: datetime | None = None) -> bool:
    """Server time against the effective deadline, extensions included; the due instant counts."""
    return submitted_at <= effective_due(due_at, extended_due_at)


def is_missed(state: str, now: datetime, due_at: datetime, extended_due_at: datetime | None) -> bool:
    return state == ObligationState.OPEN and now > effective_due(due_at, extended_due_at)


def state_after_submission(state: str) -> ObligationState:
    # A late submission after a miss is still accepted (and marked late); the miss stays on record.
    return ObligationState.SUBMITTED
