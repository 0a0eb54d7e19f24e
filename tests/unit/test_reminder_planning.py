"""The reminder ladder's plan (domain.plan_ladder) for any due time, ladder, quiet hours, weekend
and Thai holiday calendar: no reminder after the due time; a unit that can still be reminded gets
at least one reminder before the deadline; distinct steps never go at the same moment (merged into
one, said so). Examples: a 20:57 deadline, the monthly day-3 rule across real Thai holidays."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.assessments.schedule import is_working_day
from services.notifications import domain
from shared.thai import BANGKOK


def bkk(*args) -> datetime:
    return datetime(*args, tzinfo=BANGKOK).astimezone(timezone.utc)


STANDARD = domain.SendWindow(quiet=domain.QuietHours(time(20), time(7)), working_days_only=True)
STEP_CHOICES = ["-P14D", "-P7D", "-P5D", "-P3D", "-P2D", "-P1D", "-PT12H", "-PT8H", "-PT4H", "-PT2H", "-PT1H",
                "-PT30M", "-PT10M", "-PT0S", "-P1DT3H", "MORNING"]


def _scheduled(planned):
    return [p for p in planned if p.status == "scheduled"]


# --- strategies ------------------------------------------------------------------------------------

@st.composite
def quiet_hours(draw):
    if draw(st.booleans()):
        return None
    start = time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 15, 30, 45])))
    end = time(draw(st.integers(0, 23)), draw(st.sampled_from([0, 15, 30, 45])))
    return domain.QuietHours(start, end)


@st.composite
def calendars(draw):
    """The real Thai calendar, or any made-up set of extra days off on top of it."""
    extra = draw(st.sets(st.integers(0, 40), max_size=12))
    base = date(2026, 1, 1)
    days_off = {base + timedelta(days=n * 9 % 400) for n in extra}
    return lambda day: is_working_day(day) and day not in days_off


@st.composite
def windows(draw):
    return domain.SendWindow(quiet=draw(quiet_hours()), working_days_only=draw(st.booleans()),
                             is_working_day=draw(calendars()))


due_times = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)).map(
    lambda naive: naive.replace(second=0, microsecond=0, tzinfo=BANGKOK).astimezone(timezone.utc))
ladders = st.lists(st.sampled_from(STEP_CHOICES), min_size=1, max_size=6, unique=True)
opened_before = st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=30))

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _first_allowed(window, now, deadline):
    """Is there any moment the window allows between now and the deadline?"""
    at = window.next_allowed(now)
    return at if at < deadline and window.allows(at) else None


# --- invariants -----------------------------------------------------------------------------------

@PROPERTY
@given(due=due_times, ladder=ladders, window=windows(), before=opened_before)
def test_no_reminder_after_the_deadline_and_every_one_at_an_allowed_time(due, ladder, window, before):
    now = due - before
    planned = domain.plan_ladder(domain.reminder_steps(ladder, due), due, window, now)
    assert {p.step.name for p in planned} == {s.name for s in domain.reminder_steps(ladder, due)}
    for p in _scheduled(planned):
        assert now <= p.step.at < due, p
        if p.step.at != window.next_allowed(now):   # only a step sent at once may come within the margin
            assert p.step.at <= due - domain.SEND_MARGIN, p
        assert window.allows(p.step.at), (p, window.why_not(p.step.at))
    for p in planned:
        if p.status == "skipped":
            assert p.reason, p  # never dropped silently


@PROPERTY
@given(due=due_times, ladder=ladders, window=windows(), before=opened_before)
def test_a_unit_that_can_still_be_reminded_gets_at_least_one_reminder(due, ladder, window, before):
    now = due - before
    steps = domain.reminder_steps(ladder, due)
    planned = domain.plan_ladder(steps, due, window, now)
    if _first_allowed(window, now, due) is not None:
        assert any(p.step.at < due for p in _scheduled(planned)), planned


@PROPERTY
@given(due=due_times, ladder=ladders, window=windows(),
       before=st.timedeltas(min_value=timedelta(days=15), max_value=timedelta(days=30)))
def test_an_obligation_opened_before_its_first_step_is_reminded_before_the_deadline(due, ladder, window, before):
    """Opened before its first step (here: more than 14 days ahead), on any calendar with an
    allowed hour left before the deadline."""
    now = due - before
    steps = domain.reminder_steps(ladder, due)
    assert now < steps[0].at
    if _first_allowed(window, now, due) is None:
        return  # a window that allows nothing before the deadline (made-up calendar)
    planned = _scheduled(domain.plan_ladder(steps, due, window, now))
    assert planned and all(p.step.at < due for p in planned)


@PROPERTY
@given(due=due_times, ladder=ladders, window=windows(), before=opened_before)
def test_distinct_steps_never_go_at_the_same_moment_or_within_the_hour(due, ladder, window, before):
    planned = _scheduled(domain.plan_ladder(domain.reminder_steps(ladder, due), due, window, due - before))
    times = sorted(p.step.at for p in planned)
    assert all(later - earlier >= domain.MERGE_WITHIN for earlier, later in zip(times, times[1:])), planned
    assert len({p.step.name for p in planned}) == len(planned)


# --- examples from the field ------------------------------------------------------------------------

def test_a_report_due_at_20_57_gets_its_reminders_before_the_deadline():
    due = bkk(2026, 12, 17, 20, 57)                      # Thursday, a working day
    planned = domain.plan_ladder(domain.reminder_steps(["-P7D", "-P3D", "-P1D", "MORNING"], due), due,
                                 STANDARD, bkk(2026, 12, 1, 9, 0))
    sent = {p.step.name: p.step.at for p in _scheduled(planned)}
    assert sent == {"reminder:-P7D": bkk(2026, 12, 11, 7, 0),    # Thu 10 Dec 20:57 is quiet and Constitution Day
                    "reminder:-P3D": bkk(2026, 12, 15, 7, 0),    # Mon 14 Dec 20:57 is quiet
                    "reminder:-P1D": bkk(2026, 12, 16, 19, 49),  # Wed 16 Dec 20:57 is quiet: back, not 07:00 on T
                    "reminder:MORNING": bkk(2026, 12, 17, 8, 0)}
    assert all(at < due for at in sent.values())


def test_a_20_57_deadline_opened_the_same_evening_is_reminded_before_quiet_hours_or_says_why():
    due = bkk(2026, 12, 17, 20, 57)
    ladder = domain.reminder_steps(["-P7D", "-P3D", "-P1D", "MORNING"], due)
    afternoon = domain.plan_ladder(ladder, due, STANDARD, bkk(2026, 12, 17, 15, 0))
    assert [(p.step.name, p.step.at, p.late) for p in _scheduled(afternoon)] == [
        ("reminder:MORNING", bkk(2026, 12, 17, 15, 0), True)]   # the latest past step goes at once
    evening = domain.plan_ladder(ladder, due, STANDARD, bkk(2026, 12, 17, 20, 10))
    assert not _scheduled(evening)                              # nothing may go at 20:10 before 20:57 ...
    assert all(p.status == "skipped" and p.reason for p in evening)   # ... and the ledger says so
    assert "no allowed time" in [p for p in evening if p.step.name == "reminder:MORNING"][0].reason


def test_an_obligation_opened_minutes_before_its_deadline_is_told_at_once():
    """A directive forwarded late: every step has passed and less than the margin is left, but a
    reminder sent now still comes before the deadline (the thin journey's 12-second deadline)."""
    due = bkk(2026, 12, 17, 14, 0)
    ladder = domain.reminder_steps(["-P7D", "-P3D", "-P1D", "MORNING"], due)
    planned = domain.plan_ladder(ladder, due, STANDARD, bkk(2026, 12, 17, 13, 55))
    assert [(p.step.name, p.step.at, p.late) for p in _scheduled(planned)] == [
        ("reminder:MORNING", bkk(2026, 12, 17, 13, 55), True)]


def test_a_morning_step_on_a_holiday_due_day_moves_back_not_past_the_deadline():
    due = bkk(2026, 12, 5, 20, 57)                       # Sat 5 Dec 2026, Father's Day
    planned = domain.plan_ladder(domain.reminder_steps(["-P1D", "MORNING"], due), due, STANDARD,
                                 bkk(2026, 11, 20, 9, 0))
    sent = {p.step.name: p.step.at for p in _scheduled(planned)}
    assert sent["reminder:MORNING"] == bkk(2026, 12, 4, 8, 0)     # the morning of the working day before
    assert sent["reminder:-P1D"] <= sent["reminder:MORNING"] - domain.MERGE_WITHIN
    assert all(at < due for at in sent.values())


def test_the_monthly_day_3_rule_across_a_real_thai_holiday_weekend_keeps_its_steps_apart():
    """Due Tue 8 Dec 2026 (the 3rd-of-month rule moved to the next working day by assessments; here
    the deadline itself): Sat 5 Dec Father's Day, Sun 6, Mon 7 its substitution day. Before, -P3D
    and -P1D both went at 07:00 on the due day and MORNING at 08:00: three messages in an hour."""
    due = bkk(2026, 12, 8, 16, 30)
    steps = domain.reminder_steps(["-P7D", "-P3D", "-P1D", "MORNING"], due)
    planned = domain.plan_ladder(steps, due, STANDARD, bkk(2026, 11, 20, 9, 0))
    sent = {p.step.name: p.step.at for p in _scheduled(planned)}
    assert sent == {"reminder:-P7D": bkk(2026, 12, 1, 16, 30),
                    "reminder:-P3D": bkk(2026, 12, 3, 16, 30),      # before the holiday weekend, not on T
                    "reminder:-P1D": bkk(2026, 12, 4, 16, 30),      # the last working day before T
                    "reminder:MORNING": bkk(2026, 12, 8, 8, 0)}     # one message on the due day
    moved = {p.step.name: p.reason for p in planned if p.reason}
    assert moved["reminder:-P3D"].startswith("moved earlier: weekend or public holiday")


def test_two_steps_of_the_ladder_within_the_hour_are_one_message_said_so():
    due = bkk(2026, 12, 17, 9, 0)                        # MORNING is 08:00, -PT1H is 08:00 too
    planned = domain.plan_ladder(domain.reminder_steps(["-PT1H", "MORNING"], due), due, STANDARD,
                                 bkk(2026, 12, 10, 9, 0))
    assert len(_scheduled(planned)) == 1
    merged = [p for p in planned if p.status == "skipped"]
    assert len(merged) == 1 and merged[0].reason.startswith("merged with step")


def test_a_past_step_right_before_the_next_one_is_merged_into_it():
    due = bkk(2026, 12, 17, 16, 0)
    steps = domain.reminder_steps(["-P1D", "MORNING"], due)
    planned = domain.plan_ladder(steps, due, STANDARD, bkk(2026, 12, 17, 7, 30))   # -P1D passed overnight
    assert [(p.step.name, p.status) for p in planned] == [("reminder:-P1D", "skipped"),
                                                          ("reminder:MORNING", "scheduled")]
    assert planned[0].reason == "merged with step reminder:MORNING (its time has passed)"


def test_a_report_due_before_8_gets_its_morning_step_the_day_before():
    due = bkk(2026, 12, 17, 6, 30)
    [step] = domain.reminder_steps(["MORNING"], due)
    assert step.at == bkk(2026, 12, 16, 8, 0)
    planned = domain.plan_ladder([step], due, STANDARD, bkk(2026, 12, 10, 9, 0))
    assert [(p.step.at, p.status) for p in planned] == [(bkk(2026, 12, 16, 8, 0), "scheduled")]
