"""The incremental compiler: decides how a dynamic table can be refreshed and builds the
SQL (sqlglot expressions) that refreshes it from the net changes of its sources.

Inputs: the dynamic table's query — normalized (upper-case identifiers), every table
reference a three-part name of a tracked source (views already inlined) — and what is known
about the sources. Outputs: an ``Analysis`` (resolved mode, the reference's
``refresh_mode_reason``, the construct that forces FULL and where it is, hidden state
columns) and, at refresh time, the statements that move the table from its old state to its
new one through ``snowmelt.storage`` primitives.

The refresh executor (``snowmelt.refresh``) owns transactions, versions and history; this
package owns only the algebra.
"""

from __future__ import annotations

from snowmelt.ivm.api import (
    Analysis,
    IncrementalContext,
    Source,
    SourceInfo,
    analyze,
    refresh_incremental,
)

__all__ = ["Analysis", "IncrementalContext", "Source", "SourceInfo", "analyze",
           "refresh_incremental"]
