"""Benchmark: a national monthly cycle through the public batch API, and the deadline sweep.

    python -m bench.national_cycle [--db sqlite|postgres] [--scale 1.0] [--clients 8] [--missing 0.03]
                                   [--late 0.08]

On a throwaway RabbitMQ node with fresh databases and every service running:
  1. the national registry, a plan of 30 indicators with yearly targets (plans CLI), then one
     reporting rule of those 30 indicators for every LAO under DLA;
  2. the 76 provincial offices submit their LAOs' values concurrently through
     POST /api/v1/submissions/batch (100 LAOs × 30 values per request, a note wherever a value
     misses its target), a share of LAOs late (their due time already past) and a share missing:
     values/s accepted, p50/p95/p99 request latency, the time until the reporting dashboard
     (its read model) shows every submission, and per submission the latency from the client
     sending it to the dashboard showing it;
  3. a second cycle left unreported, its due time moved into the past: the deadline sweep over
     all of its open obligations (target <= 10 s), each miss emitted once.
"""
from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import create_engine, func, select, text, update

from bench.common import (MemorySampler, Sampler, bench_platform, cpu_by_service, load_registry, login, machine,
                          messages_consumed, report, run_cli, wait_queues_empty)
from devtools.demo import DEMO_USERS, create_users
from services.assessments import sweeps as assessments_sweeps
from services.assessments.models import obligations
from services.gateway import auth
from shared.db import Database
from shared.messaging.tables import outbox
from shared.thai import BANGKOK, fiscal_year_be

INDICATORS = 30
PLAN_ID = "BENCH-DLA-KPI"
TARGETS = {"KPI-01": 80.0, **{f"KPI-{i:02d}": 100.0 for i in range(2, INDICATORS + 1)}}
SAO_TARGET = 90.0  # a lower target for one LAO type (targets by unit group), on KPI-02


def plan_document(fiscal_years: list[int]) -> dict:
    """A DLA plan with the cycle's 30 indicators and a target per indicator and fiscal year."""
    indicators = [{"id": code, "name_th": f"ตัวชี้วัดที่ {int(code[4:])}", "unit": "percent" if code == "KPI-01" else "count",
                   "value_type": "percent" if code == "KPI-01" else "number", "direction": "higher",
                   "targets": {year: target for year in fiscal_years}}
                  for code, target in TARGETS.items()]
    indicators[1]["unit_targets"] = [{"unit_group": "lao_type:sao",
                                      "targets": {year: SAO_TARGET for year in fiscal_years}}]
    return {"format": "thongthin.plan/v1",
            "plan": {"id": PLAN_ID, "type": "strategic", "owner_code": "DLA", "title_th": "แผนตัวชี้วัด อปท. (ทดสอบสมรรถนะ)",
                     "period_be_start": min(fiscal_years), "period_be_end": max(fiscal_years)},
            "strategic_issues": [{"id": "SI-1", "title_th": "การบริหารจัดการที่ดี", "goals": [
                {"id": "G-1", "title_th": "อปท. รายงานผลครบถ้วนตรงเวลา", "indicators": indicators}]}]}


def import_plan(stack, work_dir: Path) -> None:
    """Step: the plan through the plans CLI (its indicators and targets reach assessments as events)."""
    year = fiscal_year_be(datetime.now(BANGKOK))
    path = Path(work_dir) / "bench-plan.json"
    path.write_text(json.dumps(plan_document([year - 1, year, year + 1]), ensure_ascii=False), "utf-8")
    run_cli(stack, "-m", "services.plans.cli", "import-plan", str(path))


def create_province_users(stack, provinces: list[str]) -> dict[str, str]:
    """One user per provincial office, each with an API token (machine clients submit on behalf
    of their LAOs with a token, not a password login); returns province -> token."""
    gateway_db = Database(stack.database_urls["gateway"])
    tokens = {}
    with gateway_db.session() as session:
        for province in provinces:
            username = f"plo-{province}"
            auth.create_user(session, username=username, password="bench-2569", role="province",
                             org_code=f"PLO-{int(province):02d}", display_name=f"bench {province}")
            tokens[province] = auth.create_token(session, username, name="bench", scopes=["read", "write"],
                                                 days=1)["token"]
        session.commit()
    gateway_db.dispose()
    return tokens


def provinces_of(rows: list[dict]) -> list[str]:
    return sorted({row["province_code"] for row in rows if row["level"] == "provincial_office"}, key=int)


def count(url: str, query) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        value = connection.execute(query).scalar_one()
    engine.dispose()
    return value


