"""Typed contracts: a Python app exports its contract, goarq checks two
contracts against each other, and the Go package generated from the
contract enqueues into real Python arq workers."""
import asyncio
import datetime
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from arq.jobs import Job
from arq.worker import Worker

from .conftest import BIN, REDIS_URL, free_port, make_pool
from .contractapp.models import Order, Priority
from .contractapp.worker import WorkerSettings

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "interop" / "contractapp"
SETTINGS = "interop.contractapp.worker.WorkerSettings"


def goarq(*args, cwd=ROOT, timeout=60):
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # an app in tmp_path imports interop.contractapp
    return subprocess.run([str(BIN / "goarq"), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env)


def export(settings, out, cwd=ROOT):
    p = goarq("contract", "export", "--settings", settings, "--python", sys.executable, "--out", out, cwd=cwd)
    assert p.returncode == 0, p.stderr
    return json.loads(Path(out).read_text())


def test_export_describes_functions_models_and_matches_the_committed_contract(tmp_path):
    c = export(SETTINGS, tmp_path / "now.json")
    assert c["schema"] == "goarq-contract" and c["version"] == 1
    assert c["queue"] == "contract:queue" and c["serializer"] == "pickle"
    fns = {f["name"]: f for f in c["functions"]}
    assert sorted(fns) == ["cron:nightly_report", "place_order", "send_welcome_email", "ship_to", "tag_items"]
    assert fns["cron:nightly_report"]["cron"] is True
    place = fns["place_order"]
    assert (place["timeout"], place["max_tries"], place["keep_result"]) == (60.0, 3, 3600.0)
    assert [(p["name"], p["kind"], p["type"]) for p in place["params"]] == [
        ("order", "positional_or_keyword", {"kind": "model", "ref": "interop.contractapp.models.Order"}),
        ("priority", "positional_or_keyword", {"kind": "model", "ref": "interop.contractapp.models.Priority"}),
    ]
    assert place["params"][1]["default"] == {"$enum": "interop.contractapp.models.Priority", "member": "NORMAL"}
    assert fns["send_welcome_email"]["params"][2]["kind"] == "keyword_only"
    models = {m["ref"].rsplit(".", 1)[1]: m for m in c["models"]}
    assert {k: m["kind"] for k, m in models.items()} == {
        "Address": "dataclass", "Channel": "enum", "Item": "pydantic", "Order": "pydantic", "Point": "namedtuple", "Priority": "enum",
        "Receipt": "pydantic"}
    assert [(m["name"], m["value"]) for m in models["Priority"]["members"]] == [("LOW", 1), ("NORMAL", 2), ("HIGH", 3)]
    assert models["Order"]["fields"][2]["type"] == {"kind": "list", "of": {"kind": "model", "ref": "interop.contractapp.models.Item"}}

    # the committed contract, which the Go package was generated from, still holds
    p = goarq("contract", "check", APP / "contract.json", tmp_path / "now.json")
    assert (p.returncode, p.stdout) == (0, ""), p.stdout + p.stderr


def test_export_imports_the_app_without_connecting_anywhere(tmp_path):
    port = free_port()
    (tmp_path / "connecting_app.py").write_text(textwrap.dedent(f"""
        import socket
        socket.create_connection(("127.0.0.1", {port}), timeout=1)  # a Redis client made at import time

        class WorkerSettings:
            functions = []
    """))
    p = goarq("contract", "export", "--settings", "connecting_app.WorkerSettings", "--python", sys.executable, cwd=tmp_path)
    assert p.returncode == 1
    assert "tried to connect to ('127.0.0.1', %d)" % port in p.stderr, p.stderr


CHANGED = '''
from typing import Any
from arq.worker import func
from interop.contractapp import jobs
from interop.contractapp.worker import WorkerSettings as Base

async def send_welcome_email(ctx: dict[str, Any], user_id: {user_id}, {template}: str = "welcome") -> str:
    return ""

class WorkerSettings:
    functions = [func(send_welcome_email, name="send_welcome_email")] + Base.functions[1:]
    cron_jobs = Base.cron_jobs
    queue_name = Base.queue_name
'''


@pytest.mark.parametrize("change,line", [
    (dict(user_id="str", template="template"),
     "function send_welcome_email: parameter user_id: type int in A, str in B"),
    (dict(user_id="int", template="tmpl"),
     "function send_welcome_email: parameter template: renamed to tmpl in B"),
])
def test_check_fails_naming_the_function_and_parameter_of_a_changed_signature(tmp_path, change, line):
    (tmp_path / "changed_app.py").write_text(CHANGED.format(**change))
    p = goarq("contract", "export", "--settings", "changed_app.WorkerSettings", "--python", sys.executable,
              "--out", tmp_path / "changed.json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    p = goarq("contract", "check", APP / "contract.json", tmp_path / "changed.json")
    assert p.returncode == 1
    lines = p.stdout.splitlines()
    assert line in lines, p.stdout
    # the keyword-only channel went too: every difference is its own line
    assert "function send_welcome_email: parameter channel: removed in B" in lines


def test_generated_go_package_is_deterministic_and_current(tmp_path):
    for out in ("a", "b"):
        p = goarq("gen", "go", "--contract", APP / "contract.json", "--package", "appjobs", "--out", tmp_path / out)
        assert p.returncode == 0, p.stderr
    a = (tmp_path / "a" / "appjobs.go").read_bytes()
    assert a == (tmp_path / "b" / "appjobs.go").read_bytes()
    assert a.startswith(b"// Code generated by goarq gen go from contract.json; DO NOT EDIT.\n")
    assert a == (APP / "appjobs" / "appjobs.go").read_bytes(), "regenerate interop/contractapp/appjobs"


async def test_generated_go_enqueues_every_function_into_python_arq(arq_redis):
    pool = await make_pool()
    worker = Worker(functions=WorkerSettings.functions, queue_name=WorkerSettings.queue_name, redis_pool=pool,
                    burst=False, poll_delay=0.02, handle_signals=False)
    task = asyncio.create_task(worker.async_run())
    try:
        p = await asyncio.to_thread(subprocess.run, [str(BIN / "contractgo"), "--redis", REDIS_URL],
                                    capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        results = json.loads(p.stdout)["results"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await worker.close()
    # every function ran in Python, each checking isinstance on its arguments
    assert results == {
        "send_welcome_email": "7:welcome:sms",
        "place_order": {"order_id": 42, "total_items": 2 + 1, "priority_is_high": True},
        "ship_to": ["1 Main St", "Lyon", "", "Point(x=1.5, y=2.0)"],
        "tag_items": {"pen": 0.5, "cap": 0.0},
    }
    # the job arq stored holds the app's own classes, validated by pydantic
    info = await Job("contract-order", arq_redis, _queue_name=WorkerSettings.queue_name).info()
    order, priority = info.kwargs["order"], info.kwargs["priority"]
    assert type(order) is Order and type(priority) is Priority and priority is Priority.HIGH
    assert order.model_fields_set == {"id", "customer_email", "items", "placed_at"}
    assert order.items[1].quantity == 1 and order.items[1].model_fields_set == {"sku"}


GO_FUNCTIONS = "resize_image,label,typed,person,later,add,echo"

CALLER = '''
import datetime

from arq.connections import ArqRedis
from arq.jobs import Job

from interop.contractapp.models import Address

import gojobs


async def enqueue_all(redis: ArqRedis) -> list[Job | None]:
    return [
        await gojobs.enqueue_resize_image(redis, "cat.png", _job_id="resize-default"),
        await gojobs.enqueue_resize_image(redis, "cat.png", width=1024, _job_id="resize-1024"),
        await gojobs.enqueue_label(redis, Address(street="1 Main St", city="Lyon", zip_code="69001"), _job_id="label"),
        await gojobs.enqueue_typed(redis, 7, "x", _job_id="typed"),
        await gojobs.enqueue_person(redis, name="ann", age=3, _job_id="person"),
        await gojobs.enqueue_later(redis, datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone.utc), 1.5, _job_id="later"),
        await gojobs.enqueue_echo(redis, 1, "two", three=3, _job_id="echo"),
    ]
'''


def mypy_strict(cwd, *files):
    env = dict(os.environ, MYPYPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull, *files],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


async def test_generated_python_passes_mypy_strict_and_enqueues_into_the_go_worker(tmp_path, arq_redis):
    from .test_go_worker import GoWorker

    p = await asyncio.to_thread(subprocess.run, [str(BIN / "goworker"), "--dump-contract", tmp_path / "go.json", "--functions", GO_FUNCTIONS],
                                capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    c = json.loads((tmp_path / "go.json").read_text())
    assert c["source"] == {"language": "go"} and c["queue"] == "arq:queue"
    resize = next(f for f in c["functions"] if f["name"] == "resize_image")
    assert [(q["name"], q["type"]["kind"], q.get("default")) for q in resize["params"]] == [("path", "str", None), ("width", "int", 640)]
    p = goarq("gen", "python", "--contract", tmp_path / "go.json", "--out", tmp_path / "gojobs.py")
    assert p.returncode == 0, p.stderr
    src = (tmp_path / "gojobs.py").read_text()
    assert "    width: int = 640,\n" in src and ") -> Job | None:" in src

    (tmp_path / "caller.py").write_text(CALLER)
    checked = await asyncio.to_thread(mypy_strict, tmp_path, "gojobs.py", "caller.py")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # the types are real: a wrong one is a mypy error naming the argument
    (tmp_path / "wrong.py").write_text(CALLER.split("async def")[0] + textwrap.dedent('''
        async def wrong(redis: ArqRedis) -> None:
            await gojobs.enqueue_resize_image(redis, "cat.png", width="wide")
    '''))
    wrong = await asyncio.to_thread(mypy_strict, tmp_path, "gojobs.py", "wrong.py")
    assert wrong.returncode == 1 and 'Argument "width" to "enqueue_resize_image" has incompatible type "str"' in wrong.stdout, wrong.stdout

    # and the module enqueues into the Go fixture worker
    sys.path.insert(0, str(tmp_path))
    try:
        import caller
        jobs = await caller.enqueue_all(arq_redis)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("caller", None)
        sys.modules.pop("gojobs", None)
    assert all(j is not None for j in jobs)
    w = GoWorker("--burst", "--functions", GO_FUNCTIONS)
    try:
        assert await w.wait() == 0, w.output
    finally:
        w.kill()
    results = [await j.result(timeout=5) for j in jobs]
    assert results[:5] == ["cat.png@640w", "cat.png@1024w", "1 Main St, 69001 Lyon", [7, "x"], ["ann", 3]]
    assert results[5] == datetime.datetime(2026, 1, 2, 0, 0, 1, 500000, tzinfo=datetime.timezone.utc)
    assert results[6] == ((1, "two"), {"three": 3})


def readme_section():
    text = (ROOT / "README.md").read_text()
    start = text.index("## Typed contracts\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def fenced(section, lang):
    """The fenced blocks of section whose info string is lang."""
    blocks, cur, inside = [], [], None
    for line in section.splitlines():
        if inside is None and line.strip().startswith("```"):
            inside, cur = line.strip()[3:], []
        elif inside is not None and line.strip() == "```":
            if inside == lang:
                blocks.append("\n".join(cur))
            inside = None
        elif inside is not None:
            cur.append(line)
    return blocks


def test_readme_typed_contracts_example_is_the_one_the_suite_runs(tmp_path):
    section = readme_section()
    generate, ci = fenced(section, "sh")
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    committed = {p: p.read_bytes() for p in (APP / "contract.json", APP / "appjobs" / "appjobs.go")}
    try:
        # the README's commands, as written (with this suite's Python), leave the committed files as they are
        for block in (generate, ci):
            for cmd in block.splitlines():
                p = subprocess.run(cmd.replace(".venv/bin/python", sys.executable), shell=True, cwd=ROOT, env=env,
                                   capture_output=True, text=True, timeout=120)
                assert p.returncode == 0, f"{cmd}\n{p.stdout}{p.stderr}"
        for path, data in committed.items():
            assert path.read_bytes() == data, f"{path} changed: the committed contract or package is stale"
    finally:
        for path, data in committed.items():
            path.write_bytes(data)
    # the Go snippet is the code interop/contractgo runs against Python arq
    [snippet] = fenced(section, "golang")
    main = (ROOT / "interop" / "contractgo" / "main.go").read_text()
    main_lines = [l.strip() for l in main.splitlines()]
    snippet_lines = [l.strip() for l in snippet.splitlines()]
    at = main_lines.index(snippet_lines[0])
    assert main_lines[at:at + len(snippet_lines)] == snippet_lines
    # and the difference it shows is the one the signature test sees
    [shown] = fenced(section, "")
    assert shown == "function send_welcome_email: parameter user_id: type int in A, str in B"


def test_check_compares_a_python_and_a_go_worker_of_one_queue(tmp_path):
    # the migration fleet: Python's six functions, and the Go worker taking them over
    export("interop.arq_settings.MigrateWorkerSettings", tmp_path / "py.json")
    six = "count,add,echo,work,job_info,sleep"
    for name, functions in (("go6.json", six), ("go2.json", "count,add")):
        p = subprocess.run([str(BIN / "goworker"), "--dump-contract", tmp_path / name, "--functions", functions],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
    p = goarq("contract", "check", tmp_path / "py.json", tmp_path / "go6.json")
    assert (p.returncode, p.stdout) == (0, ""), p.stdout
    # a Go worker on the shared queue that lacks four of them
    p = goarq("contract", "check", tmp_path / "py.json", tmp_path / "go2.json")
    assert p.returncode == 1
    assert p.stdout.splitlines() == [f"function {f}: defined in A only: B does not run it" for f in ("echo", "job_info", "sleep", "work")]
