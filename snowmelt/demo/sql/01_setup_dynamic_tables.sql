-- =============================================================================
-- Dynamic Tables demo: medallion pipeline (Bronze -> Silver -> Gold)
-- =============================================================================
-- Genuine Snowflake SQL: this same script runs on Snowflake and on snowmelt.
--
--   BRONZE  raw feeds as sources send them (strings, JSON payloads) + dimensions
--   SILVER  dynamic tables, TARGET_LAG = '1 minute': typed, validated, enriched
--   GOLD    dynamic tables, TARGET_LAG = '5 minutes': business aggregates
--   GOLD    monitoring views over INFORMATION_SCHEMA table functions
--
-- Data flows:
--   RAW_SENSOR_READINGS -> SENSOR_READINGS_CLEANED -> DEVICE_HEALTH_HOURLY
--   RAW_TRANSACTIONS    -> TRANSACTIONS_ENRICHED   -> DAILY_SALES_SUMMARY
--                                                  -> PRODUCT_PERFORMANCE
--   RAW_CUSTOMER_EVENTS -> CUSTOMER_SESSIONS       -> CUSTOMER_BEHAVIOR_METRICS
--
-- Every dynamic table uses only incrementally maintainable constructs: projections,
-- filters, CASE/IFF, casts, JSON paths, equi-joins, GROUP BY, and window functions
-- that are always partitioned. Rates are guarded with DIV0.
-- =============================================================================


-- -----------------------------------------------------------------------------
-- 1. Database, schemas, warehouse
-- -----------------------------------------------------------------------------
CREATE DATABASE IF NOT EXISTS DATA_ENGINEERING_DEMO;
CREATE SCHEMA IF NOT EXISTS DATA_ENGINEERING_DEMO.BRONZE;
CREATE SCHEMA IF NOT EXISTS DATA_ENGINEERING_DEMO.SILVER;
CREATE SCHEMA IF NOT EXISTS DATA_ENGINEERING_DEMO.GOLD;

CREATE WAREHOUSE IF NOT EXISTS WH_DATA_ENG
    WAREHOUSE_SIZE = 'XSMALL'
    AUTO_SUSPEND = 60
    AUTO_RESUME = TRUE
    INITIALLY_SUSPENDED = TRUE
    COMMENT = 'Compute for the data engineering demo dynamic table refreshes';

USE WAREHOUSE WH_DATA_ENG;
USE DATABASE DATA_ENGINEERING_DEMO;


-- -----------------------------------------------------------------------------
-- 2. Bronze: raw feeds (loaded by the ingestion pipeline, never transformed)
-- -----------------------------------------------------------------------------

-- IoT gateways: the value arrives as a string ('23.51', '', 'NaN', 'ERR', '-999'),
-- in the device's own unit ('C', 'F', 'degF', '%', '%RH', 'kPa', 'psi', 'mm/s', 'in/s').
-- METADATA: {"firmware", "battery_pct", "rssi_dbm", "location": {"site", "zone"}}.
CREATE TABLE IF NOT EXISTS BRONZE.RAW_SENSOR_READINGS (
    READING_ID      VARCHAR NOT NULL,
    DEVICE_ID       VARCHAR NOT NULL,
    SENSOR_TYPE     VARCHAR,
    READING_VALUE   VARCHAR,
    UNIT            VARCHAR,
    READING_TS      TIMESTAMP_NTZ NOT NULL,
    METADATA        VARIANT,
    _LOADED_AT      TIMESTAMP_NTZ NOT NULL
)
CHANGE_TRACKING = TRUE
COMMENT = 'Raw IoT sensor readings as sent by the device gateways';

-- Point of sale: one row per basket line; invalid lines are kept and flagged downstream.
CREATE TABLE IF NOT EXISTS BRONZE.RAW_TRANSACTIONS (
    TRANSACTION_ID  VARCHAR NOT NULL,
    LINE_NUMBER     INTEGER NOT NULL,
    TRANSACTION_TS  TIMESTAMP_NTZ NOT NULL,
    STORE_ID        VARCHAR,
    CUSTOMER_ID     VARCHAR,
    PRODUCT_ID      VARCHAR,
    QUANTITY        INTEGER,
    UNIT_PRICE      NUMBER(10, 2),
    DISCOUNT_PCT    NUMBER(5, 2),
    PAYMENT_METHOD  VARCHAR,
    _LOADED_AT      TIMESTAMP_NTZ NOT NULL
)
CHANGE_TRACKING = TRUE
COMMENT = 'Raw point-of-sale transaction lines';

-- Web and mobile clickstream. PROPERTIES depends on EVENT_TYPE, e.g.
-- page_view {"page", "product_id", "referrer"}, add_to_cart {"product_id", "price", "quantity"},
-- checkout {"cart_value", "items"}, purchase {"order_id", "order_total", "currency", "items"}.
CREATE TABLE IF NOT EXISTS BRONZE.RAW_CUSTOMER_EVENTS (
    EVENT_ID        VARCHAR NOT NULL,
    CUSTOMER_ID     VARCHAR NOT NULL,
    EVENT_TYPE      VARCHAR NOT NULL,
    EVENT_TS        TIMESTAMP_NTZ NOT NULL,
    DEVICE_TYPE     VARCHAR,
    PROPERTIES      VARIANT,
    _LOADED_AT      TIMESTAMP_NTZ NOT NULL
)
CHANGE_TRACKING = TRUE
COMMENT = 'Raw web and mobile clickstream events';


