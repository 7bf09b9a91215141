# shellcheck shell=bash
# Find or start the MariaDB the tests use, in this order:
#   1. CHATHUB_TEST_MYSQL_URL, when set (used as it is);
#   2. a MariaDB on 127.0.0.1:${CHATHUB_TEST_MYSQL_PORT:-3306} that lets root in without a
#      password (a developer machine, CI with a service);
#   3. a private mariadbd under target/test-mariadb on a free loopback port, installing the
#      mariadb-server package with apt-get when mariadbd is missing. It is stopped again by
#      stop_private_mariadb (test.sh does that on exit); its data directory is kept for reuse.
# Exports CHATHUB_TEST_MYSQL_URL for tests/support.

PRIVATE_MARIADB_DIR=${CHATHUB_TEST_MARIADB_DIR:-$PWD/target/test-mariadb}
PRIVATE_MARIADB_PID=""

log() { echo "[test-mariadb] $*" >&2; }

# TCP port open? (bash's /dev/tcp, bounded so a black-holed address cannot hang us)
tcp_open() { # host port
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

mysql_client() {
  command -v mariadb || command -v mysql || true
}

# Does root without a password get a working session? Without a client, an open port must do.
mysql_root_ok() { # host port
  tcp_open "$1" "$2" || return 1
  local client; client=$(mysql_client)
  if [ -n "$client" ]; then
    "$client" --no-defaults --protocol=tcp -uroot -h"$1" -P"$2" -e 'SELECT 1' >/dev/null 2>&1
  fi
}

find_mariadbd() {
  command -v mariadbd 2>/dev/null && return 0
  command -v mysqld 2>/dev/null && return 0
  local p
  for p in /usr/sbin/mariadbd /usr/sbin/mysqld; do
    [ -x "$p" ] && { echo "$p"; return 0; }
  done
  return 1
}

install_mariadb_server() {
  log "mariadbd not found: installing the mariadb-server package"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { log "need root or sudo to run apt-get"; return 1; }
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    mariadb-server mariadb-client >/dev/null
}

free_port() { # first free loopback port from $1 upward
  local p=$1
  while tcp_open 127.0.0.1 "$p"; do p=$((p + 1)); done
  echo "$p"
}

start_private_mariadb() {
  local dir=$PRIVATE_MARIADB_DIR
  mkdir -p "$dir"
  local mariadbd
  mariadbd=$(find_mariadbd) || { install_mariadb_server && mariadbd=$(find_mariadbd); } || {
    log "could not install mariadbd"; return 1; }
  local install_db
  install_db=$(command -v mariadb-install-db || command -v mysql_install_db) || {
    log "mariadb-install-db missing"; return 1; }

  if [ ! -d "$dir/data/mysql" ]; then
    log "initialising $dir/data"
    rm -rf "$dir/data"
    "$install_db" --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
      --user="$(id -un)" --skip-test-db >"$dir/install.log" 2>&1 || {
      log "mariadb-install-db failed; see $dir/install.log"; return 1; }
  fi

  local port; port=$(free_port "${CHATHUB_TEST_PRIVATE_PORT:-3407}")
  local socket="$dir/mysqld.sock"
  # Unix socket paths are limited to ~107 bytes.
  [ ${#socket} -gt 100 ] && socket="${TMPDIR:-/tmp}/chathub-test-mariadb-$$.sock"
  log "starting private mariadbd on 127.0.0.1:$port"
  "$mariadbd" --no-defaults --datadir="$dir/data" --port="$port" --bind-address=127.0.0.1 \
    --socket="$socket" --pid-file="$dir/mysqld.pid" --user="$(id -un)" \
    --log-error="$dir/mysqld.log" --character-set-server=utf8mb4 \
    --collation-server=utf8mb4_unicode_ci --max-connections=500 </dev/null >/dev/null 2>&1 &
  PRIVATE_MARIADB_PID=$!

  local i
  for i in $(seq 1 120); do
    if mysql_root_ok 127.0.0.1 "$port"; then
      export CHATHUB_TEST_MYSQL_URL="mysql://root@127.0.0.1:$port"
      log "ready after $((i / 2))s"
      return 0
    fi
    if ! kill -0 "$PRIVATE_MARIADB_PID" 2>/dev/null; then
      log "mariadbd exited; see $dir/mysqld.log"; tail -20 "$dir/mysqld.log" >&2 || true
      PRIVATE_MARIADB_PID=""; return 1
    fi
    sleep 0.5
  done
  log "mariadbd did not become ready within 60s; see $dir/mysqld.log"
  stop_private_mariadb
  return 1
}

# SIGTERM and wait: a clean shutdown, so the data directory needs no recovery next time.
stop_private_mariadb() {
  [ -n "$PRIVATE_MARIADB_PID" ] || return 0
  kill -TERM "$PRIVATE_MARIADB_PID" 2>/dev/null || true
  local i
  for i in $(seq 1 120); do
    kill -0 "$PRIVATE_MARIADB_PID" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$PRIVATE_MARIADB_PID" 2>/dev/null; then
    log "mariadbd did not stop in 60s; killing it"
    kill -KILL "$PRIVATE_MARIADB_PID" 2>/dev/null || true
  fi
  PRIVATE_MARIADB_PID=""
}

ensure_test_mariadb() {
  if [ -n "${CHATHUB_TEST_MYSQL_URL:-}" ]; then
    log "using CHATHUB_TEST_MYSQL_URL"
    return 0
  fi
  local port=${CHATHUB_TEST_MYSQL_PORT:-3306}
  if mysql_root_ok 127.0.0.1 "$port"; then
    export CHATHUB_TEST_MYSQL_URL="mysql://root@127.0.0.1:$port"
    log "using the MariaDB on 127.0.0.1:$port"
    return 0
  fi
  start_private_mariadb
}
