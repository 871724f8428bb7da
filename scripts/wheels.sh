#!/usr/bin/env bash
# Builds pip-installable wheels of the goarq CLI for Python teams: each
# holds a static goarq binary (CGO_ENABLED=0, -trimpath, stripped) and is
# tagged py3-none-<platform>, so `pip install goarq` needs no Go toolchain.
# pip puts `goarq` on PATH and `python -m goarq` runs it.
#
#   bash scripts/wheels.sh [--version V] [--out DIR] [TARGET ...]
#
# TARGETs (default: all):
#   linux_x86_64    manylinux_2_17 + manylinux2014 + musllinux_1_2, x86_64
#   linux_aarch64   the same tags, aarch64
#   macos_x86_64    macosx_12_0_x86_64 (Go 1.26 needs macOS 12)
#   macos_arm64     macosx_12_0_arm64
#   windows_amd64   win_amd64
# A static binary runs on glibc and musl alike, so one Linux wheel per
# architecture carries both tag families (a compressed tag set, PEP 425).
#
# --version defaults to $GOARQ_VERSION, else the tag vX.Y.Z on HEAD (as
# X.Y.Z), else 0.0.0.devN with N the number of commits. The binary's
# --version prints the same, with the commit ("-dirty" with uncommitted changes).
#
# The wheels are put together by scripts/wheels.py with Python's standard
# library (zipfile, hashlib): see its header for why no build backend.
# Publishing is a separate, manual step: see README.md, "Install with pip".
set -euo pipefail
cd "$(dirname "$0")/.."

out=dist
version="${GOARQ_VERSION:-}"
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --version) version="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "wheels.sh: unknown flag $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -eq 0 ] && targets=(linux_x86_64 linux_aarch64 macos_x86_64 macos_arm64 windows_amd64)

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    commit="$commit-dirty"
fi
if [ -z "$version" ]; then
    tag=$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null || true)
    if [ -n "$tag" ]; then
        version="${tag#v}"
    else
        version="0.0.0.dev$(git rev-list --count HEAD 2>/dev/null || echo 0)"
    fi
fi
# reproducible: the zip entries carry the commit's time
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 315532800)}"
export SOURCE_DATE_EPOCH

python=$(command -v python3 || command -v python)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for t in "${targets[@]}"; do
    case "$t" in
        linux_x86_64) goos=linux goarch=amd64 plat=manylinux_2_17_x86_64.manylinux2014_x86_64.musllinux_1_2_x86_64 ;;
        linux_aarch64) goos=linux goarch=arm64 plat=manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_2_aarch64 ;;
        macos_x86_64) goos=darwin goarch=amd64 plat=macosx_12_0_x86_64 ;;
        macos_arm64) goos=darwin goarch=arm64 plat=macosx_12_0_arm64 ;;
        windows_amd64) goos=windows goarch=amd64 plat=win_amd64 ;;
        *) echo "wheels.sh: unknown target $t (see --help)" >&2; exit 2 ;;
    esac
    exe=goarq
    [ "$goos" = windows ] && exe=goarq.exe
    mkdir -p "$work/$t"
    CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -trimpath -buildvcs=false \
        -ldflags "-s -w -buildid= -X main.buildVersion=$version -X main.buildCommit=$commit" \
        -o "$work/$t/$exe" ./cmd/goarq
    "$python" scripts/wheels.py --binary "$work/$t/$exe" --version "$version" --platform "$plat" --out "$out"
done
