"""List sorting: allowed columns only, descending with '-', a stable tie-breaker."""
from __future__ import annotations

import pytest

from services.assessments.models import obligations
from shared.errors import InputError
from shared.listing import order_by


def test_sort_clauses_follow_the_request_then_the_default():
    clauses = order_by(obligations, "-due_at,unit_code", ("due_at", "unit_code"), ("due_at", "id"))
    assert [str(c) for c in clauses] == ["obligations.due_at DESC", "obligations.unit_code ASC", "obligations.id ASC"]


def test_an_unknown_sort_column_is_a_400_naming_the_field():
    with pytest.raises(InputError) as error:
        order_by(obligations, "correlation_id", ("due_at",), ("id",))
    assert (error.value.status, error.value.field) == (400, "sort") and "due_at" in error.value.message_th
