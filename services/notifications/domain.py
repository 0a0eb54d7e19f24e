"""Pure rules of notifications, as functions over plain data: message classes, ladders, step
times, allowed sending times (quiet hours, working days), catch-up, whether a message is still
worth sending, what a unit's closing means for its messages, preferences. No nameko, no
SQLAlchemy; the use cases (planning, dispatch, people) load the rows and call these. Working days
come from ``shared.calendar``, so every service agrees on what a working day is."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Callable, Iterable

from shared.calendar import is_working_day as thai_working_day
from shared.errors import InputError, invalid
from shared.thai import BANGKOK

# --- message classes ----------------------------------------------------------------------------

# class -> critical? Critical classes cannot be switched off, are never folded into a digest and
# are not counted against the daily cap.
MESSAGE_CLASSES: dict[str, bool] = {
    "directive": False,        # a new directive / assignment for the unit
    "reminder": False,         # reporting reminder ladder before the due time
    "ack_reminder": False,     # acknowledgement reminder before the acknowledgement deadline
    "extension": False,        # an extension was granted (the deadline moved) or denied
    "extension_request": False,  # to the supervising offices: a unit asks for more time
    "review": False,           # a submission was accepted or returned
    "deadline_missed": True,   # escalation to the LAO (head) after a missed deadline
    "escalation": True,        # district / province digest of missing units
    "ack_overdue": True,       # acknowledgement deadline passed
    "chase": True,             # a district / province / central officer chased the unit by hand
    # LPA (issue #19): tasks given to someone by name, not switched off nor left for a digest
    "lpa_team": True,          # a person's place in a finalised assessor team: the LAOs and the day
    "lpa_returned": True,      # DLA returned an assessment to its team (lead, province) for correction
}
DIGEST = "digest"              # the daily digest itself (a container of non-critical messages)
OPTIONAL_CLASSES = tuple(name for name, critical in MESSAGE_CLASSES.items() if not critical)
CRITICAL_CLASSES = tuple(name for name, critical in MESSAGE_CLASSES.items() if critical)
# Classes whose earlier steps are superseded by a later one of the same subject (catch-up).
LADDER_CLASSES = ("reminder", "ack_reminder")

CHANNELS = ("email", "line", "sms", "inapp")
DEFAULT_FALLBACK = ("email", "line", "sms", "inapp")
PERSON_FALLBACK = ("line", "email", "sms", "inapp")


# Message classes about one obligation (subject_ref is its id), and about one assignment.
OBLIGATION_CLASSES = ("reminder", "chase", "deadline_missed", "extension", "extension_request", "review")
ASSIGNMENT_CLASSES = ("directive", "ack_reminder", "ack_overdue")
OPEN_ASSIGNMENT = ("issued", "received")
CLOSED_ASSIGNMENT = ("closed", "not_applicable", "cancelled")
# Message classes of the LPA (subject_ref: the team, or the returned assessment); their facts
# travel in the message's payload.
LPA_CLASSES = ("lpa_team", "lpa_returned")
# What a submission makes pointless for its obligation.
SUBMISSION_ENDS = ("reminder", "chase", "deadline_missed", "extension")


def is_critical(message_class: str) -> bool:
    return MESSAGE_CLASSES.get(message_class, False)


def event_kind(message_class: str) -> str:
    """The ``kind`` of NotificationSent/Failed (the contract knows reminder|escalation|directive|assignment)."""
    if message_class in LPA_CLASSES:
        return "assignment"
    if message_class in ("deadline_missed", "escalation", "ack_overdue"):
        return "escalation"
    if message_class == "directive":
        return "directive"
    return "reminder"


# --- durations and ladders ------------------------------------------------------------------------

_DURATION = re.compile(r"^([-+])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
MORNING_OF_DUE_DAY = "MORNING"
MORNING = time(8, 0)


def parse_offset(text: str) -> timedelta:
    """ISO 8601 duration in weeks/days/hours/minutes/seconds, optionally signed (-P7D, PT30S)."""
    match = _DURATION.match(text.strip().upper()) if isinstance(text, str) else None
    if not match or not any(match.groups()[1:]):
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    sign, weeks, days, hours, minutes, seconds = match.groups()
    delta = timedelta(weeks=int(weeks or 0), days=int(days or 0), hours=int(hours or 0),
                      minutes=int(minutes or 0), seconds=int(seconds or 0))
    return -delta if sign == "-" else delta


def validate_ladder(steps, field_name: str = "steps") -> list[str]:
    """A reminder ladder: offsets before (or at) the due time, or MORNING. Raises InputError."""
    if not isinstance(steps, list) or not steps or len(steps) > 20:
        raise invalid(field_name, "ขั้นการแจ้งเตือนต้องเป็นรายการ 1–20 ขั้น เช่น [\"-P7D\", \"-P1D\", \"MORNING\"]",
                      "steps must be a list of 1-20 items, e.g. [\"-P7D\", \"-P1D\", \"MORNING\"]")
    cleaned = []
    for index, step in enumerate(steps):
        where = f"{field_name}[{index}]"
        if not isinstance(step, str):
            raise invalid(where, "ขั้นต้องเป็นข้อความ", "a step must be a string")
        step = step.strip().upper()
        if step == MORNING_OF_DUE_DAY:
            cleaned.append(step)
            continue
        try:
            offset = parse_offset(step)
        except ValueError:
            raise invalid(where, f"{step!r} ไม่ใช่ระยะเวลา ISO 8601 เช่น -P3D หรือ -PT4H",
                          f"{step!r} is not an ISO 8601 duration such as -P3D or -PT4H") from None
        if offset > timedelta(0):
            raise invalid(where, "ขั้นการแจ้งเตือนต้องอยู่ก่อนหรือตรงกับเวลาครบกำหนด (ใช้เครื่องหมายลบ)",
                          "a reminder step must be at or before the due time (negative offset)")
        cleaned.append(step)
    if len(set(cleaned)) != len(cleaned):
        raise invalid(field_name, "มีขั้นซ้ำกัน", "the ladder repeats a step")
    return cleaned


@dataclass(frozen=True)
class Step:
    name: str
    at: datetime


def reminder_steps(ladder: list[str], due_at: datetime, prefix: str = "reminder") -> list[Step]:
    """Nominal step times of a ladder, in time order, none after the due time. ``MORNING`` is 08:00
    of the due day (of the day before when the report is due before 08:00)."""
    steps = []
    for item in ladder:
        if item == MORNING_OF_DUE_DAY:
            local_due = due_at.astimezone(BANGKOK)
            at = datetime.combine(local_due.date(), MORNING, tzinfo=BANGKOK)
            if at > due_at:  # due before 08:00: the last morning before the deadline is the day before
                at -= timedelta(days=1)
        else:
            at = due_at + parse_offset(item)
        if at <= due_at:
            steps.append(Step(f"{prefix}:{item}", at))
    return sorted(steps, key=lambda step: step.at)


@dataclass(frozen=True)
class PlannedStep:
    step: Step           # the step's name and the moment it goes (for a skipped step: its nominal time)
    status: str          # scheduled | skipped
    late: bool = False
    reason: str | None = None


def plan_reminders(steps: list[Step], now: datetime) -> list[PlannedStep]:
    """Future steps are scheduled. Of the steps already past, the latest is still sent (now, and
    marked late); the earlier ones are recorded as skipped, never silently dropped. (Without a
    send window; ``plan_ladder`` is the whole rule.)"""
    past = [step for step in steps if step.at <= now]
    planned = [PlannedStep(step, "skipped", reason="superseded by a later step") for step in past[:-1]]
    if past:
        planned.append(PlannedStep(Step(past[-1].name, now), "scheduled", late=True))
    planned.extend(PlannedStep(step, "scheduled") for step in steps if step.at > now)
    return planned


# Two steps of one ladder never go within this of each other: the earlier one moves back (or, if it
# cannot, is merged into the later one, said so in the ledger).
MERGE_WITHIN = timedelta(hours=1)
# A reminder goes at least this long before the deadline, and a step moved back lands at least this
# long before the end of its allowed stretch (a scheduler tick late is still inside the window).
SEND_MARGIN = timedelta(minutes=10)


def plan_ladder(steps: list[Step], deadline: datetime, window: "SendWindow", now: datetime) -> list[PlannedStep]:
    """When each step of a reminder ladder goes, for one recipient's send window.

    * Every scheduled step goes at an allowed time, no later than ``SEND_MARGIN`` before the
      deadline and never before ``now``.
    * A step outside the window moves to the next allowed time; if that would pass the deadline, or
      come closer to the next step than half their distance in the ladder (and at least
      ``MERGE_WITHIN``), it moves back to the latest allowed time before it instead (e.g. T-3d on a
      holiday weekend goes on a working day before it, not on T; T-1d at 20:57 goes at 19:49, not
      at 07:00 an hour before the MORNING step).
    * Steps placed in the past: the latest still goes now (``late``) unless the next step is within
      ``MERGE_WITHIN`` (then it is merged into it); the others are skipped as superseded. "Now" is the
      next allowed time, and it only has to come before the deadline, not ``SEND_MARGIN`` before it:
      an obligation opened minutes before its deadline (a late forward) is still told at once.
    * If nothing would go and an allowed time remains before the deadline, the latest step goes at
      that time: a unit that can still be reminded is reminded at least once.
    Every step not scheduled is ``skipped`` with its reason."""
    steps = sorted(steps, key=lambda step: step.at)
    last_send = deadline - SEND_MARGIN
    placed: dict[str, tuple[datetime | None, str | None]] = {}
    later: Step | None = None          # the next later step that has a time (nominal)
    later_at: datetime | None = None   # ... and when it goes
    for step in reversed(steps):
        if later is not None and step.at > later.at - MERGE_WITHIN:
            # the ladder itself puts two steps within the hour: one message
            placed[step.name] = (None, f"merged with step {later.name} (within {_hours(MERGE_WITHIN)} of it)")
            continue
        limit = last_send
        if later_at is not None:
            # keep at least half the ladder's own distance to the next step (and an hour): T-3d
            # pushed over a holiday weekend onto T-1d is no reminder "three days before"
            limit = min(limit, later_at - max(MERGE_WITHIN, (later.at - step.at) / 2))
        at, note = _place(step.at, limit, window)
        placed[step.name] = (at, note)
        if at is not None:
            later, later_at = step, at
    future = [step for step in steps if placed[step.name][0] is not None and placed[step.name][0] >= now]
    past = [step for step in steps if step not in future and placed[step.name][0] is not None]
    planned: list[PlannedStep] = []
    for step in steps:
        at, note = placed[step.name]
        if at is None:
            planned.append(PlannedStep(step, "skipped", reason=note or "no allowed time before the deadline"))
        elif step in future:
            planned.append(PlannedStep(Step(step.name, at), "scheduled", reason=note))
    first_future = min((placed[step.name][0] for step in future), default=None)
    catch_up = window.next_allowed(now)
    for index, step in enumerate(past):
        if index < len(past) - 1:
            planned.append(PlannedStep(step, "skipped", reason="superseded by a later step"))
        elif first_future is not None and catch_up > first_future - MERGE_WITHIN:
            name = min(future, key=lambda s: placed[s.name][0]).name
            planned.append(PlannedStep(step, "skipped", reason=f"merged with step {name} (its time has passed)"))
        elif catch_up >= deadline:
            planned.append(PlannedStep(step, "skipped", reason="its time has passed and no allowed time is "
                                                               "left before the deadline"))
        else:
            planned.append(PlannedStep(Step(step.name, catch_up), "scheduled", late=True))
    if not any(p.status == "scheduled" for p in planned) and steps and catch_up < deadline:
        # every step was merged away or had no room: the latest one still goes, once
        latest = steps[-1]
        planned = [p for p in planned if p.step.name != latest.name]
        planned.append(PlannedStep(Step(latest.name, catch_up), "scheduled", late=latest.at < now,
                                   reason="the only reminder left before the deadline"))
    return sorted(planned, key=lambda p: (p.step.at, p.step.name))


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g} h"


def _place(at: datetime, limit: datetime, window: "SendWindow") -> tuple[datetime | None, str | None]:
    """An allowed time for a step at ``at`` that is not after ``limit``: forward if that fits,
    else back; None if there is none (within a year). The note says why it moved."""
    forward = window.next_allowed(at)
    if forward <= limit:
        return forward, (None if forward == at else f"moved later: {window.why_not(at)}")
    target = min(at, limit)
    local = target.astimezone(BANGKOK)
    if window.working_days_only and not window.is_working_day(local.date()):
        # the same time of day on the last working day before, if that is allowed
        day = local.date()
        for _ in range(60):
            day -= timedelta(days=1)
            if window.is_working_day(day):
                break
        target = min(target, datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=BANGKOK)
                     .astimezone(at.tzinfo))
    backward = window.previous_allowed(target)
    if backward is None:
        return None, "no allowed time before the deadline"
    if backward < target and window.allows(backward - SEND_MARGIN):
        backward -= SEND_MARGIN  # landed on the end of an allowed stretch: keep a margin
    if window.allows(at):
        why = f"to stay {_hours(MERGE_WITHIN)} before the next step or the deadline"
    else:
        why = f"{window.why_not(at)}, and the next allowed time is too late"
    return backward, f"moved earlier: {why}"


ESCALATION_LEVELS = ("lao_head", "district", "province")


def parse_escalation_ladder(text: str) -> list[tuple[str, timedelta]]:
    """'lao_head=P1D,district=P3D,province=P7D' -> [(level, offset after the deadline)]."""
    ladder = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        level, _, offset = part.partition("=")
        if level.strip() not in ESCALATION_LEVELS:
            raise ValueError(f"unknown escalation level {level!r} (use {', '.join(ESCALATION_LEVELS)})")
        ladder.append((level.strip(), parse_offset(offset)))
    return ladder


# --- when a message may go out ----------------------------------------------------------------------

@dataclass(frozen=True)
class QuietHours:
    """Local (Bangkok) times between which nothing is sent; start > end crosses midnight."""
    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


_HHMM = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)$")


def parse_time(text: str, field_name: str) -> time:
    match = _HHMM.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise invalid(field_name, f"เวลา {text!r} ไม่ถูกต้อง ใช้รูปแบบ ชั่วโมง:นาที เช่น 20:00",
                      f"time {text!r} is not valid; use HH:MM, e.g. 20:00")
    return time(int(match.group(1)), int(match.group(2)))


def parse_quiet_hours(text: str | None, field_name: str = "quiet_hours") -> QuietHours | None:
    """'20:00-07:00' -> QuietHours; '' / 'off' / 'none' -> None (no quiet hours)."""
    if text is None or text.strip().lower() in ("", "off", "none"):
        return None
    start, sep, end = text.partition("-")
    if not sep:
        raise invalid(field_name, "ช่วงเวลางดส่งต้องเป็น เริ่ม-สิ้นสุด เช่น 20:00-07:00",
                      "quiet hours must be start-end, e.g. 20:00-07:00")
    return QuietHours(parse_time(start, f"{field_name}.start"), parse_time(end, f"{field_name}.end"))


@dataclass(frozen=True)
class SendWindow:
    """When messages may go out: outside quiet hours and, if asked, on working days only."""
    quiet: QuietHours | None = None
    working_days_only: bool = True
    is_working_day: Callable[[date], bool] = field(default=thai_working_day, compare=False)

    def allows(self, moment: datetime) -> bool:
        local = moment.astimezone(BANGKOK)
        if self.working_days_only and not self.is_working_day(local.date()):
            return False
        return not (self.quiet and self.quiet.contains(local.time().replace(tzinfo=None)))

    def why_not(self, moment: datetime) -> str | None:
        local = moment.astimezone(BANGKOK)
        if self.working_days_only and not self.is_working_day(local.date()):
            return "weekend or public holiday"
        if self.quiet and self.quiet.contains(local.time().replace(tzinfo=None)):
            return f"quiet hours {self.quiet}"
        return None

    def next_allowed(self, moment: datetime) -> datetime:
        """The earliest allowed instant at or after ``moment``."""
        local = moment.astimezone(BANGKOK)
        for _ in range(400):
            if self.working_days_only and not self.is_working_day(local.date()):
                local = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=BANGKOK)
                continue
            clock = local.time().replace(tzinfo=None)
            if self.quiet and self.quiet.contains(clock):
                end_day = local.date()
                if self.quiet.start > self.quiet.end and clock >= self.quiet.start:
                    end_day += timedelta(days=1)
                local = datetime.combine(end_day, self.quiet.end, tzinfo=BANGKOK)
                continue
            return local.astimezone(moment.tzinfo)
        return moment  # no allowed time within a year: a configuration mistake; do not stall

    def previous_allowed(self, moment: datetime) -> datetime | None:
        """The latest allowed minute at or before ``moment`` (None if none within a year)."""
        local = moment.astimezone(BANGKOK)
        for _ in range(400):
            if self.working_days_only and not self.is_working_day(local.date()):
                local = datetime.combine(local.date(), time(0), tzinfo=BANGKOK) - timedelta(minutes=1)
                continue
            clock = local.time().replace(tzinfo=None)
            if self.quiet and self.quiet.contains(clock):
                start_day = local.date()
                if self.quiet.start > self.quiet.end and clock < self.quiet.end:
                    start_day -= timedelta(days=1)
                local = datetime.combine(start_day, self.quiet.start, tzinfo=BANGKOK) - timedelta(minutes=1)
                continue
            return local.astimezone(moment.tzinfo)
        return None


def send_window(default_quiet: QuietHours | None, working_days_only: bool,
                own_quiet: str | None = None) -> SendWindow:
    """A recipient's window: their own quiet hours if they chose some ("" = none), else the default."""
    quiet = parse_quiet_hours(own_quiet) if own_quiet is not None else default_quiet
    return SendWindow(quiet=quiet, working_days_only=working_days_only)


