"""A compiled incremental plan and the path from its templates to engine statements.

Compiling a persisted plan (parse the canonical query, decompose it, build the statement
templates) costs milliseconds of sqlglot work, so compiled plans are cached per process, and
with them the SQL their statements rendered to (``memo``).

A template is a Snowflake-dialect sqlglot tree whose inputs are placeholders and whose time
functions are marked. A source's change is read with the version range as parameters
(``$a<i>``/``$b<i>``, see ``change_params``), so a template that reads only changes is
*static*: translated and rendered once, reused by every later refresh (``statement``). A
template that reads old or new states, or the current time, is bound, translated and
rendered at each refresh.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from snowmelt.ivm.canonical import PLACEHOLDER, bind_placeholders, bind_time
from snowmelt.ivm.runner import Runner, Statement
from snowmelt.names import ObjectName

# Compiled plans per store (one database), keyed by everything their SQL depends on.
_CACHE: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], Compiled]] = (
    weakref.WeakKeyDictionary()
)
_CACHE_LIMIT = 256


# Versions no real table reaches; the readers turn them into parameters.
_AFTER, _UPTO = 9_000_000_000_000_000_000, 9_100_000_000_000_000_000
_AT = 9_200_000_000_000_000_000


def _bound(kind: str, source: int) -> exp.Placeholder:
    return exp.Placeholder(this=f"{kind}{source}")


@dataclass
class Compiled:
    """One dynamic table's compiled plan. ``rule`` names the rule module that owns it."""

    rule: str
    plan: dict[str, Any]
    canonical: exp.Expr
    leaves: list[ObjectName]
    templates: dict[str, exp.Expr] = field(default_factory=dict)
    # builds ``templates`` on first use: CREATE compiles a plan only for its full contents
    builder: Callable[[], dict[str, exp.Expr]] | None = None
    data: Any = None  # the rule's own decomposition (e.g. the grouping)
    memo: dict[str, str] = field(default_factory=dict)  # rendered SQL by statement key

    @property
    def time_dependent(self) -> bool:
        return bool(self.plan.get("time_dependent"))

    def reads_states(self, template: exp.Expr) -> bool:
        return any(
            t.name.startswith((f"{PLACEHOLDER}old_", f"{PLACEHOLDER}new_"))
            for t in template.find_all(exp.Table)
        )

    def template(self, name: str) -> exp.Expr:
        """Template ``name``, building the rule's templates the first time one is asked."""
        if name not in self.templates and self.builder is not None:
            self.templates.update(self.builder())
            self.builder = None
        return self.templates[name]

    def statement(
        self, ctx: Any, run: Runner, name: str, template: exp.Expr | None = None
    ) -> tuple[Statement, str | None]:
        """Template ``name`` for ``ctx``'s engine and the key its SQL may be cached under
        (None when it must be rendered again at each refresh)."""
        source = template if template is not None else self.template(name)
        dynamic = self.time_dependent  # versions are parameters: only the time is bound

        def build() -> exp.Expr:
            timed = bind_time(source.copy(), ctx.now, ctx.then) if self.time_dependent else source
            return bind_placeholders(ctx.to_engine(timed), self.reader(ctx, run))

        return build, (None if dynamic else f"template:{name}")

    def reader(
        self, ctx: Any, run: Runner
    ) -> Callable[[str, int, frozenset[str] | None], exp.Expr]:
        def read(kind: str, leaf: int, names: frozenset[str] | None) -> exp.Expr:
            if kind == "change":
                return self.change_reader(ctx, leaf, names)
            if kind in ("old", "new"):
                return self.state_reader(ctx, leaf, kind, names)
            raise ValueError(f"unknown placeholder kind {kind!r}")

        return read

    def change_reader(self, ctx: Any, leaf: int, names: frozenset[str] | None = None) -> exp.Expr:
        """Leaf ``leaf``'s source change (``Store.change``) over the parameterized version
        range ($a<i>, $b<i>], i the source's first reference; only the columns in ``names``
        (upper case; None: all), since binding and planning every column of a wide source
        in each of a statement's readers is much of a small refresh's time."""
        first = self.leaves.index(self.leaves[leaf])
        source = ctx.sources[self.leaves[leaf]]
        reader = ctx.store.change(source.oid, _narrowed(source.columns, names), _AFTER, _UPTO)
        bounds = {str(_AFTER): _bound("a", first), str(_UPTO): _bound("b", first)}

        def swap(node: exp.Expr) -> exp.Expr:
            if isinstance(node, exp.Literal) and not node.is_string and node.this in bounds:
                return bounds[node.this].copy()
            return node

        return reader.transform(swap, copy=False)

    def state_reader(
        self, ctx: Any, leaf: int, kind: str, names: frozenset[str] | None = None
    ) -> exp.Expr:
        """Leaf ``leaf``'s source as of the version it was last consumed at (``old``, $o<i>)
        or of this refresh (``new``, $n<i>), with row ids; only the columns in ``names``."""
        first = self.leaves.index(self.leaves[leaf])
        source = ctx.sources[self.leaves[leaf]]
        reader = ctx.store.snapshot(
            source.oid, _narrowed(source.columns, names), _AT, with_row_id=True
        )
        bound = _bound("o" if kind == "old" else "n", first)

        def swap(node: exp.Expr) -> exp.Expr:
            if isinstance(node, exp.Literal) and not node.is_string and node.this == str(_AT):
                return bound.copy()
            return node

        return reader.transform(swap, copy=False)

    def read_changes(self, ctx: Any, run: Runner) -> None:
        """No-op kept for rules written against the earlier interface (which copied each
        change into a scratch table first): changes are now read inline, parameterized."""

    def change_params(self, ctx: Any) -> dict[str, Any]:
        """The version range of each source's change (and the versions of its old and new
        states), by parameter name."""
        params: dict[str, Any] = {}
        for leaf, name in enumerate(self.leaves):
            if self.leaves.index(name) == leaf:
                source = ctx.sources[name]
                params[f"a{leaf}"] = params[f"o{leaf}"] = source.old_version
                params[f"b{leaf}"] = params[f"n{leaf}"] = source.new_version
        return params


def _narrowed(columns: list[str], names: frozenset[str] | None) -> list[str]:
    return list(columns) if names is None else [c for c in columns if c.upper() in names]


def cached(ctx: Any, build: Callable[[dict[str, Any]], Compiled]) -> Compiled:
    """The compiled plan of ``ctx``'s table. The SQL a plan renders depends on the plan, the
    table's columns and each source's object id and columns, so all of them are the key;
    plans are kept per store, as object ids are only unique within one database."""
    sources = tuple(
        (str(n), s.oid, tuple(s.columns))
        for n, s in sorted(ctx.sources.items(), key=lambda item: str(item[0]))
    )
    key = (
        ctx.target_oid,
        json.dumps(ctx.plan, sort_keys=True, default=str),
        tuple(ctx.columns),
        sources,
    )
    plans = _CACHE.setdefault(ctx.store, {})
    found = plans.get(key)
    if found is None:
        if len(plans) >= _CACHE_LIMIT:
            plans.pop(next(iter(plans)))
        found = plans[key] = build(ctx.plan)
    return found


def forget(store: Any, oid: int) -> None:
    """Drop the compiled plans of table ``oid`` (its physical types changed)."""
    plans = _CACHE.get(store, {})
    for key in [k for k in plans if k[0] == oid]:
        del plans[key]
