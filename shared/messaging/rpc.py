"""nameko RPC that survives the broker going away.

Server side (``ReplySafeRpc``, used by ``shared.service_base.rpc``): nameko sends the reply after
the worker returned; if that publish fails (broker stopped, connection reset) nameko lets the
error escape its worker thread and kills the whole container ("ServiceContainer thread exited
with error"). Here a reply that cannot be sent is logged and dropped: what the worker did has
committed and stays; the caller gets no reply and answers 503 (and may retry with its
idempotency key, which makes the retry — or a redelivery of the request — a no-op, see
``shared.service_base.run_command``).

Caller side (``RpcProxy``, used by the gateway): a reply that does not come within
``RPC_TIMEOUT_S`` (``THONGTHIN_RPC_TIMEOUT_S``, 60 s) raises ``RpcUnavailable`` instead of
waiting for ever, and so does a request that cannot be published (broker unreachable after a
short retry).
"""
from __future__ import annotations

import amqp.exceptions
import eventlet
import kombu.exceptions
import structlog
from nameko.amqp.publish import Publisher
from nameko.rpc import MethodProxy, Responder, Rpc, RpcConsumer, ServiceProxy
from nameko.rpc import RpcProxy as NamekoRpcProxy
from nameko.constants import AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, DEFAULT_SERIALIZER, LOGIN_METHOD_CONFIG_KEY, \
    SERIALIZER_CONFIG_KEY
from nameko.exceptions import UnknownService
from nameko.rpc import get_rpc_exchange

log = structlog.get_logger(__name__)

# the request/reply publishes give up after about 1.5 s rather than kombu's 12 s: the caller's
# worker (and the gateway's HTTP client) is waiting, and a broker that is away for longer is an
# outage the caller must hear about
QUICK_RETRY = {"max_retries": 2, "interval_start": 0.5, "interval_step": 0.5, "interval_max": 1.0}
IDEMPOTENCY_KEY = "idempotency_key"   # worker context entry; travels as the nameko.idempotency_key header


# what a publish raises when the broker cannot be reached or the connection broke
CONNECTION_ERRORS = (kombu.exceptions.OperationalError, amqp.exceptions.ConnectionError,
                     amqp.exceptions.RecoverableConnectionError, OSError)


class RpcUnavailable(Exception):
    """The called service's answer did not come: the broker is away, the connection broke, or
    no reply within the timeout. The call may or may not have taken effect."""

    def __init__(self, service: str, method: str, reason: str):
        super().__init__(service, method, reason)
        self.service, self.method, self.reason = service, method, reason

    def __str__(self) -> str:
        return f"{self.service}.{self.method}: {self.reason}"


class _QuickRetryPublisher(Publisher):
    retry_policy = QUICK_RETRY


class _Responder(Responder):
    publisher_cls = _QuickRetryPublisher


class ReplySafeRpcConsumer(RpcConsumer):
    def handle_result(self, message, result, exc_info):
        config = self.container.config
        responder = _Responder(config[AMQP_URI_CONFIG_KEY], get_rpc_exchange(config),
                               config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER), message,
                               ssl=config.get(AMQP_SSL_CONFIG_KEY), login_method=config.get(LOGIN_METHOD_CONFIG_KEY))
        try:
            result, exc_info = responder.send_response(result, exc_info)
        except Exception as error:  # noqa: BLE001 - never let a lost reply kill the container
            log.warning("rpc_reply_lost", routing_key=(message.delivery_info or {}).get("routing_key"),
                        error=repr(error))
        try:
            # acked even when the reply was lost: the work is done. On a dead connection the ack
            # is skipped and the broker redelivers the request; its idempotency key makes that a no-op.
            self.queue_consumer.ack_message(message)
        except Exception as error:  # noqa: BLE001
            log.warning("rpc_ack_lost", error=repr(error))
        return result, exc_info


class ReplySafeRpc(Rpc):
    rpc_consumer = ReplySafeRpcConsumer()


class _TimedMethodProxy(MethodProxy):
    def __init__(self, *args, timeout: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.timeout = timeout

    def __call__(self, *args, **kwargs):
        try:
            reply = self._call(*args, **kwargs)
        except UnknownService:
            raise
        except CONNECTION_ERRORS as error:  # the request never left
            raise RpcUnavailable(self.service_name, self.method_name, f"request not sent: {error!r}") from error
        result, done = None, False
        with eventlet.Timeout(self.timeout, False):
            result = reply.result()
            done = True
        if not done:
            self._forget(reply.reply_event)
            raise RpcUnavailable(self.service_name, self.method_name, f"no reply within {self.timeout:g}s")
        return result

    def _forget(self, reply_event) -> None:
        """A reply that comes after all is dropped by the listener ("unknown correlation id")."""
        events = self.reply_listener._reply_events
        for correlation_id, event in list(events.items()):
            if event is reply_event:
                events.pop(correlation_id, None)


class _TimedServiceProxy(ServiceProxy):
    def __init__(self, *args, timeout: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.timeout = timeout

    def __getattr__(self, name):
        return _TimedMethodProxy(self.worker_ctx, self.service_name, name, self.reply_listener,
                                 timeout=self.timeout, **self.options)


class RpcProxy(NamekoRpcProxy):
    """nameko's RpcProxy with a reply timeout and a short publish retry (see the module doc)."""

    def __init__(self, target_service, **options):
        options.setdefault("retry_policy", QUICK_RETRY)
        super().__init__(target_service, **options)

    def get_dependency(self, worker_ctx):
        timeout = float(self.container.config.get("RPC_TIMEOUT_S", 60))
        return _TimedServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener, timeout=timeout,
                                  **self.options)
