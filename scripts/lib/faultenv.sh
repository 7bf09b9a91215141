# shellcheck shell=bash
# Shared by scripts/faults.sh and bench/attack.sh: build the server and fault_tool, find or
# install mariadbd, initialise a private data directory, then run fault_tool.
ROOT=$PWD
PROFILE=${PROFILE:-release}
W=${FAULTS_WORK:-$ROOT/target/faults}
mkdir -p "$W"

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust (https://rustup.rs) first" >&2
  exit 1
fi

source scripts/lib/mariadb.sh
MARIADBD=$(find_mariadbd) || { install_mariadb_server && MARIADBD=$(find_mariadbd); } || {
  echo "mariadbd not available" >&2; exit 1; }
INSTALL_DB=$(command -v mariadb-install-db || command -v mysql_install_db || echo /usr/bin/mariadb-install-db)
if [ ! -d "$W/mariadb/mysql" ]; then
  rm -rf "$W/mariadb"
  "$INSTALL_DB" --no-defaults --datadir="$W/mariadb" --auth-root-authentication-method=normal \
    --user="$(id -un)" --skip-test-db >"$W/install.log" 2>&1 || {
    echo "mariadb-install-db failed; see $W/install.log" >&2; exit 1; }
fi
DB_PORT=$(free_port "${FAULTS_DB_PORT:-3427}")

echo "building ($PROFILE)..." >&2
if [ "$PROFILE" = release ]; then
  cargo build --release --quiet --bin chathub --example fault_tool
else
  cargo build --quiet --bin chathub --example fault_tool
fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE
[ "$PROFILE" = dev ] && TARGET=${CARGO_TARGET_DIR:-$ROOT/target}/debug

run_fault_tool() { # scenarios
  "$TARGET/examples/fault_tool" "$1" --bin "$TARGET/chathub" --work "$W" --mariadbd "$MARIADBD" \
    --datadir "$W/mariadb" --db-port "$DB_PORT"
}
