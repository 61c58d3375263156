"""``HASH_AGG``: an order-independent hash of a bag of rows — equal bags give equal values,
a changed, added or repeated row changes it; ``DISTINCT`` ignores repeats; 0 over no rows.
The use it serves: checking a dynamic table against its query."""

from __future__ import annotations

import random

import pytest


@pytest.fixture
def s(session):
    rng = random.Random(3)
    rows = [(rng.randint(1, 5), rng.choice(["a", "b", None]), rng.random()) for _ in range(40)]
    session.sql("CREATE TABLE T (K INT, S STRING, X DOUBLE); CREATE TABLE U LIKE T")
    for table, order in (("T", rows), ("U", rng.sample(rows, len(rows)))):  # U: shuffled
        values = ", ".join(f"({k}, {'NULL' if v is None else repr(v)}, {x})" for k, v, x in order)
        session.sql(f"INSERT INTO {table} VALUES {values}")
    return session


def agg(s, sql):
    return s.sql(sql).scalar()


def test_equal_bags_hash_equal_and_any_difference_shows(s):
    whole = agg(s, "SELECT HASH_AGG(*) FROM T")
    assert whole == agg(s, "SELECT HASH_AGG(*) FROM U")  # another order, same rows
    assert whole == agg(s, "SELECT HASH_AGG(K, S, X) FROM T")
    assert agg(s, "SELECT HASH_AGG(K) FROM T") != whole
    s.sql("UPDATE U SET X = X + 1 WHERE K = (SELECT MIN(K) FROM U)")
    assert agg(s, "SELECT HASH_AGG(*) FROM U") != whole
    s.sql("CREATE TABLE V AS SELECT * FROM T; INSERT INTO V SELECT * FROM T LIMIT 1")
    assert agg(s, "SELECT HASH_AGG(*) FROM V") != whole  # a repeated row counts
    assert agg(s, "SELECT HASH_AGG(DISTINCT K) FROM V") == agg(
        s, "SELECT HASH_AGG(DISTINCT K) FROM T"
    )
    assert agg(s, "SELECT HASH_AGG(*) FROM T WHERE K > 100") == 0
    groups = s.sql("SELECT K, HASH_AGG(S) FROM T GROUP BY K ORDER BY K").rows()
    assert groups == s.sql("SELECT K, HASH_AGG(S) FROM U GROUP BY K ORDER BY K").rows()


def test_it_checks_a_dynamic_table_against_its_query(s):
    query = "SELECT K, COUNT(*) AS N, SUM(X) AS TOTAL FROM T GROUP BY K"
    s.sql(f"CREATE DYNAMIC TABLE D1 TARGET_LAG = '1 minute' WAREHOUSE = WH AS {query}")
    rng = random.Random(8)
    for step in range(6):
        s.sql(f"INSERT INTO T VALUES ({rng.randint(1, 7)}, 'n', {step})")
        s.sql(f"DELETE FROM T WHERE K = {rng.randint(1, 7)} AND X < 0.3")
        s.sql("ALTER DYNAMIC TABLE D1 REFRESH")
        # ROUND: the sums are floats, added in another order
        table = agg(s, "SELECT HASH_AGG(K, N, ROUND(TOTAL, 9)) FROM D1")
        assert table == agg(s, f"SELECT HASH_AGG(K, N, ROUND(TOTAL, 9)) FROM ({query})")
