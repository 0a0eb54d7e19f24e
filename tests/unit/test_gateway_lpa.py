"""The gateway's LPA rules that need no platform: how lists are narrowed to the caller's subtree, the
viewer passed to the assessments service, the follow-up scope's look-up, the framework body (YAML or
JSON), and the public answers (404 before publication, cacheable after), with fakes for the services."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.gateway import routes_lpa
from services.gateway.routes_lpa import (ASSESSMENT_VISIBLE, FOLLOW_UP_IN_SUBTREE, LpaRoutes, narrowed,
                                         subtree_filter, viewer)
from shared.errors import InputError, not_found

LAO = {"role": "lao", "org_code": "LAO-180101", "username": "lao-180101"}
DISTRICT = {"role": "district", "org_code": "DLO-0115", "username": "muang-chainat"}
PROVINCE = {"role": "province", "org_code": "PLO-09", "username": "chainat"}
CENTRAL = {"role": "central", "org_code": "DLA", "username": "central"}


def request(path="/", method="GET", query=None, body=None, content_type="application/json"):
    data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
    return Request(EnvironBuilder(path=path, method=method, query_string=query or {}, data=data,
                                  content_type=content_type).get_environ())


def test_lists_are_narrowed_to_the_callers_subtree():
    assert subtree_filter(LAO) == {"unit_code": "LAO-180101"}
    assert subtree_filter(DISTRICT) == {"district_code": "DLO-0115"}
    assert subtree_filter(PROVINCE) == {"province_code": "PLO-09"}
    assert subtree_filter(CENTRAL) == {}
    assert narrowed(PROVINCE, {"district_code": "DLO-0115"}) == {
        "province_code": "PLO-09", "district_code": "DLO-0115", "unit_code": None}
    assert narrowed(PROVINCE, {"province_code": "PLO-08"}) is None          # another province: an empty list
    assert narrowed(LAO, {"unit_code": "LAO-180102"}) is None
    assert narrowed(CENTRAL, {"province_code": "PLO-08"})["province_code"] == "PLO-08"


def test_the_viewer_is_the_callers_unit_username_and_whether_it_is_central():
    assert viewer(CENTRAL) == {"unit_code": "DLA", "username": "central", "central": True}
    assert viewer(LAO)["central"] is False


def test_an_assessment_the_caller_may_not_read_is_not_found_even_for_a_write():
    seen = []

    def lpa_assessment(assessment_id, who):
        seen.append(who)
        raise not_found("assessment_id", "แบบประเมิน", "assessment", assessment_id)
    service = SimpleNamespace(assessments=SimpleNamespace(lpa_assessment=lpa_assessment))
    with pytest.raises(InputError) as refused:
        ASSESSMENT_VISIBLE.check(service, LAO, request(), {"assessment_id": "a-1"}, True)
    assert refused.value.status == 404 and ASSESSMENT_VISIBLE.refusal(True) == 404
    assert seen == [viewer(LAO)]


def test_a_follow_up_is_found_by_its_id_within_the_callers_subtree():
    stored = [{"follow_up_id": f"f-{i}", "district_code": "DLO-0115"} for i in range(1500)]
    asked = []

    def lpa_follow_ups(limit, offset=0, follow_up_id=None, **where):
        asked.append({**where, "follow_up_id": follow_up_id, "limit": limit})
        found = [item for item in stored if item["follow_up_id"] == follow_up_id
                 and all(item.get(name) == value for name, value in where.items())]
        return {"total": len(found), "items": found[:limit]}
    service = SimpleNamespace(assessments=SimpleNamespace(lpa_follow_ups=lpa_follow_ups))
    assert FOLLOW_UP_IN_SUBTREE.check(service, DISTRICT, None, {"follow_up_id": "f-1200"}, True)["follow_up_id"] == "f-1200"
    assert asked[0] == {"district_code": "DLO-0115", "follow_up_id": "f-1200", "limit": 1}   # one look-up, no paging
    with pytest.raises(InputError) as refused:
        FOLLOW_UP_IN_SUBTREE.check(service, DISTRICT, None, {"follow_up_id": "elsewhere"}, True)
    assert refused.value.status == 403


def test_a_framework_comes_as_yaml_or_json_and_must_be_a_mapping():
    yaml_body = request(method="POST", body="format: thongthin.lpa-framework/v1\nyear_be: 2569\n",
                        content_type="application/x-yaml")
    assert routes_lpa._framework_document(yaml_body) == {"format": "thongthin.lpa-framework/v1", "year_be": 2569}
    wrapped = request(method="POST", body={"framework": {"year_be": 2569}, "dry_run": True})
    assert routes_lpa._framework_document(wrapped) == {"year_be": 2569}
    for bad in ("- a list\n", "year_be: ["):
        with pytest.raises(InputError) as refused:
            routes_lpa._framework_document(request(method="POST", body=bad, content_type="application/x-yaml"))
        assert refused.value.status == 422


class FakeReporting:
    def __init__(self, published: bool):
        self.published, self.calls = published, []

    def lpa_results(self, year_be, **kwargs):
        self.calls.append(("results", year_be, kwargs))
        if not self.published and kwargs.get("public_only"):
            raise not_found("year_be", "ผลการประเมินที่ประกาศแล้ว", "published LPA results", year_be)
        return {"year_be": year_be, "total": 1, "items": [{"unit_code": "LAO-180101", "percent": 81.5, "passed": True}]}

    def lpa_summary(self, year_be, unit_code=None, today=None, public_only=False):
        self.calls.append(("summary", year_be, unit_code))
        if not self.published and public_only:
            raise not_found("year_be", "ผลการประเมินที่ประกาศแล้ว", "published LPA results", year_be)
        return {"year_be": year_be, "totals": {"assessed": 1, "passed": 1}}


def gateway(reporting):
    service = LpaRoutes()
    service.reporting, service.context = reporting, None
    service.assessments = SimpleNamespace(lpa_framework=lambda year_be: {"year_be": year_be, "synthetic": True})
    return service


def test_public_results_are_not_found_before_publication_and_cacheable_after():
    before = gateway(FakeReporting(published=False))
    status, _, text = before._public(request(), lambda: routes_lpa.public_results(before.reporting, 2569, {}))
    assert status == 404 and json.loads(text)["field"] == "year_be"
    after = gateway(FakeReporting(published=True))
    status, headers, text = after._public(request(), lambda: after._public_results(request(), 2569))
    assert status == 200 and json.loads(text)["items"][0]["unit_code"] == "LAO-180101"
    assert headers["Cache-Control"].startswith("public") and after.reporting.calls[0][2]["public_only"] is True
    csv_file = after._public(request(query={"format": "csv"}),
                             lambda: after._public_results(request(query={"format": "csv"}), 2569))
    assert csv_file.status_code == 200 and csv_file.data.startswith(b"\xef\xbb\xbf") and b"LAO-180101" in csv_file.data


def test_the_public_summary_says_whether_the_data_is_synthetic_and_is_hidden_before_publication():
    routes_lpa._SYNTHETIC.clear()
    for published, status in ((False, 404), (True, 200)):
        service = gateway(FakeReporting(published=published))
        answer = LpaRoutes.lpa_public_summary.__wrapped__(service, request(), 2569)
        assert answer[0] == status
        if published:
            assert json.loads(answer[2]) == {"year_be": 2569, "totals": {"assessed": 1, "passed": 1}, "synthetic": True}
