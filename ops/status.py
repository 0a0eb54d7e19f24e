"""What ``thongthin status`` shows: each service's /health and key metrics, and every queue's depth.

Service addresses come from the same variables the services read (``<SERVICE>_HTTP_ADDRESS``,
shared/config.py); queue depths from passive ``queue.declare`` over AMQP (``AMQP_URI``), so the
command needs neither the management plugin nor Prometheus.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import amqp
import requests
from prometheus_client.parser import text_string_to_metric_families

from shared.config import SERVICES, http_address
from shared.messaging import topology as topo
from shared.messaging.publisher import connection_params


def service_url(service: str) -> str:
    """Where to reach a service from here: its HTTP address, a wildcard bind seen as loopback."""
    address = http_address(service)
    host, _, port = address.rpartition(":")
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    return f"http://{host}:{port}"


@dataclass
class ServiceStatus:
    service: str
    url: str
    healthy: bool = False
    health: str = "unreachable"        # "ok", "down: <why>", "unreachable: <why>"
    outbox_pending: float | None = None
    outbox_oldest_age_s: float | None = None
    consumed: dict[str, float] = field(default_factory=dict)     # outcome -> total
    published: float | None = None
    dead_lettered: float | None = None
    consumed_per_s: float | None = None
    published_per_s: float | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def scrape_metrics(url: str, timeout: float) -> dict[str, list]:
    """name -> [(labels, value)] of the thongthin_* samples on /metrics."""
    response = requests.get(f"{url}/metrics", timeout=timeout)
    response.raise_for_status()
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name.startswith("thongthin_"):
                samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def _total(samples: dict, name: str, service: str, **match) -> float | None:
    rows = [value for labels, value in samples.get(name, [])
            if labels.get("service") == service and all(labels.get(k) == v for k, v in match.items())]
    return sum(rows) if rows else None


def _check(service: str, url: str, timeout: float) -> tuple[ServiceStatus, dict]:
    status = ServiceStatus(service, url)
    try:
        response = requests.get(f"{url}/health", timeout=timeout)
        status.healthy = response.status_code == 200
        if status.healthy:
            status.health = "ok"
        else:
            try:
                detail = response.json()
                why = detail.get("database") or detail.get("services") or detail.get("status")
            except ValueError:
                why = response.text[:200]
            status.health = f"down ({response.status_code}): {why}"
    except requests.RequestException as exc:
        status.health = f"unreachable: {type(exc).__name__}"
        return status, {}
    try:
        samples = scrape_metrics(url, timeout)
    except requests.RequestException:
        return status, {}
    # A process may host only this service, but the registry is process-wide: filter by label.
    status.outbox_pending = _total(samples, "thongthin_outbox_pending", service)
    status.outbox_oldest_age_s = _total(samples, "thongthin_outbox_oldest_age_seconds", service)
    status.published = _total(samples, "thongthin_outbox_published_total", service)
    status.dead_lettered = _total(samples, "thongthin_dead_lettered_total", service)
    for labels, value in samples.get("thongthin_messages_consumed_total", []):
        if labels.get("service") == service:
            status.consumed[labels["outcome"]] = status.consumed.get(labels["outcome"], 0) + value
    return status, samples


def services_status(timeout: float = 3.0, rate_window: float = 0.0,
                    services: tuple[str, ...] = SERVICES) -> list[ServiceStatus]:
    """Every service checked in parallel; with ``rate_window`` > 0 a second scrape that many
    seconds later gives consumed and published per second."""
    urls = {service: service_url(service) for service in services}
    with ThreadPoolExecutor(max_workers=len(services)) as pool:
        first = dict(zip(services, pool.map(lambda s: _check(s, urls[s], timeout), services)))
        if rate_window <= 0:
            return [first[s][0] for s in services]
        time.sleep(rate_window)
        second = dict(zip(services, pool.map(lambda s: _check(s, urls[s], timeout), services)))
    def per_second(before: float | None, after: float | None) -> float | None:
        # None when unknown, or when the counter went down: the process restarted in between
        if before is None or after is None or after < before:
            return None
        return round((after - before) / rate_window, 2)

    result = []
    for service in services:
        before, after = first[service][0], second[service][0]
        if after.healthy and (after.consumed or before.consumed):
            after.consumed_per_s = per_second(sum(before.consumed.values()), sum(after.consumed.values()))
        if after.healthy and after.published is not None:
            after.published_per_s = per_second(before.published or 0.0, after.published)
        result.append(after)
    return result


@dataclass
class QueueStatus:
    queue: str
    kind: str                   # work | retry | dead-letter
    ready: int | None           # messages waiting (None: the queue does not exist)
    consumers: int | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def queue_status(amqp_uri: str) -> list[QueueStatus]:
    """Every queue of the platform topology (passive declare: nothing is created)."""
    rows = []
    connection = amqp.Connection(**connection_params(amqp_uri), connect_timeout=5)
    connection.connect()
    try:
        channel = connection.channel()
        for spec in topo.platform_topology().queues:
            kind = ("dead-letter" if spec.name == topo.DEAD_LETTER_QUEUE
                    else "retry" if ".retry." in spec.name else "work")
            try:
                ok = channel.queue_declare(spec.name, passive=True)
                rows.append(QueueStatus(spec.name, kind, ok.message_count, ok.consumer_count))
            except amqp.exceptions.NotFound:  # the broker closed the channel: open another
                rows.append(QueueStatus(spec.name, kind, None, None))
                channel = connection.channel()
    finally:
        connection.close()
    return rows
