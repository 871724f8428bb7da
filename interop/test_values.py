"""The values FastAPI apps enqueue, both ways between Python and goarq.

Every row of appmodels.VALUES is sent from Python to the Go fixture worker,
which binds it into the Go type of gomodels' row of the same name and
compares every field with the row's Go value; the same row's Go value
reaches Python (as a result and as enqueued args) == to the Python value and
of the same type(). appmodels.IN_ONLY rows bind into plain Go types.
"""
import datetime
import pickle

import pydantic
import pydantic.v1
import pytest
from arq.connections import RedisSettings, create_pool
from arq.jobs import Job

from . import appmodels
from .appmodels import IN_ONLY, VALUES, Customer, Order
from .test_go_worker import go_burst
from .conftest import REDIS_URL, ago, make_pool
from .pyfuncs import run_burst

BOTH = sorted(VALUES)


def same(got, want):
    """== and type(), and for what == leaves out: reprs (tzinfo, fold,
    nested types) and pydantic's fields set."""
    assert type(got) is type(want), f"{type(got)} is not {type(want)}"
    assert got == want
    assert repr(got) == repr(want)
    if hasattr(want, "model_fields_set"):
        assert got.model_fields_set == want.model_fields_set
        assert got.model_dump(exclude_unset=True) == want.model_dump(exclude_unset=True)
    if isinstance(want, pydantic.v1.BaseModel):
        assert got.__fields_set__ == want.__fields_set__


async def test_python_values_bind_in_go_field_by_field(arq_redis):
    jobs = {name: await arq_redis.enqueue_job("value_in", name, v) for name, v in {**VALUES, **IN_ONLY}.items()}
    assert len(VALUES) >= 30
    await go_burst()
    for name, job in jobs.items():
        assert await job.result(timeout=5) == "ok", name


async def test_go_values_reach_python_as_its_own_classes(arq_redis):
    jobs = {name: await arq_redis.enqueue_job("value_out", name) for name in BOTH}
    await go_burst()
    back = {}
    for name, job in jobs.items():
        got = await job.result(timeout=5)
        same(got, VALUES[name])
        back[name] = got
    # what Python pickles of goarq's objects binds in Go to the same values
    again = {name: await arq_redis.enqueue_job("value_in", name, v) for name, v in back.items()}
    await go_burst()
    for name, job in again.items():
        assert await job.result(timeout=5) == "ok", name


async def test_go_client_enqueues_python_classes(arq_redis):
    got = await ago("values-enqueue", "--function", "noop")
    assert sorted(got["names"]) == BOTH
    for name in BOTH:
        info = await Job(f"value:{name}", arq_redis).info()
        same(info.args[0], VALUES[name])
        same(info.kwargs["value"], VALUES[name])


async def test_python_values_bind_from_protocol_2_and_5(arq_redis):
    settings = RedisSettings.from_dsn(REDIS_URL)
    pool = await create_pool(settings, job_serializer=lambda d: pickle.dumps(d, 2))
    try:
        jobs = {name: await pool.enqueue_job("value_in", name, v) for name, v in VALUES.items()}
    finally:
        await pool.aclose()
    pool5 = await create_pool(settings, job_serializer=lambda d: pickle.dumps(d, 5))
    try:
        jobs5 = {name: await pool5.enqueue_job("value_in", name, v, _job_id=f"p5:{name}") for name, v in VALUES.items()}
    finally:
        await pool5.aclose()
    await go_burst()
    for name, job in {**jobs, **jobs5}.items():
        assert await Job(job.job_id, arq_redis).result(timeout=5) == "ok", name


async def test_a_positional_model_binds_a_struct_parameter(arq_redis):
    order = VALUES["order_full"]
    by_value = await arq_redis.enqueue_job("process_order", order)
    by_ptr = await arq_redis.enqueue_job("process_order_ptr", order)
    by_kw = await arq_redis.enqueue_job("process_order", order=VALUES["order_min"])
    await go_burst()
    same(await by_value.result(timeout=5), order)
    assert await by_ptr.result(timeout=5) == 2
    same(await by_kw.result(timeout=5), VALUES["order_min"])


async def test_values_that_do_not_fit_fail_naming_the_field(arq_redis):
    other_class = await arq_redis.enqueue_job("process_order", Customer(id=1, name="x"))
    missing_field = await arq_redis.enqueue_job("order_needs", VALUES["order_full"])
    bad_field = await arq_redis.enqueue_job("process_order", Order.model_construct(
        id="seven", customer_email="a@b.c", placed_at=appmodels.WHEN))
    from dateutil import tz as dtz
    odd_zone = await arq_redis.enqueue_job("when", datetime.datetime(2024, 1, 1, tzinfo=dtz.tzlocal()))
    await go_burst()
    cases = [
        (other_class, "process_order() argument 'order' (position 1) must be Order, not Customer"),
        (missing_field, "order_needs() argument 1: Order has no field 'discount'"),
        (bad_field, "process_order() argument 'order' (position 1)['id'] must be int, not str"),
        (odd_zone, "when() argument 't' (position 1): datetime with tzinfo dateutil.tz.tz.tzlocal is not supported"),
    ]
    for job, message in cases:
        with pytest.raises(TypeError) as got:
            await job.result(timeout=5)
        assert str(got.value).startswith(message), str(got.value)


