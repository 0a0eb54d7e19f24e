"""Thai calendar, digit and date-format helpers.

Conventions (from the reference pack):

- Buddhist era: B.E. = C.E. + 543.
- Fiscal year (ปีงบประมาณ): 1 October to 30 September, named by the B.E. year in which it
  ends (FY 2565 = 2021-10-01 .. 2022-09-30).
- Thai digits ๐-๙ and Arabic digits 0-9 are interchangeable on input.
- Time zone Asia/Bangkok (UTC+7, no daylight saving); times print as "13.30 น.".

Pure Python: standard library only.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import date, datetime
from typing import Literal

__all__ = [
    "BANGKOK",
    "BE_OFFSET",
    "ENGLISH_MONTHS_ABBR",
    "THAI_MONTHS_ABBR",
    "THAI_MONTHS_FULL",
    "ThaiInputError",
    "fiscal_year_be",
    "fiscal_year_bounds",
    "fiscal_year_of_period",
    "format_date_en",
    "format_date_th",
    "format_datetime_th",
    "from_thai_digits",
    "parse_be_year",
    "parse_thai_date",
    "thai_month_number",
    "to_be_year",
    "to_ce_year",
    "to_thai_digits",
]

BANGKOK = zoneinfo.ZoneInfo("Asia/Bangkok")

BE_OFFSET = 543

# A four-digit year at or above this is read as B.E.; below it, as C.E.
# (B.E. 2400 = C.E. 1857, so the two ranges cannot meet for any date we handle.)
BE_THRESHOLD = 2400
# Accepted B.E. years for fields that must hold one: C.E. 1857 .. 2156.
MIN_BE_YEAR = 2400
MAX_BE_YEAR = 2699

THAI_MONTHS_FULL = (
    "มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน",
    "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม",
)
THAI_MONTHS_ABBR = (
    "ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.",
    "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค.",
)
# Fixed English abbreviations: strftime("%b") would depend on the process locale.
ENGLISH_MONTHS_ABBR = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)

_THAI_DIGITS = "๐๑๒๓๔๕๖๗๘๙"
_ARABIC_DIGITS = "0123456789"
_TO_THAI = str.maketrans(_ARABIC_DIGITS, _THAI_DIGITS)
_FROM_THAI = str.maketrans(_THAI_DIGITS, _ARABIC_DIGITS)

DigitStyle = Literal["thai", "arabic"]
MonthStyle = Literal["short", "long"]


class ThaiInputError(ValueError):
    """A user-supplied value could not be read; carries messages for both languages.

    ``field`` names the input field so that a form or API can attach the message to it.
    """

    def __init__(self, field: str, message_th: str, message_en: str) -> None:
        super().__init__(f"{field}: {message_en}")
        self.field = field
        self.message_th = message_th
        self.message_en = message_en


# --- Buddhist era ---------------------------------------------------------------------------

def to_be_year(ce_year: int) -> int:
    """C.E. year → B.E. year (2022 → 2565)."""
    return ce_year + BE_OFFSET


def to_ce_year(be_year: int) -> int:
    """B.E. year → C.E. year (2565 → 2022)."""
    return be_year - BE_OFFSET


def parse_be_year(value: int | str, field: str = "year") -> int:
    """Read a B.E. year typed by a person (int, or text with Thai or Arabic digits).

    An optional "พ.ศ." prefix is allowed. A C.E. year typed by mistake (e.g. 2025) is rejected
    with a message that suggests the B.E. year, rather than being silently converted: the
    caller cannot know which era the person meant.
    """
    if isinstance(value, bool):  # bool is an int subclass; True is not a year
        raise _not_a_year(field, value)
    if isinstance(value, int):
        year = value
    elif isinstance(value, str):
        text = from_thai_digits(value).strip()
        text = re.sub(r"^พ\.?\s*ศ\.?\s*", "", text)
        if not re.fullmatch(r"\d{4}", text):
            raise _not_a_year(field, value)
        year = int(text)
    else:
        raise _not_a_year(field, value)

    if MIN_BE_YEAR <= year <= MAX_BE_YEAR:
        return year
    if to_be_year(year) in range(MIN_BE_YEAR, MAX_BE_YEAR + 1):
        raise ThaiInputError(
            field,
            f"ปี {year} ดูเหมือนเป็นปีคริสต์ศักราช (ค.ศ.) กรุณากรอกปีพุทธศักราช (พ.ศ.) "
            f"เช่น {to_be_year(year)}",
            f"{year} looks like a C.E. (Gregorian) year; enter the B.E. (Buddhist era) year, "
            f"e.g. {to_be_year(year)}",
        )
    raise ThaiInputError(
        field,
        f"ปี พ.ศ. ต้องอยู่ระหว่าง {MIN_BE_YEAR} ถึง {MAX_BE_YEAR}",
        f"a B.E. year must be between {MIN_BE_YEAR} and {MAX_BE_YEAR}",
    )


def _not_a_year(field: str, value: object) -> ThaiInputError:
    return ThaiInputError(
        field,
        f"กรุณากรอกปี พ.ศ. เป็นตัวเลขสี่หลัก เช่น 2569 (ได้รับ: {value!r})",
        f"enter the B.E. year as four digits, e.g. 2569 (got {value!r})",
    )


# --- Fiscal year ----------------------------------------------------------------------------

def fiscal_year_be(moment: date | datetime) -> int:
    """B.E. fiscal year containing a date (2025-09-30 → 2568, 2025-10-01 → 2569).

    An aware datetime is first converted to Bangkok time: the fiscal year changes at
    midnight Bangkok time, not UTC. A naive datetime is taken as Bangkok local time.
    """
    local_date = _bangkok_date(moment)
    ending_ce_year = local_date.year + 1 if local_date.month >= 10 else local_date.year
    return to_be_year(ending_ce_year)


def fiscal_year_bounds(fiscal_year: int) -> tuple[date, date]:
    """First and last day (inclusive) of a B.E. fiscal year: 2565 → (2021-10-01, 2022-09-30)."""
    ending_ce_year = to_ce_year(parse_be_year(fiscal_year, "fiscal_year"))
    return date(ending_ce_year - 1, 10, 1), date(ending_ce_year, 9, 30)


def fiscal_year_of_period(label: str) -> int | None:
    """B.E. fiscal year of a canonical period label (``2569-11`` → 2570, ``FY2569-Q1`` → 2569), None
    for any other label. The period grammar lives in ``shared.calendar``; this name stays for callers."""
    from shared.calendar import fiscal_year_of_period as of_period  # shared.calendar imports this module
    return of_period(label)


def _bangkok_date(moment: date | datetime) -> date:
    if isinstance(moment, datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(BANGKOK)
        return moment.date()
    if isinstance(moment, date):
        return moment
    raise TypeError(f"expected a date or datetime, got {type(moment).__name__}")


# --- Thai digits ----------------------------------------------------------------------------

def to_thai_digits(text: str | int) -> str:
    """Replace 0-9 with ๐-๙; every other character is kept."""
    return str(text).translate(_TO_THAI)


def from_thai_digits(text: str) -> str:
    """Replace ๐-๙ with 0-9; every other character is kept."""
    return text.translate(_FROM_THAI)


# --- Formatting -----------------------------------------------------------------------------

def format_date_th(
    day: date | datetime, digits: DigitStyle = "thai", style: MonthStyle = "short"
) -> str:
    """Thai date with B.E. year: "๓ ก.พ. ๒๕๖๙" (default), "3 ก.พ. 2569", "3 กุมภาพันธ์ 2569"."""
    local_date = _bangkok_date(day)
    months = _month_names(style)
    text = f"{local_date.day} {months[local_date.month - 1]} {to_be_year(local_date.year)}"
    return _apply_digits(text, digits)


def format_datetime_th(
    moment: datetime, digits: DigitStyle = "thai", style: MonthStyle = "short"
) -> str:
    """Thai date and time in Bangkok: "๓ ก.พ. ๒๕๖๙ ๑๓.๓๐ น.".

    An aware datetime is converted to Bangkok time; a naive one is taken as Bangkok time.
    """
    if not isinstance(moment, datetime):
        raise TypeError(f"expected a datetime, got {type(moment).__name__}")
    local = moment.astimezone(BANGKOK) if moment.tzinfo is not None else moment
    time_text = _apply_digits(f"{local.hour:02d}.{local.minute:02d} น.", digits)
    return f"{format_date_th(local.date(), digits=digits, style=style)} {time_text}"


def format_date_en(day: date | datetime) -> str:
    """English date with C.E. year: "3 Feb 2026"."""
    local_date = _bangkok_date(day)
    return f"{local_date.day} {ENGLISH_MONTHS_ABBR[local_date.month - 1]} {local_date.year}"


def _month_names(style: str) -> tuple[str, ...]:
    if style == "short":
        return THAI_MONTHS_ABBR
    if style == "long":
        return THAI_MONTHS_FULL
    raise ValueError(f"style must be 'short' or 'long', not {style!r}")


def _apply_digits(text: str, digits: str) -> str:
    if digits == "thai":
        return to_thai_digits(text)
    if digits == "arabic":
        return text
    raise ValueError(f"digits must be 'thai' or 'arabic', not {digits!r}")


# --- Parsing --------------------------------------------------------------------------------

# Month lookup keyed by the name with dots and spaces removed, so "ม.ค.", "ม.ค" and "มค"
# all match. The stripped abbreviations and full names are all distinct.
_MONTH_BY_KEY: dict[str, int] = {
    **{name: number for number, name in enumerate(THAI_MONTHS_FULL, start=1)},
    **{abbr.replace(".", ""): number for number, abbr in enumerate(THAI_MONTHS_ABBR, start=1)},
}

_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_SLASH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
# day, month words, optional era marker (พ.ศ. / ค.ศ.), four-digit year
_THAI_WORDS_DATE = re.compile(
    r"(?:วันที่\s*)?(\d{1,2})\s*([ก-๎.\s]+?)\s*(?:(พ\.?\s*ศ\.?|ค\.?\s*ศ\.?)\s*)?(\d{4})"
)


def thai_month_number(text: str) -> int | None:
    """1..12 for a Thai month name, full or abbreviated, dots and spaces optional ("ธ.ค.", "ธค",
    "ธันวาคม"); None for anything else."""
    return _MONTH_BY_KEY.get(re.sub(r"[.\s]", "", text))


def parse_thai_date(text: str, field: str = "date") -> date:
    """Read a date typed by a person or printed on a document.

    Accepted, with Thai or Arabic digits:

    - ISO ``2022-01-04``;
    - ``d/m/yyyy``: ``4/1/2565`` (B.E.) or ``4/1/2022`` (C.E.);
    - Thai month names, full or abbreviated: ``๔ ม.ค. ๒๕๖๕``, ``4 มกราคม 2565``, optionally
      with "วันที่" before and "พ.ศ."/"ค.ศ." before the year.

    Without an era marker a year >= 2400 is read as B.E. and any other year as C.E.
    Raises ThaiInputError for anything else, including impossible dates such as 30 ก.พ.
    """
    if not isinstance(text, str):
        raise _unreadable_date(field, text)
    normalised = re.sub(r"\s+", " ", from_thai_digits(text)).strip()

    if match := _ISO_DATE.fullmatch(normalised):
        year, month, day = (int(part) for part in match.groups())
        return _build_date(field, text, _year_to_ce(year), month, day)

    if match := _SLASH_DATE.fullmatch(normalised):
        day, month, year = (int(part) for part in match.groups())
        return _build_date(field, text, _year_to_ce(year), month, day)

    if match := _THAI_WORDS_DATE.fullmatch(normalised):
        day_text, month_text, era_marker, year_text = match.groups()
        month = _MONTH_BY_KEY.get(re.sub(r"[.\s]", "", month_text))
        if month is None:
            raise _unreadable_date(field, text)
        year = int(year_text)
        if era_marker is None:
            ce_year = _year_to_ce(year)
        elif era_marker.startswith("พ"):
            ce_year = to_ce_year(parse_be_year(year, field))
        else:
            ce_year = year
        return _build_date(field, text, ce_year, month, int(day_text))

    raise _unreadable_date(field, text)


def _year_to_ce(year: int) -> int:
    return to_ce_year(year) if year >= BE_THRESHOLD else year


def _build_date(field: str, original: str, ce_year: int, month: int, day: int) -> date:
    try:
        return date(ce_year, month, day)
    except ValueError:
        raise ThaiInputError(
            field,
            f"ไม่มีวันที่นี้ในปฏิทิน: {original}",
            f"no such calendar date: {original}",
        ) from None


def _unreadable_date(field: str, value: object) -> ThaiInputError:
    return ThaiInputError(
        field,
        f"อ่านวันที่ไม่ได้ ({value!r}) กรุณากรอกเช่น 4 ม.ค. 2565 หรือ 4/1/2565",
        f"cannot read the date {value!r}; use e.g. 4 ม.ค. 2565, 4/1/2565 or 2022-01-04",
    )
