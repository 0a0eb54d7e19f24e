"""Tables of plans, their tree, indicators, yearly targets and cross-plan links (plans database).

Defined on the plans service's ``metadata`` (services/plans/models.py). One plan = one row of
``plan_plans``; its tree (strategic issues, goals, strategies, indicators and generic elements
such as programmes, projects and tactics) = rows of ``plan_elements`` linked by ``parent_id``;
indicators have a 1:1 extension row in ``plan_indicators``; yearly targets per indicator, scope
(the plan owner, a unit, or a unit group) and fiscal year BE are ``plan_targets``; links from an
element (or the plan) to an element of this or another plan are ``plan_links``. A link's target
is stored by code and resolved when read, so a plan can be imported before the plan it points to.
Free-form provenance (printed forms, notes, source lines, inferred flags) is JSON text.
"""
from __future__ import annotations

from sqlalchemy import (Boolean, Column, Float, ForeignKey, Index, Integer, String, Table, Text,
                        UniqueConstraint)

from services.plans.models import metadata
from shared.types import UTCDateTime

plan_plans = Table(
    "plan_plans", metadata,
    Column("id", String(64), primary_key=True),
    Column("plan_type", String(32), nullable=False),
    Column("owner_code", String(32), nullable=True),
    Column("owner_name_th", Text, nullable=True),
    Column("owner_name_en", Text, nullable=True),
    Column("title_th", Text, nullable=False),
    Column("title_en", Text, nullable=True),
    Column("period_be_start", Integer, nullable=False),
    Column("period_be_end", Integer, nullable=False),
    Column("details", Text, nullable=False),        # JSON: vision, missions, values, attributes, source
    Column("source_name", String(200), nullable=True),
    Column("version", Integer, nullable=False),     # +1 on every import that changes something
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
Index("ix_plan_plans_owner", plan_plans.c.owner_code)

plan_elements = Table(
    "plan_elements", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plan_id", String(64), ForeignKey("plan_plans.id"), nullable=False),
    Column("code", String(64), nullable=False),     # the id in the plan file, e.g. SI3-S1
    Column("kind", String(32), nullable=False),     # strategic_issue, goal, strategy, indicator, programme...
    Column("parent_id", Integer, ForeignKey("plan_elements.id"), nullable=True),
    Column("position", Integer, nullable=False),    # order among siblings of the same list
    Column("title_th", Text, nullable=False),
    Column("title_en", Text, nullable=True),
    Column("attributes", Text, nullable=True),      # JSON
    UniqueConstraint("plan_id", "code", name="uq_plan_elements_plan_code"),
)
Index("ix_plan_elements_parent", plan_elements.c.parent_id)
Index("ix_plan_elements_plan_kind", plan_elements.c.plan_id, plan_elements.c.kind)

plan_indicators = Table(
    "plan_indicators", metadata,
    Column("element_id", Integer, ForeignKey("plan_elements.id"), primary_key=True),
    Column("plan_id", String(64), ForeignKey("plan_plans.id"), nullable=False),
    Column("code", String(64), nullable=False),
    Column("unit", String(32), nullable=True),
    Column("unit_th", String(64), nullable=True),
    Column("value_type", String(16), nullable=False),
    Column("direction", String(16), nullable=True),
    Column("direction_basis", String(16), nullable=True),
    Column("subject", Text, nullable=True),
    Column("targets_status", String(24), nullable=False),
    Column("declared_total", Float, nullable=True),
    Column("declared_total_printed", Text, nullable=True),
    Column("total_semantics", String(16), nullable=True),
    Column("total_semantics_inferred", Boolean, nullable=False),
    Column("flagged", Boolean, nullable=False),     # has anomalies (see flags)
    Column("flags", Text, nullable=True),           # JSON list: code, message_th, message_en, details
    UniqueConstraint("plan_id", "code", name="uq_plan_indicators_plan_code"),
)
Index("ix_plan_indicators_flagged", plan_indicators.c.flagged)

plan_targets = Table(
    "plan_targets", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plan_id", String(64), ForeignKey("plan_plans.id"), nullable=False),
    Column("indicator_id", Integer, ForeignKey("plan_indicators.element_id"), nullable=False),
    Column("scope", String(100), nullable=False),   # "plan" | "unit:<code>" | "group:<group>"
    Column("unit_code", String(32), nullable=True),
    Column("unit_group", String(64), nullable=True),
    Column("fiscal_year_be", Integer, nullable=False),
    Column("value", Float, nullable=True),          # NULL = no target that year (not 0)
    Column("value_printed", Text, nullable=True),
    Column("provenance", Text, nullable=True),
    Column("inferred", Boolean, nullable=False),
    UniqueConstraint("indicator_id", "scope", "fiscal_year_be", name="uq_plan_targets_key"),
)
Index("ix_plan_targets_plan_year", plan_targets.c.plan_id, plan_targets.c.fiscal_year_be)
Index("ix_plan_targets_unit", plan_targets.c.unit_code)

plan_links = Table(
    "plan_links", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plan_id", String(64), ForeignKey("plan_plans.id"), nullable=False),
    Column("from_element_id", Integer, ForeignKey("plan_elements.id"), nullable=True),  # NULL = plan
    Column("relation", String(32), nullable=False),  # aligns_to, parent_plan, contributes_to, ...
    Column("to_plan_id", String(64), nullable=False),
    Column("to_element_code", String(64), nullable=True),                              # NULL = plan
    Column("basis", String(16), nullable=False),     # stated | inferred
    Column("position", Integer, nullable=False),
    Column("attributes", Text, nullable=True),       # JSON: printed cell text, match basis, notes
)
Index("ix_plan_links_plan", plan_links.c.plan_id)
Index("ix_plan_links_target", plan_links.c.to_plan_id, plan_links.c.to_element_code)
Index("ix_plan_links_from", plan_links.c.from_element_id)
