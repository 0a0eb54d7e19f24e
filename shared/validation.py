"""Input rules shared by every service, and pydantic failures turned into InputError (field named,
Thai and English).

One place for what a request may hold (the limits are documented in docs/api-input.md):

* text: ``Line(n)`` is one line of at most ``n`` characters, ``LongText(n)`` may also hold tab and
  line breaks; neither may hold any other control character (C0, DEL, C1), a lone surrogate or a
  non-character (U+FFFE, U+FFFF): such a character cannot be stored everywhere (PostgreSQL refuses
  NUL), breaks spreadsheets and hides text from the officer reading it;
* numbers: ``Number`` is finite, at most 10^15 in magnitude, and never ``true``/``false``;
* dates and times: ``ThaiDate`` and ``Moment`` read a year of 2400 or more as Buddhist era (as
  ``shared.thai.parse_thai_date`` always has) and refuse a year outside C.E. 1900-2200;
* JSON bodies: at most ``MAX_JSON_DEPTH`` levels of nesting, checked before parsing.
"""
from __future__ import annotations

import itertools
import math
import re
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import (AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool,
                      ValidationError)

from shared.errors import InputError
from shared.thai import BE_THRESHOLD, ThaiInputError, from_thai_digits, parse_thai_date, to_ce_year

M = TypeVar("M", bound=BaseModel)

_THAI_BY_TYPE = {
    "missing": "ต้องระบุ",
    "string_type": "ต้องเป็นข้อความ",
    "string_too_short": "สั้นเกินไป",
    "string_too_long": "ยาวเกินไป",
    "string_pattern_mismatch": "รูปแบบไม่ถูกต้อง",
    "float_parsing": "ต้องเป็นตัวเลข",
    "float_type": "ต้องเป็นตัวเลข",
    "int_parsing": "ต้องเป็นจำนวนเต็ม",
    "int_type": "ต้องเป็นจำนวนเต็ม",
    "bool_type": "ต้องเป็น true หรือ false",
    "bool_parsing": "ต้องเป็น true หรือ false",
    "datetime_parsing": "รูปแบบวันเวลาไม่ถูกต้อง",
    "datetime_from_date_parsing": "รูปแบบวันเวลาไม่ถูกต้อง",
    "date_parsing": "รูปแบบวันที่ไม่ถูกต้อง",
    "date_from_datetime_parsing": "รูปแบบวันที่ไม่ถูกต้อง",
    "literal_error": "ไม่อยู่ในค่าที่อนุญาต",
    "enum": "ไม่อยู่ในค่าที่อนุญาต",
    "extra_forbidden": "ไม่รู้จักช่องข้อมูลนี้",
    "too_short": "ต้องมีอย่างน้อยหนึ่งรายการ",
    "too_long": "มีรายการมากเกินกำหนด",
    "list_type": "ต้องเป็นรายการ",
    "dict_type": "ต้องเป็นออบเจ็กต์",
    "model_type": "ต้องเป็นออบเจ็กต์",
    "greater_than_equal": "น้อยกว่าค่าต่ำสุดที่อนุญาต",
    "less_than_equal": "มากกว่าค่าสูงสุดที่อนุญาต",
    "timezone_aware": "ต้องระบุเขตเวลา",
    "value_error": "ค่าไม่ถูกต้อง",
}


def field_path(loc: tuple) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def parse(model: type[M], data: Any) -> M:
    """Validate a command; the first problem becomes an InputError naming its field."""
    if not isinstance(data, dict):
        raise InputError("invalid", "body", "ข้อมูลต้องเป็นออบเจ็กต์ JSON", "body must be a JSON object",
                         status=422)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        thai = _THAI_BY_TYPE.get(error["type"], "ค่าไม่ถูกต้อง")
        message_en = error["msg"]
        if error["type"] == "value_error":
            message_en = message_en.removeprefix("Value error, ")
            custom = (error.get("ctx") or {}).get("error")
            thai = getattr(custom, "message_th", thai)
        raise InputError("invalid", field_path(error["loc"]), thai, message_en, status=422) from None


class ThaiValueError(ValueError):
    """A ValueError raised in a validator that also carries the Thai message."""

    def __init__(self, message_en: str, message_th: str):
        super().__init__(message_en)
        self.message_th = message_th


