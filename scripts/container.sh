#!/usr/bin/env bash
# Build the container image chathub:<version> from deploy/container/ and a release binary.
#
#   scripts/container.sh
#
# Environment: ENGINE (docker, else podman), BASE_IMAGE (default debian:bookworm-slim: build
# the binary on the same Debian release, glibc must match), CHATHUB_BIN (a binary to use
# instead of building one), TAG (default chathub:<version>).
set -euo pipefail
cd "$(dirname "$0")/.."

engine=${ENGINE:-$(command -v docker >/dev/null 2>&1 && echo docker || echo podman)}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
tag=${TAG:-chathub:$version}
bin=${CHATHUB_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --locked -p chathub
  bin=target/release/chathub
fi

# The build context is only what the image holds, not the repository (target/ is gigabytes).
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp deploy/container/Dockerfile deploy/container/entrypoint.sh deploy/container/healthcheck.sh "$context/"
cp "$bin" "$context/chathub"

# docker format: the OCI format has no HEALTHCHECK.
format=()
if [ "$engine" != docker ]; then format=(--format docker); fi
"$engine" build "${format[@]}" --build-arg "BASE_IMAGE=${BASE_IMAGE:-debian:bookworm-slim}" \
  -t "$tag" "$context"
echo "$tag"