def wait_for(predicate, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what} not reached in {timeout}s")
        time.sleep(0.2)
    return time.monotonic() - started


def rule_payload(title: str, due_local: datetime) -> dict:
    extra = [{"code": f"KPI-{i:02d}", "name_th": f"ตัวชี้วัดที่ {i}", "value_type": "number", "minimum": 0}
             for i in range(2, INDICATORS + 1)]
    return {
        "document_number": f"มท ๐๘๑๐.๓/ว {random.randint(100, 999)}", "document_date": "2026-11-21",
        "subject_th": title, "text_th": "ให้ทุก อปท. รายงานผลตามตัวชี้วัด ๓๐ รายการ",
        "addressees": {"level": "lao", "within": "DLA"},
        "reporting": {"indicator_code": "KPI-01", "indicator_name_th": "ตัวชี้วัดที่ 1", "value_type": "percent",
                      "minimum": 0, "maximum": 100, "rrule": f"FREQ=MONTHLY;BYMONTHDAY={due_local.day}",
                      "dtstart": (due_local - timedelta(days=2)).isoformat(),
                      "until": (due_local + timedelta(hours=12)).isoformat(),
                      "due_time_local": due_local.strftime("%H:%M"), "holiday_rule": "none",
                      "window_opens_before": "P10D", "more_indicators": extra}}


def open_cycle(stack, node, central, title: str, due: datetime, expected: int) -> str:
    """A monthly reporting rule of 30 indicators for every LAO; returns the directive id once
    assessments has opened every obligation and every consumer is idle."""
    response = central.post(f"{stack.gateway_url}/api/v1/directives", json=rule_payload(title, due), timeout=300)
    response.raise_for_status()
    directive_id = response.json()["directive_id"]
    opened = select(func.count()).select_from(obligations).where(obligations.c.directive_id == directive_id)
    wait_for(lambda: count(stack.database_urls["assessments"], opened) >= expected, 600, "obligations opened")
    wait_queues_empty(node, stack)
    return directive_id


# "The dashboard shows a submission": the reporting read model every dashboard query reads
# (rm_obligations) counts it. The obligation ids of a directive's submissions it shows:
DASHBOARD_SHOWN = "SELECT obligation_id FROM rm_obligations WHERE directive_id = :directive AND submissions > 0"


class DashboardClock(Sampler):
    """Polls the reporting read model and notes when each submission first shows there."""

    interval = 0.25

    def __init__(self, url: str, directive_id: str):
        super().__init__()
        self.engine = create_engine(url)
        self.directive_id = directive_id
        self.first_seen: dict[str, float] = {}

    def sample(self) -> None:
        with self.engine.connect() as connection:
            shown = connection.execute(text(DASHBOARD_SHOWN), {"directive": self.directive_id}).scalars().all()
        now = time.monotonic()
        for obligation_id in shown:
            self.first_seen.setdefault(obligation_id, now)

    def __exit__(self, *exc):
        super().__exit__(*exc)
        self.engine.dispose()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else float("nan")


def _values(rng: random.Random, unit: dict) -> list[dict]:
    """30 values for one LAO, with a note wherever a value misses its target (else a 422)."""
    values = []
    for code, target in TARGETS.items():
        if code == "KPI-02" and unit.get("lao_type") == "sao":
            target = SAO_TARGET
        value = round(rng.uniform(40, 100), 1) if code == "KPI-01" else rng.randint(0, 500)
        item = {"indicator_code": code, "value": value}
        if value < target:
            item["note"] = "ต่ำกว่าเป้าหมายเนื่องจากได้รับงบประมาณล่าช้า"
        values.append(item)
    return values