class Command(BaseModel):
    """Base of every command: an unknown field is an error (never silently dropped), text is trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- text ------------------------------------------------------------------------------------------

# Never in any text: C0 controls but tab, LF and CR; DEL; C1 controls; lone surrogates (JSON can carry
# "\ud800", which no database or file can store); the non-characters U+FFFE and U+FFFF.
NOT_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# One line: none of those, and no tab or line break either.
NOT_IN_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def control_character_problem(text: str, multiline: bool = True) -> tuple[str, str] | None:
    """(English, Thai) why ``text`` cannot be stored, or None when it can."""
    found = (NOT_IN_TEXT if multiline else NOT_IN_LINE).search(text)
    if found is None:
        return None
    char, position = found.group(), found.start() + 1
    if char in "\t\n\r":
        return ("must be one line (no tab or line break; at character {})".format(position),
                f"ต้องเป็นข้อความบรรทัดเดียว (ไม่มีแท็บหรือการขึ้นบรรทัดใหม่ ที่ตัวอักษรที่ {position})")
    return (f"must not contain the control character U+{ord(char):04X} (at character {position})",
            f"ต้องไม่มีอักขระควบคุม U+{ord(char):04X} (ที่ตัวอักษรที่ {position})")


def one_line(value: str) -> str:
    if problem := control_character_problem(value, multiline=False):
        raise ThaiValueError(*problem)
    return value


def printable_text(value: str) -> str:
    if problem := control_character_problem(value, multiline=True):
        raise ThaiValueError(*problem)
    return value


# The same rules as JSON Schema patterns, for the documents that describe the requests (OpenAPI): the
# validators above enforce them (with their Thai and English messages), the patterns only say them.
_TEXT_CLASS = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffe\uffff"
_LINE_CLASS = r"\u0000-\u001f\u007f-\u009f\ufffe\uffff"
TEXT_PATTERN = f"^[^{_TEXT_CLASS}]*$"
LINE_PATTERN = f"^[^{_LINE_CLASS}]*$"


def _pattern(char_class: str, required: bool) -> str:
    """Text of allowed characters; when required, one at least that is not a space (spaces are trimmed)."""
    if not required:
        return f"^[^{char_class}]*$"
    return f"^[^{char_class}]*[^{char_class}\\s][^{char_class}]*$"


def Line(max_length: int, min_length: int = 0):  # noqa: N802 - a type, used like one
    """One line of text: at most ``max_length`` characters, no control character at all."""
    return Annotated[str, Field(min_length=min_length, max_length=max_length,
                                json_schema_extra={"pattern": _pattern(_LINE_CLASS, min_length > 0)}),
                     AfterValidator(one_line)]


def LongText(max_length: int, min_length: int = 0):  # noqa: N802
    """Free text (a directive's wording, a note): tab and line breaks allowed, no other control character."""
    return Annotated[str, Field(min_length=min_length, max_length=max_length,
                                json_schema_extra={"pattern": _pattern(_TEXT_CLASS, min_length > 0)}),
                     AfterValidator(printable_text)]


# The documented maximum lengths (characters) of free text; codes and ids have their own patterns.
CODE_MAX = 64              # a unit, indicator or element code; an id
NAME_MAX = 300             # a unit's or a person's name, a unit of measure, a position
TITLE_MAX = 1000           # a document's subject, a plan's or an element's title
ADDRESS_MAX = 2000         # a document's sender and addressee as printed; a note, reason or comment
TEXT_MAX = 20000           # a directive's wording, a plan statement
Code = Line(CODE_MAX, 1)
Name = Line(NAME_MAX)
Title = Line(TITLE_MAX)
Note = LongText(ADDRESS_MAX)
Body = LongText(TEXT_MAX)


def refuse_control_characters(value: Any, path: str = "") -> None:
    """Walk a parsed JSON value (keys too): the first string holding a character that no text may hold
    is an InputError naming where it is. Tab and line breaks are left to the field's own rule."""
    if isinstance(value, str):
        if problem := control_character_problem(value):
            raise InputError("invalid", path or "body", problem[1], problem[0], status=422)
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if problem := control_character_problem(str(key)):
                raise InputError("invalid", path or "body", f"ชื่อช่องข้อมูล{problem[1]}", f"a field name {problem[0]}",
                                 status=422)
            refuse_control_characters(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            refuse_control_characters(item, f"{path}[{index}]")


def printable(text: str | None) -> str | None:
    """``text`` with every character no text may hold replaced by U+FFFD (for what must be kept as sent,
    such as an audit log's copy of a request, yet stored and exported everywhere)."""
    return NOT_IN_TEXT.sub("\ufffd", text) if text else text


MAX_FILENAME = 255


def safe_filename(name: Any, default: str = "attachment") -> str:
    """The name a file is stored and served under: its last path segment only (``../../etc/passwd`` ->
    ``passwd``; Windows ``C:\\x\\y.pdf`` -> ``y.pdf``), without control characters or quotes, at most
    255 characters keeping the extension; never empty, ``.`` or ``..``."""
    text = NOT_IN_LINE.sub("", str(name or ""))
    text = re.split(r"[/\\]", text)[-1].replace('"', "").strip().lstrip(".").strip()
    if not text:
        return default
    if len(text) > MAX_FILENAME:
        stem, dot, extension = text.rpartition(".")
        extension = extension[:16] if dot and stem else ""
        text = text[:MAX_FILENAME - len(extension) - 1].rstrip() + "." + extension if extension else text[:MAX_FILENAME]
    return text


# --- numbers ---------------------------------------------------------------------------------------

NUMBER_MAX = 1e15


def _not_a_bool(value: Any) -> Any:
    if isinstance(value, bool):  # bool is an int to Python and to pydantic's lax mode: true is not 1
        raise ThaiValueError("must be a number, not true or false", "ต้องเป็นตัวเลข ไม่ใช่ true หรือ false")
    return value


def _finite_and_bounded(value: float) -> float:
    if not math.isfinite(value):
        raise ThaiValueError("must be a finite number", "ต้องเป็นตัวเลขที่มีค่าจำกัด")
    if abs(value) > NUMBER_MAX:
        raise ThaiValueError("must be at most 10^15 in magnitude", "ค่าต้องไม่เกิน 10^15 (บวกหรือลบ)")
    return value


Number = Annotated[float, BeforeValidator(_not_a_bool), AfterValidator(_finite_and_bounded)]
Flag = StrictBool  # true or false only (never 1, "yes" or "on")


def bounded_int(value: Any, field: str, low: int, high: int) -> int:
    """A whole number from a JSON body within [low, high]; true/false, 1.5, 1e999 and "7" are refused."""
    whole = isinstance(value, int) and not isinstance(value, bool)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value, whole = int(value), True
    if not whole or not low <= value <= high:
        raise InputError("invalid", field, f"{field} ต้องเป็นจำนวนเต็มระหว่าง {low} ถึง {high}",
                         f"{field} must be a whole number from {low} to {high}", status=422)
    return value


# --- dates and times -------------------------------------------------------------------------------

MIN_YEAR, MAX_YEAR = 1900, 2200   # C.E., after a Buddhist-era year is converted


def _plausible_year(value: date) -> date:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ThaiValueError(f"the year must be between {MIN_YEAR} and {MAX_YEAR} C.E. "
                             f"({MIN_YEAR + 543}-{MAX_YEAR + 543} B.E.)",
                             f"ปีต้องอยู่ระหว่าง พ.ศ. {MIN_YEAR + 543} ถึง {MAX_YEAR + 543} "
                             f"(ค.ศ. {MIN_YEAR} ถึง {MAX_YEAR})")
    return value


_LEADING_YEAR = re.compile(r"(\d{4})(-.*)", re.DOTALL)


def moment_in_ce(value: Any) -> Any:
    """A timestamp's text with a Buddhist-era year (2400 or more, as for plain dates) in C.E.:
    ``2569-12-31T16:30:00+07:00`` -> ``2026-12-31T16:30:00+07:00``. Thai digits are read.
    A number is refused: it would be taken for seconds since 1970."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ThaiValueError("give the date and time as text, e.g. 2026-12-31T16:30:00+07:00",
                             "ต้องระบุวันเวลาเป็นข้อความ เช่น 2569-12-31T16:30:00+07:00")
    text = from_thai_digits(value).strip()
    if (match := _LEADING_YEAR.fullmatch(text)) and int(match.group(1)) >= BE_THRESHOLD:
        text = f"{to_ce_year(int(match.group(1))):04d}{match.group(2)}"
    return text


def thai_date(value: Any) -> Any:
    """Dates may be typed in BE or CE, Thai or Arabic digits: '๓ ม.ค. ๒๕๖๕', '3/1/2565', ISO."""
    if isinstance(value, date) or value is None:
        return value
    if not isinstance(value, str):
        raise ThaiValueError("give the date as text, e.g. 2565-01-03 or 3/1/2565",
                             "ต้องระบุวันที่เป็นข้อความ เช่น 3/1/2565")
    try:
        return parse_thai_date(value)
    except ThaiInputError as exc:
        raise ThaiValueError(exc.message_en, exc.message_th) from None


# An aware timestamp within years a directive or a report can mean (storable in UTC everywhere).
Moment = Annotated[AwareDatetime, BeforeValidator(moment_in_ce), AfterValidator(_plausible_year)]
# A calendar date typed the Thai way or ISO, B.E. or C.E., within the same years.
ThaiDate = Annotated[date, BeforeValidator(thai_date), AfterValidator(_plausible_year)]


# --- JSON bodies -----------------------------------------------------------------------------------

MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in a JSON text, found without parsing it (brackets inside
    strings do not count), so that a body of 100,000 ``[`` is refused before the parser recurses."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0)


def check_json_depth(text: str, field: str = "body", limit: int = MAX_JSON_DEPTH) -> None:
    if json_depth(text) > limit:
        raise InputError("too_deep", field, f"ข้อมูลซ้อนกันเกิน {limit} ชั้น",
                         f"the JSON nests deeper than {limit} levels", status=400)
