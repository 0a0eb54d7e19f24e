"""Fakes of the four services, standing in for the gateway's RPC proxies (``self.plans`` ...).

Each fake answers only the names its real service declares as ``@rpc`` entrypoints, with arguments
its real signature accepts (a call the real service would refuse fails the test here too), and
records every call. Look-ups and lists answer from one small world of units and records (``World``);
every other call answers ``ANSWERS[name]`` (default ``{}``); a test may set its own answer in
``fake.answers[name]`` (a value, or a function of the call's arguments), or make every call fail
(``fake.failure``). Every call is recorded, so a test can say what reached the service: a refused
request must reach no write at all.

The world: DLA (central and ops) above two provinces; Chainat PLO-09 (province, reviewer) with district
DLO-0115 and its LAOs LAO-180101 (lao) and LAO-180102, and Sing Buri PLO-08 with LAO-170101, outside
every demo user's reach but central's and ops's. ``*-in`` records are within reach, ``*-out`` records
belong to Sing Buri.
"""
from __future__ import annotations

import base64
import copy
import inspect
from functools import lru_cache

from nameko.rpc import Rpc

from shared.errors import InputError, forbidden

PARENT = {"MOI": None, "DLA": "MOI", "PLO-09": "DLA", "DLO-0115": "PLO-09", "LAO-180101": "DLO-0115",
          "LAO-180102": "DLO-0115", "PLO-08": "DLA", "DLO-0801": "PLO-08", "LAO-170101": "DLO-0801"}
LEVEL = {"MOI": "ministry", "DLA": "department", "PLO-09": "province", "DLO-0115": "district", "LAO-180101": "lao",
         "LAO-180102": "lao", "PLO-08": "province", "DLO-0801": "district", "LAO-170101": "lao"}


def subtree(root: str) -> list[str]:
    return sorted(code for code in PARENT if _within(code, root))


def _within(code: str | None, root: str) -> bool:
    while code:
        if code == root:
            return True
        code = PARENT.get(code)
    return False


def not_found(field: str) -> InputError:
    return InputError("not_found", field, "ไม่พบรายการนี้", "not found", status=404)


class World:
    """The records every fake reads: what exists, who owns it."""

    def __init__(self):
        def document(doc_id, recorder, addressed, status="issued"):
            return {"id": doc_id, "sender_code": recorder, "recorded_by_unit": recorder, "status": status,
                    "subject_th": "หนังสือทดสอบ", "addressed": addressed, "items": [], "attachments": []}
        self.documents = {d["id"]: d for d in (
            document("doc-in", "DLA", ["DLA", "PLO-09", "DLO-0115", "LAO-180101"]),
            document("doc-out", "DLA", ["PLO-08"]),
            document("draft-DLA", "DLA", ["PLO-09"], "draft"),
            document("draft-PLO-09", "PLO-09", ["DLO-0115"], "draft"),
            document("draft-DLO-0115", "DLO-0115", ["LAO-180101"], "draft"))}
        self.drafts = {"DLA": "draft-DLA", "PLO-09": "draft-PLO-09", "DLO-0115": "draft-DLO-0115"}
        self.attachments = {a["id"]: a for a in (
            {"id": "att-in", "document_id": "doc-in", "filename": "แนวทาง.pdf", "content_type": "application/pdf",
             "content_base64": base64.b64encode(b"%PDF-1.4 test").decode()},
            {"id": "att-out", "document_id": "doc-out", "filename": "ลับ.txt", "content_type": "text/plain",
             "content_base64": base64.b64encode("ลับ".encode()).decode()})}
        self.directives = {"dir-in": {"id": "dir-in", "document_id": "doc-in"},
                           "dir-out": {"id": "dir-out", "document_id": "doc-out"}}
        self.assignments = {f"asg-{code}": {"id": f"asg-{code}", "unit_code": code, "directive_id": "dir-in",
                                            "state": "received"}
                            for code in ("DLA", "PLO-09", "DLO-0115", "LAO-180101")}
        self.assignments["asg-out"] = {"id": "asg-out", "unit_code": "PLO-08", "directive_id": "dir-out",
                                       "state": "received"}
        self.obligations = {"obl-in": {"id": "obl-in", "unit_code": "LAO-180101", "state": "pending",
                                       "submissions": []},
                            "obl-out": {"id": "obl-out", "unit_code": "LAO-170101", "state": "pending",
                                        "submissions": []}}
        self.submissions = {"sub-in": {"id": "sub-in", "unit_code": "LAO-180101", "obligation_id": "obl-in"},
                            "sub-out": {"id": "sub-out", "unit_code": "LAO-170101", "obligation_id": "obl-out"}}
        self.extensions = {"ext-in": {"id": "ext-in", "unit_code": "LAO-180101", "obligation_id": "obl-in",
                                      "status": "pending"},
                           "ext-out": {"id": "ext-out", "unit_code": "LAO-170101", "obligation_id": "obl-out",
                                       "status": "pending"}}
        self.ladders = [{"key": "default", "steps": [{"offset_days": -3, "channels": ["inbox"]}]}]
        # the LPA: one assessment, its evidence and a follow-up in Chainat, the same in Sing Buri
        def lpa(unit, district, province, team):
            return {"assessment_id": f"lpa-{unit}", "unit_code": unit, "district_code": district,
                    "province_code": province, "team_members": team}
        self.lpa_assessments = {a["assessment_id"]: a for a in (lpa("LAO-180101", "DLO-0115", "PLO-09", ["chainat"]),
                                                                lpa("LAO-170101", "DLO-0801", "PLO-08", []))}
        self.lpa_evidence = {"ev-in": "lpa-LAO-180101", "ev-out": "lpa-LAO-170101"}
        self.lpa_follow_ups = [{"follow_up_id": f"fu-{tag}", "obligation_id": f"obl-{tag}", **{
            k: v for k, v in self.lpa_assessments[f"lpa-{unit}"].items() if k.endswith("_code")}}
            for tag, unit in (("in", "LAO-180101"), ("out", "LAO-170101"))]

    def lpa_may_read(self, assessment: dict, viewer: dict) -> bool:
        """assessments' rule (services/assessments/lpa/views.may_read): the LAO, its offices, central, its team."""
        return bool(viewer.get("central")) or viewer.get("unit_code") in (
            assessment["unit_code"], assessment["district_code"], assessment["province_code"]) \
            or viewer.get("username") in assessment["team_members"]

    def visible(self, document: dict, visible_to) -> bool:
        return visible_to is None or bool({document["sender_code"], *document["addressed"]} & set(visible_to))


