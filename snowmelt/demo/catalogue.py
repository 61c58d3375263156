"""Deterministic catalogue of the demo's dimension data and device profiles.

Role: the single source of the retail catalogue (stores and products) that three
places must agree on:

* ``sql/01_setup_dynamic_tables.sql`` populates ``BRONZE.DIM_STORES`` and
  ``BRONZE.DIM_PRODUCTS`` with ``INSERT ... VALUES`` rows written from these
  constants (a test parses the SQL and checks they are equal);
* ``generators.py`` draws point-of-sale lines and clickstream products from them;
* ``reference.py`` builds the dimension DataFrames from them.

Inputs: none. Outputs: plain tuples of strings and ``Decimal`` prices, plus the column
names of each dimension table in DDL order.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple


class Store(NamedTuple):
    """One row of ``BRONZE.DIM_STORES``."""

    STORE_ID: str
    STORE_NAME: str
    CITY: str
    STATE: str
    REGION: str
    STORE_TYPE: str


class Product(NamedTuple):
    """One row of ``BRONZE.DIM_PRODUCTS``."""

    PRODUCT_ID: str
    PRODUCT_NAME: str
    CATEGORY: str
    BRAND: str
    LIST_PRICE: Decimal
    UNIT_COST: Decimal


DIM_STORES_COLUMNS: tuple[str, ...] = Store._fields
DIM_PRODUCTS_COLUMNS: tuple[str, ...] = Product._fields

STORES: tuple[Store, ...] = (
    Store("S001", "Seattle Flagship", "Seattle", "WA", "WEST", "FLAGSHIP"),
    Store("S002", "Portland Pearl", "Portland", "OR", "WEST", "STANDARD"),
    Store("S003", "Denver Union Station", "Denver", "CO", "CENTRAL", "STANDARD"),
    Store("S004", "Chicago Loop", "Chicago", "IL", "CENTRAL", "FLAGSHIP"),
    Store("S005", "Austin South Congress", "Austin", "TX", "SOUTH", "STANDARD"),
    Store("S006", "Miami Brickell", "Miami", "FL", "SOUTH", "EXPRESS"),
    Store("S007", "Boston Back Bay", "Boston", "MA", "EAST", "STANDARD"),
    Store("S008", "New York SoHo", "New York", "NY", "EAST", "FLAGSHIP"),
)

_D = Decimal
PRODUCTS: tuple[Product, ...] = (
    Product("P001", "Wireless Earbuds", "Electronics", "Sonique", _D("79.99"), _D("38.50")),
    Product("P002", "Bluetooth Speaker", "Electronics", "Sonique", _D("59.99"), _D("27.00")),
    Product("P003", "USB-C Charger 65W", "Electronics", "Voltix", _D("34.99"), _D("12.40")),
    Product("P004", "Smart Watch", "Electronics", "Pulse", _D("199.00"), _D("112.00")),
    Product(
        "P005", "Noise Cancelling Headphones", "Electronics", "Sonique", _D("249.99"), _D("131.00")
    ),
    Product("P006", "Chef Knife 8in", "Home & Kitchen", "Edgewell", _D("49.95"), _D("18.20")),
    Product("P007", "Pour-Over Coffee Set", "Home & Kitchen", "Brewline", _D("39.00"), _D("15.75")),
    Product("P008", "Cast Iron Skillet", "Home & Kitchen", "Forgeworks", _D("29.99"), _D("11.10")),
    Product("P009", "Linen Bed Sheets", "Home & Kitchen", "Northloom", _D("89.00"), _D("36.00")),
    Product("P010", "Organic Cotton T-Shirt", "Apparel", "Fieldtrip", _D("24.00"), _D("7.80")),
    Product("P011", "Running Shoes", "Apparel", "Stride", _D("119.99"), _D("52.00")),
    Product("P012", "Rain Jacket", "Apparel", "Fieldtrip", _D("149.00"), _D("61.00")),
    Product("P013", "Wool Socks 3-Pack", "Apparel", "Northloom", _D("18.50"), _D("5.90")),
    Product("P014", "Dark Roast Coffee Beans", "Grocery", "Brewline", _D("16.99"), _D("7.25")),
    Product("P015", "Sparkling Water 12-Pack", "Grocery", "Clearspring", _D("7.49"), _D("3.10")),
    Product("P016", "Granola Bar Box", "Grocery", "Trailmix Co", _D("5.99"), _D("2.20")),
    Product("P017", "Olive Oil 1L", "Grocery", "Verdi", _D("14.25"), _D("6.80")),
    Product("P018", "Yoga Mat", "Sports & Outdoors", "Stride", _D("42.00"), _D("14.50")),
    Product(
        "P019", "Insulated Water Bottle", "Sports & Outdoors", "Summit", _D("32.00"), _D("9.60")
    ),
    Product("P020", "Camping Lantern", "Sports & Outdoors", "Summit", _D("27.50"), _D("10.30")),
    Product("P021", "Face Moisturizer", "Beauty", "Lumen", _D("22.00"), _D("6.40")),
    Product("P022", "Vitamin C Serum", "Beauty", "Lumen", _D("36.00"), _D("9.90")),
    Product("P023", "Shampoo & Conditioner Set", "Beauty", "Aqualis", _D("19.99"), _D("6.10")),
    Product("P024", "Electric Toothbrush", "Beauty", "Aqualis", _D("64.99"), _D("26.00")),
)

PRODUCT_IDS: frozenset[str] = frozenset(p.PRODUCT_ID for p in PRODUCTS)
STORE_IDS: frozenset[str] = frozenset(s.STORE_ID for s in STORES)

# Product ids a misconfigured till or a stale price file sends; none is in DIM_PRODUCTS.
UNKNOWN_PRODUCT_IDS: tuple[str, ...] = ("P999", "P000", "SKU-UNKNOWN")

PAYMENT_METHODS: tuple[tuple[str, int], ...] = (
    ("credit_card", 45),
    ("debit_card", 22),
    ("mobile_pay", 18),
    ("cash", 12),
    ("gift_card", 3),
)

DEVICE_TYPES: tuple[tuple[str, int], ...] = (("mobile", 55), ("desktop", 35), ("tablet", 10))


class SensorProfile(NamedTuple):
    """How one sensor type behaves, in canonical units (°C, %, kPa, mm/s)."""

    base: tuple[float, float]  # range a device's resting value is drawn from
    noise: float  # standard deviation of one reading
    units: tuple[str, ...]  # spellings devices send; the first is canonical


SENSOR_PROFILES: dict[str, SensorProfile] = {
    "temperature": SensorProfile((17.0, 29.0), 0.3, ("C", "F", "degF")),
    "humidity": SensorProfile((35.0, 60.0), 1.2, ("%", "%RH")),
    "pressure": SensorProfile((280.0, 420.0), 3.0, ("kPa", "psi")),
    "vibration": SensorProfile((1.0, 6.0), 0.3, ("mm/s", "in/s")),
}
SENSOR_TYPE_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("temperature", 35),
    ("humidity", 20),
    ("pressure", 25),
    ("vibration", 20),
)
SITES: tuple[str, ...] = ("PLANT-A", "PLANT-B", "DC-NORTH")
ZONES: tuple[str, ...] = ("Z1", "Z2", "Z3", "Z4")
FIRMWARE_VERSIONS: tuple[tuple[str, int], ...] = (
    ("2.3.0", 30),
    ("2.4.1", 45),
    ("3.0.0-rc1", 15),
    ("1.9.7", 10),
)
SEARCH_TERMS: tuple[str, ...] = (
    "earbuds",
    "coffee",
    "running shoes",
    "yoga",
    "serum",
    "skillet",
    "rain jacket",
    "water bottle",
)
REFERRERS: tuple[str, ...] = ("direct", "search", "email", "social", "affiliate")
