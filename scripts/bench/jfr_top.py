#!/usr/bin/env python3
"""Where the CPU samples of a JFR recording are: jdk.ExecutionSample aggregated.

  scripts/bench/jfr_top.py FILE.jfr [N] [--last SECONDS] [--windows LOG]

--last keeps only the samples of the recording's last SECONDS (a bench's measured phase after
its setup, which would otherwise dominate). --windows keeps only the samples inside the
"measured from HH:MM:SS to HH:MM:SS" windows a bench printed to LOG (the matcher bench prints one
per run, so its setups between runs drop out).

Prints, for the top N (default 15):
  - threads (by name, digits folded: dispatcher-7 -> dispatcher-#)
  - top of stack: the method running when sampled (self time)
  - self time by library: the package group of the top frame
  - anywhere in the stack (inclusive; a method counts once per sample) for org.compassci,
    Pekko, Jackson and H2
Record with a deep stack (-XX:FlightRecorderOptions:stackdepth=256): JFR cuts stacks at 64
frames by default, and Pekko's are deep.
"""
import collections
import re
import subprocess
import sys

GROUPS = [
    ("org.compassci", "ours (org.compassci)"),
    ("org.h2.", "H2"),
    ("com.zaxxer.", "HikariCP"),
    ("com.fasterxml.jackson.", "Jackson"),
    ("org.apache.pekko.http.", "Pekko HTTP"),
    ("org.apache.pekko.stream.", "Pekko Streams"),
    ("org.apache.pekko.", "Pekko actor/other"),
    ("scala.", "Scala library"),
    ("ch.qos.logback.", "Logback"),
    ("sun.nio.", "JDK NIO"),
    ("java.", "JDK"),
    ("jdk.", "JDK"),
    ("sun.", "JDK"),
]
ANYWHERE = [("org.compassci", "org.compassci"), ("org.apache.pekko.", "Pekko"),
            ("com.fasterxml.jackson.", "Jackson"), ("org.h2.", "H2")]


def group_of(name):
    for prefix, g in GROUPS:
        if name.startswith(prefix):
            return g
    return "other"


def show(title, counter, total, n):
    print(f"\n{title}")
    for name, c in counter.most_common(n):
        print(f"  {100.0 * c / total:5.1f}%  {c:6d}  {name}")


def clock(text):
    """Seconds since midnight of HH:MM:SS[.fraction], as jfr print shows startTime."""
    h, m, sec = text.split(":")
    return int(h) * 3600 + int(m) * 60 + float(sec)


def samples(path, depth=300):
    """(thread, [frame, ...] top first) per jdk.ExecutionSample, from jfr's text output."""
    cmd = ["jfr", "print", "--stack-depth", str(depth), "--events", "jdk.ExecutionSample", path]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as p:
        thread, frames, in_stack, at = "?", [], False, 0.0
        for line in p.stdout:
            s = line.strip()
            if s.startswith("startTime = "):
                at = clock(s.split("= ", 1)[1])
            elif s.startswith("sampledThread = "):
                thread = s.split('"')[1]
            elif s == "stackTrace = [":
                in_stack, frames = True, []
            elif in_stack and s == "]":
                in_stack = False
                yield at, thread, frames
            elif in_stack and s != "...":
                frames.append(s.split("(", 1)[0])  # pkg.Class.method, without arguments and line
        if p.wait() != 0:
            sys.exit(f"jfr print failed on {path}")


def main():
    args = sys.argv[1:]
    last = None
    if "--last" in args:
        i = args.index("--last")
        last = float(args[i + 1])
        del args[i:i + 2]
    windows = None
    if "--windows" in args:
        i = args.index("--windows")
        windows = [(clock(a), clock(b)) for a, b in
                   re.findall(r"measured from (\S+) to (\S+)", open(args[i + 1]).read())]
        del args[i:i + 2]
    path = args[0]
    n = int(args[1]) if len(args) > 1 else 15
    every = list(samples(path))
    if windows is not None:
        every = [e for e in every if any(a <= e[0] <= b for a, b in windows)]
    if last is not None and every:
        end = max(at for at, _, _ in every)
        every = [e for e in every if e[0] >= end - last]
    total = 0
    threads, top, libs = collections.Counter(), collections.Counter(), collections.Counter()
    anywhere = {label: collections.Counter() for _, label in ANYWHERE}
    for _, thread, frames in every:
        total += 1
        threads[re.sub(r"\d+", "#", thread)] += 1
        if not frames:
            continue
        top[frames[0]] += 1
        libs[group_of(frames[0])] += 1
        seen = set(frames)
        for prefix, label in ANYWHERE:
            for name in seen:
                if name.startswith(prefix):
                    anywhere[label][name] += 1
    print(f"{path}: {total} execution samples")
    show("threads", threads, total, n)
    show("self time by library (top frame)", libs, total, n)
    show("top of stack (self)", top, total, n)
    for _, label in ANYWHERE:
        show(f"anywhere in the stack: {label} (inclusive)", anywhere[label], total, n)


if __name__ == "__main__":
    main()
