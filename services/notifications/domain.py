"""Pure rules of notifications: ladders, step times, what is still worth sending."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from shared.thai import BANGKOK

_DURATION = re.compile(r"^(-)?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
MORNING_OF_DUE_DAY = "MORNING"
MORNING = time(8, 0)


def parse_offset(text: str) -> timedelta:
    """ISO 8601 duration with days/hours/minutes/seconds, optionally negative (-P7D, PT30S)."""
    match = _DURATION.match(text.strip())
    if not match or text.strip() in ("P", "-P", "PT", "-PT"):
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    sign, days, hours, minutes, seconds = match.groups()
    delta = timedelta(days=int(days or 0), hours=int(hours or 0), minutes=int(minutes or 0),
                      seconds=int(seconds or 0))
    return -delta if sign else delta


@dataclass(frozen=True)
class Step:
    name: str
    at: datetime


def reminder_steps(ladder: list[str], due_at: datetime) -> list[Step]:
    """Step times of a reminder ladder, in time order, none after the deadline."""
    steps = []
    for item in ladder:
        if item == MORNING_OF_DUE_DAY:
            local_due = due_at.astimezone(BANGKOK)
            at = datetime.combine(local_due.date(), MORNING, tzinfo=BANGKOK)
        else:
            at = due_at + parse_offset(item)
        if at <= due_at:
            steps.append(Step(f"reminder:{item}", at))
    return sorted(steps, key=lambda step: step.at)


@dataclass(frozen=True)
class PlannedStep:
    step: Step
    status: str          # scheduled | skipped
    late: bool = False
    reason: str | None = None


def plan_reminders(steps: list[Step], now: datetime) -> list[PlannedStep]:
    """Future steps are scheduled. Of the steps already past, the latest is still sent (now, and
    marked late); the earlier ones are recorded as skipped, never silently dropped."""
    past = [step for step in steps if step.at <= now]
    planned = [PlannedStep(step, "skipped", reason="superseded by a later step") for step in past[:-1]]
    if past:
        planned.append(PlannedStep(Step(past[-1].name, now), "scheduled", late=True))
    planned.extend(PlannedStep(step, "scheduled") for step in steps if step.at > now)
    return planned


def parse_escalation_ladder(text: str) -> list[tuple[str, timedelta]]:
    """'lao_head=P1D,district=P3D,province=P7D' -> [(level, offset after the deadline)]."""
    ladder = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        level, _, offset = part.partition("=")
        if level not in ("lao_head", "district", "province"):
            raise ValueError(f"unknown escalation level {level!r}")
        ladder.append((level, parse_offset(offset)))
    return ladder


def digest_line(missing: int, total: int) -> tuple[str, str]:
    """'5 of 23 LAOs in your district have not reported' in Thai and English."""
    return (f"อปท. {missing} จาก {total} แห่งในพื้นที่ของท่านยังไม่ได้รายงาน",
            f"{missing} of {total} LAOs in your area have not reported")
