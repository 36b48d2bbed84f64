#!/bin/bash
# Two builds alternated, N times each, with scripts/bench.sh dispatch: the machine's speed drifts by tens
# of percent within minutes here, so only runs made in turn compare. Prints every measured run's
# line, marked A or B, then the medians of each side (one JSON object each).
#
#   scripts/bench/dispatch_ab.sh N CHECKOUT_A CHECKOUT_B    (absolute paths, e.g. a git worktree
#                                                          of the base, its jar built)
#
# A_OPTS and B_OPTS, when set, are each side's extra server options (BENCH_SERVER_OPTS): the same
# checkout twice with two JVM settings compares the settings. A_ENV and B_ENV, likewise, are each
# side's environment (e.g. B_ENV=MALLOC_ARENA_MAX=2), for the server and its bench alike.
set -euo pipefail
n=$1 a=$2 b=$3
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp)
for _ in $(seq "$n"); do
  env ${A_ENV:-} BENCH_SERVER_OPTS="${A_OPTS:-}" "$here/../bench.sh" dispatch "$a" | sed 's/^/A /' | tee -a "$out"
  env ${B_ENV:-} BENCH_SERVER_OPTS="${B_OPTS:-}" "$here/../bench.sh" dispatch "$b" | sed 's/^/B /' | tee -a "$out"
done
python3 - "$out" <<'PY'
import json, statistics, sys
sides = {}
for line in open(sys.argv[1]):
    side, _, rest = line.partition(" ")
    if rest.startswith("{"):
        sides.setdefault(side, []).append(json.loads(rest))
keys = ["dispatch_per_s", "cpu_us_per_answer", "switches_per_answer", "gc_pause_us_per_answer", "p99_ms"]
for side, runs in sorted(sides.items()):
    print(json.dumps({"side": side, "runs": len(runs), **{k: statistics.median(r[k] for r in runs) for k in keys}}))
PY
rm -f "$out"
