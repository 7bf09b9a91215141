#!/usr/bin/env bash
# Load test of issue 15's freezes (not CI), one command on a fresh machine:
#   15.2  one 0.97 MB Alipay notification with 120k parameters, two at once, over and over;
#   15.3  concurrent sign-ups while the provision server hangs, with a pool of 2 connections.
# While each attack runs, `landing` and a database page (payReturn) are requested every
# 100 ms; their p50/p99 latency is printed in a `SUMMARY attack-… PASS|FAIL` line. The exit
# status is 1 when either stays slower than ATTACK_P99_LIMIT_MS (default 1000) at p99 or
# does not answer.
#
#   bench/attack.sh                (ATTACK_SECS=20 per attack; PROFILE=release)
#
# It builds the release server and examples/fault_tool.rs and runs a private mariadbd on its
# own port (installing mariadb-server when mariadbd is missing); see scripts/lib/faultenv.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/faultenv.sh
run_fault_tool attack
