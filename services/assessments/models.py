"""Tables of the assessments service (its own database)."""
from __future__ import annotations

from sqlalchemy import (Boolean, Column, Date, Float, ForeignKey, Index, Integer, MetaData, String, Table,
                        Text, UniqueConstraint, text)

from shared.types import UTCDateTime

metadata = MetaData()

# This service's own copy of the registry (from org_unit_changed): every version of every unit,
# keyed (code, valid_from), each the highest revision received (events come in any order or
# twice). Who supervises whom, which units existed during a period (shared.unit_versions), and
# who took over from a unit that closed (successor_codes of its last version, predecessor_codes
# of the successor's).
org_units = Table(
    "org_units", metadata,
    Column("code", String(32), primary_key=True),
    Column("valid_from", Date, primary_key=True),
    Column("level", String(32), nullable=False),
    Column("lao_type", String(32), nullable=True),
    Column("parent_code", String(32), nullable=True),
    Column("valid_to", Date, nullable=True),
    Column("revision", Integer, nullable=False, server_default="0"),
    Column("change_kind", String(16), nullable=False, server_default="updated"),
    Column("predecessor_codes", Text, nullable=False, server_default="[]"),   # JSON list
    Column("successor_codes", Text, nullable=False, server_default="[]"),     # JSON list
)
Index("ix_org_units_parent", org_units.c.parent_code)

# What a reported value must look like (from reporting rules and plans).
indicators = Table(
    "indicators", metadata,
    Column("code", String(64), primary_key=True),
    Column("name_th", Text, nullable=False),
    Column("unit_of_measure", String(64), nullable=True),
    Column("value_type", String(16), nullable=False),
    Column("direction", String(16), nullable=False),
    Column("minimum", Float, nullable=True),
    Column("maximum", Float, nullable=True),
)

# Yearly targets; scope is a unit code, a group such as "level:lao", or "*" (everyone).
targets = Table(
    "targets", metadata,
    Column("indicator_code", String(64), primary_key=True),
    Column("fiscal_year_be", Integer, primary_key=True),
    Column("scope", String(64), primary_key=True),
    Column("value", Float, nullable=True),        # None: no target that year (not zero)
    Column("plan_id", String(64), nullable=True),
    Column("provenance", Text, nullable=True),
)

