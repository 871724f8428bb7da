"""The app's job functions. Each checks that its arguments arrived as the
classes its annotations name (isinstance), and says what it got."""
from __future__ import annotations

from typing import Any

from .models import Address, Channel, Item, Order, Point, Priority, Receipt


def _check(name: str, value: Any, cls: type) -> None:
    if not isinstance(value, cls):
        raise TypeError(f"{name} arrived as {type(value).__module__}.{type(value).__qualname__}, not {cls.__qualname__}")


async def send_welcome_email(ctx: dict[str, Any], user_id: int, template: str = "welcome", *, channel: Channel = Channel.EMAIL) -> str:
    _check("channel", channel, Channel)
    return f"{user_id}:{template}:{channel.value}"


async def place_order(ctx: dict[str, Any], order: Order, priority: Priority = Priority.NORMAL) -> Receipt:
    _check("order", order, Order)
    _check("priority", priority, Priority)
    for it in order.items:
        _check("item", it, Item)
    return Receipt(order_id=order.id, total_items=sum(it.quantity for it in order.items), priority=priority)


async def ship_to(ctx: dict[str, Any], address: Address, where: Point | None = None) -> list[str]:
    _check("address", address, Address)
    if where is not None:
        _check("where", where, Point)
    return [address.street, address.city, address.zip_code, repr(where)]


async def tag_items(ctx: dict[str, Any], skus: list[str], weights: dict[str, float]) -> dict[str, float]:
    return {s: weights.get(s, 0.0) for s in skus}


async def nightly_report(ctx: dict[str, Any]) -> None:
    return None
