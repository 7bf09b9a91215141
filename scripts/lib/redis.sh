# shellcheck shell=bash
# Find or start the Redis the PHP-session tests use (tests/it/php_session.rs), in this order:
#   1. CHATHUB_TEST_REDIS_URL, when set (used as it is);
#   2. a Redis on 127.0.0.1:6379 that answers PING without a password;
#   3. a private redis-server on a free loopback port (no persistence), installing Debian's
#      redis-server package when it is missing; stop_private_redis stops it.
# Exports CHATHUB_TEST_REDIS_URL. Needs tcp_open and free_port from mariadb.sh.

PRIVATE_REDIS_PID=""

redis_answers() { # host port: does PING get +PONG?
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2 && printf 'PING\r\n' >&3 && head -c 5 <&3" \
    2>/dev/null | grep -q '+PONG'
}

ensure_test_redis() {
  if [ -n "${CHATHUB_TEST_REDIS_URL:-}" ]; then return 0; fi
  if redis_answers 127.0.0.1 6379; then
    export CHATHUB_TEST_REDIS_URL="redis://127.0.0.1:6379/0"
    return 0
  fi
  local server; server=$(command -v redis-server || true)
  if [ -z "$server" ]; then
    ensure_package redis-server redis-server
    server=$(command -v redis-server || echo /usr/bin/redis-server)
  fi
  [ -x "$server" ] || { echo "[test-redis] redis-server unavailable" >&2; return 1; }
  local port; port=$(free_port 6390)
  "$server" --bind 127.0.0.1 --port "$port" --save '' --appendonly no >/dev/null 2>&1 &
  PRIVATE_REDIS_PID=$!
  local i
  for i in $(seq 1 50); do
    redis_answers 127.0.0.1 "$port" && break
    sleep 0.1
  done
  redis_answers 127.0.0.1 "$port" || { echo "[test-redis] redis-server did not start" >&2; return 1; }
  echo "[test-redis] private redis-server on 127.0.0.1:$port" >&2
  export CHATHUB_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
}

stop_private_redis() {
  if [ -n "$PRIVATE_REDIS_PID" ]; then
    kill "$PRIVATE_REDIS_PID" 2>/dev/null || true
    wait "$PRIVATE_REDIS_PID" 2>/dev/null || true
    PRIVATE_REDIS_PID=""
  fi
}
