"""Which strategy maintains a query — or the construct that forces FULL, and where it is.

``analyze`` runs at CREATE. It first looks for constructs no rule maintains (the reference's
list: non-deterministic functions, LIMIT/TOP, set difference, subqueries outside FROM,
ROLLUP/CUBE/GROUP SETS, WITH RECURSIVE, the current time outside WHERE/HAVING/QUALIFY,
windows without PARTITION BY, lateral joins other than FLATTEN, NATURAL and ASOF joins),
reporting the first one in the text with its line and column. It then canonicalizes the
query (``canonical``, ``normalize``), refuses outer joins whose sides meet other than by
equality, and offers it to the rules in ``rules.RULES`` order; the first rule that claims
the query plans it. A rule may still refuse a claimed query (e.g. windows that share no
PARTITION BY key), naming the construct.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.errors import OptimizeError

from snowmelt.ivm.aggregate import Unsupported
from snowmelt.ivm.canonical import TIME_NODES, canonicalize, table_name, time_nodes
from snowmelt.ivm.distinct import union_to_distinct
from snowmelt.ivm.linear import number_leaves
from snowmelt.ivm.normalize import normalize
from snowmelt.names import ObjectName

FORMAT = 1

_RANDOM = (exp.Rand, exp.Randn, exp.Randstr, exp.Uuid, exp.Seq1, exp.Seq2, exp.Seq4, exp.Seq8)
_CONTEXT = tuple(
    getattr(exp, n)
    for n in (
        "CurrentUser",
        "CurrentRole",
        "CurrentWarehouse",
        "CurrentAccount",
        "CurrentRegion",
        "CurrentSession",
        "CurrentStatement",
        "CurrentTransaction",
        "CurrentClient",
        "CurrentIpAddress",
        "CurrentAvailableRoles",
        "CurrentSecondaryRoles",
        "CurrentUserId",
        "CurrentOrganizationUser",
        "CurrentAccountName",
        "CurrentOrganizationName",
        "CurrentRoleType",
        "CurrentVersion",
    )
    if hasattr(exp, n)
)
_RANDOM_NAMES = {
    "RANDOM",
    "UUID_STRING",
    "SEQ1",
    "SEQ2",
    "SEQ4",
    "SEQ8",
    "NORMAL",
    "UNIFORM",
    "ZIPF",
    "RANDSTR",
    "RANDOM_STRING",
    "UUID",
    "GEN_RANDOM_UUID",
    "NEXTVAL",
}
_NOT = "is not supported by incremental refresh"
_LATER = "is not supported by incremental refresh yet"


def _refuse(construct: str, node: exp.Expr, hint: str = "", verb: str = _NOT) -> Unsupported:
    return Unsupported(construct, f"{construct} {verb}{hint}", node)


def _function_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).upper()
    return node.sql("snowflake").split("(")[0].strip().upper()


def _clause(node: exp.Expr) -> str:
    """The clause of the nearest enclosing SELECT that contains ``node``."""
    child, parent = node, node.parent
    while parent is not None and not isinstance(parent, exp.Select):
        child, parent = parent, parent.parent
    if parent is None:
        return "SELECT"
    key = child.arg_key or ""
    return {
        "expressions": "SELECT",
        "where": "WHERE",
        "having": "HAVING",
        "qualify": "QUALIFY",
        "group": "GROUP BY",
        "order": "ORDER BY",
        "joins": "JOIN",
        "from_": "FROM",
    }.get(key, key.upper())


def _misplaced_query(node: exp.Query) -> str | None:
    """A construct name when query ``node`` sits outside FROM / set operations / CTEs."""
    parent = node.parent
    relational = (
        exp.Union | exp.Except | exp.Intersect | exp.CTE | exp.From | exp.Join | exp.Lateral
    )
    if (
        parent is None
        or isinstance(parent, relational)
        or (isinstance(parent, exp.Subquery) and isinstance(node, exp.Subquery))
    ):
        return None
    if isinstance(parent, exp.Subquery):
        holder = parent.parent
        if holder is None or isinstance(
            holder,
            exp.From
            | exp.Join
            | exp.Union
            | exp.Except
            | exp.Intersect
            | exp.CTE
            | exp.Subquery
            | exp.Lateral,
        ):
            return None
        node = parent
        parent = holder
    if isinstance(parent, exp.Exists):
        return "EXISTS (subquery)"
    if isinstance(parent, exp.In):
        return "IN (subquery)"
    if isinstance(parent, exp.Any | exp.All):
        return f"{parent.key.upper()} (subquery)"
    return f"subquery in {_clause(node)}"


def _is_flatten(node: exp.Expr) -> bool:
    """LATERAL FLATTEN or SPLIT_TO_TABLE: rows computed from one row of the left side alone,
    so linear (the change of the left side, expanded)."""
    return isinstance(node.this, exp.Explode | exp.SplitToTable)


def _join_problem(join: exp.Join) -> Unsupported | None:
    method = str(join.args.get("method") or "").upper()
    if method == "NATURAL":
        return _refuse("NATURAL JOIN", join, "; join with explicit ON conditions")
    if method == "ASOF":  # a closest match, not an equality: its changes are not keyed
        return _refuse("ASOF JOIN", join)
    if str(join.kind or "").upper() in ("SEMI", "ANTI"):
        return _refuse(f"{join.kind} JOIN", join)
    return None


def canonical_problem(query: exp.Expr) -> Unsupported | None:
    """What only the canonical (qualified) query shows: an outer join whose sides meet other
    than by equality, FLATTEN's SEQ column, ``*`` over a table function."""
    from snowmelt.ivm.outer import NotEquiJoin, split

    flattened = {
        n.alias_or_name: n for n in query.find_all(exp.Lateral, exp.TableFromRows) if _is_flatten(n)
    }
    for col in query.find_all(exp.Column):
        if col.table in flattened and col.name.upper() == "SEQ":
            at = col if col.meta.get("line") else flattened[col.table]  # SELECT * shows none
            return Unsupported(
                "FLATTEN's SEQ column",
                "FLATTEN's SEQ column is not supported "
                "by incremental refresh; select the other FLATTEN columns by "
                "name",
                at,
            )
    for select in query.find_all(exp.Select):
        joins = select.args.get("joins") or []
        if not joins or select.args.get("from_") is None:
            continue
        aliases = [select.args["from_"].this.alias_or_name]
        for join in joins:
            side = str(join.side or "").upper()
            if side in ("LEFT", "RIGHT", "FULL") and not isinstance(join.this, exp.Lateral):
                try:
                    split(join.args.get("on"), set(aliases), join.this.alias_or_name)
                except NotEquiJoin as err:
                    return Unsupported(
                        f"{side} OUTER JOIN with a non-equality condition",
                        f"{side} OUTER JOIN with a non-equality condition is "
                        f"not supported by incremental refresh: {err}",
                        err.node,
                    )
            aliases.append(join.this.alias_or_name)
        if any(
            isinstance(s, exp.Star) or (isinstance(s, exp.Column) and isinstance(s.this, exp.Star))
            for s in select.expressions
        ):
            return Unsupported(
                "SELECT * over a table function",
                "SELECT * over a table "
                "function is not supported by incremental refresh; name the "
                "columns",
                select,
            )
    return None


