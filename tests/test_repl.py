"""``snowmelt sql``: the interactive prompt (``snowmelt.repl``) over one session, and a
script's results printed as they come, up to an error."""

from __future__ import annotations

from click.testing import CliRunner

import snowmelt
from snowmelt import repl
from snowmelt.cli import main


def typed(*lines: str):
    """A reader like ``input`` that answers with ``lines`` and records its prompts."""
    prompts: list[str] = []
    pending = list(lines)

    def read(prompt: str) -> str:
        prompts.append(prompt)
        if not pending:
            raise EOFError
        return pending.pop(0)

    return read, prompts


def test_the_prompt_keeps_one_session_and_goes_on_after_an_error():
    s = snowmelt.connect()
    shown, failed = [], []
    read, prompts = typed(
        "CREATE DATABASE D; CREATE SCHEMA D.S;",
        "CREATE TABLE T (A INT);",
        "SET X = 41;",
        "INSERT INTO T",  # a statement over lines
        "  VALUES ($X + 1);",
        "SELEC 1;",  # an error: reported, the prompt goes on
        "SELECT 'a;",  # an open string reads on
        "b' AS S, A FROM T;",
        "BEGIN; INSERT INTO T VALUES (7);",  # left open: rolled back at the end
        "",
        "exit",
        "SELECT 'never read';",
    )
    repl.run(s, read, shown.append, failed.append)
    assert [r.rows() for r in shown if r.columns == ["S", "A"]] == [[("a;\nb", 42)]]
    assert len(failed) == 1 and failed[0].startswith("Syntax error")
    assert prompts.count(repl.MORE) == 2  # after 'INSERT INTO T' and after "SELECT 'a;"
    assert not s.in_transaction
    assert s.sql("SELECT A FROM D.S.T").rows() == [(42,)]  # the INSERT of 7 was rolled back
    s.close()


def test_an_unfinished_statement_is_said_and_not_run():
    s = snowmelt.connect()
    failed: list[str] = []
    read, _ = typed("CREATE DATABASE D", "")
    repl.run(s, read, lambda r: None, failed.append)
    assert failed == ["The last statement has no ';' and was not run"]
    assert s.sql("SHOW DATABASES").rows() == []
    s.close()


def test_a_script_prints_each_result_up_to_its_error(tmp_path):
    script = "CREATE DATABASE D; SELECT 40 + 2 AS ANSWER; SELECT * FROM NOPE; SELECT 'after'"
    result = CliRunner().invoke(main, ["sql", "--db", str(tmp_path / "x.duckdb"), script])
    assert result.exit_code == 1
    assert "ANSWER" in result.output and "42" in result.output  # printed before the error
    assert "after" not in result.output
