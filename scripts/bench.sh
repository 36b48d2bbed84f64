#!/usr/bin/env bash
# Benchmarks: one JSON object per line on stdout (see README, "Measured figures").
#   scripts/bench.sh matcher   the matcher actor, 100,000 queued jobs, 1,000 testboxes
#   scripts/bench.sh http      the server jar on loopback, embedded store, driven by wrk with 64
#                              keep-alive connections: health, submit, dispatch (200,000 queued)
#   scripts/bench.sh watch     the heap per open event stream (2,000 streams on the server jar)
#   scripts/bench.sh restart   SIGKILL with 100,000 and 300,000 queued, start again: health, first
#                              dispatch, heap and RSS (BENCH_RESTART_QUEUED="N ..." for others;
#                              BENCH_RESTART_IN_FLIGHT=M hands M of them out before the kill)
#   scripts/bench.sh cold      the jar started on an empty store, then at once 10,000 single-job
#                              submits over 64 connections (no warm-up; not part of "all"),
#                              beside the trivial endpoint's own figure for the same requests
#   scripts/bench.sh providers VM/container providers over WebSocket on the server jar: 20,000 jobs
#                              taken by 200 and by 2,000 simulated providers (BENCH_PROVIDERS="N ...",
#                              BENCH_PROVIDER_JOBS), then the heap of 2,000 idle provider and watcher sockets
#                              (BENCH_PROVIDER_SOCKETS; 0 skips it); scripts/providers.sh N runs one fleet
#   scripts/bench.sh claims    the embedded store's hand-out alone, 64 claims per commit
#   scripts/bench.sh dispatch [CHECKOUT]  dispatch alone, as in the http line, on the jar of
#                              CHECKOUT (absolute, or relative to this repository; default this one,
#                              which is built if needed): a line per run, the hand-outs/s and, per
#                              answer, the server's CPU, context switches and GC pauses; for comparing two
#                              builds in turn (scripts/bench/dispatch_ab.sh; not part of "all")
#   scripts/bench.sh boot      bare-metal boxes on the server jar: boot answers by MAC (each a
#                              hand-out) and job.cgz downloads against 100,000 queued hardware jobs
#   scripts/bench.sh jmh       JMH micro-benchmarks of the matcher's parts (not part of "all")
#   scripts/bench.sh cluster   dispatch rate of one process and of a 3-node cluster on the same
#                              MySQL (scripts/bench/cluster.sh; not part of "all")
#   scripts/bench.sh all       matcher, http, watch, restart (100,000 queued), providers (200
#                              only, no socket heap) and boot (one warm-up, one measured round):
#                              within 8 minutes on 2 cores
# Everything but the JSON lines goes to stderr.
# http knobs: BENCH_SECONDS (length of each wrk run, default 5); BENCH_SERVER_OPTS (more JVM
# options for the server, e.g. -Dpekko.actor.default-dispatcher.throughput=20); BENCH_JFR=DIR records the last
# measured run of each phase (of "dispatch" too) with JFR (settings=profile) into DIR/PHASE.jfr; read one with
# scripts/bench/jfr_top.py DIR/PHASE.jfr.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
# the admin's token of every server this script starts (tokens mode, the default): submits and
# management calls show it, as a lab's submitters would show theirs
bench_token=bench-admin-token-$RANDOM$RANDOM$RANDOM
export BENCH_TOKEN=$bench_token

cp_file=test-fixtures/target/bench.cp
# build once; later runs reuse the classes unless a source is newer than the class path file
if [ ! -f "$cp_file" ] || [ -n "$(find . -path ./data -prune -o -name '*.java' -newer "$cp_file" -print -quit)" ]; then
  mvn -q -B -DskipTests -pl test-fixtures -am package dependency:build-classpath \
    -Dmdep.outputFile=target/bench.cp >&2
fi
cp="conf:test-fixtures/target/classes:$(cat "$cp_file")"
jvm=(-Xms3g -Xmx3g -XX:+UseG1GC -Dlogback.configurationFile=test-fixtures/logback-test.xml)

run_matcher() { java "${jvm[@]}" -cp "$cp" org.compassci.sched.bench.MatcherBench; }
run_jmh() {
  java -cp "$cp" org.openjdk.jmh.Main -f 1 -wi 2 -i 3 -w 2s -r 3s -tu us -bm avgt \
    -rf json -rff test-fixtures/target/jmh.json 'org.compassci.sched.bench.*Jmh.*' >&2
  python3 - <<'PY'
import json
for r in json.load(open("test-fixtures/target/jmh.json")):
    m = r["primaryMetric"]
    print(json.dumps({"bench": "jmh", "name": r["benchmark"].rsplit(".", 2)[-2] + "." + r["benchmark"].rsplit(".", 1)[-1],
                      "score_us": round(m["score"], 3), "error_us": round(m["scoreError"], 3)}))
PY
}

# ---------------------------------------------------------------- http
# Shape: start the jar; meanwhile HttpBenchDriver writes the data (1,000 box queries and 5,000
# job bodies as Lua arrays, 240 JSON arrays of 500 jobs); fill the queue to 200,000 with curl; warm up health, and dispatch until every box has
# asked; 3 times: health, top the queue up to 200,000, dispatch; then warm up submit and submit
# 3 times (submits last, so that they never change the queue the dispatch runs see). Each
# phase's figure is the median of its 3 runs (scripts/bench/http_report.py says what counts).

