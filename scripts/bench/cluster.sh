#!/usr/bin/env bash
# scripts/bench.sh cluster: the dispatch rate of one scheduler process against a 3-node cluster,
# both on the same MySQL (127.0.0.1:3306, a fresh database each), all on this machine.
# One JSON line per setup: {"bench":"cluster-dispatch","nodes":N,"dispatch_per_s":X,...}.
# Each setup: QUEUED jobs (BENCH_CLUSTER_QUEUED, default 100000) queued through the nodes, then wrk
# with 48 keep-alive connections in all (one wrk per node, 48/N connections each) asks for jobs
# for SECONDS (BENCH_SECONDS, default 5) after a warm-up (BENCH_CLUSTER_WARMUP, default 10 s);
# hand-outs per second are counted.
# On a 2-core machine the three JVMs, MySQL and wrk share the same cores: the cluster's figure
# says what coordination through the singleton costs, not what three machines would do.
set -euo pipefail
cd "$(dirname "$0")/../.."
jar=scheduler/target/scheduler.jar
queued=${BENCH_CLUSTER_QUEUED:-100000}
seconds=${BENCH_SECONDS:-5}
# a warm-up long enough for three JVMs to compile the remote path on 2 cores
warm=${BENCH_CLUSTER_WARMUP:-10}
mysql_url_base="jdbc:mysql://127.0.0.1:3306"
tmp=$(mktemp -d)
pids=()

stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  pids=()
}
trap 'stop_all; rm -rf "$tmp"' EXIT

# the nodes' CPU time so far (user + system), in ms
cpu_ms() {
  python3 - "${pids[@]}" <<'PY'
import os, sys
tck = os.sysconf("SC_CLK_TCK")
total = 0
for pid in sys.argv[1:]:
    f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    total += int(f[11]) + int(f[12])
print(total * 1000 // tck)
PY
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# setup N: starts N nodes on database $db; sets http_ports
setup() {
  local n=$1 seeds="" i
  http_ports=(); local cports=()
  for ((i = 0; i < n; i++)); do http_ports+=("$(free_port)"); cports+=("$(free_port)"); done
  for ((i = 0; i < n; i++)); do seeds+="${seeds:+,}127.0.0.1:${cports[$i]}"; done
  for ((i = 0; i < n; i++)); do
    local cluster=()
    [ "$n" -eq 1 ] || cluster=(SCHED_CLUSTER_SEEDS="$seeds" SCHED_CLUSTER_PORT="${cports[$i]}")
    env -u SCHED_REDIS_URL SCHED_AUTH=open SCHED_HOST=127.0.0.1 SCHED_PORT="${http_ports[$i]}" SCHED_STORE=mysql \
      SCHED_JDBC_URL="$mysql_url_base/$db?user=root" SCHED_DATA_DIR="$tmp/data-$n-$i" "${cluster[@]}" \
      java -Xms256m -Xmx512m -XX:+UseSerialGC -jar "$jar" >"$tmp/node-$n-$i.log" 2>&1 &
    pids+=($!)
    if [ "$i" -eq 0 ]; then wait_up 0; fi
  done
  for ((i = 0; i < n; i++)); do wait_up "$i"; done
  if [ "$n" -gt 1 ]; then
    for _ in $(seq 300); do
      curl -sf "http://127.0.0.1:${http_ports[0]}/scheduler/v1/manage/cluster" | grep -q '"epoch":[0-9]' && break
      sleep 0.2
    done
  fi
}

wait_up() {
  for _ in $(seq 600); do
    curl -sf -o /dev/null "http://127.0.0.1:${http_ports[$1]}/scheduler/v1/health" && return
    sleep 0.1
  done
  echo "bench: node $1 did not start" >&2; cat "$tmp"/node-*-"$1".log >&2; exit 1
}

fill() {
  local n=$1 k
  python3 - "$tmp/fill.json" <<'PY'
import json, sys
json.dump([{"suite": "bench", "testbox": "vm-2p8g", "my_account": "t%d" % (i % 7)} for i in range(500)],
          open(sys.argv[1], "w"))
PY
  for ((k = 0; k < queued / 500; k++)); do echo "http://127.0.0.1:${http_ports[$((k % n))]}/scheduler/v1/jobs/submit"; done \
    | xargs -P3 -I{} curl -sSf -o /dev/null -H 'Content-Type: application/json' --data-binary @"$tmp/fill.json" {}
}

run() {
  local n=$1 i
  db=sched_bench_cluster_${n}_$RANDOM$RANDOM
  mysql -h127.0.0.1 -uroot -e "CREATE DATABASE $db" 2>/dev/null || true
  setup "$n"
  fill "$n"
  local per=$(( 48 / n )) wrks=()
  # the wrk runs only: a bare "wait" would wait for the nodes too
  for ((i = 0; i < n; i++)); do
    wrk -t1 -c"$per" -d"${warm}"s -s scripts/bench/cluster_dispatch.lua "http://127.0.0.1:${http_ports[$i]}" -- warm$i >/dev/null &
    wrks+=($!)
  done
  wait "${wrks[@]}"
  wrks=()
  local cpu0; cpu0=$(cpu_ms)
  for ((i = 0; i < n; i++)); do
    wrk -t1 -c"$per" -d"${seconds}"s --timeout 10s -s scripts/bench/cluster_dispatch.lua \
      "http://127.0.0.1:${http_ports[$i]}" -- box$i >"$tmp/wrk-$n-$i.out" &
    wrks+=($!)
  done
  wait "${wrks[@]}"
  local cpu=$(( $(cpu_ms) - cpu0 ))
  python3 - "$n" "$cpu" "$tmp"/wrk-"$n"-*.out <<'PY'
import json, sys
# not_handed above 0: the queue ran dry and the figure is too low (raise BENCH_CLUSTER_QUEUED)
n, cpu_ms = int(sys.argv[1]), int(sys.argv[2])
runs = [json.loads([l for l in open(f) if l.startswith('{"handed"')][0]) for f in sys.argv[3:]]
secs = max(r["seconds"] for r in runs)
handed = sum(r["handed"] for r in runs)
# the nodes' own CPU time per hand-out: what a machine shared with other work changes least
print(json.dumps({"bench": "cluster-dispatch", "nodes": n, "store": "mysql",
                  "dispatch_per_s": round(handed / secs), "not_handed": sum(r["other"] for r in runs),
                  "p99_ms": max(r["p99_ms"] for r in runs), "connections": 48,
                  "server_cpu_us_per_dispatch": round(cpu_ms * 1000 / max(1, handed))}))
PY
  stop_all
  mysql -h127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS $db" 2>/dev/null || true
}

command -v wrk >/dev/null || { echo "bench: cluster needs wrk (apt-get install -y wrk)" >&2; exit 1; }
command -v mysql >/dev/null || { echo "bench: cluster needs the mysql client and MariaDB/MySQL on 127.0.0.1:3306" >&2; exit 1; }
run 1
run 3