def place_before_deadline(at: datetime, deadline: datetime, window: SendWindow) -> datetime:
    """Move a step to the next allowed time; if that would pass the deadline, to the latest
    allowed time before the step instead (a reminder after the deadline helps nobody)."""
    forward = window.next_allowed(at)
    if forward <= deadline:
        return forward
    backward = window.previous_allowed(at)
    return backward if backward is not None else forward


def next_digest_time(now: datetime, digest_at: time, window: SendWindow) -> datetime:
    """The next daily-digest moment (local ``digest_at``) at or after ``now`` that is allowed."""
    local = now.astimezone(BANGKOK)
    candidate = datetime.combine(local.date(), digest_at, tzinfo=BANGKOK)
    if candidate < local:
        candidate += timedelta(days=1)
    for _ in range(60):
        if window.allows(candidate):
            break
        candidate += timedelta(days=1)
    return candidate.astimezone(now.tzinfo)


def local_day_start(moment: datetime) -> datetime:
    local = moment.astimezone(BANGKOK)
    return datetime.combine(local.date(), time(0), tzinfo=BANGKOK).astimezone(moment.tzinfo)


def retry_delay(attempt: int, delays: list[float]) -> timedelta:
    """Backoff after the ``attempt``-th failure on a channel (1-based)."""
    return timedelta(seconds=delays[min(attempt, len(delays)) - 1])


