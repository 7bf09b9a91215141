# shellcheck shell=bash
# Find or start the MariaDB the tests use, in this order:
#   1. CHATHUB_TEST_MYSQL_URL, when set (used as it is);
#   2. a MariaDB on 127.0.0.1:${CHATHUB_TEST_MYSQL_PORT:-3306} that lets root in without a
#      password (a developer machine, CI with a service);
#   3. a private mariadbd under target/test-mariadb on a free loopback port, installing the
#      mariadb-server package with apt-get when mariadbd is missing. It is stopped again by
#      stop_private_mariadb (test.sh does that on exit); its data directory is kept for reuse.
# Steps 2 and 3 are `chathub-tools mariadb start` (tools/chathub-tools/src/mariadb.rs), the
# one private-MariaDB starter that `cargo dev` and bench/run.sh use too.
# Exports CHATHUB_TEST_MYSQL_URL for tests/support.

PRIVATE_MARIADB_DIR=${CHATHUB_TEST_MARIADB_DIR:-$PWD/target/test-mariadb}
CHATHUB_TOOLS=${CHATHUB_TOOLS:-$PWD/target/debug/chathub-tools}

log() { echo "[test-mariadb] $*" >&2; }

stop_private_mariadb() {
  [ -x "$CHATHUB_TOOLS" ] || return 0
  "$CHATHUB_TOOLS" mariadb stop --dir "$PRIVATE_MARIADB_DIR" || true
}

# Needs $CHATHUB_TOOLS built (test.sh builds the workspace first).
ensure_test_mariadb() {
  if [ -n "${CHATHUB_TEST_MYSQL_URL:-}" ]; then
    log "using CHATHUB_TEST_MYSQL_URL"
    return 0
  fi
  local url
  url=$("$CHATHUB_TOOLS" mariadb start --dir "$PRIVATE_MARIADB_DIR" --install \
    --use-existing "${CHATHUB_TEST_MYSQL_PORT:-3306}") || { log "no MariaDB for the tests"; return 1; }
  export CHATHUB_TEST_MYSQL_URL=$url
}
