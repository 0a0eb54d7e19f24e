"""Reminders under the real rules (quiet hours 20:00-07:00, weekends and Thai public holidays, the
default ladder -P7D,-P3D,-P1D,MORNING), through the HTTP API, every service a real process:

* a report due at 20:57 gets every reminder before its deadline, none in quiet hours;
* the monthly day-3 rule of the MOI memo (seed 004, "ให้รายงานผลการเบิกจ่ายงบประมาณทุกวันที่ ๓ ของเดือน")
  across a holiday weekend: distinct steps never go within the hour of each other, one message on
  the due day, every merge or move written in the ledger;
* the district's chase answers when the message will really go, and that is what the ledger says.

Times are judged from the ledger (GET /api/v1/notifications/deliveries), since the stack runs on
the wall clock: the steps lie days ahead."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from services.assessments.schedule import is_working_day
from shared.thai import BANGKOK
from tests.e2e.conftest import client
from tests.e2e.test_thin_journey import UNITS, wait_until

LADDER = ("reminder:-P7D", "reminder:-P3D", "reminder:-P1D", "reminder:MORNING")


@pytest.fixture(scope="module")
def world(stack):
    central = client(stack, "central")
    assert central.post(f"{central.base}/org-units", json={"units": UNITS}).status_code == 200
    return {"central": central, "ops": client(stack, "ops"), "district": client(stack, "muang-chainat")}


def allowed(moment: datetime) -> bool:
    """What the platform promises: working days, not in quiet hours (Bangkok)."""
    local = moment.astimezone(BANGKOK)
    return is_working_day(local.date()) and time(7, 0) <= local.time().replace(tzinfo=None) < time(20, 0)


def issue(central, number: str, reporting: dict) -> str:
    issued = central.post(f"{central.base}/directives", json={
        "document_number": number, "document_date": date.today().isoformat(), "urgency": "urgent",
        "subject_th": "รายงานผลการเบิกจ่ายงบประมาณ", "text_th": "ให้ อปท. รายงานผลการเบิกจ่ายงบประมาณ",
        "addressees": {"level": "lao", "within": "DLO-0115"},
        "reporting": {"indicator_code": "DISB-PCT", "indicator_name_th": "ร้อยละการเบิกจ่าย", "value_type": "percent",
                      "minimum": 0, "maximum": 100, **reporting}})
    assert issued.status_code == 201, issued.text
    return issued.json()["directive_id"]


def obligation_of(central, directive_id: str, unit_code: str = "LAO-180101") -> dict:
    found = wait_until(lambda: [o for o in central.get(f"{central.base}/obligations",
                                                       params={"unit_code": unit_code, "limit": 1000}).json()["items"]
                                if o["directive_id"] == directive_id], timeout=90)
    assert len(found) == 1, found
    return found[0]


def ladder_rows(ops, obligation_id: str, recipient: str = "LAO-180101") -> list[dict]:
    def rows():
        items = ops.get(f"{ops.base}/notifications/deliveries", params={
            "subject_ref": obligation_id, "kind": "reminder", "recipient_code": recipient}).json()["items"]
        return len(items) == len(LADDER) and items
    found = wait_until(rows, timeout=90)
    assert found, "the ladder was planned"
    return found


def check_plan(rows: list[dict], due: datetime) -> list[dict]:
    """The invariants, on what the ledger says; returns the scheduled rows in time order."""
    assert sorted(r["step"] for r in rows) == sorted(LADDER)
    scheduled = sorted((r for r in rows if r["status"] == "scheduled"), key=lambda r: r["due_at"])
    assert scheduled, rows
    times = [datetime.fromisoformat(r["due_at"]) for r in scheduled]
    for row, at in zip(scheduled, times):
        assert at < due, row                     # never after the deadline
        assert allowed(at), row                  # never at night, on a weekend or a holiday
    assert all(b - a >= timedelta(hours=1) for a, b in zip(times, times[1:])), scheduled
    for row in rows:
        if row["status"] != "scheduled":
            assert row["status"] == "skipped" and row["reason"], row   # merged or skipped: said so
    return scheduled


def test_a_report_due_at_20_57_gets_its_reminders_before_the_deadline(world):
    central, ops = world["central"], world["ops"]
    due_day = datetime.now(BANGKOK).date() + timedelta(days=12)
    while not is_working_day(due_day):
        due_day += timedelta(days=1)
    due = datetime.combine(due_day, time(20, 57), tzinfo=BANGKOK)
    directive_id = issue(central, "มท ๐๘๑๐.๓/ว ๒๐๕๗", {"period": "2570-01", "due_at": due.isoformat()})
    obligation = obligation_of(central, directive_id)
    scheduled = check_plan(ladder_rows(ops, obligation["id"]), due)
    # opened twelve days ahead: every step still has its own allowed time before 20:57
    assert len(scheduled) == len(LADDER), scheduled
    by_step = {r["step"]: datetime.fromisoformat(r["due_at"]).astimezone(BANGKOK) for r in scheduled}
    assert by_step["reminder:MORNING"] == datetime.combine(due_day, time(8, 0), tzinfo=BANGKOK)
    # the day before at 20:57 is quiet: it goes that evening before quiet hours, not 07:00 on the due day
    assert by_step["reminder:-P1D"].date() < due_day


def next_day_three_after_a_holiday(now: datetime) -> date:
    """The next 3rd of a month (obligations open 45 days ahead) with a weekend or public holiday in
    the three days before it or on it: in December 2026 that is Sunday 3 January 2027, after New
    Year's Day (Friday)."""
    day = now.date().replace(day=3)
    for _ in range(24):
        day = (day.replace(day=1) + timedelta(days=32)).replace(day=3)
        if day - now.date() < timedelta(days=8):
            continue
        if any(not is_working_day(day - timedelta(days=k)) for k in range(0, 4)):
            return day
    raise AssertionError("no day 3 after a holiday found")


