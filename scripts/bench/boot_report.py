#!/usr/bin/env python3
"""The boot line of scripts/bench.sh: per phase the median over DIR/boot-1..REPS.json and
DIR/package-1..REPS.json (lines of scripts/bench/common.lua), and the in-process build figure.

  boot_report.py DIR REPS CONNECTIONS BUILD_JSON

boot_per_s counts 200 answers of /boot.ipxe/mac/<mac> (each one a hand-out, durable before the
answer); package_per_s counts first downloads of job.cgz (each package built when it is asked
for, and the job moved to boot with a durable write); first_download_share says how many of the
phase's 200 answers they were (below 1 when the phase fetched every link the boot phase made). p99_ms is the boot answers' p99; package_p99_ms the
downloads'. redownload_per_s: the same links downloaded again while their jobs boot (the
package built and served, without the store's write).
"""
import json
import statistics
import sys


def load(path):
    with open(path) as f:
        return json.load(f)["wrk"]


def count_paths(path):
    with open(path) as f:
        return sum(1 for line in f if line.startswith('"'))


def main():
    d, reps, connections, build = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
    boot, pkg, first, again = [], [], [], []
    errors = 0
    for r in range(1, reps + 1):
        b = load(f"{d}/boot-{r}.json")
        p = load(f"{d}/package-{r}.json")
        boot.append((b["status"].get("200", 0) / b["duration_s"], b["p99_ms"], b["status"]))
        ok = p["status"].get("200", 0)
        # only first downloads count: once the run has fetched every link the boot phase made,
        # what follows are re-downloads, which skip the store's write
        firsts = min(count_paths(f"{d}/paths-{r}.lua"), ok)
        pkg.append((firsts / p["duration_s"], p["p99_ms"]))
        first.append(firsts / ok if ok else 0)
        a = load(f"{d}/again-{r}.json")
        again.append((a["status"].get("200", 0) / a["duration_s"], a["p99_ms"]))
        errors += sum(n for s, n in a["status"].items() if s != "200")
        errors += sum(n for s, n in p["status"].items() if s != "200")
        errors += sum(n for s, n in b["status"].items() if s not in ("200", "404"))
        errors += sum(b["errors"][k] + p["errors"][k] for k in ("connect", "read", "write", "timeout"))
    out = {
        "bench": "boot",
        "boot_per_s": round(statistics.median(x[0] for x in boot)),
        "package_per_s": round(statistics.median(x[0] for x in pkg)),
        "p99_ms": round(statistics.median(x[1] for x in boot), 2),
        "package_p99_ms": round(statistics.median(x[1] for x in pkg), 2),
        "first_download_share": round(statistics.median(first), 3),
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
