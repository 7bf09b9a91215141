#!/usr/bin/env bash
# The project's one test command (README, CI). Makes sure a MariaDB is reachable, then runs
# every test. On a fresh Debian machine it installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/mariadb.sh
ensure_test_mariadb
cargo test --all-targets --no-fail-fast "$@"
