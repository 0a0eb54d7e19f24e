"""Benchmark: a national monthly cycle through the public batch API, and the deadline sweep.

    python -m bench.national_cycle [--db sqlite|postgres] [--clients 8] [--missing 0.03]

On a throwaway RabbitMQ node with fresh databases and every service running:
  1. the national registry, then one reporting rule of 30 indicators for every LAO under DLA;
  2. the 76 provincial offices submit their LAOs' values concurrently through
     POST /api/v1/submissions/batch (100 LAOs × 30 values per request), a share of LAOs missing:
     values/s accepted, p50/p95/p99 request latency, and the time until the reporting service
     has consumed every submission;
  3. a second cycle left unreported, its due time moved into the past: the deadline sweep over
     all of its open obligations (target <= 10 s), each miss emitted once.
"""
from __future__ import annotations

import argparse
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

from bench.common import MemorySampler, bench_platform, machine, report, run_cli, wait_queues_empty
from devtools.demo import DEMO_USERS, create_users
from services.assessments import handlers as assessments
from services.assessments.models import obligations
from services.gateway import auth
from services.plans.cli import registry_rows
from shared.db import Database
from shared.messaging.tables import outbox
from shared.thai import BANGKOK

INDICATORS = 30


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--missing", type=float, default=0.03)
    args = parser.parse_args()
    random.seed(2569)
    with tempfile.TemporaryDirectory(prefix="tt-bench-") as work, bench_platform(args.db, Path(work), extra_env={
            "THONGTHIN_SWEEP_INTERVAL_S": "86400", "THONGTHIN_GENERATION_INTERVAL_S": "86400"}) as (node, stack):
        create_users(stack.database_urls["gateway"])
        provinces = sorted({row["province_code"] for row in registry_rows() if row["level"] == "provincial_office"},
                           key=int)
        gateway_db = Database(stack.database_urls["gateway"])
        with gateway_db.session() as session:
            for province in provinces:
                auth.create_user(session, username=f"plo-{province}", password="bench-2569", role="province",
                                 org_code=f"PLO-{int(province):02d}", display_name=f"bench {province}")
            session.commit()
        gateway_db.dispose()
        stack.start()
        assessments_url = stack.database_urls["assessments"]
        with MemorySampler(stack) as memory:
            run_cli(stack, "-m", "services.plans.cli", "national-registry")
            wait_queues_empty(node)
            central = requests.Session()
            central.headers["Authorization"] = "Bearer " + central.post(
                f"{stack.gateway_url}/api/v1/auth/token",
                json={"username": "central", "password": DEMO_USERS[0][1]}).json()["token"]
            due = (datetime.now(BANGKOK) + timedelta(days=3)).replace(hour=16, minute=30, second=0, microsecond=0)
            central.post(f"{stack.gateway_url}/api/v1/directives", json=rule_payload("รอบรายงานประจำเดือน", due),
                         timeout=120).raise_for_status()
            laos = {row["code"]: row["province_code"] for row in registry_rows() if row["level"] == "lao"}
            expected = sum(1 for code in laos if code != "BMA")
            open_query = select(func.count()).select_from(obligations).where(obligations.c.state == "open")
            wait_for(lambda: count(assessments_url, open_query) >= expected, 300, "obligations opened")
            wait_queues_empty(node)
            engine = create_engine(assessments_url)
            with engine.connect() as connection:
                rows = connection.execute(select(obligations.c.id, obligations.c.unit_code)).all()
            engine.dispose()
            by_province: dict[str, list] = defaultdict(list)
            skipped = 0
            for obligation_id, unit_code in rows:
                if random.random() < args.missing:
                    skipped += 1
                    continue
                by_province[laos.get(unit_code, "0")].append(obligation_id)
            batches = []
            for province, ids in by_province.items():
                for start in range(0, len(ids), 100):
                    batches.append((province, ids[start:start + 100]))
            tokens = {}
            for province in by_province:
                tokens[province] = requests.post(f"{stack.gateway_url}/api/v1/auth/token", json={
                    "username": f"plo-{province}", "password": "bench-2569"}).json()["token"]
            latencies, accepted, errors = [], [0], []
            lock = threading.Lock()
            local = threading.local()

            def submit(batch):
                province, ids = batch
                session = getattr(local, "session", None) or requests.Session()
                local.session = session
                unit_of = dict(rows)
                items = [{"obligation_id": oid, "unit_code": unit_of[oid], "values": [
                    {"indicator_code": "KPI-01", "value": round(random.uniform(40, 100), 1), "note": "ตามแผน"}] + [
                    {"indicator_code": f"KPI-{i:02d}", "value": random.randint(0, 500)}
                    for i in range(2, INDICATORS + 1)]} for oid in ids]
                started = time.monotonic()
                response = session.post(f"{stack.gateway_url}/api/v1/submissions/batch", json={"items": items},
                                        headers={"Authorization": f"Bearer {tokens[province]}"}, timeout=300)
                elapsed = time.monotonic() - started
                with lock:
                    latencies.append(elapsed)
                    if response.status_code == 200:
                        accepted[0] += response.json()["accepted"]
                    else:
                        errors.append(response.text[:300])

            random.shuffle(batches)
            cycle_started = time.monotonic()
            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(submit, batches))
            submit_s = time.monotonic() - cycle_started
            submitted_query = text("SELECT count(*) FROM event_log WHERE event_type = 'assessments.indicator_submitted.v1'")
            wait_for(lambda: count(stack.database_urls["reporting"], submitted_query) >= accepted[0], 600,
                     "reporting consumed every submission")
            reflected_s = time.monotonic() - cycle_started
            values = accepted[0] * INDICATORS
            # --- the sweep over a whole unreported cycle -------------------------------------------
            central.post(f"{stack.gateway_url}/api/v1/directives", json=rule_payload(
                "รอบที่สอง (ไม่มีผู้รายงาน)", due + timedelta(days=1)), timeout=120).raise_for_status()
            wait_for(lambda: count(assessments_url, open_query) >= expected + skipped, 300, "second cycle opened")
            database = Database(assessments_url)
            with database.session() as session:
                session.execute(update(obligations).where(obligations.c.state == "open")
                                .values(due_at=datetime.now(BANGKOK) - timedelta(minutes=1)))
                session.commit()
                open_before = session.execute(open_query).scalar_one()
            started = time.monotonic()
            missed = assessments.sweep_deadlines(database)
            sweep_s = time.monotonic() - started
            again = assessments.sweep_deadlines(database)
            with database.session() as session:
                emitted = session.execute(select(func.count()).select_from(outbox).where(
                    outbox.c.event_type == "assessments.deadline_missed.v1")).scalar_one()
            database.dispose()
        ordered = sorted(latencies)
        pct = lambda p: ordered[min(len(ordered) - 1, int(p * len(ordered)))]  # noqa: E731
        figures = {
            "db": args.db, "laos": expected, "values": values, "missing_laos": skipped, "batches": len(batches),
            "clients": args.clients, "cycle_submit_s": round(submit_s, 2),
            "cycle_values_per_s": round(values / submit_s, 1),
            "batch_latency_p50_s": round(pct(0.50), 3), "batch_latency_p95_s": round(pct(0.95), 3),
            "batch_latency_p99_s": round(pct(0.99), 3), "cycle_reporting_consumed_s": round(reflected_s, 2),
            "sweep_open_obligations": open_before, "sweep_s": round(sweep_s, 2), "sweep_missed": missed,
            "sweep_second_run_missed": again, "deadline_missed_events": emitted, "errors": len(errors),
            "max_rss_mb": {name: round(mb, 1) for name, mb in memory.peak.items()}, "machine": machine()}
        report(f"National monthly cycle ({args.db})", [
            ("values accepted", f"{values:,}", f"{accepted[0]} LAOs x {INDICATORS}, {skipped} LAOs missing"),
            ("submit time / rate", f"{submit_s:.1f} s", f"{values / submit_s:,.0f} values/s, {args.clients} clients"),
            ("batch latency p50/p95/p99", f"{pct(.5):.2f}/{pct(.95):.2f}/{pct(.99):.2f} s", "100 LAOs x 30 values"),
            ("reporting consumed all", f"{reflected_s:.1f} s", "target <= 120 s: " + ("met" if reflected_s <= 120 else "MISSED")),
            ("sweep over open obligations", f"{sweep_s:.2f} s", f"{open_before} open; target <= 10 s: "
             + ("met" if sweep_s <= 10 else "MISSED")),
            ("misses emitted once", f"{missed}/{emitted}", f"second sweep found {again}"),
            ("peak RSS (max service)", f"{max(memory.peak.values()):.0f} MB", "target < 300 MB"),
        ], figures)
        if errors:
            print("first errors:", errors[:3])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
