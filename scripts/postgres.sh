# Sourced: start_postgres starts a throwaway PostgreSQL cluster (Debian's
# postgresql package) on a free loopback port, as the postgres user when
# run as root (initdb refuses root), exports GOARQ_TEST_POSTGRES (a
# postgres:// URL with trust auth), and stops and removes it when the shell
# exits (keeping any EXIT trap already set, e.g. scripts/redis.sh's).
pg_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

pg_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

pg_as() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start_postgres() {
    local bin
    bin=$(pg_bin)
    if [ -z "$bin" ]; then
        echo "postgres.sh: no /usr/lib/postgresql/*/bin (install Debian's postgresql)" >&2
        return 1
    fi
    PG_PORT=$(pg_free_port)
    PG_DIR=$(mktemp -d)
    chmod 755 "$PG_DIR"
    [ "$(id -u)" -eq 0 ] && chown postgres "$PG_DIR"
    pg_as "$bin/initdb" -D "$PG_DIR/data" -U goarq --auth=trust -E UTF8 --no-locale >"$PG_DIR/initdb.log" 2>&1 || {
        cat "$PG_DIR/initdb.log" >&2
        return 1
    }
    pg_as "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 \
        -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null || {
        cat "$PG_DIR/postgres.log" >&2
        return 1
    }
    local prev=()
    eval "prev=($(trap -p EXIT))"
    trap "stop_postgres || true; ${prev[2]:-}" EXIT
    export PG_PORT GOARQ_TEST_POSTGRES="postgres://goarq@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
}

stop_postgres() {
    if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
        pg_as "$(pg_bin)/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
        rm -rf "$PG_DIR" 2>/dev/null || true
    fi
}
