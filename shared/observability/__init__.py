"""Structured logs, Prometheus metrics and health reports shared by every service."""
