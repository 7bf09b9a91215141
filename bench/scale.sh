#!/usr/bin/env bash
# Issue 18 #5: does a request cost more when the tables are 10x larger? Runs bench/run.sh for
# `my` and admin JSON on the usual dataset (1,000 users, 3,000 tenants, 10,000 log rows) and
# on 10x of it, then prints req/s, the ratio to the bare-SQL limit and instructions per
# request side by side. EXPLAIN of every statement of both pages is in each run's output.
#
#   bench/scale.sh        (the same environment variables as bench/run.sh)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=target/bench
mkdir -p "$OUT"
status=0
for s in 1 10; do
  SCALE=$s SCENARIOS="my admin-json" bench/run.sh 2>&1 | tee "$OUT/scale-$s.txt" || status=1
done
echo
echo "scale  page        c   median ours/limit   instructions/request   pairs ours/limit req/s"
for s in 1 10; do
  for page in my admin-json; do
    ir=$(awk -v p="$page" '$1=="instructions" && $4==p {print $5}' "$OUT/scale-$s.txt")
    grep -E "^$page +[0-9]+ " "$OUT/scale-$s.txt" | while read -r name c med _cpu _errors pairs; do
      printf '%4sx  %-10s %3s   %17s   %20s   %s\n' "$s" "$name" "$c" "$med" "${ir:--}" "$(echo "$pairs" | sed 's/=[0-9.]*//g')"
    done
  done
done
echo "statements flagged SCAN at 10x:"
awk '/^explain /{head=$0} /^  SCAN/{if (head!=shown) print head; shown=head; print}' "$OUT/scale-10.txt" | grep . || echo "  none"
exit $status
