"""Process-wide Prometheus metrics, labelled by service (several services may share a process in tests)."""
from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

MESSAGES_CONSUMED = Counter(
    "thongthin_messages_consumed_total", "Messages consumed, by event type and outcome",
    ["service", "event_type", "outcome"])
HANDLER_LATENCY = Histogram(
    "thongthin_handler_duration_seconds", "Time spent in an entrypoint (event, rpc, http, timer)",
    ["service", "entrypoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
OUTBOX_PENDING = Gauge("thongthin_outbox_pending", "Outbox records not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge("thongthin_outbox_oldest_age_seconds",
                          "Age of the oldest unpublished outbox record", ["service"])
OUTBOX_PUBLISHED = Counter("thongthin_outbox_published_total", "Outbox records published", ["service"])
DEAD_LETTERED = Counter("thongthin_dead_lettered_total", "Messages sent to the dead-letter queue",
                        ["service"])
SWEEP_LAST_RUN = Gauge("thongthin_deadline_sweep_last_run_timestamp_seconds",
                       "When the deadline sweep last completed", ["service"])
DEADLINES_MISSED = Counter("thongthin_deadlines_missed_total", "Deadline misses emitted", ["service"])
NOTIFICATIONS = Counter("thongthin_notifications_total",
                        "Notification delivery attempts, by channel, message class and result "
                        "(sent | failed | uncertain: the provider may have it, not repeated)",
                        ["service", "channel", "kind", "result"])


NOTIFICATION_RESULTS = ("sent", "failed", "uncertain")


def notification_attempt(channel: str, kind: str, error=None, service: str = "notifications") -> None:
    """Count one delivery attempt. ``error`` is the channel's ChannelError (None when sent); duck
    typed so this module needs nothing from the notifications service."""
    if error is None:
        result = "sent"
    else:
        result = "uncertain" if getattr(error, "uncertain", False) else "failed"
    # Every result of this channel and class exists (at 0) from its first attempt on: a series
    # born at 1 has no earlier sample, so rate() would not see the first failure.
    for other in NOTIFICATION_RESULTS:
        NOTIFICATIONS.labels(service, channel, kind, other)
    NOTIFICATIONS.labels(service, channel, kind, result).inc()


def render() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST


_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported_names() -> set[str]:
    """Every sample name the thongthin_* metrics above put on /metrics (``_total`` of a counter,
    ``_bucket``/``_sum``/``_count`` of a histogram): what alert rules and dashboards may query."""
    names = set()
    for value in list(globals().values()):
        if isinstance(value, (Counter, Gauge, Histogram)):
            for family in value.describe():
                names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
    return names
