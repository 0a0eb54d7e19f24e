"""Tables of the notifications service (its own database)."""
from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, MetaData, String, Table, Text

from shared.types import UTCDateTime

metadata = MetaData()

# Who can receive messages: org contact points (code = org code, from plans' org_unit_changed),
# people (code = "user:<username>", saved by the gateway with their preferences), unit heads
# ("head:<org code>") and guests ("guest:<hash>": an LPA team's community leader without an
# account, reached by e-mail only).
recipients = Table(
    "recipients", metadata,
    Column("code", String(80), primary_key=True),
    Column("kind", String(8), nullable=False),                # org | person | head | guest
    Column("org_code", String(32), nullable=False),           # the org itself, or the person's org
    Column("level", String(32), nullable=True),               # org level (lao, district_office, ...)
    Column("parent_code", String(32), nullable=True),
    Column("name_th", Text, nullable=False),
    Column("name_en", Text, nullable=True),
    Column("role", String(16), nullable=True),                # a person's gateway role
    Column("language", String(2), nullable=False, server_default="th"),
    Column("date_digits", String(8), nullable=False, server_default="thai"),
    Column("email", String(200), nullable=True),
    Column("phone", String(20), nullable=True),               # E.164
    Column("line_ids", Text, nullable=True),                  # JSON list of LINE user / group ids
    Column("fallback_order", Text, nullable=True),            # JSON list; NULL = default order
    Column("quiet_hours", String(16), nullable=True),         # "20:00-07:00"; "" none; NULL default
    Column("opt_out", Text, nullable=True),                   # JSON list of optional classes
    Column("digest", Boolean, nullable=True),                 # NULL = default (people yes, orgs no)
    Column("valid_to", String(10), nullable=True),            # a closed org unit (ISO date)
    Column("updated_at", UTCDateTime(), nullable=True),
)
Index("ix_recipients_parent", recipients.c.parent_code)
Index("ix_recipients_org", recipients.c.org_code, recipients.c.kind)

# Every version of every org unit (from plans' org_unit_changed), keyed (code, valid_from), each the
# highest revision received: the recipients row of an org is the version holding today (a closed
# unit as it last stood) and its valid_to the day the unit closed (its last version's end).
org_unit_versions = Table(
    "org_unit_versions", metadata,
    Column("code", String(32), primary_key=True),
    Column("valid_from", String(10), primary_key=True),      # ISO date
    Column("valid_to", String(10), nullable=True),            # ISO date, exclusive
    Column("revision", Integer, nullable=False, server_default="0"),
    Column("change_kind", String(16), nullable=False, server_default="updated"),
    Column("successor_codes", Text, nullable=False, server_default="[]"),   # JSON list
    Column("version", Text, nullable=False),                  # JSON: the event's fields
)