@lru_cache(maxsize=None)
def rpc_entrypoints(service_cls) -> dict[str, inspect.Signature]:
    """The RPC entrypoints a service class declares, by name, with their signatures."""
    return {name: inspect.signature(member) for name, member in inspect.getmembers(service_cls, inspect.isfunction)
            if any(isinstance(e, Rpc) for e in getattr(member, "nameko_entrypoints", ()))}


INTERNAL = frozenset({"world", "calls", "answers", "failure", "real", "writes", "ANSWERS"})


class FakeService:
    """One service as the gateway sees it through its RpcProxy."""

    ANSWERS: dict = {}

    def __init__(self, world: World):
        self.world = world
        self.calls: list[tuple[str, tuple, dict]] = []
        self.answers = copy.deepcopy(self.ANSWERS)
        self.failure: Exception | None = None      # set: every call raises it (a service that failed)

    @classmethod
    def real(cls):
        raise NotImplementedError

    def _check(self, name: str, args, kwargs) -> None:
        signatures = rpc_entrypoints(self.real())
        if name not in signatures:
            raise AttributeError(f"{self.real().__name__} has no RPC entrypoint {name}")
        signatures[name].bind(None, *args, **kwargs)  # TypeError: the real service would refuse the call

    def __getattribute__(self, name):
        if name.startswith("_") or name in INTERNAL:
            return object.__getattribute__(self, name)
        if name in object.__getattribute__(self, "answers"):
            target = self._canned(name)                     # a test's own answer first
        else:
            try:
                target = object.__getattribute__(self, name)   # an entrypoint the fake models
            except AttributeError:
                target = self._canned(name)                     # any other: its canned answer ({})

        def call(*args, **kwargs):
            self._check(name, args, kwargs)
            self.calls.append((name, args, kwargs))
            if self.failure is not None:
                raise self.failure
            return target(*args, **kwargs)
        return call

    def _canned(self, name):
        def answer(*args, **kwargs):
            value = self.answers.get(name, {})
            return value(*args, **kwargs) if callable(value) else copy.deepcopy(value)
        return answer

    def writes(self) -> list[str]:
        """Names of the calls that could have changed something (everything but reads)."""
        reads = ("get_", "list_", "find_", "subtree_codes", "unit_history", "preview_", "cascade", "achievement",
                 "export_", "plan_", "check_", "compliance", "directive_compliance", "overdue", "notification_",
                 "registry_counts", "dashboard_periods", "event_count", "obligation_counts", "message_counts",
                 "lpa_assessment", "lpa_evidence", "lpa_checklist", "lpa_follow_ups", "lpa_framework", "lpa_round",
                 "lpa_teams", "lpa_results", "lpa_summary")
        return [name for name, *_ in self.calls if not name.startswith(reads)]