-- -----------------------------------------------------------------------------
-- 3. Bronze: dimensions (deterministic catalogue, same rows as snowmelt/demo/catalogue.py)
-- -----------------------------------------------------------------------------
CREATE OR REPLACE TABLE BRONZE.DIM_STORES (
    STORE_ID        VARCHAR NOT NULL,
    STORE_NAME      VARCHAR NOT NULL,
    CITY            VARCHAR,
    STATE           VARCHAR,
    REGION          VARCHAR,
    STORE_TYPE      VARCHAR
)
CHANGE_TRACKING = TRUE
COMMENT = 'Store master data';

INSERT INTO BRONZE.DIM_STORES (STORE_ID, STORE_NAME, CITY, STATE, REGION, STORE_TYPE) VALUES
    ('S001', 'Seattle Flagship', 'Seattle', 'WA', 'WEST', 'FLAGSHIP'),
    ('S002', 'Portland Pearl', 'Portland', 'OR', 'WEST', 'STANDARD'),
    ('S003', 'Denver Union Station', 'Denver', 'CO', 'CENTRAL', 'STANDARD'),
    ('S004', 'Chicago Loop', 'Chicago', 'IL', 'CENTRAL', 'FLAGSHIP'),
    ('S005', 'Austin South Congress', 'Austin', 'TX', 'SOUTH', 'STANDARD'),
    ('S006', 'Miami Brickell', 'Miami', 'FL', 'SOUTH', 'EXPRESS'),
    ('S007', 'Boston Back Bay', 'Boston', 'MA', 'EAST', 'STANDARD'),
    ('S008', 'New York SoHo', 'New York', 'NY', 'EAST', 'FLAGSHIP');

CREATE OR REPLACE TABLE BRONZE.DIM_PRODUCTS (
    PRODUCT_ID      VARCHAR NOT NULL,
    PRODUCT_NAME    VARCHAR NOT NULL,
    CATEGORY        VARCHAR NOT NULL,
    BRAND           VARCHAR,
    LIST_PRICE      NUMBER(10, 2) NOT NULL,
    UNIT_COST       NUMBER(10, 2) NOT NULL
)
CHANGE_TRACKING = TRUE
COMMENT = 'Product catalogue';

INSERT INTO BRONZE.DIM_PRODUCTS (PRODUCT_ID, PRODUCT_NAME, CATEGORY, BRAND, LIST_PRICE, UNIT_COST) VALUES
    ('P001', 'Wireless Earbuds', 'Electronics', 'Sonique', 79.99, 38.50),
    ('P002', 'Bluetooth Speaker', 'Electronics', 'Sonique', 59.99, 27.00),
    ('P003', 'USB-C Charger 65W', 'Electronics', 'Voltix', 34.99, 12.40),
    ('P004', 'Smart Watch', 'Electronics', 'Pulse', 199.00, 112.00),
    ('P005', 'Noise Cancelling Headphones', 'Electronics', 'Sonique', 249.99, 131.00),
    ('P006', 'Chef Knife 8in', 'Home & Kitchen', 'Edgewell', 49.95, 18.20),
    ('P007', 'Pour-Over Coffee Set', 'Home & Kitchen', 'Brewline', 39.00, 15.75),
    ('P008', 'Cast Iron Skillet', 'Home & Kitchen', 'Forgeworks', 29.99, 11.10),
    ('P009', 'Linen Bed Sheets', 'Home & Kitchen', 'Northloom', 89.00, 36.00),
    ('P010', 'Organic Cotton T-Shirt', 'Apparel', 'Fieldtrip', 24.00, 7.80),
    ('P011', 'Running Shoes', 'Apparel', 'Stride', 119.99, 52.00),
    ('P012', 'Rain Jacket', 'Apparel', 'Fieldtrip', 149.00, 61.00),
    ('P013', 'Wool Socks 3-Pack', 'Apparel', 'Northloom', 18.50, 5.90),
    ('P014', 'Dark Roast Coffee Beans', 'Grocery', 'Brewline', 16.99, 7.25),
    ('P015', 'Sparkling Water 12-Pack', 'Grocery', 'Clearspring', 7.49, 3.10),
    ('P016', 'Granola Bar Box', 'Grocery', 'Trailmix Co', 5.99, 2.20),
    ('P017', 'Olive Oil 1L', 'Grocery', 'Verdi', 14.25, 6.80),
    ('P018', 'Yoga Mat', 'Sports & Outdoors', 'Stride', 42.00, 14.50),
    ('P019', 'Insulated Water Bottle', 'Sports & Outdoors', 'Summit', 32.00, 9.60),
    ('P020', 'Camping Lantern', 'Sports & Outdoors', 'Summit', 27.50, 10.30),
    ('P021', 'Face Moisturizer', 'Beauty', 'Lumen', 22.00, 6.40),
    ('P022', 'Vitamin C Serum', 'Beauty', 'Lumen', 36.00, 9.90),
    ('P023', 'Shampoo & Conditioner Set', 'Beauty', 'Aqualis', 19.99, 6.10),
    ('P024', 'Electric Toothbrush', 'Beauty', 'Aqualis', 64.99, 26.00);


