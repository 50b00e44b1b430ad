"""Query plans on PostgreSQL, for tests that prove a scheduled job finds its work through an
index on a due time instead of reading history.

    assert_uses_index(session, stmt, "ix_step_due")

runs `EXPLAIN (FORMAT JSON)` (the plan only: nothing is executed, so a claim's UPDATE …
RETURNING can be checked too) and fails naming the plan when `index_name` is not used, or when
any of `no_seq_scan_on` (by default: the tables the statement reads) is read by a sequential
scan. Seed the tables big enough and ANALYZE first (`bot.devtools.bigdb.seed` does both), or
the planner rightly prefers to read a small table whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable


def explain(session: Session, stmt: Executable) -> dict[str, Any]:
    """The planner's plan for `stmt` (its top node, as EXPLAIN (FORMAT JSON) gives it)."""
    if session.get_bind().dialect.name != "postgresql":
        raise RuntimeError("query plans are checked on PostgreSQL")
    conn = session.connection()
    compiled = stmt.compile(dialect=conn.dialect)  # type: ignore[attr-defined]
    raw = conn.exec_driver_sql(
        f"EXPLAIN (FORMAT JSON) {compiled}", compiled.construct_params()
    ).scalar_one()
    plan = raw if isinstance(raw, list) else json.loads(raw)
    return dict(plan[0]["Plan"])


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def indexes_used(plan: dict[str, Any]) -> set[str]:
    return {n["Index Name"] for n in nodes(plan) if "Index Name" in n}


def seq_scanned(plan: dict[str, Any]) -> set[str]:
    return {n["Relation Name"] for n in nodes(plan) if n.get("Node Type") == "Seq Scan"}


def tables_read(plan: dict[str, Any]) -> set[str]:
    return {n["Relation Name"] for n in nodes(plan) if "Relation Name" in n}


def describe(plan: dict[str, Any], depth: int = 0) -> str:
    """One line per node: `Index Scan using ix_step_due on casestep (rows=12)`."""
    n = plan
    what = n.get("Node Type", "?")
    if "Index Name" in n:
        what += f" using {n['Index Name']}"
    if "Relation Name" in n:
        what += f" on {n['Relation Name']}"
    for key in ("Index Cond", "Filter", "Recheck Cond"):
        if key in n:
            what += f" [{key}: {n[key]}]"
    lines = ["  " * depth + f"{what} (rows={n.get('Plan Rows')})"]
    lines += [describe(child, depth + 1) for child in n.get("Plans", [])]
    return "\n".join(lines)


def assert_uses_index(
    session: Session,
    stmt: Executable,
    index_name: str,
    *,
    no_seq_scan_on: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Fail unless the plan of `stmt` uses `index_name` and reads none of `no_seq_scan_on`
    (default: every table in the plan) by a sequential scan. Returns the plan."""
    plan = explain(session, stmt)
    check_plan(plan, index_name, no_seq_scan_on=no_seq_scan_on)
    return plan


def check_plan(
    plan: dict[str, Any],
    index_name: str | None,
    *,
    no_seq_scan_on: Iterable[str] | None = None,
    what: str = "the plan",
) -> None:
    """`assert_uses_index` on a plan already made (`index_name` None: only the scan check)."""
    used = indexes_used(plan)
    guarded = set(no_seq_scan_on) if no_seq_scan_on is not None else tables_read(plan)
    scanned = seq_scanned(plan) & guarded
    if (index_name is not None and index_name not in used) or scanned:
        problem = f"scans {sorted(scanned)}" if scanned else f"does not use {index_name}"
        raise AssertionError(f"{what} {problem}:\n{describe(plan)}")


# --- every statement a piece of work runs ---------------------------------------------------


class Captured:
    """The SQL statements run on `engine` while the block runs (with their parameters)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.statements: list[tuple[str, Any]] = []

    def __enter__(self) -> Captured:
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self._add)
        return self

    def __exit__(self, *exc: object) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._add)

    def _add(self, conn: Any, cursor: Any, statement: str, params: Any, *rest: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in {"SELECT", "UPDATE", "DELETE", "WITH"}:
            self.statements.append((statement, params))

    def plans(self, *, analyze: bool = False) -> list[tuple[str, dict[str, Any]]]:
        """(statement, plan) of each captured statement. With `analyze`, each is run again
        inside one transaction that is rolled back, so the plans carry the rows each node
        really read (`rows_read`)."""
        out = []
        raw = self.engine.raw_connection()
        options = "ANALYZE, FORMAT JSON" if analyze else "FORMAT JSON"
        try:
            cur = raw.cursor()
            for statement, params in self.statements:
                cur.execute(f"EXPLAIN ({options}) {statement}", params)
                out.append((statement, dict(cur.fetchone()[0][0]["Plan"])))
        finally:
            raw.rollback()
            raw.close()
        return out


def rows_read(plan: dict[str, Any], tables: Iterable[str]) -> int:
    """Rows an analyzed plan read from `tables`: returned plus removed by a filter, over all
    loops. An index scan whose index does not bound the due moment (`IS NULL OR <= now`
    filtered row by row) reads history as surely as a sequential scan, and shows up here."""
    wanted = set(tables)
    total = 0
    for n in nodes(plan):
        if n.get("Relation Name") in wanted and "Actual Rows" in n:
            removed = n.get("Rows Removed by Filter", 0) + n.get("Rows Removed by Index Recheck", 0)
            total += int((n["Actual Rows"] + removed) * n.get("Actual Loops", 1))
    return total
