#!/usr/bin/env bash
# One command: build release, start a private MariaDB with a seeded dataset, our server, the
# stub provision server and nginx (for the static-file limit), drive them with wrk, print a
# table and check the targets. Exit status 1 when a target is missed.
#
#   bench/run.sh            (DURATION=10 WARMUP=3 RUNS=2 can be overridden)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
RUNS=${RUNS:-2}
W=$ROOT/target/bench
DB_PORT=${BENCH_DB_PORT:-3417}
APP_PORT=${BENCH_APP_PORT:-8187}
NGINX_PORT=${BENCH_NGINX_PORT:-8188}
STUB_PORT=${BENCH_STUB_PORT:-8189}
mkdir -p "$W"

need() { # command package
  command -v "$1" >/dev/null 2>&1 && return 0
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing $2..." >&2
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null
}
need wrk wrk
need nginx nginx
export PATH="$PATH:/usr/sbin"

echo "building release..." >&2
cargo build --release --quiet --bin chathub --example bench_tool
cargo build --release --quiet -p chathub-tools --bin chathub-tools
BIN=$ROOT/target/release/chathub
TOOL=$ROOT/target/release/examples/bench_tool
TOOLS=$ROOT/target/release/chathub-tools

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
"$TOOL" seed "$DB_URL" >&2
# Admin signed in by FastAdmin: a PHP session file plus the fa_admin row it names.
mkdir -p "$W/phpsess"
$SQL chathub_bench -e "REPLACE INTO fa_admin (id, username, nickname, password, salt, token, status) VALUES (1, 'admin', 'Admin', '', '', 'bench-admin-token-000000000000000000', 'normal'); REPLACE INTO fa_auth_group (id, pid, name, rules, status) VALUES (1, 0, 'Admin group', '*', 'normal'); REPLACE INTO fa_auth_group_access (uid, group_id) VALUES (1, 1)"
printf 'think|a:1:{s:5:"admin";a:4:{s:2:"id";i:1;s:8:"username";s:5:"admin";s:8:"nickname";s:5:"Admin";s:5:"token";s:36:"bench-admin-token-000000000000000000";}}' >"$W/phpsess/sess_benchadmin"

# --- stub provision server ---
"$TOOL" stub "$STUB_PORT" >"$W/stub.log" 2>&1 &
PIDS+=($!)

# --- our server: start-up time to first served request ---
export CHATHUB_DATABASE_URL=$DB_URL CHATHUB_LISTEN=127.0.0.1:$APP_PORT CHATHUB_ADMIN_ENTRY=pGTnXkhdmy.php \
  CHATHUB_SESSION_SECRET=bench-session-secret-0123456789abcdef0123456789 CHATHUB_PHP_SESSION_DIR=$W/phpsess \
  CHATHUB_ADDON_PROVISION_SERVER_URL=http://127.0.0.1:$STUB_PORT CHATHUB_LOG=warn \
  CHATHUB_REGISTER_ATTEMPTS_PER_ADDRESS=0  # wrk signs up from one address
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

# --- nginx serving the landing bytes as a static file ---
mkdir -p "$W/www" "$W/nginx"
curl -sS "$BASE/landing" >"$W/www/landing.html"
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
mkdir -p "$W/nginx/tmp"
nginx -c "$W/nginx/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
sleep 0.5

cat >"$W/dologin.lua" <<'LUA'
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
  thread:set("tid", counter .. "t" .. os.time())
end
local n = 0
request = function()
  n = n + 1
  local body = "plan=pro&company_name=Bench+" .. tid .. "-" .. n .. "&email=b" .. tid .. "x" .. n .. "%40bench.example&domain=b" .. tid .. "x" .. n
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded", ["X-Requested-With"] = "XMLHttpRequest"}, body)
end
LUA

cpu_ticks() { awk '{print $14+$15}' "/proc/$APP_PID/stat"; }
HZ=$(getconf CLK_TCK)
rps_of() { awk '/Requests\/sec/{print $2}'; }
reqs_of() { awk '/requests in/{print $1}'; }

