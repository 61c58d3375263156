"""A compiled incremental plan and the path from its templates to engine statements.

Compiling a persisted plan (parse the canonical query, decompose it, build the statement
templates) costs milliseconds of sqlglot work, so compiled plans are cached per process. A
template is a Snowflake-dialect sqlglot tree whose inputs are placeholders and whose time
functions are marked; ``engine_query`` binds the statement times, translates once for the
engine (cached unless the plan reads the current time), then swaps in the storage readers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from snowmelt.ivm.canonical import bind_placeholders, bind_time
from snowmelt.names import ObjectName

_CACHE: dict[tuple[int, str], Compiled] = {}
_CACHE_LIMIT = 256


@dataclass
class Compiled:
    """One dynamic table's compiled plan. ``rule`` names the rule module that owns it."""

    rule: str
    plan: dict[str, Any]
    canonical: exp.Expression
    leaves: list[ObjectName]
    templates: dict[str, exp.Expression] = field(default_factory=dict)
    data: Any = None  # the rule's own decomposition (e.g. the grouping)
    _engine: dict[str, exp.Expression] = field(default_factory=dict)

    @property
    def time_dependent(self) -> bool:
        return bool(self.plan.get("time_dependent"))

    def engine_query(self, ctx: Any, name: str,
                     template: exp.Expression | None = None) -> exp.Expression:
        """Template ``name`` ready for ``ctx``'s engine, its inputs bound to ``ctx``'s
        sources."""
        prepared = None if self.time_dependent else self._engine.get(name)
        if prepared is None:
            source = template if template is not None else self.templates[name]
            timed = bind_time(source.copy(), ctx.now, ctx.then) if self.time_dependent \
                else source
            prepared = ctx.to_engine(timed)
            if not self.time_dependent:
                self._engine[name] = prepared
        return bind_placeholders(prepared.copy(), self.reader(ctx))

    def reader(self, ctx: Any) -> Callable[[str, int], exp.Expression]:
        def read(kind: str, leaf: int) -> exp.Expression:
            source = ctx.sources[self.leaves[leaf]]
            if kind == "change":
                return source.change()
            if kind == "old":
                return source.old()
            if kind == "new":
                return source.new()
            raise ValueError(f"unknown placeholder kind {kind!r}")

        return read


def cached(oid: int, plan: dict[str, Any],
           build: Callable[[dict[str, Any]], Compiled]) -> Compiled:
    key = (oid, json.dumps(plan, sort_keys=True, default=str))
    found = _CACHE.get(key)
    if found is None:
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.pop(next(iter(_CACHE)))
        found = _CACHE[key] = build(plan)
    return found
