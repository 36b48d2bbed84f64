#!/usr/bin/env bash
# Benchmarks: one JSON object per line on stdout (see README, "Measured figures").
#   scripts/bench.sh matcher   the matcher actor, 100,000 queued jobs, 1,000 testboxes
#   scripts/bench.sh jmh       JMH micro-benchmarks of the matcher's parts (not part of "all")
#   scripts/bench.sh all       every line above but jmh
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}

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

case "$mode" in
  matcher) run_matcher ;;
  jmh) run_jmh ;;
  http) echo "bench: the http benchmark is not written yet (issue 6)" >&2; exit 2 ;;
  all) run_matcher ;;
  *) echo "usage: scripts/bench.sh [matcher|http|all|jmh]" >&2; exit 2 ;;
esac
