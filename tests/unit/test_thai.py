"""Tests for shared.thai: Buddhist era, fiscal year, Thai digits, Thai date formats."""

import random
from datetime import date, datetime, timedelta, timezone

import pytest

from shared.thai import (
    BANGKOK,
    BE_OFFSET,
    THAI_MONTHS_ABBR,
    THAI_MONTHS_FULL,
    ThaiInputError,
    fiscal_year_be,
    fiscal_year_bounds,
    format_date_en,
    format_date_th,
    format_datetime_th,
    from_thai_digits,
    parse_be_year,
    parse_thai_date,
    to_be_year,
    to_ce_year,
    to_thai_digits,
)


def every_day(start: date, end: date):
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


# --- Buddhist era ---------------------------------------------------------------------------

def test_be_offset_and_conversions():
    assert BE_OFFSET == 543
    assert to_be_year(2022) == 2565
    assert to_ce_year(2565) == 2022


def test_be_ce_round_trip():
    for ce_year in range(1900, 2200):
        assert to_ce_year(to_be_year(ce_year)) == ce_year


@pytest.mark.parametrize(
    "value, expected",
    [(2565, 2565), ("2565", 2565), ("๒๕๖๕", 2565), (" 2569 ", 2569), ("พ.ศ. 2565", 2565),
     ("พ.ศ.๒๕๖๕", 2565), ("2400", 2400), (2699, 2699)],
)
def test_parse_be_year_accepts(value, expected):
    assert parse_be_year(value, "year") == expected


@pytest.mark.parametrize("ce_year", [2025, 2026, "2025", "๒๐๒๕", 1990, 2100])
def test_parse_be_year_rejects_ce_year_with_hint(ce_year):
    with pytest.raises(ThaiInputError) as caught:
        parse_be_year(ce_year, "fiscal_year")
    error = caught.value
    year = int(from_thai_digits(str(ce_year)))
    assert error.field == "fiscal_year"
    assert "ค.ศ." in error.message_th and str(year + 543) in error.message_th
    assert "C.E." in error.message_en and str(year + 543) in error.message_en
    assert isinstance(error, ValueError)  # callers may catch ValueError


def test_every_plausible_ce_year_is_rejected():
    for ce_year in range(1900, 2157):
        with pytest.raises(ThaiInputError):
            parse_be_year(ce_year, "year")


@pytest.mark.parametrize("value", ["", "abc", "25650", "256", 2565.0, None, True, "2565-01", 3000, 1000])
def test_parse_be_year_rejects_garbage(value):
    with pytest.raises(ThaiInputError) as caught:
        parse_be_year(value, "year")
    assert caught.value.field == "year"
    assert caught.value.message_th and caught.value.message_en


def test_thai_input_error_str_names_the_field():
    error = ThaiInputError("start_date", "ข้อความ", "message")
    assert str(error) == "start_date: message"
    assert (error.field, error.message_th, error.message_en) == ("start_date", "ข้อความ", "message")


# --- Fiscal year ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "day, fiscal_year",
    [
        (date(2025, 9, 30), 2568),
        (date(2025, 10, 1), 2569),
        (date(2021, 10, 1), 2565),
        (date(2022, 9, 30), 2565),
        (date(2022, 1, 4), 2565),
        (date(2025, 12, 31), 2569),
        (date(2026, 1, 1), 2569),
    ],
)
def test_fiscal_year_edges(day, fiscal_year):
    assert fiscal_year_be(day) == fiscal_year


def test_fiscal_year_bounds_of_2565():
    assert fiscal_year_bounds(2565) == (date(2021, 10, 1), date(2022, 9, 30))
    assert fiscal_year_bounds(2569) == (date(2025, 10, 1), date(2026, 9, 30))


def test_fiscal_year_bounds_rejects_ce_year():
    with pytest.raises(ThaiInputError) as caught:
        fiscal_year_bounds(2025)
    assert caught.value.field == "fiscal_year"


