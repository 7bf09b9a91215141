#!/usr/bin/env bash
# Build the Debian package: `cargo deb` (release build) into target/debian/. Installs
# cargo-deb first when it is missing.
#
#   scripts/package.sh            # build target/debian/chathub_<version>-1_<arch>.deb
#   scripts/package.sh --tools    # only install what the package and container tests use
#                                 # (cargo-deb; debootstrap, podman, runc from Debian)
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned: the package test packages the tests' own binary (tests/it/package.rs), which needs
# this version's behaviour for a custom profile without a build.
CARGO_DEB_VERSION=3.8.0

ensure_cargo_deb() {
  if cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then return 0; fi
  echo "[package] installing cargo-deb $CARGO_DEB_VERSION" >&2
  cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked
}

ensure_debian_tools() {
  local missing=() sudo=""
  command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
  command -v podman >/dev/null 2>&1 || missing+=(podman)
  command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] || missing+=(runc)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "[package] installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

case "${1:-}" in
--tools)
  ensure_cargo_deb
  ensure_debian_tools
  ;;
"")
  ensure_cargo_deb
  cargo deb --locked
  ;;
*)
  echo "usage: $0 [--tools]" >&2
  exit 2
  ;;
esac
