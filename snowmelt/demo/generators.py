"""Seeded, deterministic data generators for the demo's bronze tables.

Role: simulate the three raw feeds of the medallion demo -- IoT sensor readings, point of
sale transactions and web/mobile clickstream events -- as ``pyarrow.Table`` batches whose
column names and order equal the bronze DDL in ``sql/01_setup_dynamic_tables.sql``.

Inputs: a :class:`GeneratorConfig` and a simulated start time. Outputs: one table per call.
Time is simulated: a clock inside :class:`DemoGenerator` advances by
``config.batch_interval`` per round, never by reading the wall clock, so the same seed
always yields the same rows. Each feed draws from its own random stream, so asking for
more sensor rows never changes the transactions or events.

Realism the downstream SQL must cope with:

* sensors: °F / psi / in/s devices beside canonical units, drift, stuck sensors repeating
  one value, missing values (NULL, ``''``, ``'NaN'``, ``'ERR'``), fault codes out of range,
  spikes, exact duplicate rows, legacy firmware sending no metadata;
* transactions: multi-line baskets over the catalogue, discounts, markdowns, payment
  methods, anonymous customers and invalid lines (quantity 0 or negative, unknown
  product, negative price);
* events: funnels page_view/search -> add_to_cart -> checkout -> purchase with drop-offs,
  per-device behaviour, sessions paused for more than 30 minutes (a new session);
* late arrivals (``late_fraction``): rows stamped hours in the past, up to a day, so that
  incremental refreshes must revise earlier hours, days and sessions.

Example::

    gen = DemoGenerator(GeneratorConfig(seed=7))
    for _ in range(3):
        sensors = gen.batch("sensors", 500)  # one round: all feeds share a time window
        sales = gen.batch("transactions", 100)
        clicks = gen.batch("events", 200)
"""

from __future__ import annotations

import json
import math
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pyarrow as pa

from snowmelt.demo import catalogue as cat

T = TypeVar("T")

TS = pa.timestamp("us")
SENSOR_SCHEMA = pa.schema(
    [
        ("READING_ID", pa.string()),
        ("DEVICE_ID", pa.string()),
        ("SENSOR_TYPE", pa.string()),
        ("READING_VALUE", pa.string()),
        ("UNIT", pa.string()),
        ("READING_TS", TS),
        ("METADATA", pa.string()),  # VARIANT, carried as JSON text
        ("_LOADED_AT", TS),
    ]
)
TRANSACTION_SCHEMA = pa.schema(
    [
        ("TRANSACTION_ID", pa.string()),
        ("LINE_NUMBER", pa.int64()),
        ("TRANSACTION_TS", TS),
        ("STORE_ID", pa.string()),
        ("CUSTOMER_ID", pa.string()),
        ("PRODUCT_ID", pa.string()),
        ("QUANTITY", pa.int64()),
        ("UNIT_PRICE", pa.decimal128(10, 2)),
        ("DISCOUNT_PCT", pa.decimal128(5, 2)),
        ("PAYMENT_METHOD", pa.string()),
        ("_LOADED_AT", TS),
    ]
)
EVENT_SCHEMA = pa.schema(
    [
        ("EVENT_ID", pa.string()),
        ("CUSTOMER_ID", pa.string()),
        ("EVENT_TYPE", pa.string()),
        ("EVENT_TS", TS),
        ("DEVICE_TYPE", pa.string()),
        ("PROPERTIES", pa.string()),  # VARIANT, carried as JSON text
        ("_LOADED_AT", TS),
    ]
)

KINDS: dict[str, str] = {
    "sensors": "RAW_SENSOR_READINGS",
    "transactions": "RAW_TRANSACTIONS",
    "events": "RAW_CUSTOMER_EVENTS",
}
"""Generator kind -> bronze table (in schema ``BRONZE``) that its batches are loaded into."""

BRONZE_SCHEMAS: dict[str, pa.Schema] = {
    "RAW_SENSOR_READINGS": SENSOR_SCHEMA,
    "RAW_TRANSACTIONS": TRANSACTION_SCHEMA,
    "RAW_CUSTOMER_EVENTS": EVENT_SCHEMA,
}

