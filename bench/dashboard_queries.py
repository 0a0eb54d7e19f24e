"""Benchmark: dashboard queries over a year of national data in the reporting store.

    python -m bench.dashboard_queries [--db sqlite|postgres] [--scale 1.0] [--runs 40] [--keep DIR]
    python -m bench.dashboard_queries --store sqlite:///DIR/reporting.db      # queries only, on a kept store

A fresh reporting store (a SQLite file, or a PostgreSQL database of its own created on
THONGTHIN_BENCH_PG_URL / 127.0.0.1:5432 / a throwaway cluster, dropped afterwards), migrated by
alembic, is loaded THROUGH THE SAME PROJECTION CODE the live consumer runs (event log + read models;
projection.project_many: exactly the rows of one event at a time, set-based), in big transactions, with synthesised events:
  the national registry (services/plans/registry.py) -> a plan of 30 indicators with yearly targets
  (a level-wide target, a lower one for SAOs, some unit targets and a "no target") -> one monthly rule:
  every LAO x 12 months of FY 2569 = obligations, each answered with 30 values: ~80 % on time, ~8 %
  late after the deadline sweep, ~3 % extended then on time, ~1 % returned and resubmitted, ~8 %
  missing; a reminder for every late or missing one.
At scale 1 that is ~7,850 LAOs x 30 indicators x 12 months = ~2.8 M values.

Then p50/p95 of the national and provincial compliance, compliance-matrix and achievement
queries (many runs, random provinces, periods and indicators) against the p95 <= 300 ms target.
"""
from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from contextlib import ExitStack, contextmanager
from datetime import date, datetime, time as clock, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select

from bench.common import machine, registry_at_scale, report
from services.reporting import projection, views
from services.reporting.models import values
from shared.contracts import encode
from shared.contracts.events import (DeadlineMissed, ExtensionGranted, IndicatorSpec, IndicatorSubmitted,
                                     NotificationSent, ObligationOpened, OrgUnitChanged, PlanPublished,
                                     ReportingRulePublished, SubmissionReviewed, SubmittedValue, TargetSet)
from shared.db import Database
from shared.migrate import upgrade
from shared.thai import BANGKOK

FISCAL_YEAR = 2569
PERIODS = [f"{2568 if month >= 10 else 2569}-{month:02d}" for month in (10, 11, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9)]
INDICATORS = [f"KPI-{i:02d}" for i in range(1, 31)]
RULE_ID = "bench-rule"
PLAN_ID = "bench-plan"
TARGET_P95_MS = 300.0
UTC = timezone.utc


def _due(period: str) -> datetime:
    """Due on the 3rd of the following month, 16:30 Bangkok (FREQ=MONTHLY;BYMONTHDAY=3)."""
    year_be, month = (int(part) for part in period.split("-"))
    year, month = year_be - 543 + month // 12, month % 12 + 1
    return datetime.combine(date(year, month, 3), clock(16, 30), tzinfo=BANGKOK).astimezone(UTC)


def _specs() -> list[IndicatorSpec]:
    kinds = [("percent", "increase"), ("number", "increase"), ("count", "increase"), ("number", "decrease"),
             ("percent", "maintain")]
    return [IndicatorSpec(code=code, name_th=f"ตัวชี้วัดที่ {i + 1}", unit_of_measure="%",
                          value_type=kinds[i % 5][0], direction=kinds[i % 5][1])
            for i, code in enumerate(INDICATORS)]


