"""Tables of the reporting service: the events it consumed, and read models built from them."""
from __future__ import annotations

from sqlalchemy import Column, Computed, Date, Float, Index, Integer, MetaData, String, Table, Text

from shared.types import UTCDateTime

metadata = MetaData()

# Every event consumed, kept so that read models can be rebuilt from scratch.
event_log = Table(
    "event_log", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(36), nullable=False, unique=True),
    Column("event_type", String(120), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("correlation_id", String(64), nullable=False),
    Column("envelope", Text, nullable=False),
)

directive_summary = Table(
    "rm_directives", metadata,
    Column("directive_id", String(36), primary_key=True),
    Column("document_number", String(120), nullable=False),
    Column("title_th", Text, nullable=False),
    Column("issued_at", UTCDateTime(), nullable=False),
    Column("addressee_count", Integer, nullable=False),
)

# One row per (directive, unit): where that addressee stands.
directive_units = Table(
    "rm_directive_units", metadata,
    Column("directive_id", String(36), primary_key=True),
    Column("unit_code", String(32), primary_key=True),
    Column("assignment_id", String(36), nullable=True),
    Column("assigned_at", UTCDateTime(), nullable=True),
    Column("acknowledged_at", UTCDateTime(), nullable=True),
    Column("obligation_id", String(36), nullable=True),
    Column("due_at", UTCDateTime(), nullable=True),
    # pending | on_time | late | missed
    Column("report_status", String(16), nullable=False, server_default="pending"),
    Column("submitted_at", UTCDateTime(), nullable=True),
    Column("missed_at", UTCDateTime(), nullable=True),
    Column("reminders_sent", Integer, nullable=False, server_default="0"),
    Column("escalations_sent", Integer, nullable=False, server_default="0"),
)
Index("ix_rm_directive_units_obligation", directive_units.c.obligation_id)

# Columns added to the cascade read model (0002): the tree of assignments and forwarding.
directive_units.append_column(Column("parent_assignment_id", String(36), nullable=True))
directive_units.append_column(Column("forwarded_at", UTCDateTime(), nullable=True))
directive_units.append_column(Column("state", String(24), nullable=True))
directive_units.append_column(Column("state_at", UTCDateTime(), nullable=True))
# When the addressee received it: marked received or acknowledged, the earlier (0006).
directive_units.append_column(Column("received_at", UTCDateTime(), nullable=True))

# --- read models of issue #7 (0002_read_models) ------------------------------------------------------

def _unit_attributes() -> list[Column]:
    """What a unit is, as the rollups read it: the same columns in ``rm_units`` and ``rm_unit_versions``."""
    return [
        Column("level", String(32), nullable=False),
        Column("lao_type", String(32), nullable=True),
        Column("parent_code", String(32), nullable=True),
        Column("name_th", Text, nullable=False),
        Column("province_code", String(16), nullable=True),
        Column("district_code", String(16), nullable=True),
        Column("province_unit", String(32), nullable=True),
        Column("district_unit", String(32), nullable=True),
    ]


# The registry as reporting sees it (from org_unit_changed). ``province_unit`` and ``district_unit``
# are the unit's ancestors at the provincial and district office levels (or the unit itself when it
# hangs directly below a higher level, e.g. a PAO below its PLO): the keys every rollup groups by.
units = Table(
    "rm_units", metadata,
    Column("code", String(32), primary_key=True),
    *_unit_attributes(),
    Column("valid_from", Date, nullable=True),
    Column("valid_to", Date, nullable=True),
    Column("changed_at", UTCDateTime(), nullable=False),  # occurred_at of the newest event applied
)
Index("ix_rm_units_parent", units.c.parent_code)
Index("ix_rm_units_province", units.c.province_unit)
Index("ix_rm_units_district", units.c.district_unit)

