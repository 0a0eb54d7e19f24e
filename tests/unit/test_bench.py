"""The benchmark's own pieces that can be wrong without a platform: the registry at a scale, the
plan and values it submits, and the results file it keeps per database."""
from __future__ import annotations

import json
import random

import pytest

from bench import national_cycle, run
from bench.common import registry_at_scale
from services.plans.development_plans import reading


def _laos(rows):
    return [row for row in rows if row["level"] == "lao" and row["parent_code"] != "MOI"]


@pytest.mark.parametrize("scale", [0.05, 0.5, 1.0, 1.0667])
def test_registry_at_scale_keeps_every_office_and_scales_the_laos(scale):
    full, rows = registry_at_scale(1.0), registry_at_scale(scale)
    codes = [row["code"] for row in rows]
    assert len(codes) == len(set(codes))
    # every province keeps at least one LAO: the count is the scale's share, give or take a province each
    assert abs(len(_laos(rows)) - len(_laos(full)) * scale) <= 76
    lao_codes = {row["code"] for row in _laos(full)}
    offices = {row["code"] for row in full if row["code"] not in lao_codes}
    assert offices <= set(codes)
    known = set(codes)
    assert all(row["parent_code"] in known for row in rows if row.get("parent_code"))


def test_a_small_scale_still_reaches_every_province():
    provinces = {row["province_code"] for row in _laos(registry_at_scale(1.0))}
    assert {row["province_code"] for row in _laos(registry_at_scale(0.05))} == provinces


def test_the_bench_plan_is_a_valid_plan_with_30_indicators_and_targets():
    plan = reading.read_plan(national_cycle.plan_document([2569, 2570]))
    document = plan.document if hasattr(plan, "document") else plan
    dumped = json.dumps(document.model_dump(mode="json") if hasattr(document, "model_dump") else str(document))
    assert all(code in dumped for code in national_cycle.TARGETS)
    assert len(national_cycle.TARGETS) == national_cycle.INDICATORS == 30


def test_every_value_below_its_target_carries_a_note():
    rng = random.Random(1)
    for lao_type in ("sao", "city_municipality"):
        for _ in range(50):
            for item in national_cycle._values(rng, {"lao_type": lao_type}):
                target = national_cycle.TARGETS[item["indicator_code"]]
                if item["indicator_code"] == "KPI-02" and lao_type == "sao":
                    target = national_cycle.SAO_TARGET
                assert ("note" in item) == (item["value"] < target)


def _figures(db: str, **override) -> dict:
    figures = {
        "db": db, "scale": 0.1, "laos": 736, "directive_fanout_s": 2.0, "cycle_dashboard_s": 150.0,
        "p95_latency_s": 4.0, "sweep_s": 1.0, "reminder_fanout_s": 70.0, "dashboard_p95_ms": None,
        "max_rss_mb": 180.0, "values": 20000, "late_laos": 50, "missing_laos": 20, "cycle_values_per_s": 5000.0,
        "clients": 8, "p50_latency_s": 1.0, "p99_latency_s": 6.0, "batch_latency_p95_s": 3.0,
        "platform_events_per_s": 300.0, "cycle_messages_consumed": 1400, "cycle_consumers_drained_s": 5.0,
        "raw_broker_msgs_per_s": 1000.0, "raw_broker_publish_msgs_per_s": 1500.0,
        "raw_broker_consume_msgs_per_s": 1200.0, "raw_broker_msg_bytes": 2200, "ratio_to_broker": 0.3,
        "values_ratio_to_broker": 5.0}
    return {**figures, **override}


META = {"finished": "2026-11-22 02:30 UTC", "wall_s": 600, "load_before": "1 / 1 / 1",
        "load_after": "2 / 2 / 2", "machine": ["vm: 2 cores"]}


def test_verdicts_mark_each_target_met_missed_or_not_measured():
    verdicts = {name: verdict for name, _, _, verdict in run.verdicts(_figures("sqlite"))}
    assert verdicts["directive fan-out (all assignments queued)"] == "met"
    assert verdicts["cycle: dashboard shows every value"] == "MISSED"
    assert verdicts["reminder fan-out through SMTP"] == "MISSED"
    assert verdicts["dashboard queries p95"] == "not measured"


def test_results_keep_the_other_databases_section(tmp_path):
    path = tmp_path / "RESULTS.md"
    run.write_results(path, _figures("postgres", sweep_s=4.26), META)
    run.write_results(path, _figures("sqlite"), META)
    run.write_results(path, _figures("sqlite", sweep_s=2.5), META)
    text = path.read_text("utf-8")
    assert "## Before / after" in text and "| deadline sweep | 4.26 s | <= 10 s | met |" in text
    assert "| deadline sweep | 2.5 s | <= 10 s | met |" in text
    assert "| deadline sweep | 1 s |" not in text  # the first sqlite run was replaced
    assert text.count("<!-- bench:sqlite -->") == 1 and text.count("<!-- bench:postgres -->") == 1
