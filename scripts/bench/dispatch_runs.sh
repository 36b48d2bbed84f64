#!/bin/bash
# Dispatch alone, to compare two builds (or two sets of server options) run in the same minutes
# on a machine whose speed varies: see dispatch_ab.sh, which alternates them.
#
#   scripts/bench/dispatch_runs.sh [CHECKOUT]    (default: this one; its jar must be built)
#
# The http bench's data and shape without its other phases: the jar on the embedded store,
# 100,000 queued jobs (HttpBenchDriver's lab), BENCH_WARM warm-up runs (default 4) and BENCH_RUNS
# measured runs (default 3) of wrk -t2 -c64 for 5 s, the queue topped up to 100,000 before each.
# One line per run: hand-outs/s, 204s, and per answer the server's CPU time, context switches
# (all its threads, from /proc) and young-GC pauses, then p50/p99. BENCH_JVM replaces the
# server's JVM options (default: the http bench's), BENCH_SERVER_OPTS adds some.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
checkout=$(cd "${1:-$here}" && pwd)
cp="$here/conf:$here/test-fixtures/target/classes:$(cat "$here/test-fixtures/target/bench.cp")"
tmp=$(mktemp -d)
token=dispatch-runs-$RANDOM$RANDOM
java -cp "$cp" org.compassci.sched.bench.HttpBenchDriver "$tmp" 2>/dev/null
(cd "$checkout" && exec env -u SCHED_JDBC_URL -u SCHED_REDIS_URL -u SCHED_AUTH SCHED_ADMIN_TOKEN="$token" \
  SCHED_HOST=127.0.0.1 SCHED_PORT=0 SCHED_STORE=embedded SCHED_DATA_DIR="$tmp/data" \
  java ${BENCH_JVM:--Xms1g -Xmx2g -XX:+UseG1GC} -Dscheduler.accounts.max-queued=100000000 \
  -Xlog:gc:file="$tmp/gc.log" ${BENCH_SERVER_OPTS:-} -jar scheduler/target/scheduler.jar) >"$tmp/server.log" 2>&1 &
pid=$!
# (set -e holds inside the trap too: a kill of a server already gone must not end it early)
trap 'kill $pid 2>/dev/null || true; sleep 1; kill -9 $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
port=""
for _ in $(seq 600); do
  port=$(sed -n 's|.*scheduler listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$tmp/server.log")
  [ -z "$port" ] || break
  sleep 0.1
done
[ -n "$port" ] || { echo "dispatch_runs: the server did not start" >&2; tail "$tmp/server.log" >&2; exit 1; }
base=http://127.0.0.1:$port
queued() { curl -sf -H "Authorization: Bearer $token" "$base/scheduler/v1/manage/matcher" | sed 's/.*"queued":\([0-9]*\).*/\1/'; }
fill_next=0
top_up() {
  local need=$(( (100000 - $(queued) + 499) / 500 ))
  [ "$need" -gt 0 ] || return 0
  for ((k = 0; k < need; k++)); do printf '%s/fill/%03d.json\n' "$tmp" $(( (fill_next + k) % 240 )); done \
    | xargs -P3 -I{} curl -sSf -o /dev/null -H 'Content-Type: application/json' \
        -H "Authorization: Bearer $token" --data-binary @{} "$base/scheduler/v1/jobs/submit"
  fill_next=$(( (fill_next + need) % 240 ))
}
switches() { cat /proc/$pid/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s}'; }
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
uptime_s() { jcmd "$pid" VM.uptime | tail -1 | awk '{print $1}'; }
run() {
  local c0 t0 u0 c1 t1 u1
  c0=$(switches); t0=$(ticks); u0=$(uptime_s)
  wrk -t2 -c64 --timeout 10s -d5s -s "$here/scripts/bench/dispatch.lua" "$base" "$tmp/boxes.lua" >"$tmp/out"
  c1=$(switches); t1=$(ticks); u1=$(uptime_s)
  python3 - "$1" $(( (t1 - t0) * 1000 / $(getconf CLK_TCK) )) $((c1 - c0)) "$u0" "$u1" "$tmp/out" "$tmp/gc.log" <<'PY'
import json, re, sys
name, cpu_ms, switches, u0, u1, out, gc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6], sys.argv[7]
w = [json.loads(l)["wrk"] for l in open(out) if l.startswith('{"wrk"')][0]
answers = max(1, sum(w["status"].values()))
pauses = [float(m[2]) for m in re.finditer(r"\[([\d.]+)s\].*Pause Young.* ([\d.]+)ms", open(gc).read()) if u0 <= float(m[1]) <= u1]
print(f"{name:8s} {w['status'].get('200', 0) / w['duration_s']:6.0f} hand-outs/s  204={w['status'].get('204', 0)}"
      f"  per answer: cpu {cpu_ms * 1000 / answers:.0f} us, {switches / answers:.2f} context switches,"
      f" gc {sum(pauses) * 1000 / answers:.0f} us ({len(pauses)} pauses)  p50 {w['p50_ms']} ms  p99 {w['p99_ms']} ms")
PY
}
top_up
for r in $(seq "${BENCH_WARM:-4}"); do top_up; run "warm-$r" >&2; done
for r in $(seq "${BENCH_RUNS:-3}"); do top_up; run "run-$r"; done