def problem(node: exp.Expr, sources: dict[ObjectName, Any]) -> Unsupported | None:
    """The reason ``node`` itself keeps the query from incremental refresh, if any."""
    if isinstance(node, exp.With) and node.args.get("recursive"):
        return _refuse("WITH RECURSIVE", node)
    if isinstance(node, exp.Connect):
        return _refuse("CONNECT BY", node)
    if isinstance(node, exp.Except | exp.Intersect):
        name = "INTERSECT" if isinstance(node, exp.Intersect) else "EXCEPT/MINUS"
        return _refuse(name, node.expression)
    if isinstance(node, exp.Limit | exp.Fetch | exp.Offset):
        name = (
            "FETCH"
            if isinstance(node, exp.Fetch)
            else ("OFFSET" if isinstance(node, exp.Offset) else "LIMIT/TOP")
        )
        return _refuse(name, node)
    if isinstance(node, exp.Rollup | exp.Cube | exp.GroupingSets):
        name = {exp.Rollup: "ROLLUP", exp.Cube: "CUBE"}.get(type(node), "GROUPING SETS")
        return _refuse(f"GROUP BY {name}", node)
    if isinstance(node, exp.Query) and (found := _misplaced_query(node)):
        return _refuse(found, node, " (subqueries are supported only in FROM)")
    if isinstance(node, exp.Window) and not node.args.get("partition_by"):
        return _refuse(
            "window function without PARTITION BY",
            node,
            " (every refresh would recompute the whole table); add a PARTITION BY",
        )
    if isinstance(node, exp.Join) and (joined := _join_problem(node)):
        return joined
    if (
        isinstance(node, exp.Lateral | exp.TableFromRows)
        and not _is_flatten(node)
        or (isinstance(node, exp.Unnest) and node.find_ancestor(exp.From) is not None)
    ):
        name = "LATERAL subquery" if isinstance(node, exp.Lateral) else "table function"
        return _refuse(
            name, node, " (of lateral joins, only LATERAL FLATTEN and SPLIT_TO_TABLE are)"
        )
    if isinstance(node, exp.Pivot):
        return _refuse("UNPIVOT" if node.args.get("unpivot") else "PIVOT", node, verb=_LATER)
    if isinstance(node, exp.TableSample):
        return _refuse("SAMPLE", node)
    if isinstance(node, exp.HistoricalData):
        return _refuse("AT/BEFORE (time travel)", node)
    if isinstance(node, exp.MatchRecognize):
        return _refuse("MATCH_RECOGNIZE", node)
    if (
        isinstance(node, _RANDOM)
        or (isinstance(node, exp.Anonymous) and node.name.upper() in _RANDOM_NAMES)
        or (isinstance(node, exp.Column) and node.name.upper() == "NEXTVAL" and node.table)
    ):
        name = "sequence NEXTVAL" if isinstance(node, exp.Column) else _function_name(node)
        return _refuse(name, node, " (it is not deterministic)")
    if _CONTEXT and isinstance(node, _CONTEXT):
        return _refuse(_function_name(node), node, " (it depends on the session)")
    if isinstance(node, TIME_NODES):
        clause = _clause(node)
        if clause not in ("WHERE", "HAVING", "QUALIFY"):
            return _refuse(
                f"{_function_name(node)} in {clause}",
                node,
                " (the current time is allowed only in WHERE, HAVING and QUALIFY)",
            )
    if isinstance(node, exp.Table) and node.args.get("db") is not None:
        read = table_name(node)
        if read is not None and read not in sources:
            return _refuse(
                f"reading the view {read}",
                node,
                "; read its tables directly, or make the view a dynamic table",
            )
    return None