# Directives and assignments as far as messages need them (from plans' events).
tracked_directives = Table(
    "tracked_directives", metadata,
    Column("directive_id", String(36), primary_key=True),
    Column("document_number", Text, nullable=False),
    Column("title_th", Text, nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("issuer_code", String(32), nullable=False),
)

tracked_assignments = Table(
    "tracked_assignments", metadata,
    Column("assignment_id", String(36), primary_key=True),
    Column("directive_id", String(36), nullable=False),
    Column("unit_code", String(32), nullable=False),
    Column("document_number", Text, nullable=False),
    Column("title_th", Text, nullable=False),
    Column("acknowledge_due_at", UTCDateTime(), nullable=True),
    Column("state", String(16), nullable=False),            # issued | acknowledged | ... (plans' states)
)
Index("ix_tracked_assignments_directive", tracked_assignments.c.directive_id)

# What this service knows of each obligation: enough to decide if a step is still relevant.
tracked_obligations = Table(
    "tracked_obligations", metadata,
    Column("obligation_id", String(36), primary_key=True),
    Column("unit_code", String(32), nullable=False),
    Column("directive_id", String(36), nullable=True),
    Column("assignment_id", String(36), nullable=True),
    Column("rule_id", String(36), nullable=True),
    Column("indicator_code", String(64), nullable=False),
    Column("indicator_name_th", Text, nullable=False),
    Column("indicator_count", Integer, nullable=False, server_default="1"),
    Column("period", String(32), nullable=False),
    Column("group_key", String(160), nullable=False),       # obligations reported together
    Column("due_at", UTCDateTime(), nullable=False),        # the effective due time (extensions included)
    Column("closes_at", UTCDateTime(), nullable=True),
    Column("state", String(16), nullable=False),            # open | submitted | missed | cancelled
)
Index("ix_tracked_group", tracked_obligations.c.group_key)
Index("ix_tracked_obligations_assignment", tracked_obligations.c.assignment_id)

# Which LPA assessor team visits an LAO in a round (from assessments' lpa_team_finalised): enough
# to tell the team's lead and its provincial office when DLA returns that LAO's assessment.
tracked_lpa_visits = Table(
    "tracked_lpa_visits", metadata,
    Column("round_id", String(36), primary_key=True),
    Column("unit_code", String(32), primary_key=True),
    Column("team_id", String(36), nullable=False),
    Column("year_be", Integer, nullable=False),
    Column("province_code", String(32), nullable=True),
    Column("visit_on", String(10), nullable=False),          # ISO date
    Column("lead_code", String(80), nullable=True),          # the lead's recipient code
)

# Reminder ladders as data: key "default", "rule:<rule id>" or "directive:<directive id>".
reminder_ladders = Table(
    "reminder_ladders", metadata,
    Column("key", String(80), primary_key=True),
    Column("steps", Text, nullable=False),                  # JSON list: ["-P7D", "-P1D", "MORNING"]
    Column("updated_by", String(64), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# One row per message that should exist. The unique key makes a second copy impossible.
scheduled_messages = Table(
    "scheduled_messages", metadata,
    Column("id", String(36), primary_key=True),
    Column("dedupe_key", String(300), nullable=False, unique=True),  # recipient|subject|step
    Column("kind", String(16), nullable=False),             # message class (domain.MESSAGE_CLASSES) or digest
    Column("recipient_code", String(80), nullable=False),
    Column("subject_ref", String(160), nullable=False),     # obligation, assignment, group or digest day
    Column("step", String(60), nullable=False),
    Column("nominal_at", UTCDateTime(), nullable=False),    # when the ladder says
    Column("due_at", UTCDateTime(), nullable=False),        # when it may go (shifted, deferred, retried)
    # scheduled -> sending -> sent | failed | uncertain; scheduled -> cancelled | skipped | digested
    Column("status", String(16), nullable=False),
    Column("status_reason", Text, nullable=True),
    Column("late", Boolean, nullable=False, server_default="0"),
    Column("attempts", Integer, nullable=False, server_default="0"),          # all channels
    Column("channel_index", Integer, nullable=False, server_default="0"),     # position in the fallback order
    Column("channel_attempts", Integer, nullable=False, server_default="0"),  # on the current channel
    Column("channel", String(8), nullable=True),            # of the current / last attempt
    Column("address", String(200), nullable=True),
    Column("provider_key", String(64), nullable=True),      # idempotency key given to the provider
    Column("digest_id", String(36), nullable=True),         # the digest that carries this message
    Column("payload", Text, nullable=True),                 # JSON: extra facts for the template
    Column("claimed_at", UTCDateTime(), nullable=True),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("read_at", UTCDateTime(), nullable=True),
    Column("correlation_id", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)
Index("ix_scheduled_due", scheduled_messages.c.status, scheduled_messages.c.due_at)
# Each index below leads with the selective column and carries status second: a lookup by subject,
# recipient or digest "and status = ..." must not let the planner pick ix_scheduled_due and walk
# every scheduled message (SQLite has no statistics to know better: 15 ms per submission at
# national scale when it did).
Index("ix_scheduled_subject", scheduled_messages.c.subject_ref, scheduled_messages.c.status)
Index("ix_scheduled_recipient", scheduled_messages.c.recipient_code, scheduled_messages.c.status,
      scheduled_messages.c.claimed_at)
Index("ix_scheduled_digest", scheduled_messages.c.digest_id, scheduled_messages.c.status)

# The delivery ledger: one row per attempt on a channel.
deliveries = Table(
    "deliveries", metadata,
    Column("id", String(36), primary_key=True),
    Column("message_id", String(36), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("channel", String(8), nullable=False),
    Column("address", String(200), nullable=False),
    Column("status", String(16), nullable=False),           # sending | sent | failed | uncertain
    Column("error", Text, nullable=True),
    Column("provider_key", String(64), nullable=True),
    Column("provider_id", String(200), nullable=True),      # Message-ID, LINE request id, SMS id
    Column("subject", Text, nullable=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
)
Index("ix_deliveries_message", deliveries.c.message_id)
Index("ix_deliveries_status", deliveries.c.status, deliveries.c.started_at)

# The in-app inbox: written in the same transaction that records the message as sent.
inbox_items = Table(
    "inbox_items", metadata,
    Column("id", String(36), primary_key=True),
    Column("message_id", String(36), nullable=False, unique=True),
    Column("recipient_code", String(80), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("link", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("read_at", UTCDateTime(), nullable=True),
    Column("read_by", String(64), nullable=True),
)
Index("ix_inbox_recipient", inbox_items.c.recipient_code, inbox_items.c.created_at)

# One-time codes of the LINE linking flow (stored hashed).
line_link_codes = Table(
    "line_link_codes", metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("recipient_code", String(80), nullable=False),   # who gets the LINE id (a person or an org)
    Column("username", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
    Column("line_id", String(64), nullable=True),
)
