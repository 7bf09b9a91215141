#!/usr/bin/env bash
# Fault scenarios of issue 16 (not CI; a few minutes): kill -9 in the paid flow with re-sent
# notifications, two instances with duplicate notifications, provision head-of-line and
# outage recovery, database stop/kill/freeze under load, a soak with RSS samples, SIGTERM
# with a hanging provision server. One command on a fresh machine:
#
#   scripts/faults.sh                 every scenario
#   scripts/faults.sh kill9,db        some (kill9 two hol outage db soak term)
#
# It builds the release server and examples/fault_tool.rs, installs mariadb-server when
# mariadbd is missing, and runs a PRIVATE mariadbd on its own port (the scenarios kill and
# freeze it, so never the shared one). Each scenario prints `SUMMARY <name> PASS|FAIL
# <figures>`; the exit status is 1 when any invariant broke. Knobs (seconds unless noted):
# FAULTS_ORDERS=200 FAULTS_DUPLICATES=50 FAULTS_HOL_SECS=60 FAULTS_OUTAGE_SECS=45
# FAULTS_RECOVERY_BOUND_SECS=10 FAULTS_FREEZE_SECS=15 FAULTS_LOG_BOUND=200 (lines)
# FAULTS_SOAK_SECS=30 FAULTS_SHUTDOWN_BOUND_SECS=12 FAULTS_DB_PORT=3427 PROFILE=release.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/faultenv.sh
run_fault_tool "${1:-all}"
