#!/usr/bin/env bash
# scripts/providers.sh N [JOBS]: N simulated VM/container providers (ProviderFleet: the JDK's
# WebSocket, 16 to 64 GB each) against the server jar on loopback with a fresh embedded store;
# JOBS (default 20000) are queued first, the providers take them, report boot, running and
# finish, and one JSON line is printed:
#   {"bench":"providers","providers":N,"jobs_per_s":...,"handout_p99_ms":...,"heap_mb":...}
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: scripts/providers.sh N [JOBS]" >&2; exit 2; }
BENCH_PROVIDERS=$1 BENCH_PROVIDER_JOBS=${2:-20000} BENCH_PROVIDER_SOCKETS=0 exec scripts/bench.sh providers
