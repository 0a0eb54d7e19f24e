"""The one definition of every figure of a directive's cascade (docs/reporting.md, Definitions),
computed the same way by plans (from its assignments) and reporting (from the events): the two
cascade views can only differ if their facts differ.

Facts of one addressee (one assignment): ``assigned_at`` (the assignment was created: the directive
was sent to the unit), ``received_at`` (the unit marked it received, or acknowledged it, whichever
came first), ``acknowledged_at`` (ลงรับ), ``forwarded_at`` (the unit first passed it down), the
assignment it was forwarded from (none when the issuer sent it directly) and the directive's issue
time. All durations are in **seconds**.

Pure Python; the level order is the vocabulary's (shared.vocabulary).
"""
from __future__ import annotations

from datetime import datetime
from statistics import median

from shared.vocabulary import level_rank

__all__ = ["level_figures", "level_rank", "levels", "seconds", "unit_figures"]


def seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    """Whole seconds to one decimal between two instants; None when either is unknown."""
    if later is None or earlier is None:
        return None
    return round((later - earlier).total_seconds(), 1)


def unit_figures(*, assigned_at: datetime | None, acknowledged_at: datetime | None,
                 sender_assigned_at: datetime | None) -> dict:
    """``hop_s`` = when the unit was sent the directive minus when its sender got it (the parent
    assignment's creation, or the directive's issue for an addressee of the issuer);
    ``acknowledge_s`` = acknowledged minus sent."""
    return {"hop_s": seconds(assigned_at, sender_assigned_at), "acknowledge_s": seconds(acknowledged_at, assigned_at)}


def _median(values: list[float]) -> float | None:
    return round(median(values), 1) if values else None


def level_figures(rows: list[dict]) -> dict:
    """The figures of one level from its addressees' rows (each with the facts and ``unit_figures``):
    ``units`` = addressees; ``received`` / ``acknowledged`` / ``forwarded`` = addressees with that
    fact; ``not_applicable`` = those that declared it so; ``acknowledgement_rate`` = acknowledged /
    units; the median and longest hop and time to acknowledge, in seconds."""
    hops = [row["hop_s"] for row in rows if row["hop_s"] is not None]
    acks = [row["acknowledge_s"] for row in rows if row["acknowledge_s"] is not None]
    acknowledged = sum(1 for row in rows if row["acknowledged_at"])
    return {"units": len(rows),
            "received": sum(1 for row in rows if row["received_at"]),
            "acknowledged": acknowledged,
            "forwarded": sum(1 for row in rows if row["forwarded_at"]),
            "not_applicable": sum(1 for row in rows if row.get("state") == "not_applicable"),
            "acknowledgement_rate": round(acknowledged / len(rows), 4) if rows else None,
            "median_hop_s": _median(hops), "max_hop_s": max(hops) if hops else None,
            "median_acknowledge_s": _median(acks), "max_acknowledge_s": max(acks) if acks else None}


def levels(rows: list[dict]) -> list[dict]:
    """One ``level_figures`` row per level present, from the top of the hierarchy down."""
    per_level: dict[str, list[dict]] = {}
    for row in rows:
        per_level.setdefault(row["level"] or "unknown", []).append(row)
    return [{"level": level, **level_figures(per_level[level])}
            for level in sorted(per_level, key=lambda name: (level_rank(name), name))]