def test_fiscal_year_is_consistent_with_its_bounds_for_every_day():
    for day in every_day(date(2015, 1, 1), date(2035, 12, 31)):
        fiscal_year = fiscal_year_be(day)
        first, last = fiscal_year_bounds(fiscal_year)
        assert first <= day <= last
        assert fiscal_year_be(first - timedelta(days=1)) == fiscal_year - 1
        assert fiscal_year_be(last + timedelta(days=1)) == fiscal_year + 1


def test_consecutive_fiscal_years_tile_the_calendar():
    for fiscal_year in range(2500, 2650):
        _, last = fiscal_year_bounds(fiscal_year)
        next_first, _ = fiscal_year_bounds(fiscal_year + 1)
        assert next_first == last + timedelta(days=1)


def test_fiscal_year_of_datetime_uses_bangkok_time():
    # 30 Sep 2025 18:00 UTC is already 1 Oct 2025 01:00 in Bangkok: the new fiscal year.
    assert fiscal_year_be(datetime(2025, 9, 30, 18, 0, tzinfo=timezone.utc)) == 2569
    assert fiscal_year_be(datetime(2025, 9, 30, 16, 59, tzinfo=timezone.utc)) == 2568
    # Naive datetimes are taken as Bangkok local time.
    assert fiscal_year_be(datetime(2025, 9, 30, 23, 59)) == 2568
    assert fiscal_year_be(datetime(2025, 10, 1, 0, 0, tzinfo=BANGKOK)) == 2569


def test_fiscal_year_rejects_non_dates():
    with pytest.raises(TypeError):
        fiscal_year_be("2025-10-01")


# --- Thai digits ----------------------------------------------------------------------------

def test_thai_digits_map_one_to_one():
    assert to_thai_digits("0123456789") == "๐๑๒๓๔๕๖๗๘๙"
    assert from_thai_digits("๐๑๒๓๔๕๖๗๘๙") == "0123456789"
    assert to_thai_digits(2565) == "๒๕๖๕"


def test_thai_digits_leave_other_characters_alone():
    assert to_thai_digits("ที่ มท 0801.2/ว 52") == "ที่ มท ๐๘๐๑.๒/ว ๕๒"
    assert from_thai_digits("ที่ มท ๐๘๐๑.๒/ว ๕๒") == "ที่ มท 0801.2/ว 52"
    assert from_thai_digits("abc ก-ฮ") == "abc ก-ฮ"


def test_thai_digit_round_trip_on_random_text():
    rng = random.Random(2565)
    alphabet = "0123456789abc ก-ฮ.,/่้ำ"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert from_thai_digits(to_thai_digits(text)) == text
        assert not any(ch in "0123456789" for ch in to_thai_digits(text))
        thai_text = to_thai_digits(text)
        assert to_thai_digits(from_thai_digits(thai_text)) == thai_text


# --- Formatting -----------------------------------------------------------------------------

def test_month_tables():
    assert len(THAI_MONTHS_FULL) == len(THAI_MONTHS_ABBR) == 12
    assert THAI_MONTHS_FULL[0] == "มกราคม" and THAI_MONTHS_ABBR[0] == "ม.ค."
    assert THAI_MONTHS_FULL[11] == "ธันวาคม" and THAI_MONTHS_ABBR[11] == "ธ.ค."


def test_format_date_th_styles():
    day = date(2026, 2, 3)
    assert format_date_th(day) == "๓ ก.พ. ๒๕๖๙"
    assert format_date_th(day, digits="arabic") == "3 ก.พ. 2569"
    assert format_date_th(day, digits="arabic", style="long") == "3 กุมภาพันธ์ 2569"
    assert format_date_th(day, style="long") == "๓ กุมภาพันธ์ ๒๕๖๙"
    assert format_date_th(date(2022, 1, 4), digits="arabic") == "4 ม.ค. 2565"