async def test_defaults_fill_omitted_parameters(arq_redis):
    only_to = await arq_redis.enqueue_job("send_email", "a@b.c")
    with_kw = await arq_redis.enqueue_job("send_email", "a@b.c", retries=5)
    missing = await arq_redis.enqueue_job("send_email")
    await go_burst()
    assert await only_to.result(timeout=5) == ["a@b.c", None, 3]
    assert await with_kw.result(timeout=5) == ["a@b.c", None, 5]
    with pytest.raises(TypeError, match=r"send_email\(\) missing 1 required positional argument: 'to'"):
        await missing.result(timeout=5)


def pickled_repr(v):
    """Python's repr as far as a pickle tells it: an enum member's pickle
    holds its value but not its name, and a NamedTuple's or a frozen slots
    dataclass's holds its values but not their field names, so those print
    as the call that builds them: Priority(3), Coord(48.8, 2.3)."""
    import dataclasses
    import enum
    import pydantic
    import pydantic.v1
    if isinstance(v, enum.Enum):
        return f"{type(v).__name__}({v.value!r})"
    if isinstance(v, tuple) and hasattr(v, "_fields"):
        return f"{type(v).__name__}({', '.join(map(pickled_repr, v))})"
    if isinstance(v, (pydantic.BaseModel, pydantic.v1.BaseModel)):
        items = v.__dict__.items()
    elif dataclasses.is_dataclass(v):
        params = type(v).__dataclass_params__
        values = [getattr(v, f.name) for f in dataclasses.fields(v)]
        if params.frozen and hasattr(type(v), "__slots__"):
            return f"{type(v).__name__}({', '.join(map(pickled_repr, values))})"
        items = [(f.name, getattr(v, f.name)) for f in dataclasses.fields(v)]
    elif isinstance(v, list):
        return "[" + ", ".join(map(pickled_repr, v)) + "]"
    elif isinstance(v, dict):
        return "{" + ", ".join(f"{pickled_repr(k)}: {pickled_repr(x)}" for k, x in v.items()) + "}"
    else:
        return repr(v)
    return f"{type(v).__name__}({', '.join(f'{k}={pickled_repr(x)}' for k, x in items)})"


async def test_go_reprs_read_as_pythons(arq_redis):
    """goarq prints args as Python's repr does (worker log, CLI, dashboard),
    enum members and unnamed fields as the pickle gives them (pickled_repr)."""
    jobs = {name: await arq_redis.enqueue_job("value_repr", v) for name, v in VALUES.items()}
    await go_burst()
    for name, job in jobs.items():
        assert await job.result(timeout=5) == pickled_repr(VALUES[name]), name
    # most of them are Python's own repr
    exact = [n for n, v in VALUES.items() if pickled_repr(v) == repr(v)]
    assert len(exact) >= 18, exact


JSON_ROWS = ["priority", "color", "status", "perm", "point", "money", "tag", "dims", "coord", "range", "shipment",
             "line", "order_min", "order_full", "event", "invoice", "profile", "setting", "dt_paris", "dt_new_york",
             "dt_utc", "dt_fixed", "date", "uuid", "decimal", "lines", "points", "bench_order"]


@pytest.mark.parametrize("serializer", ["json", "msgpack"])
async def test_model_dump_json_binds_the_same_structs(serializer):
    """The documented path for JSON and msgpack: model_dump(mode='json') (or
    pydantic's TypeAdapter for non-models) binds into the same Go types."""
    import pydantic
    pool = await make_pool(serializer)
    await pool.flushdb()
    try:
        jobs = {}
        for name in JSON_ROWS:
            v = VALUES[name]
            dumped = pydantic.TypeAdapter(type(v)).dump_python(v, mode="json")
            jobs[name] = await pool.enqueue_job("value_json", name, dumped)
        await go_burst(serializer=serializer)
        for name, job in jobs.items():
            assert await job.result(timeout=5) == "ok", name
    finally:
        await pool.aclose()


async def make_value(ctx, name):
    return VALUES[name] if name != "customer" else Customer(id=1, name="x")


async def test_result_into_binds_python_results(arq_redis):
    """A Python worker's results (pydantic, dataclasses, enums, ZoneInfo
    datetimes) read in Go with Job.ResultInto; a result of another class is
    an error, never zero values."""
    for name in BOTH:
        await arq_redis.enqueue_job("make_value", name, _job_id=f"res:{name}")
    await arq_redis.enqueue_job("make_value", "customer", _job_id="res:customer")
    await run_burst(arq_redis, functions=[make_value])
    for name in BOTH:
        got = await ago("value-result-into", "--job-id", f"res:{name}", "--function", name)
        assert got == {"diff": ""}, (name, got)
    got = await ago("value-result-into", "--job-id", "res:customer", "--function", "order_min")
    assert got["assign_error"] and "must be Order, not Customer" in got["error"], got