def superseded_steps(due: Iterable[tuple[str, tuple, datetime]]) -> list[str]:
    """Catch-up: of several due steps of one ladder (``(id, (recipient, subject, class), nominal
    time)``), only the latest goes; the ids of the others."""
    due = list(due)
    latest: dict[tuple, datetime] = {}
    for _, key, nominal in due:
        latest[key] = max(latest.get(key, nominal), nominal)
    return [message_id for message_id, key, nominal in due if nominal < latest[key]]


# --- is a message still worth sending? -------------------------------------------------------------

def why_not_to(recipient: dict | None, message_class: str, now: datetime) -> str | None:
    """None if this recipient may get a message of this class now, else why not: unknown, their
    unit closed (``valid_to``, an ISO day, has come), or they opted out of an optional class."""
    if recipient is None:
        return "recipient unknown"
    if recipient.get("valid_to") and recipient["valid_to"] <= now.astimezone(BANGKOK).date().isoformat():
        return "unit closed"
    if message_class in recipient["opt_out"] and not is_critical(message_class):
        return "opted out"
    return None


def relevance(message_class: str, subject: dict | None, now: datetime, *, decision: str | None = None,
              reminded: bool = False) -> str | None:
    """None if a message is still worth sending, else why not. ``subject`` is the tracked
    obligation (for OBLIGATION_CLASSES) or assignment (ASSIGNMENT_CLASSES) as it stands now;
    ``decision`` an extension message's decision; ``reminded``: a reminder of the same report has
    already gone to this recipient (a directive notice would say it twice). Escalation digests and
    daily digests decide when they are composed."""
    if message_class in OBLIGATION_CLASSES:
        if subject is None:
            return "obligation unknown"
        state = subject["state"]
        if message_class == "reminder":
            if state != "open":
                return f"obligation is {state}"
            if subject["due_at"] <= now:
                return "deadline passed"
        elif message_class == "chase" and state not in ("open", "missed"):
            return f"obligation is {state}"
        elif message_class == "deadline_missed" and state != "missed":
            return f"obligation is {state}"
        elif message_class == "extension" and decision != "denied" and state != "open":
            return f"obligation is {state}"
        elif message_class in ("extension", "extension_request") and state in ("cancelled", "accepted"):
            return f"obligation is {state}"
        return None
    if message_class in ASSIGNMENT_CLASSES:
        if subject is None:
            return "assignment unknown"
        state = subject["state"]
        if message_class == "directive" and state in CLOSED_ASSIGNMENT:
            return f"assignment is {state}"
        if message_class == "directive" and reminded:
            return "covered by a reminder of the same report, already sent"
        if message_class in ("ack_reminder", "ack_overdue") and state not in OPEN_ASSIGNMENT:
            return f"assignment is {state}"
        if message_class == "ack_reminder" and subject["acknowledge_due_at"] and subject["acknowledge_due_at"] <= now:
            return "acknowledgement deadline passed"
    return None


