"""``snowmelt sql`` on a terminal: an interactive prompt over one session.

Lines gather until one ends a statement (a ``;`` at the end of a line, outside strings and
comments, as the statement splitter reads it); then the statements run and each result
prints. The session lasts for the whole prompt, so ``USE``, session variables and an open
transaction carry from one statement to the next. An error prints as one line and the
prompt goes on; ``exit``, ``quit`` or end of input (Ctrl-D) leave it, rolling back a
transaction left open.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from snowmelt.errors import SnowmeltError
from snowmelt.sql.parse import split

PROMPT, MORE = "snowmelt> ", "      ... "


def _complete(text: str) -> bool:
    """Whether ``text`` ends a statement: it ends with ``;`` and the splitter, which knows
    strings and comments, reads a statement there (``'a;`` is not one yet)."""
    if not text.rstrip().endswith(";"):
        return False
    try:
        split(text)
    except SnowmeltError as err:  # an open string or comment reads on; other errors show
        return not str(err).startswith("Cannot read the SQL")
    return True


def run(
    session: Any,
    read: Callable[[str], str],
    show: Callable[[Any], None],
    fail: Callable[[str], None],
) -> None:
    """Prompt with ``read`` (like ``input``; EOFError ends it), run what is typed in
    ``session``; ``show`` prints a result, ``fail`` an error."""
    buffer: list[str] = []
    while True:
        try:
            line = read(MORE if buffer else PROMPT)
        except EOFError:
            break
        if not buffer and line.strip().rstrip(";").lower() in ("exit", "quit"):
            break
        if not buffer and not line.strip():
            continue
        buffer.append(line)
        text = "\n".join(buffer)
        if not _complete(text):
            continue
        buffer.clear()
        try:
            for result in session.run_each(text):
                show(result)
        except SnowmeltError as err:
            fail(str(err))
    if buffer:
        fail("The last statement has no ';' and was not run")
    session.rollback()
