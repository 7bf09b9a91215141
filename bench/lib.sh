# Functions of bench/run.sh: interleaved measurement against a limit, statement capture, and
# instruction counts under callgrind. Sourced; expects W, TOOL, DB_URL, DURATION, WARMUP, PAIRS.

rps_of() { awk '/Requests\/sec/{print $2}'; }
reqs_of() { awk '/requests in/{print $1}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.3f", a/b; else print "0" }'; }

# The middle of the numbers given (the mean of the two middle ones for an even count).
median() {
  printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{ if (NR%2) print v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2]+v[NR/2+1])/2 }'
}

# wrk against our server for `secs`: req/s in RPS; the server's CPU ticks, the request count
# and the errors add up in CPU_TICKS/CPU_REQS/ERRS. Not run in a subshell.
ours() { # name conc secs
  local name=$1 c=$2 secs=$3 out t0 t1
  t0=$(cpu_ticks)
  out=$(wrk -t2 -c"$c" -d"${secs}s" --timeout 10s "${WRK_ARGS[@]}" "${PAGE_URL[$name]}" 2>&1)
  t1=$(cpu_ticks)
  CPU_TICKS[$name/$c]=$(( ${CPU_TICKS[$name/$c]:-0} + t1 - t0 ))
  CPU_REQS[$name/$c]=$(( ${CPU_REQS[$name/$c]:-0} + $(echo "$out" | reqs_of | awk '{print int($1)}') ))
  # Error answers and timeouts are cheap work: counted, and a target with many is missed.
  ERRS[$name/$c]=$(( ${ERRS[$name/$c]:-0} + $(echo "$out" | awk '/Non-2xx/{n+=$NF} /Socket errors/{n+=$NF} END{print n+0}') ))
  RPS=$(echo "$out" | rps_of)
  settle
}

# Requests wrk gave up on at the end keep the server busy (a bcrypt that started runs to its
# end): wait until its CPU time stops growing, so the next run does not pay for them.
settle() {
  local a b
  for _ in $(seq 1 75); do
    a=$(cpu_ticks); sleep 0.2; b=$(cpu_ticks)
    [ $((b - a)) -le 1 ] && return 0
  done
}

# The limit the page is compared with: nginx serving its bytes, or the bare client replaying
# its captured statements (plus its password work and provision call).
limit() { # name conc secs
  local name=$1 c=$2 secs=$3
  case "${LIMIT_KIND[$name]}" in
    static) wrk -t2 -c"$c" -d"${secs}s" --timeout 10s "http://127.0.0.1:$NGINX_PORT/$name.html" | rps_of ;;
    replay) "$TOOL" replay "$DB_URL" "$W/sql/$name.jsonl" "$c" "$secs" ${LIMIT_ARGS[$name]:-} ;;
  esac
}

# Warm both up, then PAIRS x (ours, limit) back to back; the median of the pairs' ratios is
# the figure, so a burst of load from elsewhere moves one pair, not the result.
interleave() { # name conc
  local name=$1 c=$2 a b r ratios=() pairs=""
  page_wrk_args "$name"
  ours "$name" "$c" "$WARMUP"
  limit "$name" "$c" "$WARMUP" >/dev/null
  # A bcrypt-bound page needs runs much longer than one request's latency at this
  # concurrency, or most of a run is the ramp-up.
  local secs=$DURATION
  case "$name" in doLogin|register) secs=$HASH_DURATION ;; esac
  for _ in $(seq 1 "$PAIRS"); do
    ours "$name" "$c" "$secs"; a=$RPS
    b=$(limit "$name" "$c" "$secs")
    r=$(ratio "${a:-0}" "${b:-0}")
    ratios+=("$r"); pairs+=" ${a:-0}/${b:-0}=$r"
  done
  MEDIAN[$name/$c]=$(median "${ratios[@]}")
  PAIRS_OF[$name/$c]=${pairs# }
  printf '%-16s c=%-3s median %s  (ours/limit req/s:%s)\n' "$name" "$c" "${MEDIAN[$name/$c]}" "$pairs" >&2
}

