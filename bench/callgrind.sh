# Part of bench/run.sh (sourced after the interleaved runs, so valgrind does not share the
# cores with them): instructions per request of landing, my, the admin pages (index JSON and
# HTML, dashboard, logs) and payNotify, from a
# second server under callgrind on the same database. Instruction counts do not move with
# the box's load, so RESULTS.md tracks them across commits.
CG_BASE=http://127.0.0.1:$CG_PORT/addons/chathub/index
CHATHUB_LISTEN=127.0.0.1:$CG_PORT valgrind --tool=callgrind --callgrind-out-file="$W/cg/callgrind.out.%p" \
  "$BIN" serve >"$W/callgrind-server.log" 2>&1 &
CG_PID=$!
PIDS+=($CG_PID)
echo "callgrind: waiting for the server under valgrind..." >&2
for _ in $(seq 1 1200); do curl -fsS -o /dev/null "$CG_BASE/landing" 2>/dev/null && break; sleep 0.5; done
# Alipay's notification for the seeded pending order: the first (in the warm-up) marks it
# paid, every counted one is a duplicate notification of a paid order.
"$TOOL" alipay-notify "$W/keys/platform_private.pem" "$ALIPAY_APP_ID" CHBENCH0001 60.00 >"$W/notify.form"
cg_measure landing "$CG_BASE/landing"
cg_measure my "$CG_BASE/my" "Cookie: $MEMBER_COOKIE"
cg_measure admin-json "$CG_BASE/index?page=1&filter=%7B%7D" "Cookie: $ADMIN_COOKIE" "$XHR"
cg_measure admin-index "$CG_BASE/index" "Cookie: $ADMIN_COOKIE"
cg_measure dashboard "$CG_BASE/dashboard" "Cookie: $ADMIN_COOKIE"
cg_measure logs "$CG_BASE/logs" "Cookie: $ADMIN_COOKIE"
[ "$SCALE" = 1 ] && cg_measure payNotify "$CG_BASE/payNotify/pay_method/alipay" --body "$W/notify.form"
kill "$CG_PID" 2>/dev/null || true
# The server's code is what the counts are about: the last commit that changed it.
COMMIT=$(git log -1 --format=%h -- src Cargo.toml Cargo.lock)$(git diff --quiet HEAD -- src || echo "+dirty")
IR_ROW="| $(date +%F) | $COMMIT | ${SCALE}x | ${IR[landing]:--} | ${IR[my]:--} | ${IR[admin-json]:--} | ${IR[payNotify]:--} | ${IR[admin-index]:--} | ${IR[dashboard]:--} | ${IR[logs]:--} |"
echo "instructions table row: $IR_ROW"
if [ "${RECORD:-0}" = 1 ]; then
  # Rows go just above the marker line that ends the table in RESULTS.md.
  awk -v row="$IR_ROW" '/^<!-- instructions: new rows above -->/{print row} {print}' bench/RESULTS.md >"$W/RESULTS.md" \
    && cp "$W/RESULTS.md" bench/RESULTS.md
fi