jar=scheduler/target/scheduler.jar
# the server's JVM options in the speed runs; BENCH_HTTP_JVM replaces them (e.g. with the README's, to see what bounding the memory costs)
http_jvm=(${BENCH_HTTP_JVM:--Xms1g -Xmx2g -XX:+UseG1GC})
connections=64
seconds=${BENCH_SECONDS:-5}
wrk_cmd=(wrk -t2 -c"$connections" --timeout 10s)
# jobs queued before each dispatch run. 200,000: a 5 s run takes up to 75,000, and with 100,000
# the kinds some boxes fit ran out within a run once dispatch reached about 15,000/s here (a
# fifth of the asks of the faster build's runs found nothing: the figure was the queue's, not the
# server's). The boot bench keeps 100,000 hardware jobs (boot_queued)
queued=${BENCH_QUEUED:-200000}
boot_queued=${BENCH_QUEUED:-100000}
boxes=1000    # testboxes asking (HttpBenchDriver.BOXES)
reps=3
jfr_opts=()
if [ -n "${BENCH_JFR:-}" ]; then
  # JFR runs from the start (cheap default settings), so that the per-phase recordings started
  # later with jcmd do not pay JFR's own start-up inside a measured run; deep stacks for Pekko
  jfr_opts=(-XX:StartFlightRecording=settings=default,name=base -XX:FlightRecorderOptions:stackdepth=256)
fi

need_wrk() {
  command -v wrk >/dev/null && return
  if [ "$(id -u)" = 0 ]; then
    echo "bench: installing Debian's wrk" >&2
    apt-get install -y -q wrk >&2 || { apt-get update -q >&2 && apt-get install -y -q wrk >&2; }
  else
    echo "bench: the http benchmark needs wrk: sudo apt-get install -y wrk" >&2
    exit 1
  fi
}

# rebuild the jar only when a source, resource or pom of its modules is newer
build_jar() {
  if [ -f "$jar" ] && [ -z "$(find actors/src http-api/src persistence/src scheduler/src conf \
      pom.xml actors/pom.xml http-api/pom.xml persistence/pom.xml scheduler/pom.xml \
      -newer "$jar" -print -quit)" ]; then
    return
  fi
  echo "bench: building $jar" >&2
  mvn -q -B -o -DskipTests -pl scheduler -am package >&2 || {
    echo "bench: the offline build failed; again with the Maven repository reachable" >&2
    mvn -q -B -DskipTests -pl scheduler -am package >&2
  }
}

