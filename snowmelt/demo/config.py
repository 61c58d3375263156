"""Configuration of the demo ingestion pipeline: typed, from flags over environment over defaults.

Role: the seed's ``config.py``. The CLI (``snowmelt pipeline``) is the edge that reads the
environment; it passes the mapping to :meth:`PipelineConfig.resolve` together with the flags
the user gave (``None`` meaning "not given"), and the rest of the pipeline only ever sees the
frozen :class:`PipelineConfig`. Every variable is documented in ``env.sample``.

Example::

    config = PipelineConfig.resolve({"SNOWMELT_BATCH_SIZE": "200"}, mode="sensors")
    assert (config.mode, config.batch_size) == ("sensors", 200)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from snowmelt.errors import SnowmeltError

MODES = ("full", "sensors", "transactions", "events", "status")
SERVER_MODES = ("auto", "off", "required")
REFRESH_MODES = ("auto", "on", "off")
DEFAULT_DB = "snowmelt-demo.duckdb"  # the file ``snowmelt demo`` creates, so both share it

# field -> environment variable
ENVIRONMENT: dict[str, str] = {
    "db": "SNOWMELT_DB",
    "batch_size": "SNOWMELT_BATCH_SIZE",
    "interval": "SNOWMELT_INTERVAL",
    "max_batches": "SNOWMELT_MAX_BATCHES",
    "seed": "SNOWMELT_SEED",
    "late_fraction": "SNOWMELT_LATE_FRACTION",
    "server": "SNOWMELT_SERVER",
    "refresh": "SNOWMELT_REFRESH",
}


class ConfigError(SnowmeltError):
    """A setting has an invalid value; names the setting, where it came from and the fix."""

    def __init__(self, message: str, setting: str, value: object):
        self.setting = setting
        self.value = value
        super().__init__(message)


@dataclass(frozen=True)
class PipelineConfig:
    """Everything ``snowmelt pipeline`` needs to know, validated on construction."""

    db: str = DEFAULT_DB
    mode: str = "full"
    batch_size: int = 500
    continuous: bool = False
    interval: float = 60.0
    max_batches: int | None = None  # rounds to run; None = 1, or unbounded when continuous
    seed: int = 42
    late_fraction: float = 0.05
    server: str = "auto"  # auto: use a running server if there is one; off; required
    refresh: str = "auto"  # auto: refresh after each round unless a server's scheduler does
    setup: bool = False  # run the setup script first (it also runs when the database is missing)

    def __post_init__(self) -> None:
        def bad(setting: str, why: str) -> ConfigError:
            value = getattr(self, setting)
            return ConfigError(
                f"Invalid {setting.replace('_', ' ')} {value!r}: {why}", setting, value
            )

        if not self.db:
            raise bad("db", "give a database file path with --db or SNOWMELT_DB")
        if self.mode not in MODES:
            raise bad("mode", f"use one of {', '.join(MODES)}")
        if self.batch_size < 1 or self.batch_size > 1_000_000:
            raise bad("batch_size", "use a whole number of rows between 1 and 1,000,000")
        if self.interval < 0:
            raise bad("interval", "use a number of seconds >= 0")
        if self.max_batches is not None and self.max_batches < 1:
            raise bad("max_batches", "use a whole number >= 1 (or omit it)")
        if self.seed < 0:
            raise bad("seed", "use a whole number >= 0")
        if not 0.0 <= self.late_fraction <= 1.0:
            raise bad("late_fraction", "use a fraction between 0 and 1, e.g. 0.05")
        if self.server not in SERVER_MODES:
            raise bad("server", f"use one of {', '.join(SERVER_MODES)}")
        if self.refresh not in REFRESH_MODES:
            raise bad("refresh", f"use one of {', '.join(REFRESH_MODES)}")

    @property
    def rounds(self) -> int | None:
        """How many ingestion rounds to run; ``None`` means until interrupted."""
        if self.max_batches is not None:
            return self.max_batches
        return None if self.continuous else 1

    @property
    def kinds(self) -> tuple[str, ...]:
        """The generator kinds one round ingests."""
        if self.mode == "full":
            return ("sensors", "transactions", "events")
        return () if self.mode == "status" else (self.mode,)

    @classmethod
    def resolve(cls, env: Mapping[str, str], **flags: Any) -> PipelineConfig:
        """Flags that are not ``None`` win over ``env`` (``SNOWMELT_*``), which wins over the
        defaults. Raises :class:`ConfigError` naming the variable for unparsable values."""
        values: dict[str, Any] = {}
        for name, variable in ENVIRONMENT.items():
            raw = env.get(variable)
            if raw is not None and raw.strip() != "":
                values[name] = _parse(variable, raw.strip(), _PARSERS[name])
        unknown = set(flags) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown pipeline settings: {sorted(unknown)}")
        values.update({k: v for k, v in flags.items() if v is not None})
        return cls(**values)


def _as_int(raw: str) -> int:
    return int(raw)


def _as_float(raw: str) -> float:
    return float(raw)


_PARSERS: dict[str, Callable[[str], Any]] = {
    "db": str,
    "batch_size": _as_int,
    "interval": _as_float,
    "max_batches": _as_int,
    "seed": _as_int,
    "late_fraction": _as_float,
    "server": str.lower,
    "refresh": str.lower,
}


def _parse(variable: str, raw: str, parser: Callable[[str], Any]) -> Any:
    try:
        return parser(raw)
    except ValueError:
        kind = "a whole number" if parser is _as_int else "a number"
        raise ConfigError(
            f"Environment variable {variable}={raw!r} is not {kind}: fix or unset "
            "it (see env.sample)",
            variable,
            raw,
        ) from None
