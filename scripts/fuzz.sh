#!/usr/bin/env bash
# Fuzz every parser of outside input (fuzz/fuzz_targets, FUZZING.md), one target at a time,
# on the STABLE toolchain: cargo-fuzz with `--sanitizer none` (libFuzzer's coverage comes
# from the stable `-Cpasses=sancov-module` flags; no -Z flag, no nightly). Not part of CI.
#
#   scripts/fuzz.sh                    every target for FUZZ_SECS (default 90) seconds each
#   scripts/fuzz.sh routing cookies    some targets
#   FUZZ_RUNS=1000000 scripts/fuzz.sh  every target until it has run 1,000,000 inputs (libFuzzer's
#                                      -runs=); no time limit then unless FUZZ_SECS is set too
#
# Installs cargo-fuzz (from crates.io) and a C++ compiler (for libFuzzer) when missing.
# The working corpus is fuzz/corpus/<target> (committed, minimised with FUZZ_CMIN=1), the
# hand-written seeds fuzz/seeds/<target>. Prints executions, seconds, executions per second,
# coverage and corpus size per target and exits 1 when a target crashed (the input is kept in
# fuzz/artifacts/<target>/).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${FUZZ_RUNS:-}
if [ -n "$RUNS" ]; then SECS=${FUZZ_SECS:-0}; else SECS=${FUZZ_SECS:-90}; fi
LIMITS=(-max_total_time="$SECS")
[ -n "$RUNS" ] && LIMITS+=(-runs="$RUNS")
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(routing form_params json_params cookies php_session fastadmin_env
  fastadmin_config_php alipay_notify wechat_notify provision_answer)

if ! command -v c++ >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing g++ (libFuzzer is C++)..." >&2
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq g++ >/dev/null
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz..." >&2
  cargo install cargo-fuzz --locked
fi

# The fuzz crate is its own workspace with its own target directory.
unset CARGO_TARGET_DIR
echo "building fuzz targets (stable, no sanitizer)..." >&2
cargo fuzz build -s none >&2

LOGS=fuzz/target/logs
mkdir -p "$LOGS"
fail=0
ROWS=()
for t in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t"
  echo "fuzzing $t (${RUNS:+$RUNS runs, }${SECS}s; 0 = no limit)..." >&2
  start=$SECONDS
  set +e
  # -timeout: one input taking 5 s is a hang (or super-linear work) and counts as a crash.
  cargo fuzz run -s none "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
    "${LIMITS[@]}" -max_len=8192 -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$LOGS/$t.log" 2>&1
  rc=$?
  set -e
  secs=$((SECONDS - start))
  execs=$(awk '/stat::number_of_executed_units/{print $2}' "$LOGS/$t.log" | tail -1)
  per_s=$(awk '/stat::average_exec_per_sec/{print $2}' "$LOGS/$t.log" | tail -1)
  # No `cov:` line when a target crashes on the corpus it loads (|| true: pipefail).
  cov=$(grep -Eo 'cov: [0-9]+' "$LOGS/$t.log" | tail -1 | awk '{print $2}' || true)
  status=ok
  if [ "$rc" -ne 0 ]; then status="CRASH (see $LOGS/$t.log, fuzz/artifacts/$t)"; fail=1; fi
  if [ "${FUZZ_CMIN:-0}" = 1 ] && [ "$rc" -eq 0 ]; then
    cargo fuzz cmin -s none "$t" "fuzz/corpus/$t" -- -max_len=8192 >"$LOGS/$t.cmin.log" 2>&1 || true
  fi
  files=$(find "fuzz/corpus/$t" -type f | wc -l)
  ROWS+=("$(printf '%-22s %12s %8s %10s %8s %7s  %s' "$t" "${execs:-?}" "$secs" "${per_s:-?}" \
    "${cov:-?}" "$files" "$status")")
done
echo
printf '%-22s %12s %8s %10s %8s %7s  %s\n' target executions seconds "exec/s" coverage corpus result
printf '%s\n' "${ROWS[@]}"
exit $fail