def submit_cycle(stack, node, directive_id: str, registry: list[dict], tokens: dict[str, str], *,
                 clients: int = 8, missing: float = 0.03, late: float = 0.08, seed: int = 2569) -> dict:
    """Step: every province submits its LAOs' values through the batch API, concurrently."""
    rng = random.Random(seed)
    assessments_url, reporting_url = stack.database_urls["assessments"], stack.database_urls["reporting"]
    units = {row["code"]: row for row in registry}
    engine = create_engine(assessments_url)
    with engine.connect() as connection:
        rows = connection.execute(select(obligations.c.id, obligations.c.unit_code)
                                  .where(obligations.c.directive_id == directive_id)).all()
    engine.dispose()
    by_province: dict[str, list] = defaultdict(list)
    skipped, late_ids = 0, []
    for obligation_id, unit_code in rows:
        if rng.random() < missing:
            skipped += 1
            continue
        if rng.random() < late:
            late_ids.append(obligation_id)
        by_province[units[unit_code]["province_code"]].append(obligation_id)
    if late_ids:  # these LAOs report after their due time: accepted, marked late
        database = Database(assessments_url)
        with database.session() as session:
            session.execute(update(obligations).where(obligations.c.id.in_(late_ids))
                            .values(due_at=datetime.now(BANGKOK) - timedelta(hours=1)))
            session.commit()
        database.dispose()
    unit_of = dict(rows)
    batches = []
    for province, ids in by_province.items():
        for start in range(0, len(ids), 100):
            batches.append((province, [{"obligation_id": oid, "unit_code": unit_of[oid],
                                        "values": _values(rng, units[unit_of[oid]])}
                                       for oid in ids[start:start + 100]]))
    latencies, sent_at, accepted_at, accepted, errors = [], {}, {}, [0], []
    lock = threading.Lock()
    local = threading.local()

    def submit(batch):
        province, items = batch
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        started = time.monotonic()
        response = session.post(f"{stack.gateway_url}/api/v1/submissions/batch", json={"items": items},
                                headers={"Authorization": f"Bearer {tokens[province]}"}, timeout=300)
        done = time.monotonic()
        with lock:
            latencies.append(done - started)
            for item in items:
                sent_at[item["obligation_id"]] = started
            if response.status_code == 200:
                result = response.json()
                accepted[0] += result["accepted"]
                for submission in result["submissions"]:
                    accepted_at[submission["obligation_id"]] = done
                errors.extend(result.get("errors", [])[:3])
            else:
                errors.append(response.text[:300])

    rng.shuffle(batches)
    consumed_before, cpu_before = messages_consumed(stack), cpu_by_service(stack)
    with DashboardClock(reporting_url, directive_id) as clock:
        cycle_started = time.monotonic()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(submit, batches))
        submit_s = time.monotonic() - cycle_started
        wait_for(lambda: set(accepted_at) <= set(clock.first_seen), 900, "the dashboard showing every submission")
        dashboard_s = time.monotonic() - cycle_started
    wait_queues_empty(node, stack)
    drained_s = time.monotonic() - cycle_started
    consumed = sum(messages_consumed(stack).values()) - sum(consumed_before.values())
    cpu = {name: round(seconds - cpu_before.get(name, 0.0), 1) for name, seconds in cpu_by_service(stack).items()}
    shown = clock.first_seen
    from_send = [shown[oid] - sent_at[oid] for oid in accepted_at]
    from_accept = [shown[oid] - accepted_at[oid] for oid in accepted_at]
    values = accepted[0] * INDICATORS
    return {
        "cycle_directive_id": directive_id, "laos": len(rows), "values": values, "missing_laos": skipped,
        "late_laos": len(late_ids), "batches": len(batches), "clients": clients, "cycle_submit_s": round(submit_s, 2),
        "cycle_values_per_s": round(values / submit_s, 1),
        "batch_latency_p50_s": round(percentile(latencies, .50), 3),
        "batch_latency_p95_s": round(percentile(latencies, .95), 3),
        "batch_latency_p99_s": round(percentile(latencies, .99), 3),
        "cycle_dashboard_s": round(dashboard_s, 2),
        "p50_latency_s": round(percentile(from_send, .50), 2), "p95_latency_s": round(percentile(from_send, .95), 2),
        "p99_latency_s": round(percentile(from_send, .99), 2),
        "p95_latency_from_accept_s": round(percentile(from_accept, .95), 2),
        "cycle_consumers_drained_s": round(drained_s, 2), "cycle_messages_consumed": int(consumed),
        "platform_events_per_s": round(consumed / drained_s, 1), "cycle_cpu_s": cpu,
        "errors": len(errors), "first_errors": errors[:3]}


def cycle_rows(figures: dict) -> list[tuple[str, str, str]]:
    f = figures
    return [
        ("values accepted", f"{f['values']:,}", f"{f['values'] // INDICATORS} LAOs x {INDICATORS}, "
         f"{f['late_laos']} late, {f['missing_laos']} missing"),
        ("submit time / rate", f"{f['cycle_submit_s']:.1f} s", f"{f['cycle_values_per_s']:,.0f} values/s, "
         f"{f['clients']} clients"),
        ("batch request p50/p95/p99", f"{f['batch_latency_p50_s']:.2f}/{f['batch_latency_p95_s']:.2f}/"
         f"{f['batch_latency_p99_s']:.2f} s", "100 LAOs x 30 values"),
        ("dashboard shows all", f"{f['cycle_dashboard_s']:.1f} s",
         "target <= 120 s: " + ("met" if f["cycle_dashboard_s"] <= 120 else "MISSED")),
        ("send -> dashboard p50/p95/p99", f"{f['p50_latency_s']:.2f}/{f['p95_latency_s']:.2f}/{f['p99_latency_s']:.2f} s",
         "p95 target <= 5 s: " + ("met" if f["p95_latency_s"] <= 5 else "MISSED")),
        ("events consumed / rate", f"{f['cycle_messages_consumed']:,}",
         f"{f['platform_events_per_s']:,.0f}/s until every consumer idle ({f['cycle_consumers_drained_s']:.1f} s)"),
    ]


