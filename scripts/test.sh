#!/usr/bin/env bash
# The project's one test command (README, CI): makes sure a MariaDB is reachable (see
# scripts/lib/mariadb.sh for the order it tries) and a Redis (scripts/lib/redis.sh), then
# builds and runs every test.
# Arguments go to `cargo test` (e.g. `scripts/test.sh --test it migrate::`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/mariadb.sh
source scripts/lib/redis.sh

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust (https://rustup.rs) first" >&2
  exit 1
fi

# tests/it/nginx.rs runs the repo's nginx.conf in a real nginx, tests/it/browser.rs and visual.rs
# drive headless Chromium, visual.rs with the fixed font fonts-wqy-zenhei (skipped without them,
# except under CI). Install Debian's packages when they are missing and we may.
ensure_package() { # program-or-file package
  if command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ] || [ -e "$1" ]; then return 0; fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "[test] $1 missing; its tests will be skipped" >&2; return 0; }
    sudo="sudo"
  fi
  echo "[test] installing $2" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}

# Built first: the MariaDB starter is the tools crate's binary (the same build the tests use).
cargo build --workspace --all-targets
trap 'stop_private_mariadb; stop_private_redis' EXIT
ensure_test_mariadb
ensure_test_redis
ensure_package nginx nginx
ensure_package chromium chromium
ensure_package /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc fonts-wqy-zenhei
cargo test --workspace --all-targets --no-fail-fast "$@"