def test_format_date_th_rejects_unknown_options():
    with pytest.raises(ValueError):
        format_date_th(date(2026, 2, 3), digits="roman")
    with pytest.raises(ValueError):
        format_date_th(date(2026, 2, 3), style="medium")


def test_format_datetime_th_in_bangkok():
    moment = datetime(2026, 2, 3, 6, 30, tzinfo=timezone.utc)  # 13.30 in Bangkok
    assert format_datetime_th(moment) == "๓ ก.พ. ๒๕๖๙ ๑๓.๓๐ น."
    assert format_datetime_th(moment, digits="arabic") == "3 ก.พ. 2569 13.30 น."
    assert format_datetime_th(datetime(2022, 1, 4, 16, 56), digits="arabic", style="long") == (
        "4 มกราคม 2565 16.56 น."
    )


def test_format_datetime_th_crosses_midnight_into_bangkok_date():
    moment = datetime(2025, 9, 30, 17, 5, tzinfo=timezone.utc)  # 1 Oct 00.05 in Bangkok
    assert format_datetime_th(moment, digits="arabic") == "1 ต.ค. 2568 00.05 น."


def test_format_date_en():
    assert format_date_en(date(2026, 2, 3)) == "3 Feb 2026"
    assert format_date_en(date(2021, 12, 2)) == "2 Dec 2021"


# --- Parsing --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text",
    [
        "2022-01-04",
        "4/1/2565",
        "04/01/2565",
        "4/1/2022",
        "๔/๑/๒๕๖๕",
        "๔ ม.ค. ๒๕๖๕",
        "4 ม.ค. 2565",
        "4 ม.ค.2565",
        "4 มค 2565",
        "4 มกราคม 2565",
        "๔ มกราคม ๒๕๖๕",
        "  4   มกราคม   2565 ",
        "วันที่ 4 มกราคม พ.ศ. 2565",
        "4 มกราคม พ.ศ.๒๕๖๕",
        "4 มกราคม ค.ศ. 2022",
        "๒๐๒๒-๐๑-๐๔",
    ],
)
def test_parse_thai_date_accepts(text):
    assert parse_thai_date(text, "received_on") == date(2022, 1, 4)


@pytest.mark.parametrize(
    "text",
    ["", "yesterday", "4 January 2022", "4 มกรา 2565", "32/1/2565", "29/2/2565",
     "30 ก.พ. 2567", "4/13/2565", "4/1/65", "4 ม.ค. 65", "2022/01/04", "4 ม.ค. พ.ศ. 2022"],
)
def test_parse_thai_date_rejects(text):
    with pytest.raises(ThaiInputError) as caught:
        parse_thai_date(text, "received_on")
    assert caught.value.field == "received_on"
    assert caught.value.message_th and caught.value.message_en


def test_parse_thai_date_rejects_non_text():
    with pytest.raises(ThaiInputError):
        parse_thai_date(None, "received_on")


def test_parse_leap_day_in_be():
    # B.E. 2567 = 2024, a leap year; B.E. 2565 = 2022 is not (see the reject list above).
    assert parse_thai_date("29 ก.พ. 2567") == date(2024, 2, 29)


def test_year_threshold_decides_the_era():
    assert parse_thai_date("1/1/2400") == date(1857, 1, 1)
    assert parse_thai_date("1/1/2399") == date(2399, 1, 1)


def test_format_then_parse_round_trip_for_every_day():
    for day in every_day(date(1990, 1, 1), date(2040, 12, 31)):
        for digits in ("thai", "arabic"):
            for style in ("short", "long"):
                assert parse_thai_date(format_date_th(day, digits=digits, style=style)) == day
        assert parse_thai_date(day.isoformat()) == day
        assert parse_thai_date(f"{day.day}/{day.month}/{to_be_year(day.year)}") == day
        assert parse_thai_date(f"{day.day}/{day.month}/{day.year}") == day