def digest_reason(message_class: str, wants_digest: bool, sent_today: int, daily_cap: int) -> str | None:
    """Why an optional message waits for the recipient's daily digest (None: it goes alone).
    Critical messages always go alone and are not counted against the cap."""
    if is_critical(message_class):
        return None
    capped = sent_today >= daily_cap
    if capped and not wants_digest:
        return "daily cap reached: in the daily digest"
    return "in the daily digest" if wants_digest or capped else None


# --- units that close ------------------------------------------------------------------------------

CLOSED_REASON_PREFIX = "unit closed on "


@dataclass(frozen=True)
class UnitState:
    """What the versions of a unit say after an event: the day it closes (ISO, None while it lasts)
    and who took over."""

    code: str
    closes_on: str | None
    successors: list[str]
    change_kind: str


def version_holding(versions: list[dict], day: str) -> dict:
    """Of a unit's versions (ordered by ``valid_from``, ISO days), the one that stands for it on
    ``day``: the version holding that day, else (closed) the last one begun, else (not open yet)
    the first."""
    holding = [v for v in versions if v["valid_from"] <= day and (v["valid_to"] is None or day < v["valid_to"])]
    if holding:
        return holding[0]
    started = [v for v in versions if v["valid_from"] <= day]
    return started[-1] if started else versions[0]


