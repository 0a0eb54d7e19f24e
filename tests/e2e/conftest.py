"""The platform as real processes for end-to-end tests: one stack per test module."""
from __future__ import annotations

import time
from contextlib import contextmanager

import pytest
import requests

from devtools.demo import DEMO_USERS, create_users
from devtools.mailsink import MailSink
from devtools.stack import Stack, free_port

PASSWORDS = {username: password for username, password, *_ in DEMO_USERS}


@contextmanager
def platform_stack(rabbit, tmp_path_factory, **env: str):
    """Every service on its own vhost and SQLite files, a mail sink (``stack.mail``) and the demo
    users; ``env`` adds to the services' environment."""
    from tests.conftest import new_vhost
    sink = MailSink(port=free_port()).start()
    platform = Stack(amqp_uri=new_vhost(rabbit), var_dir=tmp_path_factory.mktemp("var"),
                     extra_env={"SMTP_PORT": str(sink.port), **env})
    platform.migrate()
    create_users(platform.database_urls["gateway"])
    platform.start()
    platform.mail = sink
    try:
        yield platform
    finally:
        platform.stop()
        sink.stop()


@pytest.fixture(scope="module")
def stack(rabbit, tmp_path_factory):
    """The sweep is slowed down so tests decide when deadlines are judged."""
    with platform_stack(rabbit, tmp_path_factory, THONGTHIN_SWEEP_INTERVAL_S="3600") as platform:
        yield platform


def client(stack, username: str, password: str | None = None) -> requests.Session:
    """A session logged in with a bearer token; ``session.base`` is the API root."""
    session = requests.Session()
    response = session.post(f"{stack.gateway_url}/api/v1/auth/token",
                            json={"username": username, "password": password or PASSWORDS[username]})
    assert response.status_code == 200, response.text
    session.headers["Authorization"] = f"Bearer {response.json()['token']}"
    session.base = f"{stack.gateway_url}/api/v1"
    return session


# --- dashboards: a stack that sweeps deadlines every 2 s, and a few periods of real reporting -----------

@pytest.fixture(scope="session")
def sweeping_stack(rabbit, tmp_path_factory):
    """Like ``stack``, but deadlines are judged every 2 s, so a test can let one pass (one for the
    whole run: it carries the dashboard world, which takes real deadlines ~2 min to build)."""
    with platform_stack(rabbit, tmp_path_factory, THONGTHIN_SWEEP_INTERVAL_S="2") as platform:
        yield platform


DASHBOARD_PROVINCES = ("8", "9")   # Sing Buri and Chainat: 99 LAOs, 14 district offices
INDICATOR = "DISB-PCT"


