#!/bin/bash
# Two builds alternated, N times each, with dispatch_runs.sh: the machine's speed drifts by tens
# of percent within minutes here, so only runs made in turn compare. Prints every measured run,
# marked A or B, then the medians of each side.
#
#   scripts/bench/dispatch_ab.sh N CHECKOUT_A CHECKOUT_B    (e.g. a git worktree of the base)
set -euo pipefail
n=$1 a=$2 b=$3
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp)
for _ in $(seq "$n"); do
  "$here/dispatch_runs.sh" "$a" | sed 's/^/A /' | tee -a "$out"
  "$here/dispatch_runs.sh" "$b" | sed 's/^/B /' | tee -a "$out"
done
python3 - "$out" <<'PY'
import re, statistics, sys
sides = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\w) \S+\s+(\d+) hand-outs/s.*cpu (\d+) us, ([\d.]+) context switches, gc (\d+) us.*p99 ([\d.]+) ms", line)
    if m:
        sides.setdefault(m[1], []).append([float(x) for x in m.groups()[1:]])
for side, runs in sorted(sides.items()):
    med = [statistics.median(r[i] for r in runs) for i in range(5)]
    print(f"{side}: median of {len(runs)} runs: {med[0]:.0f} hand-outs/s, cpu {med[1]:.0f} us,"
          f" {med[3]:.0f} us of gc pauses, {med[2]:.2f} context switches per answer, p99 {med[4]} ms")
PY
rm -f "$out"
