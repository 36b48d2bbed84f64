#!/usr/bin/env python3
"""Reads the JSON lines that scripts/bench/common.lua prints at the end of each wrk run.

  http_report.py run PHASE NAME FILE     one line about one run of PHASE, for stderr
  http_report.py dispatch NAME FILE CPU_MS SWITCHES GC_LOG UPTIME_FROM UPTIME_TO
                                         the JSON line of one run of scripts/bench.sh dispatch:
                                         hand-outs/s and, per answer, the server's CPU time,
                                         context switches and the young-GC pauses logged between
                                         the two JVM uptimes
  http_report.py line DIR REPS CONNECTIONS
                                         the http line of scripts/bench.sh: per phase, the
                                         median over DIR/PHASE-1.json .. DIR/PHASE-REPS.json

Counting (the same for every phase): a request counts when its answer is the phase's success
status, health 200, submit 200 (the job is durable), dispatch 200 (a job was handed out), stack
200 (StackServer's complete("ok"), the HTTP stack's own limit; every figure is also given as a
ratio to it: health_vs_stack, dispatch_vs_stack, submit_vs_stack).
A dispatch 204 (nothing fits that box now) is not counted as a dispatch: it costs the server
less than a hand-out (no store write), so counting it would flatter dispatch_per_s. 204s are
reported on their own (dispatch_204_per_s, dispatch_204_share). Any other status and wrk's
socket errors and timeouts are counted as errors. Latency percentiles are wrk's, over every
answer of the run (for dispatch, 204s included: wrk keeps one histogram per run).
"""
import json
import re
import statistics
import sys

OK = {"health": "200", "submit": "200", "dispatch": "200", "stack": "200", "boot": "200",
      "package": "200"}


def load(path):
    with open(path) as f:
        return json.load(f)["wrk"]


def figures(phase, w):
    status = w["status"]
    ok = status.get(OK[phase], 0)
    no_job = status.get("204", 0) if phase == "dispatch" else 0
    other = sum(n for s, n in status.items() if s != OK[phase] and not (phase == "dispatch" and s == "204"))
    e = w["errors"]
    sockets = e["connect"] + e["read"] + e["write"] + e["timeout"]
    return {"ok": ok, "no_job": no_job, "other": other, "socket_errors": sockets,
            "per_s": ok / w["duration_s"], "no_job_per_s": no_job / w["duration_s"],
            "p50_ms": w["p50_ms"], "p99_ms": w["p99_ms"], "max_ms": w["max_ms"],
            "duration_s": w["duration_s"]}


def run(phase, name, path, cpu_ms=None):
    w = load(path)
    f = figures(phase, w)
    extra = f" 204={f['no_job']}" if phase == "dispatch" else ""
    answers = sum(w["status"].values())
    if cpu_ms is not None and answers:
        # the server's CPU per answer: steadier than the rate on a machine others share
        extra += f" cpu {int(cpu_ms) * 1000 / answers:.0f} us/answer"
    print(f"bench: {name:12s} {f['per_s']:8.0f}/s  {OK[phase]}={f['ok']}{extra} other={f['other']}"
          f" socket_errors={f['socket_errors']}  p50 {f['p50_ms']:.1f} ms  p99 {f['p99_ms']:.1f} ms"
          f"  max {f['max_ms']:.1f} ms  ({f['duration_s']:.1f} s)", file=sys.stderr)


def dispatch(name, path, cpu_ms, switches, gc_log, u0, u1):
    w = load(path)
    f = figures("dispatch", w)
    answers = max(1, sum(w["status"].values()))
    with open(gc_log) as g:
        pauses = [float(m[2]) for m in re.finditer(r"\[([\d.]+)s\].*Pause Young.* ([\d.]+)ms", g.read())
                  if u0 <= float(m[1]) <= u1]
    print(json.dumps({"bench": "dispatch", "run": name, "dispatch_per_s": round(f["per_s"]),
                      "dispatch_204": f["no_job"], "cpu_us_per_answer": round(cpu_ms * 1000 / answers),
                      "switches_per_answer": round(switches / answers, 2),
                      "gc_pause_us_per_answer": round(sum(pauses) * 1000 / answers, 1), "gc_pauses": len(pauses),
                      "p50_ms": f["p50_ms"], "p99_ms": f["p99_ms"]}))


def line(d, reps, connections, queued=None):
    out = {"bench": "http"}
    per_s = {}
    for phase in ("dispatch", "health", "submit", "stack"):
        runs = [figures(phase, load(f"{d}/{phase}-{r}.json")) for r in range(1, reps + 1)]
        per_s[phase] = [r["per_s"] for r in runs]
        out[f"{phase}_per_s"] = round(statistics.median(r["per_s"] for r in runs))
        out[f"{phase}_p99_ms"] = round(statistics.median(r["p99_ms"] for r in runs), 2)
        out[f"{phase}_p50_ms"] = round(statistics.median(r["p50_ms"] for r in runs), 2)
        out[f"{phase}_errors"] = sum(r["other"] + r["socket_errors"] for r in runs)
        if phase == "dispatch":
            answers = sum(r["ok"] + r["no_job"] for r in runs)
            out["dispatch_204_per_s"] = round(statistics.median(r["no_job_per_s"] for r in runs))
            out["dispatch_204_share"] = round(sum(r["no_job"] for r in runs) / max(1, answers), 4)
    out["dispatch_vs_health"] = round(out["dispatch_per_s"] / max(1, out["health_per_s"]), 3)
    for phase in ("health", "dispatch", "submit"):
        out[f"{phase}_vs_stack"] = round(out[f"{phase}_per_s"] / max(1, out["stack_per_s"]), 3)
    # run by run, each against the stack's run of the same repetition (health, stack and dispatch
    # runs of one repetition follow each other): on a machine whose speed drifts, the spread
    # of these says how far the medians' ratio can be trusted
    for phase in ("health", "dispatch"):
        out[f"{phase}_vs_stack_runs"] = [round(p / max(1, st), 3) for p, st in zip(per_s[phase], per_s["stack"])]
    out["connections"] = connections
    out["repetitions"] = reps
    if queued is not None:
        out["queued"] = queued
    print(json.dumps(out))


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else None)
    elif sys.argv[1] == "dispatch":
        a = sys.argv
        dispatch(a[2], a[3], int(a[4]), int(a[5]), a[6], float(a[7]), float(a[8]))
    elif sys.argv[1] == "line":
        line(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]) if len(sys.argv) > 5 else None)
    else:
        sys.exit("usage: http_report.py run PHASE NAME FILE | dispatch NAME ... | line DIR REPS CONNECTIONS [QUEUED]")