declare -A BEST
RESULTS=()
run() { # name conc url [extra wrk args...]
  local name=$1 c=$2 url=$3; shift 3
  wrk -t2 -c"$c" -d"${WARMUP}s" "$@" "$url" >/dev/null 2>&1 || true
  local best=0 total_req=0 ticks0 ticks1 out rps reqs
  ticks0=$(cpu_ticks)
  for _ in $(seq 1 "$RUNS"); do
    out=$(wrk -t2 -c"$c" -d"${DURATION}s" "$@" "$url" 2>&1)
    rps=$(echo "$out" | rps_of); reqs=$(echo "$out" | reqs_of)
    total_req=$((total_req + ${reqs:-0}))
    best=$(awk -v a="$best" -v b="${rps:-0}" 'BEGIN{print (b>a)?b:a}')
  done
  ticks1=$(cpu_ticks)
  local cpu_per_10k
  cpu_per_10k=$(awk -v t=$((ticks1 - ticks0)) -v hz="$HZ" -v r="$total_req" 'BEGIN{ if (r>0) printf "%.2f", (t/hz)/r*10000; else print "-" }')
  BEST["$name/$c"]=$best
  RESULTS+=("$(printf '%-22s %4s %12s %14s' "$name" "$c" "$best" "$cpu_per_10k")")
}

for c in 16 64; do
  run landing "$c" "$BASE/landing"
  run login "$c" "$BASE/login"
  run my "$c" "$BASE/my" -H "Cookie: $MEMBER_COOKIE"
  run doLogin "$c" "$BASE/doLogin" -s "$W/dologin.lua"
  run admin-index-json "$c" "$BASE/index?page=1&filter=%7B%7D" -H "Cookie: PHPSESSID=benchadmin" -H "X-Requested-With: XMLHttpRequest"
  run register "$c" "$BASE/register" -s "$W/register.lua"
  BEST["nginx-static/$c"]=$(wrk -t2 -c"$c" -d"${DURATION}s" "http://127.0.0.1:$NGINX_PORT/landing.html" | rps_of)
  BEST["bare-sql/$c"]=$("$TOOL" sql "$DB_URL" "$c" "$DURATION")
done
PEAK_RSS_KB=$(awk '/VmHWM/{print $2}' "/proc/$APP_PID/status")
BEST["bare-hash"]=$("$TOOL" hash "$(nproc)" "$DURATION")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "0" }'; }
echo
echo "scenario                conc      req/s   cpu-s/10k req"
printf '%s\n' "${RESULTS[@]}"
echo
echo "limits (same run)                        c=16        c=64"
printf 'landing / nginx static            %10s  %10s\n' "$(ratio "${BEST[landing/16]}" "${BEST[nginx-static/16]}")" "$(ratio "${BEST[landing/64]}" "${BEST[nginx-static/64]}")"
printf 'my / bare SQL                     %10s  %10s\n' "$(ratio "${BEST[my/16]}" "${BEST[bare-sql/16]}")" "$(ratio "${BEST[my/64]}" "${BEST[bare-sql/64]}")"
printf 'doLogin / bare hash check         %10s  %10s\n' "$(ratio "${BEST[doLogin/16]}" "${BEST[bare-hash]}")" "$(ratio "${BEST[doLogin/64]}" "${BEST[bare-hash]}")"
echo "nginx static req/s: ${BEST[nginx-static/16]} / ${BEST[nginx-static/64]}; bare SQL: ${BEST[bare-sql/16]} / ${BEST[bare-sql/64]}; bare hash: ${BEST[bare-hash]}"
echo "peak RSS: $((PEAK_RSS_KB / 1024)) MiB; start-up to first request: ${STARTUP_MS} ms"

fail=0
check() { # label ok?
  if [ "$2" = 1 ]; then echo "target ok:     $1"; else echo "target MISSED: $1"; fail=1; fi
}
check "landing >= 0.9x nginx static" "$(awk -v r="$(ratio "${BEST[landing/64]}" "${BEST[nginx-static/64]}")" 'BEGIN{print (r>=0.9)?1:0}')"
check "my >= 0.8x bare SQL" "$(awk -v r="$(ratio "${BEST[my/64]}" "${BEST[bare-sql/64]}")" 'BEGIN{print (r>=0.8)?1:0}')"
check "peak RSS <= 64 MiB" "$([ "$PEAK_RSS_KB" -le 65536 ] && echo 1 || echo 0)"
check "start-up <= 300 ms" "$([ "$STARTUP_MS" -le 300 ] && echo 1 || echo 0)"
exit $fail
