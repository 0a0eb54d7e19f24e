"""Demo data: the national registry (76 provinces, 878 district offices, 7,361 LAOs; Chainat and
Tai Mueang with their real names), users for every role, seed 004 recorded exactly and issued,
a directive to Chainat's LAOs with a reporting deadline, and the LPA demo (devtools/demo_lpa.py: the
synthetic 2568 and 2569 frameworks, Chainat's 2568 round scored and published, its 2569 round open).

    python -m devtools.demo --gateway http://127.0.0.1:8000

Users are written straight into the gateway's database (there is no one to log in as yet);
everything else goes through the public API, like any client.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import datetime, time, timedelta


import requests
import yaml

from devtools.demo_lpa import load_lpa
from services.plans import memo_import
from services.plans.cli import registry_rows
from shared.vocabulary import level_rank
from shared.config import REPO_ROOT, database_url
from shared.db import Database
from shared.thai import BANGKOK

DEMO_PROVINCE_ID = 9  # Chainat (ชัยนาท)
DEMO_USERS = [
    # username, password, role, org code, display name
    ("central", "central-demo-2569", "central", "DLA", "เจ้าหน้าที่ส่วนกลาง กสถ."),
    ("chainat", "chainat-demo-2569", "province", "PLO-09", "ท้องถิ่นจังหวัดชัยนาท"),
    ("muang-chainat", "district-demo-2569", "district", "DLO-0115", "ท้องถิ่นอำเภอเมืองชัยนาท"),
    ("lao-180101", "lao-demo-2569", "lao", "LAO-180101", "เจ้าหน้าที่ เทศบาลเมืองชัยนาท"),
    ("reviewer", "reviewer-demo-2569", "reviewer", "PLO-09", "ผู้ตรวจสอบ สถจ.ชัยนาท"),
    ("ops", "ops-demo-2569", "ops", "DLA", "ทีมปฏิบัติการระบบ"),
]
PASSWORDS = {username: password for username, password, *_ in DEMO_USERS}
MEMO = REPO_ROOT / "data" / "reference" / "moi_directive_memo_2565.yaml"


def create_users(gateway_database_url: str | None = None) -> None:
    from services.gateway import auth
    database = Database(gateway_database_url or database_url("gateway"))
    with database.session() as session:
        for username, password, role, org_code, name in DEMO_USERS:
            auth.create_user(session, username=username, password=password, role=role,
                             org_code=org_code, display_name=name)
        session.commit()
    database.dispose()


def next_day_three(now: datetime) -> datetime:
    """The next 3rd of a month at 16:30 Bangkok time (the memo's monthly report day)."""
    local = now.astimezone(BANGKOK)
    year, month = local.year, local.month
    candidate = datetime(year, month, 3, 16, 30, tzinfo=BANGKOK)
    if candidate <= local + timedelta(hours=1):
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        candidate = datetime(year, month, 3, 16, 30, tzinfo=BANGKOK)
    return candidate


def demo_directive(now: datetime) -> dict:
    memo = yaml.safe_load(MEMO.read_text("utf-8"))
    document = next(d for d in memo["documents"] if d["id"] == "D4")
    item = next(d for d in memo["directives"] if d["id"] == "CIG-1.1")
    due = next_day_three(now)
    period = f"{due.year + 543}-{due.month:02d}"
    return {
        "document_number": document["number_th"], "document_date": document["date"],
        "urgency": "normal", "subject_th": document["subject_th"], "kind": "inspection_focus",
        "text_th": item["text_th"], "addressees": {"level": "lao", "within": f"PLO-{DEMO_PROVINCE_ID:02d}"},
        "acknowledge_due_at": (now + timedelta(days=7)).isoformat(),
        "reporting": {"indicator_code": "ELDERLY-VOL-DISBURSED-PCT",
                      "indicator_name_th": "ร้อยละการเบิกจ่ายงบประมาณโครงการอาสาสมัครบริหารท้องถิ่นดูแลผู้สูงอายุที่มีภาวะพึ่งพิง",
                      "unit_of_measure": "ร้อยละ", "period": period,
                      "opens_at": datetime.combine((due - timedelta(days=10)).date(), time(0, 0), tzinfo=BANGKOK).isoformat(),
                      "due_at": due.isoformat()},
    }


def load(gateway: str, *, log=print) -> dict:
    """Users, the national registry and seed 004 (first run only), and a directive with a
    reporting deadline to Chainat's LAOs."""
    create_users()
    session = requests.Session()
    token = session.post(f"{gateway}/api/v1/auth/token",
                         json={"username": "central", "password": DEMO_USERS[0][1]}, timeout=30).json()["token"]
    session.headers["Authorization"] = f"Bearer {token}"
    counts = session.get(f"{gateway}/api/v1/org-units", params={"limit": 1}, timeout=30).json()["items"]
    if counts:
        log("demo data already loaded")
        load_lpa(gateway, PASSWORDS, log=log)
        return {}
    rows = registry_rows()
    known = {row["code"] for row in rows}
    rows += [unit for unit in memo_import.memo_units(memo_import.load_memo()) if unit["code"] not in known]
    rows.sort(key=lambda row: level_rank(row["level"]))  # parents before children
    created = 0
    for start in range(0, len(rows), 2000):
        result = session.post(f"{gateway}/api/v1/org-units", json={"units": rows[start:start + 2000]}, timeout=300)
        if result.status_code != 200:
            raise RuntimeError(f"registry load failed: {result.status_code} {result.text}")
        created += result.json()["created"]
        log(f"registry: {min(start + 2000, len(rows))}/{len(rows)} units")
    log(f"registry: {created} units (national, synthetic except real names; see data/reference/PROVENANCE.md)")
    subprocess.run([sys.executable, "-m", "services.plans.cli", "seed-memo", "--issue"], check=True)
    for name in ("dla_strategic_plan.yaml", "chainat_provincial_plan.yaml", "tai_mueang_sao_plan.yaml"):
        document = (REPO_ROOT / "data" / "reference" / name).read_text("utf-8")
        imported = session.post(f"{gateway}/api/v1/plans", params={"source": name}, data=document.encode(),
                                headers={"Content-Type": "application/x-yaml"}, timeout=120)
        if imported.status_code != 200:
            raise RuntimeError(f"plan import failed: {imported.status_code} {imported.text}")
        log(f"plan {name}: imported")
    issued = session.post(f"{gateway}/api/v1/directives", json=demo_directive(datetime.now(BANGKOK)), timeout=120)
    issued.raise_for_status()
    log(f"directive {issued.json()['directive_id']} issued to {issued.json()['assignment_count']} LAOs of Chainat")
    dashboard_history(session, gateway, issued.json()["directive_id"], log=log)
    load_lpa(gateway, PASSWORDS, log=log)
    return issued.json()


def _obligations_of(session, gateway: str, directive_id: str, expected: int, timeout: float = 60) -> list[dict]:
    import time as clock
    deadline = clock.monotonic() + timeout
    while True:
        items = session.get(f"{gateway}/api/v1/obligations", params={"directive_id": directive_id, "limit": 1000},
                            timeout=30).json()["items"]
        if len(items) >= expected or clock.monotonic() > deadline:
            return items
        clock.sleep(0.5)


def dashboard_history(session, gateway: str, current_directive_id: str, *, log=print) -> None:
    """Something for the dashboards to show: a target for the monthly indicator, the three months
    before the current directive's (their deadlines passed: some LAOs reported late, the rest are missed by
    the sweep) and, for the current month, about half of Chainat's LAOs reporting on time now."""
    now = datetime.now(BANGKOK)
    code = "ELDERLY-VOL-DISBURSED-PCT"
    fiscal_year = now.year + 543 + (1 if now.month >= 10 else 0)
    plan = session.post(f"{gateway}/api/v1/plans", json={
        "format": "thongthin.plan/v1",
        "plan": {"id": "DEMO-ELDERLY-DISB", "type": "strategic", "owner_code": "DLA",
                 "title_th": "เป้าหมายการเบิกจ่ายโครงการอาสาสมัครดูแลผู้สูงอายุ (ข้อมูลสาธิต)",
                 "period_be_start": fiscal_year - 1, "period_be_end": fiscal_year},
        "indicators": [{"id": code, "name_th": "ร้อยละการเบิกจ่ายงบประมาณโครงการอาสาสมัครดูแลผู้สูงอายุ",
                        "unit_th": "ร้อยละ", "direction": "higher",
                        "targets": {str(fiscal_year - 1): 70, str(fiscal_year): 75}}]}, timeout=60)
    if plan.status_code != 200:
        raise RuntimeError(f"demo target failed: {plan.status_code} {plan.text}")
    base = demo_directive(now)
    current = _obligations_of(session, gateway, current_directive_id, 54)
    # this month's window may not be open yet (it opens 10 days before the 3rd)
    open_now = [o for o in sorted(current, key=lambda o: o["unit_code"])
                if not o.get("opens_at") or datetime.fromisoformat(o["opens_at"]) <= now]
    batches = [[{"obligation_id": o["id"], "unit_code": o["unit_code"],
                 "values": [{"indicator_code": code, "value": float(55 + (i * 11) % 45), "note": "ข้อมูลสาธิต"}]}
                for i, o in enumerate(open_now) if i % 2 == 0]]
    first_due = next_day_three(now)  # the current directive's month; the three before it are past
    month = first_due.year * 12 + first_due.month - 1
    for back in (3, 2, 1):
        m = month - back
        # due 28, 19 and 10 days ago: inside the 30 days after a deadline when late reports are still taken
        due = (now - timedelta(days=back * 9 + 1)).replace(hour=16, minute=30, second=0, microsecond=0)
        body = {**base, "document_number": f"{base['document_number']} (งวด {m % 12 + 1}/{m // 12 + 543})",
                "reporting": {**base["reporting"], "period": f"{m // 12 + 543}-{m % 12 + 1:02d}",
                              "opens_at": (due - timedelta(days=10)).isoformat(), "due_at": due.isoformat()}}
        past = session.post(f"{gateway}/api/v1/directives", json=body, timeout=120)
        if past.status_code != 201:
            raise RuntimeError(f"demo history failed: {past.status_code} {past.text}")
        items = sorted(_obligations_of(session, gateway, past.json()["directive_id"], 54), key=lambda o: o["unit_code"])
        batches.append([{"obligation_id": o["id"], "unit_code": o["unit_code"],
                         "values": [{"indicator_code": code, "value": float(50 + (i * 7 + back * 13) % 50),
                                     "note": "ข้อมูลสาธิต"}]}
                        for i, o in enumerate(items) if (i + back) % 5 in (0, 1, 2)])
    for items in filter(None, batches):
        result = session.post(f"{gateway}/api/v1/submissions/batch", json={"items": items, "mode": "keep_good"},
                              timeout=120)
        if result.status_code != 200:
            raise RuntimeError(f"demo submissions failed: {result.status_code} {result.text}")
    log("dashboards: a target and three past months of Chainat's reports (late or missed)"
        + (", half of this month on time" if batches[0] else ""))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default="http://127.0.0.1:8000")
    args = parser.parse_args(argv)
    load(args.gateway)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