def test_the_monthly_day_3_rule_across_a_thai_holiday_weekend(world):
    central, ops = world["central"], world["ops"]
    day_three = next_day_three_after_a_holiday(datetime.now(BANGKOK))
    if (day_three - datetime.now(BANGKOK).date()).days > 40:
        pytest.skip("the next such day 3 is beyond the obligations' 45-day horizon")
    start = datetime.combine(day_three - timedelta(days=1), time(0, 0), tzinfo=BANGKOK)
    directive_id = issue(central, "มท ๐๘๑๐.๓/ว ๓", {
        "rrule": "FREQ=MONTHLY;BYMONTHDAY=3", "dtstart": start.isoformat(),
        "until": (start + timedelta(days=3)).isoformat(), "due_time_local": "16:30",
        "holiday_rule": "next_working_day"})
    obligation = obligation_of(central, directive_id)
    due = datetime.fromisoformat(obligation["effective_due_at"])
    assert is_working_day(due.astimezone(BANGKOK).date())
    scheduled = check_plan(ladder_rows(ops, obligation["id"]), due)
    on_due_day = [r for r in scheduled if datetime.fromisoformat(r["due_at"]).astimezone(BANGKOK).date()
                  == due.astimezone(BANGKOK).date()]
    assert len(on_due_day) == 1, scheduled          # not three messages within an hour on the due day
    # the step three days before does not land on the due day: it goes before the holidays
    rows = {r["step"]: r for r in ladder_rows(ops, obligation["id"])}
    minus_three = rows["reminder:-P3D"]
    if minus_three["status"] == "scheduled":
        assert datetime.fromisoformat(minus_three["due_at"]).astimezone(BANGKOK).date() < \
            due.astimezone(BANGKOK).date() - timedelta(days=1)
    else:
        assert minus_three["reason"].startswith("merged with step"), minus_three
    # the district office's contact point is not reminded (only the reporting unit is)
    assert ops.get(f"{ops.base}/notifications/deliveries", params={
        "subject_ref": obligation["id"], "kind": "reminder", "recipient_code": "DLO-0115"}).json()["total"] == 0


def test_the_chase_answer_says_when_the_message_really_goes(world, stack):
    central, ops, district = world["central"], world["ops"], world["district"]
    due = datetime.now(BANGKOK) + timedelta(days=5)
    directive_id = issue(central, "มท ๐๘๑๐.๓/ว ๔๔", {"period": "2570-02", "due_at": due.isoformat()})
    obligation = obligation_of(central, directive_id, "LAO-180102")
    before = datetime.now(BANGKOK)
    # notifications learns of the obligation from its event, a moment after assessments lists it
    def chase():
        response = district.post(f"{district.base}/notifications/chase", json={"obligation_id": obligation["id"]})
        return None if response.status_code == 404 else [response]
    [answer] = wait_until(chase, timeout=90) or [None]
    assert answer is not None and answer.status_code == 200, answer and answer.text
    body = answer.json()
    assert body["queued"] == 1 and body["unit_code"] == "LAO-180102"
    when = datetime.fromisoformat(body["scheduled_for"])
    ledger = ops.get(f"{ops.base}/notifications/deliveries", params={
        "subject_ref": obligation["id"], "kind": "chase", "recipient_code": "LAO-180102"}).json()["items"]
    assert len(ledger) == 1
    if allowed(before) and allowed(datetime.now(BANGKOK)):
        assert body["sends_now"] is True and when <= datetime.now(BANGKOK) + timedelta(minutes=1)
        stack.mail.wait_for(lambda ms: any(str(m["Subject"]).startswith("[ติดตาม]")
                                           and "saraban@lao-180102" in str(m["To"]) for m in ms))
    else:
        # at night, on a weekend or a holiday: it waits, and the answer says until when and why
        assert body["sends_now"] is False and body["status"] == "scheduled" and body["deferred_because"]
        assert when > before and allowed(when) and datetime.fromisoformat(ledger[0]["due_at"]) == when
        assert when.astimezone(BANGKOK).time() == time(7, 0)     # the start of the next working morning
    again = district.post(f"{district.base}/notifications/chase", json={"obligation_id": obligation["id"]}).json()
    assert again["queued"] == 0 and again["already_chased_today"] == 1
