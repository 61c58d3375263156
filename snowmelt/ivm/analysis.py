"""Which strategy maintains a query — or the construct that forces FULL, and where it is.

``analyze`` runs at CREATE. It first looks for constructs no rule maintains (the reference's
list: non-deterministic functions, LIMIT/TOP, set difference, subqueries outside FROM,
ROLLUP/CUBE/GROUPING SETS, WITH RECURSIVE, the current time outside WHERE/HAVING/QUALIFY,
and, until their rules exist, joins, windows, QUALIFY and LATERAL FLATTEN), reporting the
first one in the text with its line and column. It then canonicalizes the query
(``canonical``) and offers it to the rules in ``rules.RULES`` order; the first rule that
claims the query plans it. A rule may still refuse a claimed query (e.g. GROUP BY over a
subquery that aggregates), naming the construct.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.errors import OptimizeError

from snowmelt.ivm.aggregate import Unsupported
from snowmelt.ivm.canonical import TIME_NODES, canonicalize, table_name, time_nodes
from snowmelt.ivm.distinct import union_to_distinct
from snowmelt.ivm.linear import number_leaves
from snowmelt.names import ObjectName

FORMAT = 1

_RANDOM = (exp.Rand, exp.Randn, exp.Randstr, exp.Uuid, exp.Seq1, exp.Seq2, exp.Seq4, exp.Seq8)
_CONTEXT = tuple(getattr(exp, n) for n in (
    "CurrentUser", "CurrentRole", "CurrentWarehouse", "CurrentAccount", "CurrentRegion",
    "CurrentSession", "CurrentStatement", "CurrentTransaction", "CurrentClient",
    "CurrentIpAddress", "CurrentAvailableRoles", "CurrentSecondaryRoles", "CurrentUserId",
    "CurrentOrganizationUser", "CurrentAccountName", "CurrentOrganizationName",
    "CurrentRoleType", "CurrentVersion") if hasattr(exp, n))
_RANDOM_NAMES = {"RANDOM", "UUID_STRING", "SEQ1", "SEQ2", "SEQ4", "SEQ8", "NORMAL", "UNIFORM",
                 "ZIPF", "RANDSTR", "RANDOM_STRING", "UUID", "GEN_RANDOM_UUID", "NEXTVAL"}
_NOT = "is not supported by incremental refresh"
_LATER = "is not supported by incremental refresh yet"


def _refuse(construct: str, node: exp.Expr, hint: str = "",
            verb: str = _NOT) -> Unsupported:
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
    return {"expressions": "SELECT", "where": "WHERE", "having": "HAVING",
            "qualify": "QUALIFY", "group": "GROUP BY", "order": "ORDER BY",
            "joins": "JOIN", "from_": "FROM"}.get(key, key.upper())


def _misplaced_query(node: exp.Query) -> str | None:
    """A construct name when query ``node`` sits outside FROM / set operations / CTEs."""
    parent = node.parent
    relational = exp.Union | exp.Except | exp.Intersect | exp.CTE | exp.From | exp.Join
    if parent is None or isinstance(parent, relational) or (
            isinstance(parent, exp.Subquery) and isinstance(node, exp.Subquery)):
        return None
    if isinstance(parent, exp.Subquery):
        holder = parent.parent
        if holder is None or isinstance(holder, exp.From | exp.Join | exp.Union | exp.Except |
                                        exp.Intersect | exp.CTE | exp.Subquery):
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


def _join_name(join: exp.Join) -> str:
    inner = join.this
    if isinstance(inner, exp.Lateral):
        return "LATERAL FLATTEN" if isinstance(inner.this, exp.Explode) or "FLATTEN" in \
            inner.sql("snowflake").upper() else "LATERAL"
    if isinstance(inner, exp.Unnest | exp.TableFromRows):
        return "table function in FROM"
    words = [w for w in (join.side, join.kind) if w]
    if not words and not join.args.get("on") and not join.args.get("using"):
        return "JOIN (comma-separated FROM)"
    return " ".join(words + ["JOIN"]).upper()


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
        name = "FETCH" if isinstance(node, exp.Fetch) else (
            "OFFSET" if isinstance(node, exp.Offset) else "LIMIT/TOP")
        return _refuse(name, node)
    if isinstance(node, exp.Rollup | exp.Cube | exp.GroupingSets):
        name = {exp.Rollup: "ROLLUP", exp.Cube: "CUBE"}.get(type(node), "GROUPING SETS")
        return _refuse(f"GROUP BY {name}", node)
    if isinstance(node, exp.Query) and (found := _misplaced_query(node)):
        return _refuse(found, node, " (subqueries are supported only in FROM)")
    if isinstance(node, exp.Window) and _clause(node) != "QUALIFY":
        return _refuse("window function (OVER ...)", node, verb=_LATER)
    if isinstance(node, exp.Select) and node.args.get("qualify"):
        return _refuse("QUALIFY", node.args["qualify"], verb=_LATER)
    if isinstance(node, exp.Join):
        return _refuse(_join_name(node), node, verb=_LATER)
    if isinstance(node, exp.Lateral | exp.TableFromRows) or (
            isinstance(node, exp.Unnest) and node.find_ancestor(exp.From) is not None):
        return _refuse("LATERAL / table function", node, verb=_LATER)
    if isinstance(node, exp.Pivot):
        return _refuse("UNPIVOT" if node.args.get("unpivot") else "PIVOT", node, verb=_LATER)
    if isinstance(node, exp.TableSample):
        return _refuse("SAMPLE", node)
    if isinstance(node, exp.HistoricalData):
        return _refuse("AT/BEFORE (time travel)", node)
    if isinstance(node, exp.MatchRecognize):
        return _refuse("MATCH_RECOGNIZE", node)
    if isinstance(node, _RANDOM) or (isinstance(node, exp.Anonymous) and
                                     node.name.upper() in _RANDOM_NAMES) or (
            isinstance(node, exp.Column) and node.name.upper() == "NEXTVAL" and node.table):
        name = "sequence NEXTVAL" if isinstance(node, exp.Column) else _function_name(node)
        return _refuse(name, node, " (it is not deterministic)")
    if _CONTEXT and isinstance(node, _CONTEXT):
        return _refuse(_function_name(node), node, " (it depends on the session)")
    if isinstance(node, TIME_NODES):
        clause = _clause(node)
        if clause not in ("WHERE", "HAVING", "QUALIFY"):
            return _refuse(f"{_function_name(node)} in {clause}", node,
                           " (the current time is allowed only in WHERE, HAVING and QUALIFY)")
    if isinstance(node, exp.Table) and node.args.get("db") is not None:
        read = table_name(node)
        if read is not None and read not in sources:
            return _refuse(f"reading the view {read}", node, "; read its tables directly, or "
                           "make the view a dynamic table")
    return None


def first_problem(query: exp.Expr,
                  sources: dict[ObjectName, Any]) -> Unsupported | None:
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
        return {"mode": FULL, "reason": QUERY_NOT_SUPPORTED, "construct": reason.construct,
                "message": reason.message, "line": reason.line, "column": reason.column}

    found = first_problem(query, sources)
    if found is not None:
        return refuse(found)
    try:
        canonical = canonicalize(query, {n: list(s.columns) for n, s in sources.items()})
        canonical = union_to_distinct(canonical)
    except OptimizeError as err:
        return refuse(Unsupported("query", f"the query could not be analysed for incremental "
                                  f"refresh ({err})"))
    except Unsupported as err:
        return refuse(err)
    leaves = number_leaves(canonical)
    for rule in RULES:
        try:
            planned = rule.plan(canonical, leaves)
        except Unsupported as err:
            return refuse(err)
        if planned is None:
            continue
        plan = dict(planned.fields, format=FORMAT, rule=rule.name,
                    query=canonical.sql("snowflake"),
                    time_dependent=bool(time_nodes(canonical)))
        plan["materialize"] = rule.materialize(rule.compile(-1, plan)).sql("snowflake")
        return {"mode": INCREMENTAL, "strategy": planned.strategy,
                "state_columns": planned.state, "plan": plan}
    return refuse(Unsupported("query", "no incremental strategy matches this query", canonical))
