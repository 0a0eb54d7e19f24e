"""The plans service's pure rules over plain data: no database, no framework (services/plans/domain.py)."""
from __future__ import annotations

import pytest

from services.plans import domain
from services.plans.domain import Actor, Unit
from shared.errors import InputError

UNITS = [Unit("DLA", "department", None), Unit("PLO-09", "provincial_office", "DLA"),
         Unit("DLO-0901", "district_office", "PLO-09"), Unit("LAO-1", "lao", "DLO-0901", lao_type="sao"),
         Unit("LAO-2", "lao", "DLO-0901", lao_type="pao"), Unit("PLO-10", "provincial_office", "DLA"),
         Unit("LAO-3", "lao", "PLO-10", lao_type="sao")]
CENTRAL = Actor("c", "central", "DLA")
CHAINAT = Actor("p", "provincial", "PLO-09")


def test_the_reporters_are_the_addressees_or_the_units_of_the_reporting_level_below_them():
    assert domain.reporting_units(["PLO-09", "PLO-10"], None, UNITS) == ["PLO-09", "PLO-10"]
    assert domain.reporting_units(["PLO-09", "PLO-10"], "lao", UNITS) == ["LAO-1", "LAO-2", "LAO-3"]
    assert domain.reporting_units(["LAO-1", "PLO-10"], "lao", UNITS) == ["LAO-1", "LAO-3"]  # an LAO reports itself
    assert domain.reporting_units(["PLO-10"], "district_office", UNITS) == []


def test_the_subtree_walk_is_the_kernels_over_unit_rows():
    assert domain.subtree("PLO-09", UNITS) == {"PLO-09", "DLO-0901", "LAO-1", "LAO-2"}
    assert domain.subtree("LAO-3", UNITS) == {"LAO-3"}
    assert domain.parent_of(UNITS)["LAO-3"] == "PLO-10"


@pytest.mark.parametrize("state", ["acknowledged", "in_progress", "forwarded"])
def test_an_acknowledged_assignment_may_be_forwarded_again_and_again(state):
    domain.check_may_forward(state)


@pytest.mark.parametrize("state", ["issued", "received", "reported", "closed", "not_applicable", "cancelled"])
def test_an_assignment_not_acknowledged_or_finished_is_not_forwarded(state):
    with pytest.raises(InputError) as caught:
        domain.check_may_forward(state)
    assert caught.value.status == 409 and caught.value.field == "state"


def test_a_unit_registers_receipts_only_in_its_own_register_and_central_in_any():
    domain.check_may_register_receipt(CHAINAT, "PLO-09")
    domain.check_may_register_receipt(CENTRAL, "PLO-09")
    with pytest.raises(InputError) as caught:
        domain.check_may_register_receipt(CHAINAT, "PLO-10")
    assert caught.value.status == 403 and caught.value.field == "unit_code"


def test_a_plan_change_refused_names_the_stored_owner_or_the_owner_imported():
    domain.check_may_change_plan(CHAINAT, "PLO-09", "PLO-09", exists=True)
    with pytest.raises(InputError) as taken:
        domain.check_may_change_plan(CHAINAT, "PLO-09", "DLA", exists=True)
    assert taken.value.status == 403 and taken.value.field == "plan.id" and "DLA" in taken.value.message_en
    with pytest.raises(InputError) as other:
        domain.check_may_change_plan(CHAINAT, "PLO-10", None, exists=False)
    assert other.value.field == "plan.owner_code" and "PLO-10" in other.value.message_en


@pytest.mark.parametrize(("printed", "stored"), [("9.30", "09:30"), ("14:05", "14:05"), (None, None), ("", None)])
def test_a_receipt_time_is_stored_as_the_book_writes_it(printed, stored):
    assert domain.normalize_received_time(printed) == stored
