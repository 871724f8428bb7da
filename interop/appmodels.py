"""The classes of a usual FastAPI app, and the value table of interop/test_values.py.

Go stands for each class in interop/gomodels (module "interop.appmodels"), and
VALUES[name] is the Python value of gomodels.Cases()'s row of the same name.
"""
import dataclasses
import datetime
import decimal
import enum
import typing
import uuid
import zoneinfo
from datetime import timedelta, timezone

import pydantic
import pydantic.v1


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 3


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Status(enum.StrEnum):
    NEW = "new"
    DONE = "done"


class Perm(enum.Flag):
    R = 1
    W = 2
    X = 4


@dataclasses.dataclass
class Point:
    x: int
    y: float


@dataclasses.dataclass(frozen=True)
class Money:
    amount: decimal.Decimal
    currency: str


@dataclasses.dataclass(slots=True)
class Tag:
    name: str
    weight: int = 1


@dataclasses.dataclass(slots=True, frozen=True)
class Dims:
    w: int
    h: int


class Coord(typing.NamedTuple):
    lat: float
    lon: float


class Range(typing.NamedTuple):
    low: Priority
    high: Priority


@dataclasses.dataclass
class Shipment:
    id: int
    priority: Priority
    eta: datetime.datetime
    dims: Dims


@dataclasses.dataclass
class Timer:
    name: str
    every: timedelta


class Line(pydantic.BaseModel):
    sku: str
    qty: int
    price: decimal.Decimal


class Order(pydantic.BaseModel):
    id: int
    customer_email: str
    priority: Priority = Priority.LOW
    status: Status = Status.NEW
    placed_at: datetime.datetime
    lines: list[Line] = []
    note: str | None = None
    tags: list[str] = []


class Customer(pydantic.BaseModel):
    id: int
    name: str


class Event(pydantic.BaseModel):
    name: str
    at: datetime.datetime
    color: Color


class Invoice(pydantic.BaseModel):
    id: uuid.UUID
    total: decimal.Decimal
    issued: datetime.date


class Profile(pydantic.BaseModel):
    statuses: list[Status]
    home: Coord
    perms: Perm


class Setting(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True)
    key: str
    value: int


class LegacyUser(pydantic.v1.BaseModel):
    name: str
    age: int


class BenchLine(pydantic.BaseModel):
    sku: str
    qty: int
    price: float
    status: Status


class BenchOrder(pydantic.BaseModel):
    """The bench's job record: 20 fields, 10 nested models, an enum, a ZoneInfo datetime."""
    id: int
    customer_id: int
    customer_email: str
    customer_name: str
    priority: Priority
    status: Status
    placed_at: datetime.datetime
    currency: str
    subtotal: float
    tax: float
    total: float
    paid: bool
    coupon: str | None
    street: str
    city: str
    postcode: str
    country: str
    phone: str
    notes: str
    lines: list[BenchLine]


PARIS = zoneinfo.ZoneInfo("Europe/Paris")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
WHEN = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=PARIS)


def bench_order():
    return BenchOrder(
        id=123456, customer_id=987, customer_email="ann@example.com", customer_name="Ann Example",
        priority=Priority.HIGH, status=Status.NEW, placed_at=WHEN, currency="EUR",
        subtotal=99.5, tax=19.9, total=119.4, paid=True, coupon=None, street="1 Rue de Rivoli",
        city="Paris", postcode="75001", country="FR", phone="+33 1 23 45 67 89", notes="ring twice",
        lines=[BenchLine(sku=f"SKU-{i}", qty=i + 1, price=9.95 + i, status=Status.NEW) for i in range(10)],
    )