-- -----------------------------------------------------------------------------
-- 4. Silver: SENSOR_READINGS_CLEANED
--    type cleaning, unit normalisation (C, %, kPa, mm/s), range validation,
--    anomaly flags (missing, out of range, spike, stuck). Duplicates are kept.
--    Spike/stuck compare with the previous readings of the same device within the
--    same hour, so a late reading only re-evaluates its own device-hour.
-- -----------------------------------------------------------------------------
CREATE OR REPLACE DYNAMIC TABLE SILVER.SENSOR_READINGS_CLEANED
    TARGET_LAG = '1 minute'
    WAREHOUSE = WH_DATA_ENG
    COMMENT = 'Typed, unit-normalised sensor readings with validation and anomaly flags'
AS
WITH PARSED AS (
    SELECT
        READING_ID,
        DEVICE_ID,
        SENSOR_TYPE,
        READING_TS,
        DATE_TRUNC('hour', READING_TS) AS READING_HOUR,
        READING_VALUE AS RAW_VALUE,
        UNIT AS RAW_UNIT,
        CASE
            WHEN UPPER(TRIM(READING_VALUE)) IN ('', 'NAN', 'NULL') THEN NULL
            ELSE TRY_TO_DOUBLE(TRIM(READING_VALUE))
        END AS PARSED_VALUE,
        METADATA:firmware::STRING AS FIRMWARE_VERSION,
        METADATA:battery_pct::INTEGER AS BATTERY_PCT,
        METADATA:rssi_dbm::INTEGER AS SIGNAL_RSSI_DBM,
        METADATA:location.site::STRING AS SITE_ID,
        METADATA:location.zone::STRING AS ZONE_ID,
        _LOADED_AT
    FROM BRONZE.RAW_SENSOR_READINGS
),
NORMALISED AS (
    SELECT
        READING_ID, DEVICE_ID, SENSOR_TYPE, READING_TS, READING_HOUR, RAW_VALUE, RAW_UNIT,
        PARSED_VALUE, FIRMWARE_VERSION, BATTERY_PCT, SIGNAL_RSSI_DBM, SITE_ID, ZONE_ID,
        _LOADED_AT,
        CASE
            WHEN UPPER(RAW_UNIT) IN ('F', 'DEGF') THEN (PARSED_VALUE - 32) * 5 / 9
            WHEN UPPER(RAW_UNIT) = 'PSI' THEN PARSED_VALUE * 6.894757
            WHEN UPPER(RAW_UNIT) = 'IN/S' THEN PARSED_VALUE * 25.4
            ELSE PARSED_VALUE
        END AS NORMALIZED_VALUE,
        CASE SENSOR_TYPE
            WHEN 'temperature' THEN 'C'
            WHEN 'humidity' THEN '%'
            WHEN 'pressure' THEN 'kPa'
            WHEN 'vibration' THEN 'mm/s'
        END AS NORMALIZED_UNIT,
        CASE SENSOR_TYPE
            WHEN 'temperature' THEN -40 WHEN 'humidity' THEN 0
            WHEN 'pressure' THEN 0 WHEN 'vibration' THEN 0
        END AS MIN_VALID_VALUE,
        CASE SENSOR_TYPE
            WHEN 'temperature' THEN 85 WHEN 'humidity' THEN 100
            WHEN 'pressure' THEN 1000 WHEN 'vibration' THEN 100
        END AS MAX_VALID_VALUE,
        CASE SENSOR_TYPE
            WHEN 'temperature' THEN 8 WHEN 'humidity' THEN 20
            WHEN 'pressure' THEN 80 WHEN 'vibration' THEN 15
        END AS SPIKE_THRESHOLD
    FROM PARSED
),
WINDOWED AS (
    SELECT
        READING_ID, DEVICE_ID, SENSOR_TYPE, READING_TS, READING_HOUR, RAW_VALUE, RAW_UNIT,
        PARSED_VALUE, FIRMWARE_VERSION, BATTERY_PCT, SIGNAL_RSSI_DBM, SITE_ID, ZONE_ID,
        _LOADED_AT, NORMALIZED_VALUE, NORMALIZED_UNIT, MIN_VALID_VALUE, MAX_VALID_VALUE,
        SPIKE_THRESHOLD,
        LAG(NORMALIZED_VALUE) OVER (
            PARTITION BY DEVICE_ID, READING_HOUR ORDER BY READING_TS, READING_ID
        ) AS PREVIOUS_VALUE,
        LAG(NORMALIZED_VALUE, 2) OVER (
            PARTITION BY DEVICE_ID, READING_HOUR ORDER BY READING_TS, READING_ID
        ) AS PREVIOUS_VALUE_2
    FROM NORMALISED
),
FLAGGED AS (
    SELECT
        READING_ID, DEVICE_ID, SENSOR_TYPE, READING_TS, READING_HOUR, RAW_VALUE, RAW_UNIT,
        PARSED_VALUE, FIRMWARE_VERSION, BATTERY_PCT, SIGNAL_RSSI_DBM, SITE_ID, ZONE_ID,
        _LOADED_AT, NORMALIZED_VALUE, NORMALIZED_UNIT, PREVIOUS_VALUE,
        PARSED_VALUE IS NULL AS IS_MISSING_VALUE,
        COALESCE(NORMALIZED_VALUE < MIN_VALID_VALUE OR NORMALIZED_VALUE > MAX_VALID_VALUE, FALSE)
            AS IS_OUT_OF_RANGE,
        COALESCE(ABS(NORMALIZED_VALUE - PREVIOUS_VALUE) > SPIKE_THRESHOLD, FALSE) AS IS_SPIKE,
        COALESCE(NORMALIZED_VALUE = PREVIOUS_VALUE AND PREVIOUS_VALUE = PREVIOUS_VALUE_2, FALSE)
            AS IS_STUCK,
        COALESCE(BATTERY_PCT < 20, FALSE) AS IS_LOW_BATTERY
    FROM WINDOWED
)
SELECT
    READING_ID, DEVICE_ID, SENSOR_TYPE, SITE_ID, ZONE_ID,
    READING_TS, READING_HOUR,
    RAW_VALUE, RAW_UNIT, PARSED_VALUE, NORMALIZED_VALUE, NORMALIZED_UNIT, PREVIOUS_VALUE,
    FIRMWARE_VERSION, BATTERY_PCT, SIGNAL_RSSI_DBM,
    IS_MISSING_VALUE, IS_OUT_OF_RANGE, IS_SPIKE, IS_STUCK, IS_LOW_BATTERY,
    IS_MISSING_VALUE OR IS_OUT_OF_RANGE OR IS_SPIKE OR IS_STUCK AS IS_ANOMALY,
    CASE
        WHEN IS_MISSING_VALUE THEN 'MISSING_VALUE'
        WHEN IS_OUT_OF_RANGE THEN 'OUT_OF_RANGE'
        WHEN IS_SPIKE THEN 'SPIKE'
        WHEN IS_STUCK THEN 'STUCK'
    END AS ANOMALY_TYPE,
    NOT IS_MISSING_VALUE AND NOT IS_OUT_OF_RANGE AS IS_VALID,
    _LOADED_AT
