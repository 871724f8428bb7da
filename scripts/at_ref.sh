# Sourced by the scripts that compare two commits (bench_ab.sh,
# history_backstop.sh): at_ref_build REF DEST PKG builds the Go package PKG
# as it is at git REF (the work tree when REF is empty) into DEST, with
# CGO_ENABLED=0 as goarq ships. AT_REF_OUT is a scratch directory; it and
# the worktrees made for REF go when the shell exits.
AT_REF_OUT=$(mktemp -d)
at_ref_cleanup() {
    for w in "$AT_REF_OUT"/src-*; do
        [ -d "$w" ] && git worktree remove --force "$w" >/dev/null 2>&1
    done
    rm -rf "$AT_REF_OUT"
}
trap at_ref_cleanup EXIT
export CGO_ENABLED=0
at_ref_build() { # at_ref_build REF DEST PKG
    if [ -z "$1" ]; then
        go build -o "$2" "$3"
    else
        local src="$AT_REF_OUT/src-$(basename "$2")"
        git worktree add -q --detach "$src" "$1"
        (cd "$src" && go build -o "$2" "$3")
    fi
}