cpu_ticks() { awk '{print $14+$15}' "/proc/$APP_PID/stat"; }

# One warm request, then the statements of one more request (general log on, see
# capture_all), in order, in $W/sql/<name>.jsonl.
capture_page() { # name
  local name=$1 url=${PAGE_URL[$1]/#$BASE/$CAP_BASE}
  page_curl_args "$name"
  curl -sS -o /dev/null "${CURL_ARGS[@]}" "$url"
  page_curl_args "$name" capture
  "$TOOL" capture "$DB_URL" "$W/sql/$name.jsonl" -- curl -sS -o "$W/sql/$name.body" -D "$W/sql/$name.head" "${CURL_ARGS[@]}" "$url"
  # A refusal (signed out, wrong form) runs other statements than the page: stop there.
  if ! head -1 "$W/sql/$name.head" | grep -q " ${PAGE_STATUS[$name]:-200} " || grep -q '请登录后再操作' "$W/sql/$name.body"; then
    echo "bench: $name did not answer as the page (see $W/sql/$name.head, .body)" >&2
    exit 1
  fi
  echo "statements of $name ($(head -1 "$W/sql/$name.head" | tr -d '\r'), $(wc -c <"$W/sql/$name.body") bytes):"
  jq -r '"  [\(.kind)] \(.sql)"' "$W/sql/$name.jsonl" 2>/dev/null || sed 's/^/  /' "$W/sql/$name.jsonl"
}

# MariaDB writes a prepared statement's parameter values into the general log only when the
# log was on at PREPARE time, and our server keeps its statements prepared across requests.
# So the captures go to a second server started with the log already on (every statement it
# prepares shows its values), which is stopped and the log turned off before the load runs.
capture_all() { # names...
  $SQL -e "SET GLOBAL log_output = 'TABLE'; SET GLOBAL general_log = 1"
  CHATHUB_LISTEN=127.0.0.1:$CAPTURE_PORT "$BIN" serve >"$W/capture-server.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  until curl -fsS -o /dev/null "$CAP_BASE/landing" 2>/dev/null; do sleep 0.05; done
  for name in "$@"; do
    [ "${LIMIT_KIND[$name]}" = replay ] && capture_page "$name"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  $SQL -e "SET GLOBAL general_log = 0; TRUNCATE TABLE mysql.general_log"
}

# --- callgrind: instructions per request ---

# callgrind handles a command only while the program runs, not while every thread sleeps in
# epoll/futex: connecting to the port (nothing sent) wakes it. The few instructions of those
# empty connections land in the count; they are small next to N requests.
cg_command() { # option
  callgrind_control "$1" "$CG_PID" >/dev/null 2>&1 &
  local job=$!
  while kill -0 "$job" 2>/dev/null; do
    (exec 3<>"/dev/tcp/127.0.0.1/$CG_PORT") 2>/dev/null || true
    sleep 0.2
  done
}

# Zero the counters, send CG_REQUESTS requests one after another, dump, read the dump's total.
cg_measure() { # name [bench_tool get args...]
  local name=$1 url=$2 before dump total; shift 2
  "$TOOL" get "$url" 20 "$@"
  cg_command --zero
  "$TOOL" get "$url" "$CG_REQUESTS" "$@"
  before=$(ls "$W/cg" | wc -l)
  cg_command --dump="$name"
  until [ "$(ls "$W/cg" | wc -l)" -gt "$before" ]; do sleep 0.2; done
  sleep 0.5
  dump=$(ls "$W/cg"/callgrind.out."$CG_PID".* | sort -V | tail -1)
  total=$(awk '/^(summary|totals):/{print $2; exit}' "$dump")
  IR[$name]=$(( total / CG_REQUESTS ))
}