_CENT = Decimal("0.01")
_TO_CANONICAL_FACTOR = {"psi": 6.894757, "in/s": 25.4}
_SPIKE_STEP = {"temperature": 8.0, "humidity": 15.0, "pressure": 60.0, "vibration": 10.0}
_FUNNEL_DEPTH = ((1, 45), (2, 25), (3, 12), (4, 18))  # deepest stage a session plans to reach
_DISCOUNTS = ((0, 64), (5, 10), (10, 12), (15, 6), (20, 5), (25, 2), (50, 1))


@dataclass(frozen=True)
class GeneratorConfig:
    """Knobs of the simulation; every fraction is a per-row (per-basket) probability."""

    seed: int = 42
    n_devices: int = 50
    n_customers: int = 200
    late_fraction: float = 0.05
    late_min_hours: float = 1.0
    late_max_hours: float = 26.0  # > 24 h so late rows also land on the previous day
    batch_interval: timedelta = timedelta(minutes=5)
    load_delay: timedelta = timedelta(seconds=30)
    duplicate_fraction: float = 0.01
    missing_fraction: float = 0.02
    fault_fraction: float = 0.005
    spike_fraction: float = 0.01
    stuck_fraction: float = 0.003
    invalid_fraction: float = 0.03
    anonymous_fraction: float = 0.25
    concurrent_sessions: int = 12
    pause_fraction: float = 0.04


def _pick(rng: random.Random, weighted: Sequence[tuple[T, int]]) -> T:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


@dataclass
class _Device:
    device_id: str
    sensor_type: str
    unit: str
    base: float
    noise: float
    drift_per_hour: float
    site: str
    zone: str
    firmware: str
    battery: float | None
    rssi_mean: int
    decimals: int
    stuck_left: int = 0
    stuck_value: str | None = None


@dataclass
class _Session:
    customer_id: str
    device: str
    plan: deque[tuple[str, dict[str, Any]]]
    step: int = 0
    start: datetime | None = None
    last: datetime | None = None
    resume_at: datetime | None = None
    cart: list[tuple[str, Decimal, int]] = field(default_factory=list)


_STEP = {"page_view": 1, "search": 1, "add_to_cart": 2, "checkout": 3, "purchase": 4}


