#!/usr/bin/env bash
# One command: build release, start a private MariaDB with a seeded dataset, our server, the
# stub provision server and nginx, then measure every page against its own limit in the same
# run, interleaved (ours, limit, ours, limit, ...), and report the median ratio of the pairs:
#
#   landing, login        nginx serving the same bytes as a static file
#   database pages        a bare client running the statements the page ran (captured from
#                         MariaDB's general log, replayed by `bench_tool replay`)
#   doLogin, register     the same bcrypt work plus the captured statements (register: plus
#                         the provision call, see RESULTS.md)
#
# then instructions per request under callgrind, EXPLAIN of every captured statement, peak
# RSS and start-up. Exit status 1 when a target is missed.
#
#   bench/run.sh     DURATION=3 WARMUP=1 PAIRS=3 (seconds, per run; HASH_DURATION=6 for
#                    doLogin and register) CG_REQUESTS=500
#                    SCALE=1 (10: 10x the dataset, `my` and admin JSON only; bench/scale.sh)
#                    SCENARIOS="landing my ..." CONCURRENCY="16 64" CALLGRIND=0 (skip it)
#                    RECORD=1 (add the instruction counts to bench/RESULTS.md)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${DURATION:-3}
HASH_DURATION=${HASH_DURATION:-6}
WARMUP=${WARMUP:-1}
PAIRS=${PAIRS:-3}
SCALE=${SCALE:-1}
CG_REQUESTS=${CG_REQUESTS:-500}
CONCURRENCY=${CONCURRENCY:-16 64}
ALL_SCENARIOS="landing login my renew channelList admin-index admin-json dashboard logs doLogin register"
if [ "$SCALE" = 1 ]; then SCENARIOS=${SCENARIOS:-$ALL_SCENARIOS}; else SCENARIOS=${SCENARIOS:-my admin-json}; fi
W=$ROOT/target/bench
DB_PORT=${BENCH_DB_PORT:-3417}
APP_PORT=${BENCH_APP_PORT:-8187}
NGINX_PORT=${BENCH_NGINX_PORT:-8188}
STUB_PORT=${BENCH_STUB_PORT:-8189}
CG_PORT=${BENCH_CALLGRIND_PORT:-8190}
CAPTURE_PORT=${BENCH_CAPTURE_PORT:-8191}
mkdir -p "$W"
rm -rf "$W/sql" "$W/cg" && mkdir -p "$W/sql" "$W/cg"

need() { # command package
  command -v "$1" >/dev/null 2>&1 && return 0
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing $2..." >&2
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null
}
need wrk wrk
need nginx nginx
need valgrind valgrind
export PATH="$PATH:/usr/sbin"

echo "building release..." >&2
cargo build --release --quiet --bin chathub --example bench_tool
cargo build --release --quiet -p chathub-tools --bin chathub-tools
BIN=$ROOT/target/release/chathub
TOOL=$ROOT/target/release/examples/bench_tool
TOOLS=$ROOT/target/release/chathub-tools
source bench/lib.sh

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
  "$TOOLS" mariadb stop --dir "$W/mariadb" || true
}
trap cleanup EXIT

# --- private MariaDB with the dataset (the one starter: tools/chathub-tools/src/mariadb.rs) ---
"$TOOLS" mariadb start --dir "$W/mariadb" --port "$DB_PORT" --install -- --innodb-flush-log-at-trx-commit=2 >/dev/null
SQL="mariadb -uroot -h127.0.0.1 -P$DB_PORT"
$SQL -e 'DROP DATABASE IF EXISTS chathub_bench; CREATE DATABASE chathub_bench CHARACTER SET utf8mb4'
sed 's/__PREFIX__/fa_/g' sql/fastadmin_base.sql | $SQL chathub_bench
sed 's/__PREFIX__/fa_/g' install.sql | $SQL chathub_bench
$SQL chathub_bench -e "ALTER TABLE fa_user MODIFY password varchar(255) DEFAULT '' COMMENT '密码', MODIFY username varchar(100) DEFAULT '' COMMENT '用户名'"
DB_URL="mysql://root@127.0.0.1:$DB_PORT/chathub_bench"
"$TOOL" seed "$DB_URL" "$SCALE" >&2
# Admin signed in by FastAdmin: a PHP session file plus the fa_admin row it names (signed in
# from 127.0.0.1: FastAdmin's loginip_check).
mkdir -p "$W/phpsess"
$SQL chathub_bench -e "REPLACE INTO fa_admin (id, username, nickname, password, salt, token, status, loginip) VALUES (1, 'admin', 'Admin', '', '', 'bench-admin-token-000000000000000000', 'normal', '127.0.0.1'); REPLACE INTO fa_auth_group (id, pid, name, rules, status) VALUES (1, 0, 'Admin group', '*', 'normal'); REPLACE INTO fa_auth_group_access (uid, group_id) VALUES (1, 1)"
printf 'think|a:1:{s:5:"admin";a:4:{s:2:"id";i:1;s:8:"username";s:5:"admin";s:8:"nickname";s:5:"Admin";s:5:"token";s:36:"bench-admin-token-000000000000000000";}}' >"$W/phpsess/sess_benchadmin"

