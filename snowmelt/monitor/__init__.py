"""Pipeline status for people and machines: ``snowmelt monitor`` and the dashboard's data.

Role: tell whether every dynamic table is healthy (state, refresh mode, lag against its
target lag, last refresh) and show it. Inputs: a session (local ``Session`` or
``RemoteSession``), or on the command line a database file. Outputs: JSON-ready status
documents, rich renderables, and the click commands ``monitor`` and ``dashboard``.

Modules, imports pointing one way (``commands`` -> ``render`` -> ``status`` -> ``schema``):

* :mod:`~snowmelt.monitor.schema` -- the JSON Schemas (draft 2020-12) of the documents;
* :mod:`~snowmelt.monitor.status` -- ``collect``, ``health_report``, ``recent_refreshes``:
  status gathered with ``session.sql()`` only, "now" on the session's clock;
* :mod:`~snowmelt.monitor.render` -- the rich dashboard, the refresh history, ``watch``;
* :mod:`~snowmelt.monitor.commands` -- ``snowmelt monitor`` (``--mode
  dashboard|health|history|json``) and ``snowmelt dashboard`` (prints the web dashboard's URL
  for a running server, see ``snowmelt.server.dashboard``).

    >>> status = collect(snowmelt.connect("demo.duckdb"))  # doctest: +SKIP
    >>> health_report(status)["status"]  # doctest: +SKIP
    'HEALTHY'
"""

from __future__ import annotations

from snowmelt.monitor.commands import dashboard, monitor, open_session
from snowmelt.monitor.render import Dashboard, render_dashboard, render_history, watch
from snowmelt.monitor.schema import (
    BASE_TABLE_SCHEMA,
    DYNAMIC_TABLE_SCHEMA,
    HEALTH_SCHEMA,
    NEAR_TARGET,
    REFRESH_SCHEMA,
    SCHEMA_VERSION,
    STATUS_SCHEMA,
)
from snowmelt.monitor.status import (
    FAILED_STATES,
    LAYER_HINTS,
    MEDALLION,
    collect,
    health_report,
    layer_of,
    recent_refreshes,
    source_of,
)

__all__ = [
    "BASE_TABLE_SCHEMA",
    "DYNAMIC_TABLE_SCHEMA",
    "FAILED_STATES",
    "HEALTH_SCHEMA",
    "LAYER_HINTS",
    "MEDALLION",
    "NEAR_TARGET",
    "REFRESH_SCHEMA",
    "SCHEMA_VERSION",
    "STATUS_SCHEMA",
    "Dashboard",
    "collect",
    "dashboard",
    "health_report",
    "layer_of",
    "monitor",
    "open_session",
    "recent_refreshes",
    "render_dashboard",
    "render_history",
    "source_of",
    "watch",
]