class DemoGenerator:
    """Stateful generator: successive batches continue simulated time and ids."""

    def __init__(
        self,
        config: GeneratorConfig = GeneratorConfig(),
        start: datetime = datetime(2026, 1, 5, 8, 0),
    ) -> None:
        self.config = config
        self.start = start
        self._clock = start
        self._cursor = {kind: start for kind in KINDS}
        self._rng = {
            kind: random.Random(config.seed * 1009 + i) for i, kind in enumerate(sorted(KINDS))
        }
        setup = random.Random(config.seed)
        self._devices = [self._make_device(setup, i + 1) for i in range(config.n_devices)]
        self._customers = [f"C{i + 1:05d}" for i in range(config.n_customers)]
        self._preferred_device = {c: _pick(setup, cat.DEVICE_TYPES) for c in self._customers}
        self._store_weights = [
            3 if s.STORE_TYPE == "FLAGSHIP" else 1 if s.STORE_TYPE == "EXPRESS" else 2
            for s in cat.STORES
        ]
        self._seq = {"reading": 0, "transaction": 0, "event": 0, "order": 0}
        self._next_device = 0
        self._open: list[_Session] = []
        self._paused: list[_Session] = []
        self._history: deque[_Session] = deque(maxlen=2000)

    # ------------------------------------------------------------------ public API
    @property
    def now(self) -> datetime:
        """The simulated time: end of the latest batch window."""
        return self._clock

    def batch(self, kind: str, n: int) -> pa.Table:
        """Generate ``n`` rows for ``kind`` in ``{"sensors", "transactions", "events"}``."""
        if kind == "sensors":
            return self.sensor_batch(n)
        if kind == "transactions":
            return self.transaction_batch(n)
        if kind == "events":
            return self.event_batch(n)
        raise ValueError(f"Unknown generator kind {kind!r}; use one of {sorted(KINDS)}.")

    def sensor_batch(self, n: int) -> pa.Table:
        """``n`` rows for ``BRONZE.RAW_SENSOR_READINGS``."""
        t0, t1, loaded = self._window("sensors")
        rng, cfg = self._rng["sensors"], self.config
        rows: list[tuple[Any, ...]] = []
        while len(rows) < n:
            if rng.random() < cfg.late_fraction:
                dev = rng.choice(self._devices)
                rows.append(self._reading(rng, dev, self._late_ts(rng, t1), loaded, late=True))
                continue
            dev = self._devices[self._next_device % len(self._devices)]
            self._next_device += 1
            ts = self._slot(t0, t1, len(rows) + 1, n)
            row = self._reading(rng, dev, ts, loaded, late=False)
            rows.append(row)
            if len(rows) < n and rng.random() < cfg.duplicate_fraction:
                rows.append(row)  # an at-least-once gateway re-sending the same message
        return pa.Table.from_pylist(
            [dict(zip(SENSOR_SCHEMA.names, r, strict=True)) for r in rows], schema=SENSOR_SCHEMA
        )

    def transaction_batch(self, n: int) -> pa.Table:
        """``n`` basket lines for ``BRONZE.RAW_TRANSACTIONS``."""
        t0, t1, loaded = self._window("transactions")
        rng, cfg = self._rng["transactions"], self.config
        rows: list[dict[str, Any]] = []
        while len(rows) < n:
            if rng.random() < cfg.late_fraction:
                ts = self._late_ts(rng, t1)  # a till that was offline syncs its journal
            else:
                ts = self._slot(t0, t1, len(rows) + 1, n)
            size = min(
                _pick(rng, ((1, 30), (2, 25), (3, 20), (4, 12), (5, 8), (6, 5))), n - len(rows)
            )
            rows.extend(self._basket(rng, ts, size, loaded))
        return pa.Table.from_pylist(rows, schema=TRANSACTION_SCHEMA)

    def event_batch(self, n: int) -> pa.Table:
        """``n`` clickstream events for ``BRONZE.RAW_CUSTOMER_EVENTS``."""
        t0, t1, loaded = self._window("events")
        rng, cfg = self._rng["events"], self.config
        rows: list[dict[str, Any]] = []
        for k in range(1, n + 1):
            ts = self._slot(t0, t1, k, n)
            for s in [s for s in self._paused if s.resume_at is not None and s.resume_at <= ts]:
                self._paused.remove(s)
                self._open.append(s)
            if rng.random() < cfg.late_fraction:
                rows.append(self._late_event(rng, ts, loaded))
                continue
            idle = self._idle_customer(rng)
            if idle is None and not self._open:  # everyone is away: the earliest returns now
                back = min(self._paused, key=lambda s: (s.resume_at or ts, s.customer_id))
                self._paused.remove(back)
                self._open.append(back)
            if idle is not None and (
                not self._open or (len(self._open) < cfg.concurrent_sessions and rng.random() < 0.5)
            ):
                session = self._new_session(rng, idle)
                self._open.append(session)
            else:
                session = min(self._open, key=lambda s: (s.last or ts, s.customer_id))
            rows.append(self._emit(rng, session, ts, loaded))
        return pa.Table.from_pylist(rows, schema=EVENT_SCHEMA)

    # ------------------------------------------------------------------ time
    def _window(self, kind: str) -> tuple[datetime, datetime, datetime]:
        """Advance the shared clock when ``kind`` has caught up with it; return its window."""
        if self._cursor[kind] >= self._clock:
            self._clock += self.config.batch_interval
        t0, t1 = self._cursor[kind], self._clock
        self._cursor[kind] = t1
        return t0, t1, t1 + self.config.load_delay

    @staticmethod
    def _slot(t0: datetime, t1: datetime, k: int, n: int) -> datetime:
        return (t0 + (t1 - t0) * k / n).replace(microsecond=0)

    def _late_ts(self, rng: random.Random, t1: datetime) -> datetime:
        hours = rng.uniform(self.config.late_min_hours, self.config.late_max_hours)
        return (t1 - timedelta(hours=hours)).replace(microsecond=0)

    # ------------------------------------------------------------------ sensors
    def _make_device(self, rng: random.Random, i: int) -> _Device:
        sensor_type = _pick(rng, cat.SENSOR_TYPE_WEIGHTS)
        profile = cat.SENSOR_PROFILES[sensor_type]
        lo, hi = profile.base
        units = profile.units
        unit = units[0] if rng.random() < 0.6 else rng.choice(units[1:])
        noise = profile.noise
        strong = rng.random() < 0.15
        drift = noise * rng.choice((-2.0, 2.0)) if strong else rng.gauss(0.0, noise * 0.1)
        mains = rng.random() < 0.15
        return _Device(
            device_id=f"DEV-{i:04d}",
            sensor_type=sensor_type,
            unit=unit,
            base=rng.uniform(lo, hi),
            noise=noise,
            drift_per_hour=drift,
            site=rng.choice(cat.SITES),
            zone=rng.choice(cat.ZONES),
            firmware=_pick(rng, cat.FIRMWARE_VERSIONS),
            battery=None if mains else rng.uniform(12.0, 100.0),
            rssi_mean=rng.randint(-85, -45),
            decimals=4 if unit == "in/s" else (1 if rng.random() < 0.2 else 2),
        )

    def _canonical_value(self, rng: random.Random, dev: _Device, ts: datetime) -> float:
        hours = (ts - self.start).total_seconds() / 3600.0
        value = dev.base + dev.drift_per_hour * min(max(hours, 0.0), 48.0)
        if dev.sensor_type == "temperature":  # warmer in the afternoon
            value += 1.5 * math.sin(2 * math.pi * (ts.hour + ts.minute / 60 - 9) / 24)
        value += rng.gauss(0.0, dev.noise)
        return max(value, 0.0) if dev.sensor_type != "temperature" else value

    def _format(self, dev: _Device, canonical: float) -> str:
        if dev.unit in ("F", "degF"):
            value = canonical * 9 / 5 + 32
        else:
            value = canonical / _TO_CANONICAL_FACTOR.get(dev.unit, 1.0)
        return f"{value:.{dev.decimals}f}"

    def _reading(
        self, rng: random.Random, dev: _Device, ts: datetime, loaded: datetime, late: bool
    ) -> tuple[Any, ...]:
        cfg = self.config
        self._seq["reading"] += 1
        value: str | None
        if dev.stuck_left > 0 and not late:
            dev.stuck_left -= 1
            value = dev.stuck_value
        else:
            r = rng.random()
            if r < cfg.missing_fraction:
                value = rng.choice((None, "", "NaN", "ERR"))
            elif r < cfg.missing_fraction + cfg.fault_fraction:
                value = rng.choice(("-999", "9999"))  # firmware fault codes
            else:
                canonical = self._canonical_value(rng, dev, ts)
                if r < cfg.missing_fraction + cfg.fault_fraction + cfg.spike_fraction:
                    step = _SPIKE_STEP[dev.sensor_type] * rng.uniform(2.5, 4.0)
                    canonical += step if rng.random() < 0.7 else -step
                value = self._format(dev, canonical)
                if not late and rng.random() < cfg.stuck_fraction:
                    dev.stuck_left, dev.stuck_value = rng.randint(4, 20), value
        metadata: str | None = None
        if not dev.firmware.startswith("1."):  # legacy firmware sends no metadata
            meta: dict[str, Any] = {
                "firmware": dev.firmware,
                "location": {"site": dev.site, "zone": dev.zone},
                "rssi_dbm": dev.rssi_mean + rng.randint(-6, 6),
            }
            if dev.battery is not None:
                meta["battery_pct"] = int(dev.battery)
                dev.battery = max(dev.battery - 0.02, 1.0)
            metadata = _dumps(meta)
        return (
            f"R{self._seq['reading']:010d}",
            dev.device_id,
            dev.sensor_type,
            value,
            dev.unit,
            ts,
            metadata,
            loaded,
        )

    # ------------------------------------------------------------------ transactions
    def _basket(
        self, rng: random.Random, ts: datetime, size: int, loaded: datetime
    ) -> list[dict[str, Any]]:
        cfg = self.config
        self._seq["transaction"] += 1
        txn = f"TX{self._seq['transaction']:09d}"
        store = rng.choices(cat.STORES, weights=self._store_weights)[0].STORE_ID
        customer = None if rng.random() < cfg.anonymous_fraction else rng.choice(self._customers)
        payment = _pick(rng, cat.PAYMENT_METHODS)
        promo = _pick(rng, _DISCOUNTS) if rng.random() < 0.1 else None  # basket-wide coupon
        lines = []
        for line, product in enumerate(rng.sample(cat.PRODUCTS, size), start=1):
            price = product.LIST_PRICE
            if rng.random() < 0.1:  # store markdown
                price = (price * Decimal("0.85")).quantize(_CENT)
            qty = _pick(rng, ((1, 70), (2, 20), (3, 6), (4, 4)))
            discount = promo if promo is not None else _pick(rng, _DISCOUNTS)
            product_id = product.PRODUCT_ID
            if rng.random() < cfg.invalid_fraction:
                fault = rng.choice(
                    ("zero_qty", "negative_qty", "unknown_product", "negative_price")
                )
                if fault == "zero_qty":
                    qty = 0
                elif fault == "negative_qty":
                    qty = -rng.randint(1, 2)
                elif fault == "unknown_product":
                    product_id = rng.choice(cat.UNKNOWN_PRODUCT_IDS)
                else:
                    price = -price
            lines.append(
                {
                    "TRANSACTION_ID": txn,
                    "LINE_NUMBER": line,
                    "TRANSACTION_TS": ts,
                    "STORE_ID": store,
                    "CUSTOMER_ID": customer,
                    "PRODUCT_ID": product_id,
                    "QUANTITY": qty,
                    "UNIT_PRICE": price,
                    "DISCOUNT_PCT": None
                    if discount == 0 and rng.random() < 0.5
                    else Decimal(discount).quantize(_CENT),
                    "PAYMENT_METHOD": payment,
                    "_LOADED_AT": loaded,
                }
            )
        return lines

    # ------------------------------------------------------------------ events
    def _idle_customer(self, rng: random.Random) -> str | None:
        """A random customer without an open or paused session (None if none is found)."""
        busy = {s.customer_id for s in self._open + self._paused}
        for _ in range(20 if len(busy) < len(self._customers) else 0):
            customer = rng.choice(self._customers)
            if customer not in busy:
                return customer
        return None

    def _new_session(self, rng: random.Random, customer: str) -> _Session:
        preferred = self._preferred_device[customer]
        device = preferred if rng.random() < 0.8 else _pick(rng, cat.DEVICE_TYPES)
        depth = _pick(rng, _FUNNEL_DEPTH)
        plan: deque[tuple[str, dict[str, Any]]] = deque()
        referrer = rng.choice(cat.REFERRERS)
        viewed = rng.sample(cat.PRODUCTS, rng.randint(1, 4))
        for i, product in enumerate(viewed):
            if i == 0 and rng.random() < 0.25:
                plan.append(
                    (
                        "search",
                        {"query": rng.choice(cat.SEARCH_TERMS), "results": rng.randint(0, 40)},
                    )
                )
            props: dict[str, Any] = {
                "page": f"/product/{product.PRODUCT_ID}",
                "product_id": product.PRODUCT_ID,
            }
            if i == 0:
                props["referrer"] = referrer
            plan.append(("page_view", props))
        session = _Session(customer, device, plan)
        if depth >= 2:
            for product in viewed[: rng.randint(1, 2)]:
                qty = 1 if rng.random() < 0.8 else 2
                session.cart.append((product.PRODUCT_ID, product.LIST_PRICE, qty))
                plan.append(
                    (
                        "add_to_cart",
                        {
                            "product_id": product.PRODUCT_ID,
                            "price": float(product.LIST_PRICE),
                            "quantity": qty,
                        },
                    )
                )
        if depth >= 3:
            plan.append(("checkout", self._cart_props(session)))
        if depth >= 4:
            plan.append(("purchase", self._order_props(rng, session)))
        return session

    @staticmethod
    def _cart_total(session: _Session) -> Decimal:
        return sum((price * qty for _, price, qty in session.cart), Decimal("0.00"))

    def _cart_props(self, session: _Session) -> dict[str, Any]:
        return {"cart_value": float(self._cart_total(session)), "items": len(session.cart)}

    def _order_props(self, rng: random.Random, session: _Session) -> dict[str, Any]:
        self._seq["order"] += 1
        return {
            "order_id": f"O{self._seq['order']:08d}",
            "currency": "USD",
            "order_total": float(self._cart_total(session)),
            "items": len(session.cart),
            "payment": _pick(rng, cat.PAYMENT_METHODS),
        }

    def _event_row(
        self,
        customer: str,
        event_type: str,
        ts: datetime,
        device: str,
        props: dict[str, Any],
        loaded: datetime,
    ) -> dict[str, Any]:
        self._seq["event"] += 1
        return {
            "EVENT_ID": f"EV{self._seq['event']:010d}",
            "CUSTOMER_ID": customer,
            "EVENT_TYPE": event_type,
            "EVENT_TS": ts,
            "DEVICE_TYPE": device,
            "PROPERTIES": _dumps(props),
            "_LOADED_AT": loaded,
        }

    def _emit(
        self, rng: random.Random, s: _Session, ts: datetime, loaded: datetime
    ) -> dict[str, Any]:
        event_type, props = s.plan.popleft()
        s.start = s.start or ts
        s.last = ts
        s.step = max(s.step, _STEP[event_type])
        row = self._event_row(s.customer_id, event_type, ts, s.device, props, loaded)
        if not s.plan:
            self._open.remove(s)
            self._history.append(s)
        elif rng.random() < self.config.pause_fraction:
            # The shopper leaves and comes back later: a gap > 30 min starts a new session.
            self._open.remove(s)
            s.resume_at = ts + timedelta(minutes=rng.uniform(31, 120))
            self._paused.append(s)
        return row

    def _late_event(self, rng: random.Random, ts: datetime, loaded: datetime) -> dict[str, Any]:
        """An event synced hours late (offline app), revising an earlier session."""
        # Attached events land up to 15 minutes after the session's last event.
        newest = ts - timedelta(hours=self.config.late_min_hours, minutes=15)
        oldest = ts - timedelta(hours=self.config.late_max_hours)
        done = [s for s in self._history if s.last is not None and oldest <= s.last <= newest]
        if not done:
            customer = rng.choice(self._customers)
            props = {"page": "/", "referrer": "direct", "offline_sync": True}
            return self._event_row(
                customer,
                "page_view",
                self._late_ts(rng, ts),
                self._preferred_device[customer],
                props,
                loaded,
            )
        s = rng.choice(done)
        assert s.start is not None and s.last is not None
        if s.step < 4 and rng.random() < 0.5:
            at = s.last + timedelta(seconds=rng.randint(60, 900))
            if s.step == 1:
                product = rng.choice(cat.PRODUCTS)
                s.cart.append((product.PRODUCT_ID, product.LIST_PRICE, 1))
                event_type, props = (
                    "add_to_cart",
                    {
                        "product_id": product.PRODUCT_ID,
                        "price": float(product.LIST_PRICE),
                        "quantity": 1,
                    },
                )
            elif s.step == 2:
                event_type, props = "checkout", self._cart_props(s)
            else:
                event_type, props = "purchase", self._order_props(rng, s)
            s.last, s.step = at, s.step + 1
        else:
            span = int((s.last - s.start).total_seconds())
            at = s.start + timedelta(seconds=rng.randint(0, max(span, 1)))
            product = rng.choice(cat.PRODUCTS)
            event_type = "page_view"
            props = {"page": f"/product/{product.PRODUCT_ID}", "product_id": product.PRODUCT_ID}
        props["offline_sync"] = True
        return self._event_row(s.customer_id, event_type, at, s.device, props, loaded)
