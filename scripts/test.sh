#!/usr/bin/env bash
# The project's one test command (README, CI): makes sure a MariaDB is reachable (see
# scripts/lib/mariadb.sh for the order it tries), then builds and runs every test.
# Arguments go to `cargo test` (e.g. `scripts/test.sh --test migrate`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/mariadb.sh

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust (https://rustup.rs) first" >&2
  exit 1
fi

# tests/nginx.rs runs the repo's nginx.conf in a real nginx (skipped without one, except
# under CI). Install Debian's package when it is missing and we may.
ensure_nginx() {
  if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then return 0; fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "[test] nginx missing; its tests will be skipped" >&2; return 0; }
    sudo="sudo"
  fi
  echo "[test] installing nginx" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nginx >/dev/null
}

trap stop_private_mariadb EXIT
ensure_test_mariadb
ensure_nginx
cargo test --all-targets --no-fail-fast "$@"
