# Sourced: makes .venv from pyproject.toml when missing or out of date and
# exports VENV. Needs python3 with venv and pip reaching PyPI.
VENV="${VENV:-$(pwd)/.venv}"
export VENV
_stamp="$VENV/.pyproject.sha256"
_want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$_stamp" 2>/dev/null)" != "$_want" ]; then
    printf '\n==> creating the Python virtualenv %s\n' "$VENV"
    if ! python3 -m venv --clear "$VENV" 2>/dev/null; then
        sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
        $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3-venv >/dev/null
        python3 -m venv --clear "$VENV"
    fi
    python3 - > "$VENV/requirements.txt" <<'PY'
import tomllib
with open("pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["dependencies"]))
PY
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q -r "$VENV/requirements.txt"
    echo "$_want" > "$_stamp"
fi