FROM FLAGGED;


-- -----------------------------------------------------------------------------
-- 5. Silver: TRANSACTIONS_ENRICHED
--    validation flags, line totals after discount, product and store attributes.
--    LEFT joins keep lines whose product or store is unknown (flagged, not dropped).
-- -----------------------------------------------------------------------------
CREATE OR REPLACE DYNAMIC TABLE SILVER.TRANSACTIONS_ENRICHED
    TARGET_LAG = '1 minute'
    WAREHOUSE = WH_DATA_ENG
    COMMENT = 'Validated transaction lines with totals, product and store attributes'
AS
WITH BASKET_LINES AS (
    SELECT
        T.TRANSACTION_ID, T.LINE_NUMBER, T.TRANSACTION_TS,
        T.TRANSACTION_TS::DATE AS TRANSACTION_DATE,
        T.STORE_ID, S.STORE_NAME, S.CITY, S.REGION, S.STORE_TYPE,
        T.CUSTOMER_ID,
        T.PRODUCT_ID, P.PRODUCT_NAME, P.CATEGORY, P.BRAND,
        T.QUANTITY, T.UNIT_PRICE, P.LIST_PRICE, P.UNIT_COST,
        COALESCE(T.DISCOUNT_PCT, 0) AS DISCOUNT_PCT,
        UPPER(TRIM(T.PAYMENT_METHOD)) AS PAYMENT_METHOD,
        COALESCE(T.QUANTITY, 0) <= 0 AS IS_NON_POSITIVE_QUANTITY,
        P.PRODUCT_ID IS NULL AS IS_UNKNOWN_PRODUCT,
        S.STORE_ID IS NULL AS IS_UNKNOWN_STORE,
        COALESCE(T.UNIT_PRICE, 0) < 0 AS IS_NEGATIVE_PRICE,
        T._LOADED_AT
    FROM BRONZE.RAW_TRANSACTIONS AS T
    LEFT JOIN BRONZE.DIM_PRODUCTS AS P ON T.PRODUCT_ID = P.PRODUCT_ID
    LEFT JOIN BRONZE.DIM_STORES AS S ON T.STORE_ID = S.STORE_ID
)
SELECT
    TRANSACTION_ID, LINE_NUMBER, TRANSACTION_TS, TRANSACTION_DATE,
    STORE_ID, STORE_NAME, CITY, REGION, STORE_TYPE,
    CUSTOMER_ID,
    PRODUCT_ID, PRODUCT_NAME, CATEGORY, BRAND,
    QUANTITY, UNIT_PRICE, LIST_PRICE, DISCOUNT_PCT,
    QUANTITY * UNIT_PRICE AS GROSS_AMOUNT,
    QUANTITY * UNIT_PRICE * DISCOUNT_PCT / 100 AS DISCOUNT_AMOUNT,
    QUANTITY * UNIT_PRICE * (1 - DISCOUNT_PCT / 100) AS NET_AMOUNT,
    QUANTITY * UNIT_COST AS COST_AMOUNT,
    QUANTITY * UNIT_PRICE * (1 - DISCOUNT_PCT / 100) - QUANTITY * UNIT_COST AS MARGIN_AMOUNT,
    PAYMENT_METHOD,
    IS_NON_POSITIVE_QUANTITY, IS_UNKNOWN_PRODUCT, IS_UNKNOWN_STORE, IS_NEGATIVE_PRICE,
    NOT (IS_NON_POSITIVE_QUANTITY OR IS_UNKNOWN_PRODUCT OR IS_UNKNOWN_STORE OR IS_NEGATIVE_PRICE)
        AS IS_VALID,
    CASE
        WHEN IS_UNKNOWN_PRODUCT THEN 'UNKNOWN_PRODUCT'
        WHEN IS_UNKNOWN_STORE THEN 'UNKNOWN_STORE'
        WHEN IS_NON_POSITIVE_QUANTITY THEN 'NON_POSITIVE_QUANTITY'
        WHEN IS_NEGATIVE_PRICE THEN 'NEGATIVE_PRICE'
    END AS VALIDATION_ERROR,
    _LOADED_AT
