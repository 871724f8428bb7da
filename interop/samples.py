"""The type-mapping table as Python values.

interop/goclient/samples.go holds the same rows as Go values; rows are
matched by name. `SERIALIZERS` says which serializers carry a row.
"""
import datetime as dt
import uuid
from decimal import Decimal

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))

# name, Python value, serializers ("p" pickle, "j" json, "m" msgpack)
SAMPLES = [
    ("none", None, "pjm"),
    ("true", True, "pjm"),
    ("false", False, "pjm"),
    ("int_small", 42, "pjm"),
    ("int_negative", -7, "pjm"),
    ("int64_max", 2**63 - 1, "pjm"),
    ("int64_min", -(2**63), "pjm"),
    ("uint64_max", 2**64 - 1, "pjm"),
    ("bigint", 2**100, "pj"),
    ("bigint_negative", -(2**70) + 1, "pj"),
    ("float", 1.5, "pjm"),
    ("float_whole", 1.0, "pjm"),
    ("float_tiny", 1e-300, "pjm"),
    ("float_huge", 1.7976931348623157e308, "pjm"),
    ("str", "héllo wörld ✓ 🎉", "pjm"),
    ("str_empty", "", "pjm"),
    ("bytes", b"\x00\x01\xfe\xff", "pm"),
    ("bytearray", bytearray(b"ab\x00"), "p"),
    ("tuple", (1, "a", None), "pjm"),
    ("tuple_empty", (), "pjm"),
    ("list", [1, [2, 3], "x"], "pjm"),
    ("dict", {"b": 1, "a": [1, 2], "c": {"nested": True}}, "pjm"),
    ("dict_any_keys", {1: "one", (1, 2): "pair", None: "none"}, "p"),
    ("set", {1, 2, 3}, "p"),
    ("frozenset", frozenset({"a", "b"}), "p"),
    ("datetime_utc", dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.timezone.utc), "p"),
    ("datetime_offset", dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=IST), "p"),
    ("datetime_naive", dt.datetime(2024, 1, 2, 3, 4, 5, 6), "p"),
    ("date", dt.date(2024, 2, 29), "p"),
    ("time", dt.time(13, 14, 15, 161718), "p"),
    ("timedelta", dt.timedelta(days=1, seconds=3, microseconds=4), "p"),
    ("timedelta_negative", dt.timedelta(seconds=-90), "p"),
    ("decimal", Decimal("123.4500"), "p"),
    ("uuid", uuid.UUID("12345678-1234-5678-1234-567812345678"), "p"),
    ("exception", ValueError("bad", 3), "p"),
]

LETTER = {"pickle": "p", "json": "j", "msgpack": "m"}


def for_serializer(name):
    return [(n, v) for n, v, s in SAMPLES if LETTER[name] in s]


def as_received(value, serializer):
    """What a Python producer's value looks like after a round trip."""
    if serializer == "pickle":
        return value
    if isinstance(value, (tuple, list)):
        return [as_received(v, serializer) for v in value]
    if isinstance(value, dict):
        return {k: as_received(v, serializer) for k, v in value.items()}
    return value


def assert_same(got, want, path="value"):
    """Equal values of the same Python types, dict order included."""
    if isinstance(want, BaseException):
        assert type(got) is type(want), f"{path}: {type(got).__name__} is not {type(want).__name__}"
        assert got.args == want.args, f"{path}: args {got.args!r} != {want.args!r}"
        return
    assert type(got) is type(want), f"{path}: {got!r} is {type(got).__name__}, want {type(want).__name__} {want!r}"
    if isinstance(want, (list, tuple)):
        assert len(got) == len(want), f"{path}: {got!r} != {want!r}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{path}[{i}]")
    elif isinstance(want, dict):
        assert list(got.keys()) == list(want.keys()), f"{path}: keys {list(got)} != {list(want)}"
        for k in want:
            assert_same(got[k], want[k], f"{path}[{k!r}]")
    elif isinstance(want, dt.datetime):
        assert got == want and got.utcoffset() == want.utcoffset(), f"{path}: {got!r} != {want!r}"
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"
