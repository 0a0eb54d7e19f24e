"""Words with one meaning platform-wide: each vocabulary is declared here once, as a ``Literal``
(what pydantic validates and the JSON Schemas and OpenAPI document show); its tuple, its order and
any enum are derived from that one declaration.

- Levels of the administrative tree, top → down (the order dashboards and cascade figures use).
- LAO types (ประเภท อปท.).
- Value types and directions of an indicator. Direction says which way is better: ``increase`` /
  ``decrease`` / ``maintain`` / ``none``; plans used to say ``higher`` / ``lower``, still accepted at
  input (``Direction``) and always emitted as the canonical word (``CanonicalDirection`` in events).
- States of an assignment (plans) and an obligation (assessments), urgency of a document.

Pure: no database, no broker. Service-private words (a message's delivery status) stay home.
"""
from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, get_args

from pydantic import BeforeValidator

Level = Literal["ministry", "ministry_office", "department", "department_bureau",
                "provincial_office", "district_office", "lao"]
LEVELS: tuple[str, ...] = get_args(Level)                     # top → down
NATIONAL_LEVELS: tuple[str, ...] = LEVELS[:4]                 # the ministry and the department (DLA)
PROVINCE_LEVEL = "provincial_office"
DISTRICT_LEVEL = "district_office"
LAO_LEVEL = "lao"

LaoType = Literal["pao", "city_municipality", "town_municipality", "subdistrict_municipality", "sao",
                  "special"]
LAO_TYPES: tuple[str, ...] = get_args(LaoType)

ValueType = Literal["number", "integer", "percent", "count", "boolean"]
VALUE_TYPES: tuple[str, ...] = get_args(ValueType)

CanonicalDirection = Literal["increase", "decrease", "maintain", "none"]
DIRECTIONS: tuple[str, ...] = get_args(CanonicalDirection)
DIRECTION_ALIASES = {"higher": "increase", "lower": "decrease", "more": "increase", "less": "decrease"}

AssignmentStateName = Literal["issued", "received", "acknowledged", "forwarded", "in_progress", "reported",
                              "closed", "not_applicable", "cancelled"]
ObligationStateName = Literal["open", "submitted", "accepted", "returned", "missed", "cancelled"]
Urgency = Literal["most_urgent", "very_urgent", "urgent", "normal"]  # ด่วนที่สุด ด่วนมาก ด่วน ปกติ
URGENCIES: tuple[str, ...] = get_args(Urgency)


def _enum(name: str, words: tuple[str, ...]) -> type[StrEnum]:
    return StrEnum(name, {word.upper(): word for word in words})


# The same words as enums, for code that names one (``OrgLevel.LAO``, ``AssignmentState.CLOSED``).
OrgLevel = _enum("OrgLevel", LEVELS)
LaoTypeName = _enum("LaoTypeName", LAO_TYPES)
AssignmentState = _enum("AssignmentState", get_args(AssignmentStateName))
ObligationState = _enum("ObligationState", get_args(ObligationStateName))


def level_rank(level: str | None) -> int:
    """0 for the ministry … 6 for an LAO; an unknown level sorts last."""
    return LEVELS.index(level) if level in LEVELS else len(LEVELS)


def canonical_direction(value):
    """``higher`` → ``increase``, ``lower`` → ``decrease``; anything else unchanged (validated later)."""
    if isinstance(value, str):
        word = value.strip().lower()
        return DIRECTION_ALIASES.get(word, word)
    return value


Direction = Annotated[CanonicalDirection, BeforeValidator(canonical_direction)]

__all__ = ["AssignmentState", "AssignmentStateName", "CanonicalDirection", "DIRECTIONS", "DIRECTION_ALIASES",
           "DISTRICT_LEVEL", "Direction", "LAO_LEVEL", "LAO_TYPES", "LEVELS", "LaoType", "LaoTypeName", "Level",
           "NATIONAL_LEVELS", "ObligationState", "ObligationStateName", "OrgLevel", "PROVINCE_LEVEL", "URGENCIES",
           "Urgency", "VALUE_TYPES", "ValueType", "canonical_direction", "level_rank"]
