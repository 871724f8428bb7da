# Sourced: start_redis starts a throwaway redis-server on a free loopback
# port, exports REDIS_URL and REDIS_PORT, and stops it when the shell exits
# (keeping any EXIT trap already set, e.g. scripts/postgres.sh's).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start_redis() {
    REDIS_PORT=$(free_port)
    REDIS_DIR=$(mktemp -d)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$REDIS_DIR" --logfile "$REDIS_DIR/redis.log" --daemonize yes --pidfile "$REDIS_DIR/redis.pid"
    local prev=()
    eval "prev=($(trap -p EXIT))"
    trap "stop_redis || true; ${prev[2]:-}" EXIT
    for _ in $(seq 1 100); do
        redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
        sleep 0.05
    done
    redis-cli -p "$REDIS_PORT" ping >/dev/null
    export REDIS_PORT REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
}

stop_redis() {
    if [ -n "${REDIS_DIR:-}" ] && [ -f "$REDIS_DIR/redis.pid" ]; then
        kill "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null || true
        rm -rf "$REDIS_DIR"
    fi
}