cleanup() {
  stop_stack
  if [ -n "${server_pid:-}" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" # SIGTERM: coordinated shutdown
    for _ in $(seq 150); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
  fi
  [ -z "${BENCH_JFR:-}" ] || [ -z "${tmp:-}" ] || cp "$tmp/server.log" "$BENCH_JFR/" 2>/dev/null || true
  [ -z "${tmp:-}" ] || rm -rf "$tmp"
}

# the server on 127.0.0.1, a free port (0: the server picks one and logs it), the embedded store
start_server() {
  env -u SCHED_JDBC_URL -u SCHED_REDIS_URL -u SCHED_AUTH SCHED_ADMIN_TOKEN="$bench_token" \
    SCHED_HOST=127.0.0.1 SCHED_PORT=0 SCHED_STORE=embedded SCHED_DATA_DIR="$tmp/data" \
    java "${http_jvm[@]}" "${jfr_opts[@]}" -Dscheduler.accounts.max-queued=100000000 "${handout_opts[@]}" ${BENCH_SERVER_OPTS:-} \
      -jar "$jar" >"$tmp/server.log" 2>&1 &
  server_pid=$!
}

wait_ready() {
  local port=""
  for _ in $(seq 600); do
    port=$(sed -n 's|.*scheduler listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$tmp/server.log")
    [ -z "$port" ] || break
    kill -0 "$server_pid" 2>/dev/null || { echo "bench: the server did not start:" >&2; cat "$tmp/server.log" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$port" ] || { echo "bench: the server is not up after 60 s" >&2; tail "$tmp/server.log" >&2; exit 1; }
  base=http://127.0.0.1:$port
  echo "bench: server pid $server_pid at $base, store in $tmp/data" >&2
}

# matcher_field NAME: a number from /scheduler/v1/manage/matcher (queued, parked, ...)
matcher_field() { curl -sf -H "Authorization: Bearer $bench_token" "$base/scheduler/v1/manage/matcher" | sed "s/.*\"$1\":\([0-9]*\).*/\1/"; }

# store_commits: the persistence actor's commits so far (/scheduler/v1/manage/actors)
store_commits() {
  curl -sf -H "Authorization: Bearer $bench_token" "$base/scheduler/v1/manage/actors" \
    | python3 -c 'import json,sys; print(next(a for a in json.load(sys.stdin)["actors"] if a["name"] == "persistence")["holds"]["commits"])'
}

# top_up N: bulk submits of the arrays in $tmp/fill, the next ones in turn, 3 at a time, until
# the matcher holds at least N queued jobs; sets $now_queued
fill_next=0
# microseconds from $1 to $2, two $EPOCHREALTIME values
micros_between() { echo $(( 10#${2/[.,]/} - 10#${1/[.,]/} )); }
top_up() {
  local have need files k t0=$EPOCHREALTIME
  files=$(find "$tmp/fill" -name '*.json' | wc -l)
  have=$(matcher_field queued)
  need=$(( ($1 - have + 499) / 500 ))
  if [ "$need" -gt 0 ]; then
    for ((k = 0; k < need; k++)); do printf '%s/fill/%03d.json\n' "$tmp" $(( (fill_next + k) % files )); done \
      | xargs -P3 -I{} curl -sSf -o /dev/null -H 'Content-Type: application/json' -H "Authorization: Bearer $bench_token" \
        --data-binary @{} "$base/scheduler/v1/jobs/submit" \
      || { echo "bench: a bulk submit failed" >&2; exit 1; }
    fill_next=$(( (fill_next + need) % files ))
  fi
  now_queued=$(matcher_field queued)
  local ms=$(( $(micros_between "$t0" "$EPOCHREALTIME") / 1000 ))
  echo "bench: top-up: $have queued + $((now_queued - have)) in $ms ms = $now_queued queued" >&2
  [ "$now_queued" -ge "$1" ] || { echo "bench: the queue holds $now_queued < $1" >&2; exit 1; }
}

# The dispatch runs' boxes never report, and a lab's report within seconds: without help each run
# carried the jobs of every run before it (150,000 in flight by the end of an http bench), and the
# queue lost the kinds of job the boxes took, so that by the last runs over 40 % of the asks found
# nothing that fit (a 204). So the server gives a hand-out a second longer than a run (6 s for
# 5 s runs; 8 s before 2026-11-30, which left the settling 2 s longer after each of 7 dispatch
# runs) instead of dispatch-ack's 600 s and aborts one only after 100 requeues, not 2 (a job is handed out about
# once in two runs); after each dispatch run, settle_handouts waits until every job handed out is
# back in the queue (the lifecycle's requeue of a lost hand-out): each run starts with the same
# queue and nothing in flight. BENCH_KEEP_HANDOUTS=1 keeps them in flight, as before 2026-11-29
# night. Only run_http and run_dispatch call quick_handouts (before they start the server); the
# other benches keep the configured timeouts.
handout_opts=()
quick_handouts() {
  [ -n "${BENCH_KEEP_HANDOUTS:-}" ] || handout_opts=(-Dscheduler.timeouts.dispatch-ack=$((seconds + 1))s -Dscheduler.requeue.max=100)
}

settle_handouts() {
  [ -z "${BENCH_KEEP_HANDOUTS:-}" ] || return 0
  local n q t0=$EPOCHREALTIME first=""
  for _ in $(seq 600); do
    n=$(curl -sf -H "Authorization: Bearer $bench_token" "$base/scheduler/v1/dashboard/jobs/running?limit=1" \
      | sed 's/.*"total":\([0-9]*\).*/\1/')
    q=$(matcher_field queued)
    first=${first:-$n}
    # the lifecycle has let go of them all, and the matcher holds them again (the queue top_up made)
    [ "$n" != 0 ] || [ "$q" -lt "$now_queued" ] || break
    sleep 0.5
  done
  [ "$n" = 0 ] && [ "$q" -ge "$now_queued" ] \
    || { echo "bench: after 300 s $n jobs still in flight, $q of $now_queued queued" >&2; exit 1; }
  echo "bench: $first hand-outs back in the queue after $(( $(micros_between "$t0" "$EPOCHREALTIME") / 1000 )) ms" >&2
}

clk_tck=$(getconf CLK_TCK)
# cpu_ticks: user and system CPU time of the process that answers $base so far, in clock ticks
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat" 2>/dev/null || echo 0; }

# thread_ticks FILE: the server's CPU ticks so far by thread name, digits folded (C2 CompilerThre#),
# and of them in the kernel
thread_ticks() {
  python3 - "$server_pid" >"$1" <<'PY'
import collections, glob, re, sys
total, kernel = collections.Counter(), collections.Counter()
for path in glob.glob(f"/proc/{sys.argv[1]}/task/*/stat"):
    try:
        line = open(path).read()
    except OSError:
        continue  # the thread ended meanwhile
    name = line[line.index("(") + 1:line.rindex(")")]
    # the two JIT compilers stay apart (C1, C2); other digits number the threads of a pool
    name = name[:3] + re.sub("[0-9]+", "#", name[3:]) if re.match("C[12] ", name) else re.sub("[0-9]+", "#", name)
    f = line[line.rindex(")") + 2:].split()
    total[name] += int(f[11]) + int(f[12])
    kernel[name] += int(f[12])
for k, v in total.items():
    print(v, kernel[k], k, sep="\t")
PY
}

# thread_cpu BEFORE TITLE: on stderr, TITLE, then the server threads that took at least 1 % of
# its CPU since thread_ticks BEFORE
thread_cpu() {
  thread_ticks "$1.after"
  echo "bench: $2" >&2
  python3 - "$1" "$1.after" "$clk_tck" <<'PY' >&2
import sys
def load(p):
    out = {}
    for l in open(p):
        f = l.rstrip("\n").split("\t")
        if len(f) == 3:
            out[f[2]] = (int(f[0]), int(f[1]))
    return out
a, b, hz = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3])
d = sorted(((v[0] - a.get(k, (0, 0))[0], v[1] - a.get(k, (0, 0))[1], k) for k, v in b.items()), reverse=True)
total = sum(v for v, _, _ in d) or 1
for v, s, k in d:
    if v * 100 >= total:
        print(f"bench:   {v * 1000 // hz:6d} ms  {v * 100 // total:3d} %  (in the kernel {s * 100 // max(v, 1):3d} %)  {k}")
PY
}

# wrk_run PHASE NAME SECONDS [ARG...]: one wrk run of scripts/bench/PHASE.lua, ARGs passed to
# it; common.lua's JSON summary goes to $tmp/NAME.json, the server's CPU time over it to $run_cpu_ms
wrk_run() {
  local phase=$1 name=$2 secs=$3
  shift 3
  local jfr=""
  # the http line's last run of a phase, or the dispatch bench's last measured run
  if [ -n "${BENCH_JFR:-}" ] && [ "$phase" != stack ] \
    && { [ "$name" = "$phase-$reps" ] || [ "$name" = "$phase-run-${BENCH_RUNS:-3}" ]; }; then jfr=$phase; fi
  if [ -n "$jfr" ]; then
    echo "bench: JFR recording of $name into $BENCH_JFR/$jfr.jfr" >&2
    jcmd "$server_pid" JFR.start name="$jfr" settings=profile \
      filename="$(realpath "$BENCH_JFR")/$jfr.jfr" >/dev/null
  fi
  local data=()
  [ $# -eq 0 ] || data=(-- "$@")
  # the server's CPU time over the run: per answer, it hardly moves with what else the machine
  # runs, where the rate does
  local ticks_before split=""
  # the last run of each phase also says which of the server's threads took its CPU
  [ "$name" != "$phase-$reps" ] || split=1
  [ -z "$split" ] || thread_ticks "$tmp/threads.before"
  ticks_before=$(cpu_ticks)
  "${wrk_cmd[@]}" -d"$secs"s -s "scripts/bench/$phase.lua" "$base" "${data[@]}" >"$tmp/$name.out"
  run_cpu_ms=$(( ($(cpu_ticks) - ticks_before) * 1000 / clk_tck ))
  [ -z "$split" ] || thread_cpu "$tmp/threads.before" "$name: the server's CPU by thread:"
  [ -z "$jfr" ] || jcmd "$server_pid" JFR.stop name="$jfr" >/dev/null
  grep '^{"wrk":' "$tmp/$name.out" >"$tmp/$name.json" || { cat "$tmp/$name.out" >&2; exit 1; }
  python3 scripts/bench/http_report.py run "$phase" "$name" "$tmp/$name.json" "$run_cpu_ms"
}

# The HTTP stack's own figure, same client and JVM options: its server starts before the
# scheduler and warms up as long; its measured runs come between the scheduler's (stack_run), in
# the same minutes as the health and dispatch runs they are compared with. Measured all before
# the scheduler started, the trivial endpoint's figure moved by 30 % between two http lines of
# the same build (55,959 and 72,601/s) while dispatch held at 14,200-14,600/s.
start_stack() {
  launch_stack "${http_jvm[@]}"
  local run
  for run in 1 2 3 4; do stack_run "warmup-stack-$run"; done
}

# launch_stack JAVA_OPTION...: StackServer started with those options; $stack_pid and
# $stack_base are set once it listens
launch_stack() {
  java "$@" -cp "$cp" org.compassci.sched.bench.StackServer >"$tmp/stack.log" 2>&1 &
  stack_pid=$!
  local port=""
  for _ in $(seq 300); do
    port=$(sed -n 's|^stack listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$tmp/stack.log")
    [ -z "$port" ] || break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "bench: the stack server did not start:" >&2; cat "$tmp/stack.log" >&2; exit 1; }
  stack_base=http://127.0.0.1:$port
}

# stack_run NAME: one wrk run against the stack's server (wrk_run measures $base and $server_pid)
stack_run() {
  local keep_base=${base:-} keep_pid=${server_pid:-} idle_before=""
  # what the scheduler, idle meanwhile, takes of the machine during the stack's run
  [ -z "$keep_pid" ] || idle_before=$(cpu_ticks)
  base=$stack_base
  server_pid=$stack_pid
  wrk_run stack "$1" "$seconds"
  base=$keep_base
  server_pid=$keep_pid
  [ -z "$idle_before" ] \
    || echo "bench: $1: the idle scheduler's CPU meanwhile: $(( ($(cpu_ticks) - idle_before) * 1000 / clk_tck )) ms" >&2
}

stop_stack() {
  [ -n "${stack_pid:-}" ] || return 0
  kill "$stack_pid" 2>/dev/null || true
  wait "$stack_pid" 2>/dev/null || true
  stack_pid=""
}

run_http() {
  need_wrk
  build_jar
  tmp=$(mktemp -d)
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  [ -z "${BENCH_JFR:-}" ] || mkdir -p "$BENCH_JFR"
  start_stack
  quick_handouts
  start_server
  java -cp "$cp" org.compassci.sched.bench.HttpBenchDriver "$tmp" >&2
  wait_ready

  top_up "$queued"
  # the JIT needs a while on 2 cores (about 40 s of load before the figures settle): health and
  # dispatch alternate 4 times before anything is measured; by then every box has asked too
  # (the matcher works out what fits a box the first time the box asks). The warm-up's
  # hand-outs go back while it runs (requeues warm up too) instead of after each of its
  # dispatch runs (7 s each, on a slow day a twentieth of "all"); the measured runs start once
  # they all have, from the same full queue
  for run in 1 2 3 4; do
    wrk_run health "warmup-health-$run" "$seconds"
    wrk_run dispatch "warmup-dispatch-$run" "$seconds" "$tmp/boxes.lua"
  done
  settle_handouts
  echo "bench: $(curl -sf "$base/scheduler/v1/dashboard/hosts?limit=1" \
    | sed 's/.*"total":\([0-9]*\).*/\1/') of $boxes boxes have asked" >&2
  for rep in $(seq "$reps"); do
    wrk_run health "health-$rep" "$seconds"
    stack_run "stack-$rep"
    top_up "$queued"
    local commits0 commits1 q_after
    commits0=$(store_commits)
    wrk_run dispatch "dispatch-$rep" "$seconds" "$tmp/boxes.lua"
    commits1=$(store_commits)
    q_after=$(matcher_field queued)
    # hand-outs per store commit: how much the persistence actor's group commit gathers
    echo "bench: dispatch-$rep: queued before $now_queued, after $q_after;" \
      "$((commits1 - commits0)) store commits, $(( (now_queued - q_after) / (commits1 - commits0 > 0 ? commits1 - commits0 : 1) )) hand-outs each" >&2
    settle_handouts
  done
  local q0 q1
  stop_stack
  q0=$(matcher_field queued)
  wrk_run submit warmup-submit "$seconds" "$tmp/jobs.lua"
  for rep in $(seq "$reps"); do wrk_run submit "submit-$rep" "$seconds" "$tmp/jobs.lua"; done
  q1=$(matcher_field queued)
  # every 200 of a submit is one stored, queued job: the queue must have grown by their number
  local acknowledged
  acknowledged=$(( $(cat "$tmp"/warmup-submit.json "$tmp"/submit-*.json \
    | grep -o '"200":[0-9]*' | cut -d: -f2 | paste -sd+) ))
  # (a run's last requests, at most one per connection, are answered after wrk stopped counting)
  local grew=$((q1 - q0)) verdict=ok
  if [ "$grew" -lt "$acknowledged" ] || [ "$grew" -gt $((acknowledged + connections * (reps + 1))) ]; then
    verdict=MISMATCH
  fi
  echo "bench: submit answered 200 for $acknowledged jobs; the queue grew by $grew: $verdict" >&2

  python3 scripts/bench/http_report.py line "$tmp" "$reps" "$connections" "$queued"
}

# ---------------------------------------------------------------- dispatch
# The http line's dispatch phase alone, with what a comparison of two builds needs on a machine
# whose speed drifts: the server's CPU time, context switches (all its threads, from /proc) and
# young-GC pauses per answer, which move less than the rate. BENCH_WARM warm-up runs (default 4),
# BENCH_RUNS measured ones (default 3); the queue is topped up to 200,000 before each.
run_dispatch() {
  need_wrk
  local checkout=${1:-.}
  [ "$checkout" != . ] || build_jar
  jar="$checkout/scheduler/target/scheduler.jar"
  tmp=$(mktemp -d)
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  quick_handouts
  [ -z "${BENCH_JFR:-}" ] || mkdir -p "$BENCH_JFR"
  BENCH_SERVER_OPTS="${BENCH_SERVER_OPTS:-} -Xlog:gc:file=$tmp/gc.log" start_server
  java -cp "$cp" org.compassci.sched.bench.HttpBenchDriver "$tmp" >&2
  wait_ready
  top_up "$queued"
  local r
  for r in $(seq "${BENCH_WARM:-4}"); do top_up "$queued"; dispatch_run "warm-$r" >&2; settle_handouts; done
  for r in $(seq "${BENCH_RUNS:-3}"); do top_up "$queued"; dispatch_run "run-$r"; settle_handouts; done
}

# context switches so far of every thread of the server
switches() { cat /proc/"$server_pid"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s}'; }
# the server JVM's uptime in seconds, as its GC log stamps lines
jvm_uptime() { jcmd "$server_pid" VM.uptime | tail -1 | awk '{print $1}'; }

# dispatch_run NAME: one wrk run of the dispatch phase (wrk_run) and its line (http_report.py dispatch)
dispatch_run() {
  local c0 u0
  c0=$(switches); u0=$(jvm_uptime)
  wrk_run dispatch "dispatch-$1" "$seconds" "$tmp/boxes.lua"
  python3 scripts/bench/http_report.py dispatch "$1" "$tmp/dispatch-$1.json" \
    "$run_cpu_ms" $(( $(switches) - c0 )) "$tmp/gc.log" "$u0" "$(jvm_uptime)"
}

# ---------------------------------------------------------------- watch
# The heap an open event stream costs: the jar again, 2,000 jobs, a stream on each from its own
# connection; WatchBench reads the server's used heap after a full GC (jcmd) with the streams
# open and after they closed, then does the same with idle keep-alive connections, which is
# Pekko HTTP's own share.
run_watch() {
  build_jar
  tmp=$(mktemp -d)
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  start_server
  wait_ready
  local port=${base##*:}
  java -cp "$cp" org.compassci.sched.bench.WatchBench "$port" "$server_pid" 2000
  java -cp "$cp" org.compassci.sched.bench.WatchBench "$port" "$server_pid" 2000 idle
  cleanup
  server_pid=""
  tmp=""
}

# ---------------------------------------------------------------- boot
# Bare-metal boxes: the jar with a lab of 1,000 hosts (BootBenchDriver), 100,000 hardware jobs
# queued. Two phases, each a wrk run with 64 connections, alternating 3 times after a warm-up:
# boxes booting as real ones do, each boot answer by MAC (every 200 is a hand-out, durable before
# its answer) followed by the download of the package its script names (built in the server when
# asked; the first download moves its job to boot, durably) before the box asks again (a box that
# asks again without fetching gives its job back: it booted again); then the same downloads again
# (served while the jobs boot: no store write). Then packages built in process alone
# (PackageBench). One line: {"bench":"boot",...}.
run_boot() {
  need_wrk
  build_jar
  tmp=$(mktemp -d)
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  java -cp "$cp" org.compassci.sched.bench.BootBenchDriver "$tmp" >&2
  # the server reads the lab's hosts/ folder at start, and results go to a folder of this run
  SCHED_LAB_HOSTS="$tmp/hosts" SCHED_RESULTS_DIR="$tmp/results" start_server
  wait_ready
  top_up "$boot_queued"
  echo "bench: $(curl -sf "$base/scheduler/v1/dashboard/hosts?limit=1" | sed 's/.*"total":\([0-9]*\).*/\1/') lab hosts known" >&2
  for run in $(seq "${boot_warmups:-2}"); do
    wrk_run boot "warmup-boot-$run" "$seconds" "$tmp/macs.lua" "$tmp/paths-warmup-$run.lua"
    top_up "$boot_queued"
  done
  for rep in $(seq "$reps"); do
    wrk_run boot "boot-$rep" $((seconds * 2)) "$tmp/macs.lua" "$tmp/paths-$rep.lua"
    # the same links again, while their jobs boot: the package without the store's write
    wrk_run package "again-$rep" "$seconds" "$tmp/paths-$rep.lua"
    if [ "$rep" -lt "$reps" ]; then top_up "$boot_queued"; fi
  done
  local build
  build=$(java -Xms512m -Xmx512m -cp "$cp" org.compassci.sched.bench.PackageBench)
  python3 scripts/bench/boot_report.py "$tmp" "$reps" "$connections" "$build"
}

# ---------------------------------------------------------------- restart
# The jar, started as the README starts it, filled with N queued jobs by bulk submits, killed
# with SIGKILL, then started again on the same data: seconds from the new process's start to
# health 200 and to the first dispatch that hands a job out, then the used heap after a full
# GC and the process's RSS, with the N jobs queued.
# BENCH_RESTART_DATA=DIR keeps each fill's store in DIR/N and restarts later runs from a copy of it
# BENCH_RESTART_IN_FLIGHT=M: M of the N jobs are handed out (and never reported) before the kill,
# as a crash leaves a busy lab; the line then gives "queued" N-M, "in_flight" M and
# "in_flight_loaded_s", when the lifecycle has read them all back (its "lifecycle loaded" line)
restart_queued=${BENCH_RESTART_QUEUED:-100000 300000}
restart_in_flight=${BENCH_RESTART_IN_FLIGHT:-0}

# hand_out M: M jobs handed out to the lab's boxes in turn, one request at a time
hand_out() {
  sed -n 's/^"\(.*\)",$/\1/p' "$tmp/boxes.lua" >"$tmp/boxes.txt"
  python3 - "${base##*:}" "$tmp/boxes.txt" "$1" <<'PY'
import http.client, sys
port, boxes, n = int(sys.argv[1]), open(sys.argv[2]).read().split(), int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port)
got = asked = 0
while got < n and asked < 20 * n:
    c.request("GET", "/scheduler/v1/jobs/dispatch?" + boxes[asked % len(boxes)])
    r = c.getresponse()
    r.read()
    got += r.status == 200
    asked += 1
if got < n:
    sys.exit(f"bench: {got} of {n} jobs handed out")
PY
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# the README's command, scripts/run.sh (which execs java, so the pid is the JVM's), with these
# options: keep them the README's
readme_jvm=(${BENCH_README_JVM:-@conf/jvm.options})

start_readme_server() {
  env -u SCHED_JDBC_URL -u SCHED_REDIS_URL -u SCHED_AUTH SCHED_ADMIN_TOKEN="$bench_token" \
    SCHED_HOST=127.0.0.1 SCHED_PORT="$1" SCHED_STORE=embedded SCHED_DATA_DIR="$tmp/data" \
    SCHED_JVM_OPTIONS="${readme_jvm[*]}" SCHED_JAR="$jar" scripts/run.sh >>"$tmp/server.log" 2>&1 &
  server_pid=$!
}

# seconds from $1 to $2 (two $EPOCHREALTIME values), to 0.01 s. In bash: a python3 in the
# polling loop below started in 0.4 s on a slow day, and the first dispatch's poll waited for it
seconds_between() {
  local cs=$(( ($(micros_between "$1" "$2") + 5000) / 10000 ))
  printf '%d.%02d\n' $((cs / 100)) $((cs % 100))
}

restart_one() {
  local n=$1 port t0 health_s="" dispatch_s="" q status heap rss fill_rss=null log_from
  local saved=${BENCH_RESTART_DATA:+$BENCH_RESTART_DATA/$n} in_flight_n=$restart_in_flight
  tmp=$(mktemp -d)
  port=$(free_port)
  base=http://127.0.0.1:$port
  if [ -n "$saved" ] && [ -d "$saved/data" ]; then
    # BENCH_RESTART_DATA=DIR: the store of an earlier fill, killed the same way (no fill line)
    cp -r "$saved/data" "$saved/boxes.txt" "$tmp/"
    in_flight_n=$(cat "$saved/in_flight" 2>/dev/null || echo 0)
  else
    start_readme_server "$port"
    java -cp "$cp" org.compassci.sched.bench.HttpBenchDriver "$tmp" >&2
    for _ in $(seq 600); do curl -sf -o /dev/null "$base/scheduler/v1/health" && break; sleep 0.1; done
    top_up "$n"
    [ "$restart_in_flight" = 0 ] || hand_out "$restart_in_flight"
    sleep 5 # what the lab sees once the fill is over, not in the middle of a collection
    fill_rss=$(( $(grep VmRSS "/proc/$server_pid/status" | tr -dc 0-9) / 1024 ))
    [ -z "${BENCH_SMAPS:-}" ] || cp "/proc/$server_pid/smaps" "$BENCH_SMAPS.$n.fill"
    kill -9 "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    sed -n 's/^"\(.*\)",$/\1/p' "$tmp/boxes.lua" >"$tmp/boxes.txt"
    if [ -n "$saved" ]; then
      mkdir -p "$saved" && cp -r "$tmp/data" "$tmp/boxes.txt" "$saved/" && echo "$in_flight_n" >"$saved/in_flight"
    fi
  fi
  log_from=$(wc -l <"$tmp/server.log" 2>/dev/null || echo 0)
  t0=$EPOCHREALTIME
  start_readme_server "$port"
  for _ in $(seq 3000); do
    if [ -z "$health_s" ] && curl -sf -o /dev/null "$base/scheduler/v1/health"; then
      health_s=$(seconds_between "$t0" "$EPOCHREALTIME")
    fi
    if [ -n "$health_s" ]; then
      q=$(shuf -n1 "$tmp/boxes.txt")
      status=$(curl -s -o /dev/null -w '%{http_code}' "$base/scheduler/v1/jobs/dispatch?$q")
      if [ "$status" = 200 ]; then dispatch_s=$(seconds_between "$t0" "$EPOCHREALTIME"); break; fi
    fi
    sleep 0.02
  done
  [ -n "$dispatch_s" ] || { echo "bench: no dispatch after the restart" >&2; tail "$tmp/server.log" >&2; exit 1; }
  # the matcher hands out from its first page on; its own figures answer once the whole queue is in
  local loaded_s=""
  for _ in $(seq 600); do
    if curl -sf -o /dev/null -H "Authorization: Bearer $bench_token" "$base/scheduler/v1/manage/matcher"; then
      loaded_s=$(seconds_between "$t0" "$EPOCHREALTIME"); break
    fi
    sleep 0.05
  done
  # the lifecycle's own line once it has read back every job in flight, timed by its stamp (at
  # most 10 minutes on): the matcher's answers above wait on its own load, not on this one
  local in_flight_s="" line=""
  if [ "$in_flight_n" != 0 ]; then
    for _ in $(seq 6000); do
      line=$(tail -n +"$((log_from + 1))" "$tmp/server.log" | grep -a -m1 'lifecycle loaded' || true)
      [ -z "$line" ] || break
      sleep 0.1
    done
    [ -z "$line" ] || in_flight_s=$(seconds_between "$t0" "$(date -d "${line%% *}" +%s.%6N)")
  fi
  jcmd "$server_pid" GC.run >/dev/null
  # every generation's "total ..K, used ..K" (one line for G1, two for Serial), not Metaspace
  heap=$(jcmd "$server_pid" GC.heap_info | grep -o 'total [0-9]*K, used [0-9]*K' \
    | sed 's/.*used \([0-9]*\)K/\1/' | paste -sd+)
  heap=$((heap))
  # as after the fill: what the lab sees a few seconds on (G1 hands freed regions back in the
  # background, after the collection)
  sleep 5
  rss=$(grep VmRSS "/proc/$server_pid/status" | tr -dc 0-9)
  # BENCH_SMAPS=PREFIX: the server's memory map, after the fill and after the restart, for
  # where the RSS goes (PREFIX.N.fill, PREFIX.N.restart)
  [ -z "${BENCH_SMAPS:-}" ] || cp "/proc/$server_pid/smaps" "$BENCH_SMAPS.$n.restart"
  [ -z "${BENCH_SMAPS:-}" ] || ! jcmd "$server_pid" VM.native_memory detail >"$BENCH_SMAPS.$n.nmt" 2>&1 || true
  # with -XX:NativeMemoryTracking=summary in BENCH_README_JVM: where the RSS beside the heap goes
  if [[ " ${readme_jvm[*]} " == *NativeMemoryTracking* ]]; then
    jcmd "$server_pid" VM.native_memory summary | grep -E '^-|committed=' | head -60 >&2
  fi
  local in_flight=""
  [ "$in_flight_n" = 0 ] || in_flight="\"in_flight\":$in_flight_n,\"in_flight_loaded_s\":${in_flight_s:-null},"
  echo "{\"bench\":\"restart\",\"queued\":$((n - in_flight_n)),$in_flight\"health_s\":$health_s,\"first_dispatch_s\":$dispatch_s,\"queue_loaded_s\":${loaded_s:-null},\"heap_mb\":$((heap / 1024)),\"rss_mb\":$((rss / 1024)),\"rss_after_fill_mb\":$fill_rss}"
  cleanup
  server_pid=""
  tmp=""
}

run_restart() {
  build_jar
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  fill_next=0
  for n in "$@"; do restart_one "$n"; done
}

# ---------------------------------------------------------------- cold
# The seed's own measure: the jar started as the README starts it on an empty store, and at once,
# with no warm-up, 10,000 single-job submits (1 KB each) over 64 connections; what a lab sees right
# after a restart, the JIT compiler's warm-up included. BENCH_COLD_JVM: more options for the server
# (e.g. -XX:SharedArchiveFile=/none to see it without the class archive).
#
# Its baseline in the same run, after it: the trivial endpoint (StackServer) started the same way
# (the README's JVM options and MALLOC_ARENA_MAX, without the scheduler's class archive, which is
# made for the scheduler's jar) and sent the same 10,000 requests by the same client. It answers
# "ok" without reading the body: what Pekko HTTP alone costs from a cold start, as stack_per_s is
# the warm one. Printed as stack_cold_per_s and cold_vs_stack.

# cold_run OUT: wrk's 10,000 submits against $base and $server_pid, already up; writes
# "seconds cpu_ms answered_200 p99_ms" to OUT and the server's CPU by thread to stderr
cold_run() {
  local n=${BENCH_COLD_SUBMITS:-10000} cpu_before cpu_ms t0 wrk_pid
  rm -f "$tmp/done.1" "$tmp/done.2"
  cpu_before=$(cpu_ticks)
  thread_ticks "$tmp/threads.before"
  t0=$EPOCHREALTIME
  BENCH_SUBMIT_COUNT=$n BENCH_SUBMIT_MARK="$tmp/done" "${wrk_cmd[@]}" -d300s -s scripts/bench/submit.lua \
    "$base" -- "$tmp/jobs.lua" >"$tmp/cold.out" &
  wrk_pid=$!
  for _ in $(seq 6000); do [ -s "$tmp/done.1" ] && [ -s "$tmp/done.2" ] && break; sleep 0.05; done
  kill -INT "$wrk_pid"
  wait "$wrk_pid" || true
  cpu_ms=$(( ($(cpu_ticks) - cpu_before) * 1000 / clk_tck ))
  thread_cpu "$tmp/threads.before" "$2"
  python3 - "$tmp" "$n" "$cpu_ms" "$t0" >"$1" <<'PY'
import json, sys
tmp, n, cpu_ms, t0 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
w = json.loads(next(l for l in open(tmp + "/cold.out") if l.startswith('{"wrk":')))["wrk"]
end = max(int(open(f"{tmp}/done.{i}").read()) for i in (1, 2)) / 1e9
print(end - t0, cpu_ms, w["status"].get("200", 0), float(w["p99_ms"]))
PY
}

run_cold() {
  build_jar
  need_wrk
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  local n=${BENCH_COLD_SUBMITS:-10000} port word opt stack_opts=()
  tmp=$(mktemp -d)
  java -cp "$cp" org.compassci.sched.bench.HttpBenchDriver "$tmp" >&2
  # the scheduler first, as the README starts it: as cold as the runs of the entries before
  port=$(free_port)
  base=http://127.0.0.1:$port
  readme_jvm+=(${BENCH_COLD_JVM:-})
  start_readme_server "$port"
  for _ in $(seq 600); do curl -sf -o /dev/null "$base/scheduler/v1/health" && break; sleep 0.05; done
  cold_run "$tmp/cold.result" "the server's CPU during the submits, by thread:"
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  # then the trivial endpoint with the same options (an @file read as the java launcher reads
  # it; no glob expands), but the class archive; BENCH_COLD_STACK_JVM: more options for it
  set -f
  for word in "${readme_jvm[@]}"; do
    if [[ $word == @* ]]; then
      for opt in $(sed 's/#.*//' "${word#@}"); do
        [[ $opt == -XX:SharedArchiveFile=* ]] || stack_opts+=("$opt")
      done
    elif [[ $word != -XX:SharedArchiveFile=* ]]; then
      stack_opts+=("$word")
    fi
  done
  stack_opts+=(${BENCH_COLD_STACK_JVM:-})
  set +f
  # the C library's setting of scripts/run.sh, which started the scheduler above
  export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
  launch_stack "${stack_opts[@]}"
  base=$stack_base
  server_pid=$stack_pid
  cold_run "$tmp/stack.result" "the trivial endpoint's CPU during the same requests, by thread:"
  server_pid=""
  python3 - "$n" "$tmp/cold.result" "$tmp/stack.result" <<'PY'
import json, sys
n = int(sys.argv[1])
secs, cpu_ms, ok, p99 = (float(x) for x in open(sys.argv[2]).read().split())
stack_secs, _, stack_ok, _ = (float(x) for x in open(sys.argv[3]).read().split())
if stack_ok < n:
    sys.exit(f"bench: the trivial endpoint answered {int(stack_ok)} of {n} requests with 200")
print(json.dumps({"bench": "cold_submit", "submits": n, "answered_200": int(ok),
                  "seconds": round(secs, 2), "submit_per_s": round(n / secs),
                  "p99_ms": p99, "cpu_us_per_submit": round(cpu_ms * 1000 / max(ok, 1)),
                  "stack_cold_per_s": round(n / stack_secs),
                  "cold_vs_stack": round(stack_secs / secs, 3)}))
PY
  cleanup
  server_pid=""
  tmp=""
}

# ---------------------------------------------------------------- providers
# The jar again, a fresh store for each fleet: the jobs are queued first, then the simulated
# providers (ProviderFleet, the JDK's WebSocket, in the bench JVM) take them as fast as they
# can; then a fresh server for the heap of idle sockets (ProvidersBench says what it measures).
providers_counts=${BENCH_PROVIDERS-200 2000}
providers_jobs=${BENCH_PROVIDER_JOBS:-20000}
providers_sockets=${BENCH_PROVIDER_SOCKETS-2000}

providers_one() {
  tmp=$(mktemp -d)
  start_server
  wait_ready
  java -Xmx2g -cp "$cp" org.compassci.sched.bench.ProvidersBench "${base##*:}" "$server_pid" "$@"
  cleanup
  server_pid=""
  tmp=""
}

run_providers() {
  build_jar
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  for n in $providers_counts; do providers_one run "$n" "$providers_jobs"; done
  [ "$providers_sockets" = 0 ] || providers_one sockets "$providers_sockets"
}

# for "all": a function in a subshell (its traps and variables stay there), and a function run
# with some variables set for it (VAR=value ... function args)
sub() { ("$@"); }
env_run() {
  while [[ "$1" == *=* ]]; do local "$1"; shift; done
  "$@"
}

case "$mode" in
  restart) run_restart $restart_queued ;;
  cold) run_cold ;;
  matcher) run_matcher ;;
  jmh) run_jmh ;;
  http) run_http ;;
  watch) run_watch ;;
  boot) run_boot ;;
  providers) run_providers ;;
  claims) java "${jvm[@]}" -cp "$cp" org.compassci.sched.bench.ClaimBench 64 ;;
  dispatch) run_dispatch "${2:-.}" ;;
  cluster) build_jar; scripts/bench/cluster.sh ;;
  # within 8 minutes on 2 cores: the restart line with 100,000 queued only, the providers line
  # with 200, boot with one warm-up and one measured round (alone it takes 2.7 min); each part's
  # time goes to stderr
  all)
    timed() { local t0=$SECONDS name=$1; shift; "$@"; echo "bench: $name took $((SECONDS - t0)) s (all: $SECONDS s so far)" >&2; }
    timed matcher run_matcher; timed http sub run_http; timed watch run_watch; timed restart sub run_restart 100000
    timed providers sub env_run providers_counts=200 providers_sockets=0 run_providers
    timed boot sub env_run reps=1 boot_warmups=1 run_boot ;;
  *) echo "usage: scripts/bench.sh [matcher|http|watch|restart|cold|boot|providers|claims|dispatch [CHECKOUT]|cluster|all|jmh]" >&2; exit 2 ;;
esac
