"""What the access dashboard shows beyond the analytics view: outcomes per day, top users, and
p50/p95 durations per dataset, from the access-log table over the same window.

Every figure counts the same rows as ``dataset_access_analytics`` (rows with a dataset, from a
UTC day on), so the dashboard's totals agree with the view's ``total_requests``.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from ..errors import AccessLogUnavailable
from .accesslog import AccessLog

OUTCOMES = ("ok", "denied", "rate_limited", "error")
TOP_USERS = 10
PERCENTILES = {"p50_ms": 0.50, "p95_ms": 0.95}


def outcome_case(status: Any) -> Any:
    """ok (< 400), rate_limited (429), denied (401/403), error (anything else)."""
    return sa.case(
        (status < 400, "ok"), (status == 429, "rate_limited"), (status.in_((401, 403)), "denied"), else_="error"
    )


def access_breakdown(log: AccessLog, since: date) -> dict[str, list[dict[str, Any]]]:
    """``{"outcomes": [{access_date, outcome, requests}], "top_users": [{user, requests,
    bytes_served, datasets}], "durations": [{dataset_id, requests, p50_ms, p95_ms}]}``."""
    table = log.table
    day = sa.func.date(table.c.accessed_at) if log.dialect == "sqlite" else sa.cast(table.c.accessed_at, sa.Date)
    window = sa.and_(table.c.dataset_id.is_not(None), table.c.accessed_at >= datetime.combine(since, time.min))
    outcome = outcome_case(table.c.status)
    served = sa.case(
        (sa.and_(table.c.action == "download", table.c.status < 400), sa.func.coalesce(table.c.bytes, 0)), else_=0
    )
    try:
        log.ensure_schema()
        with log.engine.connect() as conn:
            outcomes = conn.execute(
                sa.select(day.label("d"), outcome.label("o"), sa.func.count().label("n"))
                .where(window)
                .group_by(day, outcome)
                .order_by(day, outcome)
            ).all()
            users = conn.execute(
                sa.select(
                    table.c.user,
                    sa.func.count().label("n"),
                    sa.func.sum(served).label("b"),
                    sa.func.count(sa.distinct(table.c.dataset_id)).label("k"),
                )
                .where(window)
                .group_by(table.c.user)
                .order_by(sa.desc("n"), table.c.user)
                .limit(TOP_USERS)
            ).all()
            durations = [
                _percentiles(conn, table, window, dataset, count)
                for dataset, count in conn.execute(
                    sa.select(table.c.dataset_id, sa.func.count())
                    .where(window, table.c.duration_ms.is_not(None))
                    .group_by(table.c.dataset_id)
                    .order_by(table.c.dataset_id)
                ).all()
            ]
    except AccessLogUnavailable:
        raise
    except (SQLAlchemyError, OSError) as exc:
        raise AccessLogUnavailable(f"Access log unavailable ({type(exc).__name__})") from None
    return {
        "outcomes": [{"access_date": _day(d), "outcome": o, "requests": int(n)} for d, o, n in outcomes],
        "top_users": [
            {"user": u, "requests": int(n), "bytes_served": int(b or 0), "datasets": int(k)} for u, n, b, k in users
        ],
        "durations": durations,
    }


def _percentiles(conn: Any, table: sa.Table, window: Any, dataset: str, count: int) -> dict[str, Any]:
    """Nearest-rank percentiles, read with one indexed ORDER BY … OFFSET each (SQLite has no
    percentile function)."""
    found: dict[str, Any] = {"dataset_id": dataset, "requests": int(count)}
    for name, share in PERCENTILES.items():
        rank = max(0, math.ceil(share * count) - 1)
        found[name] = float(
            conn.execute(
                sa.select(table.c.duration_ms)
                .where(window, table.c.dataset_id == dataset, table.c.duration_ms.is_not(None))
                .order_by(table.c.duration_ms)
                .offset(rank)
                .limit(1)
            ).scalar_one()
        )
    return found


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)
