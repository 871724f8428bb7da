"""Writes the Python-produced test data the Go tests read.

    .venv/bin/python scripts/gen_testdata.py

- arqcompat/testdata/python/<name>.<format>: every row of interop/samples.py
  as CPython's pickle (protocols 1-5), json.dumps and msgpack.packb write it;
  the Go tests decode each and compare with internal/samples.
- arqcompat/testdata/python/record.*: arq's own serialize_job and
  serialize_result output; bench_order.job.pkl, the values bench's record.
- arqcompat/testdata/hostile/*.pkl: pickles that name os.system and other
  globals; decoding must stay inert.
- arqcompat/testdata/fuzz/Fuzz*/: seed corpora for the Go fuzz targets.
"""
import json
import os
import pickle
import sys
from pathlib import Path

import msgpack
from arq.jobs import serialize_job, serialize_result

root = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(root))
from interop.samples import SAMPLES  # noqa: E402

out = root / "arqcompat" / "testdata"
py = out / "python"
hostile = out / "hostile"
for d in (py, hostile):
    d.mkdir(parents=True, exist_ok=True)


def fuzz_seed(target, name, data):
    d = out / "fuzz" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text("go test fuzz v1\n[]byte(%s)\n" % json.dumps(data.decode("latin-1")).replace("\\u00", "\\x"))


for name, value, sers in SAMPLES:
    if "p" in sers:
        for proto in range(0, 6):
            data = pickle.dumps(value, protocol=proto)
            (py / f"{name}.p{proto}.pkl").write_bytes(data)
            if proto in (2, 4, 5):
                fuzz_seed("FuzzUnpickle", f"{name}-p{proto}", data)
    if "j" in sers:
        data = json.dumps(value).encode()
        (py / f"{name}.json").write_bytes(data)
        fuzz_seed("FuzzUnmarshalJSON", name, data)
    if "m" in sers:
        data = msgpack.packb(value)
        (py / f"{name}.msgpack").write_bytes(data)
        fuzz_seed("FuzzUnmarshalMsgpack", name, data)

job = serialize_job("echo", (1, "a"), {"k": 2.5}, None, 1700000000123)
(py / "record.job.pkl").write_bytes(job)
fuzz_seed("FuzzDecodeJob", "job", job)
res = serialize_result("echo", (1,), {}, 2, 1700000000123, False, ValueError("boom"), 1700000000200, 1700000000300,
                       "ref", "arq:queue", "jid")
(py / "record.result.pkl").write_bytes(res)
fuzz_seed("FuzzDecodeJob", "result", res)
from interop.appmodels import bench_order  # noqa: E402

# the values row of scripts/bench.sh (scripts/bench/values.py) and arqcompat's BenchmarkDecodeBindBenchOrder
(py / "bench_order.job.pkl").write_bytes(serialize_job("process_order", (bench_order(),), {}, None, 1_700_000_000_000))
jres = serialize_result("echo", (1,), {}, 1, 1, True, [1, 2], 2, 3, "ref", "q", "jid", serializer=lambda d: json.dumps(d).encode())
(py / "record.result.json").write_bytes(jres)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/goarq-pwned",))


class EvilEval:
    def __reduce__(self):
        return (eval, ("__import__('os').system('echo pwned')",))


for proto in (0, 2, 4):
    (hostile / f"os_system.p{proto}.pkl").write_bytes(pickle.dumps(Evil(), protocol=proto))
    fuzz_seed("FuzzUnpickle", f"os_system-p{proto}", pickle.dumps(Evil(), protocol=proto))
(hostile / "eval.p4.pkl").write_bytes(pickle.dumps(EvilEval(), protocol=4))
(hostile / "job_with_os_system.pkl").write_bytes(serialize_job("echo", (Evil(),), {}, None, 1))
# self-referencing list and a billion-laughs of shared references
lst = []
lst.append(lst)
(hostile / "cycle.pkl").write_bytes(pickle.dumps(lst, protocol=4))
lol = ["x" * 10]
for _ in range(30):
    lol = [lol, lol]
(hostile / "laughs.pkl").write_bytes(pickle.dumps(lol, protocol=4))
print("wrote", sum(1 for _ in out.rglob("*") if _.is_file()), "files under", out)

# arq's next_cron on a grid of schedules and start times, for the Go port
import datetime as _dt  # noqa: E402

from arq.cron import next_cron  # noqa: E402

tz = _dt.timezone(_dt.timedelta(hours=2))
starts = [_dt.datetime(2024, 1, 31, 23, 59, 59, 999999, tzinfo=tz), _dt.datetime(2024, 2, 28, 12, 30, 15, 123456, tzinfo=tz),
          _dt.datetime(2023, 12, 31, 23, 0, 0, 0, tzinfo=tz), _dt.datetime(2024, 6, 15, 8, 7, 6, 500000, tzinfo=tz)]
schedules = [{}, {"second": None}, {"minute": 30}, {"hour": 3, "minute": 0}, {"weekday": 0, "hour": 9, "minute": 15},
             {"day": 1, "hour": 0, "minute": 0}, {"month": 2, "day": 29, "hour": 12, "minute": 0}, {"second": {0, 30}},
             {"minute": {5, 35}, "second": 10, "microsecond": 0}, {"weekday": {5, 6}, "hour": {8, 20}, "minute": 0}]
vectors = []
for sched in schedules:
    for start in starts:
        nxt = next_cron(start, **sched)
        enc = {k: (sorted(v) if isinstance(v, set) else v) for k, v in sched.items()}
        vectors.append({"schedule": enc, "start": start.isoformat(), "next": nxt.isoformat()})
wdir = root / "worker" / "testdata"
wdir.mkdir(parents=True, exist_ok=True)
(wdir / "next_cron.json").write_text(json.dumps(vectors, indent=1) + "\n")