def closing_reason(state: UnitState) -> str:
    how = {"merged": "merged into", "split": "split into"}.get(state.change_kind, "succeeded by")
    into = f" ({how} {', '.join(state.successors)})" if state.successors else ""
    return f"{CLOSED_REASON_PREFIX}{state.closes_on}{into}"


def closed_by(recipient: dict, at: datetime) -> str | None:
    """The reason a message due at ``at`` is not scheduled for this recipient: its unit closes
    (``closes_on``, an ISO day) on or before that day."""
    closes_on = recipient.get("closes_on")
    if closes_on and at.astimezone(BANGKOK).date().isoformat() >= closes_on:
        return f"{CLOSED_REASON_PREFIX}{closes_on}: nothing is scheduled for it after"
    return None


# --- digests and texts -------------------------------------------------------------------------------

def digest_line(missing: int, total: int, language: str = "th") -> str:
    """'5 of 23 LAOs in your area have not reported' (Thai or English)."""
    if language == "en":
        return f"{missing} of {total} LAOs in your area have not reported"
    return f"อปท. {missing} จาก {total} แห่งในพื้นที่ของท่านยังไม่ได้รายงาน"


# --- preferences ----------------------------------------------------------------------------------

# no control character anywhere (\s leaves NUL and its kind through)
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f-\x9f]{1,64}@[^@\s\x00-\x1f\x7f-\x9f]+\.[^@\s\x00-\x1f\x7f-\x9f]{2,}$")
_THAI_MOBILE = re.compile(r"^(?:\+?66|0)([689]\d{8})$")


