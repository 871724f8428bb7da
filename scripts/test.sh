#!/usr/bin/env bash
# The test command: installs what it needs, then runs go vet, the Go tests
# with the race detector, and the Python interop suite against a real
# redis-server on a free loopback port. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

log() { printf '\n==> %s\n' "$*"; }

# 1. redis-server (and redis-cli), from Debian's packages when missing
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    log "installing redis-server"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq redis-server redis-tools >/dev/null
fi

# 1b. headless Chromium for the dashboard's browser tests, from Debian's package
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
    log "installing chromium"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi

# 1c. PostgreSQL for the history store's tests, from Debian's package
if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
    log "installing postgresql"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq postgresql >/dev/null
fi

# 2. the Python virtualenv, from pyproject.toml's pinned dependencies
source scripts/venv.sh

# 3. Go checks
log "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.venv/*'))
if [ -n "$unformatted" ]; then
    echo "not gofmt-ed: $unformatted" >&2
    exit 1
fi
log "go vet ./..."
go vet ./...
# staticcheck, pinned: 2026.2.2 (v0.8.2) is built with and for Go 1.26; it is
# installed from the module proxy when missing or at another version.
staticcheck_version=v0.8.2
gobin=$(go env GOBIN)
staticcheck="${gobin:-$(go env GOPATH)/bin}/staticcheck"
if ! "$staticcheck" -version 2>/dev/null | grep -qF "(${staticcheck_version#v})"; then
    log "installing staticcheck $staticcheck_version"
    go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
fi
log "staticcheck ./..."
"$staticcheck" ./...

# a throwaway PostgreSQL cluster on a free loopback port for the history
# store's Go and interop tests ($GOARQ_TEST_POSTGRES), stopped on exit
source scripts/postgres.sh
start_postgres
log "go test -race ./..."
go test -race -count=1 ./...

# 4. the interop fixtures
log "building interop fixtures"
mkdir -p interop/bin
go build -o interop/bin/ $(go list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' ./...)

# 5. a real redis-server on a free port, stopped on exit
source scripts/redis.sh
start_redis
trap 'stop_postgres || true; stop_redis || true' EXIT

log "interop suite (pytest, arq $("$VENV/bin/python" -c 'import arq.version as v; print(v.VERSION)'), redis $(redis-server --version | awk '{print $3}'))"
export GOARQ_BIN="$root/interop/bin"
"$VENV/bin/python" -m pytest -p no:cacheprovider -q -rfEs interop "$@"