def _setup_events(rows: list[dict]) -> list:
    events = [OrgUnitChanged(**{key: row.get(key) for key in (
        "code", "level", "lao_type", "parent_code", "name_th", "name_en", "province_code", "district_code",
        "subdistrict_code", "contact_email")}, valid_from=date.fromisoformat(row["valid_from"])) for row in rows]
    specs = _specs()
    events.append(PlanPublished(plan_id=PLAN_ID, title_th="แผนตัวชี้วัด อปท. (ทดสอบสมรรถนะ)", plan_type="strategic",
                                owner_code="DLA", period_be_start=FISCAL_YEAR, period_be_end=FISCAL_YEAR,
                                indicators=specs))
    for i, code in enumerate(INDICATORS):
        events.append(TargetSet(plan_id=PLAN_ID, indicator_code=code, fiscal_year_be=FISCAL_YEAR,
                                unit_group="level:lao", value=None if i == 29 else 60.0, provenance="bench"))
        if i % 3 == 0:
            events.append(TargetSet(plan_id=PLAN_ID, indicator_code=code, fiscal_year_be=FISCAL_YEAR,
                                    unit_group="lao_type:sao", value=50.0, provenance="bench"))
    laos = [row["code"] for row in rows if row["level"] == "lao"]
    for code in laos[::50]:  # a unit target here and there
        events.append(TargetSet(plan_id=PLAN_ID, indicator_code="KPI-01", fiscal_year_be=FISCAL_YEAR,
                                unit_code=code, value=75.0, provenance="bench"))
    events.append(ReportingRulePublished(rule_id=RULE_ID, plan_id=PLAN_ID, indicators=specs, unit_codes=laos,
                                         rrule="FREQ=MONTHLY;BYMONTHDAY=3;COUNT=12"))
    return events


def _cycle_events(laos: list[str], period: str, rng: random.Random):
    """Every event of one monthly cycle, in the order the platform emits them (as (event, at))."""
    due = _due(period)
    opened, answers = [], []
    for unit in laos:
        oid = f"{unit}:{period}"
        opened.append((ObligationOpened(obligation_id=oid, unit_code=unit, rule_id=RULE_ID, indicator_code="KPI-01",
                                        indicator_name_th="ตัวชี้วัดที่ 1", indicator_codes=INDICATORS, period=period,
                                        opens_at=due - timedelta(days=10), due_at=due), due - timedelta(days=40)))
        roll = rng.random()
        base = rng.uniform(20, 100)
        values_ = [SubmittedValue(indicator_code=code, value=round(max(0.0, base + rng.gauss(0, 15)), 2))
                   for code in INDICATORS]

        def submission(at, on_time, tag="", effective_due=due):
            return (IndicatorSubmitted(submission_id=f"{oid}:s{tag}", obligation_id=oid, unit_code=unit, period=period,
                                       values=values_, submitted_at=at, due_at=effective_due, on_time=on_time), at)
        miss = (DeadlineMissed(obligation_id=oid, unit_code=unit, indicator_code="KPI-01", period=period, due_at=due,
                               detected_at=due + timedelta(minutes=1)), due + timedelta(minutes=1))
        reminder = (NotificationSent(delivery_id=f"{oid}:r", kind="reminder", channel="email", recipient_code=unit,
                                     address=f"{unit}@thongthin.test", subject_ref=oid, step="-P1D",
                                     sent_at=due - timedelta(days=1)), due - timedelta(days=1))
        if roll < 0.80:
            answers.append(submission(due - timedelta(hours=rng.uniform(1, 200)), True))
        elif roll < 0.88:
            answers += [reminder, miss, submission(due + timedelta(hours=rng.uniform(1, 120)), False)]
        elif roll < 0.91:
            new_due = due + timedelta(days=7)
            answers += [(ExtensionGranted(request_id=f"{oid}:x", obligation_id=oid, unit_code=unit, new_due_at=new_due,
                                          decided_by_unit_code="DLA", decided_at=due - timedelta(days=2)),
                         due - timedelta(days=2)),
                        submission(due + timedelta(days=3), True, effective_due=new_due)]
        elif roll < 0.92:
            first = due - timedelta(days=2)
            answers += [submission(first, True, "1"),
                        (SubmissionReviewed(submission_id=f"{oid}:s1", obligation_id=oid, unit_code=unit,
                                            reviewer_unit_code="DLA", decision="returned",
                                            reviewed_at=first + timedelta(hours=5)), first + timedelta(hours=5)),
                        submission(first + timedelta(hours=20), True, "2")]
        else:
            answers += [reminder, miss]
    return opened + answers


def _project(database: Database, events, batch: int) -> int:
    """Through the consumer's code (event log + projection, projection.record_and_project_many: the
    rows record_and_project gives one event at a time, set-based), ``batch`` events per transaction."""
    done = 0
    for start in range(0, len(events), batch):
        chunk = events[start:start + batch]
        with database.unit_of_work() as uow:
            projection.record_and_project_many(uow, [(encode(event, correlation_id="bench", occurred_at=at), event)
                                                   for event, at in chunk])
            uow.commit()
        done += len(chunk)
    return done


