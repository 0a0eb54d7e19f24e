"""Issue #16's acceptance through the public API: Mueang Chainat district's LAOs under a monthly day-3
reporting rule (seed 004's CIG-1.1 shape), then, mid fiscal year, บ้านกล้วย SAO upgraded to a
subdistrict municipality and the SAOs ชัยนาท and เขาท่าพระ merged into a new municipality. Reports by
LAO type and by district count each period by the units as they were in it: before the changes as
before, after them by the new truth."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from shared.calendar import period_bounds
from shared.thai import BANGKOK
from tests.e2e.conftest import client, platform_stack, wait_for
from tests.e2e.test_registry_over_time import DISTRICT, mueang_chainat
from tests.e2e.test_values_periods_returns import MONTHLY, directive, obligations

UPGRADED, MERGED, SUCCESSOR = "LAO-180102", ("LAO-180104", "LAO-180105"), "LAO-180199"


@pytest.fixture(scope="module")
def stack(rabbit, tmp_path_factory):
    """Obligations opened ~4 months ahead, so one rule spans periods before and after the changes."""
    with platform_stack(rabbit, tmp_path_factory, THONGTHIN_SWEEP_INTERVAL_S="3600",
                        THONGTHIN_OBLIGATION_HORIZON_DAYS="130") as platform:
        yield platform


def figures(session, unit_code: str, period: str) -> dict:
    """expected per LAO type, and in all, for a unit's report of one period."""
    report = session.get(f"{session.base}/reports/compliance", params={"unit_code": unit_code, "period": period})
    assert report.status_code == 200, report.text
    body = report.json()
    by_type = {row["lao_type"]: row["expected"] for row in body.get("by_lao_type", []) if row["expected"]}
    return {"expected": body["totals"]["expected"], "by_type": by_type,
            "children": {row["code"]: row["expected"] for row in body["children"] if row["expected"]}}


def test_an_upgrade_and_a_merger_mid_fiscal_year_under_the_monthly_rule(stack):
    central = client(stack, "central")
    units = mueang_chainat()
    laos = {u["code"]: u for u in units if u["code"].startswith("LAO-")}
    assert len(laos) == 9 and laos[UPGRADED]["lao_type"] == "sao"
    assert all(laos[code]["lao_type"] == "sao" for code in MERGED)
    assert central.post(f"{central.base}/org-units", json={"units": units}).status_code == 200

    issued = directive(central, "มท ๐๘๑๐.๓/ว ๓๐๐", {"level": "lao", "within": DISTRICT}, {
        "indicator_code": MONTHLY, "indicator_name_th": "ร้อยละการเบิกจ่ายงบประมาณโครงการอาสาสมัครบริหารท้องถิ่น",
        "unit_of_measure": "ร้อยละ", "value_type": "percent", "minimum": 0, "maximum": 100, "direction": "higher",
        "rrule": "FREQ=MONTHLY;BYMONTHDAY=3", "dtstart": datetime.now(BANGKOK).isoformat(),
        "window_opens_before": "P40D"})
    assert issued.status_code == 201, issued.text
    directive_id = issued.json()["directive_id"]
    opened = wait_for(lambda: len(found := obligations(central, directive_id=directive_id)) >= 9 * 4 and found,
                      what="four months of the rule's obligations for 9 LAOs")
    periods = sorted({o["period"] for o in opened})[:4]
    starts = {p: period_bounds(p)[0] for p in periods}
    first, second, third, fourth = periods

    def settled(expected_totals):
        return lambda: (found := {p: figures(central, DISTRICT, p) for p in periods}) and all(
            found[p]["expected"] == n for p, n in zip(periods, expected_totals)) and found
    before = wait_for(settled([9, 9, 9, 9]), what="reporting's view of the rule")
    sao_before = before[first]["by_type"]["sao"]
    municipalities_before = before[first]["by_type"].get("subdistrict_municipality", 0)

    # mid fiscal year: the upgrade takes effect in the middle of the second period, the merger on the
    # first day of the third
    upgrade_day, merger_day = starts[second] + timedelta(days=14), starts[third]
    changed = central.post(f"{central.base}/org-units", json={"units": [
        {"code": UPGRADED, "lao_type": "subdistrict_municipality", "name_th": "เทศบาลตำบลบ้านกล้วย",
         "effective_date": upgrade_day.isoformat(), "reason": "ประกาศกระทรวงมหาดไทย เรื่อง เปลี่ยนแปลงฐานะ"},
        {"code": SUCCESSOR, "level": "lao", "lao_type": "subdistrict_municipality", "parent_code": DISTRICT,
         "name_th": "เทศบาลตำบลชัยนาทเขาท่าพระ", "province_code": "9", "district_code": "115",
         "change_kind": "merged", "predecessor_codes": list(MERGED), "effective_date": merger_day.isoformat(),
         "reason": "ควบรวม อบต.ชัยนาท และ อบต.เขาท่าพระ"}]})
    assert changed.status_code == 200, changed.text

    def changed_everywhere():
        # reporting applies each version event as it comes: the counts move before every row's type does
        found = settled([9, 9, 8, 8])()
        return found and found[second]["by_type"].get("sao") == sao_before - 1 and all(
            found[p]["by_type"].get("sao") == sao_before - 3 for p in (third, fourth)) and found
    after = wait_for(changed_everywhere, timeout=180, what="the changes in reporting")
    # the first period is counted as it was
    assert after[first] == before[first]
    # the upgraded LAO counts as a municipality from the period its upgrade falls in
    assert after[second]["by_type"]["sao"] == sao_before - 1
    assert after[second]["by_type"]["subdistrict_municipality"] == municipalities_before + 1
    # from the merger on, the successor reports for both SAOs: one municipality more, three SAOs fewer
    for period in (third, fourth):
        assert after[period]["by_type"]["sao"] == sao_before - 3
        assert after[period]["by_type"]["subdistrict_municipality"] == municipalities_before + 2
        assert set(after[period]["children"]) == set(laos) - set(MERGED) | {SUCCESSOR}
    assert set(after[second]["children"]) == set(laos)

    # the province's report by district says the same of its district office
    province = {p: figures(central, "PLO-09", p) for p in periods}
    assert [province[p]["children"][DISTRICT] for p in periods] == [9, 9, 8, 8]

    # the rule reached the successor from its opening; the merged SAOs owe up to the merger, the later
    # periods are cancelled with a reason naming the date and the successor
    successor = {o["period"]: o for o in obligations(central, directive_id=directive_id, unit_code=SUCCESSOR)}
    assert set(successor) >= {third, fourth} and first not in successor and second not in successor
    for code in MERGED:
        mine = {o["period"]: o for o in obligations(central, directive_id=directive_id, unit_code=code)
                if o["period"] in periods}
        assert mine[first]["state"] == "open" and mine[second]["state"] == "open"
        for period in (third, fourth):
            if period in mine:
                assert mine[period]["state"] == "cancelled"
                assert SUCCESSOR in (mine[period].get("cancel_reason") or "")
