"""Pure rules of assessments: effective deadlines, on time or late, targets, achievement and the
trajectory that flags a unit at risk. (Value types and ranges are checked by ``bulk.parse_value``,
the same check for a form, a JSON batch and a file.)"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from services.assessments.bulk import IndicatorRule  # one definition of what a value must look like
from shared import indicators
from shared.errors import InputError


class ObligationState(StrEnum):
    OPEN = "open"
    SUBMITTED = "submitted"      # a submission waits for review
    ACCEPTED = "accepted"
    RETURNED = "returned"        # the supervisor sent it back: resubmit by resubmit_due_at
    MISSED = "missed"            # the deadline passed without any submission
    CANCELLED = "cancelled"


O = ObligationState
# The only state the deadline sweep turns into MISSED once its effective due time has passed. A
# returned report was reported: it awaits its resubmission, it is never missing (issue #15).
SWEEPABLE = (O.OPEN,)
SUBMITTABLE = {O.OPEN, O.SUBMITTED, O.RETURNED, O.MISSED}


def effective_due(due_at: datetime, extended_due_at: datetime | None) -> datetime:
    return max(due_at, extended_due_at) if extended_due_at else due_at


def is_on_time(submitted_at: datetime, due_at: datetime, extended_due_at: datetime | None = None) -> bool:
    """Server time against the effective deadline, extensions included; the due instant counts."""
    return submitted_at <= effective_due(due_at, extended_due_at)


def is_missed(state: str, now: datetime, due_at: datetime, extended_due_at: datetime | None) -> bool:
    return state in SWEEPABLE and now > effective_due(due_at, extended_due_at)


def resubmission_on_time(submitted_at: datetime, returned_on_time: bool | None,
                         resubmit_due_at: datetime | None) -> bool | None:
    """A report resubmitted by its resubmission deadline keeps the timeliness of the report that
    was returned (None: not a resubmission within that deadline, judge it as any submission)."""
    if returned_on_time is None or resubmit_due_at is None or submitted_at > resubmit_due_at:
        return None
    return returned_on_time


def state_after_submission(state: str) -> ObligationState:
    if state not in SUBMITTABLE:
        raise InputError("conflict", "obligation_id", "รายงานนี้ได้รับการรับรองแล้วหรือถูกยกเลิก ส่งซ้ำไม่ได้",
                         f"a {state} obligation takes no more submissions", status=409)
    return O.SUBMITTED


misses_target, achievement = indicators.misses_target, indicators.achievement  # one rule: shared.indicators


def at_risk(direction: str, cumulative: bool, values: list[float], periods_elapsed: int,
            periods_total: int, target: float | None, tolerance: float = 0.1) -> bool:
    """Off the yearly trajectory: for a cumulative indicator the year-to-date sum against the
    pro-rata share of the target; for a level indicator the latest value against the target,
    both with a tolerance (10 % by default)."""
    if target is None or not values or periods_total <= 0 or direction == "none":
        return False
    if cumulative:
        actual, expected = sum(values), target * periods_elapsed / periods_total
    else:
        actual, expected = values[-1], target
    if direction == "decrease":
        return actual > expected * (1 + tolerance)
    return actual < expected * (1 - tolerance)
