"""Development plans: the plan tree of a unit (strategic issues, goals, strategies, indicators and
their yearly targets) and the links between plans, read from plan files of several shapes.

    reading.py    a plan file (YAML/JSON) in: load, detect its shape, adapt, validate, flatten
    sources.py    one adapter per source shape (DLA strategic, provincial cascade, local plan)
    tree.py       the flat rows a plan becomes, and the checks of the tree on the way
    importing.py  import_plan(document, uow): write only what changed, publish PlanPublished/TargetSet
    views.py      export (thongthin.plan/v1), plan list, tree, indicator, targets, links, anomalies
    tables.py     the plan_* tables (on the plans service's metadata, services/plans/models.py)

The other bounded context of the plans service, the org registry and the directive cascade, lives
one level up (services/plans/__init__.py).
"""
