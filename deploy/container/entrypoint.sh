#!/bin/sh
# Container start: bring the schema up to date, then serve, both with the same options
# (e.g. --fastadmin-root /fastadmin). A one-off command (`check`, `migrate --dry-run`,
# `--version`) runs as given instead.
set -eu

case "${1:-}" in
serve | migrate | check | help | --help | -h | --version | -V)
    exec /usr/local/bin/chathub "$@"
    ;;
esac

if [ "${CHATHUB_MIGRATE_ON_START:-1}" != 0 ]; then
    /usr/local/bin/chathub "$@" migrate
fi
exec /usr/local/bin/chathub "$@" serve
