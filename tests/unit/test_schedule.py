"""Reporting schedules: RRULE expansion in Bangkok, period labels, Thai holidays, expected units."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from shared.unit_versions import expected_units
from services.assessments.schedule import (MAX_SLOTS, PeriodSlot, expand_rule,
                                           fiscal_year_periods, is_working_day, month_period,
                                           parse_duration, parse_period_label, period_covered,
                                           shift_for_holidays, thai_holidays)
from shared.contracts.events import IndicatorSpec, OrgUnitChanged, ReportingRulePublished
from shared.errors import InputError
from shared.thai import BANGKOK

SEED_RULE = "FREQ=MONTHLY;BYMONTHDAY=3"  # seed 004: ให้รายงานผลการเบิกจ่ายงบประมาณทุกวันที่ ๓ ของเดือน
FY2565 = (date(2021, 10, 1), date(2022, 9, 30))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def bangkok(*args) -> datetime:
    return datetime(*args, tzinfo=BANGKOK)


# --- The seed rule over fiscal year 2565 ------------------------------------------------------

@pytest.fixture(scope="module")
def fy2565_slots() -> list[PeriodSlot]:
    return expand_rule(SEED_RULE, dtstart=date(2021, 10, 1), between=FY2565)


def test_seed_rule_gives_twelve_monthly_slots_labelled_by_the_previous_month(fy2565_slots):
    assert len(fy2565_slots) == 12
    assert [slot.period for slot in fy2565_slots] == [
        "2564-09", "2564-10", "2564-11", "2564-12", "2565-01", "2565-02",
        "2565-03", "2565-04", "2565-05", "2565-06", "2565-07", "2565-08"]
    first = fy2565_slots[0]
    assert (first.period_start, first.period_end) == (date(2021, 9, 1), date(2021, 9, 30))
    february = fy2565_slots[5]
    assert (february.period_start, february.period_end) == (date(2022, 2, 1), date(2022, 2, 28))


# (nominal due date, effective due date, reason) checked against the 2021/2022 Thai calendar
FY2565_DUE_DATES = [
    (date(2021, 10, 3), date(2021, 10, 4), "weekend"),                    # Sunday
    (date(2021, 11, 3), date(2021, 11, 3), None),                         # Wednesday
    (date(2021, 12, 3), date(2021, 12, 3), None),                         # Friday
    (date(2022, 1, 3), date(2022, 1, 4), "holiday: ชดเชยวันขึ้นปีใหม่"),   # Monday in lieu of Sat 1 Jan
    (date(2022, 2, 3), date(2022, 2, 3), None),
    (date(2022, 3, 3), date(2022, 3, 3), None),
    (date(2022, 4, 3), date(2022, 4, 4), "weekend"),                      # Sunday
    (date(2022, 5, 3), date(2022, 5, 3), None),                           # Tuesday (Coronation Day is the 4th)
    (date(2022, 6, 3), date(2022, 6, 6),                                 # Queen Suthida's birthday (Fri)
     "holiday: วันเฉลิมพระชนมพรรษาสมเด็จพระนางเจ้าสุทิดา พัชรสุธาพิมลลักษณ พระบรมราชินี; weekend"),
    (date(2022, 7, 3), date(2022, 7, 4), "weekend"),                      # Sunday
    (date(2022, 8, 3), date(2022, 8, 3), None),
    (date(2022, 9, 3), date(2022, 9, 5), "weekend"),                      # Saturday
]


def test_seed_rule_due_dates_move_off_weekends_and_holidays(fy2565_slots):
    assert [(slot.nominal_due_at.astimezone(BANGKOK).date(), slot.due_at.astimezone(BANGKOK).date(),
             slot.shifted_reason) for slot in fy2565_slots] == FY2565_DUE_DATES
    assert date(2021, 10, 3).strftime("%A") == "Sunday"


def test_due_times_are_16_30_bangkok_stored_in_utc(fy2565_slots):
    first = fy2565_slots[0]
    assert first.nominal_due_at == utc(2021, 10, 3, 9, 30)
    assert first.due_at == utc(2021, 10, 4, 9, 30)
    assert first.due_at.astimezone(BANGKOK) == bangkok(2021, 10, 4, 16, 30)
    for slot in fy2565_slots:
        assert slot.due_at.utcoffset() == timedelta(0) and slot.opens_at.utcoffset() == timedelta(0)


def test_window_opens_ten_days_before_the_shifted_due_time(fy2565_slots):
    for slot in fy2565_slots:
        assert slot.opens_at == slot.due_at - timedelta(days=10)
    assert fy2565_slots[0].opens_at == utc(2021, 9, 24, 9, 30)


def test_rule_fields_come_straight_from_the_published_event():
    event = ReportingRulePublished(
        rule_id="r-1", directive_id="DPS-2",
        indicators=[IndicatorSpec(code="BUD-PCT", name_th="ร้อยละการเบิกจ่าย", value_type="percent")],
        unit_codes=["LAO-820801"], rrule=SEED_RULE, dtstart=bangkok(2021, 10, 1),
        until=bangkok(2022, 9, 30), window_opens_before="PT72H")
    slots = expand_rule(event.rrule, dtstart=event.dtstart, until=event.until, due_at=event.due_at,
                        due_time_local=event.due_time_local, window_opens_before=event.window_opens_before,
                        holiday_rule=event.holiday_rule)
    assert len(slots) == 12
    assert slots[-1].nominal_due_at == utc(2022, 9, 3, 9, 30)
    assert slots[0].opens_at == slots[0].due_at - timedelta(hours=72)


# --- Bounds -----------------------------------------------------------------------------------

def test_between_selects_by_nominal_due_date_so_adjacent_ranges_never_overlap():
    september = expand_rule(SEED_RULE, dtstart=date(2021, 1, 1), between=(date(2022, 9, 1), date(2022, 9, 4)))
    assert [slot.period for slot in september] == ["2565-08"]  # due Sat 3 Sep, shifted to Mon 5 Sep
    later = expand_rule(SEED_RULE, dtstart=date(2021, 1, 1), between=(date(2022, 9, 5), date(2022, 9, 30)))
    assert later == []


def test_until_and_count_in_the_rule_bound_it():
    with_until = expand_rule(SEED_RULE + ";UNTIL=20220930T170000Z", dtstart=date(2021, 10, 1))
    assert len(with_until) == 12  # 17:00 UTC on 30 Sep is 1 Oct in Bangkok, before the 3rd
    with_count = expand_rule(SEED_RULE + ";COUNT=3", dtstart=date(2021, 10, 1))
    assert [slot.period for slot in with_count] == ["2564-09", "2564-10", "2564-11"]
    inclusive_until = expand_rule(SEED_RULE, dtstart=date(2021, 10, 1), until=date(2021, 11, 3))
    assert len(inclusive_until) == 2
    count_and_until = expand_rule(SEED_RULE + ";COUNT=30", dtstart=date(2021, 10, 1), until=date(2021, 12, 31))
    assert len(count_and_until) == 3  # the nearer bound wins


def test_dtstart_is_taken_as_its_bangkok_date():
    # 20:00 UTC on 2 Oct is 03:00 on 3 Oct in Bangkok: the 3 Oct report is included.
    slots = expand_rule(SEED_RULE, dtstart=utc(2021, 10, 2, 20, 0), until=date(2021, 10, 31))
    assert [slot.period for slot in slots] == ["2564-09"]


def test_early_morning_due_time_crosses_midnight_in_utc_but_labels_use_the_bangkok_date():
    slots = expand_rule("FREQ=MONTHLY;BYMONTHDAY=1", dtstart=date(2026, 1, 1), due_time_local="06:00",
                        between=(date(2026, 2, 1), date(2026, 2, 1)), holiday_rule="none")
    assert slots[0].due_at == utc(2026, 1, 31, 23, 0)
    assert slots[0].period == "2569-01"


def test_yearly_fiscal_report_covers_the_fiscal_year_just_ended():
    slots = expand_rule("FREQ=YEARLY;BYMONTH=10;BYMONTHDAY=31", dtstart=date(2021, 10, 1), until=date(2026, 12, 31))
    assert [slot.period for slot in slots] == ["FY2564", "FY2565", "FY2566", "FY2567", "FY2568", "FY2569"]
    fy2569 = slots[-1]
    assert (fy2569.period_start, fy2569.period_end) == (date(2025, 10, 1), date(2026, 9, 30))
    # 31 Oct 2026 is a Saturday
    assert fy2569.due_at == utc(2026, 11, 2, 9, 30) and fy2569.shifted_reason == "weekend"


def test_quarterly_report_covers_the_previous_fiscal_quarter():
    slots = expand_rule("FREQ=MONTHLY;BYMONTH=1,4,7,10;BYMONTHDAY=15", dtstart=date(2025, 10, 1),
                        between=(date(2025, 10, 1), date(2026, 9, 30)), covers="previous_quarter")
    assert [slot.period for slot in slots] == ["FY2568-Q4", "FY2569-Q1", "FY2569-Q2", "FY2569-Q3"]


def test_one_off_due_date_keeps_its_time_and_moves_off_a_sunday():
    # 15 Mar 2026 is a Sunday; 10:00 UTC = 17:00 Bangkok
    [slot] = expand_rule(None, due_at=utc(2026, 3, 15, 10, 0))
    assert slot.nominal_due_at == utc(2026, 3, 15, 10, 0)
    assert slot.due_at == utc(2026, 3, 16, 10, 0)
    assert slot.period == "2569-03" and slot.shifted_reason == "weekend"
    assert slot.opens_at == utc(2026, 3, 6, 10, 0)


def test_naive_one_off_due_date_is_bangkok_time():
    [slot] = expand_rule(None, due_at=datetime(2026, 3, 17, 16, 30), covers="previous_month")
    assert slot.due_at == utc(2026, 3, 17, 9, 30) and slot.period == "2569-02"


def test_one_off_outside_between_gives_nothing():
    assert expand_rule(None, due_at=utc(2026, 3, 17, 9, 0), between=(date(2026, 4, 1), date(2026, 4, 30))) == []


# --- Holidays ---------------------------------------------------------------------------------

def test_constitution_day_on_a_friday_moves_to_monday():
    # 10 Dec 2021 (Friday) is วันรัฐธรรมนูญ
    [slot] = expand_rule("FREQ=MONTHLY;BYMONTHDAY=10", dtstart=date(2021, 12, 1), until=date(2021, 12, 31))
    assert slot.due_at.astimezone(BANGKOK).date() == date(2021, 12, 13)
    assert slot.shifted_reason == "holiday: วันรัฐธรรมนูญ; weekend"


def test_holiday_on_saturday_with_a_monday_in_lieu_moves_to_tuesday():
    moved, reason = shift_for_holidays(date(2022, 12, 10), "next_working_day")
    assert moved == date(2022, 12, 13)
    assert reason == "holiday: วันรัฐธรรมนูญ; weekend; holiday: ชดเชยวันรัฐธรรมนูญ"


def test_previous_working_day_moves_back_before_songkran():
    moved, reason = shift_for_holidays(date(2022, 4, 15), "previous_working_day")
    assert moved == date(2022, 4, 12)
    assert reason == "holiday: วันสงกรานต์"


def test_holiday_rule_none_keeps_the_date():
    assert shift_for_holidays(date(2022, 4, 15), "none") == (date(2022, 4, 15), None)
    [slot] = expand_rule(None, due_at=utc(2026, 3, 15, 10, 0), holiday_rule="none")
    assert slot.due_at == slot.nominal_due_at and slot.shifted_reason is None


def test_calendar_has_public_substitution_extra_and_government_days_off():
    days_2022 = thai_holidays(2022)
    assert days_2022[date(2022, 4, 13)] == "วันสงกรานต์"
    assert days_2022[date(2022, 12, 12)] == "ชดเชยวันรัฐธรรมนูญ"          # substitution day
    assert days_2022[date(2022, 7, 29)] == "วันหยุดพิเศษ (เพิ่มเติม)"      # cabinet's extra day off
    assert days_2022[date(2022, 5, 13)] == "วันพืชมงคล"                   # government offices only
    assert not is_working_day(date(2022, 5, 13))
    assert is_working_day(date(2022, 5, 12))


@pytest.mark.parametrize("holiday_rule", ["next_working_day", "previous_working_day"])
def test_every_due_date_is_a_working_day_over_many_months(holiday_rule):
    checked = 0
    for day_of_month in [*range(1, 29), -1]:
        slots = expand_rule(f"FREQ=MONTHLY;BYMONTHDAY={day_of_month}", dtstart=date(2020, 1, 1),
                            between=(date(2020, 1, 1), date(2030, 12, 31)), covers="current_month",
                            holiday_rule=holiday_rule)
        assert len(slots) == 132
        for slot in slots:
            due = slot.due_at.astimezone(BANGKOK)
            nominal = slot.nominal_due_at.astimezone(BANGKOK)
            assert is_working_day(due.date()), slot
            assert due.time() == nominal.time()
            if holiday_rule == "next_working_day":
                assert timedelta(0) <= due - nominal <= timedelta(days=7), slot
            else:
                assert timedelta(0) <= nominal - due <= timedelta(days=7), slot
            assert (slot.shifted_reason is None) == (due == nominal)
            checked += 1
    assert checked == 29 * 132


# --- Invalid input ----------------------------------------------------------------------------

@pytest.mark.parametrize("rule", [
    "FREQ=SOMETIMES", "FREQ=MONTHLY;BYMONTHDAY=40", "FREQ=MONTHLY;BYMONTHDAY=0",
    "FREQ=MONTHLY;BYMONTH=13", "FREQ=MONTHLY;INTERVAL=0", "FREQ=MONTHLY;COUNT=-1",
    "FREQ=MONTHLY;FOO=1", "garbage", "BYMONTHDAY=3", "FREQ=DAILY", "FREQ=MONTHLY;BYHOUR=9",
    "FREQ=MONTHLY;BYDAY=XX", "FREQ=MONTHLY;BYDAY=0MO", "FREQ=MONTHLY;BYMONTHDAY=abc",
    "FREQ=MONTHLY;FREQ=YEARLY", "FREQ=MONTHLY;COUNT=2;UNTIL=20220101", "FREQ=MONTHLY;UNTIL=20221340",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;COUNT=1",  # never happens
])
def test_invalid_rrules_are_refused_naming_the_field(rule):
    with pytest.raises(InputError) as caught:
        expand_rule(rule, dtstart=date(2021, 10, 1), until=date(2022, 9, 30))
    error = caught.value
    assert (error.field, error.status, error.code) == ("rrule", 422, "invalid")
    assert "กฎการรายงานซ้ำ" in error.message_th and error.message_en


def test_unbounded_rule_without_between_is_refused():
    with pytest.raises(InputError) as caught:
        expand_rule(SEED_RULE, dtstart=date(2021, 10, 1))
    assert caught.value.field == "rrule" and "never ends" in caught.value.message_en
    assert "ไม่มีวันสิ้นสุด" in caught.value.message_th


def test_rule_with_too_many_slots_is_refused():
    with pytest.raises(InputError, match=str(MAX_SLOTS)):
        expand_rule(SEED_RULE + ";COUNT=100000", dtstart=date(2021, 10, 1))


BOUNDED = {"dtstart": date(2021, 1, 1), "until": date(2022, 1, 1)}


@pytest.mark.parametrize("rrule, kwargs, field", [
    (SEED_RULE, {"until": date(2022, 1, 1)}, "dtstart"),
    (None, {}, "rrule"),
    (SEED_RULE, {**BOUNDED, "due_at": utc(2022, 1, 1)}, "due_at"),
    (SEED_RULE, {**BOUNDED, "due_time_local": "25:00"}, "due_time_local"),
    (SEED_RULE, {**BOUNDED, "window_opens_before": "P1M"}, "window_opens_before"),
    (SEED_RULE, {**BOUNDED, "holiday_rule": "sometimes"}, "holiday_rule"),
    (SEED_RULE, {**BOUNDED, "covers": "fortnight"}, "covers"),
    # a monthly rule cannot cover a fiscal year: twelve due dates for one period
    (SEED_RULE, {**BOUNDED, "covers": "fiscal_year"}, "covers"),
    (SEED_RULE, {"dtstart": date(2021, 1, 1), "between": (date(2022, 1, 2), date(2022, 1, 1))}, "between"),
])
def test_other_invalid_arguments_name_their_field(rrule, kwargs, field):
    with pytest.raises(InputError) as caught:
        expand_rule(rrule, **kwargs)
    assert caught.value.field == field and caught.value.status == 422


def test_bad_options_fail_even_when_no_slot_is_in_range():
    empty_range = (date(2030, 1, 4), date(2030, 1, 5))
    for options in ({"covers": "fortnight"}, {"holiday_rule": "sometimes"}):
        with pytest.raises(InputError):
            expand_rule(SEED_RULE, dtstart=date(2021, 1, 1), between=empty_range, **options)


def test_due_time_accepts_thai_digits_and_a_dot():
    [slot] = expand_rule(SEED_RULE, dtstart=date(2021, 11, 1), until=date(2021, 11, 30), due_time_local="๐๙.๑๕")
    assert slot.due_at == utc(2021, 11, 3, 2, 15)


@pytest.mark.parametrize("text, expected", [
    ("P10D", timedelta(days=10)), ("PT12H", timedelta(hours=12)), ("P1DT6H", timedelta(days=1, hours=6)),
    ("P2W", timedelta(weeks=2)), ("PT90M", timedelta(minutes=90)), ("p3d", timedelta(days=3)),
])
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["P1M", "P1Y", "10D", "P", "PT", "P0D", "P1DT", "", "P-1D"])
def test_bad_durations(text):
    with pytest.raises(InputError):
        parse_duration(text)


# --- Periods ----------------------------------------------------------------------------------

def test_fiscal_year_quarters_start_in_october():
    assert [tuple(quarter) for quarter in fiscal_year_periods(2565, "quarter")] == [
        ("FY2565-Q1", date(2021, 10, 1), date(2021, 12, 31)),
        ("FY2565-Q2", date(2022, 1, 1), date(2022, 3, 31)),
        ("FY2565-Q3", date(2022, 4, 1), date(2022, 6, 30)),
        ("FY2565-Q4", date(2022, 7, 1), date(2022, 9, 30)),
    ]


def test_fiscal_year_months_are_contiguous_october_to_september():
    months = fiscal_year_periods(2569)
    assert [month.label for month in months] == [
        "2568-10", "2568-11", "2568-12", "2569-01", "2569-02", "2569-03",
        "2569-04", "2569-05", "2569-06", "2569-07", "2569-08", "2569-09"]
    assert months[0].start == date(2025, 10, 1) and months[-1].end == date(2026, 9, 30)
    for earlier, later in zip(months, months[1:]):
        assert later.start == earlier.end + timedelta(days=1)
    assert fiscal_year_periods(2567)[4].end == date(2024, 2, 29)  # leap year
    assert fiscal_year_periods(2569, "year") == [("FY2569", date(2025, 10, 1), date(2026, 9, 30))]


@pytest.mark.parametrize("due, covers, label", [
    (date(2026, 2, 3), "previous_month", "2569-01"),
    (date(2026, 1, 3), "previous_month", "2568-12"),
    (date(2026, 1, 31), "current_month", "2569-01"),
    (date(2026, 1, 15), "previous_quarter", "FY2569-Q1"),
    (date(2025, 10, 15), "previous_quarter", "FY2568-Q4"),
    (date(2025, 12, 31), "previous_quarter", "FY2568-Q4"),
    (date(2026, 10, 31), "fiscal_year", "FY2569"),
    (date(2026, 9, 30), "fiscal_year", "FY2568"),
    (date(2026, 8, 31), "current_fiscal_year", "FY2569"),
])
def test_period_covered(due, covers, label):
    assert period_covered(due, covers).label == label


def test_month_period():
    assert month_period(2026, 1) == ("2569-01", date(2026, 1, 1), date(2026, 1, 31))
    assert month_period(2025, 12).end == date(2025, 12, 31)


@pytest.mark.parametrize("typed, label", [
    ("2569-01", "2569-01"), ("๒๕๖๙-๑", "2569-01"), ("2569/1", "2569-01"), (" fy2569 ", "FY2569"),
    ("FY2569Q1", "FY2569-Q1"), ("fy ๒๕๖๙-q4", "FY2569-Q4"),
])
def test_period_labels_are_normalised(typed, label):
    assert parse_period_label(typed) == label


@pytest.mark.parametrize("typed", ["2569-13", "2569-00", "FY2569-Q5", "January", "2026-01", ""])
def test_bad_period_labels(typed):
    with pytest.raises(InputError) as caught:
        parse_period_label(typed)
    assert caught.value.field == "period"


def test_christian_era_period_gets_a_hint():
    with pytest.raises(InputError) as caught:
        parse_period_label("2026-01")
    assert "2569" in caught.value.message_th and "B.E." in caught.value.message_en


# --- Expected units ---------------------------------------------------------------------------

JANUARY = (date(2026, 1, 1), date(2026, 1, 31))


def unit(code, valid_from, valid_to=None, name="อบต.ทดสอบ"):
    return OrgUnitChanged(code=code, level="lao", name_th=name, valid_from=valid_from, valid_to=valid_to)


def test_units_that_existed_for_part_of_the_period_are_expected():
    units = [
        unit("OLD", date(2000, 1, 1)),                          # always there
        unit("NEW-MID", date(2026, 1, 20)),                     # created during January
        unit("NEW-LAST-DAY", date(2026, 1, 31)),
        unit("LATER", date(2026, 2, 1)),                        # created after January
        unit("CLOSED-MID", date(2000, 1, 1), date(2026, 1, 15)),
        unit("CLOSED-BEFORE", date(2000, 1, 1), date(2026, 1, 1)),  # valid_to is exclusive
        unit("CLOSED-SECOND-DAY", date(2000, 1, 1), date(2026, 1, 2)),
    ]
    assert [u.code for u in expected_units(units, *JANUARY)] == [
        "OLD", "NEW-MID", "NEW-LAST-DAY", "CLOSED-MID", "CLOSED-SECOND-DAY"]


def test_a_unit_changed_during_the_period_counts_once_as_its_latest_version():
    old = unit("LAO-1", date(2000, 1, 1), date(2026, 1, 10), name="อบต.เดิม")
    renamed = unit("LAO-1", date(2026, 1, 10), name="เทศบาลตำบลใหม่")
    assert expected_units([renamed, old], *JANUARY) == [renamed]
    assert expected_units([old, renamed], date(2025, 12, 1), date(2025, 12, 31)) == [old]


def test_unit_rows_as_mappings_are_accepted():
    rows = [{"code": "A", "valid_from": date(2026, 1, 5), "valid_to": None},
            {"code": "B", "valid_from": date(2026, 3, 1), "valid_to": None}]
    assert expected_units(rows, *JANUARY) == [rows[0]]


def test_expected_units_keep_rates_at_most_100_percent():
    units = [unit(f"LAO-{n}", date(2026, 1, 1) + timedelta(days=n)) for n in range(60)]
    expected = expected_units(units, *JANUARY)
    assert len(expected) == 31
    submitted = {f"LAO-{n}" for n in range(31)}
    assert len(submitted & {u.code for u in expected}) / len(expected) == 1.0
