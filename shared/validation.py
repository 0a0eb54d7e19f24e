"""Turning pydantic validation failures into InputError (field named, Thai and English)."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ValidationError

from shared.errors import InputError

M = TypeVar("M", bound=BaseModel)

_THAI_BY_TYPE = {
    "missing": "ต้องระบุ",
    "string_type": "ต้องเป็นข้อความ",
    "string_too_short": "สั้นเกินไป",
    "string_too_long": "ยาวเกินไป",
    "float_parsing": "ต้องเป็นตัวเลข",
    "float_type": "ต้องเป็นตัวเลข",
    "int_parsing": "ต้องเป็นจำนวนเต็ม",
    "int_type": "ต้องเป็นจำนวนเต็ม",
    "datetime_parsing": "รูปแบบวันเวลาไม่ถูกต้อง",
    "datetime_from_date_parsing": "รูปแบบวันเวลาไม่ถูกต้อง",
    "date_parsing": "รูปแบบวันที่ไม่ถูกต้อง",
    "date_from_datetime_parsing": "รูปแบบวันที่ไม่ถูกต้อง",
    "literal_error": "ไม่อยู่ในค่าที่อนุญาต",
    "enum": "ไม่อยู่ในค่าที่อนุญาต",
    "extra_forbidden": "ไม่รู้จักช่องข้อมูลนี้",
    "too_short": "ต้องมีอย่างน้อยหนึ่งรายการ",
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


def _plausible_year(value: datetime) -> datetime:
    if not 1900 <= value.year <= 2600:
        raise ThaiValueError("the year must be between 1900 and 2600 (CE)", "ปี ค.ศ. ต้องอยู่ระหว่าง 1900 ถึง 2600")
    return value


# An aware timestamp within years a directive or a report can mean (storable in UTC everywhere).
Moment = Annotated[AwareDatetime, AfterValidator(_plausible_year)]