def sweep(stack, node) -> dict:
    """Step: every open obligation's due time moved into the past, then the deadline sweep."""
    assessments_url = stack.database_urls["assessments"]
    open_query = select(func.count()).select_from(obligations).where(obligations.c.state == "open")
    database = Database(assessments_url)
    with database.session() as session:
        session.execute(update(obligations).where(obligations.c.state == "open")
                        .values(due_at=datetime.now(BANGKOK) - timedelta(minutes=1)))
        session.commit()
        open_before = session.execute(open_query).scalar_one()
    started = time.monotonic()
    missed = assessments_sweeps.sweep_deadlines(database)
    sweep_s = time.monotonic() - started
    again = assessments_sweeps.sweep_deadlines(database)
    with database.session() as session:
        emitted = session.execute(select(func.count()).select_from(outbox).where(
            outbox.c.event_type == "assessments.deadline_missed.v1")).scalar_one()
    database.dispose()
    wait_queues_empty(node, stack)
    drained_s = time.monotonic() - started
    return {"sweep_open_obligations": open_before, "sweep_s": round(sweep_s, 2), "sweep_missed": missed,
            "sweep_second_run_missed": again, "deadline_missed_events": emitted,
            "sweep_consumers_drained_s": round(drained_s, 2)}


def sweep_rows(figures: dict) -> list[tuple[str, str, str]]:
    f = figures
    return [("sweep over open obligations", f"{f['sweep_s']:.2f} s", f"{f['sweep_open_obligations']} open; "
             "target <= 10 s: " + ("met" if f["sweep_s"] <= 10 else "MISSED")),
            ("misses emitted once", f"{f['sweep_missed']}/{f['deadline_missed_events']}",
             f"second sweep found {f['sweep_second_run_missed']}")]


# The service's own sweep and rule generation must not run behind the benchmark's back.
ENV = {"THONGTHIN_SWEEP_INTERVAL_S": "86400", "THONGTHIN_GENERATION_INTERVAL_S": "86400"}


def main() -> int:
    from bench.common import registry_at_scale
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--scale", type=float, default=1.0, help="share of the registry's LAOs")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--missing", type=float, default=0.03)
    parser.add_argument("--late", type=float, default=0.08)
    args = parser.parse_args()
    random.seed(2569)
    registry = registry_at_scale(args.scale)
    with tempfile.TemporaryDirectory(prefix="tt-bench-") as work, \
            bench_platform(args.db, Path(work), extra_env=ENV) as (node, stack):
        create_users(stack.database_urls["gateway"])
        tokens = create_province_users(stack, provinces_of(registry))
        stack.start()
        with MemorySampler(stack) as memory:
            expected = load_registry(stack, Path(work), args.scale)
            import_plan(stack, Path(work))
            wait_queues_empty(node, stack)
            central = login(stack, "central", DEMO_USERS[0][1])
            due = (datetime.now(BANGKOK) + timedelta(days=3)).replace(hour=16, minute=30, second=0, microsecond=0)
            directive_id = open_cycle(stack, node, central, "รอบรายงานประจำเดือน", due, expected)
            figures = submit_cycle(stack, node, directive_id, registry, tokens, clients=args.clients,
                                   missing=args.missing, late=args.late)
            # A second cycle left unreported: the sweep over all of it.
            open_cycle(stack, node, central, "รอบที่สอง (ไม่มีผู้รายงาน)", due + timedelta(days=1), expected)
            figures.update(sweep(stack, node))
        figures.update({"db": args.db, "max_rss_mb": {name: round(mb, 1) for name, mb in memory.peak.items()},
                        "machine": machine()})
        report(f"National monthly cycle ({args.db})", cycle_rows(figures) + sweep_rows(figures) + [
            ("peak RSS (max service)", f"{max(memory.peak.values()):.0f} MB", "target < 300 MB"),
        ], figures)
        if figures["errors"]:
            print("first errors:", figures["first_errors"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