def first_problem(query: exp.Expr, sources: dict[ObjectName, Any]) -> Unsupported | None:
    """The unsupported construct that comes first in the statement text."""
    found = [p for node in query.walk(bfs=False) if (p := problem(node, sources))]
    if not found:
        return None
    return min(found, key=lambda p: (p.line or 1 << 30, p.column or 1 << 30))


def analyze(query: exp.Expr, sources: dict[ObjectName, Any]) -> dict[str, Any]:
    """Plan ``query`` or explain why not. Returns the fields of ``api.Analysis``."""
    from snowmelt.ivm.api import FULL, INCREMENTAL, QUERY_NOT_SUPPORTED
    from snowmelt.ivm.rules import RULES

    def refuse(reason: Unsupported) -> dict[str, Any]:
        return {
            "mode": FULL,
            "reason": QUERY_NOT_SUPPORTED,
            "construct": reason.construct,
            "message": reason.message,
            "line": reason.line,
            "column": reason.column,
        }

    found = first_problem(query, sources)
    if found is not None:
        return refuse(found)
    try:
        canonical = canonicalize(query, {n: list(s.columns) for n, s in sources.items()})
        canonical = normalize(union_to_distinct(canonical))
    except OptimizeError as err:
        return refuse(
            Unsupported("query", f"the query could not be analysed for incremental refresh ({err})")
        )
    except Unsupported as err:
        return refuse(err)
    found = canonical_problem(canonical)
    if found is not None:
        return refuse(found)
    leaves = number_leaves(canonical)
    for rule in RULES:
        try:
            planned = rule.plan(canonical, leaves)
        except Unsupported as err:
            return refuse(err)
        if planned is None:
            continue
        plan = dict(
            planned.fields,
            format=FORMAT,
            rule=rule.name,
            query=canonical.sql("snowflake"),
            time_dependent=bool(time_nodes(canonical)),
        )
        plan["materialize"] = rule.materialize(rule.compile(-1, plan)).sql("snowflake")
        return {
            "mode": INCREMENTAL,
            "strategy": planned.strategy,
            "state_columns": planned.state,
            "plan": plan,
        }
    return refuse(Unsupported("query", "no incremental strategy matches this query", canonical))
