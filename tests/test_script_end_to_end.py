"""A Snowflake dynamic-table script runs unmodified; after writes and a manual refresh every
dynamic table equals its query over the snapshot at its data timestamp (as bags)."""

from __future__ import annotations

import pytest

import snowmelt
from snowmelt.testing import assert_matches_query

SCRIPT = """
-- a small Snowflake project: three schemas, base tables, three levels of dynamic tables
CREATE DATABASE IF NOT EXISTS SHOP;
CREATE SCHEMA IF NOT EXISTS SHOP.BRONZE;
CREATE SCHEMA IF NOT EXISTS SHOP.SILVER;
CREATE SCHEMA IF NOT EXISTS SHOP.GOLD;
CREATE WAREHOUSE IF NOT EXISTS WH_SHOP WITH WAREHOUSE_SIZE = 'XSMALL' AUTO_SUSPEND = 60;
USE DATABASE SHOP;
USE WAREHOUSE WH_SHOP;

CREATE OR REPLACE TABLE BRONZE.ORDERS (
    ORDER_ID NUMBER NOT NULL, CUSTOMER_ID NUMBER, AMOUNT NUMBER(10, 2), STATUS STRING,
    ORDERED_AT TIMESTAMP_NTZ, META VARIANT);
CREATE OR REPLACE TABLE BRONZE.CUSTOMERS (CUSTOMER_ID NUMBER, REGION STRING, TIER STRING);

INSERT INTO BRONZE.CUSTOMERS VALUES (1, 'EU', 'gold'), (2, 'US', 'silver'), (3, 'EU', NULL),
                                    (4, NULL, 'gold');
INSERT INTO BRONZE.ORDERS
SELECT column1, column2, column3, column4, column5::TIMESTAMP_NTZ, PARSE_JSON(column6) FROM VALUES
    (1, 1, 10.50, 'ok', '2024-01-01 10:00:00', '{"channel": "web"}'),
    (2, 2, 20.00, 'ok', '2024-01-01 11:00:00', '{"channel": "app"}'),
    (3, 1, 5.00, 'cancelled', '2024-01-02 09:00:00', NULL),
    (4, 3, 7.25, 'ok', '2024-01-02 12:00:00', '{"channel": "web"}'),
    (5, 4, 7.25, 'ok', '2024-01-02 12:00:00', '{"channel": "web"}');

CREATE OR REPLACE DYNAMIC TABLE SILVER.ORDERS_CLEAN
    TARGET_LAG = '1 minute' WAREHOUSE = WH_SHOP
AS SELECT ORDER_ID, CUSTOMER_ID, AMOUNT, ORDERED_AT,
          COALESCE(META:channel::STRING, 'unknown') AS CHANNEL
   FROM BRONZE.ORDERS WHERE STATUS <> 'cancelled' AND AMOUNT > 0;

CREATE OR REPLACE DYNAMIC TABLE SILVER.ORDERS_BY_CUSTOMER
    TARGET_LAG = '2 minutes' WAREHOUSE = WH_SHOP
AS SELECT o.ORDER_ID, o.AMOUNT, o.ORDERED_AT, o.CHANNEL, c.CUSTOMER_ID, c.REGION, c.TIER,
          ROW_NUMBER() OVER (PARTITION BY c.CUSTOMER_ID ORDER BY o.ORDERED_AT, o.ORDER_ID)
              AS ORDER_SEQ
   FROM SILVER.ORDERS_CLEAN o
   JOIN BRONZE.CUSTOMERS c ON o.CUSTOMER_ID = c.CUSTOMER_ID;

CREATE OR REPLACE DYNAMIC TABLE GOLD.REGION_DAILY
    TARGET_LAG = '5 minutes' WAREHOUSE = WH_SHOP
AS SELECT REGION, DATE_TRUNC('day', ORDERED_AT) AS DAY, COUNT(*) AS ORDERS,
          SUM(AMOUNT) AS REVENUE, COUNT(DISTINCT CUSTOMER_ID) AS CUSTOMERS,
          MAX(ORDER_SEQ) AS MAX_SEQ
   FROM SILVER.ORDERS_BY_CUSTOMER
   GROUP BY REGION, DATE_TRUNC('day', ORDERED_AT)
   HAVING COUNT(*) > 0;
"""

NAMES = ["SHOP.SILVER.ORDERS_CLEAN", "SHOP.SILVER.ORDERS_BY_CUSTOMER", "SHOP.GOLD.REGION_DAILY"]


@pytest.fixture
def shop(db_path):
    s = snowmelt.connect(db_path)
    s.sql(SCRIPT)
    yield s
    s.close()


def test_script_runs_unmodified_and_tables_match_their_queries(shop):
    for name in NAMES:
        assert_matches_query(shop, name)
    assert sorted(
        shop.sql("SELECT REGION, ORDERS FROM SHOP.GOLD.REGION_DAILY").rows(), key=repr
    ) == sorted([("EU", 1), ("US", 1), ("EU", 1), (None, 1)], key=repr)


def test_writes_then_manual_refresh_keep_every_level_exact(shop, db_path):
    shop.sql("""
        USE SCHEMA SHOP.BRONZE;
        INSERT INTO ORDERS VALUES (6, 2, 99.99, 'ok', '2024-01-03 08:00:00', NULL),
                                  (7, 2, 1.00, 'ok', '2024-01-01 09:00:00', NULL);
        UPDATE ORDERS SET AMOUNT = AMOUNT * 2 WHERE CUSTOMER_ID = 1;
        UPDATE ORDERS SET STATUS = 'cancelled' WHERE ORDER_ID = 4;
        DELETE FROM ORDERS WHERE ORDER_ID = 2;
        UPDATE CUSTOMERS SET REGION = 'APAC' WHERE CUSTOMER_ID = 3;
        MERGE INTO CUSTOMERS t USING (SELECT 5 AS CUSTOMER_ID, 'US' AS REGION) s
            ON t.CUSTOMER_ID = s.CUSTOMER_ID
            WHEN NOT MATCHED THEN INSERT (CUSTOMER_ID, REGION, TIER) VALUES (5, 'US', 'new');
        INSERT INTO ORDERS VALUES (8, 5, 3.00, 'ok', '2024-01-03 09:00:00', NULL);
        ALTER DYNAMIC TABLE SHOP.GOLD.REGION_DAILY REFRESH;
    """)
    for name in NAMES:
        assert_matches_query(shop, name)
    history = shop.sql(
        "SELECT NAME, REFRESH_ACTION, REFRESH_TRIGGER, STATE, DATA_TIMESTAMP FROM TABLE("
        "INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY(NAME_PREFIX => 'SHOP.')) "
        "WHERE REFRESH_TRIGGER = 'MANUAL'"
    ).dicts()
    assert {h["NAME"] for h in history} == {"ORDERS_CLEAN", "ORDERS_BY_CUSTOMER", "REGION_DAILY"}
    assert {h["STATE"] for h in history} == {"SUCCEEDED"}
    assert len({h["DATA_TIMESTAMP"] for h in history}) == 1
    status = shop.sql(
        "SELECT QUALIFIED_NAME, LAST_COMPLETED_REFRESH_STATE FROM "
        "TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES())"
    ).rows()
    assert sorted(status) == sorted((n, "SUCCEEDED") for n in NAMES)
    # and all of it is durable: reopen the file and check again
    shop.close()
    with snowmelt.connect(db_path) as again:
        for name in NAMES:
            assert_matches_query(again, name)
        assert again.sql("SELECT COUNT(*) FROM SHOP.BRONZE.ORDERS").scalar() == 7
