"""The one topology matches what the services handle; every registered event is routable."""
from __future__ import annotations

from services.assessments.bootstrap import EVENT_HANDLERS as ASSESSMENTS
from services.notifications.planning import EVENT_HANDLERS as NOTIFICATIONS
from services.plans.bootstrap import EVENT_HANDLERS as PLANS
from services.reporting.bootstrap import event_handlers
from shared.contracts import REGISTRY
from shared.messaging import topology


def test_each_service_is_bound_to_exactly_the_event_types_it_handles():
    assert set(topology.SUBSCRIPTIONS["assessments"]) == set(ASSESSMENTS)
    assert set(topology.SUBSCRIPTIONS["notifications"]) == set(NOTIFICATIONS)
    assert set(topology.SUBSCRIPTIONS["plans"]) == set(PLANS)
    assert set(topology.SUBSCRIPTIONS["reporting"]) == set(event_handlers(topology.SUBSCRIPTIONS["reporting"]))


def test_reporting_receives_every_registered_event_type():
    assert set(topology.SUBSCRIPTIONS["reporting"]) == set(REGISTRY)


def test_every_subscribed_type_is_registered_and_queues_are_quorum_with_a_dead_letter_route():
    for types in topology.SUBSCRIPTIONS.values():
        assert set(types) <= set(REGISTRY)
    spec = topology.platform_topology([100, 200])
    work = {q.name: q for q in spec.queues if q.name.endswith(".events")}
    assert set(work) == {f"{s}.events" for s in topology.SUBSCRIPTIONS}
    assert all(q.arguments["x-queue-type"] == "quorum" and q.arguments["x-dead-letter-exchange"] == topology.DEAD_EXCHANGE
               for q in work.values())
    retries = [q for q in spec.queues if ".retry." in q.name]
    assert len(retries) == 2 * len(work)
    assert all(q.arguments["x-dead-letter-routing-key"] == q.name.split(".retry.")[0] for q in retries)
