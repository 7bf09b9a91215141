# shellcheck shell=bash
# Find or start a MariaDB for tests: CHATHUB_TEST_MYSQL_URL if set, else the one on
# 127.0.0.1:3306 (root, no password), else a private mariadbd under target/ (installing the
# mariadb-server package when mariadbd is missing).

mariadb_ping() { # url
  local hostport=${1#mysql://}; hostport=${hostport#*@}; hostport=${hostport%%/*}
  local host=${hostport%%:*} port=${hostport##*:}
  [ "$host" = "$port" ] && port=3306
  (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

ensure_test_mariadb() {
  if [ -n "${CHATHUB_TEST_MYSQL_URL:-}" ]; then return 0; fi
  if mariadb_ping "mysql://root@127.0.0.1:3306" && mysql_root_ok 127.0.0.1 3306; then
    export CHATHUB_TEST_MYSQL_URL="mysql://root@127.0.0.1:3306"; return 0
  fi
  start_private_mariadb
  export CHATHUB_TEST_MYSQL_URL="mysql://root@127.0.0.1:${PRIVATE_MARIADB_PORT}"
}

mysql_root_ok() { # host port
  if command -v mariadb >/dev/null 2>&1; then
    mariadb -uroot -h"$1" -P"$2" -e 'SELECT 1' >/dev/null 2>&1
  else
    return 0
  fi
}

PRIVATE_MARIADB_PORT=${PRIVATE_MARIADB_PORT:-3407}

start_private_mariadb() {
  local dir="$PWD/target/mariadb"
  if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
    echo "installing mariadb-server (needs apt-get)..." >&2
    local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mariadb-server >/dev/null
  fi
  local mariadbd; mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
  if mariadb_ping "mysql://root@127.0.0.1:${PRIVATE_MARIADB_PORT}"; then return 0; fi
  mkdir -p "$dir"
  if [ ! -d "$dir/data/mysql" ]; then
    mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
      --user="$(id -un)" >"$dir/install.log" 2>&1
  fi
  "$mariadbd" --no-defaults --datadir="$dir/data" --port="$PRIVATE_MARIADB_PORT" --bind-address=127.0.0.1 \
    --socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" --user="$(id -un)" \
    --skip-grant-tables=0 >"$dir/mysqld.log" 2>&1 &
  for _ in $(seq 1 60); do
    if mariadb_ping "mysql://root@127.0.0.1:${PRIVATE_MARIADB_PORT}"; then return 0; fi
    sleep 0.5
  done
  echo "private mariadbd did not start; see $dir/mysqld.log" >&2
  return 1
}