def wait_for(check, timeout=90, what="condition"):
    """Poll ``check`` until it returns something truthy (returned), failing after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)
    return result


def fate(index: int, period_index: int) -> str:
    """What LAO number ``index`` (in code order) did in past period ``period_index``: varied by unit
    and by period, so that rates differ between districts, provinces and months."""
    return ("on_time", "on_time", "late", "missing", "missing")[(index * 7 + period_index * 3) % 5]


def value_of(index: int, period_index: int) -> float:
    return float(40 + (index * 13 + period_index * 17) % 60)


def build_dashboard_world(stack) -> dict:
    """Through the public API: provinces 8 and 9, a plan with DISB-PCT targets, three past monthly
    periods (due 75 s after issue: some LAOs submit on time, the deadline passes and the sweep marks the
    rest missed, then some submit late), and this month's period due in 3 days (some on time, the rest
    pending), one submission returned and one extension granted. Returns what each LAO did, so tests
    compute the expected numbers themselves instead of trusting the report."""
    from datetime import datetime, timedelta
    from services.plans.cli import registry_rows
    from shared.thai import BANGKOK
    central, province = client(stack, "central"), client(stack, "chainat")
    rows = [r for r in registry_rows() if r["code"] in ("MOI", "DLA") or r.get("province_code") in DASHBOARD_PROVINCES]
    assert central.post(f"{central.base}/org-units", json={"units": rows}).status_code == 200
    laos = sorted(r["code"] for r in rows if r["level"] == "lao")
    units = {r["code"]: r for r in rows}
    plan = central.post(f"{central.base}/plans", json={
        "format": "thongthin.plan/v1",
        "plan": {"id": "DLA-DISB-2569", "type": "strategic", "owner_code": "DLA", "title_th": "แผนการเบิกจ่ายงบประมาณ ๒๕๖๙",
                 "period_be_start": 2569, "period_be_end": 2570},
        "indicators": [{"id": INDICATOR, "name_th": "ร้อยละการเบิกจ่าย", "unit_th": "ร้อยละ", "direction": "higher",
                        "targets": {"2569": 70, "2570": 70},
                        "unit_targets": [{"unit_code": "PLO-09", "targets": {"2569": 65, "2570": 65}}]}]})
    assert plan.status_code == 200, plan.text

    now = datetime.now(BANGKOK)
    due = now + timedelta(seconds=75)
    month = lambda back: (now.year * 12 + now.month - 1 - back)  # noqa: E731
    periods = [f"{m // 12 + 543}-{m % 12 + 1:02d}" for m in (month(3), month(2), month(1))]
    current = f"{month(0) // 12 + 543}-{month(0) % 12 + 1:02d}"
    reporting = {"indicator_code": INDICATOR, "indicator_name_th": "ร้อยละการเบิกจ่าย", "value_type": "percent",
                 "minimum": 0, "maximum": 100, "unit_of_measure": "ร้อยละ", "opens_at": (now - timedelta(days=30)).isoformat()}
    directives = []
    for k, period in enumerate([*periods, current]):
        due_at = due if k < 3 else now + timedelta(days=3)
        issued = central.post(f"{central.base}/directives", json={
            "document_number": f"มท ๐๘๑๐.๓/ว ๙๐{k}", "document_date": now.date().isoformat(), "urgency": "urgent",
            "subject_th": f"รายงานผลการเบิกจ่ายงบประมาณ งวด {period}", "text_th": "ให้ อปท. รายงานร้อยละการเบิกจ่าย",
            "addressees": {"level": "lao"}, "acknowledge_due_at": (now + timedelta(days=7)).isoformat(),
            "reporting": {**reporting, "period": period, "due_at": due_at.isoformat()}})
        assert issued.status_code == 201, issued.text
        assert issued.json()["assignment_count"] == len(laos)
        directives.append(issued.json())
    ids = {d["directive_id"]: k for k, d in enumerate(directives)}

    def obligations():
        items = []
        while True:
            page = central.get(f"{central.base}/obligations", params={"limit": 1000, "offset": len(items)}).json()["items"]
            items += page
            if len(page) < 1000:
                return items
    everything = wait_for(lambda: len(items := [o for o in obligations() if o["directive_id"] in ids]) == 4 * len(laos) and items,
                       what="an obligation per LAO and period")
    by = {(o["unit_code"], ids[o["directive_id"]]): o for o in everything}
    fates = {}
    for i, code in enumerate(laos):
        for k in range(3):
            fates[(code, k)] = fate(i, k)
        fates[(code, 3)] = "on_time" if i % 4 == 0 and code != "LAO-180101" else "pending"

    def submit(which):
        items = [{"obligation_id": by[key]["id"], "unit_code": key[0],
                  "values": [{"indicator_code": INDICATOR, "value": value_of(laos.index(key[0]), key[1]),
                              "note": "เบิกจ่ายตามแผน"}]} for key in which]
        result = central.post(f"{central.base}/submissions/batch", json={"items": items, "mode": "all_or_nothing"})
        assert result.status_code == 200 and result.json()["accepted"] == len(items), result.text
        return result.json()

    submit([key for key, what in fates.items() if what == "on_time"])
    assert datetime.now(BANGKOK) < due, "the on-time reports were not in before the deadline: a slow machine"
    # the deadline passes; the sweep marks every unreported obligation of the past periods missed
    missing_then = sum(1 for (code, k), what in fates.items() if k < 3 and what != "on_time")
    wait_for(lambda: len([o for o in obligations() if o["directive_id"] in ids and o["state"] == "missed"]) == missing_then,
          timeout=150, what="the sweep")
    submit([key for key, what in fates.items() if what == "late"])
    # Chainat returns one on-time report; LAO-180101 asks for more time on the current period and gets it
    returned_key = next(key for key, what in fates.items() if what == "on_time" and units[key[0]].get("province_code") == "9")
    detail = province.get(f"{province.base}/obligations/{by[returned_key]['id']}").json()
    review = province.post(f"{province.base}/submissions/{detail['submissions'][-1]['id']}/review",
                           json={"decision": "returned", "comment": "ตัวเลขไม่ตรงกับระบบ e-LAAS"})
    assert review.status_code == 200, review.text
    # returned after its deadline, it awaits resubmission (7 days): returned, never swept missed
    fates[returned_key] = "returned"
    lao = client(stack, "lao-180101")
    asked = lao.post(f"{lao.base}/obligations/{by[('LAO-180101', 3)]['id']}/extension-requests",
                     json={"requested_due_at": (now + timedelta(days=10)).isoformat(), "reason": "ระบบไฟฟ้าขัดข้อง"})
    assert asked.status_code == 201, asked.text
    granted = province.post(f"{province.base}/extension-requests/{asked.json()['request_id']}/decision", json={"approve": True})
    assert granted.status_code == 200, granted.text
    return {"laos": laos, "units": units, "fates": fates, "periods": periods, "current": current,
            "directives": directives, "obligations": by, "returned": returned_key, "extended": ("LAO-180101", 3),
            "central": central, "province": province, "lao": lao}


DASHBOARD_COUNT_KEYS = ("expected", "on_time", "late", "missing", "pending", "returned")


@pytest.fixture(scope="session")
def dashboard_world(sweeping_stack):
    """The dashboard world, built once for the reports API and the dashboard UI tests (neither
    changes what the other counts), once the reporting read model has caught up with all of it."""
    world = build_dashboard_world(sweeping_stack)
    central = world["central"]
    everything = expected_counts(world, set(world["laos"]))
    # the read model follows the events: wait until every late report and the flags have arrived
    wait_for(lambda: (t := central.get(f"{central.base}/reports/compliance").json().get("totals", {}))
          and all(t.get(k) == everything[k] for k in DASHBOARD_COUNT_KEYS)
          and t.get("returned") == 1 and t.get("extended") == 1,
          timeout=90, what="the reporting read model")
    world["stack"] = sweeping_stack
    return world


def expected_counts(world, codes, period_index=None) -> dict:
    """Counts for the LAOs ``codes`` from what the world did (all periods, or one)."""
    out = {"expected": 0, "on_time": 0, "late": 0, "missing": 0, "pending": 0, "returned": 0}
    for (code, k), what in world["fates"].items():
        if code in codes and (period_index is None or k == period_index):
            out["expected"] += 1
            out[what] += 1
    return out


def laos_under(world, code) -> set[str]:
    """The LAOs below a unit (or the unit itself), from the registry rows."""
    units = world["units"]

    def ancestors(c):
        while c:
            yield c
            c = units[c].get("parent_code")
    return {lao for lao in world["laos"] if code is None or code in ancestors(lao)}


# --- the web UI in a real browser (tests/support/browser.py) ------------------------------------------

@pytest.fixture(scope="module")
def browser():
    """Debian's chromium, headless, one per module that drives the UI."""
    from playwright.sync_api import sync_playwright

    from tests.support.browser import launch
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()