FROM BASKET_LINES;


-- -----------------------------------------------------------------------------
-- 6. Silver: CUSTOMER_SESSIONS
--    sessionization with a 30-minute inactivity gap: LAG finds the gap, a running
--    SUM numbers the sessions, GROUP BY folds each session into one row.
--    Funnel steps: view (page_view, search) = 1, cart = 2, checkout = 3, purchase = 4.
-- -----------------------------------------------------------------------------
CREATE OR REPLACE DYNAMIC TABLE SILVER.CUSTOMER_SESSIONS
    TARGET_LAG = '1 minute'
    WAREHOUSE = WH_DATA_ENG
    COMMENT = 'One row per customer session (30 minute inactivity gap) with funnel stage'
AS
WITH SESSION_EVENTS AS (
    SELECT
        EVENT_ID, CUSTOMER_ID, EVENT_TYPE, EVENT_TS, DEVICE_TYPE,
        PROPERTIES:referrer::STRING AS REFERRER,
        CASE EVENT_TYPE
            WHEN 'page_view' THEN 1
            WHEN 'search' THEN 1
            WHEN 'add_to_cart' THEN 2
            WHEN 'checkout' THEN 3
            WHEN 'purchase' THEN 4
            ELSE 0
        END AS FUNNEL_STEP,
        IFF(EVENT_TYPE = 'purchase', COALESCE(PROPERTIES:order_total::NUMBER(12, 2), 0), 0)
            AS ORDER_TOTAL,
        LAG(EVENT_TS) OVER (PARTITION BY CUSTOMER_ID ORDER BY EVENT_TS, EVENT_ID)
            AS PREVIOUS_EVENT_TS
    FROM BRONZE.RAW_CUSTOMER_EVENTS
),
GAPS AS (
    SELECT
        EVENT_ID, CUSTOMER_ID, EVENT_TYPE, EVENT_TS, DEVICE_TYPE, REFERRER, FUNNEL_STEP,
        ORDER_TOTAL,
        IFF(PREVIOUS_EVENT_TS IS NULL
            OR DATEDIFF('second', PREVIOUS_EVENT_TS, EVENT_TS) > 1800, 1, 0) AS IS_SESSION_START
    FROM SESSION_EVENTS
),
NUMBERED AS (
    SELECT
        EVENT_ID, CUSTOMER_ID, EVENT_TYPE, EVENT_TS, DEVICE_TYPE, REFERRER, FUNNEL_STEP,
        ORDER_TOTAL, IS_SESSION_START,
        SUM(IS_SESSION_START) OVER (
            PARTITION BY CUSTOMER_ID ORDER BY EVENT_TS, EVENT_ID
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS SESSION_NUMBER
    FROM GAPS
)
SELECT
    CUSTOMER_ID || '-' || LPAD(SESSION_NUMBER::VARCHAR, 4, '0') AS SESSION_ID,
    CUSTOMER_ID,
    SESSION_NUMBER,
    MIN(EVENT_TS) AS SESSION_START,
    MAX(EVENT_TS) AS SESSION_END,
    MIN(EVENT_TS)::DATE AS SESSION_DATE,
    DATEDIFF('second', MIN(EVENT_TS), MAX(EVENT_TS)) AS SESSION_DURATION_SEC,
    MAX(IFF(IS_SESSION_START = 1, DEVICE_TYPE, NULL)) AS DEVICE_TYPE,
    MAX(IFF(IS_SESSION_START = 1, REFERRER, NULL)) AS ENTRY_REFERRER,
    COUNT(*) AS EVENT_COUNT,
    COUNT_IF(FUNNEL_STEP = 1) AS VIEW_EVENT_COUNT,
    COUNT_IF(EVENT_TYPE = 'add_to_cart') AS ADD_TO_CART_COUNT,
    COUNT_IF(EVENT_TYPE = 'checkout') AS CHECKOUT_COUNT,
    COUNT_IF(EVENT_TYPE = 'purchase') AS PURCHASE_COUNT,
    MAX(FUNNEL_STEP) AS FUNNEL_STEP,
    CASE MAX(FUNNEL_STEP)
        WHEN 4 THEN 'purchase'
        WHEN 3 THEN 'checkout'
        WHEN 2 THEN 'cart'
        WHEN 1 THEN 'view'
        ELSE 'none'
    END AS FUNNEL_STAGE,
    SUM(ORDER_TOTAL) AS PURCHASE_AMOUNT,
    MAX(FUNNEL_STEP) = 4 AS IS_CONVERTED,
    COUNT(*) = 1 AS IS_BOUNCE
FROM NUMBERED
GROUP BY CUSTOMER_ID, SESSION_NUMBER;


-- -----------------------------------------------------------------------------
-- 7. Gold: DEVICE_HEALTH_HOURLY (per device and hour)
-- -----------------------------------------------------------------------------
CREATE OR REPLACE DYNAMIC TABLE GOLD.DEVICE_HEALTH_HOURLY
    TARGET_LAG = '5 minutes'
    WAREHOUSE = WH_DATA_ENG
    COMMENT = 'Hourly device health: reading volume, value statistics and anomaly rate'
AS
SELECT
    DEVICE_ID, SENSOR_TYPE, NORMALIZED_UNIT, READING_HOUR,
    MAX(SITE_ID) AS SITE_ID,
    COUNT(*) AS READING_COUNT,
    COUNT_IF(IS_VALID) AS VALID_READING_COUNT,
    AVG(IFF(IS_VALID, NORMALIZED_VALUE, NULL)) AS AVG_VALUE,
    MIN(IFF(IS_VALID, NORMALIZED_VALUE, NULL)) AS MIN_VALUE,
    MAX(IFF(IS_VALID, NORMALIZED_VALUE, NULL)) AS MAX_VALUE,
    COUNT_IF(IS_MISSING_VALUE) AS MISSING_COUNT,
    COUNT_IF(IS_OUT_OF_RANGE) AS OUT_OF_RANGE_COUNT,
    COUNT_IF(IS_SPIKE) AS SPIKE_COUNT,
    COUNT_IF(IS_STUCK) AS STUCK_COUNT,
    COUNT_IF(IS_ANOMALY) AS ANOMALY_COUNT,
    DIV0(COUNT_IF(IS_ANOMALY), COUNT(*)) AS ANOMALY_RATE,
    MIN(BATTERY_PCT) AS MIN_BATTERY_PCT,
    MIN(READING_TS) AS FIRST_READING_TS,
    MAX(READING_TS) AS LAST_READING_TS,
    CASE
        WHEN DIV0(COUNT_IF(IS_ANOMALY), COUNT(*)) >= 0.25 THEN 'CRITICAL'
        WHEN DIV0(COUNT_IF(IS_ANOMALY), COUNT(*)) >= 0.05 THEN 'DEGRADED'
        ELSE 'HEALTHY'
    END AS HEALTH_STATUS
FROM SILVER.SENSOR_READINGS_CLEANED
GROUP BY DEVICE_ID, SENSOR_TYPE, NORMALIZED_UNIT, READING_HOUR;


-- -----------------------------------------------------------------------------
-- 8. Gold: DAILY_SALES_SUMMARY (per day and store; invalid lines counted, not summed)
-- -----------------------------------------------------------------------------
CREATE OR REPLACE DYNAMIC TABLE GOLD.DAILY_SALES_SUMMARY
    TARGET_LAG = '5 minutes'
    WAREHOUSE = WH_DATA_ENG
    COMMENT = 'Daily sales per store: revenue, transactions, units, basket size, data quality'
AS
SELECT
    TRANSACTION_DATE, STORE_ID, STORE_NAME, REGION,
    COUNT(DISTINCT IFF(IS_VALID, TRANSACTION_ID, NULL)) AS TRANSACTION_COUNT,
    COUNT_IF(IS_VALID) AS LINE_COUNT,
    SUM(IFF(IS_VALID, QUANTITY, 0)) AS UNITS_SOLD,
    SUM(IFF(IS_VALID, GROSS_AMOUNT, 0)) AS GROSS_REVENUE,
    SUM(IFF(IS_VALID, DISCOUNT_AMOUNT, 0)) AS DISCOUNT_TOTAL,
    SUM(IFF(IS_VALID, NET_AMOUNT, 0)) AS NET_REVENUE,
    DIV0(SUM(IFF(IS_VALID, NET_AMOUNT, 0)), COUNT(DISTINCT IFF(IS_VALID, TRANSACTION_ID, NULL)))
        AS AVG_BASKET_VALUE,
    DIV0(SUM(IFF(IS_VALID, QUANTITY, 0)), COUNT(DISTINCT IFF(IS_VALID, TRANSACTION_ID, NULL)))
        AS AVG_BASKET_UNITS,
    COUNT(DISTINCT IFF(IS_VALID, CUSTOMER_ID, NULL)) AS UNIQUE_CUSTOMERS,
    COUNT_IF(NOT IS_VALID) AS INVALID_LINE_COUNT,
    DIV0(COUNT_IF(NOT IS_VALID), COUNT(*)) AS INVALID_LINE_RATE
FROM SILVER.TRANSACTIONS_ENRICHED
GROUP BY TRANSACTION_DATE, STORE_ID, STORE_NAME, REGION;


-- -----------------------------------------------------------------------------
-- 9. Gold: PRODUCT_PERFORMANCE (per product, valid lines only)
-- -----------------------------------------------------------------------------
CREATE OR REPLACE DYNAMIC TABLE GOLD.PRODUCT_PERFORMANCE
    TARGET_LAG = '5 minutes'
    WAREHOUSE = WH_DATA_ENG
    COMMENT = 'Product performance: units, revenue, margin, reach and discounting'
AS
SELECT
    PRODUCT_ID, PRODUCT_NAME, CATEGORY, BRAND,
    SUM(QUANTITY) AS UNITS_SOLD,
    COUNT(*) AS LINE_COUNT,
    COUNT(DISTINCT TRANSACTION_ID) AS TRANSACTION_COUNT,
    COUNT(DISTINCT CUSTOMER_ID) AS UNIQUE_CUSTOMERS,
    SUM(GROSS_AMOUNT) AS GROSS_REVENUE,
    SUM(NET_AMOUNT) AS NET_REVENUE,
    SUM(MARGIN_AMOUNT) AS MARGIN,
    DIV0(SUM(MARGIN_AMOUNT), SUM(NET_AMOUNT)) AS MARGIN_PCT,
    AVG(DISCOUNT_PCT) AS AVG_DISCOUNT_PCT,
    DIV0(SUM(NET_AMOUNT), SUM(QUANTITY)) AS AVG_SELLING_PRICE,
    MIN(TRANSACTION_TS) AS FIRST_SALE_TS,
    MAX(TRANSACTION_TS) AS LAST_SALE_TS
FROM SILVER.TRANSACTIONS_ENRICHED
WHERE IS_VALID
GROUP BY PRODUCT_ID, PRODUCT_NAME, CATEGORY, BRAND;


-- -----------------------------------------------------------------------------
-- 10. Gold: CUSTOMER_BEHAVIOR_METRICS (conversion funnel per day and device type)
-- -----------------------------------------------------------------------------
CREATE OR REPLACE DYNAMIC TABLE GOLD.CUSTOMER_BEHAVIOR_METRICS
    TARGET_LAG = '5 minutes'
    WAREHOUSE = WH_DATA_ENG
    COMMENT = 'Conversion analysis per day and device type'
AS
SELECT
    SESSION_DATE, DEVICE_TYPE,
    COUNT(*) AS SESSION_COUNT,
    COUNT(DISTINCT CUSTOMER_ID) AS UNIQUE_CUSTOMERS,
    COUNT_IF(FUNNEL_STEP >= 1) AS VIEW_SESSIONS,
    COUNT_IF(FUNNEL_STEP >= 2) AS CART_SESSIONS,
    COUNT_IF(FUNNEL_STEP >= 3) AS CHECKOUT_SESSIONS,
    COUNT_IF(FUNNEL_STEP >= 4) AS PURCHASE_SESSIONS,
    COUNT_IF(IS_BOUNCE) AS BOUNCE_SESSIONS,
    DIV0(COUNT_IF(FUNNEL_STEP >= 2), COUNT_IF(FUNNEL_STEP >= 1)) AS VIEW_TO_CART_RATE,
    DIV0(COUNT_IF(FUNNEL_STEP >= 3), COUNT_IF(FUNNEL_STEP >= 2)) AS CART_TO_CHECKOUT_RATE,
    DIV0(COUNT_IF(FUNNEL_STEP >= 4), COUNT_IF(FUNNEL_STEP >= 3)) AS CHECKOUT_TO_PURCHASE_RATE,
    DIV0(COUNT_IF(FUNNEL_STEP >= 4), COUNT(*)) AS CONVERSION_RATE,
    DIV0(COUNT_IF(IS_BOUNCE), COUNT(*)) AS BOUNCE_RATE,
    AVG(SESSION_DURATION_SEC) AS AVG_SESSION_DURATION_SEC,
    AVG(EVENT_COUNT) AS AVG_EVENTS_PER_SESSION,
    SUM(PURCHASE_AMOUNT) AS TOTAL_REVENUE,
    DIV0(SUM(PURCHASE_AMOUNT), COUNT(*)) AS REVENUE_PER_SESSION
FROM SILVER.CUSTOMER_SESSIONS
GROUP BY SESSION_DATE, DEVICE_TYPE;


-- -----------------------------------------------------------------------------
-- 11. Monitoring views
-- -----------------------------------------------------------------------------
CREATE OR REPLACE VIEW GOLD.V_DYNAMIC_TABLE_STATUS AS
SELECT
    NAME, SCHEMA_NAME, DATABASE_NAME, QUALIFIED_NAME,
    TARGET_LAG_SEC, TARGET_LAG_TYPE,
    SCHEDULING_STATE:state::STRING AS SCHEDULING_STATE,
    SCHEDULING_STATE:reason_code::STRING AS SCHEDULING_REASON_CODE,
    LAST_COMPLETED_REFRESH_STATE,
    LAST_COMPLETED_REFRESH_STATE_CODE,
    LAST_COMPLETED_REFRESH_STATE_MESSAGE,
    LATEST_DATA_TIMESTAMP,
    MEAN_LAG_SEC, MAXIMUM_LAG_SEC, TIME_ABOVE_TARGET_LAG_SEC, TIME_WITHIN_TARGET_LAG_RATIO,
    EXECUTING_REFRESH_QUERY_ID,
    SCHEDULER
FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES())
WHERE DATABASE_NAME = 'DATA_ENGINEERING_DEMO';

