#!/bin/sh
# The scheduler as the README runs it, from the repository root:
#
#   scripts/run.sh            the server (the same as java @conf/jvm.options -jar scheduler/target/scheduler.jar)
#   scripts/run.sh --help     the command-line client
#
# SCHED_JVM_OPTIONS replaces @conf/jvm.options and SCHED_JAR the jar (the benchmarks start other
# builds this way). What it adds to the java command is one setting of the C library that no JVM
# option can carry:
#
# MALLOC_ARENA_MAX=2: glibc gives each thread that allocates native memory (the JIT compiler's,
# the store's, the actors') an arena of its own, up to 8 per core, and every arena keeps pages
# of what it once held. Two arenas hold the same in fewer, fuller pages: 6 MB less RSS 5 s after
# a bulk fill of 10,000 jobs (medians of 3: 156 -> 150 MB) and no change in hand-outs per second;
# in the first seconds after a start, while the JIT compilers allocate the most, submits' p99 was
# higher (507-550 against 389-468 ms; docs/measurements.md). A value already in the
# environment wins.
MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
export MALLOC_ARENA_MAX
# shellcheck disable=SC2086 # the options are words, as in conf/jvm.options
exec java ${SCHED_JVM_OPTIONS:-@conf/jvm.options} -jar "${SCHED_JAR:-scheduler/target/scheduler.jar}" "$@"
