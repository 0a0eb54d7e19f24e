"""notifications: ladders, cancel on submit, escalation digests, catch-up, shifting, caps, digests,
fallback, and never the same message twice. Fakes for channels, a real SQLite file."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import select, update

from services.notifications import bootstrap, dispatch, domain, people, views
from services.notifications.audience import schedule
from services.notifications.channels import ChannelError, Channels, SendResult
from services.notifications.models import deliveries, inbox_items, metadata, scheduled_messages, tracked_obligations
from services.notifications.settings import Settings
from shared.contracts import encode
from shared.contracts.events import (AcknowledgementOverdue, AssignmentAcknowledged, AssignmentCreated,
                                     DeadlineMissed, DirectiveIssued, ExtensionGranted, IndicatorSubmitted,
                                     ObligationCancelled, ObligationOpened, OrgUnitChanged, ReportingRequirement,
                                     SubmittedValue)
from shared.errors import InputError
from shared.messaging.inbox import ReliableConsumer
from shared.messaging.tables import outbox
from shared.thai import BANGKOK
from tests.fakes import sqlite_database

DUE = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)   # Thu 3 Dec 2026 16:00 Bangkok


def bkk(*args) -> datetime:
    return datetime(*args, tzinfo=BANGKOK).astimezone(timezone.utc)


class FakeChannel:
    def __init__(self, name="email", idempotent=False):
        self.name, self.idempotent = name, idempotent
        self.sent: list[tuple[str, str, str]] = []   # (address, subject, body)
        self.keys: list[str] = []
        self.errors: list[ChannelError] = []
        self.accepted: set[str] = set()

    def address(self, recipient):
        if self.name == "email":
            return recipient.get("email")
        if self.name == "line":
            return ",".join(recipient.get("line_ids") or []) or None
        return recipient.get("phone")

    def send(self, address, rendered, key):
        if self.errors:
            raise self.errors.pop(0)
        if self.idempotent and key in self.accepted:
            return SendResult(provider_id="again", duplicate=True)
        self.accepted.add(key)
        self.sent.append((address, rendered.subject, rendered.body))
        self.keys.append(key)
        return SendResult(provider_id=f"id-{len(self.sent)}")


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


class World:
    def __init__(self, tmp_path, **settings):
        self.database = sqlite_database(tmp_path, metadata)
        self.clock = Clock(DUE - timedelta(days=10))
        base = Settings(escalation_ladder=[("lao_head", timedelta(days=1)), ("district", timedelta(days=3)),
                                                    ("province", timedelta(days=7))],
                                 quiet_hours=None, working_days_only=False, retry_delays_s=(60.0, 300.0))
        self.settings = replace(base, **settings)
        self.email = FakeChannel("email")
        self.line = FakeChannel("line", idempotent=True)
        self.channels = Channels(self.email, self.line)
        self.consumer = ReliableConsumer("notifications.events", self.database,
                                         bootstrap.event_handlers(self.settings, clock=self.clock), [10])
        for unit in UNITS:
            self.deliver(unit)

    def deliver(self, event):
        outcome = self.consumer.process(encode(event, correlation_id="c").to_json())
        assert outcome.outcome in ("processed", "duplicate"), outcome
        return outcome

    def dispatch(self, now=None):
        now = now or self.clock.now
        self.clock.now = now
        return dispatch.dispatch_due(self.database, self.channels, self.settings, now=now)

    def rows(self, **where):
        with self.database.session() as session:
            query = select(scheduled_messages)
            for name, value in where.items():
                query = query.where(scheduled_messages.c[name] == value)
            return [dict(r) for r in session.execute(query).mappings()]

    def status(self, recipient, step):
        found = [r for r in self.rows(recipient_code=recipient) if r["step"] == step]
        assert len(found) == 1, found
        return found[0]["status"]

    def events(self, event_type):
        with self.database.session() as session:
            return [r.body for r in session.execute(select(outbox).where(outbox.c.event_type == event_type))]


UNITS = [OrgUnitChanged(code="PLO-1", level="provincial_office", name_th="สถจ.หนึ่ง", contact_email="plo1@x.test",
                        valid_from="2000-01-01"),
         OrgUnitChanged(code="DLO-1", level="district_office", parent_code="PLO-1", name_th="สถอ.หนึ่ง",
                        contact_email="dlo1@x.test", valid_from="2000-01-01")]
UNITS += [OrgUnitChanged(code=f"LAO-{i}", level="lao", parent_code="DLO-1", name_th=f"อบต.{i}",
                         contact_email=f"lao{i}@x.test", valid_from="2000-01-01") for i in range(1, 4)]


@pytest.fixture
def world(tmp_path):
    return World(tmp_path)


def opened(i, due=DUE, **extra) -> ObligationOpened:
    return ObligationOpened(obligation_id=f"o-{i}", unit_code=f"LAO-{i}", directive_id="d",
                            indicator_code="BUD-1", indicator_name_th="ร้อยละการเบิกจ่าย", period="2570-01",
                            due_at=due, **extra)


def missed(i, due=DUE) -> DeadlineMissed:
    return DeadlineMissed(obligation_id=f"o-{i}", unit_code=f"LAO-{i}", directive_id="d", indicator_code="BUD-1",
                          period="2570-01", due_at=due, detected_at=due)


def submitted(i, at) -> IndicatorSubmitted:
    return IndicatorSubmitted(submission_id=f"s-{i}", obligation_id=f"o-{i}", unit_code=f"LAO-{i}", period="2570-01",
                              values=[SubmittedValue(indicator_code="BUD-1", value=1)], submitted_at=at,
                              due_at=DUE, on_time=True)


# --- pure rules --------------------------------------------------------------------------------------

def test_parse_offsets_and_ladders():
    assert domain.parse_offset("-P7D") == -timedelta(days=7)
    assert domain.parse_offset("PT1H30M") == timedelta(hours=1, minutes=30)
    assert domain.parse_offset("-P1W") == -timedelta(weeks=1)
    with pytest.raises(ValueError):
        domain.parse_offset("7 days")
    steps = domain.reminder_steps(["-P7D", "-P1D", "MORNING"], DUE)  # due 16:00 Bangkok
    assert [s.at for s in steps] == [DUE - timedelta(days=7), DUE - timedelta(days=1),
                                     datetime(2026, 12, 3, 1, 0, tzinfo=timezone.utc)]


def test_a_ladder_is_validated_naming_the_bad_step():
    assert domain.validate_ladder(["-p3d", "morning"]) == ["-P3D", "MORNING"]
    for bad, field in ((["-P3D", "soon"], "steps[1]"), (["P1D"], "steps[0]"), ([], "steps"),
                       (["-P1D", "-P1D"], "steps")):
        with pytest.raises(InputError) as error:
            domain.validate_ladder(bad)
        assert error.value.field == field and error.value.message_th and error.value.message_en


def test_steps_already_past_are_skipped_except_the_latest_which_goes_now_and_late():
    steps = domain.reminder_steps(["-P7D", "-P3D", "-P1D"], DUE)
    planned = domain.plan_reminders(steps, DUE - timedelta(days=2))
    assert [(p.step.name, p.status, p.late) for p in planned] == [
        ("reminder:-P7D", "skipped", False), ("reminder:-P3D", "scheduled", True),
        ("reminder:-P1D", "scheduled", False)]


def test_quiet_hours_weekends_and_real_thai_holidays_move_a_step_to_the_next_allowed_time():
    window = domain.SendWindow(quiet=domain.QuietHours(time(20), time(7)), working_days_only=True)
    # 21:30 on a Wednesday -> 07:00 Thursday
    assert window.next_allowed(bkk(2026, 12, 2, 21, 30)) == bkk(2026, 12, 3, 7, 0)
    # 05:00 -> 07:00 the same day
    assert window.next_allowed(bkk(2026, 12, 3, 5, 0)) == bkk(2026, 12, 3, 7, 0)
    # Constitution Day (Thu 10 Dec 2026) -> Friday 07:00
    assert window.next_allowed(bkk(2026, 12, 10, 10, 0)) == bkk(2026, 12, 11, 7, 0)
    # Father's Day (Sat 5 Dec), Sunday, the substitution day (Mon 7 Dec) -> Tuesday 07:00
    assert window.next_allowed(bkk(2026, 12, 5, 9, 0)) == bkk(2026, 12, 8, 7, 0)
    # Songkran 13-15 Apr 2026 -> Thursday 16 Apr 07:00
    assert window.next_allowed(bkk(2026, 4, 13, 10, 0)) == bkk(2026, 4, 16, 7, 0)
    assert window.allows(bkk(2026, 12, 11, 10, 0)) and not window.allows(bkk(2026, 12, 12, 10, 0))
    # without quiet hours and holiday shifting, nothing moves
    assert domain.SendWindow(None, False).next_allowed(bkk(2026, 12, 5, 23, 0)) == bkk(2026, 12, 5, 23, 0)


def test_a_step_that_would_move_past_the_deadline_moves_back_instead():
    window = domain.SendWindow(quiet=domain.QuietHours(time(20), time(7)), working_days_only=True)
    deadline = bkk(2026, 12, 8, 6, 0)      # Tue 06:00; Mon 7 Dec is a holiday
    step = deadline - timedelta(days=1)    # Mon 06:00
    assert domain.place_before_deadline(step, deadline, window) == bkk(2026, 12, 4, 19, 59)
    # a step with room before the deadline just moves forward
    assert domain.place_before_deadline(bkk(2026, 12, 10, 16, 30), bkk(2026, 12, 11, 16, 30), window) == \
        bkk(2026, 12, 11, 7, 0)


def test_quiet_hours_parse_and_disable():
    assert str(domain.parse_quiet_hours("20:00-07:00")) == "20:00-07:00"
    assert domain.parse_quiet_hours("") is None and domain.parse_quiet_hours("off") is None
    with pytest.raises(InputError) as error:
        domain.parse_quiet_hours("25:00-07:00")
    assert error.value.field == "quiet_hours.start"


# --- reminders ----------------------------------------------------------------------------------------

def test_reminders_go_at_each_step_and_stop_after_a_submission(world):
    for i in (1, 2):
        world.deliver(opened(i))
    world.dispatch(DUE - timedelta(days=6, hours=23))
    assert sorted(a for a, _, _ in world.email.sent) == ["lao1@x.test", "lao2@x.test"]
    assert "ร้อยละการเบิกจ่าย" in world.email.sent[0][1]
    world.deliver(submitted(1, world.clock.now))
    world.email.sent.clear()
    world.dispatch(DUE - timedelta(days=1, minutes=-1))
    world.dispatch(DUE - timedelta(minutes=1))
    assert [a for a, _, _ in world.email.sent] == ["lao2@x.test"] * 2
    assert world.status("LAO-1", "reminder:-P1D") == "cancelled"
    assert world.status("LAO-1", "reminder:MORNING") == "cancelled"


def _ends(world) -> list[tuple]:
    with world.database.session() as session:
        messages = session.execute(select(scheduled_messages.c.recipient_code, scheduled_messages.c.subject_ref,
                                          scheduled_messages.c.step, scheduled_messages.c.status,
                                          scheduled_messages.c.status_reason, scheduled_messages.c.digest_id)).all()
        states = session.execute(select(tracked_obligations.c.obligation_id, tracked_obligations.c.state)).all()
    return sorted(map(tuple, messages)) + sorted(map(tuple, states))


def test_submissions_in_one_batch_end_the_same_steps_as_one_at_a_time(tmp_path):
    """notifications takes a batch's run of submissions set-based (on_indicators_submitted): same rows
    as one message at a time, a step waiting in a daily digest and a duplicate included."""
    worlds = []
    for name in ("one", "batch"):
        (tmp_path / name).mkdir()
        world = World(tmp_path / name)
        for i in (1, 2, 3):
            world.deliver(opened(i))
        with world.database.engine.begin() as connection:  # o-2's first step waits in a daily digest
            connection.execute(update(scheduled_messages).where(
                scheduled_messages.c.subject_ref == "o-2", scheduled_messages.c.step == "reminder:-P7D").values(
                status="digested", digest_id="digest-1"))
        worlds.append(world)
    one, batch = worlds
    events = [encode(submitted(i, DUE - timedelta(days=8)), correlation_id="c").to_json() for i in (1, 2)]
    for body in events:
        assert one.consumer.process(body).outcome == "processed"
    outcomes = batch.consumer.process_batch([(body, 0) for body in [*events, events[0]]])
    assert [o.outcome for o in outcomes] == ["processed", "processed", "duplicate"]
    assert _ends(batch) == _ends(one)
    assert {row[3] for row in _ends(one) if row[1] in ("o-1", "o-2") and len(row) > 2} == {"cancelled"}
    assert {row[3] for row in _ends(one) if row[1] == "o-3" and len(row) > 2} == {"scheduled"}


def test_reminders_carry_the_document_number_due_time_in_thai_and_a_link(world):
    world.deliver(DirectiveIssued(directive_id="d", document_number="มท ๐๘๑๐.๓/ว ๑๒๓", title_th="เรื่องทดสอบ",
                                  urgency="urgent", issuer_code="DLA", addressee_count=3))
    world.deliver(opened(1))
    world.dispatch(DUE - timedelta(days=6, hours=23))
    _, subject, body = world.email.sent[0]
    assert "๓ ธ.ค. ๒๕๖๙ ๑๖.๐๐ น." in subject          # Buddhist era, Thai month and digits
    assert "มท ๐๘๑๐.๓/ว ๑๒๓" in body and "/obligations/o-1" in body


def test_a_ladder_per_rule_overrides_the_default(world):
    with world.database.unit_of_work() as uow:
        people.set_reminder_ladder(uow, "rule:r-9", ["-P2D"], "central")
        uow.commit()
    world.deliver(opened(1, rule_id="r-9"))
    assert sorted(r["step"] for r in world.rows(recipient_code="LAO-1")) == ["reminder:-P2D"]
    with world.database.unit_of_work() as uow, pytest.raises(InputError) as error:
        people.set_reminder_ladder(uow, "rule:r-9", ["-P2D", "tomorrow"], "central")
    assert error.value.field == "steps[1]"


def test_holiday_shifting_of_a_reminder_step(tmp_path):
    world = World(tmp_path, quiet_hours=domain.QuietHours(time(20), time(7)), working_days_only=True)
    due = bkk(2026, 12, 11, 16, 30)          # Friday; -P1D falls on Constitution Day
    world.deliver(opened(1, due=due))
    row = [r for r in world.rows(recipient_code="LAO-1") if r["step"] == "reminder:-P1D"][0]
    # forward would be Fri 07:00, an hour before the MORNING step: it goes the working day before
    assert row["nominal_at"] == bkk(2026, 12, 10, 16, 30) and row["due_at"] == bkk(2026, 12, 9, 16, 30)
    assert row["status_reason"].startswith("moved earlier: weekend or public holiday")
    world.dispatch(bkk(2026, 12, 9, 16, 29))
    assert world.status("LAO-1", "reminder:-P1D") == "scheduled"
    world.dispatch(bkk(2026, 12, 9, 16, 31))
    assert world.status("LAO-1", "reminder:-P1D") == "sent"


def test_quiet_hours_defer_a_message_due_at_night(tmp_path):
    world = World(tmp_path, quiet_hours=domain.QuietHours(time(20), time(7)), working_days_only=True)
    world.clock.now = bkk(2026, 12, 2, 21, 0)   # the obligation opens at night, due tomorrow
    world.deliver(opened(1, due=bkk(2026, 12, 3, 16, 0)))
    assert world.dispatch(bkk(2026, 12, 2, 21, 5)) == {}   # nothing is due yet: placed at 07:00
    row = [r for r in world.rows(recipient_code="LAO-1") if r["status"] == "scheduled"][0]
    assert row["due_at"] == bkk(2026, 12, 3, 7, 0)
    # a chase at night is deferred at send time too
    world.dispatch(bkk(2026, 12, 3, 7, 0))
    assert len(world.email.sent) == 1


# --- escalation -------------------------------------------------------------------------------------

def test_escalation_digest_goes_once_to_the_district_naming_the_missing_units(world):
    for i in (1, 2, 3):
        world.deliver(opened(i))
    for i in (2, 3):
        world.deliver(missed(i))
    world.dispatch(DUE + timedelta(days=3, minutes=1))
    world.dispatch(DUE + timedelta(days=4))
    digests = [m for m in world.email.sent if m[0] == "dlo1@x.test"]
    assert len(digests) == 1
    assert "2 จาก 3" in digests[0][1] and "LAO-2" in digests[0][2] and "LAO-3" in digests[0][2]
    assert "LAO-1" not in digests[0][2]
    heads = sorted(a for a, s, _ in world.email.sent if "เลยกำหนด" in s)
    assert heads == ["lao2@x.test", "lao3@x.test"]
    # the province gets its own single digest at +7 days
    world.dispatch(DUE + timedelta(days=7, minutes=1))
    assert len([m for m in world.email.sent if m[0] == "plo1@x.test"]) == 1


def test_the_lao_head_named_in_the_registry_gets_the_missed_deadline_not_the_routine_reminders(world):
    world.deliver(OrgUnitChanged(code="LAO-2", level="lao", parent_code="DLO-1", name_th="อบต.2",
                                 lao_type="sao", contact_email="lao2@x.test", head_name_th="นายกองค์การบริหารส่วนตำบล 2",
                                 head_email="nayok2@x.test", valid_from=date(2000, 1, 1)))
    for i in (2, 3):
        world.deliver(opened(i))
    world.dispatch(DUE - timedelta(days=1))
    reminded = {address for address, _, _ in world.email.sent}
    assert "nayok2@x.test" not in reminded and "lao2@x.test" in reminded
    for i in (2, 3):
        world.deliver(missed(i))
    world.dispatch(DUE + timedelta(days=1, minutes=1))
    told = sorted(a for a, s, _ in world.email.sent if "เลยกำหนด" in s)
    # LAO-2 names its head; LAO-3 does not, so its contact point stands in
    assert told == ["lao3@x.test", "nayok2@x.test"]
    assert world.status("head:LAO-2", "escalation:lao_head") == "sent"


def test_escalation_steps_only_go_while_still_missing(world):
    for i in (1, 2):
        world.deliver(opened(i))
        world.deliver(missed(i))
    world.dispatch(DUE + timedelta(days=1, minutes=1))          # LAO heads told
    for i in (1, 2):  # both report late before the district step
        world.deliver(IndicatorSubmitted(submission_id=f"s-{i}", obligation_id=f"o-{i}", unit_code=f"LAO-{i}",
                                         period="2570-01", values=[SubmittedValue(indicator_code="BUD-1", value=1)],
                                         submitted_at=DUE + timedelta(days=2), due_at=DUE, on_time=False))
    world.dispatch(DUE + timedelta(days=8))
    assert not [m for m in world.email.sent if m[0] in ("dlo1@x.test", "plo1@x.test")]
    assert world.status("DLO-1", "escalation:district") == "skipped"


# --- never twice ----------------------------------------------------------------------------------

def test_redelivered_events_and_repeated_ticks_never_send_twice(world):
    event = opened(1)
    body = encode(event, correlation_id="c").to_json()
    world.deliver(event)
    world.deliver(event)  # a new envelope with the same facts
    world.consumer.process(body)
    world.consumer.process(body)  # the very same message delivered twice
    for hours in range(0, 24 * 12, 6):
        world.dispatch(DUE - timedelta(days=10) + timedelta(hours=hours))
    assert len(world.email.keys) == len(set(world.email.keys)) == 4  # -P7D -P3D -P1D MORNING, each once


def test_a_claim_that_never_finished_is_marked_uncertain_not_resent(world):
    world.deliver(opened(1))
    at = DUE - timedelta(days=6, hours=23)
    claim = dispatch.claim_due(world.database, world.channels, world.settings, at)  # ... and the process dies
    assert len(claim.jobs) == 1
    world.dispatch(at + timedelta(minutes=5))   # within the lease: left alone
    world.dispatch(at + timedelta(minutes=30))  # lease over: uncertain, not repeated
    assert world.email.sent == []
    assert world.status("LAO-1", "reminder:-P7D") == "uncertain"
    with world.database.session() as session:
        ledger = session.execute(select(deliveries.c.status)).scalars().all()
    assert ledger == ["uncertain"]
    assert any('"final":true' in e.replace(" ", "") for e in world.events("notifications.notification_failed.v1"))


def test_a_crash_after_line_accepted_is_repeated_with_the_same_key_and_absorbed(world):
    world.deliver(OrgUnitChanged(code="LAO-1", level="lao", parent_code="DLO-1", name_th="อบต.1",
                                 valid_from="2000-01-01"))  # no e-mail: LINE first
    with world.database.unit_of_work() as uow:
        from services.notifications.models import recipients
        from sqlalchemy import update
        uow.session.execute(update(recipients).where(recipients.c.code == "LAO-1").values(
            line_ids='["U' + "a" * 32 + '"]'))
        uow.commit()
    world.deliver(opened(1))
    at = DUE - timedelta(days=6, hours=23)
    claim = dispatch.claim_due(world.database, world.channels, world.settings, at)
    job = dispatch.send_job(world.channels, claim.jobs[0])   # LINE accepted it ... and the process died
    assert job.error is None and len(world.line.sent) == 1
    world.dispatch(at + timedelta(minutes=30))               # repeated with the same retry key
    assert len(world.line.sent) == 1                         # the provider absorbed the repeat
    assert world.status("LAO-1", "reminder:-P7D") == "sent"
    with world.database.session() as session:
        ledger = sorted(session.execute(select(deliveries.c.status)).scalars().all())
    assert ledger == ["sent", "uncertain"]


def test_a_duplicate_scheduling_race_cannot_create_a_second_message(world):
    world.deliver(opened(1))
    with world.database.unit_of_work(correlation_id="c") as uow:
        assert not schedule(uow, kind="reminder", recipient_code="LAO-1", subject_ref="o-1",
                                      step="reminder:-P7D", nominal_at=DUE, due_at=DUE)
    from sqlalchemy.exc import IntegrityError
    row = world.rows(step="reminder:-P7D")[0]
    with world.database.unit_of_work() as uow, pytest.raises(IntegrityError):
        from sqlalchemy import insert
        uow.session.execute(insert(scheduled_messages).values({**row, "id": "other"}))
        uow.commit()


# --- failures, retries, fallback ---------------------------------------------------------------------

def test_a_failed_send_is_retried_with_backoff_not_lost(world):
    world.deliver(opened(1))
    world.email.errors.append(ChannelError("smtp down"))
    at = DUE - timedelta(days=6, hours=23)
    assert world.dispatch(at) == {"retrying": 1}
    assert world.email.sent == []
    assert world.dispatch(at + timedelta(seconds=30)) == {}          # backoff: 60 s
    assert world.dispatch(at + timedelta(seconds=61)) == {"sent": 1}


def test_after_the_last_retry_the_next_channel_is_used(world):
    world.deliver(OrgUnitChanged(code="LAO-1", level="lao", parent_code="DLO-1", name_th="อบต.1",
                                 contact_email="lao1@x.test", valid_from="2000-01-01"))
    from services.notifications.models import recipients
    from sqlalchemy import update
    with world.database.unit_of_work() as uow:
        uow.session.execute(update(recipients).where(recipients.c.code == "LAO-1").values(
            line_ids='["U' + "b" * 32 + '"]', fallback_order='["line", "email"]'))
        uow.commit()
    world.deliver(opened(1))
    world.line.errors += [ChannelError("line 500", retry_after=None)] * 3  # 3 attempts per channel
    at = DUE - timedelta(days=6, hours=23)
    assert world.dispatch(at) == {"retrying": 1}
    assert world.dispatch(at + timedelta(seconds=61)) == {"retrying": 1}
    assert world.dispatch(at + timedelta(seconds=61 + 301)) == {"fallback": 1, "sent": 1}
    assert [a for a, _, _ in world.email.sent] == ["lao1@x.test"] and world.line.sent == []
    with world.database.session() as session:
        attempts = session.execute(select(deliveries.c.channel, deliveries.c.status)
                                   .order_by(deliveries.c.attempt)).all()
    assert attempts == [("line", "failed")] * 3 + [("email", "sent")]


def test_a_permanent_refusal_falls_back_at_once_and_the_inapp_inbox_is_the_last_resort(world):
    world.deliver(opened(1))
    world.email.errors.append(ChannelError("recipient refused: 550", permanent=True))
    at = DUE - timedelta(days=6, hours=23)
    assert world.dispatch(at) == {"fallback": 1, "sent": 1}   # LAO-1 has no LINE or SMS: in-app
    with world.database.session() as session:
        items = session.execute(select(inbox_items)).mappings().all()
    assert len(items) == 1 and items[0]["recipient_code"] == "LAO-1"
    assert world.status("LAO-1", "reminder:-P7D") == "sent"


# --- catch-up ---------------------------------------------------------------------------------------

def test_after_downtime_the_latest_relevant_step_goes_late_and_earlier_ones_are_skipped(world):
    world.deliver(opened(1))
    world.deliver(opened(2))
    world.deliver(submitted(2, DUE - timedelta(days=8)))  # LAO-2 reported during the downtime
    # the service was down from T-10d to T-2d
    assert world.dispatch(DUE - timedelta(days=2)) == {"skipped": 1, "sent": 1}
    assert world.status("LAO-1", "reminder:-P7D") == "skipped"
    assert world.status("LAO-1", "reminder:-P3D") == "sent"
    late = [r for r in world.rows(recipient_code="LAO-1") if r["step"] == "reminder:-P3D"][0]
    assert late["late"] is True
    assert {r["status"] for r in world.rows(recipient_code="LAO-2")} == {"cancelled"}
    # an escalation whose deadline passed during downtime still goes, late, if still relevant
    world.deliver(missed(1))
    world.dispatch(DUE + timedelta(days=5))
    assert world.status("LAO-1", "escalation:lao_head") == "sent"
    assert [r for r in world.rows(recipient_code="LAO-1") if r["step"] == "escalation:lao_head"][0]["late"]


def test_nothing_is_dropped_silently_every_message_ends_with_a_reason(world):
    world.deliver(opened(1))
    world.deliver(ObligationCancelled(obligation_id="o-1", unit_code="LAO-1", reason="rule changed"))
    world.dispatch(DUE + timedelta(days=1))
    rows = world.rows(recipient_code="LAO-1")
    assert rows and all(r["status"] == "cancelled" and r["status_reason"] for r in rows)


# --- extensions, acknowledgements, directives -------------------------------------------------------------

def test_an_extension_reschedules_the_remaining_steps(world):
    world.deliver(opened(1))
    world.dispatch(DUE - timedelta(days=6, hours=23))     # -P7D sent
    new_due = DUE + timedelta(days=7)
    world.deliver(ExtensionGranted(request_id="x-1", obligation_id="o-1", unit_code="LAO-1", new_due_at=new_due,
                                   decided_by_unit_code="DLO-1", decided_at=world.clock.now))
    rows = {r["step"]: r for r in world.rows(recipient_code="LAO-1", kind="reminder")}
    assert rows["reminder:-P7D"]["status"] == "sent"               # not repeated
    assert rows["reminder:-P1D"]["due_at"] == new_due - timedelta(days=1)
    assert rows["reminder:-P3D"]["due_at"] == new_due - timedelta(days=3)
    world.dispatch(DUE)   # the old -P1D / MORNING times pass: nothing for the old deadline
    assert [s for _, s, _ in world.email.sent if "ขยายเวลา" in s]
    world.dispatch(new_due - timedelta(hours=1))
    reminder_keys = [k for k in world.email.keys if "reminder" in k]
    assert len(reminder_keys) == len(set(reminder_keys))


def test_a_new_directive_notifies_the_addressee_and_acknowledgement_cancels_ack_reminders(world):
    ack_due = DUE
    world.deliver(DirectiveIssued(directive_id="d", document_number="มท 1/2569", title_th="ให้ดำเนินการ",
                                  urgency="most_urgent", issuer_code="DLA", addressee_count=2,
                                  acknowledge_due_at=ack_due))
    for i in (1, 2):
        world.deliver(AssignmentCreated(assignment_id=f"a-{i}", directive_id="d", document_number="มท 1/2569",
                                        title_th="ให้ดำเนินการ", unit_code=f"LAO-{i}", acknowledge_due_at=ack_due,
                                        reporting=ReportingRequirement(indicator_code="BUD-1", indicator_name_th="ร้อยละ",
                                                                       period="2570-01", due_at=DUE)))
    world.dispatch()
    assert world.email.sent == []          # a notice that asks for a report waits five minutes ...
    world.deliver(opened(1, due=world.clock.now + timedelta(hours=12), assignment_id="a-1"))
    # ... and LAO-1's first reminder goes before it
    world.dispatch(world.clock.now + timedelta(minutes=6))
    notices = [(a, s) for a, s, _ in world.email.sent]
    assert [a for a, s in notices if "ข้อสั่งการใหม่" in s] == ["lao2@x.test"]
    assert all(s.startswith("[ด่วนที่สุด ข้อสั่งการใหม่]") and "ร้อยละ" in s for a, s in notices if a == "lao2@x.test")
    assert world.status("LAO-1", "assignment:new") == "skipped"
    world.deliver(AssignmentAcknowledged(assignment_id="a-1", directive_id="d", unit_code="LAO-1",
                                         acknowledged_at=world.clock.now))
    world.dispatch(ack_due - timedelta(hours=12))
    reminders = [a for a, s, _ in world.email.sent if "ลงรับ" in s]
    assert reminders == ["lao2@x.test"]
    assert world.status("LAO-1", "ack:-P1D") == "cancelled"
    # the acknowledgement deadline passes for LAO-2: it is told, and the district gets a digest
    world.deliver(AcknowledgementOverdue(assignment_id="a-2", directive_id="d", unit_code="LAO-2",
                                         acknowledge_due_at=ack_due, detected_at=ack_due))
    world.dispatch(ack_due + timedelta(days=1, minutes=1))
    overdue = [a for a, s, _ in world.email.sent if "เลยกำหนดลงรับ" in s]
    digest = [(s, b) for a, s, b in world.email.sent if a == "dlo1@x.test"]
    assert overdue == ["lao2@x.test"]
    assert len(digest) == 1 and "1 จาก 2" in digest[0][0] and "LAO-2" in digest[0][1]


# --- digests and caps -----------------------------------------------------------------------------

def test_a_daily_cap_folds_further_non_critical_messages_into_the_next_digest(tmp_path):
    world = World(tmp_path, daily_cap=2)
    for i in range(3):
        world.deliver(AssignmentCreated(assignment_id=f"a-{i}", directive_id=f"d-{i}", document_number=f"ว {i}",
                                        title_th=f"เรื่อง {i}", unit_code="LAO-1"))
    world.dispatch()
    assert len(world.email.sent) == 2
    assert {r["status"] for r in world.rows(recipient_code="LAO-1", kind="directive")} == {"sent", "digested"}
    # a critical message is never capped
    world.deliver(AcknowledgementOverdue(assignment_id="a-0", directive_id="d-0", unit_code="LAO-1",
                                         acknowledge_due_at=world.clock.now, detected_at=world.clock.now))
    world.dispatch()
    assert world.status("LAO-1", "ack:overdue") == "sent"
    # the digest goes at 08:00 and lists the held message
    digest = world.rows(recipient_code="LAO-1", kind="digest")[0]
    assert digest["due_at"].astimezone(BANGKOK).time() == time(8, 0)
    held = [r for r in world.rows(recipient_code="LAO-1", kind="directive") if r["status"] == "digested"][0]
    world.dispatch(digest["due_at"])
    body = [b for _, s, b in world.email.sent if s.startswith("[สรุปประจำวัน]")]
    assert len(body) == 1 and f"assignments/{held['subject_ref']}" in body[0]
    assert {r["status"] for r in world.rows(recipient_code="LAO-1", kind="directive")} == {"sent"}
    sent = world.events("notifications.notification_sent.v1")
    assert sum('"step":"assignment:new"' in e.replace(" ", "") for e in sent) == 3


def test_a_person_gets_non_critical_messages_in_one_daily_digest(world):
    user = {"username": "somchai", "org_code": "LAO-1", "display_name": "สมชาย", "role": "lao"}
    with world.database.unit_of_work() as uow:
        people.upsert_person(uow, user, {"channels": {"email": "somchai@x.test"}}, world.settings)
        uow.commit()
    world.deliver(opened(1))
    world.deliver(opened(2))  # another unit: not for him
    world.dispatch(DUE - timedelta(days=6, hours=23))
    to_him = [m for m in world.email.sent if m[0] == "somchai@x.test"]
    assert to_him == [] and [m[0] for m in world.email.sent if m[0] == "lao1@x.test"]
    digest = world.rows(recipient_code="user:somchai", kind="digest")[0]
    world.dispatch(digest["due_at"])
    to_him = [m for m in world.email.sent if m[0] == "somchai@x.test"]
    assert len(to_him) == 1 and "ร้อยละการเบิกจ่าย" in to_him[0][2]
    # critical ones reach him at once
    world.deliver(missed(1))
    world.dispatch(DUE + timedelta(days=1, minutes=1))
    assert [s for a, s, _ in world.email.sent if a == "somchai@x.test" and "เลยกำหนด" in s]


# --- people: preferences, inbox, LINE link, chase ------------------------------------------------------------

def test_preferences_are_validated_naming_the_field_and_change_nothing_on_error(world):
    user = {"username": "somchai", "org_code": "LAO-1", "display_name": "สมชาย", "role": "lao"}
    cases = [({"opt_out": ["deadline_missed"]}, "opt_out[0]"), ({"channels": {"email": "nope"}}, "channels.email"),
             ({"channels": {"sms": "12345"}}, "channels.sms"), ({"quiet_hours": {"start": "9pm", "end": "07:00"}},
                                                                "quiet_hours.start"),
             ({"fallback_order": ["email", "fax"]}, "fallback_order[1]"), ({"colour": "red"}, "colour"),
             ({"language": "fr"}, "language")]
    for body, field in cases:
        with world.database.unit_of_work() as uow, pytest.raises(InputError) as error:
            people.upsert_person(uow, user, body, world.settings)
        assert error.value.field == field, body
    with world.database.session() as session:
        assert views.get_preferences(session, user, world.settings)["channels"]["email"] is None
    with world.database.unit_of_work() as uow:
        saved = people.upsert_person(uow, user, {
            "language": "en", "date_digits": "arabic", "channels": {"email": "s@x.test", "sms": "081-234-5678"},
            "fallback_order": ["sms", "email"], "quiet_hours": {"start": "21:00", "end": "06:30"},
            "opt_out": ["directive"], "digest": False}, world.settings)
        uow.commit()
    assert saved["channels"]["sms"] == "+66812345678" and saved["fallback_order"] == ["sms", "email", "inapp"]
    assert saved["quiet_hours"] == {"start": "21:00", "end": "06:30"} and saved["opt_out"] == ["directive"]


def test_inapp_inbox_read_and_unread(world):
    user = {"username": "somchai", "org_code": "LAO-1", "display_name": "สมชาย", "role": "lao"}
    with world.database.unit_of_work() as uow:
        people.upsert_person(uow, user, {"fallback_order": ["inapp"], "digest": False}, world.settings)
        uow.commit()
    world.deliver(opened(1))
    world.dispatch(DUE - timedelta(days=6, hours=23))
    with world.database.session() as session:
        box = views.list_inbox(session, user)
    assert box["unread"] == 1 and box["items"][0]["read"] is False
    with world.database.unit_of_work() as uow:
        people.mark_read(uow, user, box["items"][0]["id"])
        uow.commit()
    with world.database.session() as session:
        assert views.list_inbox(session, user)["unread"] == 0
        assert views.list_inbox(session, user, unread_only=True)["items"] == []
    other = {"username": "x", "org_code": "LAO-2"}
    with world.database.unit_of_work() as uow, pytest.raises(InputError) as error:
        people.mark_read(uow, other, box["items"][0]["id"])
    assert error.value.status == 404


def test_line_link_with_a_one_time_code(world):
    user = {"username": "somchai", "org_code": "LAO-1", "display_name": "สมชาย", "role": "lao"}
    with world.database.unit_of_work() as uow:
        link = people.create_line_link(uow, user, "me", world.settings)
        uow.commit()
    assert link["code"].startswith("TT-") and "LINE" in link["instructions_th"]
    line_id = "U" + "c" * 32
    with world.database.unit_of_work() as uow:
        done = people.complete_line_link(uow, f"รหัส {link['code'].lower()}", line_id)
        uow.commit()
    assert done == {"linked": True, "recipient_code": "user:somchai", "username": "somchai"}
    with world.database.unit_of_work() as uow, pytest.raises(InputError) as error:
        people.complete_line_link(uow, link["code"], line_id)   # one-time
    assert error.value.field == "code"
    with world.database.session() as session:
        assert views.get_preferences(session, user, world.settings)["channels"]["line"] == {"linked": True,
                                                                                                "count": 1}


def test_a_chase_goes_now_but_never_twice_the_same_day(world):
    world.deliver(opened(1))
    world.deliver(missed(1))
    officer = {"username": "dlo", "org_code": "DLO-1", "display_name": "ท้องถิ่นอำเภอ", "role": "district"}
    now = DUE + timedelta(hours=2)
    with world.database.unit_of_work() as uow:
        first = people.chase(uow, "o-1", officer, "DLO-1", now, world.settings)
        again = people.chase(uow, "o-1", officer, "DLO-1", now + timedelta(hours=1), world.settings)
        uow.commit()
    assert first["queued"] == 1 and again == {**first, "queued": 0, "already_chased_today": 1}
    world.dispatch(now + timedelta(hours=1))
    chased = [s for a, s, _ in world.email.sent if s.startswith("[ติดตาม]")]
    assert len(chased) == 1 and "สถอ.หนึ่ง" in chased[0]
    stranger = {"username": "p2", "org_code": "PLO-2", "role": "province"}
    with world.database.unit_of_work() as uow, pytest.raises(InputError) as error:
        people.chase(uow, "o-1", stranger, "PLO-2", now, world.settings)
    assert error.value.status == 403


def test_english_recipients_get_english_with_ce_dates(world):
    user = {"username": "john", "org_code": "LAO-1", "display_name": "John", "role": "lao"}
    with world.database.unit_of_work() as uow:
        people.upsert_person(uow, user, {"language": "en", "channels": {"email": "j@x.test"}, "digest": False},
                               world.settings)
        uow.commit()
    world.deliver(opened(1))
    world.dispatch(DUE - timedelta(days=6, hours=23))
    subject = [s for a, s, _ in world.email.sent if a == "j@x.test"][0]
    assert subject == "[Reminder] Please report BUD-1 by 3 Dec 2026 16:00"


def test_deliveries_ledger_filters_and_bad_filters(world):
    world.deliver(opened(1))
    world.dispatch(DUE - timedelta(days=6, hours=23))
    with world.database.session() as session:
        sent = views.list_deliveries(session, {"status": "sent", "channel": "email"})
        assert sent["total"] == 1 and sent["items"][0]["attempts"][0]["status"] == "sent"
        for bad, field in (({"status": "lost"}, "status"), ({"limit": 0}, "limit"), ({"since": "yesterday"}, "since")):
            with pytest.raises(InputError) as error:
                views.list_deliveries(session, bad)
            assert error.value.field == field


def test_an_extension_request_reaches_the_supervising_offices_and_the_decision_the_unit(world):
    from shared.contracts.events import ExtensionDenied, ExtensionRequested
    world.deliver(opened(1))
    now = world.clock.now
    asked = ExtensionRequested(request_id="x-1", obligation_id="o-1", unit_code="LAO-1",
                               requested_due_at=DUE + timedelta(days=7), reason="ระบบไฟฟ้าขัดข้อง", requested_at=now)
    world.deliver(asked)
    world.deliver(asked)                                  # redelivered: still one message each
    world.dispatch(now + timedelta(minutes=1))
    requests = sorted((a, s) for a, s, _ in world.email.sent if s.startswith("[ขอขยายเวลา]"))
    assert [a for a, _ in requests] == ["dlo1@x.test", "plo1@x.test"]
    assert "อบต.1" in requests[0][1] and "ระบบไฟฟ้าขัดข้อง" in [b for a, s, b in world.email.sent if a == "dlo1@x.test"][0]
    world.deliver(ExtensionDenied(request_id="x-1", obligation_id="o-1", unit_code="LAO-1", decided_by_unit_code="DLO-1",
                                  comment="ไม่มีเหตุจำเป็น", decided_at=now))
    world.dispatch(now + timedelta(minutes=2))
    denied = [(a, s, b) for a, s, b in world.email.sent if s.startswith("[ไม่อนุมัติขยายเวลา]")]
    assert len(denied) == 1 and denied[0][0] == "lao1@x.test"
    assert "ไม่มีเหตุจำเป็น" in denied[0][2] and "สถอ.หนึ่ง" in denied[0][2]
    # a request decided before its notice went: the notice is cancelled, the decision goes
    world.deliver(ExtensionRequested(request_id="x-2", obligation_id="o-1", unit_code="LAO-1",
                                     requested_due_at=DUE + timedelta(days=3), reason="ขอเวลาเพิ่ม", requested_at=now))
    world.deliver(ExtensionGranted(request_id="x-2", obligation_id="o-1", unit_code="LAO-1",
                                   new_due_at=DUE + timedelta(days=3), decided_by_unit_code="PLO-1", decided_at=now))
    assert {r["status"] for r in world.rows(step="extension_request:x-2")} == {"cancelled"}
    world.dispatch(now + timedelta(minutes=3))
    granted = [s for a, s, _ in world.email.sent if a == "lao1@x.test" and s.startswith("[ขยายเวลา]")]
    assert len(granted) == 1
    assert len([s for a, s, _ in world.email.sent if a == "lao1@x.test" and "ขยายเวลา" in s]) == 2


def test_a_chase_says_when_it_will_really_go(tmp_path):
    world = World(tmp_path, quiet_hours=domain.QuietHours(time(20), time(7)), working_days_only=True)
    world.deliver(opened(1, due=bkk(2026, 12, 4, 16, 0)))
    world.deliver(missed(1, due=bkk(2026, 12, 4, 16, 0)))
    officer = {"username": "dlo", "org_code": "DLO-1", "display_name": "ท้องถิ่นอำเภอ", "role": "district"}
    friday_night = bkk(2026, 12, 4, 21, 30)   # then Father's Day, Sunday and the substitution Monday
    with world.database.unit_of_work() as uow:
        answer = people.chase(uow, "o-1", officer, "DLO-1", friday_night, world.settings)
        again = people.chase(uow, "o-1", officer, "DLO-1", friday_night + timedelta(minutes=5), world.settings)
        uow.commit()
    assert answer["queued"] == 1 and answer["sends_now"] is False and answer["status"] == "scheduled"
    assert datetime.fromisoformat(answer["scheduled_for"]) == bkk(2026, 12, 8, 7, 0)
    assert answer["deferred_because"] == "quiet hours 20:00-07:00"
    assert again["already_chased_today"] == 1 and again["scheduled_for"] == answer["scheduled_for"]
    tuesday = bkk(2026, 12, 8, 10, 0)
    with world.database.unit_of_work() as uow:
        now_answer = people.chase(uow, "o-1", officer, "DLO-1", tuesday, world.settings)
        uow.commit()
    assert now_answer["sends_now"] is True and datetime.fromisoformat(now_answer["scheduled_for"]) == tuesday


def test_a_reminder_found_outside_its_window_after_downtime_is_skipped_if_it_could_only_go_after_the_deadline(tmp_path):
    world = World(tmp_path, quiet_hours=domain.QuietHours(time(20), time(7)), working_days_only=True)
    due = bkk(2026, 12, 17, 20, 57)
    world.deliver(opened(1, due=due))
    # the scheduler was down all day and comes back at 20:30: MORNING's time has passed, quiet hours now
    world.dispatch(bkk(2026, 12, 17, 20, 30))
    assert world.email.sent == []
    morning = [r for r in world.rows(recipient_code="LAO-1") if r["step"] == "reminder:MORNING"][0]
    assert morning["status"] == "skipped" and "after the deadline" in morning["status_reason"]
    assert not [r for r in world.rows(recipient_code="LAO-1") if r["status"] == "scheduled"]


# --- the registry over time (issue #16) -------------------------------------------------------------------

MERGED_ON = date(2026, 12, 1)   # between the -P3D (30 Nov) and -P1D (2 Dec) reminders of DUE


def _lao(i, revision=0, valid_from=date(2000, 1, 1), valid_to=None, **extra) -> OrgUnitChanged:
    return OrgUnitChanged(code=f"LAO-{i}", level="lao", parent_code="DLO-1", name_th=f"อบต.{i}",
                          contact_email=f"lao{i}@x.test", head_email=f"nayok{i}@x.test", valid_from=valid_from,
                          valid_to=valid_to, revision=revision, **extra)


def _recipient(world, code):
    from services.notifications.models import recipients
    with world.database.session() as session:
        return dict(session.execute(select(recipients).where(recipients.c.code == code)).mappings().one())


def test_a_closing_cancels_the_units_messages_from_that_day_and_schedules_nothing_new_for_it(world):
    world.deliver(_lao(1))
    for i in (1, 2):
        world.deliver(opened(i))
    world.deliver(_lao(1, revision=1, valid_to=MERGED_ON, change_kind="merged", successor_codes=["LAO-2"]))
    assert _recipient(world, "LAO-1")["valid_to"] == "2026-12-01"
    steps = {r["step"]: r for r in world.rows(recipient_code="LAO-1")}
    assert steps["reminder:-P7D"]["status"] == steps["reminder:-P3D"]["status"] == "scheduled"
    for step in ("reminder:-P1D", "reminder:MORNING"):
        assert steps[step]["status"] == "cancelled"
        assert steps[step]["status_reason"] == "unit closed on 2026-12-01 (merged into LAO-2)"
    assert {r["status"] for r in world.rows(recipient_code="LAO-2")} == {"scheduled"}   # the successor's own
    world.dispatch(DUE - timedelta(days=6, hours=23))   # what goes before the closing still goes
    assert sorted(a for a, _, _ in world.email.sent) == ["lao1@x.test", "lao2@x.test"]
    # nothing new after the closing: a later report's ladder and a missed deadline's escalation to the head
    world.deliver(opened(1, due=DUE + timedelta(days=20)) .model_copy(update={"obligation_id": "o-late"}))
    late = [r for r in world.rows(subject_ref="o-late") if r["recipient_code"] == "LAO-1"]
    assert late and {r["status"] for r in late} == {"skipped"}
    assert all(r["status_reason"].startswith("unit closed on 2026-12-01") for r in late)
    world.deliver(missed(1))
    head = [r for r in world.rows(recipient_code="head:LAO-1") if r["step"] == "escalation:lao_head"]
    assert [r["status"] for r in head] == ["skipped"]
    # nothing after it
    world.email.sent.clear()
    world.dispatch(DUE + timedelta(days=2))
    assert [a for a, _, _ in world.email.sent if a in ("lao1@x.test", "nayok1@x.test")] == []


def test_a_closing_undone_by_the_version_after_it_gives_the_messages_back(world):
    """An upgrade on 1 Dec whose ended version arrives before the new one: for a moment the unit
    looks closed; when the version from 1 Dec arrives it is not, and its reminders come back."""
    world.deliver(_lao(1))
    world.deliver(opened(1))
    world.deliver(_lao(1, revision=1, valid_to=MERGED_ON, change_kind="type_changed"))
    assert world.status("LAO-1", "reminder:-P1D") == "cancelled"
    world.deliver(_lao(1, revision=2, valid_from=MERGED_ON, lao_type="subdistrict_municipality",
                       change_kind="type_changed"))
    assert _recipient(world, "LAO-1")["valid_to"] is None
    assert {r["status"] for r in world.rows(recipient_code="LAO-1")} == {"scheduled"}
    # the same two versions in the other order and twice: the same recipient
    world.deliver(_lao(1, revision=1, valid_to=MERGED_ON, change_kind="type_changed"))
    world.deliver(_lao(1, revision=0))   # stale: the version from 2000 as it was before it ended
    assert _recipient(world, "LAO-1")["valid_to"] is None
    assert {r["status"] for r in world.rows(recipient_code="LAO-1")} == {"scheduled"}


def test_a_recipient_is_the_version_that_holds_today(world):
    # today (the clock) is 23 Nov 2026: a rename from 1 Jan 2027 is not yet the name
    world.deliver(_lao(1, revision=1, valid_to=date(2027, 1, 1), change_kind="renamed"))
    world.deliver(OrgUnitChanged(code="LAO-1", level="lao", parent_code="DLO-1", name_th="ทต.หนึ่ง",
                                 contact_email="tm1@x.test", valid_from=date(2027, 1, 1), revision=2,
                                 change_kind="renamed"))
    row = _recipient(world, "LAO-1")
    assert (row["name_th"], row["email"], row["valid_to"]) == ("อบต.1", "lao1@x.test", None)
    world.clock.now = datetime(2027, 1, 2, 3, 0, tzinfo=timezone.utc)
    world.deliver(_lao(1, revision=1, valid_to=date(2027, 1, 1), change_kind="renamed"))  # again, later
    row = _recipient(world, "LAO-1")
    assert (row["name_th"], row["email"]) == ("ทต.หนึ่ง", "tm1@x.test")


# --- the pure rules, without a database -------------------------------------------------------------

def test_relevance_of_a_message_is_a_rule_over_its_subject_as_it_stands():
    now = datetime(2026, 2, 3, 9, 0, tzinfo=BANGKOK)
    open_one = {"state": "open", "due_at": now + timedelta(days=1)}
    assert domain.relevance("reminder", open_one, now) is None
    assert domain.relevance("reminder", {**open_one, "due_at": now}, now) == "deadline passed"
    assert domain.relevance("reminder", {**open_one, "state": "submitted"}, now) == "obligation is submitted"
    assert domain.relevance("reminder", None, now) == "obligation unknown"
    assert domain.relevance("chase", {**open_one, "state": "missed"}, now) is None
    assert domain.relevance("extension", {**open_one, "state": "missed"}, now, decision="denied") is None
    assert domain.relevance("extension", {**open_one, "state": "missed"}, now) == "obligation is missed"
    assignment = {"state": "issued", "acknowledge_due_at": now - timedelta(minutes=1)}
    assert domain.relevance("ack_reminder", assignment, now) == "acknowledgement deadline passed"
    assert domain.relevance("directive", assignment, now, reminded=True) == \
        "covered by a reminder of the same report, already sent"
    assert domain.relevance("escalation", None, now) is None  # decided when the digest is composed


def test_who_may_get_a_message_and_when_it_waits_for_the_digest():
    now = datetime(2026, 2, 3, 9, 0, tzinfo=BANGKOK)
    person = {"opt_out": ["review"], "valid_to": None}
    assert domain.why_not_to(None, "reminder", now) == "recipient unknown"
    assert domain.why_not_to({**person, "valid_to": "2026-02-03"}, "reminder", now) == "unit closed"
    assert domain.why_not_to(person, "review", now) == "opted out"
    assert domain.why_not_to({**person, "opt_out": ["chase"]}, "chase", now) is None  # critical
    assert domain.digest_reason("reminder", True, 0, 20) == "in the daily digest"
    assert domain.digest_reason("reminder", False, 20, 20) == "daily cap reached: in the daily digest"
    assert domain.digest_reason("reminder", False, 19, 20) is None
    assert domain.digest_reason("chase", True, 99, 20) is None


def test_catch_up_keeps_the_latest_due_step_of_each_ladder():
    t = datetime(2026, 2, 3, 9, 0, tzinfo=BANGKOK)
    due = [("a", ("LAO-1", "o-1", "reminder"), t), ("b", ("LAO-1", "o-1", "reminder"), t + timedelta(days=1)),
           ("c", ("LAO-2", "o-1", "reminder"), t)]
    assert domain.superseded_steps(due) == ["a"]


def test_a_unit_stands_as_the_version_holding_the_day_and_its_closing_says_so():
    versions = [{"valid_from": "2026-01-01", "valid_to": "2026-06-01", "id": 1},
                {"valid_from": "2026-06-01", "valid_to": "2026-09-01", "id": 2}]
    assert domain.version_holding(versions, "2025-12-31")["id"] == 1  # not open yet: as it will open
    assert domain.version_holding(versions, "2026-06-01")["id"] == 2
    assert domain.version_holding(versions, "2027-01-01")["id"] == 2  # closed: as it last stood
    state = domain.UnitState("LAO-1", "2026-09-01", ["LAO-9"], "merged")
    assert domain.closing_reason(state) == "unit closed on 2026-09-01 (merged into LAO-9)"
    assert domain.closed_by({"closes_on": "2026-09-01"}, datetime(2026, 9, 1, 8, tzinfo=BANGKOK))
    assert domain.closed_by({"closes_on": "2026-09-01"}, datetime(2026, 8, 31, 23, tzinfo=BANGKOK)) is None


# --- the composition root ---------------------------------------------------------------------------

def test_bootstrap_binds_each_event_handler_to_its_settings_and_clock(monkeypatch):
    from services.notifications import planning
    monkeypatch.setenv("THONGTHIN_DAILY_CAP", "7")
    monkeypatch.setenv("THONGTHIN_SEND_CONCURRENCY", "3")
    app = bootstrap.bootstrap({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": 8025, "MAIL_FROM": "t@x.test"})
    assert (app.settings.daily_cap, app.settings.send_concurrency) == (7, 3)
    assert set(app.event_handlers) == set(planning.EVENT_HANDLERS)
    assert app.event_handlers[ObligationOpened.TYPE].keywords == {"settings": app.settings, "clock": app.clock}
    submitted = app.event_handlers[IndicatorSubmitted.TYPE]  # needs neither: as it is, with its set-based twin
    assert submitted is planning.on_indicator_submitted and submitted.many is planning.on_indicators_submitted


def test_no_setting_is_read_at_import(tmp_path):
    import os
    import subprocess
    import sys
    env = {**os.environ, "THONGTHIN_DIGEST_TIME": "not a time"}
    done = subprocess.run([sys.executable, "-c", "import services.notifications.service"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    with pytest.raises(InputError):
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("THONGTHIN_DIGEST_TIME", "not a time")
            bootstrap.settings_from_env()