rules = Table(
    "rules", metadata,
    Column("id", String(36), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("directive_id", String(36), nullable=True),
    Column("indicator_codes", Text, nullable=False),   # JSON list
    Column("unit_codes", Text, nullable=False),        # JSON list
    Column("rrule", String(255), nullable=True),
    Column("dtstart", UTCDateTime(), nullable=True),
    Column("until", UTCDateTime(), nullable=True),
    Column("due_at", UTCDateTime(), nullable=True),
    Column("due_time_local", String(5), nullable=False),
    Column("window_opens_before", String(16), nullable=False),
    Column("holiday_rule", String(24), nullable=False),
    Column("fiscal_year_be", Integer, nullable=True),         # only the periods of this fiscal year
    Column("published_at", UTCDateTime(), nullable=False),
    Column("generated_until", UTCDateTime(), nullable=True),  # obligations exist for dues up to here
    Column("correlation_id", String(64), nullable=False),
)

obligations = Table(
    "obligations", metadata,
    Column("id", String(36), primary_key=True),
    Column("unit_code", String(32), nullable=False),
    # rule:<id> or assignment:<id>:<indicator> — one obligation per unit, source and period
    Column("source_key", String(140), nullable=False),
    Column("rule_id", String(36), nullable=True),
    Column("directive_id", String(36), nullable=True),
    Column("assignment_id", String(36), nullable=True),
    Column("indicator_code", String(64), nullable=False),    # names the obligation
    Column("indicator_name_th", Text, nullable=False),
    Column("indicator_codes", Text, nullable=False),         # JSON list: every indicator to report
    Column("period", String(32), nullable=False),
    Column("period_start", Date, nullable=True),
    Column("period_end", Date, nullable=True),
    Column("opens_at", UTCDateTime(), nullable=True),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("extended_due_at", UTCDateTime(), nullable=True),
    Column("closes_at", UTCDateTime(), nullable=True),
    # open -> submitted -> accepted | returned -> submitted ...; open -> missed -> submitted
    # (a returned report is never missed: it awaits its resubmission by resubmit_due_at)
    Column("state", String(16), nullable=False),
    # why a cancelled obligation is no longer expected, said to the people (Thai and English), and
    # the cause as a word: rule_changed | unit_closed (an obligation cancelled because its unit
    # closed is opened again if a version of the unit later covers its period)
    Column("cancel_reason", Text, nullable=True),
    Column("cancel_cause", String(16), nullable=True),
    Column("missed_at", UTCDateTime(), nullable=True),
    Column("resubmit_due_at", UTCDateTime(), nullable=True),
    Column("correlation_id", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("unit_code", "source_key", "period", name="uq_obligations_unit_source_period"),
)
# The deadline sweep reads open obligations by due time.
Index("ix_obligations_state_due", obligations.c.state, obligations.c.due_at)
Index("ix_obligations_directive", obligations.c.directive_id)
Index("ix_obligations_rule", obligations.c.rule_id)
Index("ix_obligations_unit_period", obligations.c.unit_code, obligations.c.period)
# Never two obligations for the same unit, indicator and period (from two sources, or two spellings
# of one period before labels were made canonical); a cancelled one does not count.
Index("uq_obligations_unit_indicator_period", obligations.c.unit_code, obligations.c.indicator_code,
      obligations.c.period, unique=True, sqlite_where=text("state <> 'cancelled'"),
      postgresql_where=text("state <> 'cancelled'"))

submissions = Table(
    "submissions", metadata,
    Column("id", String(36), primary_key=True),
    Column("obligation_id", String(36), ForeignKey("obligations.id"), nullable=False),
    Column("unit_code", String(32), nullable=False),
    Column("submitted_by", String(64), nullable=True),
    Column("submitted_for_by_unit", String(32), nullable=True),   # a province submitting for an LAO
    Column("via", String(8), nullable=False),                    # form | batch | file
    Column("submitted_at", UTCDateTime(), nullable=False),
    Column("on_time", Boolean, nullable=False),
    Column("status", String(12), nullable=False),                # pending | accepted | returned | superseded
)
Index("ix_submissions_obligation", submissions.c.obligation_id)

submission_values = Table(
    "submission_values", metadata,
    Column("submission_id", String(36), ForeignKey("submissions.id"), primary_key=True),
    Column("indicator_code", String(64), primary_key=True),
    Column("value", Float, nullable=False),
    Column("note", Text, nullable=True),
    Column("target_missed", Boolean, nullable=False, server_default="0"),
)

reviews = Table(
    "reviews", metadata,
    Column("id", String(36), primary_key=True),
    Column("submission_id", String(36), ForeignKey("submissions.id"), nullable=False),
    Column("reviewer_unit_code", String(32), nullable=False),
    Column("reviewer", String(64), nullable=True),
    Column("decision", String(12), nullable=False),
    Column("comment", Text, nullable=True),
    Column("reviewed_at", UTCDateTime(), nullable=False),
)

extension_requests = Table(
    "extension_requests", metadata,
    Column("id", String(36), primary_key=True),
    Column("obligation_id", String(36), ForeignKey("obligations.id"), nullable=False),
    Column("unit_code", String(32), nullable=False),
    Column("requested_due_at", UTCDateTime(), nullable=False),
    Column("reason", Text, nullable=False),
    Column("requested_by", String(64), nullable=True),
    Column("requested_at", UTCDateTime(), nullable=False),
    Column("status", String(12), nullable=False),                # pending | granted | denied
    Column("decided_by_unit_code", String(32), nullable=True),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("comment", Text, nullable=True),
)
Index("ix_extensions_obligation", extension_requests.c.obligation_id)

# Assignments with an acknowledgement deadline, so the sweep can flag unacknowledged ones.
tracked_assignments = Table(
    "tracked_assignments", metadata,
    Column("assignment_id", String(36), primary_key=True),
    Column("directive_id", String(36), nullable=False),
    Column("unit_code", String(32), nullable=False),
    Column("acknowledge_due_at", UTCDateTime(), nullable=False),
    Column("state", String(16), nullable=False),                 # waiting | acknowledged | closed | overdue
    Column("overdue_at", UTCDateTime(), nullable=True),
    Column("correlation_id", String(64), nullable=False),
)
Index("ix_tracked_assignments_due", tracked_assignments.c.state, tracked_assignments.c.acknowledge_due_at)


# The LPA's tables live beside the module that uses them, on this metadata (migration 0005).
from services.assessments.lpa import models as lpa_models  # noqa: E402,F401