class FakePlans(FakeService):
    ANSWERS = {"list_units": [], "unit_history": [], "find_documents": [], "list_plans": [], "list_targets": [],
               "plan_links": [], "plan_anomalies": [], "register_units": {"registered": 0},
               "import_units_csv": {"rows": 0}, "record_document": {"document_id": "doc-new"},
               "issue_directive": {"directive_id": "dir-new", "document_id": "doc-new", "assignment_count": 1},
               "add_attachment": {"attachment_id": "att-new"}, "register_receipt": {"receipt_number": 1}, "cascade": {"units": []}}

    @classmethod
    def real(cls):
        from services.plans.service import PlansService
        return PlansService

    def subtree_codes(self, root):
        return subtree(root)

    def get_document(self, document_id, visible_to=None):
        document = self.world.documents.get(document_id)
        if document is None or not self.world.visible(document, visible_to):
            raise not_found("document_id")
        return copy.deepcopy(document)

    def get_attachment(self, attachment_id, visible_to=None):
        attachment = self.world.attachments.get(attachment_id)
        if attachment is None:
            raise not_found("attachment_id")
        if not self.world.visible(self.world.documents[attachment["document_id"]], visible_to):
            raise not_found("attachment_id")
        return copy.deepcopy(attachment)

    def get_directive(self, directive_id, visible_to=None):
        directive = self.world.directives.get(directive_id)
        if directive is None or not self.world.visible(self.world.documents[directive["document_id"]], visible_to):
            raise not_found("directive_id")
        return copy.deepcopy(directive)

    def get_assignment(self, assignment_id):
        if assignment_id not in self.world.assignments:
            raise not_found("assignment_id")
        return copy.deepcopy(self.world.assignments[assignment_id])

    def list_assignments(self, unit_codes=None, state=None, directive_id=None, limit=100, offset=0, sort=None):
        return [a for a in self.world.assignments.values() if (unit_codes is None or a["unit_code"] in unit_codes)
                and (directive_id is None or a["directive_id"] == directive_id)]

    def import_plan(self, document, actor, source_name=None, dry_run=False):
        owner = document.get("plan", {}).get("owner_code") if isinstance(document, dict) else None
        if actor["role"] != "central" and owner != actor["org_code"]:
            raise forbidden("plan.owner_code", "แผนของหน่วยงานอื่น", "another unit's plan")
        return {"plan_id": "PLAN-1", "dry_run": dry_run}


