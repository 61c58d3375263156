"""``ASOF JOIN ... MATCH_CONDITION``: each left row with the closest right row on the side the
comparison names, the right side null-padded when none qualifies (Snowflake's semantics:
every left row is kept). Checked against a brute-force oracle over random data, for the four
comparisons, with ``ON``, ``USING`` and no equality at all; in a dynamic table it refreshes
FULL, with the reason named."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from snowmelt.errors import DynamicTableError, UnsupportedError
from snowmelt.testing import assert_matches_query

BASE = dt.datetime(2026, 1, 1, 10)
OPS = {
    ">=": lambda left, right: right <= left,
    ">": lambda left, right: right < left,
    "<=": lambda left, right: right >= left,
    "<": lambda left, right: right > left,
}


def _closest(op, trade, quotes):
    """The oracle: among right rows qualifying for ``op``, the one nearest in time."""
    found = [q for q in quotes if OPS[op](trade[1], q[1])]
    if not found:
        return None
    return (max if op in (">=", ">") else min)(found, key=lambda q: q[1])


@pytest.fixture
def market(session):
    rng = random.Random(7)
    trades = [
        (rng.choice("ABC"), BASE + dt.timedelta(seconds=rng.randrange(0, 600)), i)
        for i in range(60)
    ]
    # distinct quote times per symbol (ties would make the match arbitrary, as on Snowflake);
    # symbol D has quotes but no trades, C has trades but no quotes
    quotes = []
    for symbol in "ABD":
        for second in rng.sample(range(0, 600), 15):
            quotes.append((symbol, BASE + dt.timedelta(seconds=second), rng.randrange(100, 200)))
    session.sql(
        "CREATE TABLE TRADES (SYM VARCHAR, TS TIMESTAMP_NTZ, QTY INT);"
        "CREATE TABLE QUOTES (SYM VARCHAR, TS TIMESTAMP_NTZ, PX INT)"
    )
    for name, rows in (("TRADES", trades), ("QUOTES", quotes)):
        values = ", ".join(f"('{a}', '{b}', {c})" for a, b, c in rows)
        session.sql(f"INSERT INTO {name} VALUES {values}")
    return session, trades, quotes


@pytest.mark.parametrize("op", list(OPS))
def test_each_left_row_gets_the_closest_right_row_of_its_key(market, op):
    s, trades, quotes = market
    got = s.sql(
        "SELECT t.QTY, q.PX, q.TS FROM TRADES t ASOF JOIN QUOTES q"
        f" MATCH_CONDITION (t.TS {op} q.TS) ON t.SYM = q.SYM"
    ).rows()
    expected = []
    for trade in trades:
        match = _closest(op, trade, [q for q in quotes if q[0] == trade[0]])
        expected.append((trade[2], match[2], match[1]) if match else (trade[2], None, None))
    assert sorted(got) == sorted(expected)
    assert len(got) == len(trades)  # every trade kept, C's null-padded
    assert any(px is None for _, px, _ in got)


def test_using_and_no_equality_at_all(market):
    s, trades, quotes = market
    using = s.sql(
        "SELECT t.QTY, q.PX FROM TRADES t ASOF JOIN QUOTES q"
        " MATCH_CONDITION (t.TS >= q.TS) USING (SYM)"
    ).rows()
    on = s.sql(
        "SELECT t.QTY, q.PX FROM TRADES t ASOF JOIN QUOTES q"
        " MATCH_CONDITION (t.TS >= q.TS) ON t.SYM = q.SYM"
    ).rows()
    assert sorted(using, key=str) == sorted(on, key=str)
    anywhere = s.sql(
        "SELECT t.QTY, q.TS FROM TRADES t ASOF JOIN QUOTES q MATCH_CONDITION (t.TS >= q.TS)"
    ).rows()
    expected = []
    for trade in trades:
        match = _closest(">=", trade, quotes)
        expected.append((trade[2], match[1] if match else None))
    assert sorted(anywhere, key=str) == sorted(expected, key=str)


def test_in_a_dynamic_table_it_refreshes_full_with_the_reason(market):
    s, _, _ = market
    s.sql(
        "CREATE DYNAMIC TABLE PRICED TARGET_LAG = '1 minute' WAREHOUSE = WH AS"
        " SELECT t.SYM, t.TS, t.QTY, q.PX FROM TRADES t ASOF JOIN QUOTES q"
        " MATCH_CONDITION (t.TS >= q.TS) ON t.SYM = q.SYM"
    )
    (row,) = s.sql("SHOW DYNAMIC TABLES").arrow().to_pylist()
    assert (row["refresh_mode"], row["refresh_mode_reason"]) == (
        "FULL",
        "QUERY_NOT_SUPPORTED_FOR_INCREMENTAL",
    )
    assert_matches_query(s, "D.S.PRICED")
    s.sql("INSERT INTO QUOTES VALUES ('C', '2026-01-01 09:00:00', 7)")  # C's trades match now
    s.sql("DELETE FROM QUOTES WHERE SYM = 'A' AND PX > 150")
    s.sql("INSERT INTO TRADES VALUES ('D', '2026-01-01 10:30:00', 99)")
    (done,) = s.sql("ALTER DYNAMIC TABLE PRICED REFRESH").arrow().to_pylist()
    assert done["REFRESH_ACTION"] == "FULL"
    assert_matches_query(s, "D.S.PRICED")
    assert s.sql("SELECT COUNT(*) FROM PRICED WHERE SYM = 'C' AND PX = 7").scalar() > 0
    with pytest.raises(
        DynamicTableError, match=r"ASOF JOIN is not supported by incremental refresh \(line"
    ):
        s.sql(
            "CREATE DYNAMIC TABLE P2 TARGET_LAG = '1 minute' WAREHOUSE = WH"
            " REFRESH_MODE = INCREMENTAL AS SELECT t.QTY, q.PX FROM TRADES t"
            " ASOF JOIN QUOTES q MATCH_CONDITION (t.TS >= q.TS) ON t.SYM = q.SYM"
        )


def test_a_view_over_an_asof_join_reads_the_tables_now(market):
    s, _, _ = market
    s.sql(
        "CREATE VIEW LAST_PX AS SELECT t.QTY, q.PX FROM TRADES t ASOF JOIN QUOTES q"
        " MATCH_CONDITION (t.TS >= q.TS) ON t.SYM = q.SYM"
    )
    s.sql("INSERT INTO TRADES VALUES ('A', '2027-01-01 00:00:00', 1000)")
    s.sql("INSERT INTO QUOTES VALUES ('A', '2026-12-31 00:00:00', 555)")
    assert s.sql("SELECT PX FROM LAST_PX WHERE QTY = 1000").rows() == [(555,)]


def test_using_after_another_join_is_refused_by_name(market):
    s, _, _ = market
    with pytest.raises(UnsupportedError, match=r"ASOF JOIN \.\.\. USING after another join"):
        s.sql(
            "SELECT * FROM TRADES t JOIN TRADES u ON t.QTY = u.QTY"
            " ASOF JOIN QUOTES q MATCH_CONDITION (t.TS >= q.TS) USING (SYM)"
        )
