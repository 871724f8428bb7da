"""Pack one prebuilt goarq binary into a wheel tagged py3-none-<platform>.

    python3 scripts/wheels.py --binary PATH --version V --platform TAGS --out DIR

The wheel installs the binary as a script (goarq-V.data/scripts/goarq),
so pip puts it on PATH untouched (no Python launcher in between), and a
small package `goarq` whose __main__ finds that binary through the
installed distribution's RECORD, so `python -m goarq` runs it too.

Written with the standard library (zipfile, hashlib) rather than a build
backend: a wheel is a zip with METADATA, WHEEL and RECORD (PEP 427/491),
and the backends (setuptools, hatchling, maturin) build from source or
need per-platform plumbing to ship a foreign, prebuilt binary. Nothing to
install, and the output is byte-for-byte reproducible: entries are sorted
and dated SOURCE_DATE_EPOCH (default: 1980-01-01).
"""
import argparse
import base64
import hashlib
import io
import os
import re
import sys
import time
import zipfile

NAME = "goarq"

INIT_PY = '''"""goarq: the goarq command-line tool (a static Go binary) for arq queues."""
import os
import sys
import sysconfig
from importlib import metadata

__version__ = {version!r}

_EXE = "goarq.exe" if os.name == "nt" else "goarq"


def find_goarq_bin():
    """The path of the goarq binary this package installed."""
    try:
        for f in metadata.files("goarq") or ():
            if f.name == _EXE and f.parent.name in ("bin", "Scripts"):
                p = str(f.locate())
                if os.path.isfile(p):
                    return p
    except metadata.PackageNotFoundError:
        pass
    user = sysconfig.get_preferred_scheme("user") if sys.version_info >= (3, 10) else os.name + "_user"
    for scripts in (sysconfig.get_path("scripts"), sysconfig.get_path("scripts", user)):
        p = os.path.join(scripts, _EXE)
        if os.path.isfile(p):
            return p
    raise FileNotFoundError("the goarq binary is not installed next to this Python package; reinstall the goarq wheel")
'''

MAIN_PY = '''import os
import subprocess
import sys

from goarq import find_goarq_bin


def main():
    exe = find_goarq_bin()
    args = [exe, *sys.argv[1:]]
    if os.name == "nt":
        # no exec on Windows: run it and pass its exit code on
        try:
            sys.exit(subprocess.call(args))
        except KeyboardInterrupt:
            sys.exit(130)
    os.execv(exe, args)


if __name__ == "__main__":
    main()
'''

SUMMARY = "goarq's command line for arq queues (dashboard, exporter, doctor, jobs, enqueue, ...) as a static binary"

DESCRIPTION = """\
goarq's command-line tool, packaged for Python teams that run arq: no Go
toolchain needed. It installs the `goarq` command on PATH (and `python -m
goarq`): a web dashboard, a Prometheus exporter, and commands to list,
enqueue, inspect and abort jobs of queues fed by Python arq or goarq.

    pip install goarq
    goarq --redis redis://localhost:6379/0 stats

Source and documentation: https://github.com/goarq/goarq
"""


def b64hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build(binary, version, platform, out):
    if not re.fullmatch(r"\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?", version):
        sys.exit(f"wheels.py: version {version!r} is not a public PEP 440 version (like 1.2.3 or 0.0.0.dev12)")
    exe = "goarq.exe" if platform.startswith("win") else "goarq"
    with open(binary, "rb") as f:
        bin_data = f.read()
    tag = f"py3-none-{platform}"
    dist_info = f"{NAME}-{version}.dist-info"
    data_dir = f"{NAME}-{version}.data"
    metadata = (
        "Metadata-Version: 2.1\n"
        f"Name: {NAME}\n"
        f"Version: {version}\n"
        f"Summary: {SUMMARY}\n"
        "Home-page: https://github.com/goarq/goarq\n"
        "Requires-Python: >=3.8\n"
        "Classifier: Programming Language :: Go\n"
        "Classifier: Topic :: System :: Distributed Computing\n"
        "Description-Content-Type: text/markdown\n"
        "\n" + DESCRIPTION)
    wheel = (
        "Wheel-Version: 1.0\n"
        "Generator: goarq scripts/wheels.py\n"
        "Root-Is-Purelib: false\n"
        + "".join(f"Tag: py3-none-{p}\n" for p in platform.split(".")))
    files = [  # (path, data, executable)
        (f"{NAME}/__init__.py", INIT_PY.format(version=version).encode(), False),
        (f"{NAME}/__main__.py", MAIN_PY.encode(), False),
        (f"{data_dir}/scripts/{exe}", bin_data, True),
        (f"{dist_info}/METADATA", metadata.encode(), False),
        (f"{dist_info}/WHEEL", wheel.encode(), False),
    ]
    record = "".join(f"{p},{b64hash(d)},{len(d)}\n" for p, d, _ in files) + f"{dist_info}/RECORD,,\n"
    files.append((f"{dist_info}/RECORD", record.encode(), False))

    epoch = max(int(os.environ.get("SOURCE_DATE_EPOCH", "315532800")), 315532800)
    date = time.gmtime(epoch)[:6]
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"{NAME}-{version}-{tag}.whl")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        # the RECORD goes last, as PEP 427 recommends; the rest in order
        for p, d, x in files:
            info = zipfile.ZipInfo(p, date_time=date)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so that pip reads the mode bits
            info.external_attr = ((0o100755 if x else 0o100644) << 16)
            z.writestr(info, d)
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", required=True, help="the goarq binary for this platform")
    ap.add_argument("--version", required=True, help="a PEP 440 version, e.g. 0.3.0")
    ap.add_argument("--platform", required=True,
                    help="platform tag(s), dot-separated, e.g. manylinux_2_17_x86_64.manylinux2014_x86_64.musllinux_1_2_x86_64")
    ap.add_argument("--out", default="dist", help="directory for the wheel")
    a = ap.parse_args()
    print(build(a.binary, a.version, a.platform, a.out))


if __name__ == "__main__":
    main()