CREATE OR REPLACE VIEW GOLD.V_PIPELINE_FRESHNESS AS
SELECT
    NAME, SCHEMA_NAME, QUALIFIED_NAME,
    TARGET_LAG_SEC,
    LATEST_DATA_TIMESTAMP,
    TIMESTAMPDIFF('second', LATEST_DATA_TIMESTAMP, CURRENT_TIMESTAMP()) AS CURRENT_LAG_SEC,
    CASE
        WHEN LATEST_DATA_TIMESTAMP IS NULL THEN 'NOT_INITIALIZED'
        WHEN TIMESTAMPDIFF('second', LATEST_DATA_TIMESTAMP, CURRENT_TIMESTAMP()) <= TARGET_LAG_SEC
            THEN 'FRESH'
        ELSE 'STALE'
    END AS FRESHNESS_STATUS,
    MEAN_LAG_SEC, MAXIMUM_LAG_SEC, TIME_WITHIN_TARGET_LAG_RATIO,
    LAST_COMPLETED_REFRESH_STATE
FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES())
WHERE DATABASE_NAME = 'DATA_ENGINEERING_DEMO';

CREATE OR REPLACE VIEW GOLD.V_REFRESH_HISTORY AS
SELECT
    NAME, SCHEMA_NAME, QUALIFIED_NAME,
    STATE, STATE_CODE, STATE_MESSAGE,
    REFRESH_ACTION, REFRESH_TRIGGER,
    DATA_TIMESTAMP, REFRESH_START_TIME, REFRESH_END_TIME,
    TIMESTAMPDIFF('millisecond', REFRESH_START_TIME, REFRESH_END_TIME) AS REFRESH_DURATION_MS,
    STATISTICS:numInsertedRows::INTEGER AS ROWS_INSERTED,
    STATISTICS:numDeletedRows::INTEGER AS ROWS_DELETED,
    TARGET_LAG_SEC, COMPLETION_TARGET
FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY(
    NAME_PREFIX => 'DATA_ENGINEERING_DEMO.'
));


-- -----------------------------------------------------------------------------
-- 12. Monitoring queries (run by hand)
-- -----------------------------------------------------------------------------
-- Check Dynamic Table status
-- SELECT * FROM GOLD.V_DYNAMIC_TABLE_STATUS;
--
-- Check data freshness
-- SELECT * FROM GOLD.V_PIPELINE_FRESHNESS;
--
-- View refresh history
-- SELECT * FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLE_REFRESH_HISTORY(
--     NAME_PREFIX => 'DATA_ENGINEERING_DEMO'
-- ))
-- ORDER BY REFRESH_END_TIME DESC
-- LIMIT 20;
--
-- Check for stale data (the original brief measured LAST_COMPLETED_REFRESH, which
-- DYNAMIC_TABLES() does not return; LATEST_DATA_TIMESTAMP is the documented column)
-- SELECT
--     NAME,
--     TIMESTAMPDIFF('minute', LATEST_DATA_TIMESTAMP, CURRENT_TIMESTAMP()) AS minutes_since_refresh
-- FROM TABLE(INFORMATION_SCHEMA.DYNAMIC_TABLES())
-- WHERE DATABASE_NAME = 'DATA_ENGINEERING_DEMO'
--   AND TIMESTAMPDIFF('minute', LATEST_DATA_TIMESTAMP, CURRENT_TIMESTAMP()) > 10;
--
-- Force a refresh of one table (and what it depends on)
-- ALTER DYNAMIC TABLE GOLD.DAILY_SALES_SUMMARY REFRESH;


-- -----------------------------------------------------------------------------
-- 13. Cleanup (commented out on purpose)
-- -----------------------------------------------------------------------------
-- DROP DATABASE IF EXISTS DATA_ENGINEERING_DEMO;
-- DROP WAREHOUSE IF EXISTS WH_DATA_ENG;