# --- stub provision server ---
"$TOOL" stub "$STUB_PORT" >"$W/stub.log" 2>&1 &
PIDS+=($!)

# --- Alipay, played by bench_tool: its keys, and the server configured with them ---
"$TOOL" alipay-keys "$W/keys"
ALIPAY_APP_ID=2021000000000001

# --- our server: start-up time to first served request ---
# The provisioning worker is off: register provisions in the request, and a worker poll
# during a capture would land in a page's statements.
export CHATHUB_DATABASE_URL=$DB_URL CHATHUB_LISTEN=127.0.0.1:$APP_PORT CHATHUB_ADMIN_ENTRY=pGTnXkhdmy.php \
  CHATHUB_SESSION_SECRET=bench-session-secret-0123456789abcdef0123456789 CHATHUB_PHP_SESSION_DIR=$W/phpsess \
  CHATHUB_ADDON_PROVISION_SERVER_URL=http://127.0.0.1:$STUB_PORT CHATHUB_LOG=warn \
  CHATHUB_REGISTER_ATTEMPTS_PER_ADDRESS=0 `# wrk signs up from one address` \
  CHATHUB_PROVISION_WORKER=0 CHATHUB_PUBLIC_BASE_URL=http://127.0.0.1:$APP_PORT \
  CHATHUB_ADDON_ALIPAY_ENABLED=1 CHATHUB_ADDON_ALIPAY_APP_ID=$ALIPAY_APP_ID \
  CHATHUB_ADDON_ALIPAY_MERCHANT_PRIVATE_KEY="$(cat "$W/keys/merchant_private.pem")" \
  CHATHUB_ADDON_ALIPAY_PUBLIC_KEY="$(cat "$W/keys/platform_public.pem")"
BASE=http://127.0.0.1:$APP_PORT/addons/chathub/index
t0=$(date +%s%N)
"$BIN" serve >"$W/server.log" 2>&1 &
APP_PID=$!
PIDS+=($APP_PID)
until curl -fsS -o /dev/null "$BASE/landing" 2>/dev/null; do sleep 0.005; done
STARTUP_MS=$(( ($(date +%s%N) - t0) / 1000000 ))

# --- sessions for the signed-in scenarios ---
curl -sS -o /dev/null -c "$W/member.jar" --data-urlencode "email=perf@example.com" --data-urlencode "password=perf-pass-1" "$BASE/doLogin"
MEMBER_COOKIE=$(awk '$6=="chathub_session"{print "chathub_session="$7}' "$W/member.jar")
[ -n "$MEMBER_COOKIE" ] || { echo "bench: the perf member could not sign in" >&2; exit 1; }
ADMIN_COOKIE="PHPSESSID=benchadmin"
XHR="X-Requested-With: XMLHttpRequest"

