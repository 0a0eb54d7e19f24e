"""notifications: ladders, cancel on submit, escalation digests, never the same message twice."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from services.notifications import domain, handlers
from services.notifications.channels import ChannelError
from services.notifications.models import metadata, scheduled_messages
from shared.contracts import encode
from shared.contracts.events import (DeadlineMissed, IndicatorSubmitted, ObligationOpened,
                                     OrgUnitChanged, SubmittedValue)
from shared.messaging.inbox import ReliableConsumer
from tests.fakes import sqlite_database

DUE = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)


class FakeEmail:
    name = "email"

    def __init__(self):
        self.sent: list[tuple[str, str, str]] = []
        self.keys: list[str] = []
        self.fail_next = 0

    def send(self, address, subject, body, *, idempotency_key):
        if self.fail_next:
            self.fail_next -= 1
            raise ChannelError("smtp down")
        self.sent.append((address, subject, body))
        self.keys.append(idempotency_key)
        return idempotency_key


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def world(tmp_path):
    database = sqlite_database(tmp_path, metadata)
    clock = Clock(DUE - timedelta(days=10))
    settings = handlers.Settings(escalation_ladder=[("lao_head", timedelta(days=1)),
                                                    ("district", timedelta(days=3))])
    consumer = ReliableConsumer("notifications.events", database,
                                handlers.make_event_handlers(settings, clock=clock), [10])

    def deliver(event):
        outcome = consumer.process(encode(event, correlation_id="c").to_json())
        assert outcome.outcome in ("processed", "duplicate"), outcome
        return outcome

    units = [OrgUnitChanged(code="DLO-1", level="district_office", name_th="สถอ.หนึ่ง",
                            contact_email="dlo1@x.test", valid_from="2000-01-01")]
    units += [OrgUnitChanged(code=f"LAO-{i}", level="lao", parent_code="DLO-1", name_th=f"อบต.{i}",
                             contact_email=f"lao{i}@x.test", valid_from="2000-01-01") for i in range(1, 4)]
    for unit in units:
        deliver(unit)
    return database, clock, settings, deliver


def opened(i) -> ObligationOpened:
    return ObligationOpened(obligation_id=f"o-{i}", unit_code=f"LAO-{i}", directive_id="d",
                            indicator_code="BUD-1", indicator_name_th="ร้อยละการเบิกจ่าย", period="2570-01",
                            due_at=DUE)


def statuses(database):
    with database.session() as session:
        rows = session.execute(select(scheduled_messages.c.recipient_code, scheduled_messages.c.step,
                                      scheduled_messages.c.status)).all()
    return {(r, s): st for r, s, st in rows}


def test_parse_offsets_and_ladders():
    assert domain.parse_offset("-P7D") == -timedelta(days=7)
    assert domain.parse_offset("PT1H30M") == timedelta(hours=1, minutes=30)
    with pytest.raises(ValueError):
        domain.parse_offset("7 days")
    steps = domain.reminder_steps(["-P7D", "-P1D", "MORNING"], DUE)  # due 16:00 Bangkok
    assert [s.at for s in steps] == [DUE - timedelta(days=7), DUE - timedelta(days=1),
                                     datetime(2026, 12, 3, 1, 0, tzinfo=timezone.utc)]


def test_steps_already_past_are_skipped_except_the_latest_which_goes_now_and_late():
    steps = domain.reminder_steps(["-P7D", "-P3D", "-P1D"], DUE)
    planned = domain.plan_reminders(steps, DUE - timedelta(days=2))
    assert [(p.step.name, p.status, p.late) for p in planned] == [
        ("reminder:-P7D", "skipped", False), ("reminder:-P3D", "scheduled", True),
        ("reminder:-P1D", "scheduled", False)]


def test_reminders_go_at_each_step_and_stop_after_a_submission(world):
    database, clock, settings, deliver = world
    for i in (1, 2):
        deliver(opened(i))
    email = FakeEmail()
    clock.now = DUE - timedelta(days=6, hours=23)
    handlers.dispatch_due(database, email, settings, now=clock.now)
    assert sorted(a for a, _, _ in email.sent) == ["lao1@x.test", "lao2@x.test"]
    assert "ร้อยละการเบิกจ่าย" in email.sent[0][1]
    deliver(IndicatorSubmitted(submission_id="s", obligation_id="o-1", unit_code="LAO-1", period="2570-01",
                               values=[SubmittedValue(indicator_code="BUD-1", value=1)],
                               submitted_at=clock.now, due_at=DUE, on_time=True))
    email.sent.clear()
    handlers.dispatch_due(database, email, settings, now=DUE)
    assert {a for a, _, _ in email.sent} == {"lao2@x.test"}
    assert statuses(database)[("LAO-1", "reminder:-P1D")] == "cancelled"


def test_escalation_digest_goes_once_to_the_district_naming_the_missing_units(world):
    database, clock, settings, deliver = world
    for i in (1, 2, 3):
        deliver(opened(i))
    for i in (2, 3):
        deliver(DeadlineMissed(obligation_id=f"o-{i}", unit_code=f"LAO-{i}", directive_id="d",
                               indicator_code="BUD-1", period="2570-01", due_at=DUE, detected_at=DUE))
    email = FakeEmail()
    handlers.dispatch_due(database, email, settings, now=DUE + timedelta(days=3, minutes=1))
    handlers.dispatch_due(database, email, settings, now=DUE + timedelta(days=4))
    digests = [m for m in email.sent if m[0] == "dlo1@x.test"]
    assert len(digests) == 1
    assert "2 จาก 3" in digests[0][1] and "LAO-2" in digests[0][2] and "LAO-3" in digests[0][2]
    heads = sorted(a for a, s, _ in email.sent if "เลยกำหนด" in s)
    assert heads == ["lao2@x.test", "lao3@x.test"]


def test_redelivered_events_and_repeated_ticks_never_send_twice(world):
    database, clock, settings, deliver = world
    event = opened(1)
    body = encode(event, correlation_id="c").to_json()
    deliver(event)
    deliver(event)  # a new envelope with the same facts
    consumer = ReliableConsumer("notifications.events", database,
                                handlers.make_event_handlers(settings, clock=clock), [10])
    consumer.process(body)
    consumer.process(body)
    email = FakeEmail()
    for hours in range(0, 24 * 12, 6):
        handlers.dispatch_due(database, email, settings, now=clock.now + timedelta(hours=hours))
    assert len(email.keys) == len(set(email.keys)) == 4  # -P7D -P3D -P1D MORNING, each once


def test_a_failed_send_is_retried_later_not_lost(world):
    database, clock, settings, deliver = world
    deliver(opened(1))
    email = FakeEmail()
    email.fail_next = 1
    at = DUE - timedelta(days=6, hours=23)
    assert handlers.dispatch_due(database, email, settings, now=at) == {"scheduled": 1}
    assert email.sent == []
    assert handlers.dispatch_due(database, email, settings, now=at + timedelta(minutes=1)) == {"sent": 1}


def test_a_claim_that_never_finished_is_marked_uncertain_not_resent(world):
    database, clock, settings, deliver = world
    deliver(opened(1))
    at = DUE - timedelta(days=6, hours=23)
    claimed = handlers.claim_due(database, at, settings)  # ... and the process dies here
    assert len(claimed) == 1
    email = FakeEmail()
    handlers.dispatch_due(database, email, settings, now=at + timedelta(minutes=30))
    assert email.sent == []
    assert statuses(database)[("LAO-1", "reminder:-P7D")] == "uncertain"