def normalise_phone(text: str, field_name: str) -> str:
    """Thai mobile number -> E.164 (+66...). 081-234-5678, 0812345678 and +66812345678 accepted."""
    compact = re.sub(r"[\s\-().]", "", text or "")
    match = _THAI_MOBILE.match(compact)
    if match is None:
        raise invalid(field_name, f"หมายเลขโทรศัพท์มือถือ {text!r} ไม่ถูกต้อง (เช่น 081-234-5678)",
                      f"mobile number {text!r} is not valid (e.g. 081-234-5678)")
    return "+66" + match.group(1)


def validate_email(text, field_name: str) -> str:
    if not isinstance(text, str) or len(text) > 200 or not _EMAIL.match(text.strip()):
        raise invalid(field_name, f"อีเมล {text!r} ไม่ถูกต้อง", f"e-mail address {text!r} is not valid")
    return text.strip()


@dataclass(frozen=True)
class Preferences:
    """What a recipient chose (None = the system default)."""
    language: str = "th"
    date_digits: str = "thai"
    email: str | None = None
    phone: str | None = None
    fallback_order: tuple[str, ...] | None = None
    quiet_hours: str | None = None        # None = system default; "" = none
    opt_out: tuple[str, ...] = ()
    digest: bool | None = None


def _unknown_field(where: str, name: str, allowed: Iterable[str]) -> InputError:
    return invalid(f"{where}{name}", f"ไม่รู้จักช่อง {name!r} (ใช้ได้: {', '.join(allowed)})",
                   f"unknown field {name!r} (allowed: {', '.join(allowed)})")