# Python values that go both ways: Go binds each into its gomodels type, and
# the Go value of the same row reaches Python == to it, of the same type().
VALUES = {
    "priority": Priority.HIGH,
    "priority_low": Priority.LOW,
    "color": Color.BLUE,
    "status": Status.DONE,
    "perm": Perm.R | Perm.W,
    "perm_none": Perm(0),
    "point": Point(1, 2.5),
    "money": Money(decimal.Decimal("12.50"), "EUR"),
    "tag": Tag("urgent", 3),
    "dims": Dims(2, 3),
    "coord": Coord(48.8566, 2.3522),
    "range": Range(Priority.LOW, Priority.HIGH),
    "shipment": Shipment(7, Priority.HIGH, WHEN, Dims(4, 5)),
    "timer": Timer("tick", timedelta(minutes=5, microseconds=1)),
    "line": Line(sku="A-1", qty=2, price=decimal.Decimal("9.99")),
    "order_min": Order(id=1, customer_email="a@b.c", placed_at=WHEN),
    "order_full": Order(id=2, customer_email="b@c.d", priority=Priority.HIGH, status=Status.DONE, placed_at=WHEN,
                        lines=[Line(sku="A-1", qty=2, price=decimal.Decimal("9.99")),
                               Line(sku="B-2", qty=1, price=decimal.Decimal("0.50"))],
                        note="leave at door", tags=["gift", "fragile"]),
    "event": Event(name="launch", at=datetime.datetime(2024, 3, 31, 1, 30, tzinfo=NEW_YORK), color=Color.RED),
    "invoice": Invoice(id=uuid.UUID("12345678-1234-5678-1234-567812345678"), total=decimal.Decimal("1000.01"),
                       issued=datetime.date(2024, 2, 29)),
    "profile": Profile(statuses=[Status.NEW, Status.DONE], home=Coord(1.5, -2.25), perms=Perm.X),
    "setting": Setting(key="retries", value=3),
    "legacy_user": LegacyUser(name="bob", age=42),
    "dt_paris": WHEN,
    "dt_new_york": datetime.datetime(2024, 11, 3, 12, 0, tzinfo=NEW_YORK),
    "dt_tokyo": datetime.datetime(2000, 1, 1, 9, 0, tzinfo=TOKYO),
    "dt_fold": datetime.datetime(2024, 10, 27, 2, 30, tzinfo=PARIS, fold=1),
    "dt_utc": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc),
    "dt_fixed": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    "date": datetime.date(2024, 2, 29),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "decimal": decimal.Decimal("3.14159"),
    "lines": [Line(sku="A-1", qty=2, price=decimal.Decimal("9.99")), Line(sku="C-3", qty=9, price=decimal.Decimal("1"))],
    "points": {"a": Point(0, 0.5), "b": Point(-1, 1e-9)},
    "bench_order": bench_order(),
}


def _pydantic_tz():
    class M(pydantic.BaseModel):
        at: datetime.datetime
    return M.model_validate_json('{"at": "2024-05-06T07:08:09.5+02:00"}').at


def _in_only():
    import pytz
    from dateutil import tz as dtz
    return {
        "pydantic_tzinfo": _pydantic_tz(),
        "pytz_paris": pytz.timezone("Europe/Paris").localize(datetime.datetime(2024, 10, 27, 2, 30), is_dst=False),
        "pytz_utc": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=pytz.utc),
        "dateutil_paris": datetime.datetime(2024, 7, 1, 12, 0, tzinfo=dtz.gettz("Europe/Paris")),
        "dateutil_utc": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dtz.tzutc()),
        "dateutil_offset": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dtz.tzoffset("IST", 19800)),
        "zoneinfo_utc": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=zoneinfo.ZoneInfo("UTC")),
        "intenum_as_int": Priority.HIGH,
        "strenum_as_str": Status.DONE,
        "enum_as_str": Color.BLUE,
        "flag_as_int": Perm.R | Perm.X,
        "uuid_as_str": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "decimal_as_str": decimal.Decimal("-0.10"),
        "decimal_as_float": decimal.Decimal("2.5"),
        "date_as_time": datetime.date(2024, 2, 29),
        "order_as_subset": VALUES["order_full"],
        "dataclass_as_dict": Point(1, 2.5),
    }


# Python values that bind into plain Go types (gomodels.InOnly()).
IN_ONLY = _in_only()
