"""Operator tooling: the ``thongthin`` command (cli.py) and what it reads (broker, services)."""