PREFERENCE_FIELDS = ("language", "date_digits", "channels", "fallback_order", "quiet_hours", "opt_out",
                     "digest")


def parse_preferences(data, current: Preferences) -> Preferences:
    """Validate a preferences document (partial: absent fields keep their value). InputError
    names the field; nothing is changed on error (the caller stores only the returned value)."""
    if not isinstance(data, dict):
        raise invalid("body", "ข้อมูลต้องเป็นออบเจ็กต์ JSON", "preferences must be a JSON object")
    for name in data:
        if name not in PREFERENCE_FIELDS:
            raise _unknown_field("", name, PREFERENCE_FIELDS)
    values = {}
    if "language" in data:
        if data["language"] not in ("th", "en"):
            raise invalid("language", "ภาษาต้องเป็น th หรือ en", "language must be th or en")
        values["language"] = data["language"]
    if "date_digits" in data:
        if data["date_digits"] not in ("thai", "arabic"):
            raise invalid("date_digits", "รูปแบบตัวเลขต้องเป็น thai (๓ ก.พ. ๒๕๖๙) หรือ arabic (3 ก.พ. 2569)",
                          "date_digits must be thai (๓ ก.พ. ๒๕๖๙) or arabic (3 ก.พ. 2569)")
        values["date_digits"] = data["date_digits"]
    if "channels" in data:
        channels = data["channels"]
        if not isinstance(channels, dict):
            raise invalid("channels", "channels ต้องเป็นออบเจ็กต์ เช่น {\"email\": \"...\"}",
                          "channels must be an object, e.g. {\"email\": \"...\"}")
        for name, value in channels.items():
            if name not in CHANNELS:
                raise _unknown_field("channels.", name, CHANNELS)
            if name == "email":
                values["email"] = None if value in (None, "") else validate_email(value, "channels.email")
            elif name == "sms":
                values["phone"] = None if value in (None, "") else normalise_phone(str(value), "channels.sms")
            elif name == "line" and value is not None:
                raise invalid("channels.line", "เชื่อมบัญชี LINE ผ่าน POST /api/v1/me/line-link เท่านั้น (ส่ง null เพื่อยกเลิก)",
                              "link LINE through POST /api/v1/me/line-link (send null to unlink)")
            elif name == "inapp" and value not in (True, None):
                raise invalid("channels.inapp", "กล่องข้อความในระบบปิดไม่ได้", "the in-app inbox cannot be turned off")
    if "fallback_order" in data:
        order = data["fallback_order"]
        if not isinstance(order, list) or not order:
            raise invalid("fallback_order", "ลำดับช่องทางต้องเป็นรายการ เช่น [\"line\", \"email\"]",
                          "fallback_order must be a non-empty list, e.g. [\"line\", \"email\"]")
        for index, name in enumerate(order):
            if name not in CHANNELS:
                raise invalid(f"fallback_order[{index}]", f"ไม่รู้จักช่องทาง {name!r}",
                              f"unknown channel {name!r} (use {', '.join(CHANNELS)})")
        if len(set(order)) != len(order):
            raise invalid("fallback_order", "มีช่องทางซ้ำ", "a channel appears twice")
        values["fallback_order"] = tuple(order)
    if "quiet_hours" in data:
        quiet = data["quiet_hours"]
        if quiet is None:
            values["quiet_hours"] = ""
        elif isinstance(quiet, dict):
            extra = set(quiet) - {"start", "end"}
            if extra:
                raise _unknown_field("quiet_hours.", sorted(extra)[0], ("start", "end"))
            start = parse_time(quiet.get("start"), "quiet_hours.start")
            end = parse_time(quiet.get("end"), "quiet_hours.end")
            values["quiet_hours"] = str(QuietHours(start, end))
        else:
            raise invalid("quiet_hours", "ช่วงงดส่งต้องเป็น {\"start\": \"20:00\", \"end\": \"07:00\"} หรือ null",
                          "quiet_hours must be {\"start\": \"20:00\", \"end\": \"07:00\"} or null")
    if "opt_out" in data:
        opt_out = data["opt_out"]
        if not isinstance(opt_out, list):
            raise invalid("opt_out", "opt_out ต้องเป็นรายการประเภทข้อความ", "opt_out must be a list of message classes")
        for index, name in enumerate(opt_out):
            if name in CRITICAL_CLASSES:
                raise invalid(f"opt_out[{index}]", f"ข้อความประเภท {name} สำคัญ ปิดไม่ได้",
                              f"{name} messages are critical and cannot be switched off")
            if name not in OPTIONAL_CLASSES:
                raise invalid(f"opt_out[{index}]", f"ไม่รู้จักประเภทข้อความ {name!r}",
                              f"unknown message class {name!r} (optional: {', '.join(OPTIONAL_CLASSES)})")
        values["opt_out"] = tuple(sorted(set(opt_out)))
    if "digest" in data:
        if not isinstance(data["digest"], bool):
            raise invalid("digest", "digest ต้องเป็น true หรือ false", "digest must be true or false")
        values["digest"] = data["digest"]
    return Preferences(**{**current.__dict__, **values})