# Every version of every unit (issue #16, 0007): one row per (code, valid_from), the event with the
# highest revision of that key (on a tie, the later occurred_at). ``rm_units`` above is each code's
# latest version (names and the tree of the dashboards' nodes); counts use the version a period
# counts the unit under (shared.unit_versions.version_for_period), carried to every obligation,
# value and yearly aggregate row by the projection.
unit_versions = Table(
    "rm_unit_versions", metadata,
    Column("code", String(32), primary_key=True),
    Column("valid_from", Date, primary_key=True),
    Column("valid_to", Date, nullable=True),
    Column("revision", Integer, nullable=False, server_default="0"),
    *_unit_attributes(),
    Column("change_kind", String(16), nullable=True),
    Column("successor_codes", Text, nullable=True),   # space-separated codes (a merger or split ending it)
    Column("forced", Integer, nullable=False, server_default="0"),
    Column("changed_at", UTCDateTime(), nullable=False),  # occurred_at of the event kept
    # 1: plans removed this version (no event says so; shared.unit_versions.superseded infers it): counted nowhere
    Column("superseded", Integer, nullable=False, server_default="0"),
)
Index("ix_rm_unit_versions_parent", unit_versions.c.parent_code)

STATUS_SQL = (
    "CASE WHEN cancelled = 1 THEN 'cancelled' "
    "WHEN returned_at IS NOT NULL AND (last_submitted_at IS NULL OR returned_at >= last_submitted_at) "
    "THEN 'returned' "
    "WHEN last_submitted_at IS NOT NULL AND (missed_at IS NULL OR last_submitted_at >= missed_at) "
    "THEN (CASE WHEN last_on_time = 1 THEN 'on_time' ELSE 'late' END) "
    "WHEN missed_at IS NOT NULL AND (extended_due_at IS NULL OR missed_due_at >= extended_due_at) THEN 'missing' "
    "WHEN last_submitted_at IS NOT NULL THEN (CASE WHEN last_on_time = 1 THEN 'on_time' ELSE 'late' END) "
    "ELSE 'pending' END")

# One row per obligation: where it stands (facts from every event about it, and the status they give).
obligations = Table(
    "rm_obligations", metadata,
    Column("obligation_id", String(36), primary_key=True),
    Column("unit_code", String(32), nullable=False),
    Column("province_unit", String(32), nullable=True),
    Column("district_unit", String(32), nullable=True),
    Column("lao_type", String(32), nullable=True),
    Column("rule_id", String(36), nullable=True),
    Column("directive_id", String(36), nullable=True),
    Column("indicator_code", String(64), nullable=True),
    Column("indicator_name_th", Text, nullable=True),
    Column("period", String(32), nullable=True),
    Column("due_at", UTCDateTime(), nullable=True),
    Column("extended_due_at", UTCDateTime(), nullable=True),   # the latest extension granted
    Column("missed_at", UTCDateTime(), nullable=True),         # the latest deadline_missed
    Column("missed_due_at", UTCDateTime(), nullable=True),     # the deadline that miss was about
    Column("first_submitted_at", UTCDateTime(), nullable=True),
    Column("last_on_time", Integer, nullable=True),            # 1/0: was the latest submission on time
    Column("last_submitted_at", UTCDateTime(), nullable=True),
    Column("submissions", Integer, nullable=False, server_default="0"),
    Column("extended", Integer, nullable=False, server_default="0"),
    Column("returned", Integer, nullable=False, server_default="0"),   # 1: returned at least once
    Column("cancelled", Integer, nullable=False, server_default="0"),
    Column("returned_at", UTCDateTime(), nullable=True),       # the latest return for correction (0005)
    # on_time | late | missing | pending | returned | cancelled: computed by the database from the facts above on
    # every write (domain.obligation_status is the same rule in Python), so no event needs a second
    # statement to refresh it, whatever order the facts arrive in.
    Column("status", String(12), Computed(STATUS_SQL, persisted=True), nullable=False),
)
# Covering indexes of the dashboard aggregates (nation by province, province by district, unit).
Index("ix_rm_obligations_period_province", obligations.c.period, obligations.c.province_unit,
      obligations.c.status, obligations.c.extended, obligations.c.returned, obligations.c.lao_type,
      obligations.c.rule_id)
Index("ix_rm_obligations_province_period", obligations.c.province_unit, obligations.c.period,
      obligations.c.district_unit, obligations.c.status, obligations.c.extended, obligations.c.returned,
      obligations.c.lao_type, obligations.c.rule_id)
Index("ix_rm_obligations_district_period", obligations.c.district_unit, obligations.c.period,
      obligations.c.unit_code, obligations.c.status)
