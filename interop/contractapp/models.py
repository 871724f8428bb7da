"""The app's value types: one of each kind goarq's contract maps."""
from __future__ import annotations

import dataclasses
import datetime
import enum
from typing import NamedTuple

from pydantic import BaseModel


class Priority(enum.IntEnum):
    LOW = 1
    NORMAL = 2
    HIGH = 3


class Channel(str, enum.Enum):
    EMAIL = "email"
    SMS = "sms"


class Item(BaseModel):
    sku: str
    quantity: int = 1


class Order(BaseModel):
    id: int
    customer_email: str
    items: list[Item]
    placed_at: datetime.datetime
    note: str | None = None


class Receipt(BaseModel):
    order_id: int
    total_items: int
    priority: Priority


@dataclasses.dataclass
class Address:
    street: str
    city: str
    zip_code: str = ""


class Point(NamedTuple):
    x: float
    y: float
