#!/bin/bash
# HEALTHCHECK: GET /readyz on the port of CHATHUB_LISTEN, healthy on a 200. bash's /dev/tcp,
# so the image needs no HTTP client.
set -eu
port=${CHATHUB_LISTEN##*:}
exec 3<>"/dev/tcp/127.0.0.1/${port}"
printf 'GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
read -r -t 5 _ status _ <&3
[ "$status" = 200 ]
