"""``snowmelt sql --format``: results for other programs (CSV, TSV, JSON lines), and tables
printed to a file or pipe at the width their rows need — the real CLI in a subprocess, its
output read back by the standard parsers."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

SETUP = (
    "CREATE DATABASE D; CREATE SCHEMA D.S;"
    " CREATE TABLE D.S.T (A INT, B VARIANT, C TIMESTAMP_NTZ, N NUMBER(10, 2), S STRING);"
    " INSERT INTO D.S.T SELECT 1, PARSE_JSON('{\"k\": [1, 2]}'), '2026-01-01 10:00', 2.5,"
    " 'comma, \"quote\"\ttab';"
    " INSERT INTO D.S.T (A) VALUES (2)"
)


def snowmelt(db, *args):
    done = subprocess.run(
        [sys.executable, "-m", "snowmelt", "sql", "--db", str(db), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_csv_tsv_and_json_lines_read_back_as_the_rows(tmp_path):
    db = tmp_path / "f.duckdb"
    snowmelt(db, SETUP)
    query = "SELECT * FROM D.S.T ORDER BY A"
    expected = [
        ["1", '{"k":[1,2]}', "2026-01-01T10:00:00", "2.50", 'comma, "quote"\ttab'],
        ["2", "", "", "", ""],
    ]
    rows = list(csv.reader(io.StringIO(snowmelt(db, "--format", "csv", query))))
    assert rows == [["A", "B", "C", "N", "S"], *expected]
    rows = list(csv.reader(io.StringIO(snowmelt(db, "--format", "tsv", query)), delimiter="\t"))
    assert rows == [["A", "B", "C", "N", "S"], *expected]
    records = [json.loads(line) for line in snowmelt(db, "--format", "json", query).splitlines()]
    assert records == [
        {"A": 1, "B": '{"k":[1,2]}', "C": "2026-01-01T10:00:00", "N": "2.50", "S": expected[0][4]},
        {"A": 2, "B": None, "C": None, "N": None, "S": None},
    ]
    # a script prints each statement's result in turn
    both = snowmelt(db, "--format", "csv", "SELECT 1 AS X; SELECT 'y' AS Y")
    assert both.splitlines() == ["X", "1", "Y", "y"]


def test_a_table_printed_to_a_pipe_is_not_folded(tmp_path):
    db = tmp_path / "w.duckdb"
    snowmelt(db, SETUP)
    snowmelt(
        db,
        "CREATE DYNAMIC TABLE D.S.A_RATHER_LONG_DYNAMIC_TABLE_NAME TARGET_LAG = '1 minute'"
        " WAREHOUSE = WH AS SELECT A FROM D.S.T",
    )
    text = snowmelt(db, "SHOW DYNAMIC TABLES IN ACCOUNT")
    header = next(line for line in text.splitlines() if "created_on" in line)
    for column in ("refresh_mode_reason", "scheduling_state", "immutable_where"):
        assert column in header  # whole, on the header line
    assert any("A_RATHER_LONG_DYNAMIC_TABLE_NAME" in line for line in text.splitlines())
