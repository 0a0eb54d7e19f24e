"""Benchmark step: a national LPA round through the HTTP API (issue #19), on the platform `make bench`
has already loaded with the national registry.

  1. central imports the 2569 demo framework and opens the round for every LAO: measured until every
     LAO's self-assessment obligation exists in assessments (target <= 30 s);
  2. every provincial office forms its teams (at most 50 LAOs a team, a community leader in each),
     then keys in its scoring sheet (every LAO × every applicable indicator, finalised): the largest
     province's sheet is the figure (target <= 10 s), with the median;
  3. central publishes: measured until reporting shows every LAO ranked (target <= 60 s);
  4. the public results (no login): a province's page of results, the national summary, the light
     page, 300 requests: p95 (target <= 200 ms).
Memory is sampled by the caller (``bench.run``) around the whole step.
"""
from __future__ import annotations

import random
import time
from datetime import datetime, timedelta
from pathlib import Path

import requests
import yaml
from sqlalchemy import create_engine, text

from bench.common import wait_queues_empty
from bench.national_cycle import percentile, wait_for
from services.assessments.lpa import domain
from shared.config import REPO_ROOT
from shared.contracts.lpa_framework import LpaFramework
from shared.thai import BANGKOK

YEAR = 2569
FRAMEWORK = REPO_ROOT / "data" / "lpa" / f"framework-{YEAR}.yaml"
TEAM_SIZE = 50


def _scalar(url: str, sql: str, **params) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        value = connection.execute(text(sql), params).scalar_one()
    engine.dispose()
    return value


def _laos_by_province(url: str) -> dict[str, list[tuple[str, str]]]:
    """Province office → [(LAO code, LAO type)] from assessments' round (as the round placed them)."""
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT province_code, unit_code, lao_type FROM lpa_assessments")).all()
    engine.dispose()
    found: dict[str, list] = {}
    for province, code, lao_type in rows:
        found.setdefault(province, []).append((code, lao_type))
    return found


def _session(stack, token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def measure(stack, node, central: requests.Session, tokens: dict[str, str], expected: int) -> dict:
    base = stack.gateway_url
    document = yaml.safe_load(Path(FRAMEWORK).read_text(encoding="utf-8"))
    framework = LpaFramework.model_validate(document)
    central.post(f"{base}/api/v1/lpa/frameworks", json=document, timeout=60).raise_for_status()
    today = datetime.now(BANGKOK).date()
    opened_at = time.monotonic()
    response = central.post(f"{base}/api/v1/lpa/rounds", timeout=300, json={
        "year_be": YEAR, "self_due_at": (datetime.now(BANGKOK) + timedelta(days=14)).isoformat(),
        "visit_from": today.isoformat(), "visit_to": today.isoformat(), "publish_on": today.isoformat()})
    response.raise_for_status()
    assessments_db = stack.database_urls["assessments"]
    wait_for(lambda: _scalar(assessments_db, "SELECT count(*) FROM obligations WHERE indicator_code = :code",
                             code=f"LPA-{YEAR}") >= expected, 300, "LPA obligations")
    figures = {"lpa_laos": response.json()["units"], "lpa_open_s": round(time.monotonic() - opened_at, 2)}
    wait_queues_empty(node, stack)

    by_province = _laos_by_province(assessments_db)
    offices = {f"PLO-{int(province):02d}": token for province, token in tokens.items()}
    offices[None] = None    # an LAO outside every province (Bangkok): central forms its team and keys its sheet
    scales: dict[str | None, list[tuple[str, list[float]]]] = {}
    sheet_seconds = []
    rng = random.Random(YEAR)
    for province, laos in sorted(by_province.items(), key=lambda item: item[0] or ""):
        if province not in offices:
            raise RuntimeError(f"no bench user for {province}")
        office = _session(stack, offices[province]) if province else central
        lead = province or "DLA"
        codes = [code for code, _ in laos]
        for start in range(0, len(codes), TEAM_SIZE):
            office.post(f"{base}/api/v1/lpa/rounds/{YEAR}/teams", timeout=120, json={
                "unit_codes": codes[start:start + TEAM_SIZE], "visit_on": today.isoformat(), "finalise": True,
                "members": [{"person": f"{lead}-lead", "role": "lead", "unit_code": lead},
                            {"person": f"{lead}-m1", "role": "member", "unit_code": lead},
                            {"person": f"{lead}-m2", "role": "member", "unit_code": lead},
                            {"person": f"ผู้นำชุมชน {lead}-{start}", "role": "community_leader"}]}
            ).raise_for_status()
        rows = []
        for code, lao_type in laos:
            if lao_type not in scales:   # each indicator's levels, lowest first
                scales[lao_type] = [(indicator.code, sorted(level.points for level in indicator.levels))
                                    for _, indicator in domain.applicable(framework, lao_type)]
            level = rng.choice([2, 3, 3, 4, 4, 4])          # most LAOs pass, some do not
            rows += [{"unit_code": code, "indicator_code": indicator, "points": points[min(level, len(points) - 1)]}
                     for indicator, points in scales[lao_type]]
        mark = time.monotonic()
        answer = office.post(f"{base}/api/v1/lpa/rounds/{YEAR}/score-sheets", timeout=300,
                             json={"rows": rows, "finalise": True})
        answer.raise_for_status()
        sheet_seconds.append(time.monotonic() - mark)
    figures.update(lpa_sheet_max_s=round(max(sheet_seconds), 2),
                   lpa_sheet_median_s=round(sorted(sheet_seconds)[len(sheet_seconds) // 2], 2),
                   lpa_sheets=len(sheet_seconds))
    wait_queues_empty(node, stack)

    mark = time.monotonic()
    central.post(f"{base}/api/v1/lpa/rounds/{YEAR}/publish", timeout=600).raise_for_status()
    reporting_db = stack.database_urls["reporting"]
    wait_for(lambda: _scalar(reporting_db, "SELECT count(*) FROM rm_lpa_results WHERE year_be = :year "
                                           "AND rank_province IS NOT NULL", year=YEAR) >= expected,
             600, "LPA results ranked in reporting")
    figures["lpa_publish_s"] = round(time.monotonic() - mark, 2)
    wait_queues_empty(node, stack)

    provinces = sorted(code for code in by_province if code)
    anonymous = requests.Session()
    timings = []
    for index in range(300):
        kind = index % 3
        if kind == 0:
            url = f"{base}/api/v1/public/lpa/{YEAR}/results?province_code={provinces[index % len(provinces)]}&limit=100"
        elif kind == 1:
            url = f"{base}/api/v1/public/lpa/{YEAR}/summary"
        else:
            url = f"{base}/public/lpa/{YEAR}"
        mark = time.perf_counter()
        anonymous.get(url, timeout=30).raise_for_status()
        timings.append((time.perf_counter() - mark) * 1000)
    figures.update(lpa_public_p95_ms=round(percentile(timings, 0.95), 1),
                   lpa_public_p50_ms=round(percentile(timings, 0.5), 1), lpa_public_max_ms=round(max(timings), 1))
    return figures


def rows(figures: dict) -> list[tuple[str, str, str]]:
    return [("LPA: LAOs in the national round", f"{figures['lpa_laos']:,}", ""),
            ("LPA: scoring sheets (median)", f"{figures['lpa_sheet_median_s']} s",
             f"{figures['lpa_sheets']} provinces, every LAO x every applicable indicator"),
            ("LPA: public pages p50 / max", f"{figures['lpa_public_p50_ms']} / {figures['lpa_public_max_ms']} ms",
             "results of a province, the national summary, the page; 300 requests without login")]
