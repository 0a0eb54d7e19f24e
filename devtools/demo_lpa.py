"""Demo data for the LPA (issue #19), loaded by devtools.demo after the registry: the two synthetic
frameworks (data/lpa/framework-2568.yaml and -2569.yaml), a 2568 round for Chainat (PLO-09) already
self-assessed by the demo LAO, assessed by two teams of the provincial office, scored and published
(so the results pages and the public page have something to show), and the 2569 round open for
Chainat. Everything goes through the public API as the demo users; the frameworks say ``synthetic``
and the pages show it. Loading again does nothing once a framework is there.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import requests

from shared.config import REPO_ROOT
from shared.thai import BANGKOK

PROVINCE = "PLO-09"
TEAM = [{"person": "chainat", "role": "lead", "unit_code": "PLO-09"},
        {"person": "muang-chainat", "role": "member", "unit_code": "DLO-0115"},
        {"person": "reviewer", "role": "member", "unit_code": "PLO-09"},
        {"person": "นายสมหมาย รักถิ่น", "role": "community_leader", "name_th": "นายสมหมาย รักถิ่น (กำนัน ตำบลท่าชัย)"}]


def _ok(response, what: str) -> dict:
    if response.status_code >= 300:
        raise RuntimeError(f"LPA demo: {what} failed: {response.status_code} {response.text[:500]}")
    return response.json()


def _as(gateway: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    token = _ok(session.post(f"{gateway}/api/v1/auth/token", json={"username": username, "password": password},
                             timeout=30), f"login {username}")["token"]
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def _level(unit_code: str, indicator: dict, salt: str = "") -> float:
    """A deterministic level per LAO and indicator: most LAOs do well, some poorly in one area."""
    digest = hashlib.sha256(f"{unit_code}:{indicator['code']}:{salt}".encode()).digest()
    standing = hashlib.sha256(unit_code.encode()).digest()[0]
    levels = [level["points"] for level in indicator["levels"]]
    strong = standing % 10 > 2                     # about seven LAOs in ten do well; the others fall short
    pick = len(levels) - 1 - (digest[1] % 2 if strong else 1 + digest[1] % 3)
    return levels[max(0, min(len(levels) - 1, pick))]


def load_lpa(gateway: str, passwords: dict[str, str], *, now: datetime | None = None, log=print) -> dict:
    """Frameworks, the published 2568 round and the open 2569 round (first run only)."""
    now = (now or datetime.now(BANGKOK)).astimezone(BANGKOK)
    central = _as(gateway, "central", passwords["central"])
    if _ok(central.get(f"{gateway}/api/v1/lpa/frameworks", timeout=30), "frameworks")["items"]:
        log("LPA demo already loaded")
        return {}
    for year in (2568, 2569):
        text = (REPO_ROOT / "data" / "lpa" / f"framework-{year}.yaml").read_bytes()
        _ok(central.post(f"{gateway}/api/v1/lpa/frameworks", data=text, headers={"Content-Type": "application/x-yaml"},
                         timeout=60), f"framework {year}")
    today = now.date()
    opened = _ok(central.post(f"{gateway}/api/v1/lpa/rounds", json={
        "year_be": 2568, "scope_code": PROVINCE, "self_due_at": (now + timedelta(minutes=10)).isoformat(),
        "visit_from": today.isoformat(), "visit_to": today.isoformat(), "publish_on": today.isoformat()},
        timeout=120), "round 2568")
    rows = _ok(central.get(f"{gateway}/api/v1/lpa/rounds/2568/checklist", params={"limit": 1000}, timeout=60),
               "checklist 2568")["items"]
    # the demo LAO's own self-assessment, with a link as evidence
    lao = _as(gateway, "lao-180101", passwords["lao-180101"])
    own = next((row for row in rows if row["unit_code"] == "LAO-180101"), None)
    if own:
        form = _ok(lao.get(f"{gateway}/api/v1/lpa/assessments/{own['assessment_id']}", timeout=30), "assessment")
        indicators = [i for area in form["areas"] for i in area["indicators"]]
        _ok(lao.post(f"{gateway}/api/v1/lpa/assessments/{own['assessment_id']}/evidence", json={
            "indicator_code": indicators[0]["code"], "url": "https://example.go.th/lpa/2568/แผนพัฒนาท้องถิ่น.pdf"},
            timeout=30), "evidence")
        _ok(lao.post(f"{gateway}/api/v1/lpa/assessments/{own['assessment_id']}/self-assessment", json={
            "entries": [{"indicator_code": i["code"], "claimed_points": i["levels"][-1]["points"],
                         "note": "ข้อมูลสาธิต"} for i in indicators], "submit": True}, timeout=60), "self-assessment")
    # the provincial office's teams (50 LAOs at most each), the lead's scores, then publication
    province = _as(gateway, "chainat", passwords["chainat"])
    codes = [row["unit_code"] for row in rows]
    for start in range(0, len(codes), 50):
        _ok(province.post(f"{gateway}/api/v1/lpa/rounds/2568/teams", json={
            "unit_codes": codes[start:start + 50], "visit_on": today.isoformat(), "members": TEAM, "finalise": True},
            timeout=60), "team")
    for row in rows:
        form = _ok(province.get(f"{gateway}/api/v1/lpa/assessments/{row['assessment_id']}", timeout=30), "assessment")
        scores = [{"indicator_code": i["code"], "points": _level(row["unit_code"], i), "comment": "ข้อมูลสาธิต"}
                  for area in form["areas"] for i in area["indicators"]]
        _ok(province.post(f"{gateway}/api/v1/lpa/assessments/{row['assessment_id']}/scores",
                          json={"scores": scores, "finalise": True}, timeout=60), "scores")
    published = _ok(central.post(f"{gateway}/api/v1/lpa/rounds/2568/publish", json={}, timeout=120), "publish 2568")
    _ok(central.post(f"{gateway}/api/v1/lpa/rounds", json={
        "year_be": 2569, "scope_code": PROVINCE, "self_due_at": (now + timedelta(days=30)).isoformat(),
        "visit_from": (today + timedelta(days=35)).isoformat(), "visit_to": (today + timedelta(days=60)).isoformat(),
        "publish_on": (today + timedelta(days=90)).isoformat()}, timeout=120), "round 2569")
    log(f"LPA (synthetic demo): frameworks 2568 and 2569; 2568 round of Chainat ({opened['units']} LAOs) scored and "
        f"published ({published.get('passed', '?')} passed); 2569 round open — public page /public/lpa/2568")
    return published