class FakeAssessments(FakeService):
    ANSWERS = {"submit_values": {"submission_id": "sub-new"}, "request_extension": {"request_id": "ext-new"},
               "achievement": {"items": []}, "lpa_frameworks": {"items": []}, "lpa_rounds": {"items": []},
               "lpa_framework": {"year_be": 2569, "synthetic": True, "changes": [], "document": {}},
               "lpa_round": {"year_be": 2569, "state": "open", "counts": {}}, "lpa_teams": {"year_be": 2569, "items": []}}

    @classmethod
    def real(cls):
        from services.assessments.service import AssessmentsService
        return AssessmentsService

    def _get(self, records, key, field):
        if key not in records:
            raise not_found(field)
        return copy.deepcopy(records[key])

    def get_obligation(self, obligation_id):
        return self._get(self.world.obligations, obligation_id, "obligation_id")

    def get_submission(self, submission_id):
        return self._get(self.world.submissions, submission_id, "submission_id")

    def get_extension_request(self, request_id):
        return self._get(self.world.extensions, request_id, "request_id")

    def list_obligations(self, unit_code=None, directive_id=None, state=None, limit=100, offset=0, unit_codes=None,
                         **_):
        return [o for o in self.world.obligations.values() if (unit_codes is None or o["unit_code"] in unit_codes)
                and (unit_code is None or o["unit_code"] == unit_code)]

    def list_extension_requests(self, unit_codes=None, status="pending", limit=100, offset=0, sort=None):
        return [e for e in self.world.extensions.values() if unit_codes is None or e["unit_code"] in unit_codes]

    def _refused(self, unit_codes, submitter_unit_code):
        """The service's rule for a batch: every item's unit within the submitter's subtree."""
        return [{"index": i, "code": "forbidden", "field": "unit_code"} for i, code in enumerate(unit_codes)
                if not _within(code, submitter_unit_code)]

    def submit_batch(self, payload):
        errors = self._refused([item.get("unit_code") for item in payload.get("items", [])],
                               payload["submitter_unit_code"])
        return {"accepted": 0 if errors else len(payload.get("items", [])), "errors": errors}

    def submit_file(self, content_base64, filename, submitter_unit_code, submitted_by=None, mode="all_or_nothing"):
        rows = base64.b64decode(content_base64).decode("utf-8-sig").splitlines()[1:]
        errors = self._refused([row.split(",")[0] for row in rows if row], submitter_unit_code)
        return {"accepted_submissions": 0 if errors else len(rows), "errors": errors}

    # --- the LPA: what assessments decides by the viewer, and its province rules ---------------------------
    def lpa_assessment(self, assessment_id, viewer):
        found = self.world.lpa_assessments.get(assessment_id)
        if found is None or not self.world.lpa_may_read(found, viewer):
            raise not_found("assessment_id")
        return {**copy.deepcopy(found), "areas": []}

    def lpa_evidence(self, evidence_id, viewer):
        owner = self.world.lpa_assessments.get(self.world.lpa_evidence.get(evidence_id, ""))
        if owner is None or not self.world.lpa_may_read(owner, viewer):
            raise not_found("evidence_id")
        return {"evidence_id": evidence_id, "filename": "หลักฐาน.pdf", "content_type": "application/pdf", "url": None,
                "content_base64": base64.b64encode(b"%PDF-1.4").decode()}

    def lpa_checklist(self, year_be, province_code=None, district_code=None, unit_code=None, self_state=None,
                      score_state=None, limit=100, offset=0):
        items = [a for a in self.world.lpa_assessments.values()
                 if all(v is None or a[k] == v for k, v in (("province_code", province_code),
                                                            ("district_code", district_code),
                                                            ("unit_code", unit_code)))]
        return {"year_be": year_be, "total": len(items), "limit": limit, "offset": offset, "items": items}

    def lpa_follow_ups(self, unit_code=None, province_code=None, district_code=None, state=None, follow_up_id=None,
                       limit=100, offset=0):
        items = [f for f in self.world.lpa_follow_ups
                 if all(v is None or f[k] == v for k, v in (("unit_code", unit_code), ("province_code", province_code),
                                                            ("district_code", district_code),
                                                            ("follow_up_id", follow_up_id)))]
        return {"total": len(items), "limit": limit, "offset": offset, "items": items[:limit]}

    def _lpa_province(self, unit_codes, province_code, field):
        """The service's rule: every LAO lies in the caller's province (else forbidden, 403)."""
        for index, code in enumerate(unit_codes):
            if not province_code or not _within(code, province_code):
                raise forbidden(f"{field}[{index}]", "ไม่อยู่ในจังหวัดของท่าน", "not an LAO of your province")

    def lpa_form_team(self, payload):
        self._lpa_province(payload.get("unit_codes") or [], payload.get("province_code"), "unit_codes")
        return {"team_id": "team-new", "state": "draft"}

    def lpa_import_scores(self, payload):
        self._lpa_province([row.get("unit_code") for row in payload.get("rows") or []], payload.get("province_code"),
                           "rows")
        return {"rows": len(payload.get("rows") or []), "finalised": [], "incomplete": []}


class FakeNotifications(FakeService):
    ANSWERS = {"get_preferences": {"channels": ["inbox"]}, "list_inbox": {"items": [], "unread": 0},
               "list_deliveries": {"items": []}, "chase": {"queued": True}}

    @classmethod
    def real(cls):
        from services.notifications.service import NotificationsService
        return NotificationsService

    def list_reminder_ladders(self):
        return {"items": copy.deepcopy(self.world.ladders)}


class FakeReporting(FakeService):
    ANSWERS = {"compliance": {"totals": {}, "children": []}, "compliance_matrix": {"rows": [], "periods": []},
               "cascade": {"levels": [], "units": [], "slowest_hops": []}, "directive_compliance": {"units": []},
               "achievement": {"rows": [], "trend": []}, "notification_effectiveness": {"rows": []},
               "overdue": {"items": []}, "dashboard_periods": [],
               "lpa_results": {"year_be": 2569, "public": True, "total": 0, "limit": 100, "offset": 0, "items": []},
               "lpa_summary": {"year_be": 2569, "public": True, "totals": {}, "children": []}}

    @classmethod
    def real(cls):
        from services.reporting.service import ReportingService
        return ReportingService