Index("ix_rm_obligations_unit_period", obligations.c.unit_code, obligations.c.period)
Index("ix_rm_obligations_status_due", obligations.c.status, obligations.c.due_at)
# The whole year's national counts in GROUP BY order (0004).
Index("ix_rm_obligations_status_rollup", obligations.c.status, obligations.c.province_unit, obligations.c.lao_type,
      obligations.c.extended, obligations.c.returned)

periods = Table(
    "rm_periods", metadata,
    Column("period", String(32), primary_key=True),
    Column("fiscal_year_be", Integer, nullable=True),
)

indicators = Table(
    "rm_indicators", metadata,
    Column("code", String(64), primary_key=True),
    Column("name_th", Text, nullable=False),
    Column("unit_of_measure", String(64), nullable=True),
    Column("value_type", String(16), nullable=True),
    Column("direction", String(16), nullable=True),
)

# Yearly targets; scope is a unit code, a group such as "level:lao" / "lao_type:sao", or "*".
targets = Table(
    "rm_targets", metadata,
    Column("indicator_code", String(64), primary_key=True),
    Column("fiscal_year_be", Integer, primary_key=True),
    Column("scope", String(64), primary_key=True),
    Column("plan_id", String(64), primary_key=True),
    Column("value", Float, nullable=True),        # None: no target that year (not zero)
    Column("set_at", UTCDateTime(), nullable=False),
)

# The latest value reported per unit, indicator and period (a resubmission replaces it), with the
# unit's rollup keys so a trend is read from one covering index at every level.
values = Table(
    "rm_values", metadata,
    Column("unit_code", String(32), primary_key=True),
    Column("indicator_code", String(64), primary_key=True),
    Column("period", String(32), primary_key=True),
    Column("fiscal_year_be", Integer, nullable=True),
    Column("province_unit", String(32), nullable=True),
    Column("district_unit", String(32), nullable=True),
    Column("value", Float, nullable=False),
    Column("submitted_at", UTCDateTime(), nullable=False),
)
Index("ix_rm_values_trend", values.c.indicator_code, values.c.fiscal_year_be, values.c.province_unit,
      values.c.district_unit, values.c.period, values.c.value)

# Pre-aggregated per unit, indicator and fiscal year: what achievement needs without the values,
# with the unit's keys (the national dashboard classifies every LAO from this index alone).
achievement = Table(
    "rm_achievement", metadata,
    Column("indicator_code", String(64), primary_key=True),
    Column("fiscal_year_be", Integer, primary_key=True),
    Column("unit_code", String(32), primary_key=True),
    Column("province_unit", String(32), nullable=True),
    Column("district_unit", String(32), nullable=True),
    Column("level", String(32), nullable=True),
    Column("lao_type", String(32), nullable=True),
    Column("latest_period", String(32), nullable=False),
    Column("latest_value", Float, nullable=False),
    Column("sum_value", Float, nullable=False),     # sum of the latest value of every period
    Column("periods", Integer, nullable=False),     # periods with a value
)
Index("ix_rm_achievement_rollup", achievement.c.indicator_code, achievement.c.fiscal_year_be,
      achievement.c.province_unit, achievement.c.district_unit, achievement.c.unit_code, achievement.c.level,
      achievement.c.lao_type, achievement.c.latest_value, achievement.c.sum_value)

