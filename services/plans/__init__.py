"""The plans service: two bounded contexts in one process and one database.

The org registry and the directive cascade (this folder):

    service.py           nameko entrypoints; each decodes, calls one function below, returns
    bootstrap.py         the composition root: settings with their defaults, the Inbox's event handlers
    domain.py            pure rules: addressees, the assignment lifecycle, who may act, document numbers
    unit_changes.py      the registry over time: register_units, and the reported periods it guards
    unit_endings.py      what follows from a unit's ending: its open assignments cancelled or passed on
    unit_csv.py          the registry CSV as RegisterUnits rows
    document_actions.py  record a document and its directives, attach files, issue (assignments, events)
    assignment_actions.py  acknowledge, change state, applicability, forward, register a receipt
    views.py             read queries: units, history, documents, directives, assignments, cascade
    scope.py             who sees what: a unit's subtree, visibility of documents and directives
    lookups.py           reads the use cases and views share (units as on a day, a document by id)
    models.py            the tables; migrations/ the alembic history
    registry.py          the synthetic national registry (reference data for seeds, tests and bench)
    memo_import.py, cli.py  the seed memo and the operator command line

Development plans: development_plans/ (its __init__ lists its modules).

Use cases are ``(command, uow)`` (event handlers ``(event, uow, envelope)``); queries take a read
session. Nothing reads settings at import time.
"""
