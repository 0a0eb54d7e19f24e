"""Reliable messaging: transactional outbox and relay, idempotent consumer, topology."""
