"""Words with one meaning platform-wide.

Direction of an indicator: which way is better. One canonical set, ``increase`` / ``decrease`` /
``maintain`` / ``none`` (what events, assessments and reporting use); plans used to say
``higher`` / ``lower``, still accepted at input and always emitted as the canonical word.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator

DIRECTIONS = ("increase", "decrease", "maintain", "none")
DIRECTION_ALIASES = {"higher": "increase", "lower": "decrease", "more": "increase", "less": "decrease"}


def canonical_direction(value):
    """``higher`` → ``increase``, ``lower`` → ``decrease``; anything else unchanged (validated later)."""
    if isinstance(value, str):
        word = value.strip().lower()
        return DIRECTION_ALIASES.get(word, word)
    return value


Direction = Annotated[Literal["increase", "decrease", "maintain", "none"], BeforeValidator(canonical_direction)]

__all__ = ["DIRECTIONS", "DIRECTION_ALIASES", "Direction", "canonical_direction"]
