"""Small worlds that unit tests of several modules share (their fixtures are in tests/unit/conftest.py):
the assessments world's clock and units, the plans registry as a RegisterUnits payload, and running one
use case in one unit of work."""
from __future__ import annotations

from datetime import datetime, timezone

from shared.contracts.events import IndicatorSpec

# --- assessments ------------------------------------------------------------------------------------
NOW = datetime(2026, 11, 21, 3, 0, tzinfo=timezone.utc)   # a Saturday morning in Bangkok
IN_WINDOW = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)  # December's report window opened on 23 Nov
LAOS = ["LAO-1", "LAO-2", "LAO-3"]
SPECS = [IndicatorSpec(code="DISB-PCT", name_th="ร้อยละการเบิกจ่าย", value_type="percent", direction="increase",
                       minimum=0, maximum=100),
         IndicatorSpec(code="ELDERLY", name_th="จำนวนผู้สูงอายุที่ได้รับการดูแล", value_type="count", direction="increase")]


def freeze(monkeypatch, moment):
    """Stop the assessments service's clock at ``moment`` in every module of it that reads the clock."""
    from services.assessments import copies, facts, obligations, reviews, submissions, sweeps, views
    for module in (copies, facts, obligations, reviews, submissions, sweeps, views):
        monkeypatch.setattr(module, "utcnow", lambda: moment)


# --- plans --------------------------------------------------------------------------------------------
def unit_payload(spec) -> dict:
    return {k: v for k, v in {
        "code": spec.code, "level": str(spec.level), "lao_type": str(spec.lao_type) if spec.lao_type else None,
        "parent_code": spec.parent_code, "name_th": spec.name_th, "name_en": spec.name_en,
        "province_code": None if spec.province_code is None else str(spec.province_code),
        "district_code": None if spec.district_code is None else str(spec.district_code),
        "contact_email": spec.contact_email}.items() if v is not None}


def run(database, handler, command, **kwargs):
    """One use case ``handler(command, uow)`` in one unit of work, committed."""
    with database.unit_of_work() as uow:
        result = handler(command, uow, **kwargs)
        uow.commit()
    return result
