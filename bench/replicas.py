"""Benchmark: the national monthly cycle with one vs two replicas of assessments and reporting.

    python -m bench.replicas [--laos 1000] [--clients 8] [--replicas 1,2]

For each replica count, on a fresh platform (throwaway RabbitMQ node, fresh PostgreSQL databases:
replicas share their service's database, SQLite cannot be shared by processes on several
machines): the national registry and one rule of 30 indicators for every LAO (as in
bench.national_cycle), then the provincial offices submit ``--laos`` LAOs' values through
POST /api/v1/submissions/batch (100 LAOs per request, ``--clients`` concurrent requests).
Measured: values/s accepted by the gateway, and the time until the reporting service has
consumed every submission (time-to-drain, from the first request).

Notifications is not started: it is not on this path and would only compete for the cores (its
queue fills up and is thrown away with the broker). Replicas are extra processes of the same service (devtools.stack ``replicas``): they share the
RPC queue (the gateway's calls are spread over them) and the event queue (competing consumers).
On a 2-core machine two replicas mostly compete for the same cores; the figure shows what the
design allows, not what a bigger cluster would get.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import create_engine, func, select, text

from bench.common import MemorySampler, bench_platform, machine, report, run_cli
from bench.national_cycle import INDICATORS, count, rule_payload, wait_for
from devtools.demo import DEMO_USERS, create_users
from services.assessments.models import obligations
from services.gateway import auth
from services.plans.cli import registry_rows
from shared.db import Database
from shared.messaging import topology as topo
from shared.thai import BANGKOK

SCALED = ("assessments", "reporting")
RUNNING = ("plans", "assessments", "reporting", "gateway")


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False


def wait_drained(node, timeout: float = 900) -> float:
    """Seconds until the work queues of the running services are empty."""
    queues = [topo.queue_name(name) for name in RUNNING if name in topo.SUBSCRIPTIONS]
    return wait_for(lambda: all(node.queue_depths().get(q, 0) == 0 for q in queues), timeout, "queues drained")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_cycle(replicas: int, laos: int, clients: int) -> dict:
    rng = random.Random(2569)
    with tempfile.TemporaryDirectory(prefix="tt-bench-") as work, bench_platform("postgres", Path(work), extra_env={
            "THONGTHIN_SWEEP_INTERVAL_S": "86400", "THONGTHIN_GENERATION_INTERVAL_S": "86400"}) as (node, stack):
        stack.replicas = {name: replicas for name in SCALED}
        create_users(stack.database_urls["gateway"])
        registry = registry_rows()
        provinces = sorted({row["province_code"] for row in registry if row["level"] == "provincial_office"}, key=int)
        gateway_db = Database(stack.database_urls["gateway"])
        with gateway_db.session() as session:
            for province in provinces:
                auth.create_user(session, username=f"plo-{province}", password="bench-2569", role="province",
                                 org_code=f"PLO-{int(province):02d}", display_name=f"bench {province}")
            session.commit()
        gateway_db.dispose()
        # notifications is not on the measured path and would compete for the same cores: it is
        # not started (its queue just fills up). The gateway's /health would wait for it, so
        # each service's own health is awaited instead.
        for name in RUNNING:
            for replica in range(stack.replicas.get(name, 1)):
                stack.start_service(name, replica)
        for name in RUNNING:
            wait_for(lambda: answers(f"{stack.url(name)}/metrics"), 120, f"{name} up")
        assessments_url = stack.database_urls["assessments"]
        with MemorySampler(stack) as memory:
            run_cli(stack, "-m", "services.plans.cli", "national-registry")
            wait_drained(node)
            central = requests.Session()
            central.headers["Authorization"] = "Bearer " + central.post(
                f"{stack.gateway_url}/api/v1/auth/token",
                json={"username": "central", "password": DEMO_USERS[0][1]}).json()["token"]
            due = (datetime.now(BANGKOK) + timedelta(days=3)).replace(hour=16, minute=30, second=0, microsecond=0)
            central.post(f"{stack.gateway_url}/api/v1/directives", json=rule_payload("รอบรายงานประจำเดือน", due),
                         timeout=120).raise_for_status()
            lao_province = {row["code"]: row["province_code"] for row in registry if row["level"] == "lao"}
            expected = sum(1 for code in lao_province if code != "BMA")
            open_query = select(func.count()).select_from(obligations).where(obligations.c.state == "open")
            wait_for(lambda: count(assessments_url, open_query) >= expected, 300, "obligations opened")
            wait_drained(node)
            engine = create_engine(assessments_url)
            with engine.connect() as connection:
                rows = sorted(connection.execute(select(obligations.c.id, obligations.c.unit_code)).all())
            engine.dispose()
            chosen = rng.sample(rows, min(laos, len(rows)))
            unit_of = dict(chosen)
            by_province: dict[str, list[str]] = {}
            for obligation_id, unit_code in chosen:
                by_province.setdefault(lao_province.get(unit_code, "0"), []).append(obligation_id)
            batches = [(province, ids[start:start + 100]) for province, ids in sorted(by_province.items())
                       for start in range(0, len(ids), 100)]
            tokens = {province: requests.post(f"{stack.gateway_url}/api/v1/auth/token", json={
                "username": f"plo-{province}", "password": "bench-2569"}).json()["token"] for province in by_province}
            bodies = [(province, {"items": [{"obligation_id": oid, "unit_code": unit_of[oid], "values": [
                {"indicator_code": "KPI-01", "value": round(rng.uniform(40, 100), 1)}] + [
                {"indicator_code": f"KPI-{i:02d}", "value": rng.randint(0, 500)} for i in range(2, INDICATORS + 1)]}
                for oid in ids]}) for province, ids in batches]
            rng.shuffle(bodies)
            latencies, accepted, errors = [], [0], []
            lock, local = threading.Lock(), threading.local()

            def submit(item):
                province, body = item
                session = getattr(local, "session", None) or requests.Session()
                local.session = session
                started = time.monotonic()
                response = session.post(f"{stack.gateway_url}/api/v1/submissions/batch", json=body,
                                        headers={"Authorization": f"Bearer {tokens[province]}"}, timeout=300)
                with lock:
                    latencies.append(time.monotonic() - started)
                    if response.status_code == 200:
                        accepted[0] += response.json()["accepted"]
                    else:
                        errors.append(response.text[:300])

            load_before = load()
            started = time.monotonic()
            with ThreadPoolExecutor(clients) as pool:
                list(pool.map(submit, bodies))
            submit_s = time.monotonic() - started
            consumed = text("SELECT count(*) FROM event_log WHERE event_type = 'assessments.indicator_submitted.v1'")
            wait_for(lambda: count(stack.database_urls["reporting"], consumed) >= accepted[0], 900,
                     "reporting consumed every submission")
            drain_s = time.monotonic() - started
            load_after = load()
        ordered = sorted(latencies)
        values = accepted[0] * INDICATORS
        return {
            "replicas": replicas, "laos": accepted[0], "values": values, "batches": len(bodies), "clients": clients,
            "submit_s": round(submit_s, 2), "values_per_s": round(values / submit_s, 1),
            "batch_latency_p50_s": round(ordered[len(ordered) // 2], 3),
            "batch_latency_p95_s": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
            "drain_s": round(drain_s, 2), "drained_values_per_s": round(values / drain_s, 1),
            "errors": len(errors), "first_errors": errors[:2],
            "load_before": load_before, "load_after": load_after,
            "max_rss_mb": {name: round(mb, 1) for name, mb in sorted(memory.peak.items())},
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--laos", type=int, default=7360, help="LAOs that submit (all 7,360 by default)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--replicas", default="1,2", help="replica counts of assessments and reporting to compare")
    args = parser.parse_args()
    results = []
    for replicas in args.replicas.split(","):
        results.append(run_cycle(int(replicas), args.laos, args.clients))
        print(json.dumps(results[-1], ensure_ascii=False), flush=True)  # each run as it ends
    rows = []
    for result in results:
        label = f"{result['replicas']} replica{'s' if result['replicas'] > 1 else ''}"
        rows.append((f"{label}: submit", f"{result['values_per_s']:,.0f} values/s",
                     f"{result['values']:,} values in {result['submit_s']:.1f} s, batch p95 "
                     f"{result['batch_latency_p95_s']:.2f} s, {result['errors']} errors"))
        rows.append((f"{label}: drained", f"{result['drain_s']:.1f} s",
                     f"{result['drained_values_per_s']:,.0f} values/s end to end; load {result['load_before']}"
                     f" -> {result['load_after']}"))
    report(f"National cycle, replicas of {' and '.join(SCALED)} (PostgreSQL)", rows,
           {"results": results, "machine": machine()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