@contextmanager
def fresh_store(db: str, keep: Path | None = None):
    """A migrated, empty reporting store of its own; removed afterwards (a SQLite one is kept in
    ``keep`` when given, to time queries again with ``--store``)."""
    with ExitStack() as stack:
        if db == "sqlite" and keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            (Path(keep) / "reporting.db").unlink(missing_ok=True)
            url = f"sqlite:///{Path(keep).resolve() / 'reporting.db'}"
        elif db == "postgres":
            from tests.support.postgres import PostgresServer, postgres_for_tests
            admin = os.environ.get("THONGTHIN_BENCH_PG_URL")
            server = PostgresServer(admin) if admin else stack.enter_context(postgres_for_tests())
            url = server.create_database("bench_reporting")
            stack.callback(server.drop_database, url)
        else:
            work = stack.enter_context(tempfile.TemporaryDirectory(prefix="tt-bench-dash-"))
            url = f"sqlite:///{Path(work) / 'reporting.db'}"
        upgrade("reporting", url)
        database = Database(url)
        stack.callback(database.dispose)
        yield database


def load(database: Database, scale: float, *, seed: int = 2569, batch: int = 20000, log=print) -> dict:
    rng = random.Random(seed)
    rows = registry_at_scale(scale)
    laos = [row["code"] for row in rows if row["level"] == "lao"]
    started, cpu = time.perf_counter(), time.process_time()
    events = _project(database, [(event, datetime(2025, 9, 1, tzinfo=UTC)) for event in _setup_events(rows)], batch)
    for period in PERIODS:
        cycle = _cycle_events(laos, period, rng)
        events += _project(database, cycle, batch)
        log(f"  {period}: {len(cycle):,} events projected ({time.perf_counter() - started:.0f} s)")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    with database.session() as session:
        stored = session.execute(select(func.count()).select_from(values)).scalar_one()
    return {"events": events, "laos": len(laos), "values": stored, "load_s": round(seconds, 1),
            "load_cpu_s": round(cpu, 1),  # this process's share (all of SQLite's work; not PostgreSQL's)
            "load_values_per_s": round(stored / seconds) if seconds else None,
            "provinces": sorted({row["code"] for row in rows if row["level"] == "provincial_office"})}


def _timed(database: Database, call) -> tuple[float, float]:
    """(wall ms, this process's CPU ms): on a busy machine the CPU time shows the query's own work
    (with SQLite all of it runs in this process; with PostgreSQL the server's share is not in it)."""
    with database.session() as session:
        started, cpu = time.perf_counter(), time.process_time()
        call(session)
        return (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))], 1)


def run_queries(database: Database, provinces: list[str], runs: int, seed: int = 7) -> dict[str, list[tuple]]:
    rng = random.Random(seed)
    now = datetime(2026, 6, 15, tzinfo=UTC)  # inside FY 2569: at-risk is computed too
    kinds = {
        "national compliance": lambda s: views.compliance(s, None, rng.choice(PERIODS)),
        "national compliance (year)": lambda s: views.compliance(s, None, None),
        "national matrix": lambda s: views.compliance_matrix(s, None, PERIODS),
        "national achievement": lambda s: views.achievement_report(s, rng.choice(INDICATORS), FISCAL_YEAR, now=now),
        "province compliance": lambda s: views.compliance(s, rng.choice(provinces), rng.choice(PERIODS)),
        "province matrix": lambda s: views.compliance_matrix(s, rng.choice(provinces), PERIODS),
        "province achievement": lambda s: views.achievement_report(s, rng.choice(INDICATORS), FISCAL_YEAR,
                                                                     rng.choice(provinces), now=now),
    }
    samples: dict[str, list[tuple]] = {name: [] for name in kinds}
    for name, call in kinds.items():  # warm up: statement caches, pages in memory
        _timed(database, call)
    for _ in range(runs):
        for name, call in kinds.items():
            samples[name].append(_timed(database, call))
    return samples


