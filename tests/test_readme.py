"""The README's five-minute tour runs as written, top to bottom, on a real file."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_five_minute_tour_runs_as_written(tmp_path, monkeypatch):
    text = README.read_text()
    tour = re.search(r"## A five-minute tour\n\n```python\n(.*?)```", text, re.S)
    assert tour is not None, "the README lost its tour"
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {}
    exec(compile(tour.group(1), "README tour", "exec"), scope)
    s = scope["s"]
    assert s.sql("SELECT ORDERS, REVENUE FROM SHOP.GOLD.DAILY_REVENUE").rows() == [(1, 12.5)]
    assert (
        s.sql(
            "SELECT COUNT(*) FROM SHOP.BRONZE.ORDERS AT(TIMESTAMP => ?)",
            params=[scope["before_insert"]],
        ).scalar()
        == 0
    )
    assert (tmp_path / "shop.duckdb").exists()
    s.close()