def fallback_channels(order: Iterable[str] | None, kind: str) -> list[str]:
    """The order to try; the in-app inbox is always the last resort, so nothing is dropped. A
    guest (someone without an account, known by an e-mail address) has no inbox: e-mail only,
    and a message that cannot go says so (failed) instead of landing in an inbox nobody reads."""
    if kind == GUEST:
        return ["email"]
    chosen = list(order or (PERSON_FALLBACK if kind in ("person", MEMBER) else DEFAULT_FALLBACK))
    if "inapp" not in chosen:
        chosen.append("inapp")
    return chosen


# --- LPA assessor teams (issue #19) --------------------------------------------------------------------

GUEST = "guest"   # recipients.kind of someone without an account, reached by e-mail only
# recipients.kind of someone with an account known to us only from an assessor team (they have not
# saved preferences): written to by name, not part of their unit's audience; saving preferences
# makes them a "person".
MEMBER = "member"


def guest_code(email: str) -> str:
    """The recipient code of a guest: the same address is the same guest (the address itself is
    not the key: it may be longer than a code, and codes show up in logs)."""
    return f"{GUEST}:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def team_member_kind(person: str, unit_code: str | None, email: str | None, *, has_account: bool) -> str | None:
    """What an assessor team member is to us. Someone who works for a unit, or whose name is a
    username we know, has an account: ``user:<username>``, reached through their own preferences
    and channels (the in-app inbox at least). Otherwise (a community leader without an account) an e-mail
    address makes them a ``guest``; with neither there is nobody to write to (None). (A username
    is at most 64 characters: a longer ``person`` is a name, not an account.)"""
    if (unit_code or has_account) and len(person) <= 64:
        return "user"
    if email and email.strip():
        return GUEST
    return None


def lpa_team_step(visit_on: date) -> str:
    """A team member hears once per team and visit day: a re-finalised team with the same day
    plans nothing new, a moved visit is news."""
    return f"lpa_team:{visit_on.isoformat()}"


def lpa_returned_step(returned_at: datetime) -> str:
    """Each return of an assessment is news; the same return delivered twice is not."""
    return f"lpa_returned:{returned_at.astimezone(BANGKOK).strftime('%Y%m%dT%H%M%S%f')}"


def lpa_work_link(year_be: int | None) -> str:
    """The web application's LPA work page of a year (the teams and their LAOs)."""
    return f"#/lpa/{year_be}/teams" if year_be else "#/lpa"