def _stored(database: Database) -> dict:
    """What an already loaded store holds (``--store``: time the queries again without loading)."""
    from services.reporting.models import event_log, units
    with database.session() as session:
        return {"events": session.execute(select(func.count()).select_from(event_log)).scalar_one(),
                "values": session.execute(select(func.count()).select_from(values)).scalar_one(),
                "laos": session.execute(select(func.count()).select_from(units).where(units.c.level == "lao")).scalar_one(),
                "provinces": sorted(session.execute(select(units.c.code).where(
                    units.c.level == "provincial_office")).scalars()),
                "load_s": None, "load_cpu_s": None, "load_values_per_s": None}


def measure(db: str = "sqlite", scale: float = 1.0, runs: int = 40, log=print, *, keep: Path | None = None,
            store: str | None = None) -> dict:
    """Load a year at ``scale`` and time the dashboard queries; the figures of the final JSON line."""
    if store:
        database = Database(store)
        try:
            loaded = _stored(database)
            samples = run_queries(database, loaded["provinces"], runs)
        finally:
            database.dispose()
        db = database.engine.dialect.name.replace("postgresql", "postgres")
    else:
        with fresh_store(db, keep) as database:
            log(f"loading a year of data at scale {scale:g} into {db} ...")
            loaded = load(database, scale, log=log)
            samples = run_queries(database, loaded["provinces"], runs)
    national = [wall for name, values_ in samples.items() if name.startswith("national") for wall, _ in values_]
    province = [wall for name, values_ in samples.items() if name.startswith("province") for wall, _ in values_]
    cpu = [used for values_ in samples.values() for _, used in values_]
    figures = {
        "db": db, "scale": None if store else scale, "dashboard_values": loaded["values"], "dashboard_events": loaded["events"],
        "dashboard_laos": loaded["laos"], "dashboard_load_s": loaded["load_s"],
        "dashboard_load_cpu_s": loaded["load_cpu_s"],
        "dashboard_load_values_per_s": loaded["load_values_per_s"],
        "dashboard_p95_ms": _percentile(national + province, 0.95),
        "dashboard_national_p95_ms": _percentile(national, 0.95),
        "dashboard_province_p95_ms": _percentile(province, 0.95),
        "dashboard_cpu_p95_ms": _percentile(cpu, 0.95),
        "dashboard_runs": runs,
        "dashboard_queries": {name: {"p50_ms": _percentile([w for w, _ in values_], 0.5),
                                     "p95_ms": _percentile([w for w, _ in values_], 0.95),
                                     "max_ms": round(max(w for w, _ in values_), 1),
                                     "cpu_p95_ms": _percentile([c for _, c in values_], 0.95)}
                              for name, values_ in samples.items()},
    }
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--scale", type=float, default=1.0, help="share of the registry's LAOs")
    parser.add_argument("--runs", type=int, default=40, help="runs of each query")
    parser.add_argument("--keep", type=Path, help="keep the loaded SQLite store in this directory")
    parser.add_argument("--store", help="time the queries on an already loaded store (a database URL)")
    args = parser.parse_args(argv)
    figures = measure(args.db, args.scale, args.runs, keep=args.keep, store=args.store)
    rows = [(f"{name} p50 / p95 (cpu p95)", f"{q['p50_ms']:.0f} / {q['p95_ms']:.0f} ms ({q['cpu_p95_ms']:.0f})",
             f"(target p95 <= {TARGET_P95_MS:.0f} ms)") for name, q in figures["dashboard_queries"].items()]
    rows += [("national p95", f"{figures['dashboard_national_p95_ms']:.0f} ms", f"<= {TARGET_P95_MS:.0f} ms"),
             ("provincial p95", f"{figures['dashboard_province_p95_ms']:.0f} ms", f"<= {TARGET_P95_MS:.0f} ms"),
             ("values in the store", f"{figures['dashboard_values']:,}", "~2.8 M at scale 1"),
             ("load (events -> read models)",
              "-" if figures["dashboard_load_s"] is None else f"{figures['dashboard_load_s']:.0f} s",
              f"{figures['dashboard_events']:,} events, {figures['dashboard_load_values_per_s'] or '-'} values/s, "
              f"CPU {figures['dashboard_load_cpu_s'] if figures['dashboard_load_cpu_s'] is not None else '-'} s")]
    where = f"{figures['db']}, " + ("a kept store" if args.store else f"scale {args.scale:g}")
    report(f"Dashboard queries over a year of data ({where}) — {machine()}", rows, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
