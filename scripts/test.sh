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

trap stop_private_mariadb EXIT
ensure_test_mariadb
cargo test --all-targets --no-fail-fast "$@"
