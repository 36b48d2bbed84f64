#!/usr/bin/env python3
"""The boot line of scripts/bench.sh: per phase the median over DIR/boot-1..REPS.json and
DIR/again-1..REPS.json (lines of scripts/bench/common.lua), and the in-process build figure.

  boot_report.py DIR REPS CONNECTIONS BUILD_JSON

In the boot phase each box boots as a real one does: its boot answer, then the package its
script names. boot_per_s counts 200 answers of /boot.ipxe/mac/<mac> (each one a hand-out,
durable before the answer); package_per_s the first downloads of job.cgz in the same phase
(each package built when it is asked for, and the job moved to boot with a durable write);
p99_ms is the phase's p99 over both kinds of request (wrk keeps one histogram). redownload_per_s:
the same links downloaded again while their jobs boot (the package built and served, without
the store's write). errors: any answer but a script, a package or "No job now" (404), and
socket errors.
"""
import json
import statistics
import sys


def load(path):
    with open(path) as f:
        return json.load(f)["wrk"]


def main():
    d, reps, connections, build = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
    boot, pkg, again = [], [], []
    errors = 0
    for r in range(1, reps + 1):
        b = load(f"{d}/boot-{r}.json")
        k = b.get("kinds", {})
        boot.append((k.get("boot_200", 0) / b["duration_s"], b["p99_ms"]))
        pkg.append(k.get("package_200", 0) / b["duration_s"])
        a = load(f"{d}/again-{r}.json")
        again.append((a["status"].get("200", 0) / a["duration_s"], a["p99_ms"]))
        errors += sum(n for s, n in a["status"].items() if s != "200")
        errors += k.get("other", 0)
        errors += sum(b["errors"][e] + a["errors"][e] for e in ("connect", "read", "write", "timeout"))
    out = {
        "bench": "boot",
        "boot_per_s": round(statistics.median(x[0] for x in boot)),
        "package_per_s": round(statistics.median(pkg)),
        "p99_ms": round(statistics.median(x[1] for x in boot), 2),
        "redownload_per_s": round(statistics.median(x[0] for x in again)),
        "redownload_p99_ms": round(statistics.median(x[1] for x in again), 2),
        "build_per_s": build["build_per_s"],
        "cgz_bytes": build["cgz_bytes"],
        "queued": 100000,
        "boxes": 1000,
        "connections": connections,
        "errors": errors,
    }
    print(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
