"""Sequences: ``CREATE [OR REPLACE] SEQUENCE [IF NOT EXISTS] s [START [WITH] n]
[INCREMENT [BY] n] [ORDER | NOORDER] [COMMENT = '...']``, ``s.NEXTVAL``, ``ALTER SEQUENCE``,
``DROP SEQUENCE``, ``SHOW SEQUENCES``, ``DESCRIBE SEQUENCE``.

A sequence is a catalog object (kind ``SEQUENCE``) over an engine sequence of its own
(``names.sequence_table``). ``s.NEXTVAL`` — in a query, a DML statement or a column's
``DEFAULT`` — becomes the engine's ``nextval`` when the statement is sent
(``Runtime.to_engine``), one value per row as on Snowflake. A dynamic table that reads
``NEXTVAL`` refreshes FULL, the reason named (it is not deterministic).

The engine cannot change a sequence's increment in place: ``ALTER SEQUENCE ... SET
INCREMENT`` makes a new engine sequence that starts at the next value the old one would
have given.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from sqlglot import exp

from snowmelt.catalog import CatalogObject
from snowmelt.ddl import check_schema, create_flags, drop_object, prepare_replace, status
from snowmelt.errors import ObjectExists, ObjectNotFound, SqlError
from snowmelt.names import DATA_SCHEMA, ObjectName, sequence_table
from snowmelt.result import Result
from snowmelt.runtime import Runtime
from snowmelt.show import listing, one
from snowmelt.sql import commands
from snowmelt.sql.resolve import object_name, position

SHOW_COLUMNS = [
    ("created_on", pa.timestamp("us", tz="UTC")),
    ("name", pa.string()),
    ("database_name", pa.string()),
    ("schema_name", pa.string()),
    ("next_value", pa.int64()),
    ("interval", pa.int64()),
    ("owner", pa.string()),
    ("comment", pa.string()),
    ("owner_role_type", pa.string()),
    ("ordered", pa.string()),
]


def create(rt: Runtime, create: exp.Create) -> Result:
    name = object_name(create.this, rt.context)
    replace, if_not_exists = create_flags(create, create.this)
    start, increment, comment = 1, 1, None
    for prop in (create.args.get("properties") or exp.Properties(expressions=[])).expressions:
        if isinstance(prop, exp.SequenceProperties):
            start = _integer(prop.args.get("start"), "START", 1, create)
            increment = _integer(prop.args.get("increment"), "INCREMENT", 1, create)
        elif isinstance(prop, exp.SchemaCommentProperty):
            comment = prop.this.name
    with rt.store.write("DDL"):
        check_schema(rt, name)
        existing = prepare_replace(rt, name, "SEQUENCE", replace, if_not_exists)
        if existing is False:
            return status(f"{name.name} already exists, statement succeeded.")
        if isinstance(existing, CatalogObject):
            drop_object(rt, existing)
        oid = rt.catalog.next_oid()
        _create_engine_sequence(rt, oid, start, increment)
        rt.catalog.add_object(
            CatalogObject(
                oid,
                name,
                "SEQUENCE",
                rt.clock.now(),
                [],
                _definition(start, increment),
                0,
                0,
                comment=comment,
            )
        )
    return status(f"Sequence {name.name} successfully created.")


def alter(rt: Runtime, command: commands.AlterSequence) -> Result:
    name = object_name(command.name, rt.context)
    with rt.store.write("DDL"):
        obj = rt.catalog.find(name)
        if obj is None or obj.kind != "SEQUENCE":
            if command.if_exists:
                return status("Statement executed successfully.")
            raise ObjectNotFound(f"Sequence '{name}' does not exist.", name=str(name))
        if command.action == "RENAME":
            assert command.new_name is not None
            new = object_name(command.new_name, rt.context)
            if rt.catalog.find(new) is not None:
                raise ObjectExists(f"Object '{new}' already exists.", name=str(new))
            rt.catalog.update_object(obj.oid, name=new)
        elif command.action == "COMMENT":
            rt.catalog.update_object(obj.oid, comment=command.comment)
        else:  # INCREMENT: a new engine sequence from the next value on
            assert command.increment is not None
            if command.increment == 0:
                raise SqlError("A sequence's INCREMENT cannot be 0")
            following = _state(rt, obj)["next_value"]
            rt.engine.execute(f"DROP SEQUENCE {sequence_table(obj.oid)}")
            _create_engine_sequence(rt, obj.oid, following, command.increment)
            start = _parse_definition(obj.text)[0]
            rt.catalog.update_object(obj.oid, text=_definition(start, command.increment))
    return status("Statement executed successfully.")


def copy(rt: Runtime, obj: CatalogObject, name: ObjectName) -> None:
    """A clone of sequence ``obj`` named ``name`` (in the caller's commit): the same
    definition, going on from the same next value."""
    state = _state(rt, obj)
    oid = rt.catalog.next_oid()
    _create_engine_sequence(rt, oid, state["next_value"], state["increment"])
    rt.catalog.add_object(
        CatalogObject(
            oid, name, "SEQUENCE", rt.clock.now(), [], obj.text, 0, 0, comment=obj.comment
        )
    )


def show(rt: Runtime, command: commands.Show) -> Result:
    return listing(rt, command, "SEQUENCE", _row, SHOW_COLUMNS)


def describe(rt: Runtime, command: commands.Describe) -> Result:
    return one(rt, command, "SEQUENCE", _row, SHOW_COLUMNS)


def _row(rt: Runtime, obj: CatalogObject) -> dict[str, Any]:
    state = _state(rt, obj)
    return {
        "created_on": obj.created_on,
        "name": obj.name.name,
        "database_name": obj.name.database,
        "schema_name": obj.name.schema,
        "next_value": state["next_value"],
        "interval": state["increment"],
        "owner": "SYSADMIN",
        "comment": obj.comment or "",
        "owner_role_type": "ROLE",
        "ordered": "Y",
    }


def _state(rt: Runtime, obj: CatalogObject) -> dict[str, int]:
    """The engine sequence's next value and increment, without drawing a value."""
    start, increment, last = rt.engine.sequence_state(DATA_SCHEMA, f"seq_{obj.oid}")
    return {"next_value": start if last is None else last + increment, "increment": increment}


def _create_engine_sequence(rt: Runtime, oid: int, start: int, increment: int) -> None:
    """Snowflake's sequences run over all 64-bit integers, from any start, either way."""
    rt.engine.execute(
        f"CREATE SEQUENCE {sequence_table(oid)} START {start} INCREMENT {increment} "
        f"MINVALUE {-(2**63)} MAXVALUE {2**63 - 1}"
    )


def _definition(start: int, increment: int) -> str:
    return f"START {start} INCREMENT {increment}"


def _parse_definition(text: str | None) -> tuple[int, int]:
    parts = (text or "START 1 INCREMENT 1").split()
    return int(parts[1]), int(parts[3])


def _integer(value: Any, what: str, default: int, node: exp.Expression) -> int:
    if value is None:
        return default
    try:
        return int(value.to_py() if isinstance(value, exp.Literal) else value.sql())
    except (TypeError, ValueError):
        raise SqlError(f"Sequence {what} must be an integer", *position(node)) from None