# Every notification delivery (from notification_sent / notification_failed).
deliveries = Table(
    "rm_deliveries", metadata,
    Column("delivery_id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("channel", String(8), nullable=False),
    # as wide as notifications' own columns: a subject may be a digest group key, a step
    # 'review:<submission id>', a recipient 'user:<username>'
    Column("step", String(60), nullable=False),
    Column("recipient_code", String(80), nullable=False),
    Column("subject_ref", String(160), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("late", Integer, nullable=False, server_default="0"),
    Column("failed_at", UTCDateTime(), nullable=True),
    Column("failed_final", Integer, nullable=False, server_default="0"),
)
Index("ix_rm_deliveries_subject", deliveries.c.subject_ref)

# --- the Local Performance Assessment (issue #19, 0008_lpa) -------------------------------------------
# From the assessments.lpa_* events (projection.lpa). One row per round (one round per BE year).
lpa_rounds = Table(
    "rm_lpa_rounds", metadata,
    Column("year_be", Integer, primary_key=True),
    Column("round_id", String(36), nullable=False),
    Column("name_th", Text, nullable=True),
    Column("scope_code", String(32), nullable=True),
    Column("units", Integer, nullable=True),                # LAOs in the round (round opened)
    Column("self_due_at", UTCDateTime(), nullable=True),
    Column("visit_from", Date, nullable=True),
    Column("visit_to", Date, nullable=True),
    Column("publish_on", Date, nullable=True),              # public from this day (Bangkok)
    Column("opened_at", UTCDateTime(), nullable=True),
    Column("published_at", UTCDateTime(), nullable=True),
    Column("assessed", Integer, nullable=True),             # as published (the live counts come from rm_lpa_results)
    Column("passed", Integer, nullable=True),
)

# One row per LAO assessment (one per year and LAO), created by whichever of its events arrives first.
# Each fact keeps the event with the latest time of its kind (self-assessment, finalisation, return);
# a result counts while it is finalised and not returned since (views_lpa.COUNTED). Ranks are set
# from shared.ranking once the round is published (and again whenever a counted result changes).
lpa_results = Table(
    "rm_lpa_results", metadata,
    Column("assessment_id", String(36), primary_key=True),
    Column("round_id", String(36), nullable=True),
    Column("year_be", Integer, nullable=True),              # unknown while only a return arrived
    Column("unit_code", String(32), nullable=False),
    Column("lao_type", String(32), nullable=True),
    Column("province_code", String(32), nullable=True),     # the provincial office's unit code
    Column("district_code", String(32), nullable=True),     # the district office's unit code
    Column("points", Float, nullable=True),
    Column("max_points", Float, nullable=True),
    Column("pass_value", Float, nullable=True),             # the percent the pass rule compares
    Column("passed", Integer, nullable=True),
    Column("areas", Text, nullable=True),                   # JSON [{code, name_th, points, max_points, percent}]
    Column("finalised_at", UTCDateTime(), nullable=True),   # the latest finalisation
    Column("returned_at", UTCDateTime(), nullable=True),    # the latest return for correction
    Column("return_reason", Text, nullable=True),
    Column("self_submitted_at", UTCDateTime(), nullable=True),  # the latest self-assessment submission
    Column("self_on_time", Integer, nullable=True),
    Column("claimed_percent", Float, nullable=True),
    Column("evidence", Integer, nullable=True),
    Column("rank_province", Integer, nullable=True),
    Column("rank_lao_type", Integer, nullable=True),
)
Index("ix_rm_lpa_results_province", lpa_results.c.year_be, lpa_results.c.province_code, lpa_results.c.district_code)
Index("ix_rm_lpa_results_type", lpa_results.c.year_be, lpa_results.c.lao_type)
Index("ix_rm_lpa_results_rank", lpa_results.c.year_be, lpa_results.c.pass_value, lpa_results.c.unit_code)
Index("ix_rm_lpa_results_unit", lpa_results.c.unit_code, lpa_results.c.year_be)

# The areas of each assessment's latest finalisation (the rows of rm_lpa_results.areas), so that the
# summaries add up area means in SQL; rewritten from the stored JSON whenever a finalisation lands.
lpa_areas = Table(
    "rm_lpa_areas", metadata,
    Column("assessment_id", String(36), primary_key=True),
    Column("area_code", String(32), primary_key=True),
    Column("name_th", Text, nullable=False),
    Column("points", Float, nullable=False),
    Column("max_points", Float, nullable=False),
    Column("percent", Float, nullable=False),
)

# One row per follow-up of a weak area (opened at publication, closed when the plan is carried out).
lpa_follow_ups = Table(
    "rm_lpa_follow_ups", metadata,
    Column("follow_up_id", String(36), primary_key=True),
    Column("assessment_id", String(36), nullable=True),     # unknown while only the closing arrived
    Column("year_be", Integer, nullable=True),
    Column("unit_code", String(32), nullable=False),
    Column("area_code", String(32), nullable=True),
    Column("area_name_th", Text, nullable=True),
    Column("percent", Float, nullable=True),
    Column("threshold", Float, nullable=True),
    Column("due_at", UTCDateTime(), nullable=True),
    Column("opened_at", UTCDateTime(), nullable=True),
    Column("closed_at", UTCDateTime(), nullable=True),
)
Index("ix_rm_lpa_follow_ups_assessment", lpa_follow_ups.c.assessment_id)
Index("ix_rm_lpa_follow_ups_year", lpa_follow_ups.c.year_be, lpa_follow_ups.c.unit_code)