# --- the scenarios: URL, headers, body, and what the limit is ---
declare -A PAGE_URL PAGE_HDRS PAGE_BODY PAGE_STATUS LIMIT_KIND LIMIT_ARGS MEDIAN PAIRS_OF CPU_TICKS CPU_REQS ERRS IR
page() { # name path limit-kind [header|header...] [body]
  PAGE_URL[$1]=$BASE/$2; LIMIT_KIND[$1]=$3; PAGE_HDRS[$1]=${4:-}; PAGE_BODY[$1]=${5:-}
}
# The tenant of the perf member whose renew page is measured (seeded third, active).
RENEW_TENANT=3
# The sign-up captured for register's limit carries this marker in its email, domain and
# company name; the replay swaps it for a fresh value each time (a taken email is a cheap
# refusal, not the same work).
MARK=benchcapturemarker00
page landing landing static
page login login static
page my my replay "Cookie: $MEMBER_COOKIE"
page renew "renew?id=$RENEW_TENANT" replay "Cookie: $MEMBER_COOKIE"
page channelList channelList replay "Cookie: $MEMBER_COOKIE"
page admin-index index replay "Cookie: $ADMIN_COOKIE"
page admin-json "index?page=1&filter=%7B%7D" replay "Cookie: $ADMIN_COOKIE|$XHR"
page dashboard dashboard replay "Cookie: $ADMIN_COOKIE"
page logs logs replay "Cookie: $ADMIN_COOKIE"
page doLogin doLogin replay "" "email=perf%40example.com&password=perf-pass-1"
PAGE_STATUS[doLogin]=302
page register register replay "$XHR" "plan=pro&company_name=Bench+$MARK&email=$MARK%40bench.example&domain=$MARK"

split_hdrs() { local IFS='|'; read -r -a HDR_LIST <<<"${PAGE_HDRS[$1]}"; }
page_wrk_args() { # name
  split_hdrs "$1"; WRK_ARGS=()
  for h in "${HDR_LIST[@]}"; do [ -n "$h" ] && WRK_ARGS+=(-H "$h"); done
  case "$1" in doLogin|register) WRK_ARGS+=(-s "$W/$1.lua") ;; esac
}
page_curl_args() { # name [capture]
  split_hdrs "$1"; CURL_ARGS=()
  for h in "${HDR_LIST[@]}"; do [ -n "$h" ] && CURL_ARGS+=(-H "$h"); done
  local body=${PAGE_BODY[$1]}
  # The warm-up sign-up must not use the marker: the captured one would be "email taken".
  [ "$1" = register ] && [ "${2:-}" != capture ] && body=${body//$MARK/warm$RANDOM$RANDOM}
  [ -n "$body" ] && CURL_ARGS+=(--data "$body")
  return 0
}

cat >"$W/doLogin.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "email=perf%40example.com&password=perf-pass-1"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
cat >"$W/register.lua" <<'LUA'
-- Every wrk thread gets its own id, so no two requests share an email (a taken email is a
-- fast refusal, which would flatter the numbers).
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter .. "t" .. os.time() .. "r" .. math.random(1000000))
end
local n = 0
request = function()
  n = n + 1
  local body = "plan=pro&company_name=Bench+" .. tid .. "-" .. n .. "&email=b" .. tid .. "x" .. n .. "%40bench.example&domain=b" .. tid .. "x" .. n
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded", ["X-Requested-With"] = "XMLHttpRequest"}, body)
end
LUA

# --- nginx serving landing's and login's bytes as static files ---
mkdir -p "$W/www" "$W/nginx/tmp"
for p in landing login; do curl -sS "${PAGE_URL[$p]}" >"$W/www/$p.html"; done
cat >"$W/nginx/nginx.conf" <<NGX
worker_processes auto;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $W/nginx/tmp; proxy_temp_path $W/nginx/tmp; fastcgi_temp_path $W/nginx/tmp;
  uwsgi_temp_path $W/nginx/tmp; scgi_temp_path $W/nginx/tmp;
  server { listen 127.0.0.1:$NGINX_PORT; location / { root $W/www; default_type "text/html; charset=utf-8"; } }
}
NGX
nginx -c "$W/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
sleep 0.5

# --- the statements of every database page, from the general log ---
CAP_BASE=http://127.0.0.1:$CAPTURE_PORT/addons/chathub/index
capture_all $SCENARIOS
for name in $SCENARIOS; do
  [ "${LIMIT_KIND[$name]}" = replay ] || continue
  EXPLAIN_OUT+=$("$TOOL" explain "$DB_URL" "$W/sql/$name.jsonl" "$name")$'\n'
