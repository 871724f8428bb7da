"""The pip-installable CLI: scripts/wheels.sh builds the linux x86_64 wheel,
pip installs it into a fresh virtualenv with no Go toolchain on PATH, and
the installed `goarq` (and `python -m goarq`) talks to the test Redis."""
import json
import os
import platform
import re
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from arq.jobs import Job

from .conftest import REDIS_URL

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                                reason="the test installs the linux x86_64 wheel")


def is_static_elf(path):
    """True when the ELF file has no PT_INTERP program header (no dynamic loader)."""
    with open(path, "rb") as f:
        data = f.read(1 << 20)
    assert data[:4] == b"\x7fELF" and data[4] == 2, "not a 64-bit ELF"
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    types = [struct.unpack_from("<I", data, phoff + i * phentsize)[0] for i in range(phnum)]
    return 3 not in types  # PT_INTERP


@pytest.mark.timeout(900)
async def test_wheel_installs_goarq_without_go(tmp_path, arq_redis):
    dist = tmp_path / "dist"
    p = subprocess.run(["bash", "scripts/wheels.sh", "--out", str(dist), "linux_x86_64"], cwd=ROOT,
                       capture_output=True, text=True, timeout=840)
    assert p.returncode == 0, p.stderr
    wheels = list(dist.glob("*.whl"))
    assert len(wheels) == 1, wheels
    m = re.fullmatch(r"goarq-(.+)-py3-none-manylinux_2_17_x86_64\.manylinux2014_x86_64\.musllinux_1_2_x86_64\.whl",
                     wheels[0].name)
    assert m, wheels[0].name
    version = m.group(1)
    with zipfile.ZipFile(wheels[0]) as z:
        assert z.testzip() is None
        info = z.getinfo(f"goarq-{version}.data/scripts/goarq")
        assert info.external_attr >> 16 & 0o111, "the binary is not executable in the wheel"

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    p = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-index", str(wheels[0])],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    goarq = venv / "bin" / "goarq"
    assert goarq.is_file() and os.access(goarq, os.X_OK)
    assert is_static_elf(goarq), "the installed goarq needs a dynamic loader"

    # no Go toolchain on PATH: the venv's bin, then the directories of PATH without a go
    path = [d for d in os.environ["PATH"].split(os.pathsep) if d and not os.path.exists(os.path.join(d, "go"))]
    env = {"PATH": os.pathsep.join([str(venv / "bin"), *path]), "HOME": str(tmp_path)}
    run = lambda *a: subprocess.run(list(a), capture_output=True, text=True, timeout=60, env=env)  # noqa: E731
    assert run("sh", "-c", "command -v go").returncode != 0, "go is on the test's PATH"

    for cmd in (["goarq"], [str(py), "-m", "goarq"]):
        p = run(*cmd, "--version")
        assert p.returncode == 0 and re.fullmatch(rf"goarq version {re.escape(version)} \(commit [0-9a-f]{{12}}(-dirty)?\)\n", p.stdout), \
            (cmd, p.stdout, p.stderr)

    # the installed CLI against the test Redis
    # goarq doctor: the test Redis runs with persistence off, which doctor reports as a problem (exit 1)
    p = run("goarq", "--redis", REDIS_URL, "--json", "doctor")
    rep = json.loads(p.stdout)
    assert p.returncode == 1 and any(f["check"] == "persistence" and f["severity"] == "problem" for f in rep["findings"]), (p.stdout, p.stderr)
    p = run("goarq", "--redis", REDIS_URL, "stats")
    assert p.returncode == 0, p.stderr
    p = run(str(py), "-m", "goarq", "--redis", REDIS_URL, "enqueue", "add", "1", "2", "--job-id", "from-wheel")
    assert p.returncode == 0 and p.stdout == "from-wheel\n", p.stderr
    jd = await Job("from-wheel", arq_redis).info()
    assert jd.function == "add" and jd.args == (1, 2), jd
    # an exit code passes through python -m goarq
    p = run(str(py), "-m", "goarq", "--redis", "redis://127.0.0.1:1/0", "stats")
    assert p.returncode == 4 and "cannot connect to Redis" in p.stderr, (p.returncode, p.stderr)
