"""The plans service's one composition root: what the nameko service is built from.

Nothing here (or anywhere in the service) reads settings at import time. A setting is named here
with its default and read from the container's config when the container starts (``ConfigTimer``
reads its key in ``setup``), so a test or an environment sets it before the service runs:

- ``REGISTRY_SETTLE_INTERVAL_S`` (default 3600): how often open assignments of units whose
  (future-dated) closing, merger or split has come are settled (unit_endings.settle_ended_units).

``EVENT_HANDLERS`` is the map the ``Inbox`` dispatches consumed events with: event type ->
``handler(event, uow, envelope)``. The subscriptions themselves are declared once, in
shared/messaging/topology.py (a unit test holds the two equal).
"""
from __future__ import annotations

from services.plans import unit_changes
from shared.contracts.events import IndicatorSubmitted

SETTLE_INTERVAL_SETTING = "REGISTRY_SETTLE_INTERVAL_S"
SETTLE_INTERVAL_DEFAULT_S = 3600

EVENT_HANDLERS = {
    # the periods units have reported (assessments), which registry changes may not rewrite
    IndicatorSubmitted.TYPE: unit_changes.on_indicator_submitted,
}