done
LIMIT_ARGS[doLogin]="--verify-password"
LIMIT_ARGS[register]="--hash-password --unique $MARK --provision http://127.0.0.1:$STUB_PORT"
# The sign-up's provision idempotency key (`reg-` + 16 hex) is fresh per sign-up too.
# The ids its two inserts got (member, then tenant, the order it reads LAST_INSERT_ID()) are
# bound to the ids each replayed sign-up gets, so the replay updates its own rows.
if [ -f "$W/sql/register.jsonl" ]; then
  for k in $(grep -o 'reg-[0-9a-f]\{16\}' "$W/sql/register.jsonl" | sort -u); do LIMIT_ARGS[register]+=" --unique $k"; done
  [ "$(grep -c 'LAST_INSERT_ID' "$W/sql/register.jsonl")" = 2 ] || { echo "bench: register no longer reads two insert ids; see bench/run.sh" >&2; exit 1; }
  uid=$($SQL -N chathub_bench -e "SELECT id FROM fa_user WHERE email = '$MARK@bench.example'")
  tid=$($SQL -N chathub_bench -e "SELECT id FROM fa_chathub_tenant WHERE domain = '$MARK'")
  LIMIT_ARGS[register]+=" --insert-id $uid --insert-id $tid"
fi
echo
echo "EXPLAIN of every captured statement (SCAN: type ALL, or more than 1000 estimated rows):"
printf '%s' "${EXPLAIN_OUT:-}" | tee "$W/explain.txt"

# --- interleaved runs ---
echo >&2
for c in $CONCURRENCY; do
  for name in $SCENARIOS; do interleave "$name" "$c"; done
done
PEAK_RSS_KB=$(awk '/VmHWM/{print $2}' "/proc/$APP_PID/status")

# --- instructions per request: a second server under callgrind ---
if [ "${CALLGRIND:-1}" = 1 ]; then
  source bench/callgrind.sh
fi

# --- report ---
HZ=$(getconf CLK_TCK)
echo
echo "scenario          conc  median ours/limit  cpu-ms/req  errors  pairs (ours/limit req/s = ratio)"
for c in $CONCURRENCY; do
  for name in $SCENARIOS; do
    k=$name/$c
    cpu=$(awk -v t="${CPU_TICKS[$k]:-0}" -v hz="$HZ" -v r="${CPU_REQS[$k]:-0}" 'BEGIN{ if (r>0) printf "%.3f", t/hz/r*1000; else print "-" }')
    printf '%-17s %4s  %17s  %10s  %6s  %s\n' "$name" "$c" "${MEDIAN[$k]}" "$cpu" "${ERRS[$k]:-0}" "${PAIRS_OF[$k]}"
  done
done
echo "peak RSS: $((PEAK_RSS_KB / 1024)) MiB; start-up to first request: ${STARTUP_MS} ms; dataset scale ${SCALE}x"
for name in "${!IR[@]}"; do echo "instructions per request: $name ${IR[$name]}"; done | sort

fail=0
check() { # label ok? detail
  if [ "$2" = 1 ]; then echo "target ok:     $1: $3"; else echo "target MISSED: $1: $3"; fail=1; fi
}
target_of() { case "${LIMIT_KIND[$1]}/$1" in static/*) echo "0.9 nginx static" ;; */doLogin|*/register) echo "0.9 bare hash+SQL" ;; *) echo "0.8 bare SQL" ;; esac; }
for c in $CONCURRENCY; do
  for name in $SCENARIOS; do
    read -r want what <<<"$(target_of "$name")"
    k=$name/$c
    # More than 1% error answers or timeouts (non-2xx/3xx) is a miss whatever the ratio.
    ok=$(awk -v r="${MEDIAN[$k]}" -v w="$want" -v e="${ERRS[$k]:-0}" -v n="${CPU_REQS[$k]:-0}" 'BEGIN{print (r>=w && e*100<=n)?1:0}')
    check "$name c=$c >= ${want}x $what" "$ok" "median ${MEDIAN[$k]}, pairs ${PAIRS_OF[$k]}, errors ${ERRS[$k]:-0} of ${CPU_REQS[$k]:-0}"
  done
done
check "peak RSS <= 64 MiB" "$([ "$PEAK_RSS_KB" -le 65536 ] && echo 1 || echo 0)" "$((PEAK_RSS_KB / 1024)) MiB"
check "start-up <= 300 ms" "$([ "$STARTUP_MS" -le 300 ] && echo 1 || echo 0)" "${STARTUP_MS} ms"
exit $fail
